package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Decision audit journal: the permanent home of audit records.
//
// A synced badger commit costs far more than a plain write and fdatasync of
// a small file, and writing a 2-4 KB record into badger's value log and two
// index entries into its LSM tree was a fifth of a decision's CPU. The
// committer (group.go) therefore writes each group's records to the journal
// in one write and fdatasyncs it once; callers are released only after that
// sync, so a 2xx still means "durable". The record stays there for good:
// badger only indexes it, with a pointer (segment, offset, length: a few
// bytes, kept in the LSM tree) under the decision's id and under its entry
// in the account's decision log. An indexer goroutine writes those pointers
// in large batches, together with a watermark (the journal position up to
// which badger holds every record's pointers).
//
// Segments. The journal is a numbered series of segment files
// (decisions.00000001.seg, ...) of Options.JournalSegment bytes each,
// created full (header page, then zeros) before they are used and then only
// written in place: an fdatasync of a file whose size does not change writes
// the dirty data pages and flushes the device, and does not also commit the
// file system's metadata journal (queued behind every other file's metadata,
// badger's included), which is where synced appends' latency spikes came
// from. A preparer goroutine writes the next segment while the committer fills
// the current one, in small pieces written out one at a time, so that no
// large burst of writes sits in the device queue in front of a journal sync.
// Should the next segment not be ready when a group does not fit, the active
// one grows instead (correct, only slower).
//
// Frame: 4 bytes payload length, 4 bytes CRC-32C of the segment number (8
// bytes little endian) followed by the payload. Payload: uvarint-length-
// prefixed tenant, decision id and account, 8 bytes decision time (big
// endian), then the encoded record (the JSON the store returns).
//
// Recovery. Open reads the watermark and replays every whole frame after it
// (in the watermark's segment and every later one) into badger, synced,
// before the store is used; records are immutable by id, so re-indexing a
// record badger already points at changes nothing. A frame is synced before
// its caller is answered, so only a tail nobody was answered for can be torn:
// a segment's replay stops at the first short frame or CRC mismatch. New
// frames are written after the last whole one only when everything after it
// is still zeros; otherwise (a torn group) the journal moves on to the next
// segment, so a frame written but never acknowledged before a crash can
// never become readable later.
//
// Exactness of "an id holds one record": the committer checks each id against
// the records journaled but not yet indexed (pending, in memory) and then
// against badger. The indexer removes a record from pending only after its
// badger commit, so one of the two always sees it.
//
// Earlier layouts: a single append-only file decisions.journal (version 1)
// and two overwritten segments decisions.journal.0/.1 (version 2) held only
// records on their way into badger, which stored the whole record. Open
// replays what they hold into badger in that form and removes them; records
// stored whole stay readable (a value that starts with '{' is a record, one
// that starts with ptrTag a pointer).

// Journal file names: the segments, a segment being created, and the files of
// earlier layouts.
const (
	segmentName       = "decisions.%08d.seg"
	segmentTmpSuffix  = ".tmp"
	journalName       = "decisions.journal"
	legacySegmentName = "decisions.journal.%d"
)

// journalHeader is the size of a segment's header page; frames follow it.
const journalHeader = 4096

// segmentMagic starts a segment's header; legacySegmentMagic started the
// header of version 2's overwritten segments.
const (
	segmentMagic       = "ENGSEG03"
	legacySegmentMagic = "ENGJRNL2"
)

// maxFrame bounds a frame's payload; a larger length is damage.
const maxFrame = 1 << 30

// firstSegment bounds the size of a segment Open creates itself (a new
// store's first, or the one after a torn tail).
const firstSegment = 1 << 20

// prepareChunk is how much of a new segment the preparer writes (and writes
// out) at a time.
const prepareChunk = 1 << 20

// The indexer commits to badger at most every indexDelay, or when indexMax
// records are waiting, or when Decisions asks for everything.
const (
	indexDelay = 100 * time.Millisecond
	indexMax   = 1 << 14
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// keyWatermark holds the journal position up to which badger indexes every
// record: uvarint segment, uvarint offset.
var keyWatermark = []byte("mj")

// ptrTag starts a pointer value; a record stored whole starts with '{'.
const ptrTag = 0x01

// maxKeptBuf bounds the group buffer the committer keeps for the next group.
// It holds a batch request's chunk of 256 records (about 1 MB) with room to
// spare: a smaller bound made every such group allocate (and zero) a new one.
const maxKeptBuf = 4 << 20

// jpos is a position in the journal.
type jpos struct {
	seg uint64
	off int64
}

// jrec is one record's badger writes: the id key and the log key with their
// values (pointers, or the whole record and nothing for earlier layouts).
type jrec struct {
	key, val, logKey, logVal []byte
}

// journal is the open journal of a DB: its writer (committer, indexer,
// preparer) and the segments open for reading.
type journal struct {
	dir  string
	sync bool  // fdatasync each group (Options.SyncWrites)
	size int64 // a new segment's size

	// Committer only.
	cur     *os.File
	curSeg  uint64
	curSize int64 // bytes of the active segment's file
	pos     int64 // write offset in the active segment
	buf     []byte
	failed  error // a write or sync failed: refuse every later group

	wake     chan struct{} // the queue got records
	kick     chan struct{} // index now: Decisions is waiting, or the queue is long
	stop     chan struct{} // closed by closeJournal
	idxDone  chan struct{}
	prepReq  chan struct{} // make the next segment
	prepDone chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	pending map[string][]byte // badger key -> record, journaled and not yet indexed
	queue   []jrec            // journaled records the indexer has not taken yet
	qpos    jpos              // journal position after the queue
	written int64             // bytes journaled since Open (committer writes, under mu)
	qend    int64             // written after the queue
	indexed int64             // written up to which badger holds everything
	idxErr  error             // the indexer failed: reads may miss records
	spare   *os.File          // the next segment, ready; nil while being made
	next    uint64            // number of the segment after the active one
	asked   bool              // the preparer was asked for next

	fmu   sync.RWMutex
	files map[uint64]*os.File // segments open (for reading; the active one also writes)
}

// segPath names segment n.
func segPath(dir string, n uint64) string { return filepath.Join(dir, fmt.Sprintf(segmentName, n)) }

// openJournal replays what earlier layouts and a crash left unindexed into
// badger, opens the segments and, unless writing is off (Options.NoJournal),
// starts the indexer and the preparer. With writing off the journal only
// serves reads of records it holds.
func (db *DB) openJournal(dir string, write bool) error {
	jr := &journal{dir: dir, sync: db.opts.SyncWrites, files: map[uint64]*os.File{},
		wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), stop: make(chan struct{}),
		idxDone: make(chan struct{}), prepReq: make(chan struct{}, 1), prepDone: make(chan struct{}), pending: map[string][]byte{}}
	jr.cond = sync.NewCond(&jr.mu)
	jr.size = db.opts.JournalSegment
	if jr.size <= 0 {
		jr.size = DefaultOptions().JournalSegment
	}
	jr.size = max(jr.size, 2*journalHeader)
	if err := db.replayLegacyJournal(dir); err != nil {
		return err
	}
	if err := db.replayLegacySegments(dir); err != nil {
		return err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	wm, err := db.watermark()
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	var recs []jrec
	end := wm
	last, lastEnd, lastClean := uint64(0), int64(0), false
	for _, n := range segs {
		if n < wm.seg {
			continue
		}
		f, data, err := readSegment(segPath(dir, n))
		if err != nil {
			jr.closeFiles()
			return fmt.Errorf("open journal: %w", err)
		}
		jr.files[n] = f
		from := int64(journalHeader)
		if n == wm.seg {
			from = max(from, wm.off)
		}
		if !checkSegmentHeader(data, n) {
			db.opts.logger().Error("store: decision journal segment with a damaged header; its records are not replayed", "segment", n)
			last, lastEnd, lastClean = n, int64(len(data)), false
			continue
		}
		rs, stop := parseFramesAt(data, n, from)
		recs = append(recs, rs...)
		if stop > from || n > end.seg {
			end = jpos{n, stop}
		}
		last, lastEnd = n, stop
		lastClean = allZero(data[min(stop, int64(len(data))):])
	}
	if len(recs) > 0 {
		if err := db.indexRecords(recs, &end); err != nil {
			jr.closeFiles()
			return fmt.Errorf("replay journal: %w", err)
		}
		db.opts.logger().Info("store: replayed decision journal", "records", len(recs))
	}
	db.jr = jr
	if !write {
		return nil
	}
	// Go on after the last whole frame of the last segment when nothing
	// follows it; otherwise in a new segment.
	if last > 0 && lastClean {
		fi, err := jr.files[last].Stat()
		if err != nil {
			jr.closeFiles()
			return fmt.Errorf("open journal: %w", err)
		}
		jr.cur, jr.curSeg, jr.curSize, jr.pos = jr.files[last], last, fi.Size(), lastEnd
	} else {
		// A small first segment keeps Open fast; the preparer makes the
		// next ones full size in the background.
		n, size := max(last, wm.seg)+1, min(jr.size, firstSegment)
		f, err := createSegment(dir, n, size, nil)
		if err != nil {
			jr.closeFiles()
			return fmt.Errorf("open journal: %w", err)
		}
		jr.files[n] = f
		jr.cur, jr.curSeg, jr.curSize, jr.pos = f, n, size, journalHeader
	}
	jr.qpos = jpos{jr.curSeg, jr.pos}
	jr.next = jr.curSeg + 1
	go db.indexer()
	go jr.preparer(db)
	return nil
}

// listSegments returns the numbers of the segment files in dir, in order,
// removing segments whose creation a crash interrupted.
func listSegments(dir string) ([]uint64, error) { return segmentsIn(dir, true) }

// listSegmentsRO is listSegments without the removal (while the preparer
// may be writing one).
func listSegmentsRO(dir string) ([]uint64, error) { return segmentsIn(dir, false) }

func segmentsIn(dir string, clean bool) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "decisions.") {
			continue
		}
		if strings.HasSuffix(name, ".seg"+segmentTmpSuffix) {
			if !clean {
				continue
			}
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, err
			}
			continue
		}
		num, ok := strings.CutSuffix(strings.TrimPrefix(name, "decisions."), ".seg")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || n == 0 {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// readSegment opens a segment for reading and writing and returns its content.
func readSegment(path string) (*os.File, []byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return f, data, nil
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// segmentHeaderPage returns the header page of segment n.
func segmentHeaderPage(n uint64) []byte {
	h := make([]byte, journalHeader)
	copy(h, segmentMagic)
	binary.LittleEndian.PutUint64(h[8:], n)
	binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], crcTable))
	return h
}

// checkSegmentHeader reports whether data starts with segment n's header.
func checkSegmentHeader(data []byte, n uint64) bool {
	return len(data) >= journalHeader && string(data[:8]) == segmentMagic &&
		binary.LittleEndian.Uint64(data[8:]) == n &&
		binary.LittleEndian.Uint32(data[16:]) == crc32.Checksum(data[:16], crcTable)
}

// createSegment writes segment n (header page, then zeros up to size, in
// whole pages) under a temporary name, syncs it and renames it into place.
// With stop, it writes a piece at a time and writes each out before the next
// (no burst of dirty pages for a journal sync to wait behind), and gives up
// when stop closes.
func createSegment(dir string, n uint64, size int64, stop <-chan struct{}) (*os.File, error) {
	path := segPath(dir, n)
	tmp := path + segmentTmpSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("create journal segment %d: %w", n, err)
	}
	if _, err := f.WriteAt(segmentHeaderPage(n), 0); err != nil {
		return fail(err)
	}
	size = (size + journalHeader - 1) / journalHeader * journalHeader
	if err := zeroFill(f, tmp, journalHeader, size, stop); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("create journal segment %d: %w", n, err)
	}
	return f, nil
}

// bufferedZeroFill writes zeros to f from off to size through the page cache;
// with stop, a piece at a time, each written out before the next.
func bufferedZeroFill(f *os.File, off, size int64, stop <-chan struct{}) error {
	zero := make([]byte, prepareChunk)
	for ; off < size; off += prepareChunk {
		k := min(int64(prepareChunk), size-off)
		if _, err := f.WriteAt(zero[:k], off); err != nil {
			return err
		}
		if stop != nil {
			select {
			case <-stop:
				return errClosed
			default:
			}
			if err := writeOut(f, off, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// preparer makes the segment after the active one whenever asked, until
// stop closes.
func (jr *journal) preparer(db *DB) {
	defer close(jr.prepDone)
	for {
		select {
		case <-jr.prepReq:
		case <-jr.stop:
			return
		}
		jr.mu.Lock()
		ready, n := jr.spare != nil, jr.next
		jr.mu.Unlock()
		if ready {
			continue
		}
		f, err := createSegment(jr.dir, n, jr.size, jr.stop)
		if err != nil {
			if !errors.Is(err, errClosed) {
				db.opts.logger().Error("store: preparing the next decision journal segment; the active one grows instead", "err", err)
			}
			continue
		}
		jr.fmu.Lock()
		jr.files[n] = f
		jr.fmu.Unlock()
		jr.mu.Lock()
		if n == jr.next {
			jr.spare = f
		}
		jr.mu.Unlock()
	}
}

// watermark reads the journal position up to which badger indexes every
// record ({0, 0}: none recorded).
func (db *DB) watermark() (jpos, error) {
	var wm jpos
	err := db.bdb.View(func(txn *badger.Txn) error {
		v, ok, err := get(txn, keyWatermark)
		if err != nil || !ok {
			return err
		}
		s, k := binary.Uvarint(v)
		o, k2 := binary.Uvarint(v[max(k, 0):])
		if k <= 0 || k2 <= 0 {
			return fmt.Errorf("%w: journal watermark", errCorrupt)
		}
		wm = jpos{s, int64(o)}
		return nil
	})
	return wm, err
}

// replayLegacyJournal writes the records of version 1's single-file journal
// into badger (whole, synced), then removes the file.
func (db *DB) replayLegacyJournal(dir string) error {
	path := filepath.Join(dir, journalName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("replay journal %s: %w", path, err)
	}
	recs, good := parseFrames(data, 0, false)
	if len(recs) > 0 {
		if err := db.indexRecords(recs, nil); err != nil {
			return fmt.Errorf("replay journal %s: %w", path, err)
		}
		db.opts.logger().Info("store: replayed decision journal", "records", len(recs), "bytes", good, "torn_tail_bytes", len(data)-good)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("replay journal: %w", err)
	}
	return syncDir(dir)
}

// replayLegacySegments writes the records of the current rounds of version
// 2's two segments into badger (whole, synced), then removes them.
func (db *DB) replayLegacySegments(dir string) error {
	var recs [2][]jrec
	var gens [2]uint64
	found := false
	for i := range recs {
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf(legacySegmentName, i)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("replay journal: %w", err)
		}
		found = true
		if len(data) >= journalHeader && string(data[:8]) == legacySegmentMagic &&
			binary.LittleEndian.Uint32(data[16:]) == crc32.Checksum(data[:16], crcTable) {
			gens[i] = binary.LittleEndian.Uint64(data[8:])
			recs[i], _ = parseFrames(data[journalHeader:], gens[i], true)
		}
	}
	if !found {
		return nil
	}
	older := 0
	if gens[1] < gens[0] {
		older = 1
	}
	all := append(recs[older], recs[1-older]...)
	if len(all) > 0 {
		if err := db.indexRecords(all, nil); err != nil {
			return fmt.Errorf("replay journal: %w", err)
		}
		db.opts.logger().Info("store: replayed decision journal", "records", len(all))
	}
	for i := range recs {
		if err := os.Remove(filepath.Join(dir, fmt.Sprintf(legacySegmentName, i))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("replay journal: %w", err)
		}
	}
	return syncDir(dir)
}

// syncDir makes the directory's entries (created or removed files) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// parseFramesAt returns the pointer writes of the whole frames of segment n
// from offset from on, and the offset after the last of them.
func parseFramesAt(data []byte, n uint64, from int64) ([]jrec, int64) {
	var recs []jrec
	off := from
	for {
		p, size, ok := frameAt(data, off, n, true)
		if !ok {
			return recs, off
		}
		tenant, id, account, at, _, ok := framePayload(p)
		if !ok {
			return recs, off
		}
		ptr := appendPtr(nil, n, off, size)
		recs = append(recs, jrec{key: tkey(tenant, kindDecision, id), val: ptr,
			logKey: logKey(tenant, kindDecisionLog, account, at, id), logVal: ptr})
		off += int64(size)
	}
}

// parseFrames returns the whole-record writes of the whole frames at the
// start of data (earlier layouts) and the length of that prefix.
func parseFrames(data []byte, gen uint64, withGen bool) ([]jrec, int) {
	var recs []jrec
	off := 0
	for {
		p, size, ok := frameAt(data, int64(off), gen, withGen)
		if !ok {
			return recs, off
		}
		tenant, id, account, at, val, ok := framePayload(p)
		if !ok {
			return recs, off
		}
		recs = append(recs, jrec{key: tkey(tenant, kindDecision, id), val: bytes.Clone(val),
			logKey: logKey(tenant, kindDecisionLog, account, at, id)})
		off += size
	}
}

// frameAt returns the payload of the whole frame at off and the frame's size.
func frameAt(data []byte, off int64, gen uint64, withGen bool) ([]byte, int, bool) {
	if off < 0 || int64(len(data))-off < 8 {
		return nil, 0, false
	}
	b := data[off:]
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > maxFrame || int64(n) > int64(len(b)-8) {
		return nil, 0, false
	}
	p := b[8 : 8+n]
	if frameCRC(gen, withGen, p) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, 0, false
	}
	return p, 8 + int(n), true
}

// frameCRC is the CRC-32C of a frame's payload, preceded by its segment
// number (or an earlier layout's generation).
func frameCRC(gen uint64, withGen bool, p []byte) uint32 {
	c := uint32(0)
	if withGen {
		c = genCRC(gen)
	}
	return crc32.Update(c, crcTable, p)
}

// genCRC is the CRC-32C of gen (8 bytes little endian), remembered for the
// last gen asked: every frame of a segment starts its CRC with it, and
// computing it afresh cost an allocation per frame (the bytes escape into
// crc32's assembly).
func genCRC(gen uint64) uint32 {
	if c := lastGenCRC.Load(); c != nil && c.gen == gen {
		return c.crc
	}
	g := binary.LittleEndian.AppendUint64(nil, gen)
	c := &genCRCOf{gen: gen, crc: crc32.Update(0, crcTable, g)}
	lastGenCRC.Store(c)
	return c.crc
}

// genCRCOf is a gen and its CRC.
type genCRCOf struct {
	gen uint64
	crc uint32
}

var lastGenCRC atomic.Pointer[genCRCOf]

// appendFrame appends the frame of one record of segment (or generation) gen.
func appendFrame(b []byte, gen uint64, tenant string, rec *DecisionRecord, val []byte) []byte {
	return appendFrameCRC(b, gen, true, tenant, rec, val)
}

func appendFrameCRC(b []byte, gen uint64, withGen bool, tenant string, rec *DecisionRecord, val []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	b = appendLP(b, tenant)
	b = appendLP(b, rec.ID)
	b = appendLP(b, rec.AccountID)
	b = binary.BigEndian.AppendUint64(b, uint64(rec.At))
	b = append(b, val...)
	p := b[start+8:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(p)))
	binary.LittleEndian.PutUint32(b[start+4:], frameCRC(gen, withGen, p))
	return b
}

// framePayload splits a frame's payload; val aliases p.
func framePayload(p []byte) (tenant, id, account string, at int64, val []byte, ok bool) {
	var s [3]string
	for i := range s {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return "", "", "", 0, nil, false
		}
		s[i] = string(p[k : k+int(n)])
		p = p[k+int(n):]
	}
	if len(p) < 8 || checkTenant(s[0]) != nil || checkID(s[1]) != "" {
		return "", "", "", 0, nil, false
	}
	return s[0], s[1], s[2], int64(binary.BigEndian.Uint64(p)), p[8:], true
}

// maxPtrLen bounds the length of a pointer value.
const maxPtrLen = 1 + 3*binary.MaxVarintLen64

// appendPtr appends the pointer to the frame of size n at off in segment seg.
func appendPtr(b []byte, seg uint64, off int64, n int) []byte {
	b = append(b, ptrTag)
	b = binary.AppendUvarint(b, seg)
	b = binary.AppendUvarint(b, uint64(off))
	return binary.AppendUvarint(b, uint64(n))
}

// record returns the record a stored value holds: itself when it is a whole
// record (earlier layouts, stores without a journal), else the record its
// pointer names, read from the journal and checked.
func (db *DB) record(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != ptrTag {
		return v, nil
	}
	p := v[1:]
	seg, k1 := binary.Uvarint(p)
	off, k2 := binary.Uvarint(p[max(k1, 0):])
	n, k3 := binary.Uvarint(p[max(k1, 0)+max(k2, 0):])
	if k1 <= 0 || k2 <= 0 || k3 <= 0 || n < 8 || n > maxFrame {
		return nil, fmt.Errorf("%w: decision pointer", errCorrupt)
	}
	if db.jr == nil {
		return nil, fmt.Errorf("%w: decision pointer without a journal", errCorrupt)
	}
	f, err := db.jr.file(seg)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, int64(off)); err != nil {
		return nil, fmt.Errorf("read journal segment %d: %w", seg, err)
	}
	pl, _, ok := frameAt(buf, 0, seg, true)
	if !ok {
		return nil, fmt.Errorf("%w: journal segment %d offset %d: damaged frame", errCorrupt, seg, off)
	}
	_, _, _, _, val, ok := framePayload(pl)
	if !ok {
		return nil, fmt.Errorf("%w: journal segment %d offset %d: damaged record", errCorrupt, seg, off)
	}
	return val, nil
}

// bytes returns the size of the journal's segment files.
func (jr *journal) bytes() int64 {
	segs, err := listSegmentsRO(jr.dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, s := range segs {
		if fi, err := os.Stat(segPath(jr.dir, s)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// writing reports whether the journal takes new records (else it only
// serves reads: Options.NoJournal).
func (jr *journal) writing() bool { return jr != nil && jr.cur != nil }

// file returns segment n, opening it when needed.
func (jr *journal) file(n uint64) (*os.File, error) {
	jr.fmu.RLock()
	f := jr.files[n]
	jr.fmu.RUnlock()
	if f != nil {
		return f, nil
	}
	jr.fmu.Lock()
	defer jr.fmu.Unlock()
	if f := jr.files[n]; f != nil {
		return f, nil
	}
	f, err := os.Open(segPath(jr.dir, n))
	if err != nil {
		return nil, fmt.Errorf("open journal segment: %w", err)
	}
	jr.files[n] = f
	return f, nil
}

// indexRecords writes records' index entries into badger in as many
// transactions as badger's limits need, then (with wm) the watermark.
// Rewriting an entry badger already holds (a replay) stores the same bytes
// again: the committer let only one record per id into the journal.
func (db *DB) indexRecords(recs []jrec, wm *jpos) error {
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	for _, r := range recs {
		if err := wb.Set(r.key, r.val); err != nil {
			return fmt.Errorf("index decisions: %w", err)
		}
		if err := wb.Set(r.logKey, r.logVal); err != nil {
			return fmt.Errorf("index decisions: %w", err)
		}
	}
	if wm != nil {
		v := binary.AppendUvarint(nil, wm.seg)
		if err := wb.Set(keyWatermark, binary.AppendUvarint(v, uint64(wm.off))); err != nil {
			return fmt.Errorf("index decisions: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("index decisions: %w", err)
	}
	return nil
}

// indexer writes journaled records' pointers into badger, in batches, until
// stop closes and the queue is empty. The committer never waits for it: a
// badger stall (memtable flush, compaction) delays only the index, not
// decisions.
func (db *DB) indexer() {
	jr := db.jr
	defer close(jr.idxDone)
	var carry []jrec // records of a failed index write, retried first
	for {
		select {
		case <-jr.wake:
		case <-jr.stop:
		}
		// Gather for a while: under SyncWrites every badger commit syncs, and
		// that sync competes with the journal's for the disk. Nobody waits
		// for the index except Decisions, which kicks.
		t := time.NewTimer(indexDelay)
		select {
		case <-t.C:
		case <-jr.kick:
		case <-jr.stop:
		}
		t.Stop()
		jr.mu.Lock()
		recs, end, wm := append(carry, jr.queue...), jr.qend, jr.qpos
		jr.queue, carry = nil, nil
		jr.mu.Unlock()
		if len(recs) > 0 {
			err := db.indexRecords(recs, &wm)
			jr.mu.Lock()
			if err != nil {
				// The records stay pending (Decision still finds them), in the
				// journal (the next Open replays them from the watermark), and
				// are retried with the next batch.
				if jr.idxErr == nil {
					db.opts.logger().Error("store: indexing decision journal", "err", err)
				}
				jr.idxErr = err
				carry = recs
			} else {
				for _, r := range recs {
					delete(jr.pending, string(r.key))
				}
				jr.indexed = end
				jr.idxErr = nil
			}
			jr.cond.Broadcast()
			jr.mu.Unlock()
		}
		select {
		case <-jr.stop:
			jr.mu.Lock()
			empty := len(jr.queue) == 0
			jr.mu.Unlock()
			if empty && carry == nil {
				return
			}
		default:
		}
		if carry != nil {
			time.Sleep(indexDelay) // retry after a pause
			select {
			case jr.wake <- struct{}{}:
			default:
			}
		}
	}
}

// pendingValue returns the record of an id journaled but not yet indexed.
func (jr *journal) pendingValue(key []byte) ([]byte, bool) {
	jr.mu.Lock()
	v, ok := jr.pending[string(key)]
	jr.mu.Unlock()
	return v, ok
}

// waitIndexed returns once every record synced before the call is in badger.
func (jr *journal) waitIndexed() error {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	target := jr.written
	for jr.indexed < target && jr.idxErr == nil {
		select {
		case jr.kick <- struct{}{}:
		default:
		}
		jr.cond.Wait()
	}
	return jr.idxErr
}

// journalGroup appends the requests of a group to the journal and syncs once.
// A request refused while planning (an id holding another record) gets its
// error and writes nothing; the others are acknowledged after the sync.
func (db *DB) journalGroup(group []*decReq) {
	jr := db.jr
	defer func() {
		for _, r := range group {
			close(r.done)
		}
	}()
	if jr.failed != nil {
		for _, r := range group {
			r.err = jr.failed
		}
		return
	}
	need, units := 0, 0
	for _, r := range group {
		units += len(r.units)
		for _, i := range r.units {
			need += len(r.vals[i]) + len(r.recs[i].ID) + len(r.recs[i].AccountID) + len(r.tenant) + 32
		}
	}
	jr.prepare(int64(need))
	buf := jr.buf[:0]
	if cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	// Look every id up among the pending records first, then in one badger
	// read transaction opened after that: the indexer drops a record from
	// pending only after its commit, so a record missed in pending is in
	// that transaction's snapshot.
	type look struct {
		key, old []byte
		rest     []byte // the capacity after key: room for the log key and the pointer
		ok       bool
	}
	looks := make([]look, 0, units)
	lookup := false // some record's id must be proven unused
	jr.mu.Lock()
	for _, r := range group {
		for _, i := range r.units {
			rec := &r.recs[i]
			// The id key, the log key and the pointer share one allocation
			// (3 per record instead of 5).
			kb := make([]byte, 0, tkeyLen(r.tenant, rec.ID)+logKeyLen(r.tenant, rec.AccountID, rec.ID)+maxPtrLen)
			kb = appendTKey(kb, r.tenant, kindDecision, rec.ID)
			key := kb[:len(kb):len(kb)]
			var lk look
			lk.key, lk.rest = key, kb[len(kb):]
			if !r.recs[i].Fresh {
				lk.old, lk.ok = jr.pending[string(key)]
				lookup = true
			}
			looks = append(looks, lk)
		}
	}
	jr.mu.Unlock()
	var txn *badger.Txn
	if lookup {
		txn = db.bdb.NewTransaction(false)
		defer txn.Discard()
	}
	out := make([]jrec, 0, units)
	added := make(map[string][]byte, units) // this group's records, until they are pending
	li := 0
	for _, r := range group {
		r.err = nil
		mark, bmark := len(out), len(buf)
		base := li
		li += len(r.units)
		for u, i := range r.units {
			rec, val := &r.recs[i], r.vals[i]
			lk := &looks[base+u]
			key := lk.key
			old, ok := added[string(key)]
			var err error
			if !ok {
				old, ok = lk.old, lk.ok
			}
			if !ok && !rec.Fresh {
				if old, ok, err = get(txn, key); err == nil && ok {
					old, err = db.record(old)
				}
			}
			if err != nil {
				r.err = fmt.Errorf("read decision %q: %w", rec.ID, err)
				break
			}
			if ok {
				if !bytes.Equal(old, val) {
					r.err = &RowError{Kind: "decision", Row: i, ID: rec.ID, Field: "decision_id", Reason: "already stored with different content"}
					break
				}
				continue // the same record: nothing to write
			}
			off := jr.pos + int64(len(buf))
			buf = appendFrame(buf, jr.curSeg, r.tenant, rec, val)
			lkey := appendLogKey(lk.rest, r.tenant, kindDecisionLog, rec.AccountID, rec.At, rec.ID)
			ptr := appendPtr(lkey[len(lkey):], jr.curSeg, off, len(buf)-int(off-jr.pos))
			lkey = lkey[:len(lkey):len(lkey)]
			out = append(out, jrec{key: key, val: ptr, logKey: lkey, logVal: ptr})
			added[string(key)] = val
		}
		if r.err != nil {
			for _, x := range out[mark:] {
				delete(added, string(x.key))
			}
			out, buf = out[:mark], buf[:bmark]
		}
	}
	if len(out) == 0 {
		return
	}
	jr.mu.Lock()
	for k, v := range added {
		jr.pending[k] = v
	}
	jr.mu.Unlock()
	err := jr.write(buf)
	if cap(buf) <= maxKeptBuf {
		jr.buf = buf[:0]
	}
	if err != nil {
		jr.failed = fmt.Errorf("decision journal: %w", err)
		db.opts.logger().Error("store: decision journal failed; refusing audit writes", "err", err)
		for _, r := range group {
			if r.err == nil {
				r.err = jr.failed
			}
		}
		return // the records stay pending: they may be on disk, and their ids stay taken
	}
	jr.mu.Lock()
	jr.written += int64(len(buf))
	jr.queue = append(jr.queue, out...)
	jr.qend = jr.written
	jr.qpos = jpos{jr.curSeg, jr.pos}
	long := len(jr.queue) >= indexMax
	jr.mu.Unlock()
	select {
	case jr.wake <- struct{}{}:
	default:
	}
	if long {
		select {
		case jr.kick <- struct{}{}:
		default:
		}
	}
}

// prepare chooses where a group of at most need bytes goes: on in the active
// segment when it fits; else the next segment when the preparer has it ready
// (and it is asked for the one after); else on past the active segment's end
// (the file grows). Committer only.
func (jr *journal) prepare(need int64) {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	if jr.pos+need > jr.curSize && jr.pos > journalHeader && jr.spare != nil {
		jr.cur, jr.curSeg, jr.curSize, jr.pos = jr.spare, jr.next, jr.size, journalHeader
		jr.spare, jr.asked = nil, false
		jr.next++
	}
	// Ask for the next segment as soon as a full-size one is started (the
	// preparer then has a whole segment's time to write it; when it falls
	// behind, the active one grows and every sync also commits metadata),
	// and once Open's small first segment is half full.
	if !jr.asked && jr.spare == nil && (jr.curSize >= jr.size || jr.pos+need > jr.curSize/2) {
		jr.asked = true
		select {
		case jr.prepReq <- struct{}{}:
		default:
		}
	}
}

// zeroPage pads group writes to a page end.
var zeroPage [journalHeader]byte

// write puts b at the write offset of the active segment and syncs its data.
// The write goes on with zeros (what the segment holds there) to the end of
// its last page, inside the segment: a write that covers a page whole never
// makes the kernel read it first (the preparer's zeros bypass the page
// cache).
func (jr *journal) write(b []byte) error {
	end := jr.pos + int64(len(b))
	if pad := (journalHeader - end%journalHeader) % journalHeader; pad > 0 && end+pad <= jr.curSize {
		b = append(b, zeroPage[:pad]...)
	}
	if _, err := jr.cur.WriteAt(b, jr.pos); err != nil {
		return err
	}
	b = b[:end-jr.pos]
	jr.pos += int64(len(b))
	jr.curSize = max(jr.curSize, jr.pos)
	if !jr.sync {
		return nil
	}
	return datasync(jr.cur)
}

// syncAll syncs every open segment's data.
func (jr *journal) syncAll() error {
	jr.fmu.RLock()
	defer jr.fmu.RUnlock()
	for _, f := range jr.files {
		if err := datasync(f); err != nil {
			return err
		}
	}
	return nil
}

// closeFiles closes the segments that are open.
func (jr *journal) closeFiles() error {
	jr.fmu.Lock()
	defer jr.fmu.Unlock()
	var err error
	for n, f := range jr.files {
		if e := f.Close(); e != nil && err == nil {
			err = e
		}
		delete(jr.files, n)
	}
	return err
}

// closeJournal waits for the indexer (badger then points at every record and
// the watermark is at the end: the next Open replays nothing) and the
// preparer, syncs and closes the segments.
func (db *DB) closeJournal() error {
	jr := db.jr
	var err error
	if jr.cur != nil { // writing
		close(jr.stop)
		<-jr.idxDone
		<-jr.prepDone
		err = jr.syncAll()
	}
	if e := jr.closeFiles(); e != nil && err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	return nil
}
