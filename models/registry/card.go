package registry

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Card is a model card: what the model is for, what it was trained on, how it
// scored, and what it must not be used for. The caller writes the prose; the
// registry fills the facts from the artifact so they cannot disagree.
type Card struct {
	Title        string   `json:"title"`
	Summary      string   `json:"summary,omitempty"`
	IntendedUse  string   `json:"intended_use,omitempty"`
	TrainingData string   `json:"training_data,omitempty"`
	Evaluation   string   `json:"evaluation,omitempty"`
	Limitations  []string `json:"limitations,omitempty"`
	Owner        string   `json:"owner,omitempty"`

	// Split and Uplift are the training design in machine-readable form:
	// evaluations read them to tell the rows a model saw from those it did
	// not, and what an uplift score is an effect of. Written by training.
	Split  *Split  `json:"split,omitempty"`
	Uplift *Uplift `json:"uplift,omitempty"`

	// Filled by Register.
	Version  string             `json:"version"`
	Hash     string             `json:"hash"`
	Family   string             `json:"family"`
	Target   string             `json:"target"`
	DataHash string             `json:"data_hash"`
	Seed     uint64             `json:"seed"`
	Features []string           `json:"features"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	Created  time.Time          `json:"created"`
}

// Split is how training divided its rows.
type Split struct {
	// By is "time:COLUMN" for a time split or "random(SEED)" for a seeded one.
	By string `json:"by"`
	// ValidFrom and TestFrom start the validation and test periods of a time
	// split: every training row is before ValidFrom, every validation row
	// before TestFrom. Zero for a random split.
	ValidFrom time.Time `json:"valid_from,omitzero"`
	TestFrom  time.Time `json:"test_from,omitzero"`
}

// Uplift is what an uplift model estimates: the effect of each level of
// Treatment against Control on Outcome.
type Uplift struct {
	Treatment string `json:"treatment"`
	Control   string `json:"control"`
	Outcome   string `json:"outcome"`
	Method    string `json:"method"`
}

func (c Card) fill(v Version, a *Artifact) Card {
	c.Version, c.Hash, c.Family, c.Target = v.Name, v.Hash, a.Family, a.Target
	c.DataHash, c.Seed, c.Metrics, c.Created = a.DataHash, a.Seed, a.Metrics, a.Created.UTC()
	c.Features = make([]string, len(a.Features))
	for i, f := range a.Features {
		c.Features[i] = f.Name + " (" + f.Kind.String() + ")"
	}
	if c.Title == "" {
		c.Title = a.Family + " model for " + a.Target
	}
	return c
}

// Markdown renders the card for people.
func (c Card) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s (%s)\n\n", c.Title, c.Version)
	section := func(title, body string) {
		if body != "" {
			fmt.Fprintf(&b, "## %s\n\n%s\n\n", title, body)
		}
	}
	section("Summary", c.Summary)
	section("Intended use", c.IntendedUse)
	fmt.Fprintf(&b, "## Facts\n\n| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| family | %s |\n| target | %s |\n| created | %s |\n| model hash | `%s` |\n| training data | `%s` |\n| seed | %d |\n",
		c.Family, c.Target, c.Created.Format(time.RFC3339), c.Hash, c.DataHash, c.Seed)
	if c.Owner != "" {
		fmt.Fprintf(&b, "| owner | %s |\n", c.Owner)
	}
	b.WriteString("\n")
	section("Training data", c.TrainingData)
	if len(c.Metrics) > 0 {
		b.WriteString("## Metrics\n\n| metric | value |\n|---|---:|\n")
		for _, k := range slices.Sorted(maps.Keys(c.Metrics)) {
			fmt.Fprintf(&b, "| %s | %.6g |\n", k, c.Metrics[k])
		}
		b.WriteString("\n")
	}
	section("Evaluation", c.Evaluation)
	fmt.Fprintf(&b, "## Features (%d)\n\n", len(c.Features))
	for _, f := range c.Features {
		fmt.Fprintf(&b, "- %s\n", f)
	}
	b.WriteString("\n")
	if len(c.Limitations) > 0 {
		b.WriteString("## Limitations\n\n")
		for _, l := range c.Limitations {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		b.WriteString("\n")
	}
	return b.String()
}
