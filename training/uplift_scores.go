package training

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/engagehq/engage/models/registry"
)

// UpliftDesign is what an uplift model estimates and which rows it was fitted
// on, as its model card records them. The model-uplift report needs both: the
// treatment column says which logged decisions are treated and which are
// controls, and the test-split start says which of them the model never saw.
type UpliftDesign struct {
	// Treatment is the column whose levels are the model's arms, Control its
	// control level, Target the outcome.
	Treatment, Control, Target string
	// TestFrom is the first decision instant of the test split of a time
	// split: every row the model was fitted on (training and validation) was
	// decided at or before it. Zero for a random split, where no instant
	// separates fitted rows from the others.
	TestFrom time.Time
}

var (
	upliftSummaryRE = regexp.MustCompile("of the effect of `([^`]+)` \\(control (\"(?:[^\"\\\\]|\\\\.)*\")\\) on `([^`]+)`")
	testFromRE      = regexp.MustCompile(`test from ([0-9][0-9T:.+\-Z]*)\)`)
)

// ReadUpliftCard reads the design of an uplift model from the card training
// wrote for it (card.go is the one writer of that prose; TestReadUpliftCard
// keeps the two in step).
//
// Cards carry the design as structured fields (registry.Card.Uplift and
// Split); the prose is read only for cards written before those existed.
func ReadUpliftCard(c registry.Card) (UpliftDesign, error) {
	var d UpliftDesign
	if c.Uplift != nil {
		d.Treatment, d.Control, d.Target = c.Uplift.Treatment, c.Uplift.Control, c.Uplift.Outcome
		if c.Split != nil && strings.HasPrefix(c.Split.By, "time") {
			d.TestFrom = c.Split.TestFrom.UTC()
		}
		return d, nil
	}
	m := upliftSummaryRE.FindStringSubmatch(c.Summary)
	if m == nil {
		return d, fmt.Errorf("card %s: the summary does not name an uplift treatment: %q", c.Version, c.Summary)
	}
	ctl, err := strconv.Unquote(m[2])
	if err != nil {
		return d, fmt.Errorf("card %s: control level %s: %w", c.Version, m[2], err)
	}
	d.Treatment, d.Control, d.Target = m[1], ctl, m[3]
	if all := testFromRE.FindAllStringSubmatch(c.TrainingData, -1); len(all) > 0 {
		s := all[len(all)-1][1]
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return d, fmt.Errorf("card %s: test split start %q: %w", c.Version, s, err)
		}
		d.TestFrom = t.UTC()
	}
	return d, nil
}
