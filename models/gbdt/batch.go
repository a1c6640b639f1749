package gbdt

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
)

// Evaluator is a model laid out for scoring many rows at once, as serving
// scores the few dozen candidate actions of one account: nodes are 16 bytes
// (four to a cache line instead of two), a leaf is recognised by its child
// index (its own), and up to 64 rows walk each tree together, a split on a
// column they take a few values in routing each value once (see Margins).
// Margins equals PredictMargin bit for bit (leaf
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
	pool  sync.Pool // *chunkScratch
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
// The rows are scored in chunks of up to 64 (an account's candidates: one
// shared context, a few action columns that take a few values each): each
// tree is walked once for the whole chunk, carrying the set of rows that
// reach a node. A split on a column the chunk agrees on is decided once; a
// split on a column with a few distinct values routes each distinct value
// once (rows with the same bits route the same way) and sends the rows
// holding it along; only a column with many distinct values is routed row
// by row. Columns are examined the first time a split asks about them, so a
// wide model pays only for the columns its reached splits read.
func (e *Evaluator) Margins(rows, out []float64) error {
	return e.margins(rows, out, nil)
}

// MarginsVarying is Margins for rows that differ only in the columns listed
// in varying (an account's candidate actions: the action columns vary, the
// context is the account's): every other column is read from the first row,
// and the other rows' values there are ignored (they need not be filled
// in). The margins are Margins' on rows whose other
// columns all hold the first row's values, bit for bit; the walk skips
// finding out that those columns agree.
func (e *Evaluator) MarginsVarying(rows, out []float64, varying []int) error {
	for _, c := range varying {
		if c < 0 || c >= e.nfeat {
			return fmt.Errorf("gbdt margins: varying column %d outside 0..%d", c, e.nfeat-1)
		}
	}
	if varying == nil {
		varying = []int{}
	}
	return e.margins(rows, out, varying)
}

// margins is Margins, or MarginsVarying when varying is not nil.
func (e *Evaluator) margins(rows, out []float64, varying []int) error {
	nf := e.nfeat
	if len(rows) != nf*len(out) {
		return fmt.Errorf("gbdt margins: %d values for %d rows of %d features", len(rows), len(out), nf)
	}
	if len(out) == 0 {
		return nil
	}
	var cs *chunkScratch
	for lo := 0; lo < len(out); lo += 64 {
		hi := min(lo+64, len(out))
		if hi-lo == 1 && varying == nil {
			out[lo] = e.margin(rows[lo*nf : (lo+1)*nf : (lo+1)*nf])
			continue
		}
		if cs == nil {
			cs = e.scratch()
		}
		e.chunkMargins(rows[lo*nf:hi*nf], out[lo:hi], cs, rows[:nf], varying)
	}
	if cs != nil {
		e.pool.Put(cs)
	}
	return nil
}

// chunkScratch is Margins' working memory for one chunk: what it learned of
// each column (col), and for a column with a few distinct values its table:
// the values in increasing order, each with the rows holding it.
type chunkScratch struct {
	col   []int32 // colUnseen, colSame, colEach, or 1 + index into tabs
	tabs  []colTable
	ents  []tableEntry
	stack []frame
}

// colTable is a column's distinct values: ents[off:off+n], sorted by value
// (NaN apart, in nan).
type colTable struct {
	off, n int32
	nan    uint64 // rows whose value is NaN
}

// tableEntry is one distinct (non-NaN) value of a column: the rows holding
// it (rows), those holding it or a smaller value of the table (upto), and,
// for a categorical split, the level bit the value tests (code, noCode when
// it is outside [0, 64), where a one-word split sends it right).
type tableEntry struct {
	v          float64
	rows, upto uint64
	code       uint8
}

const noCode = 255

// Column states of chunkScratch.col.
const (
	colUnseen = 0  // not examined yet
	colSame   = -1 // every row of the chunk holds the first row's value
	colEach   = -2 // too many distinct values: route row by row
	colCtx    = -3 // outside MarginsVarying's columns: the context row's value
)

// maxDistinct is how many distinct values of a column are routed value by
// value; beyond it the column is routed row by row.
const maxDistinct = 16

// frame is a pending subtree of a chunk's walk: node i and the rows that
// reach it.
type frame struct {
	i    int32
	rows uint64
}

func (e *Evaluator) scratch() *chunkScratch {
	if v := e.pool.Get(); v != nil {
		return v.(*chunkScratch)
	}
	return &chunkScratch{col: make([]int32, e.nfeat), stack: make([]frame, 0, 32)}
}

// examine classifies column col of the chunk (n rows of nf values) and, when
// it takes between 2 and maxDistinct values (by bits), makes its table.
func (cs *chunkScratch) examine(chunk []float64, n, nf, col int) int32 {
	first := math.Float64bits(chunk[col])
	k := 1
	for k < n && math.Float64bits(chunk[k*nf+col]) == first {
		k++
	}
	if k == n {
		return colSame
	}
	off := len(cs.ents)
	var nan uint64
	var last uint64
	lastJ := -1 // rows often repeat the previous row's value: its entry
	for k := range n {
		v := chunk[k*nf+col]
		if v != v {
			nan |= 1 << k
			continue
		}
		b := math.Float64bits(v)
		if lastJ >= 0 && b == last {
			cs.ents[lastJ].rows |= 1 << k
			continue
		}
		j := off
		for j < len(cs.ents) && math.Float64bits(cs.ents[j].v) != b {
			j++
		}
		if j == len(cs.ents) {
			if j-off == maxDistinct {
				cs.ents = cs.ents[:off]
				return colEach
			}
			code := uint8(noCode)
			if v >= 0 && v < 64 {
				code = uint8(uint(v) & 63)
			}
			cs.ents = append(cs.ents, tableEntry{v: v, code: code})
			// Keep the table sorted by value (equal values, -0 and +0,
			// in any order: a threshold sends both the same way).
			for ; j > off && cs.ents[j-1].v > v; j-- {
				cs.ents[j], cs.ents[j-1] = cs.ents[j-1], cs.ents[j]
			}
		}
		cs.ents[j].rows |= 1 << k
		last, lastJ = b, j
	}
	var upto uint64
	for j := off; j < len(cs.ents); j++ {
		upto |= cs.ents[j].rows
		cs.ents[j].upto = upto
	}
	cs.tabs = append(cs.tabs, colTable{off: int32(off), n: int32(len(cs.ents) - off), nan: nan})
	return int32(len(cs.tabs))
}

// chunkMargins scores a chunk of 1 to 64 rows, walking each tree once for
// all of them. With varying not nil, the columns outside it are read from
// ctx (MarginsVarying).
func (e *Evaluator) chunkMargins(chunk, out []float64, cs *chunkScratch, ctx []float64, varying []int) {
	nf, n := e.nfeat, len(out)
	if varying == nil {
		clear(cs.col)
	} else {
		for c := range cs.col {
			cs.col[c] = colCtx
		}
		for _, c := range varying {
			cs.col[c] = colUnseen
		}
	}
	cs.tabs, cs.ents = cs.tabs[:0], cs.ents[:0]
	// acc[k] sums row k's leaves; common sums the leaves every row reaches
	// (trees whose path does not depend on the rows): integer sums, so the
	// split changes no bit of the margins.
	var acc [64]int64
	var common int64
	all := uint64(1)<<n - 1
	if n == 64 {
		all = ^uint64(0)
	}
	stack := cs.stack[:0]
	for _, r := range e.roots {
		stack = append(stack, frame{r, all})
		for len(stack) > 0 {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			i, set := f.i, f.rows
			for {
				nd := &e.nodes[i]
				if nd.kid == i {
					v := e.leaf[i]
					// The leaf goes to the rows in set, or, when they are
					// the most, to every row and back out of the others
					// (integer sums: the same totals bit for bit).
					m := set
					if rest := all &^ set; bits.OnesCount64(rest) < bits.OnesCount64(set) {
						common += v
						m = rest
						v = -v
					}
					for ; m != 0; m &= m - 1 {
						acc[bits.TrailingZeros64(m)] += v
					}
					break
				}
				col := int(nd.feat & featMask)
				st := cs.col[col]
				if st == colUnseen {
					st = cs.examine(chunk, n, nf, col)
					cs.col[col] = st
				}
				wide := nd.feat&wideBit != 0
				var left uint64
				switch {
				case st == colSame || st == colCtx:
					// The chunk agrees on col: its first row (or the
					// context row) routes them all.
					v := chunk[col]
					if st == colCtx {
						v = ctx[col]
					}
					if wide {
						i = e.wideNext(nd, v)
					} else if nd.left(v) {
						i = nd.kid
					} else {
						i = nd.kid + 1
					}
					continue
				case st == colEach:
					for m := set; m != 0; m &= m - 1 {
						k := bits.TrailingZeros64(m)
						v := chunk[k*nf+col]
						if wide && e.wideNext(nd, v) == nd.kid || !wide && nd.left(v) {
							left |= 1 << k
						}
					}
					left &= set
				default:
					// Route each distinct value once (flat.left's rules):
					// a threshold sends the values up to it left, a
					// one-word level set the values whose level bit it
					// holds; NaN goes its default way.
					tb := &cs.tabs[st-1]
					ents := cs.ents[tb.off : tb.off+tb.n]
					switch {
					case nd.feat&catBit == 0:
						thr := math.Float64frombits(nd.v)
						j := 0
						for j < len(ents) && ents[j].v <= thr {
							j++
						}
						if j > 0 {
							left = ents[j-1].upto
						}
					case !wide:
						for k := range ents {
							if c := ents[k].code; c != noCode && nd.v>>c&1 != 0 {
								left |= ents[k].rows
							}
						}
					default:
						for k := range ents {
							if e.wideNext(nd, ents[k].v) == nd.kid {
								left |= ents[k].rows
							}
						}
					}
					if nd.feat&dleftBit != 0 {
						left |= tb.nan
					}
					left &= set
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
	cs.stack = stack
	for k := range out {
		out[k] = e.base + float64(acc[k]+common)*e.unit
	}
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
