package features

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/engagehq/engage/datasets"
)

// TestFillMatchesValues: Fill with any subset of the action columns writes
// exactly (to the bit) the values Values gives, leaves the other cells
// alone, and mixing the two on one Candidates (shared memo) changes
// nothing, on unknown channels and messages too.
func TestFillMatchesValues(t *testing.T) {
	s, a := heavyState(t, 400, 9)
	p := UniformPriors()
	at := s.Last() + 1
	chans := append([]string{"fax", ""}, datasets.Channels...)
	msgs := append([]string{"shout", ""}, datasets.Messages...)
	rng := rand.New(rand.NewPCG(5, 6))
	const sentinel = -12345.5
	for trial := range 300 {
		var cols ActionColumns
		width := 3 + numAction
		perm := rng.Perm(width)
		for i := range cols {
			cols[i] = -1
			if rng.IntN(3) == 0 {
				cols[i] = perm[i]
			}
		}
		ref := s.Candidates(a, p)
		c := s.Candidates(a, p)
		if trial%2 == 1 {
			s.ReadCandidates(at, a, p, nil, c) // the reused-Candidates path
		}
		row := make([]float64, width)
		for k := range 60 {
			ch, msg := chans[rng.IntN(len(chans))], msgs[rng.IntN(len(msgs))]
			send := at + int64(rng.IntN(72))*3_600_000_000 + int64(rng.IntN(3))*60_000_000
			for i := range row {
				row[i] = sentinel
			}
			if k%5 == 0 {
				c.Values(ch, send, msg, nil)
			}
			c.Fill(cols, ch, send, msg, row)
			want := ref.Values(ch, send, msg, nil)
			used := make([]bool, width)
			for i, j := range cols {
				if j < 0 {
					continue
				}
				used[j] = true
				if math.Float64bits(row[j]) != math.Float64bits(want[i]) && !(math.IsNaN(row[j]) && math.IsNaN(want[i])) {
					t.Fatalf("trial %d: %s/%s %s = %v, Values %v", trial, ch, msg, actionNames[i], row[j], want[i])
				}
			}
			for j, u := range used {
				if !u && row[j] != sentinel {
					t.Fatalf("trial %d: column %d not asked for was written", trial, j)
				}
			}
		}
	}
}
