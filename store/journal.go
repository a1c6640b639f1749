package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Decision audit journal.
//
// A synced badger commit costs far more than a plain append and fdatasync of
// a small file (about 1.8 ms against 0.4 ms where this was measured), and the
// sync is what every decision waits for. With a journal, the committer
// (group.go) appends each group's records to one append-only file and
// fdatasyncs it once; callers are released only after that sync, so a 2xx
// still means "durable". An indexer goroutine then writes the records into
// badger (the index behind Decision and Decisions) in large batches. On Open,
// records left in the journal by a crash are written into badger before the
// store is used; records are immutable by id, so replaying one that badger
// already holds changes nothing.
//
// Frame: 4 bytes payload length, 4 bytes CRC-32C of the payload, payload
// (little endian). Payload: uvarint-length-prefixed tenant, decision id and
// account, 8 bytes decision time, then the encoded record (the value stored in
// badger). A frame is appended whole and synced before its caller returns, so
// only a tail that was never acknowledged can be torn: replay stops at the
// first frame that is short or fails its CRC and truncates the file there.
//
// Exactness of "an id holds one record": the committer checks each id against
// the records journaled but not yet indexed (pending, in memory) and then
// against badger. The indexer removes a record from pending only after its
// badger commit, so one of the two always sees it.

// journalName is the journal's file in the store directory.
const journalName = "decisions.journal"

// journalTruncate is the size past which the committer empties the journal
// once everything in it is indexed (and synced) in badger.
const journalTruncate = 64 << 20

// maxFrame bounds a frame's payload; a larger length is damage.
const maxFrame = 1 << 30

// The indexer commits to badger at most every indexDelay, or when indexMax
// records are waiting, or when Decisions asks for everything.
const (
	indexDelay = 20 * time.Millisecond
	indexMax   = 1 << 14
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// jrec is one journaled record on its way to badger.
type jrec struct {
	key, logKey, val []byte
}

// journal is the open journal of a DB.
type journal struct {
	f    *os.File
	sync bool // fdatasync each group (Options.SyncWrites)

	// Committer only.
	base    int64 // logical offset of the file's first byte
	written int64 // logical offset after the last synced group
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

// openJournal replays what a crash left in the journal into badger, truncates
// the journal and starts the indexer.
func (db *DB) openJournal(dir string) error {
	path := filepath.Join(dir, journalName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	jr := &journal{f: f, sync: db.opts.SyncWrites, wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), stop: make(chan struct{}), idxDone: make(chan struct{}), pending: map[string][]byte{}}
	jr.cond = sync.NewCond(&jr.mu)
	if err := db.replayJournal(f); err != nil {
		f.Close()
		return fmt.Errorf("replay journal %s: %w", path, err)
	}
	db.jr = jr
	go db.indexer()
	return nil
}

// replayJournal writes every whole record of the journal into badger (synced),
// then empties the journal.
func (db *DB) replayJournal(f *os.File) error {
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	recs, good := parseJournal(data)
	if len(recs) > 0 {
		if err := db.indexRecords(recs); err != nil {
			return err
		}
		db.opts.logger().Info("store: replayed decision journal", "records", len(recs), "bytes", good, "torn_tail_bytes", len(data)-good)
	} else if good < len(data) {
		db.opts.logger().Warn("store: dropped torn tail of decision journal", "bytes", len(data)-good)
	}
	// Everything is in badger (synced under SyncWrites): start empty.
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return f.Sync()
}

// parseJournal returns the records of the whole frames at the start of data
// and the length of that prefix; it stops at the first short or damaged frame.
func parseJournal(data []byte) ([]jrec, int) {
	var recs []jrec
	off := 0
	for len(data)-off >= 8 {
		n := binary.LittleEndian.Uint32(data[off:])
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if n > maxFrame || int(n) > len(data)-off-8 {
			break
		}
		p := data[off+8 : off+8+int(n)]
		if crc32.Checksum(p, crcTable) != sum {
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

// appendFrame appends the frame of one record.
func appendFrame(b []byte, tenant string, rec *DecisionRecord, val []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	b = appendLP(b, tenant)
	b = appendLP(b, rec.ID)
	b = appendLP(b, rec.AccountID)
	b = binary.BigEndian.AppendUint64(b, uint64(rec.At))
	b = append(b, val...)
	p := b[start+8:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(p)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(p, crcTable))
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
	db.maybeTruncateJournal()
	need := 0
	for _, r := range group {
		for _, i := range r.units {
			need += len(r.vals[i]) + len(r.recs[i].ID) + len(r.recs[i].AccountID) + len(r.tenant) + 32
		}
	}
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
	var looks []look
	jr.mu.Lock()
	for _, r := range group {
		for _, i := range r.units {
			key := tkey(r.tenant, kindDecision, r.recs[i].ID)
			old, ok := jr.pending[string(key)]
			looks = append(looks, look{key, old, ok})
		}
	}
	jr.mu.Unlock()
	txn := db.bdb.NewTransaction(false)
	defer txn.Discard()
	var out []jrec
	added := map[string][]byte{} // this group's records, until they are pending
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
			if !ok {
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
			buf = appendFrame(buf, r.tenant, &r.recs[i], r.vals[i])
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
	err := jr.append(buf)
	if cap(buf) <= 1<<20 {
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

// append writes b at the end of the journal and syncs its data.
func (jr *journal) append(b []byte) error {
	if _, err := jr.f.Write(b); err != nil {
		return err
	}
	if !jr.sync {
		return nil
	}
	return datasync(jr.f)
}

// maybeTruncateJournal empties a large journal whose records are all in
// badger. Committer only: nothing is appended meanwhile.
func (db *DB) maybeTruncateJournal() {
	jr := db.jr
	if jr.written-jr.base < journalTruncate {
		return
	}
	jr.mu.Lock()
	caught := jr.indexed == jr.written && jr.idxErr == nil
	jr.mu.Unlock()
	if !caught {
		return
	}
	if err := jr.f.Truncate(0); err != nil {
		db.opts.logger().Warn("store: truncate decision journal", "err", err)
		return
	}
	if _, err := jr.f.Seek(0, io.SeekStart); err != nil {
		jr.failed = fmt.Errorf("decision journal: %w", err)
		return
	}
	jr.base = jr.written
}

// closeJournal waits for the indexer and empties and closes the journal.
func (db *DB) closeJournal() error {
	jr := db.jr
	close(jr.stop)
	<-jr.idxDone
	var err error
	if jr.failed == nil && jr.idxErr == nil {
		if e := jr.f.Truncate(0); e != nil {
			err = e
		}
	}
	if e := jr.f.Close(); e != nil && err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	return nil
}
