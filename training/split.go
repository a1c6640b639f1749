package training

import (
	"cmp"
	"math/rand/v2"
	"slices"

	"github.com/engagehq/engage/datasets"
)

// Split is the row indices of each part, and how they were cut.
type Split struct {
	Train, Valid, Test []int
	// By is "time:<column>" or "random(seed)".
	By string
	// ValidFrom and TestFrom are the first decision instants (UTC
	// microseconds) of the validation and test parts of a time split.
	ValidFrom, TestFrom int64
}

// splitRows cuts rows (indices into t) into train, validation and test. With a
// time column the order is by time (rows with a missing time count as the
// earliest), ties broken by row order; otherwise a PCG shuffle seeded by seed.
func splitRows(t *datasets.Table, rows []int, testFrac, validFrac float64, seed uint64) Split {
	order := slices.Clone(rows)
	s := Split{}
	tc := -1
	for k, c := range t.Columns {
		if c.Role == datasets.RoleTime && c.Kind == datasets.KindTime {
			tc = k
			break
		}
	}
	if tc >= 0 {
		ts := t.Times[tc]
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ts[a], ts[b]) })
		s.By = "time:" + t.Columns[tc].Name
	} else {
		rng := rand.New(rand.NewPCG(seed, 0x5eed5eed5eed5eed))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		s.By = "random"
	}
	n := len(order)
	nTest := int(float64(n) * testFrac)
	nValid := int(float64(n) * validFrac)
	nTrain := n - nTest - nValid
	s.Train, s.Valid, s.Test = order[:nTrain], order[nTrain:nTrain+nValid], order[nTrain+nValid:]
	if tc >= 0 {
		if len(s.Valid) > 0 {
			s.ValidFrom = t.Times[tc][s.Valid[0]]
		}
		if len(s.Test) > 0 {
			s.TestFrom = t.Times[tc][s.Test[0]]
		}
	}
	return s
}
