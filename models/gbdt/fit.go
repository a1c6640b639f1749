package gbdt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"

	"github.com/engagehq/engage/models"
)

// ErrBadInput is wrapped by every error Fit returns for unusable data, so that
// callers can tell bad data from cancellation.
var ErrBadInput = errors.New("gbdt: bad input")

func badInput(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, a...))
}

// checkLabels requires 0/1 labels, one per row.
func checkLabels(name string, X *models.Matrix, y []float64) (pos int, err error) {
	if len(y) != X.Rows {
		return 0, badInput("%s: %d labels for %d rows", name, len(y), X.Rows)
	}
	for i, v := range y {
		switch v {
		case 0:
		case 1:
			pos++
		default:
			return 0, badInput("%s: label %v at row %d, want 0 or 1", name, v, i)
		}
	}
	return pos, nil
}

func checkMatrix(name string, X *models.Matrix) error {
	if X == nil {
		return badInput("%s: nil matrix", name)
	}
	if X.Rows <= 0 || X.Cols <= 0 {
		return badInput("%s: empty table (%d rows x %d columns)", name, X.Rows, X.Cols)
	}
	if err := X.Validate(); err != nil {
		return badInput("%s: %v", name, err)
	}
	return nil
}

// Fit boosts trees on X (rows) against 0/1 labels y. When valid is not nil,
// the validation log-loss (or AUC) is tracked every round and, with
// EarlyStoppingRounds > 0, fitting stops once it has not improved for that many
// rounds; the model keeps the best round's trees. Cancelling ctx stops fitting
// with ctx's error.
func Fit(ctx context.Context, X *models.Matrix, y []float64, valid *models.Matrix, yValid []float64, opts Options) (*Model, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.EarlyStoppingMetric == "" {
		opts.EarlyStoppingMetric = "logloss"
	}
	if err := checkMatrix("training data", X); err != nil {
		return nil, err
	}
	pos, err := checkLabels("training data", X, y)
	if err != nil {
		return nil, err
	}
	if pos == 0 || pos == X.Rows {
		return nil, badInput("training labels are all %v: nothing to learn", y[0])
	}
	if valid != nil {
		if err := checkMatrix("validation data", valid); err != nil {
			return nil, err
		}
		if err := models.CheckSchema(X.Features, valid.Features); err != nil {
			return nil, badInput("validation data: %v", err)
		}
		vpos, err := checkLabels("validation data", valid, yValid)
		if err != nil {
			return nil, err
		}
		if opts.EarlyStoppingMetric == "auc" && (vpos == 0 || vpos == valid.Rows) {
			return nil, badInput("validation labels are constant: AUC is undefined")
		}
	}
	workers := opts.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	n := X.Rows
	bd := binMatrix(X, newBinners(X, opts.MaxBins, opts.BinSampleRows, opts.Seed), workers)
	p := float64(pos) / float64(n)
	m := &Model{
		features: slices.Clone(X.Features),
		base:     math.Log(p / (1 - p)),
	}

	F := make([]float64, n)
	for i := range F {
		F[i] = m.base
	}
	var FV, vloss []float64
	if valid != nil {
		vloss = make([]float64, (valid.Rows+validChunk-1)/validChunk)
		FV = make([]float64, valid.Rows)
		for i := range FV {
			FV[i] = m.base
		}
	}
	gr := &grower{
		o: &opts, bd: bd, workers: workers,
		gh:   make([]gradPair, n),
		rows: make([]int32, n), scratch: make([]int32, n), ogh: make([]gradPair, n), offs: make([]int32, X.Cols),
		bestA: make([]split, X.Cols), bestB: make([]split, X.Cols),
		catOrder: make([][]int, X.Cols),
	}
	if opts.Subsample == 1 {
		// Root histograms are built in fixed row chunks (see rootPass), at
		// most 16 of them; their row counts never change.
		parts := min(16, max(1, (n+rootChunk-1)/rootChunk))
		gr.parts = make([][]slot, parts)
		for c := range gr.parts {
			gr.parts[c] = make([]slot, bd.slots)
		}
		gr.rootCounts = make([]int, bd.slots)
		for i := 0; i < n; i++ {
			for j, b := range bd.data[i*X.Cols : (i+1)*X.Cols] {
				gr.rootCounts[bd.offset[j]+int(b)]++
			}
		}
	}
	for j := range gr.catOrder {
		gr.catOrder[j] = make([]int, 0, maxValueBins+1)
	}

	const chunk = 4096
	higher := opts.EarlyStoppingMetric == "auc"
	best, bestRound, since := math.Inf(1), 0, 0
	if higher {
		best = math.Inf(-1)
	}
	for round := 1; round <= opts.MaxIter; round++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("gbdt fit: round %d: %w", round, err)
		}
		rng := rand.New(rand.NewPCG(opts.Seed, uint64(round)))
		rows := n
		if opts.Subsample < 1 {
			k := max(1, int(math.Round(opts.Subsample*float64(n))))
			idx := sampleIndexRNG(n, k, rng)
			for i, r := range idx {
				gr.rows[i] = int32(r)
			}
			rows = k
			gr.identity = false
		} else {
			gr.identity = true
			for i := range gr.rows {
				gr.rows[i] = int32(i)
			}
		}
		gr.active = gr.active[:0]
		if opts.ColSample < 1 {
			k := max(1, int(math.Round(opts.ColSample*float64(X.Cols))))
			gr.active = append(gr.active, sampleIndexRNG(X.Cols, k, rng)...)
		} else {
			for j := 0; j < X.Cols; j++ {
				gr.active = append(gr.active, j)
			}
		}

		for k, f := range gr.active {
			gr.offs[k] = int32(bd.offset[f])
		}
		var rootHist []slot
		if gr.identity {
			// Gradients and the root histogram in one pass over the rows.
			rootHist = gr.rootPass(F, y)
		} else {
			parallelChunks(n, chunk, workers, func(lo, hi int) {
				gradients(gr.gh[lo:hi], F[lo:hi], y[lo:hi])
			})
		}
		t := gr.grow(rows, rootHist)
		m.trees = append(m.trees, t)
		if rows == n {
			// Every row sits in exactly one leaf segment.
			parallelFor(len(gr.segs), workers, func(k int) {
				sg := gr.segs[k]
				for _, r := range gr.rows[sg.start:sg.end] {
					F[r] += sg.value
				}
			})
		} else {
			parallelChunks(n, chunk, workers, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					F[i] += t.predictBinned(bd, i)
				}
			})
		}

		vm := math.NaN()
		if valid != nil {
			// Update the validation margins by the new tree only, and sum
			// the log-loss per fixed chunk in the same pass (chunk sums are
			// added in chunk order: the result does not depend on workers).
			parallelChunks(valid.Rows, validChunk, workers, func(lo, hi int) {
				// softplus(f) = max(f, 0) + log(1 + e^-|f|): the logs are
				// taken of running products of the (1, 2] factors, one log
				// per few hundred rows instead of one per row.
				var s float64
				prod := 1.0
				for i := lo; i < hi; i++ {
					f := FV[i] + t.predict(valid.Row(i))
					FV[i] = f
					s += max(f, 0) - yValid[i]*f
					prod *= 1 + expFast(-math.Abs(f))
					if prod > 0x1p500 {
						s += math.Log(prod)
						prod = 1
					}
				}
				vloss[lo/validChunk] = s + math.Log(prod)
			})
			if higher {
				vm = auc(FV, yValid)
			} else {
				var s float64
				for _, c := range vloss {
					s += c
				}
				vm = s / float64(valid.Rows)
			}
		}
		if opts.Progress != nil {
			tl := math.NaN()
			if opts.TrackTrainLoss {
				tl = logLoss(F, y)
			}
			opts.Progress(round, tl, vm)
		}
		if valid == nil || opts.EarlyStoppingRounds == 0 {
			continue
		}
		if (higher && vm > best) || (!higher && vm < best) {
			best, bestRound, since = vm, round, 0
			continue
		}
		if since++; since >= opts.EarlyStoppingRounds {
			break
		}
	}
	if valid != nil && opts.EarlyStoppingRounds > 0 && bestRound > 0 {
		m.trees = m.trees[:bestRound]
	}
	m.flat = compile(m.trees, X.Cols)
	return m, nil
}

// rootChunk is the smallest block of rows of a partial root histogram.
const rootChunk = 8192

// validChunk is the block of validation rows whose loss is summed together.
const validChunk = 1024

func sampleIndexRNG(n, k int, rng *rand.Rand) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + rng.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	idx = idx[:k]
	slices.Sort(idx)
	return idx
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// logLoss is the mean binary log-loss of margins (log-odds) against 0/1
// labels, computed stably from the margins.
func logLoss(margin, y []float64) float64 {
	var s float64
	for i, f := range margin {
		// log(1+exp(f)) - y*f
		s += softplus(f) - y[i]*f
	}
	return s / float64(len(margin))
}

func softplus(x float64) float64 {
	// log(1+e) instead of log1p(e): for tiny e the absolute error stays
	// below 1e-16, which is all a mean loss needs, and it is much cheaper.
	if x > 0 {
		return x + math.Log(1+expFast(-x))
	}
	return math.Log(1 + expFast(x))
}

// auc is the area under the ROC curve of scores against 0/1 labels, with ties
// counted as half; NaN when a class is absent.
func auc(score, y []float64) float64 {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case score[a] < score[b]:
			return -1
		case score[a] > score[b]:
			return 1
		}
		return 0
	})
	var pos, neg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && score[idx[j]] == score[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // average 1-based rank of the tie group
		for k := i; k < j; k++ {
			if y[idx[k]] == 1 {
				pos++
				rankSum += mid
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}
