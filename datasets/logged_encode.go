package datasets

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// littleEndian is true on hosts whose memory order is Parquet's (amd64,
// arm64): PLAIN fixed-width values are then copied, not converted.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// maxDictBytes bounds a string dictionary's page, whatever its number of values.
const maxDictBytes = 4 << 20

// colEnc encodes one column of a logged table into Parquet pages, one column
// chunk (row group) at a time. Pages are encoded as they fill, so only the
// compressed chunk and one page of values are held.
//
// A chunk starts dictionary encoded (unless the column's previous chunk
// outgrew its dictionary) and switches to PLAIN at the next page boundary once
// the dictionary stops paying (dictFull); readers handle such mixed chunks
// (parquet-mr and Arrow write them too).
type colEnc struct {
	kind     Kind
	optional bool // time columns: nulls for MissingTime
	ptype    format.Type
	pageRows int
	maxDict  int
	codec    compress.Codec
	proto    thrift.CompactProtocol

	// dictionary of the current chunk
	dictMode   bool
	startPlain bool // the column's last dictionary overflowed: next chunks start PLAIN
	hash       u64Table
	dict64     []uint64
	strIdx     map[string]int32
	dictS      []string
	dictBytes  int // PLAIN size of dictS
	prev64     uint64
	prevS      string
	prevIdx    int32 // -1: no previous value in this chunk

	// the page being filled
	rows     int
	pageDict bool     // the page is dictionary encoded
	runV     []uint32 // dictionary indices of the page's non-null values, as runs
	runN     []uint32 // run lengths
	lit      []uint32 // scratch: literal values of the hybrid encoding
	raw      []uint64 // PLAIN fixed-width non-null values
	rawS     []string // PLAIN strings
	defs     []uint32 // definition levels (optional columns)

	// the encoded chunk
	data      []byte // data pages, headers included
	dictPage  []byte // dictionary page, header included (built by finishChunk)
	meta      format.ColumnMetaData
	nulls     int64
	usedDict  bool
	haveStats bool
	minF      float64 // PLAIN pages' bounds (numeric)
	maxF      float64
	minI      int64 // PLAIN pages' bounds (time)
	maxI      int64
	body      []byte // scratch: uncompressed page
	comp      []byte // scratch: compressed page
	err       error
}

func newColEnc(c Column, o LoggedOptions, cdc compress.Codec) *colEnc {
	e := &colEnc{kind: c.Kind, pageRows: o.PageRows, maxDict: o.MaxDictionary, codec: cdc}
	switch c.Kind {
	case KindNumeric:
		e.ptype = format.Double
	case KindTime:
		e.ptype = format.Int64
		e.optional = true
	default:
		e.ptype = format.ByteArray
		e.strIdx = map[string]int32{}
	}
	e.resetChunk()
	return e
}

// resetChunk starts a new column chunk (after the previous one was written).
func (e *colEnc) resetChunk() {
	e.dictMode = !e.startPlain
	e.pageDict = e.dictMode
	if e.startPlain {
		// PLAIN chunks need no dictionary: shrink the table, drop the map.
		e.hash.n = 0
		if len(e.strIdx) > 0 {
			e.strIdx = map[string]int32{}
		}
	}
	e.hash.reset()
	e.dict64 = e.dict64[:0]
	clear(e.strIdx)
	e.dictBytes = 0
	clear(e.dictS) // drop references to the caller's strings
	e.dictS = e.dictS[:0]
	e.prevIdx = -1
	e.data = e.data[:0]
	e.dictPage = e.dictPage[:0]
	e.meta = format.ColumnMetaData{}
	e.nulls = 0
	e.usedDict, e.haveStats = false, false
}

// add encodes rows [lo, hi) of column i of t.
func (e *colEnc) add(t *Table, i, lo, hi int) {
	if e.kind == KindNumeric {
		e.addFloats(t.Floats[i][lo:hi])
		return
	}
	for lo < hi {
		m := min(hi-lo, e.pageRows-e.rows)
		switch e.kind {
		case KindNumeric:
			e.addFixed(float64Bits(t.Floats[i][lo : lo+m]))
		case KindTime:
			e.addTimes(t.Times[i][lo : lo+m])
		default:
			e.addStrings(t.Strings[i][lo : lo+m])
		}
		e.rows += m
		lo += m
		if e.rows == e.pageRows {
			e.flushPage()
		}
	}
}

// addFloats encodes the next values of a numeric column.
func (e *colEnc) addFloats(vs []float64) {
	for len(vs) > 0 {
		m := min(len(vs), e.pageRows-e.rows)
		e.addFixed(float64Bits(vs[:m]))
		e.rows += m
		vs = vs[m:]
		if e.rows == e.pageRows {
			e.flushPage()
		}
	}
}

func float64Bits(x []float64) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
}

// addFixed appends non-null fixed-width values (float bits or int64).
func (e *colEnc) addFixed(vs []uint64) {
	if !e.pageDict {
		e.raw = append(e.raw, vs...)
		return
	}
	rv, rn := e.runV, e.runN
	k := len(rn) - 1 // the open run, -1 at the start of a page
	var cnt uint32
	if k >= 0 {
		cnt = rn[k]
	}
	prev, p := e.prev64, e.prevIdx
	// Rows of one account often repeat a value: one lookup and one run per
	// repetition. A repetition is skipped over by a tight scan that keeps
	// everything in registers (most values repeat the previous one).
	for i := 0; i < len(vs); {
		v := vs[i]
		if v == prev && k >= 0 {
			j := i + 1
			for j < len(vs) && vs[j] == v {
				j++
			}
			cnt += uint32(j - i)
			i = j
			continue
		}
		if v != prev || p < 0 {
			prev = v
			p = e.hash.find(v, &e.dict64)
		}
		if k >= 0 {
			rn[k] = cnt
		}
		rv = append(rv, uint32(p))
		rn = append(rn, 0)
		k++
		cnt = 1
		i++
	}
	if k >= 0 {
		rn[k] = cnt
	}
	e.runV, e.runN, e.prev64, e.prevIdx = rv, rn, prev, p
}

func (e *colEnc) addTimes(ts []int64) {
	us := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(ts))), len(ts))
	start := 0
	for j, t := range ts {
		if t == MissingTime {
			e.addFixed(us[start:j])
			start = j + 1
			e.nulls++
			e.defs = append(e.defs, 0)
		} else {
			e.defs = append(e.defs, 1)
		}
	}
	e.addFixed(us[start:])
}

func (e *colEnc) addStrings(ss []string) {
	if !e.pageDict {
		e.rawS = append(e.rawS, ss...)
		return
	}
	rv, rn := e.runV, e.runN
	k := len(rn) - 1
	var cnt uint32
	if k >= 0 {
		cnt = rn[k]
	}
	prev, p := e.prevS, e.prevIdx
	for _, s := range ss {
		if k >= 0 && s == prev {
			cnt++
			continue
		}
		if p < 0 || s != prev {
			prev = s
			var ok bool
			if p, ok = e.strIdx[s]; !ok {
				p = int32(len(e.dictS))
				e.strIdx[s] = p
				e.dictS = append(e.dictS, s)
				e.dictBytes += 4 + len(s)
			}
		}
		if k >= 0 {
			rn[k] = cnt
		}
		rv = append(rv, uint32(p))
		rn = append(rn, 0)
		k++
		cnt = 1
	}
	if k >= 0 {
		rn[k] = cnt
	}
	e.runV, e.runN, e.prevS, e.prevIdx = rv, rn, prev, p
}

// dictFull reports whether the chunk's dictionary stops paying, judged at
// the end of a dictionary page.
func (e *colEnc) dictFull() bool {
	return e.dictLen() > e.maxDict || e.dictBytes > maxDictBytes
}

func (e *colEnc) dictLen() int {
	if e.kind == KindCategorical {
		return len(e.dictS)
	}
	return len(e.dict64)
}

// flushPage encodes the page being filled and appends it to the chunk.
func (e *colEnc) flushPage() {
	if e.rows == 0 || e.err != nil {
		e.resetPage()
		return
	}
	b := e.body[:0]
	if e.optional {
		b = append(b, 0, 0, 0, 0)
		b = appendHybrid(b, e.defs, 1)
		binary.LittleEndian.PutUint32(b, uint32(len(b)-4))
	}
	enc := format.Plain
	if e.pageDict {
		enc = format.RLEDictionary
		bw := max(1, bits.Len(uint(max(e.dictLen(), 1)-1)))
		b = append(b, byte(bw))
		b, e.lit = appendHybridRuns(b, e.runV, e.runN, bw, e.lit)
		e.usedDict = true
	} else {
		switch e.kind {
		case KindCategorical:
			b = appendPlainStrings(b, e.rawS)
		default:
			b = appendUint64s(b, e.raw)
			e.bound(e.raw)
		}
	}
	e.body = b
	h := format.PageHeader{Type: format.DataPage}
	h.DataPageHeader.Valid = true
	h.DataPageHeader.V = format.DataPageHeader{
		NumValues:               int32(e.rows),
		Encoding:                enc,
		DefinitionLevelEncoding: format.RLE,
		RepetitionLevelEncoding: format.RLE,
	}
	e.data = e.appendPage(e.data, &h, b)
	e.meta.NumValues += int64(e.rows)
	if e.pageDict && e.dictFull() {
		e.dictMode = false
		e.startPlain = true
	}
	e.resetPage()
}

func (e *colEnc) resetPage() {
	e.rows = 0
	e.runV = e.runV[:0]
	e.runN = e.runN[:0]
	e.raw = e.raw[:0]
	clear(e.rawS)
	e.rawS = e.rawS[:0]
	e.defs = e.defs[:0]
	e.pageDict = e.dictMode
}

// appendPage compresses body and appends the page header and page to dst,
// counting both in the chunk's sizes.
func (e *colEnc) appendPage(dst []byte, h *format.PageHeader, body []byte) []byte {
	page := body
	if e.codec != nil {
		var err error
		if e.comp, err = e.codec.Encode(e.comp[:0], body); err != nil {
			e.err = err
			return dst
		}
		page = e.comp
	}
	if len(body) > math.MaxInt32 || len(page) > math.MaxInt32 {
		e.err = fmt.Errorf("page of %d bytes is too large for Parquet", len(body))
		return dst
	}
	h.UncompressedPageSize = int32(len(body))
	h.CompressedPageSize = int32(len(page))
	hb, err := thrift.Marshal(&e.proto, h)
	if err != nil {
		e.err = err
		return dst
	}
	e.meta.TotalUncompressedSize += int64(len(hb) + len(body))
	e.meta.TotalCompressedSize += int64(len(hb) + len(page))
	dst = append(dst, hb...)
	return append(dst, page...)
}

// bound widens the chunk's statistics by PLAIN values.
func (e *colEnc) bound(vs []uint64) {
	if e.kind == KindNumeric {
		// Plain comparisons (NaN skipped) rather than min and max, which
		// order -0 before +0 at a cost per value: finishChunk writes a zero
		// bound as -0 (min) or +0 (max) whichever zero it holds.
		mn, mx, have := e.minF, e.maxF, e.haveStats
		for _, v := range vs {
			x := math.Float64frombits(v)
			if x != x {
				continue
			}
			if !have {
				mn, mx, have = x, x, true
				continue
			}
			if x < mn {
				mn = x
			}
			if x > mx {
				mx = x
			}
		}
		e.minF, e.maxF, e.haveStats = mn, mx, have
		return
	}
	for _, v := range vs {
		x := int64(v)
		if !e.haveStats {
			e.minI, e.maxI, e.haveStats = x, x, true
			continue
		}
		e.minI = min(e.minI, x)
		e.maxI = max(e.maxI, x)
	}
}

// finishChunk encodes the last page and the dictionary page and fills the
// chunk's metadata (offsets and path are the writer's).
func (e *colEnc) finishChunk() {
	e.flushPage()
	if e.err != nil {
		return
	}
	encs := []format.Encoding{format.Plain, format.RLE}
	if e.usedDict {
		encs = append(encs, format.RLEDictionary)
		b := e.body[:0]
		n := e.dictLen()
		if e.kind == KindCategorical {
			b = appendPlainStrings(b, e.dictS)
		} else {
			b = appendUint64s(b, e.dict64)
			e.bound(e.dict64)
		}
		e.body = b
		h := format.PageHeader{Type: format.DictionaryPage}
		h.DictionaryPageHeader.Valid = true
		h.DictionaryPageHeader.V = format.DictionaryPageHeader{NumValues: int32(n), Encoding: format.Plain}
		e.dictPage = e.appendPage(e.dictPage[:0], &h, b)
	}
	e.meta.Type = e.ptype
	e.meta.Encoding = encs
	e.meta.Codec = format.Uncompressed
	if e.codec != nil {
		e.meta.Codec = e.codec.CompressionCodec()
	}
	e.meta.Statistics = format.Statistics{NullCount: e.nulls}
	if e.haveStats {
		var lo, hi [8]byte
		switch e.kind {
		case KindNumeric:
			// Parquet asks for -0 as a minimum and +0 as a maximum.
			mn, mx := e.minF, e.maxF
			if mn == 0 {
				mn = math.Copysign(0, -1)
			}
			if mx == 0 {
				mx = 0
			}
			binary.LittleEndian.PutUint64(lo[:], math.Float64bits(mn))
			binary.LittleEndian.PutUint64(hi[:], math.Float64bits(mx))
		default:
			binary.LittleEndian.PutUint64(lo[:], uint64(e.minI))
			binary.LittleEndian.PutUint64(hi[:], uint64(e.maxI))
		}
		e.meta.Statistics.MinValue = lo[:]
		e.meta.Statistics.MaxValue = hi[:]
	}
}

// appendUint64s appends PLAIN (little-endian) 64-bit values.
func appendUint64s(dst []byte, vs []uint64) []byte {
	if littleEndian {
		return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vs))), 8*len(vs))...)
	}
	for _, v := range vs {
		dst = binary.LittleEndian.AppendUint64(dst, v)
	}
	return dst
}

// appendPlainStrings appends PLAIN byte arrays: 4-byte length, then bytes.
func appendPlainStrings(dst []byte, ss []string) []byte {
	for _, s := range ss {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// appendHybrid appends vals in Parquet's RLE/bit-packing hybrid encoding with
// bit width bw: runs of at least 8 equal values (after topping up the
// preceding literal run to a multiple of 8) become RLE runs, the rest
// bit-packed groups of 8; the last group is zero padded.
func appendHybrid(dst []byte, vals []uint32, bw int) []byte {
	n := len(vals)
	lit := 0 // start of the pending literal values
	for i := 0; i < n; {
		v := vals[i]
		j := i + 1
		for j < n && vals[j] == v {
			j++
		}
		pad := (8 - (i-lit)%8) % 8
		if j-i >= pad+8 {
			dst = appendBitPacked(dst, vals[lit:i+pad], bw)
			dst = binary.AppendUvarint(dst, uint64(j-i-pad)<<1)
			for k := 0; k < (bw+7)/8; k++ {
				dst = append(dst, byte(v>>(8*k)))
			}
			lit = j
		}
		i = j
	}
	return appendBitPacked(dst, vals[lit:], bw)
}

// appendHybridRuns is appendHybrid over runs of values (value rv[i]
// repeated rn[i] times, no two neighbours equal); lit is scratch space,
// returned for reuse.
func appendHybridRuns(dst []byte, rv, rn []uint32, bw int, lit []uint32) ([]byte, []uint32) {
	total := 0
	for _, n := range rn {
		total += int(n)
	}
	buf := slices.Grow(lit[:0], total+8)[:total+8] // +8: room to top up a literal run
	l := 0                                         // pending literal values in buf
	for i, v := range rv {
		n := int(rn[i])
		if n == 1 {
			buf[l] = v
			l++
			continue
		}
		pad := -l & 7
		if n >= pad+8 {
			for j := range pad {
				buf[l+j] = v
			}
			dst = appendBitPacked(dst, buf[:l+pad], bw)
			l = 0
			dst = binary.AppendUvarint(dst, uint64(n-pad)<<1)
			for k := 0; k < (bw+7)/8; k++ {
				dst = append(dst, byte(v>>(8*k)))
			}
			continue
		}
		for j := range n {
			buf[l+j] = v
		}
		l += n
	}
	return appendBitPacked(dst, buf[:l], bw), buf[:0]
}

// appendBitPacked appends a bit-packed run of vals (zero padded to a multiple
// of 8 values), least significant bit first.
func appendBitPacked(dst []byte, vals []uint32, bw int) []byte {
	if len(vals) == 0 {
		return dst
	}
	groups := (len(vals) + 7) / 8
	dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
	start := len(dst)
	dst = append(dst, make([]byte, groups*bw+8)...) // 8 spare bytes for whole-word stores
	out := dst[start:]
	full := len(vals) / 8 * 8
	o := 0
	if bw <= 8 {
		// Eight values fit one 64-bit word: one store of bw bytes per group.
		for g := 0; g < full; g += 8 {
			v := vals[g : g+8 : g+8]
			acc := uint64(v[0]) | uint64(v[1])<<bw | uint64(v[2])<<(2*bw) | uint64(v[3])<<(3*bw) |
				uint64(v[4])<<(4*bw) | uint64(v[5])<<(5*bw) | uint64(v[6])<<(6*bw) | uint64(v[7])<<(7*bw)
			binary.LittleEndian.PutUint64(out[o:], acc)
			o += bw
		}
	} else if bw <= 16 {
		// Eight values fit two 64-bit words (dictionaries of up to 64Ki
		// values): two stores per group, the second's spare high bytes
		// zero and overwritten by the next group.
		for g := 0; g < full; g += 8 {
			v := vals[g : g+8 : g+8]
			var lo, hi uint64
			for j, x := range v {
				b := uint(j * bw)
				switch {
				case b+uint(bw) <= 64:
					lo |= uint64(x) << b
				case b < 64:
					lo |= uint64(x) << b
					hi |= uint64(x) >> (64 - b)
				default:
					hi |= uint64(x) << (b - 64)
				}
			}
			binary.LittleEndian.PutUint64(out[o:], lo)
			binary.LittleEndian.PutUint64(out[o+8:], hi)
			o += bw
		}
	} else {
		var acc uint64
		nb := 0
		for _, v := range vals[:full] {
			acc |= uint64(v) << nb
			nb += bw
			for nb >= 8 {
				out[o] = byte(acc)
				o++
				acc >>= 8
				nb -= 8
			}
		}
	}
	// The last, partial group, zero padded.
	var acc uint64
	nb := 0
	for _, v := range vals[full:] {
		acc |= uint64(v) << nb
		nb += bw
		for nb >= 8 {
			out[o] = byte(acc)
			o++
			acc >>= 8
			nb -= 8
		}
	}
	if nb > 0 {
		out[o] = byte(acc)
	}
	return dst[:start+groups*bw]
}

// u64Table maps 64-bit keys to their index in the dictionary: open
// addressing, linear probing, at most half full. A slot holds the key beside
// its index, so a lookup reads one cache line (four slots) where a slot
// holding only the index was followed by a dependent read of the dictionary
// entry: with the tables of a hundred columns taking turns in the core's
// cache, those two misses per lookup were the encoder's largest cost.
type u64Table struct {
	slots []u64Slot
	shift uint
	n     int
}

type u64Slot struct {
	key uint64
	idx int32 // index+1; 0 = empty slot
}

const u64TableMin = 1 << 9

// reset empties the table, sized for as many keys as the last chunk held
// (chunks of a column tend to hold alike numbers of distinct values), so a
// chunk rarely grows it.
func (h *u64Table) reset() {
	size := u64TableMin
	for size < 2*h.n {
		size *= 2
	}
	if len(h.slots) != size {
		h.slots = make([]u64Slot, size)
		h.shift = uint(64 - bits.TrailingZeros(uint(size)))
	} else {
		clear(h.slots)
	}
	h.n = 0
}

func (h *u64Table) slot(k uint64) int {
	return int(((k ^ k>>29) * 0x9E3779B97F4A7C15) >> h.shift)
}

// find returns the index of k in dict, appending k when new.
func (h *u64Table) find(k uint64, dict *[]uint64) int32 {
	mask := len(h.slots) - 1
	for i := h.slot(k); ; i = (i + 1) & mask {
		s := &h.slots[i]
		if s.idx == 0 {
			p := int32(len(*dict))
			*dict = append(*dict, k)
			s.key, s.idx = k, p+1
			h.n++
			if 2*h.n > len(h.slots) {
				h.grow(*dict)
			}
			return p
		}
		if s.key == k {
			return s.idx - 1
		}
	}
}

func (h *u64Table) grow(dict []uint64) {
	size := 2 * len(h.slots)
	h.slots = make([]u64Slot, size)
	h.shift = uint(64 - bits.TrailingZeros(uint(size)))
	mask := size - 1
	for p, k := range dict {
		i := h.slot(k)
		for h.slots[i].idx != 0 {
			i = (i + 1) & mask
		}
		h.slots[i] = u64Slot{key: k, idx: int32(p) + 1}
	}
}
