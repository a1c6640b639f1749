package gbdt

import (
	"fmt"
	"math"
	"slices"

	"github.com/engagehq/engage/models"
)

// fnode is one node of the flat layout that prediction walks: every tree's
// nodes renumbered so that a split's children are adjacent (left at kid,
// right at kid+1), with numeric thresholds and fixed-point leaf outputs in
// one word.
type fnode struct {
	// v is the threshold's bits for a numeric split (rows with value <=
	// threshold go left) and the output in units of 2^-scale (an int64) for a
	// leaf.
	v uint64
	// feat is the split column, -1 for a leaf. In a Bound's residual trees it
	// indexes the action values instead.
	feat int32
	// kid is the left child's index; the right child is kid+1.
	kid int32
	// cat is the offset of a categorical split's level bitset in the
	// model's cat words, -1 for a numeric split.
	cat int32
	// ncat is the number of bitset words of a categorical split, and the
	// index of the threshold in flat.thr[feat] for a numeric split.
	ncat int32
	// dleft routes missing values (NaN) left.
	dleft bool
}

// flat is the prediction layout of a model. Leaf outputs are integers in
// units of 2^-scale, so a margin is an exact integer sum: it does not depend
// on the order trees are added in, which lets Bind fold the trees that do not
// depend on the action into one constant and still match PredictMargin to the
// last bit.
type flat struct {
	nodes []fnode
	roots []int32
	cat   []uint64
	// unit is 2^-scale: margin = base + float64(sum of leaves) * unit.
	unit float64
	// thr[j] are the sorted distinct thresholds of numeric feature j's
	// splits: a value's routing through every split on j depends only on
	// how many of them lie below it (its cell, see Bound).
	thr [][]float64
}

// maxScale caps the fixed-point resolution at 2^-60 (far below float64
// rounding of any margin a boosted model produces).
const maxScale = 60

// compile builds the flat layout of m's trees.
func compile(trees []tree, nfeat int) flat {
	// Choose the scale so that the sum of every tree's largest |leaf| is
	// below 2^61: no sum of leaves can overflow an int64.
	var total float64
	nn, nc := 0, 0
	for _, t := range trees {
		mx := 0.0
		for _, n := range t.Nodes {
			if n.Feature < 0 {
				mx = max(mx, math.Abs(n.Value))
			}
			nc += len(n.Cat)
		}
		total += mx
		nn += len(t.Nodes)
	}
	scale := maxScale
	if total > 0 {
		_, e := math.Frexp(total) // total < 2^e
		scale = min(maxScale, 61-e)
	}
	fl := flat{nodes: make([]fnode, 0, nn), roots: make([]int32, 0, len(trees)), cat: make([]uint64, 0, nc), unit: math.Ldexp(1, -scale)}
	quant := func(v float64) uint64 { return uint64(int64(math.Round(math.Ldexp(v, scale)))) }
	// queue holds (old node index, new slot) pairs of the tree in hand.
	type item struct{ old, slot int }
	var queue []item
	for _, t := range trees {
		root := len(fl.nodes)
		fl.roots = append(fl.roots, int32(root))
		fl.nodes = append(fl.nodes, fnode{})
		queue = append(queue[:0], item{0, root})
		for len(queue) > 0 {
			it := queue[0]
			queue = queue[1:]
			n := &t.Nodes[it.old]
			if n.Feature < 0 {
				fl.nodes[it.slot] = fnode{v: quant(n.Value), feat: -1, cat: -1}
				continue
			}
			kid := len(fl.nodes)
			fl.nodes = append(fl.nodes, fnode{}, fnode{})
			fn := fnode{feat: int32(n.Feature), kid: int32(kid), cat: -1, dleft: n.DefaultLeft}
			if n.Cat != nil {
				fn.cat, fn.ncat = int32(len(fl.cat)), int32(len(n.Cat))
				fl.cat = append(fl.cat, n.Cat...)
			} else {
				fn.v = math.Float64bits(n.Threshold)
			}
			fl.nodes[it.slot] = fn
			queue = append(queue, item{n.Left, kid}, item{n.Right, kid + 1})
		}
	}
	fl.thr = make([][]float64, nfeat)
	for _, n := range fl.nodes {
		if n.feat >= 0 && n.cat < 0 && int(n.feat) < nfeat {
			fl.thr[n.feat] = append(fl.thr[n.feat], math.Float64frombits(n.v))
		}
	}
	for j, t := range fl.thr {
		slices.Sort(t)
		fl.thr[j] = slices.Compact(t)
	}
	for i := range fl.nodes {
		if n := &fl.nodes[i]; n.feat >= 0 && n.cat < 0 && int(n.feat) < nfeat {
			t, _ := slices.BinarySearch(fl.thr[n.feat], math.Float64frombits(n.v))
			n.ncat = int32(t)
		}
	}
	return fl
}

// left reports whether value v goes to n's left child. It is the one
// definition of routing for full rows, bound rows and residual trees.
func (fl *flat) left(n *fnode, v float64) bool {
	if n.cat < 0 {
		return v <= math.Float64frombits(n.v) || (v != v && n.dleft)
	}
	if v != v {
		return n.dleft
	}
	if !(v >= 0 && v < float64(64*n.ncat)) {
		return false
	}
	c := int(v)
	return fl.cat[int(n.cat)+c>>6]&(1<<(uint(c)&63)) != 0
}

// leafOf walks from node i with the values of row (indexed by feat) and
// returns the leaf's fixed-point output.
func (fl *flat) leafOf(nodes []fnode, i int32, row []float64) int64 {
	for {
		n := &nodes[i]
		if n.feat < 0 {
			return int64(n.v)
		}
		i = fl.next(n, row[n.feat])
	}
}

// next is the child of split n that value v goes to (left above), written
// as conditional moves for the numeric case: tree walks mispredict branches.
func (fl *flat) next(n *fnode, v float64) int32 {
	if n.cat >= 0 {
		if fl.left(n, v) {
			return n.kid
		}
		return n.kid + 1
	}
	next := n.kid + 1
	if v <= math.Float64frombits(n.v) {
		next = n.kid
	}
	if v != v && n.dleft {
		next = n.kid
	}
	return next
}

// sum is the fixed-point sum of every tree's leaf for row.
func (fl *flat) sum(row []float64) int64 {
	var acc int64
	for _, r := range fl.roots {
		acc += fl.leafOf(fl.nodes, r, row)
	}
	return acc
}

// Bound is a model partially evaluated on the context of one row: the
// columns that are not free (the account's features) are fixed, and only the
// parts of trees that split on free columns (the action: channel, send hour,
// message, action-dependent numbers) remain. Scoring a candidate action then
// touches only these small residual trees instead of the whole ensemble.
//
// Residual trees are grouped by the set of free columns they read, and each
// group's output is remembered per combination of value cells (a cell is a
// categorical level, or the interval between two consecutive thresholds of a
// numeric column), so that across the candidates of one account every
// combination is walked once. Margins from a Bound equal PredictMargin on the
// full row bit for bit: leaf outputs are summed as integers (see Model), so
// grouping cannot change the result.
//
// A Bound is not safe for concurrent use (scoring fills its memo); use one
// per goroutine, and Reset it for the next account.
type Bound struct {
	m    *Model
	free []int
	// slot[j] is the position of feature j in free, or -1 when fixed.
	slot []int32
	// acc is the fixed-point sum of the trees the free columns do not reach.
	acc   int64
	nodes []fnode
	// roots are the residual trees' roots, ordered by group.
	roots []int32
	ends  []int32 // ends[i]: end of tree i's nodes (roots before grouping)
	masks []uint64

	// Per free column: its cells (see cell).
	cats   []int // levels of a categorical free column, -1 for numeric
	groups []group
	cell   []int32
	lastV  []float64 // the value cell[k] was computed for (NaN: none)
	memo   []int64
	stamp  []uint32
	gen    uint32
	order  []int32 // scratch for grouping
	diff   []int64 // scratch for fillRow
	kinds  []maskCount
	tmp    []float64
	direct bool // too many free columns to group: walk every tree
}

type maskCount struct {
	mask   uint64
	n, pos int
}

// group is the residual trees that read the same free columns.
type group struct {
	lo, hi int    // roots[lo:hi]
	mask   uint64 // free columns read
	// memo is the offset of the group's table in Bound.memo, -1 when the
	// table would be too large (the trees are then walked per candidate).
	memo int
	cols []gcol
	// row is the free column whose whole row of cells is filled at once
	// (a numeric column, stride 1 in the table), -1 for none.
	row int
}

type gcol struct {
	slot, stride int32
}

// maxMemo caps one group's table of remembered outputs.
const maxMemo = 1 << 14

// Bind fixes every column of row except those listed in free (feature
// indices, in the order Margin takes their values) and returns the partially
// evaluated model. The values of row at free positions are ignored.
//
// Typical use, ranking the candidate actions of one account:
//
//	b, err := m.Bind(row, []int{channelCol, hourCol, messageCol, affinityCol})
//	// per candidate (or all at once with b.Margins):
//	f, err := b.Margin([]float64{channel, hour, message, affinity})
//	// next account, same free columns, no allocation:
//	err = b.Reset(nextRow)
//
// Bind costs about one full prediction; a candidate then costs a few table
// look-ups once its value combinations have been seen.
func (m *Model) Bind(row []float64, free []int) (*Bound, error) {
	b := &Bound{m: m, slot: make([]int32, len(m.features)), cats: make([]int, len(free)), cell: make([]int32, len(free)), lastV: make([]float64, len(free))}
	for j := range b.slot {
		b.slot[j] = -1
	}
	for k, j := range free {
		if j < 0 || j >= len(m.features) {
			return nil, fmt.Errorf("gbdt bind: free column %d outside 0..%d", j, len(m.features)-1)
		}
		if b.slot[j] >= 0 {
			return nil, fmt.Errorf("gbdt bind: free column %d (%s) listed twice", j, m.features[j].Name)
		}
		b.slot[j] = int32(k)
		b.cats[k] = -1
		if m.features[j].Kind == models.Categorical {
			b.cats[k] = len(m.features[j].Levels)
		}
	}
	b.free = append([]int(nil), free...)
	b.direct = len(free) > 64
	if err := b.Reset(row); err != nil {
		return nil, err
	}
	return b, nil
}

// Reset binds b to the context of another row, with the same free columns,
// reusing b's memory.
func (b *Bound) Reset(row []float64) error {
	m := b.m
	if len(row) != len(m.features) {
		return fmt.Errorf("gbdt bind: row has %d values, model expects %d features", len(row), len(m.features))
	}
	fl := &m.flat
	b.acc = 0
	b.nodes = b.nodes[:0]
	b.roots = b.roots[:0]
	b.ends = b.ends[:0]
	for _, r := range fl.roots {
		i := b.fixed(r, row)
		n := &fl.nodes[i]
		if n.feat < 0 {
			b.acc += int64(n.v)
			continue
		}
		root := int32(len(b.nodes))
		b.nodes = append(b.nodes, fnode{})
		b.fill(root, i, row)
		if b.nodes[root].feat < 0 {
			// Every branch of the free split ended in the same leaf.
			b.acc += int64(b.nodes[root].v)
			b.nodes = b.nodes[:root]
			continue
		}
		b.roots = append(b.roots, root)
		b.ends = append(b.ends, int32(len(b.nodes)))
	}
	if !b.direct {
		b.group()
	}
	return nil
}

// group sorts the residual trees into groups by the free columns they read
// and lays out each group's memo table.
func (b *Bound) group() {
	b.masks = b.masks[:0]
	b.order = b.order[:0]
	for i, r := range b.roots {
		var mask uint64
		for _, n := range b.nodes[r:b.ends[i]] {
			if n.feat >= 0 {
				mask |= 1 << uint(n.feat)
			}
		}
		b.masks = append(b.masks, mask)
		b.order = append(b.order, int32(i))
	}
	// Bucket the trees by mask (few distinct masks: a linear scan).
	b.kinds = b.kinds[:0]
	for _, mk := range b.masks {
		k := 0
		for k < len(b.kinds) && b.kinds[k].mask != mk {
			k++
		}
		if k == len(b.kinds) {
			b.kinds = append(b.kinds, maskCount{mask: mk})
		}
		b.kinds[k].n++
	}
	pos := 0
	for k := range b.kinds {
		b.kinds[k].pos, pos = pos, pos+b.kinds[k].n
	}
	for i, mk := range b.masks {
		k := 0
		for b.kinds[k].mask != mk {
			k++
		}
		b.order[b.kinds[k].pos] = int32(i)
		b.kinds[k].pos++
	}
	// Reorder roots by group (ends are not needed past this point).
	for k, i := range b.order {
		b.ends[k] = b.roots[i]
	}
	b.roots, b.ends = b.ends, b.roots
	ng := 0
	size := 0
	for lo := 0; lo < len(b.order); {
		mask := b.masks[b.order[lo]]
		hi := lo + 1
		for hi < len(b.order) && b.masks[b.order[hi]] == mask {
			hi++
		}
		if ng == len(b.groups) {
			b.groups = append(b.groups, group{})
		}
		g := &b.groups[ng]
		ng++
		g.lo, g.hi, g.mask, g.memo, g.row = lo, hi, mask, -1, -1
		g.cols = g.cols[:0]
		// The numeric column with the most cells is the row dimension:
		// a row is filled in one pass over the trees' leaves.
		for k := range b.free {
			if mask&(1<<uint(k)) != 0 && b.cats[k] < 0 && (g.row < 0 || b.cells(k) > b.cells(g.row)) {
				g.row = k
			}
		}
		cells := 1
		if g.row >= 0 {
			cells = b.cells(g.row)
		}
		for k := range b.free {
			if mask&(1<<uint(k)) == 0 || k == g.row {
				continue
			}
			g.cols = append(g.cols, gcol{slot: int32(k), stride: int32(cells)})
			cells *= b.cells(k)
			if cells > maxMemo {
				break
			}
		}
		if cells <= maxMemo {
			g.memo = size
			size += cells
		}
		lo = hi
	}
	b.groups = b.groups[:ng]
	if size > len(b.memo) {
		b.memo = make([]int64, size)
		b.stamp = make([]uint32, size)
		b.gen = 0
	}
	for k := range b.lastV {
		b.lastV[k] = math.NaN()
	}
	if b.gen++; b.gen == 0 {
		clear(b.stamp)
		b.gen = 1
	}
}

// cells is the number of value cells of free column k: its levels plus
// missing for a categorical column, the intervals between its thresholds
// plus missing for a numeric one.
func (b *Bound) cells(k int) int {
	if c := b.cats[k]; c >= 0 {
		return c + 1
	}
	return len(b.m.flat.thr[b.free[k]]) + 2
}

// cellOf returns the cell of value v of free column k; ok is false for a
// value no cell stands for (a categorical code that is not one of the
// feature's levels), which is then scored by walking the trees.
func (b *Bound) cellOf(k int, v float64) (c int32, ok bool) {
	if levels := b.cats[k]; levels >= 0 {
		switch {
		case v != v:
			return int32(levels), true
		case v >= 0 && v < float64(levels) && v == math.Trunc(v):
			return int32(v), true
		}
		return 0, false
	}
	thr := b.m.flat.thr[b.free[k]]
	if v != v {
		return int32(len(thr) + 1), true
	}
	// Number of thresholds below v: v <= thr[i] exactly for i >= lo.
	lo, hi := 0, len(thr)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if thr[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return int32(lo), true
}

// fixed follows node i down through splits on fixed columns and returns the
// first leaf or split on a free column.
func (b *Bound) fixed(i int32, row []float64) int32 {
	fl := &b.m.flat
	for {
		n := &fl.nodes[i]
		if n.feat < 0 || b.slot[n.feat] >= 0 {
			return i
		}
		i = fl.next(n, row[n.feat])
	}
}

// fill writes into b.nodes[at] the residual of the model's subtree at i
// (a leaf or a split on a free column), collapsing splits whose two sides
// end in the same leaf value.
func (b *Bound) fill(at, i int32, row []float64) {
	fl := &b.m.flat
	n := &fl.nodes[i]
	if n.feat < 0 {
		b.nodes[at] = fnode{v: n.v, feat: -1, cat: -1}
		return
	}
	kid := int32(len(b.nodes))
	b.nodes = append(b.nodes, fnode{}, fnode{})
	b.fill(kid, b.fixed(n.kid, row), row)
	b.fill(kid+1, b.fixed(n.kid+1, row), row)
	l, r := &b.nodes[kid], &b.nodes[kid+1]
	if l.feat < 0 && r.feat < 0 && l.v == r.v && int(kid)+2 == len(b.nodes) {
		b.nodes[at] = *l
		b.nodes = b.nodes[:kid]
		return
	}
	b.nodes[at] = fnode{v: n.v, feat: b.slot[n.feat], kid: kid, cat: n.cat, ncat: n.ncat, dleft: n.dleft}
}

// Free returns the free columns in the order Margin takes their values.
func (b *Bound) Free() []int { return append([]int(nil), b.free...) }

// Residual returns how many trees still depend on the free columns and
// their total node count: the work left per candidate.
func (b *Bound) Residual() (trees, nodes int) { return len(b.roots), len(b.nodes) }

// Margin returns the log-odds of the bound row with the free columns set to
// action (one value per free column, in Bind's order; NaN means missing).
func (b *Bound) Margin(action []float64) (float64, error) {
	if len(action) != len(b.free) {
		return math.NaN(), fmt.Errorf("gbdt bound: %d action values for %d free columns", len(action), len(b.free))
	}
	return b.margin(action), nil
}

func (b *Bound) margin(action []float64) float64 {
	fl := &b.m.flat
	acc := b.acc
	if !b.direct {
		for k, v := range action {
			// Candidates of one account repeat values (the same hour for
			// every message, ...): remember the last value's cell.
			if v == b.lastV[k] {
				continue
			}
			c, ok := b.cellOf(k, v)
			if !ok {
				b.lastV[k] = math.NaN()
				return b.walkAll(action)
			}
			b.cell[k], b.lastV[k] = c, v
		}
		for gi := range b.groups {
			g := &b.groups[gi]
			if g.memo < 0 {
				for _, r := range b.roots[g.lo:g.hi] {
					acc += fl.leafOf(b.nodes, r, action)
				}
				continue
			}
			idx := g.memo
			for _, c := range g.cols {
				idx += int(b.cell[c.slot]) * int(c.stride)
			}
			if g.row >= 0 {
				if b.stamp[idx] != b.gen {
					b.fillRow(g, idx, action)
				}
				acc += b.memo[idx+int(b.cell[g.row])]
				continue
			}
			if b.stamp[idx] != b.gen {
				var s int64
				for _, r := range b.roots[g.lo:g.hi] {
					s += fl.leafOf(b.nodes, r, action)
				}
				b.memo[idx], b.stamp[idx] = s, b.gen
			}
			acc += b.memo[idx]
		}
		return b.m.base + float64(acc)*fl.unit
	}
	return b.walkAll(action)
}

// fillRow fills the table row at base of group g: the group's output for
// every cell of its row column, with its other columns at action's values.
// Each tree is walked once with the row column left open as an interval of
// cells; a leaf adds its output to its interval through a difference array.
func (b *Bound) fillRow(g *group, base int, action []float64) {
	fl := &b.m.flat
	nc := b.cells(g.row) // interval cells 0..nc-2, then missing
	diff := b.diff[:0]
	for range nc {
		diff = append(diff, 0)
	}
	var miss int64
	nan := append(b.tmp[:0], action...)
	nan[g.row] = math.NaN()
	for _, r := range b.roots[g.lo:g.hi] {
		b.spread(diff, r, 0, nc-1, int32(g.row), action)
		miss += fl.leafOf(b.nodes, r, nan)
	}
	b.tmp = nan
	var run int64
	row := b.memo[base : base+nc]
	for c := range nc - 1 {
		run += diff[c]
		row[c] = run
	}
	row[nc-1] = miss
	b.diff = diff
	b.stamp[base] = b.gen
}

// spread walks residual node i for the cells [lo, hi) of column k (other
// columns at action's values) and adds each leaf's output to its cells.
func (b *Bound) spread(diff []int64, i int32, lo, hi int, k int32, action []float64) {
	fl := &b.m.flat
	for {
		n := &b.nodes[i]
		if n.feat < 0 {
			diff[lo] += int64(n.v)
			diff[hi] -= int64(n.v)
			return
		}
		if n.feat != k {
			if fl.left(n, action[n.feat]) {
				i = n.kid
			} else {
				i = n.kid + 1
			}
			continue
		}
		// Cells c <= t (t: the threshold's index) hold values <= threshold.
		t := int(n.ncat) + 1
		if t > lo && t < hi {
			b.spread(diff, n.kid, lo, t, k, action)
			lo, i = t, n.kid+1
			continue
		}
		if t >= hi {
			i = n.kid
		} else {
			i = n.kid + 1
		}
	}
}

// walkAll is the margin by walking every residual tree.
func (b *Bound) walkAll(action []float64) float64 {
	fl := &b.m.flat
	acc := b.acc
	for _, r := range b.roots {
		acc += fl.leafOf(b.nodes, r, action)
	}
	return b.m.base + float64(acc)*fl.unit
}

// Proba returns the positive-class probability for one action (see Margin).
func (b *Bound) Proba(action []float64) (float64, error) {
	f, err := b.Margin(action)
	if err != nil {
		return math.NaN(), err
	}
	return sigmoid(f), nil
}

// Margins scores many actions at once: actions holds len(out) rows of
// len(Free()) values each, back to back, and out receives their margins.
func (b *Bound) Margins(actions, out []float64) error {
	k := len(b.free)
	if len(actions) != k*len(out) {
		return fmt.Errorf("gbdt bound: %d action values for %d rows of %d free columns", len(actions), len(out), k)
	}
	for i := range out {
		out[i] = b.margin(actions[i*k : (i+1)*k : (i+1)*k])
	}
	return nil
}
