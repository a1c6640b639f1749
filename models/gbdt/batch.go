package gbdt

import (
	"fmt"
	"math"
	"math/bits"
)

// Evaluator is a model laid out for scoring many rows at once, as serving
// scores the few dozen candidate actions of one account: nodes are 16 bytes
// (four to a cache line instead of two), a leaf is recognised by its child
// index (its own), and rows that share most of their values walk each tree
// together (see Margins). Margins equals PredictMargin bit for bit (leaf
// outputs are summed as integers, see Model, so the order in which a row's
// trees are added does not matter). It is read-only and safe for concurrent
// use.
type Evaluator struct {
	nfeat int
	base  float64
	unit  float64
	nodes []enode
	leaf  []int64 // fixed-point output of each leaf, by node index
	roots []int32
	cat   []uint64
}

// enode is one node of the Evaluator's layout. A numeric split sends a value
// left when v <= the threshold whose bits are in v (NaN by its default
// direction); a categorical one when v is a level in its bitset: v holds the
// bitset itself when the column has at most 64 levels, else the offset of
// its words in Evaluator.cat (low 32 bits) and their count (high 32, with
// wideBit set). A leaf has itself as left child (its output is in
// Evaluator.leaf).
type enode struct {
	v    uint64
	kid  int32 // left child; right is kid+1
	feat int32 // column | flag bits
}

const (
	featMask = 1<<28 - 1
	dleftBit = 1 << 28
	catBit   = 1 << 29
	wideBit  = 1 << 30 // categorical with more than one bitset word
)

// Evaluator compiles the model's trees for batch scoring (Margins). It costs
// about one pass over the nodes; build it once per loaded model.
func (m *Model) Evaluator() *Evaluator {
	fl := &m.flat
	e := &Evaluator{nfeat: len(m.features), base: m.base, unit: fl.unit, roots: fl.roots, cat: fl.cat,
		nodes: make([]enode, len(fl.nodes)), leaf: make([]int64, len(fl.nodes))}
	for i := range fl.nodes {
		n := &fl.nodes[i]
		if n.feat < 0 {
			e.nodes[i] = enode{kid: int32(i)}
			e.leaf[i] = int64(n.v)
			continue
		}
		en := enode{kid: n.kid, feat: n.feat}
		if n.dleft {
			en.feat |= dleftBit
		}
		switch {
		case n.cat >= 0 && n.ncat == 1:
			en.feat |= catBit
			en.v = fl.cat[n.cat]
		case n.cat >= 0:
			en.feat |= catBit | wideBit
			en.v = uint64(uint32(n.cat)) | uint64(uint32(n.ncat))<<32
		default:
			en.v = n.v
		}
		e.nodes[i] = en
	}
	return e
}

// Margins writes into out the log-odds of len(out) rows held back to back in
// rows (one value per feature each, NaN for missing): the same numbers as
// PredictMargin row by row.
//
// Consecutive rows that differ in the same few columns (an account's
// candidates: one send slot with every message) are scored as one block:
// each tree is walked once for the whole block, splits on columns the block
// agrees on are decided once, and only splits on the differing columns send
// the block's rows their separate ways.
func (e *Evaluator) Margins(rows, out []float64) error {
	nf := e.nfeat
	if len(rows) != nf*len(out) {
		return fmt.Errorf("gbdt margins: %d values for %d rows of %d features", len(rows), len(out), nf)
	}
	var vb [4]uint64
	varying := vb[:]
	if w := (nf + 63) / 64; w > len(vb) {
		varying = make([]uint64, w)
	} else {
		varying = vb[:w]
	}
	for lo := 0; lo < len(out); {
		hi := e.block(rows, lo, len(out), varying)
		if hi-lo == 1 {
			out[lo] = e.margin(rows[lo*nf : (lo+1)*nf : (lo+1)*nf])
		} else {
			e.blockMargins(rows[lo*nf:hi*nf], out[lo:hi], varying)
		}
		lo = hi
	}
	return nil
}

// block returns the end of the block of rows starting at lo (at most 64
// rows, before hi) and sets varying to the columns in which its rows differ
// from the first: the first two rows set the columns, and the block goes on
// while the next row differs from the first in no other column.
func (e *Evaluator) block(rows []float64, lo, hi int, varying []uint64) int {
	nf := e.nfeat
	clear(varying)
	first := rows[lo*nf : (lo+1)*nf]
	end := lo + 1
	for ; end < hi && end-lo < 64; end++ {
		row := rows[end*nf : (end+1)*nf]
		grows := false
		for j, v := range row {
			if math.Float64bits(v) == math.Float64bits(first[j]) || varying[j>>6]&(1<<(j&63)) != 0 {
				continue
			}
			if end > lo+1 {
				grows = true
				break
			}
			varying[j>>6] |= 1 << (j & 63)
		}
		if grows {
			break
		}
	}
	return end
}

// margin walks every tree for one row.
func (e *Evaluator) margin(row []float64) float64 {
	var acc int64
	for _, i := range e.roots {
		for {
			nd := &e.nodes[i]
			if nd.kid == i {
				break
			}
			if v := row[nd.feat&featMask]; nd.feat&wideBit != 0 {
				i = e.wideNext(nd, v)
			} else if nd.left(v) {
				i = nd.kid
			} else {
				i = nd.kid + 1
			}
		}
		acc += e.leaf[i]
	}
	return e.base + float64(acc)*e.unit
}

// left reports whether v goes to the left child of split nd, a numeric or
// a one-word categorical split (flat.left's routing); small enough to be
// inlined in the walks.
func (nd *enode) left(v float64) bool {
	l := v >= 0 && v < 64 && nd.v>>(uint(v)&63)&1 != 0
	if nd.feat&catBit == 0 {
		l = v <= math.Float64frombits(nd.v)
	}
	if v != v {
		l = nd.feat&dleftBit != 0
	}
	return l
}

// blockMargins scores a block of up to 64 rows that agree on every column
// outside varying: each tree is walked once, carrying the set of rows that
// reach each node.
func (e *Evaluator) blockMargins(block, out []float64, varying []uint64) {
	nf := e.nfeat
	type frame struct {
		i    int32
		rows uint64
	}
	var acc [64]int64
	var sb [32]frame
	all := uint64(1)<<len(out) - 1
	if len(out) == 64 {
		all = ^uint64(0)
	}
	for _, r := range e.roots {
		stack := append(sb[:0], frame{r, all})
		for len(stack) > 0 {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			i, set := f.i, f.rows
			for {
				nd := &e.nodes[i]
				if nd.kid == i {
					v := e.leaf[i]
					for m := set; m != 0; m &= m - 1 {
						acc[bits.TrailingZeros64(m)] += v
					}
					break
				}
				col := int(nd.feat & featMask)
				wide := nd.feat&wideBit != 0
				if varying[col>>6]&(1<<(col&63)) == 0 {
					// The block agrees on col: its first row routes them all.
					if v := block[col]; wide {
						i = e.wideNext(nd, v)
					} else if nd.left(v) {
						i = nd.kid
					} else {
						i = nd.kid + 1
					}
					continue
				}
				var left uint64
				for m := set; m != 0; m &= m - 1 {
					k := bits.TrailingZeros64(m)
					v := block[k*nf+col]
					if wide && e.wideNext(nd, v) == nd.kid || !wide && nd.left(v) {
						left |= 1 << k
					}
				}
				switch right := set &^ left; {
				case right == 0:
					i = nd.kid
				case left == 0:
					i = nd.kid + 1
				default:
					stack = append(stack, frame{nd.kid + 1, right})
					i, set = nd.kid, left
				}
			}
		}
	}
	for k := range out {
		out[k] = e.base + float64(acc[k])*e.unit
	}
}

// wideNext routes v through a categorical split of more than 64 levels
// exactly as flat.left does.
func (e *Evaluator) wideNext(nd *enode, v float64) int32 {
	off, words := int(uint32(nd.v)), int(nd.v>>32)
	switch {
	case v != v:
		if nd.feat&dleftBit != 0 {
			return nd.kid
		}
		return nd.kid + 1
	case !(v >= 0 && v < float64(64*words)):
		return nd.kid + 1
	}
	c := int(v)
	if e.cat[off+c>>6]&(1<<(uint(c)&63)) != 0 {
		return nd.kid
	}
	return nd.kid + 1
}
