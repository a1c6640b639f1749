package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// DecisionRecord is the audit record of one decision: what serving answered, kept
// as the opaque JSON it returned so the audit shows exactly that.
type DecisionRecord struct {
	ID        string          `json:"decision_id"`
	AccountID string          `json:"account_id"`
	At        int64           `json:"at"` // decision time, UTC micros
	Payload   json.RawMessage `json:"payload"`
	// Compact says Payload came from encoding/json (json.Marshal): valid and
	// compact, so PutDecisions skips re-scanning it, which is a tenth of a
	// decision's CPU. Set it only for such payloads: a record stored with an
	// invalid payload cannot be read back.
	Compact bool `json:"-"`
	// Fresh says ID was never used before: the caller made it unique (as
	// serving does, from its boot time and a counter), so PutDecisions skips
	// the reads that prove it unused (a lookup in every memtable and level
	// per record), and a batch of Fresh records is not checked for an id
	// used twice in it. Set it only for such ids: a Fresh record stored under
	// a used id replaces the record there.
	Fresh bool `json:"-"`
	// Stored, when not nil, is the record's stored form as the caller built
	// it around Payload: AppendDecisionHead, then the payload, then '}', with
	// Payload the slice of Stored between them (the same memory). PutDecisions
	// then stores it as is instead of copying the payload into a new record;
	// a Stored that is not exactly that (checked) is ignored. It needs Compact.
	// The store keeps Stored (and Payload): neither may change afterwards.
	Stored []byte `json:"-"`
}

// AppendDecisionHead appends the stored form's head of a record (everything
// before its payload) and reports whether that form can be built around a
// payload in place (ids that JSON writes unchanged); see DecisionRecord.Stored.
func AppendDecisionHead(b []byte, id, account string, at int64) ([]byte, bool) {
	if !plainJSONString(id) || !plainJSONString(account) {
		return b, false
	}
	b = append(b, `{"decision_id":"`...)
	b = append(b, id...)
	b = append(b, `","account_id":"`...)
	b = append(b, account...)
	b = append(b, `","at":`...)
	b = strconv.AppendInt(b, at, 10)
	return append(b, `,"payload":`...), true
}

// storedInPlace returns r.Stored when it is exactly the stored form of r with
// r.Payload inside it.
func storedInPlace(r *DecisionRecord) ([]byte, bool) {
	st, p := r.Stored, r.Payload
	h := len(st) - len(p) - 1
	if !r.Compact || len(p) == 0 || h <= 0 || &st[h] != &p[0] || st[len(st)-1] != '}' {
		return nil, false
	}
	var buf [128]byte
	head, ok := AppendDecisionHead(buf[:0], r.ID, r.AccountID, r.At)
	if !ok || !bytes.Equal(head, st[:h]) {
		return nil, false
	}
	return st, true
}

// encodeRecord returns the stored form of r, byte for byte what json.Marshal
// gives, without re-scanning a payload marked Compact.
func encodeRecord(r *DecisionRecord) ([]byte, error) {
	if st, ok := storedInPlace(r); ok {
		return st, nil
	}
	if !r.Compact || len(r.Payload) == 0 || !plainJSONString(r.ID) || !plainJSONString(r.AccountID) {
		return json.Marshal(r)
	}
	b, _ := AppendDecisionHead(make([]byte, 0, len(r.Payload)+len(r.ID)+len(r.AccountID)+64), r.ID, r.AccountID, r.At)
	b = append(b, r.Payload...)
	return append(b, '}'), nil
}

// plainJSONString reports whether encoding/json writes s between quotes
// unchanged (printable ASCII without quote, backslash or HTML specials).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// PutDecisions stores decision audit records, all or nothing. Records are
// immutable: putting the same record again is a no-op, putting a different record
// under a used id refuses the batch with a *RowError.
//
// Concurrent calls are group-committed: one transaction and one sync for every
// call waiting at that moment (see group.go); each call still returns only
// after its own records are durable, and a refused call stores nothing without
// affecting the others.
func (db *DB) PutDecisions(tenant string, recs []DecisionRecord) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	r := &decReq{tenant: tenant, recs: recs, done: make(chan struct{})}
	if len(recs) == 1 {
		r.vals = r.one[:] // a one-record call (every single decision) allocates no slice
	} else {
		r.vals = make([][]byte, len(recs))
	}
	// Encode (and validate) the records, in parallel for large batches:
	// Marshal validates and compacts each payload (a json.RawMessage).
	encode := func(i int) error {
		rec := &recs[i]
		row := func(field, reason string) error {
			return &RowError{Kind: "decision", Row: i, ID: rec.ID, Field: field, Reason: reason}
		}
		if s := checkID(rec.ID); s != "" {
			return row("decision_id", s)
		} else if s := checkID(rec.AccountID); s != "" {
			return row("account_id", s)
		} else if v, err := encodeRecord(rec); err != nil {
			return row("payload", "not valid JSON")
		} else {
			r.vals[i] = v
		}
		return nil
	}
	if w := runtime.GOMAXPROCS(0); len(recs) >= 256 && w > 1 {
		bad := make([]error, len(recs))
		var wg sync.WaitGroup
		chunk := (len(recs) + w - 1) / w
		for lo := 0; lo < len(recs); lo += chunk {
			wg.Add(1)
			go func(lo, hi int) {
				defer wg.Done()
				for i := lo; i < hi; i++ {
					bad[i] = encode(i)
				}
			}(lo, min(lo+chunk, len(recs)))
		}
		wg.Wait()
		for _, err := range bad {
			if err != nil {
				return err
			}
		}
	} else {
		for i := range recs {
			if err := encode(i); err != nil {
				return err
			}
		}
	}
	// seen: the ids of the batch. One record needs none, nor a batch of
	// Fresh records (unique by the caller's word; the committer would still
	// refuse one id with two contents, see journalGroup).
	var seen map[string]int
	if len(recs) > 1 && !allFresh(recs) {
		seen = make(map[string]int, len(recs))
	}
	if len(recs) == 1 {
		r.units = r.unit[:0]
	} else {
		r.units = make([]int, 0, len(recs))
	}
	for i := range recs {
		rec, v := &recs[i], r.vals[i]
		if j, ok := seen[rec.ID]; ok {
			if !bytes.Equal(r.vals[j], v) {
				return &RowError{Kind: "decision", Row: i, ID: rec.ID, Field: "decision_id", Reason: fmt.Sprintf("reused in this batch with different content (row %d)", j)}
			}
			continue
		}
		if seen != nil {
			seen[rec.ID] = i
		}
		r.units = append(r.units, i)
		k := int64(len(rec.ID) + len(tenant) + 8)
		r.count += 2
		r.size += k + int64(len(v)) + 12 + k + int64(len(rec.AccountID)) + 20
	}
	if len(r.units) == 0 {
		return nil
	}
	var err error
	if !db.jr.writing() && r.count*2 > db.bdb.MaxBatchCount()*groupBudget/10 || r.size*2 > db.bdb.MaxBatchSize()*groupBudget/10 {
		err = db.putDecisionsDirect(r)
	} else {
		select {
		case db.decCh <- r:
			select {
			case <-r.done:
				err = r.err
			case <-db.decDone: // closed before the committer saw r
				select {
				case <-r.done:
					err = r.err
				default:
					err = errClosed
				}
			}
		case <-db.decStop:
			err = errClosed
		}
	}
	if err != nil {
		return fmt.Errorf("put decisions: %w", err)
	}
	return nil
}

// allFresh reports whether every record is marked Fresh.
func allFresh(recs []DecisionRecord) bool {
	for i := range recs {
		if !recs[i].Fresh {
			return false
		}
	}
	return true
}

// PutDecision stores one decision audit record; see PutDecisions.
func (db *DB) PutDecision(tenant string, r DecisionRecord) error {
	return db.PutDecisions(tenant, []DecisionRecord{r})
}

// Decision returns one decision audit record; the error wraps ErrNotFound when
// absent.
func (db *DB) Decision(tenant, id string) (DecisionRecord, error) {
	var r DecisionRecord
	if err := checkTenant(tenant); err != nil {
		return r, err
	}
	if db.jr != nil {
		if v, ok := db.jr.pendingValue(tkey(tenant, kindDecision, id)); ok {
			if err := json.Unmarshal(v, &r); err != nil {
				return r, fmt.Errorf("get decision: %w", err)
			}
			return r, nil
		}
	}
	err := db.bdb.View(func(txn *badger.Txn) error {
		v, ok, err := get(txn, tkey(tenant, kindDecision, id))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("decision %q: %w", id, ErrNotFound)
		}
		if v, err = db.record(v); err != nil {
			return err
		}
		return json.Unmarshal(v, &r)
	})
	if err != nil {
		return r, fmt.Errorf("get decision: %w", err)
	}
	return r, nil
}

// Decisions returns an account's decision records with from <= At < to, oldest
// first. Use math.MinInt64 and math.MaxInt64 for open ends.
func (db *DB) Decisions(tenant, account string, from, to int64) ([]DecisionRecord, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if db.jr != nil {
		// Every record acknowledged before this call must be listed.
		if err := db.jr.waitIndexed(); err != nil {
			return nil, fmt.Errorf("decisions of account %q: %w", account, err)
		}
	}
	var out []DecisionRecord
	prefix := logPrefix(tenant, kindDecisionLog, account)
	err := db.bdb.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = prefix
		o.PrefetchValues = false
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Seek(appendTime(append([]byte{}, prefix...), from)); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			k := item.Key()
			if len(k) < len(prefix)+8 {
				return fmt.Errorf("%w: decision log key", errCorrupt)
			}
			if to != math.MaxInt64 && readTime(k[len(prefix):]) >= to {
				return nil
			}
			id := string(k[len(prefix)+8:])
			// The log entry points at the record in the journal; entries of
			// earlier layouts are empty and the record is under its id.
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(v) == 0 {
				var ok bool
				if v, ok, err = get(txn, tkey(tenant, kindDecision, id)); err != nil {
					return err
				} else if !ok {
					return fmt.Errorf("%w: decision %q in log but not stored", errCorrupt, id)
				}
			}
			if v, err = db.record(v); err != nil {
				return fmt.Errorf("decision %q: %w", id, err)
			}
			var r DecisionRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("%w: decision %q: %v", errCorrupt, id, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decisions of account %q: %w", account, err)
	}
	return out, nil
}
