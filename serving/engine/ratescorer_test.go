package engine

import (
	"math"
	"slices"
	"testing"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
)

// TestRateScorerSumsInMessageOrder: the mean message rate is summed in
// datasets.Messages order, so the same context scores the same bits on every
// call. The rates are chosen so that the order matters (1 then four 1e-16s
// sums to 1; the small ones first to more): a sum in a map's order differs
// from call to call.
func TestRateScorerSumsInMessageOrder(t *testing.T) {
	sc, err := NewRateScorer(nil)
	if err != nil {
		t.Fatal(err)
	}
	num := features.NumericNames()
	x := &Context{Numeric: make([]float64, len(num))}
	for k, m := range datasets.Messages {
		v := 1e-16
		if k == 0 {
			v = 1
		}
		x.Numeric[slices.Index(num, "msg_"+m+"_response_rate")] = v
	}
	x.Numeric[slices.Index(num, "email_engagement_rate")] = 0.1
	cands := []Candidate{{Channel: "email", Message: datasets.Messages[0], Slot: 1}}
	mean := 0.0
	for k := range datasets.Messages {
		mean += x.Numeric[slices.Index(num, "msg_"+datasets.Messages[k]+"_response_rate")]
	}
	mean /= float64(len(datasets.Messages))
	want := 0.1 * (1 / mean)
	p := make([]float64, 1)
	for i := range 200 {
		if err := sc.Score(x, cands, p); err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(p[0]) != math.Float64bits(want) {
			t.Fatalf("call %d: %v, want %v (the mean summed in message order)", i, p[0], want)
		}
	}
}
