package gbdt

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/engagehq/engage/models"
)

// maxValueBins is the most value bins a feature may have: with the missing bin
// every bin index fits a uint8.
const maxValueBins = 255

// binner maps one feature's raw values to bin indices. Value bins are
// 0..nValue-1 and bin nValue holds missing values.
type binner struct {
	cat bool
	// upper[b] is the largest value of numeric bin b (the last is +Inf), so a
	// value v falls in the first bin with v <= upper[b].
	upper []float64
	// levels is the number of categorical levels; codes >= nValue-1 share the
	// last value bin when there are more levels than bins.
	levels int
	nValue int
}

func (b *binner) missingBin() int { return b.nValue }
func (b *binner) slots() int      { return b.nValue + 1 }

func (b *binner) bin(v float64) uint8 {
	if math.IsNaN(v) {
		return uint8(b.nValue)
	}
	if b.cat {
		c := int(v)
		if c >= b.nValue {
			c = b.nValue - 1
		}
		if c < 0 {
			c = 0
		}
		return uint8(c)
	}
	return uint8(sort.SearchFloat64s(b.upper, v))
}

// newBinners computes bin edges for every column from a seeded sample of rows.
func newBinners(X *models.Matrix, maxBins, sampleRows int, seed uint64) []binner {
	rows := sampleIndex(X.Rows, sampleRows, seed)
	out := make([]binner, X.Cols)
	vals := make([]float64, 0, len(rows))
	for j, f := range X.Features {
		if f.Kind == models.Categorical {
			n := max(1, min(len(f.Levels), maxValueBins))
			out[j] = binner{cat: true, levels: len(f.Levels), nValue: n}
			continue
		}
		vals = vals[:0]
		for _, r := range rows {
			if v := X.At(r, j); !math.IsNaN(v) {
				vals = append(vals, v)
			}
		}
		out[j] = numericBinner(vals, maxBins)
	}
	return out
}

// sampleIndex returns k sorted row indices drawn without replacement, or all
// rows when k is 0 or at least n.
func sampleIndex(n, k int, seed uint64) []int {
	if k <= 0 || k >= n {
		k = n
	}
	return sampleIndexRNG(n, k, rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)))
}

// numericBinner puts every distinct value in its own bin when there are at
// most maxBins of them, and otherwise cuts at sample quantiles.
func numericBinner(vals []float64, maxBins int) binner {
	slices.Sort(vals)
	distinct := slices.Compact(slices.Clone(vals))
	var upper []float64
	switch {
	case len(distinct) == 0:
		upper = []float64{math.Inf(1)}
	case len(distinct) <= maxBins:
		upper = make([]float64, len(distinct))
		for i := 0; i+1 < len(distinct); i++ {
			upper[i] = midpoint(distinct[i], distinct[i+1])
		}
		upper[len(upper)-1] = math.Inf(1)
	default:
		n := len(vals)
		for q := 1; q < maxBins; q++ {
			c := vals[q*n/maxBins]
			if len(upper) == 0 || c > upper[len(upper)-1] {
				upper = append(upper, c)
			}
		}
		if upper[len(upper)-1] >= vals[n-1] {
			upper = upper[:len(upper)-1]
		}
		upper = append(upper, math.Inf(1))
	}
	return binner{upper: upper, nValue: len(upper)}
}

// midpoint returns a cut c with a <= c < b.
func midpoint(a, b float64) float64 {
	c := a/2 + b/2
	if !(c >= a && c < b) {
		c = a
	}
	return c
}

// binned is the training matrix in bin space, row-major: a row's bins share a
// cache line, so one pass over a leaf's rows feeds every feature's histogram.
type binned struct {
	rows, ncols int
	data        []uint8 // data[r*ncols+j] is row r's bin for feature j
	binners     []binner
	offset      []int // offset of each feature's slots in a histogram
	slots       int   // total slots of a histogram
}

func (bd *binned) at(r, j int) uint8 { return bd.data[r*bd.ncols+j] }

func binMatrix(X *models.Matrix, b []binner, workers int) *binned {
	bd := &binned{rows: X.Rows, ncols: X.Cols, data: make([]uint8, X.Rows*X.Cols), binners: b, offset: make([]int, X.Cols)}
	for j := range b {
		// Features are packed back to back (no fixed stride), so that the
		// histogram of a table with a few wide features stays in L1 cache.
		bd.offset[j] = bd.slots
		bd.slots += b[j].slots()
	}
	parallelChunks(X.Rows, 4096, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for j := range b {
				bd.data[i*X.Cols+j] = b[j].bin(X.Data[i*X.Cols+j])
			}
		}
	})
	return bd
}
