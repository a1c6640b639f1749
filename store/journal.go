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
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Decision audit journal.
//
// A synced badger commit costs far more than a plain write and fdatasync of
// a small file (about 1.8 ms against 0.4 ms where this was measured), and the
// sync is what every decision waits for. With a journal, the committer
// (group.go) writes each group's records to the journal in one write and
// fdatasyncs it once; callers are released only after that sync, so a 2xx
// still means "durable". An indexer goroutine then writes the records into
// badger (the index behind Decision and Decisions) in large batches. On Open,
// records left in the journal by a crash are written into badger before the
// store is used; records are immutable by id, so replaying one that badger
// already holds changes nothing.
//
// Two pre-written segments. Appending to a file makes every fdatasync also
// commit the file system's metadata journal (the file's size changed), which
// on ext4 costs a second device flush and waits behind every other file's
// metadata (badger's value log and tables on the same disk): that is where a
// synced append's latency spikes come from. The journal is therefore two
// segment files (decisions.journal.0 and .1) of a fixed size, filled with
// zeros once when created and then only overwritten in place: an fdatasync
// then writes the dirty data pages and flushes the device, nothing else. The
// committer fills one segment; when a group does not fit it switches to the
// other one, whose records were all indexed long ago (the indexer is about
// indexDelay behind; a segment holds Options.JournalSegment bytes), and
// starts it over. Should the other segment still hold records the index
// lacks (the indexer failing or far behind), the committer keeps appending
// past the current segment's end instead: correct, only slower, and the
// segment stays larger for its later rounds.
//
// Generations. Each start of a segment takes a new generation number, written
// in the segment's header page (magic, generation, CRC) together with the
// first group, and every frame's CRC covers the generation. The frames of an
// earlier round that follow the current tail therefore fail their CRC, and
// replay stops at the end of the current round without reading stale records
// as new ones. A torn write can only hit a group that was never acknowledged:
// a header that does not check out means the segment holds nothing to replay
// (its records, if any, were indexed before it was started over).
//
// Frame: 4 bytes payload length, 4 bytes CRC-32C of the generation (8 bytes
// little endian) followed by the payload (little endian). Payload:
// uvarint-length-prefixed tenant, decision id and account, 8 bytes decision
// time, then the encoded record (the value stored in badger).
//
// Exactness of "an id holds one record": the committer checks each id against
// the records journaled but not yet indexed (pending, in memory) and then
// against badger. The indexer removes a record from pending only after its
// badger commit, so one of the two always sees it.
//
// A store written by an earlier version has one append-only file,
// decisions.journal, without generations: Open replays it and removes it.

// journalName is the single-file journal of earlier versions (replayed at
// Open, then removed); segmentName names the two segments.
const (
	journalName = "decisions.journal"
	segmentName = "decisions.journal.%d"
)

// journalHeader is the size of a segment's header page; frames follow it.
const journalHeader = 4096

// segmentMagic starts a segment's header.
const segmentMagic = "ENGJRNL2"

// maxFrame bounds a frame's payload; a larger length is damage.
const maxFrame = 1 << 30

// The indexer commits to badger at most every indexDelay, or when indexMax
// records are waiting, or when Decisions asks for everything.
const (
	indexDelay = 20 * time.Millisecond
	indexMax   = 1 << 14
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maxKeptBuf bounds the group buffer the committer keeps for the next group.
// It holds a batch request's chunk of 256 records (about 1 MB) with room to
// spare: a smaller bound made every such group allocate (and zero) a new one.
const maxKeptBuf = 4 << 20

// jrec is one journaled record on its way to badger.
type jrec struct {
	key, logKey, val []byte
}

// segment is one of the journal's two files.
type segment struct {
	f      *os.File
	size   int64  // bytes of the file already written (zeros or frames)
	hdrGen uint64 // generation in the header on disk
	end    int64  // logical journal offset after its last record
}

// journal is the open journal of a DB.
type journal struct {
	sync bool // fdatasync each group (Options.SyncWrites)

	// Committer only.
	segs    [2]segment
	cur     int    // active segment
	pos     int64  // write offset in the active segment
	gen     uint64 // generation of the active segment's round
	written int64  // logical offset after the last synced group
	buf     []byte
	failed  error // a write or sync failed: refuse every later group

	wake    chan struct{} // the queue got records
	kick    chan struct{} // index now: Decisions is waiting, or the queue is long
	stop    chan struct{} // closed by closeJournal
	idxDone chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	pending map[string][]byte // badger key -> value, journaled and not yet indexed
	queue   []jrec            // journaled records the indexer has not taken yet
	qend    int64             // logical journal offset after the queue
	indexed int64             // logical offset up to which badger holds everything
	synced  int64             // logical offset of the last synced group (mu)
	idxErr  error             // the indexer failed: reads may miss records
}

// openJournal replays what a crash left in the journal into badger, prepares
// the two segments and starts the indexer.
func (db *DB) openJournal(dir string) error {
	jr := &journal{sync: db.opts.SyncWrites, wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), stop: make(chan struct{}), idxDone: make(chan struct{}), pending: map[string][]byte{}}
	jr.cond = sync.NewCond(&jr.mu)
	if err := db.replayLegacyJournal(dir); err != nil {
		return err
	}
	size := db.opts.JournalSegment
	if size <= 0 {
		size = DefaultOptions().JournalSegment
	}
	size = max(size, 2*journalHeader)
	created := false
	var recs [2][]jrec
	for i := range jr.segs {
		path := filepath.Join(dir, fmt.Sprintf(segmentName, i))
		s, data, fresh, err := openSegment(path, size)
		if err != nil {
			jr.closeFiles()
			return fmt.Errorf("open journal %s: %w", path, err)
		}
		jr.segs[i] = s
		created = created || fresh
		recs[i], _ = parseSegment(data, &jr.segs[i].hdrGen)
	}
	if created {
		if err := syncDir(dir); err != nil {
			jr.closeFiles()
			return fmt.Errorf("open journal: %w", err)
		}
	}
	// Replay the older round first (ids are unique, the order is cosmetic).
	older := 0
	if jr.segs[1].hdrGen < jr.segs[0].hdrGen {
		older = 1
	}
	all := append(recs[older], recs[1-older]...)
	if len(all) > 0 {
		if err := db.indexRecords(all); err != nil {
			jr.closeFiles()
			return fmt.Errorf("replay journal: %w", err)
		}
		db.opts.logger().Info("store: replayed decision journal", "records", len(all))
	}
	// Everything is in badger (synced under SyncWrites): start a new round in
	// the older segment; the newer one is free for the next switch.
	jr.cur = older
	jr.gen = max(jr.segs[0].hdrGen, jr.segs[1].hdrGen) + 1
	jr.pos = journalHeader
	db.jr = jr
	go db.indexer()
	return nil
}

// openSegment opens (creating when missing) a segment, fills it with zeros up
// to size when it is shorter, and returns its content.
func openSegment(path string, size int64) (segment, []byte, bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return segment{}, nil, false, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return segment{}, nil, false, err
	}
	n := int64(len(data))
	if n < size {
		zero := make([]byte, min(size-n, 1<<20))
		for off := n; off < size; off += int64(len(zero)) {
			if _, err := f.WriteAt(zero[:min(int64(len(zero)), size-off)], off); err != nil {
				f.Close()
				return segment{}, nil, false, err
			}
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return segment{}, nil, false, err
		}
		n = size
	}
	return segment{f: f, size: n}, data, len(data) == 0, nil
}

// replayLegacyJournal writes the records of an earlier version's single-file
// journal into badger (synced), then removes the file.
func (db *DB) replayLegacyJournal(dir string) error {
	path := filepath.Join(dir, journalName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("replay journal %s: %w", path, err)
	}
	recs, good := parseLegacyJournal(data)
	if len(recs) > 0 {
		if err := db.indexRecords(recs); err != nil {
			return fmt.Errorf("replay journal %s: %w", path, err)
		}
		db.opts.logger().Info("store: replayed decision journal", "records", len(recs), "bytes", good, "torn_tail_bytes", len(data)-good)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("replay journal: %w", err)
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

// segmentHeaderPage returns the header page of a round of generation gen.
func segmentHeaderPage(gen uint64) []byte {
	h := make([]byte, journalHeader)
	copy(h, segmentMagic)
	binary.LittleEndian.PutUint64(h[8:], gen)
	binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], crcTable))
	return h
}

// parseSegment reads a segment's header into *gen (0 when it does not check
// out: nothing to replay) and returns the records of the whole frames of that
// generation after it, and the length of the valid prefix.
func parseSegment(data []byte, gen *uint64) ([]jrec, int) {
	*gen = 0
	if len(data) < journalHeader || string(data[:8]) != segmentMagic ||
		binary.LittleEndian.Uint32(data[16:]) != crc32.Checksum(data[:16], crcTable) {
		return nil, 0
	}
	*gen = binary.LittleEndian.Uint64(data[8:])
	recs, n := parseFrames(data[journalHeader:], *gen, true)
	return recs, journalHeader + n
}

// parseLegacyJournal parses an earlier version's journal (CRC of the payload
// alone, no header).
func parseLegacyJournal(data []byte) ([]jrec, int) { return parseFrames(data, 0, false) }

// parseFrames returns the records of the whole frames at the start of data
// and the length of that prefix; it stops at the first short or damaged
// frame, or one of another generation.
func parseFrames(data []byte, gen uint64, withGen bool) ([]jrec, int) {
	var recs []jrec
	off := 0
	for len(data)-off >= 8 {
		n := binary.LittleEndian.Uint32(data[off:])
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if n == 0 || n > maxFrame || int(n) > len(data)-off-8 {
			break
		}
		p := data[off+8 : off+8+int(n)]
		if frameCRC(gen, withGen, p) != sum {
			break
		}
		r, ok := decodeFrame(p)
		if !ok {
			break
		}
		recs = append(recs, r)
		off += 8 + int(n)
	}
	return recs, off
}

// frameCRC is the CRC-32C of a frame's payload, preceded by its generation.
func frameCRC(gen uint64, withGen bool, p []byte) uint32 {
	c := uint32(0)
	if withGen {
		var g [8]byte
		binary.LittleEndian.PutUint64(g[:], gen)
		c = crc32.Update(c, crcTable, g[:])
	}
	return crc32.Update(c, crcTable, p)
}

// appendFrame appends the frame of one record of generation gen.
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

// decodeFrame inverts appendFrame's payload into the badger writes of the record.
func decodeFrame(p []byte) (jrec, bool) {
	var s [3]string
	for i := range s {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return jrec{}, false
		}
		s[i] = string(p[k : k+int(n)])
		p = p[k+int(n):]
	}
	if len(p) < 8 || checkTenant(s[0]) != nil || checkID(s[1]) != "" {
		return jrec{}, false
	}
	at := int64(binary.BigEndian.Uint64(p))
	return jrec{
		key:    tkey(s[0], kindDecision, s[1]),
		logKey: logKey(s[0], kindDecisionLog, s[2], at, s[1]),
		val:    bytes.Clone(p[8:]),
	}, true
}

// indexRecords writes records into badger in as many transactions as badger's
// limits need. Rewriting a record badger already holds (a replay) stores the
// same bytes again: the committer let only one value per id into the journal.
func (db *DB) indexRecords(recs []jrec) error {
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	for _, r := range recs {
		if err := wb.Set(r.key, r.val); err != nil {
			return fmt.Errorf("index decisions: %w", err)
		}
		if err := wb.Set(r.logKey, nil); err != nil {
			return fmt.Errorf("index decisions: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("index decisions: %w", err)
	}
	return nil
}

// indexer writes journaled records into badger, in batches, until stop
// closes and the queue is empty. The committer never waits for it: a badger
// stall (memtable flush, compaction) delays only the index, not decisions.
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
		recs, end := append(carry, jr.queue...), jr.qend
		jr.queue, carry = nil, nil
		jr.mu.Unlock()
		if len(recs) > 0 {
			err := db.indexRecords(recs)
			jr.mu.Lock()
			if err != nil {
				// The records stay pending (Decision still finds them), in the
				// journal (not truncated while idxErr is set; the next Open
				// replays them), and are retried with the next batch.
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
			if empty {
				return
			}
		default:
		}
		if carry != nil {
			select { // retry after a pause
			case jr.wake <- struct{}{}:
			default:
			}
		}
	}
}

// pendingValue returns the value of a record journaled but not yet indexed.
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
	target := jr.synced
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
		ok       bool
	}
	looks := make([]look, 0, units)
	lookup := false // some record's id must be proven unused
	jr.mu.Lock()
	for _, r := range group {
		for _, i := range r.units {
			key := tkey(r.tenant, kindDecision, r.recs[i].ID)
			var lk look
			lk.key = key
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
		mark := len(out)
		var fresh []int // units of r that the journal does not hold yet
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
				old, ok, err = get(txn, key)
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
			fresh = append(fresh, i)
			out = append(out, jrec{key: key, logKey: logKey(r.tenant, kindDecisionLog, rec.AccountID, rec.At, rec.ID), val: val})
		}
		if r.err != nil {
			out = out[:mark]
			continue
		}
		for k, i := range fresh {
			added[string(out[mark+k].key)] = out[mark+k].val
			buf = appendFrame(buf, jr.gen, r.tenant, &r.recs[i], r.vals[i])
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
	jr.written += int64(len(buf))
	jr.segs[jr.cur].end = jr.written
	jr.mu.Lock()
	jr.synced = jr.written
	jr.queue = append(jr.queue, out...)
	jr.qend = jr.written
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
// segment when it fits; else the other segment, started over in a new
// generation, when the index holds all its records; else on past the active
// segment's end (the file grows). Committer only.
func (jr *journal) prepare(need int64) {
	if jr.pos+need <= jr.segs[jr.cur].size {
		return
	}
	other := 1 - jr.cur
	jr.mu.Lock()
	free := jr.segs[other].end <= jr.indexed && jr.idxErr == nil
	jr.mu.Unlock()
	if !free || jr.pos == journalHeader {
		return // grow the active segment
	}
	jr.cur, jr.pos = other, journalHeader
	jr.gen++
}

// write puts b at the write offset of the active segment (after the round's
// header page when the round starts) and syncs its data.
func (jr *journal) write(b []byte) error {
	s := &jr.segs[jr.cur]
	if s.hdrGen != jr.gen {
		if _, err := s.f.WriteAt(segmentHeaderPage(jr.gen), 0); err != nil {
			return err
		}
		s.hdrGen = jr.gen
	}
	if _, err := s.f.WriteAt(b, jr.pos); err != nil {
		return err
	}
	jr.pos += int64(len(b))
	s.size = max(s.size, jr.pos)
	if !jr.sync {
		return nil
	}
	return datasync(s.f)
}

// syncAll syncs both segments' data.
func (jr *journal) syncAll() error {
	for i := range jr.segs {
		if err := datasync(jr.segs[i].f); err != nil {
			return err
		}
	}
	return nil
}

// closeFiles closes the segments that are open.
func (jr *journal) closeFiles() error {
	var err error
	for i := range jr.segs {
		if f := jr.segs[i].f; f != nil {
			if e := f.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	return err
}

// closeJournal waits for the indexer and, when badger holds every record,
// ends both segments' rounds (new headers, no frames), so that the next Open
// replays nothing; then closes them.
func (db *DB) closeJournal() error {
	jr := db.jr
	close(jr.stop)
	<-jr.idxDone
	var err error
	if jr.failed == nil && jr.idxErr == nil {
		for i := range jr.segs {
			jr.gen++
			if _, e := jr.segs[i].f.WriteAt(segmentHeaderPage(jr.gen), 0); e != nil && err == nil {
				err = e
			}
		}
		if e := jr.syncAll(); e != nil && err == nil {
			err = e
		}
	}
	if e := jr.closeFiles(); e != nil && err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	return nil
}
