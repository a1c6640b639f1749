package training

import (
	"fmt"
	"strings"
	"time"

	"github.com/engagehq/engage/models/metrics"
	"github.com/engagehq/engage/models/registry"
)

// card writes the prose of the model card; the registry fills the facts.
func card(rep *Report, o *Options) registry.Card {
	c := registry.Card{Title: o.Title, Owner: o.Owner}
	fam := o.Family
	sp := &rep.Split
	if o.Treatment != "" {
		c.Summary = fmt.Sprintf("%s-learner uplift model (%s base learners) of the effect of `%s` (control %q) on `%s`.",
			strings.ToUpper(o.UpliftMethod), fam, o.Treatment, o.Control, o.Target)
		c.IntendedUse = "Rank accounts by the estimated gain of treating them over the control, for targeting; the score is an effect (difference of probabilities), not a probability."
	} else {
		c.Summary = fmt.Sprintf("Calibrated (%s) %s model of P(`%s` = 1 | context, action).", o.Calibration, fam, o.Target)
		c.IntendedUse = "Score candidate actions (channel, local send hour, message) of an account with models/action to choose the next-best action, and batch-score logged tables with `engage predict`. Scores are calibrated probabilities on the test period."
	}
	var td strings.Builder
	fmt.Fprintf(&td, "%d rows, %d dropped for a missing (censored) target; %d features", rep.Rows, rep.Dropped, len(rep.Artifact.Features))
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(&td, " (skipped, never observed: %s)", strings.Join(rep.Skipped, ", "))
	}
	fmt.Fprintf(&td, ". Split by %s: %d train / %d validation / %d test rows", sp.By, len(sp.Train), len(sp.Valid), len(sp.Test))
	if strings.HasPrefix(sp.By, "time") {
		fmt.Fprintf(&td, " (validation from %s, test from %s)", fmtTime(sp.ValidFrom), fmtTime(sp.TestFrom))
	} else {
		fmt.Fprintf(&td, " (seed %d)", o.Seed)
	}
	td.WriteString(".")
	c.TrainingData = td.String()
	c.Split = &registry.Split{By: sp.By}
	if strings.HasPrefix(sp.By, "time") {
		c.Split.ValidFrom, c.Split.TestFrom = time.UnixMicro(sp.ValidFrom).UTC(), time.UnixMicro(sp.TestFrom).UTC()
	}
	if o.Treatment != "" {
		c.Uplift = &registry.Uplift{Treatment: o.Treatment, Control: o.Control, Outcome: o.Target, Method: o.UpliftMethod}
	}

	var ev strings.Builder
	if o.Treatment != "" {
		fmt.Fprintf(&ev, "Test split. Qini coefficient %.4f, AUUC %.4f (scikit-uplift conventions).\n\n", rep.Metrics["qini"], rep.Metrics["auuc"])
		writeCurve(&ev, "Qini curve (incremental responders)", rep.Qini)
		writeCurve(&ev, "Uplift curve", rep.Uplift)
	} else {
		m := rep.Metrics
		fmt.Fprintf(&ev, "Test split, calibrated scores: AUC %.4f, log-loss %.4f, Brier %.4f, ECE %.4f (raw: AUC %.4f, log-loss %.4f, ECE %.4f).\n\n",
			m["auc"], m["logloss"], m["brier"], m["ece"], m["auc_raw"], m["logloss_raw"], m["ece_raw"])
		ev.WriteString("### Calibration (10 equal-width bins)\n\n| bin | rows | mean predicted | observed |\n|---|---:|---:|---:|\n")
		for _, b := range rep.Calibration.Bins {
			fmt.Fprintf(&ev, "| %.1f–%.1f | %d | %.4f | %.4f |\n", b.Lo, b.Hi, b.Count, b.MeanPredicted, b.ObservedRate)
		}
		if len(rep.Segments) > 0 {
			fmt.Fprintf(&ev, "\n### AUC by %s\n\n| %s | rows | positives | AUC |\n|---|---:|---:|---:|\n", rep.Segment, rep.Segment)
			for _, s := range rep.Segments {
				fmt.Fprintf(&ev, "| %s | %d | %d | %.4f |\n", s.Segment, s.Count, s.Positives, s.AUC)
			}
		}
	}
	if len(rep.Importance) > 0 {
		what := "share of split gain"
		if o.Family == "logistic" {
			what = "share of |standardised coefficient|"
		}
		fmt.Fprintf(&ev, "\n### Feature importance (top 20, %s)\n\n| feature | importance |\n|---|---:|\n", what)
		for i, im := range rep.Importance {
			if i == 20 {
				break
			}
			fmt.Fprintf(&ev, "| %s | %.4f |\n", im.Feature, im.Value)
		}
	}
	c.Evaluation = ev.String()
	c.Limitations = []string{
		"Learned from logged decisions of the policy in force: actions that policy rarely took (channels, hours, messages) are estimated from few rows.",
		"Calibrated on the validation period; recalibrate when the population or the contact policy drifts.",
		"Categorical levels never seen in training are treated as missing.",
	}
	return c
}

// writeCurve prints a curve at ten evenly spaced shares of the rows.
func writeCurve(b *strings.Builder, title string, c metrics.Curve) {
	if len(c.X) < 2 {
		return
	}
	n := c.X[len(c.X)-1]
	fmt.Fprintf(b, "### %s\n\n| share targeted | value |\n|---:|---:|\n", title)
	j := 0
	for d := 1; d <= 10; d++ {
		x := n * float64(d) / 10
		for j < len(c.X)-1 && c.X[j] < x {
			j++
		}
		fmt.Fprintf(b, "| %d%% | %.4g |\n", d*10, c.Y[j])
	}
	b.WriteString("\n")
}

func fmtTime(us int64) string { return time.UnixMicro(us).UTC().Format(time.RFC3339) }
