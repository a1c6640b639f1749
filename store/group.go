package store

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Group commit of decision audit records.
//
// A synced badger commit costs one flush of the write-ahead log (msync of the
// active memtable's WAL): hundreds of microseconds, whatever the size of the
// transaction. Serving writes one small audit record per decision, from many
// requests at once, so PutDecisions hands its (already validated and encoded)
// records to one committer goroutine. The committer takes every request
// waiting, plans them all in one transaction (each request all or nothing:
// a request whose records are refused is left out and gets its own error),
// commits once, which syncs once under Options.SyncWrites, and only then
// releases every waiting caller. A caller therefore returns exactly when its
// records are durable, as before; only the number of syncs changes.
//
// With a decision journal (journal.go, the default on disk) the committer
// hands each group to journalGroup instead: one append and fdatasync of the
// journal, no badger transaction; everything below about transactions is
// the path without a journal.
//
// Durability does not rest on badger's DB.Sync: the store keeps SyncWrites on,
// so the commit of the grouped transaction itself returns after the WAL sync
// (badger's writeToLSM calls SyncWAL on the memtable the entries went into,
// including right after a memtable rotation, which DB.Sync would miss).

// groupBudget is the share of badger's transaction limits one group may fill;
// a request larger than half of it skips the committer and commits on its own
// (split between units when needed, see commitUnits).
const groupBudget = 8 // tenths

// decReq is one PutDecisions call waiting for the committer.
type decReq struct {
	tenant string
	recs   []DecisionRecord
	vals   [][]byte  // encoded records, by row
	one    [1][]byte // vals of a one-record request
	unit   [1]int    // units of a one-record request
	units  []int     // rows to store (first occurrence of each id)
	count  int64     // badger cost estimate of the request
	size   int64
	err    error
	done   chan struct{}
}

// committer is the goroutine behind group commit; it runs until stop closes.
func (db *DB) committer() {
	defer close(db.decDone)
	var carry *decReq
	for {
		var first *decReq
		if carry != nil {
			first, carry = carry, nil
		} else {
			select {
			case first = <-db.decCh:
			case <-db.decStop:
				// Close: serve what is still queued, then stop.
				for {
					select {
					case r := <-db.decCh:
						db.commit([]*decReq{r})
					default:
						return
					}
				}
			}
		}
		group := []*decReq{first}
		count, size := first.count, first.size
		maxCount := db.bdb.MaxBatchCount() * groupBudget / 10
		maxSize := db.bdb.MaxBatchSize() * groupBudget / 10
		if db.jr.writing() { // a journal group has no size limit
			maxCount, maxSize = math.MaxInt64, math.MaxInt64
		}
		// take adds r to the group, or keeps it for the next one when it would
		// exceed the group's budget.
		take := func(r *decReq) bool {
			if count+r.count > maxCount || size+r.size > maxSize {
				carry = r
				return false
			}
			group = append(group, r)
			count, size = count+r.count, size+r.size
			return true
		}
	drain:
		for len(group) < 4096 {
			select {
			case r := <-db.decCh:
				if !take(r) {
					break drain
				}
			default:
				break drain
			}
		}
		// Callers that announced a write (ExpectDecisions) are about to send
		// it: wait for them, up to the duration of the last commit, so that
		// one sync covers them instead of each paying for its own.
		if carry == nil && db.expect.Load() > 0 {
			wait := min(max(db.lastCommit, 100*time.Microsecond), maxGroupWait)
			timer := time.NewTimer(wait)
		linger:
			for db.expect.Load() > 0 && len(group) < 4096 {
				select {
				case r := <-db.decCh:
					if !take(r) {
						break linger
					}
				case <-timer.C:
					break linger
				}
			}
			timer.Stop()
		}
		t := time.Now()
		db.commit(group)
		db.lastCommit = time.Since(t)
	}
}

// maxGroupWait bounds how long the committer waits for announced writes.
const maxGroupWait = 2 * time.Millisecond

// ExpectDecisions announces a PutDecisions call that the caller is about to
// make (serving calls it when it starts deciding): while announced calls are
// pending, the committer waits for them (up to the duration of its last
// commit, at most 2 ms) so that they share one sync. Call the returned func
// exactly once, just before PutDecisions or when giving up.
func (db *DB) ExpectDecisions() (done func()) {
	db.expect.Add(1)
	return db.unexpect
}

// commit stores a group: through the journal when the store has one.
func (db *DB) commit(group []*decReq) {
	if db.jr.writing() {
		db.journalGroup(group)
		return
	}
	db.commitGroup(group)
}

// commitGroup stores the requests of a group in one transaction. A request
// refused during planning (a decision id reused with other content) gets its
// error and writes nothing; the others commit together. When the commit fails
// every remaining request gets the error, and nothing of theirs is stored.
func (db *DB) commitGroup(group []*decReq) {
	defer func() {
		for _, r := range group {
			close(r.done)
		}
	}()
	for attempt := 0; ; attempt++ {
		txn := db.bdb.NewTransaction(true)
		ok := 0
		var err error
		for _, r := range group {
			r.err = nil
			var parts []part
			for _, i := range r.units {
				var p part
				if p, r.err = db.planDecision(txn, r.tenant, &r.recs[i], i, r.vals[i]); r.err != nil {
					break
				}
				parts = append(parts, p)
			}
			if r.err != nil {
				continue
			}
			for _, p := range parts {
				for _, e := range p.entries {
					if err = txn.Set(e.key, e.val); err != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			if err != nil {
				break
			}
			ok++
		}
		if err == nil && ok > 0 {
			err = txn.Commit()
		} else {
			txn.Discard()
		}
		switch {
		case err == nil:
			return
		case errors.Is(err, badger.ErrConflict) && attempt < maxConflicts:
			continue
		case errors.Is(err, badger.ErrTxnTooBig) && len(group) > 1:
			// The estimate was off: commit the requests one by one instead.
			for _, r := range group {
				r.err = db.putDecisionsDirect(r)
			}
			return
		}
		for _, r := range group {
			if r.err == nil {
				r.err = fmt.Errorf("commit: %w", err)
			}
		}
		return
	}
}

// planDecision returns the writes of one audit record: none when the same
// record is stored already, a *RowError when its id holds another record.
func (db *DB) planDecision(txn *badger.Txn, tenant string, r *DecisionRecord, row int, val []byte) (part, error) {
	key := tkey(tenant, kindDecision, r.ID)
	var it *badger.Item
	err := badger.ErrKeyNotFound
	if !r.Fresh {
		it, err = txn.Get(key)
	}
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
	case err != nil:
		return part{}, fmt.Errorf("read decision %q: %w", r.ID, err)
	default:
		same := false
		if err := it.Value(func(old []byte) error {
			old, err := db.record(old) // a pointer into the journal, when it wrote the record
			same = err == nil && string(old) == string(val)
			return err
		}); err != nil {
			return part{}, fmt.Errorf("read decision %q: %w", r.ID, err)
		}
		if !same {
			return part{}, &RowError{Kind: "decision", Row: row, ID: r.ID, Field: "decision_id", Reason: "already stored with different content"}
		}
		return part{}, nil
	}
	return part{entries: []entry{
		{key, val},
		{logKey(tenant, kindDecisionLog, r.AccountID, r.At, r.ID), nil},
	}}, nil
}

// putDecisionsDirect commits one request without the committer, split
// between records when it is too large for one transaction.
func (db *DB) putDecisionsDirect(r *decReq) error {
	plan := func(txn *badger.Txn, u int) (part, error) {
		i := r.units[u]
		return db.planDecision(txn, r.tenant, &r.recs[i], i, r.vals[i])
	}
	name := func(u int) string { return fmt.Sprintf("decision %q", r.recs[r.units[u]].ID) }
	_, err := db.commitUnits(r.tenant, len(r.units), plan, name)
	return err
}
