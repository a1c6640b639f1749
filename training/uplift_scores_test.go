package training

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/engagehq/engage/models/registry"
)

// TestReadUpliftCard keeps ReadUpliftCard in step with the card prose that
// card.go writes: it fits real uplift models and reads their cards back.
func TestReadUpliftCard(t *testing.T) {
	tab := genTable(3000, 21)
	for _, control := range []string{"control", `odd "level"`} {
		o := fastOptions("engaged")
		o.Exclude = nil
		o.Family = "logistic"
		o.Treatment, o.Control = "treated", control
		if control != "control" {
			col := tab.Index("treated")
			for i, s := range tab.Strings[col] {
				if s == "control" {
					tab.Strings[col][i] = control
				}
			}
		}
		rep, err := Fit(context.Background(), tab, nil, "h", o)
		if err != nil {
			t.Fatal(err)
		}
		// Run prefixes the training data with the file name, which may say
		// anything.
		c := rep.Card
		c.TrainingData = "`odd (test from 1999-01-01T00:00:00Z) name.parquet`: " + c.TrainingData
		d, err := ReadUpliftCard(c)
		if err != nil {
			t.Fatal(err)
		}
		want := time.UnixMicro(rep.Split.TestFrom).UTC()
		if d.Treatment != "treated" || d.Control != control || d.Target != "engaged" || !d.TestFrom.Equal(want) {
			t.Errorf("read %+v, want treated/%q/engaged test from %s", d, control, want)
		}
		if c.Uplift == nil || c.Split == nil || c.Uplift.Method != o.UpliftMethod {
			t.Fatalf("card lacks its structured design: uplift %+v split %+v", c.Uplift, c.Split)
		}
		// A card from before the structured fields is read from its prose,
		// to the same design.
		legacy := c
		legacy.Uplift, legacy.Split = nil, nil
		if d2, err := ReadUpliftCard(legacy); err != nil || d2 != d {
			t.Errorf("prose read %+v %v, want %+v", d2, err, d)
		}
	}
	// A random split has no test-split instant; a classifier's card no design.
	d, err := ReadUpliftCard(registry.Card{Summary: "X-learner uplift model (gbdt base learners) of the effect of `message` (control \"friendly_reminder\") on `paid_7d`.",
		TrainingData: "10 rows. Split by random: 6 train / 2 validation / 2 test rows (seed 1)."})
	if err != nil || d.Treatment != "message" || !d.TestFrom.IsZero() {
		t.Errorf("random split: %+v %v", d, err)
	}
	if _, err := ReadUpliftCard(registry.Card{Version: "v0001", Summary: "Calibrated (isotonic) gbdt model of P(`paid_7d` = 1 | context, action)."}); err == nil || !strings.Contains(err.Error(), "v0001") {
		t.Errorf("classifier card: %v", err)
	}
}
