package gbdt

import (
	"math"
	"slices"
)

// node is one tree node. Leaves have Feature -1. Children always have larger
// indices than their parent, which Load checks so that traversal terminates.
type node struct {
	Feature int `json:"f"`
	// Threshold: numeric rows with value <= Threshold go left.
	Threshold float64 `json:"t,omitempty"`
	// Cat is the bitset of level codes that go left on a categorical split;
	// other levels, and codes never seen in training, go right.
	Cat []uint64 `json:"c,omitempty"`
	// DefaultLeft routes missing values (NaN) left.
	DefaultLeft bool    `json:"m,omitempty"`
	Left        int     `json:"l,omitempty"`
	Right       int     `json:"r,omitempty"`
	Value       float64 `json:"v,omitempty"`
	// Gain is the loss reduction of the split, for importances.
	Gain float64 `json:"g,omitempty"`
	// Count is the number of training rows that reached the node.
	Count int `json:"n"`

	// split in bin space, used only while fitting.
	bin     int
	catBins []uint64
}

type tree struct {
	Nodes []node `json:"nodes"`
}

func (t *tree) predict(row []float64) float64 {
	i := 0
	for {
		n := &t.Nodes[i]
		if n.Feature < 0 {
			return n.Value
		}
		v := row[n.Feature]
		var left bool
		switch {
		case math.IsNaN(v):
			left = n.DefaultLeft
		case n.Cat != nil:
			left = v >= 0 && v < float64(64*len(n.Cat)) && hasBit(n.Cat, int(v))
		default:
			left = v <= n.Threshold
		}
		if left {
			i = n.Left
		} else {
			i = n.Right
		}
	}
}

func (t *tree) predictBinned(bd *binned, r int) float64 {
	i := 0
	for {
		n := &t.Nodes[i]
		if n.Feature < 0 {
			return n.Value
		}
		b := int(bd.at(r, n.Feature))
		var left bool
		switch {
		case b == bd.binners[n.Feature].missingBin():
			left = n.DefaultLeft
		case n.catBins != nil:
			left = hasBit(n.catBins, b)
		default:
			left = b <= n.bin
		}
		if left {
			i = n.Left
		} else {
			i = n.Right
		}
	}
}

func hasBit(set []uint64, i int) bool { return i>>6 < len(set) && set[i>>6]&(1<<(uint(i)&63)) != 0 }
func setBit(set []uint64, i int)      { set[i>>6] |= 1 << (uint(i) & 63) }

// slot is one histogram bin: sums of gradients and hessians and the row count.
type slot struct {
	g, h float64
	n    int
}

type stats struct {
	g, h float64
	n    int
}

func (s *stats) add(o slot) { s.g += o.g; s.h += o.h; s.n += o.n }

// split is the best split found for one leaf.
type split struct {
	feature     int // -1: none
	gain        float64
	bin         int      // numeric: bins <= bin go left
	catBins     []uint64 // categorical: bins in the set go left
	missingLeft bool
	left, right stats
}

// grower grows one tree at a time over shared buffers.
type grower struct {
	o  *Options
	bd *binned
	gh []gradPair // per row, in row order
	// identity is set while rows[:len(gh)] is 0, 1, 2, ... (no subsample).
	identity bool
	workers  int

	rows    []int32 // row indices, partitioned into leaf segments
	scratch []int32
	ogh     []gradPair
	offs    []int32 // per active feature: its histogram offset
	// parts are the per-chunk partial root histograms of rootPass.
	parts [][]slot
	// rootCounts are the root histogram's row counts, fixed when every
	// tree fits on all rows.
	rootCounts []int
	grp        [][2]int
	nls        []int
	segs       []segment // the last tree's leaves as segments of rows
	pool       [][]slot
	active     []int // features this tree may split on

	// per-feature results of the current parallel pass
	bestA, bestB []split
	catOrder     [][]int // per-feature scratch for categorical ordering
}

// segment is one leaf of the last grown tree: its rows are
// rows[start:end] and its output value.
type segment struct {
	start, end int
	value      float64
}

type leaf struct {
	node       int
	start, end int
	depth      int
	sum        stats
	hist       []slot
	best       split
}

func (gr *grower) getHist() []slot {
	if k := len(gr.pool); k > 0 {
		h := gr.pool[k-1]
		gr.pool = gr.pool[:k-1]
		return h
	}
	return make([]slot, gr.bd.slots)
}

func (gr *grower) putHist(h []slot) {
	if h != nil {
		gr.pool = append(gr.pool, h)
	}
}

// gather copies the gradients of rows into gr.ogh in row-list order, so that
// every feature's histogram pass reads them sequentially.
func (gr *grower) gather(rows []int32) []gradPair {
	if gr.identity && len(rows) == len(gr.gh) {
		// All rows in row order (the root without subsampling): use the
		// gradients in place.
		return gr.gh
	}
	ogh := gr.ogh[:len(rows)]
	gh := gr.gh
	for i, r := range rows {
		ogh[i] = gh[r]
	}
	return ogh
}

type gradPair struct{ g, h float64 }

// buildGroup fills the histograms of features gr.active[lo:hi] from rows in
// one pass over the rows. Each feature's sums run in row order whatever the
// grouping, so the result does not depend on the number of workers.
func (gr *grower) buildGroup(hist []slot, lo, hi int, rows []int32, ogh []gradPair) {
	feats := gr.active[lo:hi]
	if len(feats) == 0 {
		return
	}
	offs := gr.offs[lo:hi]
	for k, f := range feats {
		off := offs[k]
		clear(hist[off : int(off)+gr.bd.binners[f].slots()])
	}
	data, nc := gr.bd.data, gr.bd.ncols
	ogh = ogh[:len(rows)]
	if gr.contiguous(lo, hi) {
		// Common case: the group is a run of adjacent columns, so a row's
		// bins are one contiguous slice.
		f0, nf := feats[0], len(feats)
		offs = offs[:nf]
		for i, r := range rows {
			g, h := ogh[i].g, ogh[i].h
			base := int(r)*nc + f0
			rb := data[base : base+nf : base+nf]
			k := 0
			for ; k+4 <= nf; k += 4 {
				s0 := &hist[int(offs[k])+int(rb[k])]
				s1 := &hist[int(offs[k+1])+int(rb[k+1])]
				s2 := &hist[int(offs[k+2])+int(rb[k+2])]
				s3 := &hist[int(offs[k+3])+int(rb[k+3])]
				s0.g += g
				s0.h += h
				s0.n++
				s1.g += g
				s1.h += h
				s1.n++
				s2.g += g
				s2.h += h
				s2.n++
				s3.g += g
				s3.h += h
				s3.n++
			}
			for ; k < nf; k++ {
				s := &hist[int(offs[k])+int(rb[k])]
				s.g += g
				s.h += h
				s.n++
			}
		}
		return
	}
	for i, r := range rows {
		g, h := ogh[i].g, ogh[i].h
		base := int(r) * nc
		for k, f := range feats {
			s := &hist[int(offs[k])+int(data[base+f])]
			s.g += g
			s.h += h
			s.n++
		}
	}
}

// buildGH is buildGroup over all active features without the row counts,
// for the root, whose counts never change.
func (gr *grower) buildGH(hist []slot, rows []int32, ogh []gradPair) {
	offs := gr.offs[:len(gr.active)]
	for k, f := range gr.active {
		off := offs[k]
		clear(hist[off : int(off)+gr.bd.binners[f].slots()])
	}
	data, nc := gr.bd.data, gr.bd.ncols
	ogh = ogh[:len(rows)]
	if gr.contiguous(0, len(gr.active)) {
		f0, nf := gr.active[0], len(gr.active)
		offs = offs[:nf]
		for i, r := range rows {
			g, h := ogh[i].g, ogh[i].h
			base := int(r)*nc + f0
			rb := data[base : base+nf : base+nf]
			k := 0
			for ; k+4 <= nf; k += 4 {
				s0 := &hist[int(offs[k])+int(rb[k])]
				s1 := &hist[int(offs[k+1])+int(rb[k+1])]
				s2 := &hist[int(offs[k+2])+int(rb[k+2])]
				s3 := &hist[int(offs[k+3])+int(rb[k+3])]
				s0.g += g
				s0.h += h
				s1.g += g
				s1.h += h
				s2.g += g
				s2.h += h
				s3.g += g
				s3.h += h
			}
			for ; k < nf; k++ {
				s := &hist[int(offs[k])+int(rb[k])]
				s.g += g
				s.h += h
			}
		}
		return
	}
	for i, r := range rows {
		g, h := ogh[i].g, ogh[i].h
		base := int(r) * nc
		for k, f := range gr.active {
			s := &hist[int(offs[k])+int(data[base+f])]
			s.g += g
			s.h += h
		}
	}
}

// rootPass computes every row's gradients and the root histogram in one
// pass over fixed row chunks, for rounds that fit on all rows. Each chunk
// fills its own partial histogram and the partials are added in chunk order,
// so the result does not depend on the number of workers. It returns the
// root histogram.
func (gr *grower) rootPass(F, y []float64) []slot {
	n := len(gr.gh)
	nc := len(gr.parts)
	parallelFor(nc, gr.workers, func(c int) {
		lo, hi := c*n/nc, (c+1)*n/nc
		gh := gr.gh[lo:hi]
		gradients(gh, F[lo:hi], y[lo:hi])
		gr.buildGH(gr.parts[c], gr.rows[lo:hi], gh)
	})
	hist := gr.getHist()
	for k, f := range gr.active {
		off := int(gr.offs[k])
		ns := gr.bd.binners[f].slots()
		dst := hist[off : off+ns]
		copy(dst, gr.parts[0][off:off+ns])
		for _, p := range gr.parts[1:] {
			for b, s := range p[off : off+ns] {
				dst[b].g += s.g
				dst[b].h += s.h
			}
		}
		for b, c := range gr.rootCounts[off : off+ns] {
			dst[b].n = c
		}
	}
	return hist
}

func (gr *grower) contiguous(lo, hi int) bool {
	for k := lo + 1; k < hi; k++ {
		if gr.active[k] != gr.active[k-1]+1 {
			return false
		}
	}
	return true
}

// groups splits the active features into one run per worker.
func (gr *grower) groups() [][2]int {
	n := len(gr.active)
	w := max(1, min(gr.workers, n))
	out := gr.grp[:0]
	for i := 0; i < w; i++ {
		out = append(out, [2]int{i * n / w, (i + 1) * n / w})
	}
	gr.grp = out
	return out
}

func (gr *grower) canSplit(l *leaf) bool {
	if gr.o.MaxDepth > 0 && l.depth >= gr.o.MaxDepth {
		return false
	}
	return l.sum.n >= 2*gr.o.MinSamplesLeaf && l.sum.h >= 2*gr.o.MinHessianLeaf
}

// grow fits one tree on the rows in gr.rows[:n] and returns it with leaf
// values already multiplied by the learning rate.
func (gr *grower) grow(n int, rootHist []slot) tree {
	o := gr.o
	var t tree
	root := &leaf{start: 0, end: n}
	t.Nodes = append(t.Nodes, node{Feature: -1, Count: n})
	if rootHist != nil {
		root.hist = rootHist
		gr.rootSum(root)
		gr.expand(root, nil, true)
	} else {
		root.hist = gr.getHist()
		gr.expand(root, nil, false)
	}
	leaves := []*leaf{root}

	maxLeaves := o.MaxLeaves
	if maxLeaves == 0 {
		maxLeaves = math.MaxInt
	}
	for len(leaves) < maxLeaves {
		bi := -1
		for i, l := range leaves {
			if l.best.feature >= 0 && (bi < 0 || l.best.gain > leaves[bi].best.gain) {
				bi = i
			}
		}
		if bi < 0 {
			break
		}
		p := leaves[bi]
		s := p.best
		mid := gr.partition(p, &s)
		L := &leaf{start: p.start, end: mid, depth: p.depth + 1, sum: s.left}
		R := &leaf{start: mid, end: p.end, depth: p.depth + 1, sum: s.right}
		L.sum.n, R.sum.n = mid-p.start, p.end-mid

		li, ri := len(t.Nodes), len(t.Nodes)+1
		pn := &t.Nodes[p.node]
		pn.Feature, pn.Gain, pn.DefaultLeft = s.feature, s.gain, s.missingLeft
		pn.Left, pn.Right = li, ri
		pn.bin, pn.catBins = s.bin, s.catBins
		L.node, R.node = li, ri
		t.Nodes = append(t.Nodes, node{Feature: -1, Count: L.sum.n}, node{Feature: -1, Count: R.sum.n})

		small, large := L, R
		if R.sum.n < L.sum.n {
			small, large = R, L
		}
		large.hist, p.hist = p.hist, nil
		if len(leaves)+1 < maxLeaves {
			small.hist = gr.getHist()
			gr.expand(small, large, false)
		} else {
			// The tree is full: these leaves are never split.
			small.best, large.best = split{feature: -1}, split{feature: -1}
		}
		leaves[bi] = L
		leaves = slices.Insert(leaves, bi+1, R)
	}
	gr.segs = gr.segs[:0]
	for _, l := range leaves {
		gr.putHist(l.hist)
		nd := &t.Nodes[l.node]
		nd.Value = -l.sum.g / (l.sum.h + o.Lambda) * o.LearningRate
		if math.IsNaN(nd.Value) || math.IsInf(nd.Value, 0) {
			nd.Value = 0
		}
		gr.segs = append(gr.segs, segment{l.start, l.end, nd.Value})
	}
	t.finish(gr.bd)
	return t
}

// parallelRows is the smallest leaf whose histogram is built on several
// goroutines; below it waking a second thread costs more than it saves.
// It depends on rows only, so the model does not depend on the workers.
var parallelRows = 4096

// expand builds small's histogram from its rows and, when large is not nil,
// large's by subtracting small's from the parent histogram large holds; then
// it finds both leaves' best splits.
func (gr *grower) expand(small, large *leaf, built bool) {
	rows := gr.rows[small.start:small.end]
	var ogh []gradPair
	if !built {
		ogh = gr.gather(rows)
	}
	if small.node == 0 && !built {
		// The root: build its histogram, then take its totals from it.
		if gr.workers == 1 || len(rows) < parallelRows {
			gr.buildGroup(small.hist, 0, len(gr.active), rows, ogh)
		} else {
			grp := gr.groups()
			parallelFor(len(grp), gr.workers, func(gi int) {
				gr.buildGroup(small.hist, grp[gi][0], grp[gi][1], rows, ogh)
			})
		}
		gr.rootSum(small)
		built = true
	}
	splitS := gr.canSplit(small)
	splitL := large != nil && gr.canSplit(large)
	if !splitS && !splitL {
		// Neither leaf can split: their histograms are never needed.
		small.best = split{feature: -1}
		if large != nil {
			large.best = split{feature: -1}
		}
		return
	}
	finish := func(k int) {
		f := gr.active[k]
		if large != nil {
			off := gr.bd.offset[f]
			lh, sh := large.hist[off:off+gr.bd.binners[f].slots()], small.hist[off:off+gr.bd.binners[f].slots()]
			for b := range lh {
				lh[b].g -= sh[b].g
				lh[b].h -= sh[b].h
				lh[b].n -= sh[b].n
			}
		}
		if splitS {
			gr.bestA[k] = gr.bestSplit(small, f, k)
		}
		if splitL {
			gr.bestB[k] = gr.bestSplit(large, f, k)
		}
	}
	build := !built
	// Worth a second goroutine: a large histogram to build, or (histogram
	// already built) split searches over many features.
	par := gr.workers > 1 && ((build && len(rows) >= parallelRows) || (!build && len(gr.active) >= 32))
	if !par {
		if build {
			gr.buildGroup(small.hist, 0, len(gr.active), rows, ogh)
		}
		for k := range gr.active {
			finish(k)
		}
	} else {
		grp := gr.groups()
		parallelFor(len(grp), gr.workers, func(gi int) {
			lo, hi := grp[gi][0], grp[gi][1]
			if build {
				gr.buildGroup(small.hist, lo, hi, rows, ogh)
			}
			for k := lo; k < hi; k++ {
				finish(k)
			}
		})
	}
	small.best = gr.reduce(gr.bestA, splitS)
	if large != nil {
		large.best = gr.reduce(gr.bestB, splitL)
	}
}

// rootSum sets the root's totals from its histogram: every row sits in
// exactly one bin of any feature.
func (gr *grower) rootSum(root *leaf) {
	f := gr.active[0]
	off := gr.bd.offset[f]
	root.sum = stats{}
	for _, s := range root.hist[off : off+gr.bd.binners[f].slots()] {
		root.sum.add(s)
	}
}

// reduce picks the best split over features, ties to the lower feature order.
func (gr *grower) reduce(best []split, ok bool) split {
	out := split{feature: -1}
	if !ok {
		return out
	}
	for _, s := range best[:len(gr.active)] {
		if s.feature >= 0 && (out.feature < 0 || s.gain > out.gain) {
			out = s
		}
	}
	return out
}

// partition reorders the leaf's rows so the left child's come first, keeping
// row order within each side, and returns the boundary.
func (gr *grower) partition(l *leaf, s *split) int {
	// goLeft[b] is 1 when bin b goes left.
	var goLeft [maxValueBins + 1]uint8
	bn := &gr.bd.binners[s.feature]
	for b := 0; b < bn.nValue; b++ {
		if (s.catBins != nil && hasBit(s.catBins, b)) || (s.catBins == nil && b <= s.bin) {
			goLeft[b] = 1
		}
	}
	if s.missingLeft {
		goLeft[bn.missingBin()] = 1
	}
	seg := gr.rows[l.start:l.end]
	scratch := gr.scratch[l.start:l.end]
	if len(seg) < 4*partChunk || gr.workers == 1 {
		return l.start + gr.partitionChunk(seg, scratch, &goLeft, s.feature)
	}
	// Partition fixed chunks in parallel (lefts to the chunk's front in
	// scratch, rights after), then gather all lefts, then all rights: the
	// same order as one sequential pass.
	k := (len(seg) + partChunk - 1) / partChunk
	nls := gr.nls[:0]
	for range k {
		nls = append(nls, 0)
	}
	gr.nls = nls
	parallelFor(k, gr.workers, func(c int) {
		lo, hi := c*partChunk, min(len(seg), (c+1)*partChunk)
		nls[c] = gr.partitionChunkTo(seg[lo:hi], scratch[lo:hi], &goLeft, s.feature)
	})
	lefts := 0
	for _, nl := range nls {
		lefts += nl
	}
	parallelFor(k, gr.workers, func(c int) {
		lo, hi := c*partChunk, min(len(seg), (c+1)*partChunk)
		lpos, rpos := 0, lefts
		for d := 0; d < c; d++ {
			lpos += nls[d]
			rpos += min(len(seg), (d+1)*partChunk) - d*partChunk - nls[d]
		}
		copy(seg[lpos:], scratch[lo:lo+nls[c]])
		// The chunk's right rows are stored back to front.
		rs := scratch[lo+nls[c] : hi]
		dst := seg[rpos : rpos+len(rs)]
		for i, r := range rs {
			dst[len(rs)-1-i] = r
		}
	})
	return l.start + lefts
}

// partChunk is the block size of the parallel partition.
const partChunk = 8192

// partitionChunk stably moves seg's left rows to its front, using scratch
// (same length) for the right rows, and returns the number of left rows.
func (gr *grower) partitionChunk(seg, scratch []int32, goLeft *[maxValueBins + 1]uint8, f int) int {
	data, nc := gr.bd.data, gr.bd.ncols
	nl, nr := 0, 0
	for _, r := range seg {
		left := int(goLeft[data[int(r)*nc+f]])
		// Branch-free: write both ways, advance one.
		seg[nl] = r
		scratch[nr] = r
		nl += left
		nr += 1 - left
	}
	copy(seg[nl:], scratch[:nr])
	return nl
}

// partitionChunkTo writes seg's left rows to the front of out, in order, and
// its right rows to the back of out, in reverse order, and returns the
// number of left rows.
func (gr *grower) partitionChunkTo(seg, out []int32, goLeft *[maxValueBins + 1]uint8, f int) int {
	data, nc := gr.bd.data, gr.bd.ncols
	nl, back := 0, len(out)-1
	out = out[:len(seg)]
	for _, r := range seg {
		left := int(goLeft[data[int(r)*nc+f]])
		// Branch-free: both positions lie in the still unwritten middle.
		out[nl] = r
		out[back] = r
		nl += left
		back -= 1 - left
	}
	return nl
}

// finish converts bin-space splits to raw thresholds and level sets.
func (t *tree) finish(bd *binned) {
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if n.Feature < 0 {
			continue
		}
		b := &bd.binners[n.Feature]
		if !b.cat {
			n.Threshold = b.upper[n.bin]
			if math.IsInf(n.Threshold, 1) {
				// Only the missing-against-the-rest split cuts at the last bin.
				n.Threshold = math.MaxFloat64
			}
			continue
		}
		n.Cat = make([]uint64, (b.levels+63)/64)
		for c := 0; c < b.levels; c++ {
			if hasBit(n.catBins, min(c, b.nValue-1)) {
				setBit(n.Cat, c)
			}
		}
	}
}

func gainTerm(g, h, lambda float64) float64 { return g * g / (h + lambda) }

// try scores a candidate split of a leaf with totals tot into left stats l and
// records it in best if it beats it.
func (gr *grower) try(best *split, tot, l stats, lambda float64, parentTerm float64) (bool, stats) {
	o := gr.o
	r := stats{g: tot.g - l.g, h: tot.h - l.h, n: tot.n - l.n}
	if l.n < o.MinSamplesLeaf || r.n < o.MinSamplesLeaf || l.h < o.MinHessianLeaf || r.h < o.MinHessianLeaf {
		return false, r
	}
	gain := gainTerm(l.g, l.h, lambda) + gainTerm(r.g, r.h, lambda) - parentTerm
	if !(gain > o.MinGain) || !(gain > best.gain) {
		return false, r
	}
	best.gain, best.left, best.right = gain, l, r
	return true, r
}

// bestSplit finds the best split of leaf l on feature f (k is the feature's
// position in gr.active, used for scratch space).
func (gr *grower) bestSplit(l *leaf, f, k int) split {
	b := &gr.bd.binners[f]
	off := gr.bd.offset[f]
	hs := l.hist[off : off+b.slots()]
	miss := hs[b.missingBin()]
	best := split{feature: -1, gain: 0}
	tot := l.sum
	hasMiss := miss.n > 0
	if !b.cat {
		parent := gainTerm(tot.g, tot.h, gr.o.Lambda)
		o := gr.o
		lam, minN, minH := o.Lambda, o.MinSamplesLeaf, o.MinHessianLeaf
		// bestGain starts at MinGain: a split must beat it strictly.
		bestGain, bestBin, bestML := o.MinGain, -1, false
		var bestL stats
		var ag, ah float64
		an := 0
		hv := hs[:b.nValue-1]
		for bin := range hv {
			// An empty bin repeats the previous candidate, which wins ties.
			if hv[bin].n == 0 {
				continue
			}
			ag += hv[bin].g
			ah += hv[bin].h
			an += hv[bin].n
			if tot.n-an < minN {
				break // the right side only shrinks from here
			}
			if an+miss.n < minN {
				continue
			}
			// Missing values right.
			if rh := tot.h - ah; an >= minN && ah >= minH && rh >= minH {
				rg := tot.g - ag
				if gain := ag*ag/(ah+lam) + rg*rg/(rh+lam) - parent; gain > bestGain {
					bestGain, bestBin, bestML = gain, bin, false
					bestL = stats{ag, ah, an}
				}
			}
			// Missing values left.
			if hasMiss {
				lg, lh := ag+miss.g, ah+miss.h
				rg, rh := tot.g-lg, tot.h-lh
				if tot.n-an-miss.n >= minN && lh >= minH && rh >= minH {
					if gain := lg*lg/(lh+lam) + rg*rg/(rh+lam) - parent; gain > bestGain {
						bestGain, bestBin, bestML = gain, bin, true
						bestL = stats{lg, lh, an + miss.n}
					}
				}
			}
		}
		if bestBin >= 0 {
			l := bestL
			best = split{feature: f, gain: bestGain, bin: bestBin, missingLeft: bestML,
				left: l, right: stats{g: tot.g - l.g, h: tot.h - l.h, n: tot.n - l.n}}
		}
		if hasMiss {
			// Missing against every present value.
			nonMiss := stats{g: tot.g - miss.g, h: tot.h - miss.h, n: tot.n - miss.n}
			if ok, _ := gr.try(&best, tot, nonMiss, gr.o.Lambda, parent); ok {
				best.feature, best.bin, best.missingLeft = f, b.nValue-1, false
			}
		}
		if best.feature >= 0 && !hasMiss {
			best.missingLeft = best.left.n > best.right.n
		}
		return best
	}

	lambda := gr.o.Lambda + gr.o.CatL2
	parent := gainTerm(tot.g, tot.h, lambda)
	used := gr.catOrder[k][:0]
	for c := 0; c < b.nValue; c++ {
		if hs[c].n > 0 {
			used = append(used, c)
		}
	}
	// bestSet remembers the winning left set as (order, direction, size).
	var bestOrder []int
	bestDesc, bestSize := false, 0
	tryBoth := func(acc stats) (bool, bool) {
		found, ml := false, false
		if ok, _ := gr.try(&best, tot, acc, lambda, parent); ok {
			found, ml = true, false
		}
		if hasMiss {
			withMiss := acc
			withMiss.add(miss)
			if ok, _ := gr.try(&best, tot, withMiss, lambda, parent); ok {
				found, ml = true, true
			}
		}
		return found, ml
	}
	if len(used) <= gr.o.MaxCatOneHot {
		for i, c := range used {
			var acc stats
			acc.add(hs[c])
			if ok, ml := tryBoth(acc); ok {
				best.feature, best.missingLeft = f, ml
				bestOrder, bestDesc, bestSize = used[i:i+1], false, 1
			}
		}
	} else {
		cand := used[:0]
		for _, c := range used {
			if hs[c].n >= gr.o.MinDataPerGroup {
				cand = append(cand, c)
			}
		}
		smooth := gr.o.CatSmooth
		slices.SortStableFunc(cand, func(a, c int) int {
			ra := hs[a].g / (hs[a].h + smooth)
			rc := hs[c].g / (hs[c].h + smooth)
			switch {
			case ra < rc:
				return -1
			case ra > rc:
				return 1
			}
			return 0
		})
		maxK := min(gr.o.MaxCatThreshold, (len(cand)+1)/2)
		for _, desc := range []bool{false, true} {
			var acc stats
			for i := 0; i < maxK; i++ {
				c := cand[i]
				if desc {
					c = cand[len(cand)-1-i]
				}
				acc.add(hs[c])
				if ok, ml := tryBoth(acc); ok {
					best.feature, best.missingLeft = f, ml
					bestOrder, bestDesc, bestSize = cand, desc, i+1
				}
			}
		}
	}
	if best.feature < 0 {
		return best
	}
	if !hasMiss {
		best.missingLeft = best.left.n > best.right.n
	}
	best.catBins = make([]uint64, (b.slots()+63)/64)
	for i := 0; i < bestSize; i++ {
		c := bestOrder[i]
		if bestDesc {
			c = bestOrder[len(bestOrder)-1-i]
		}
		setBit(best.catBins, c)
	}
	return best
}
