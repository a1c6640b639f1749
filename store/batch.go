package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// entry is one key-value write planned for a transaction.
type entry struct{ key, val []byte }

// part is everything one unit of a batch (an account's events, one account, one
// decision) writes. A part always commits whole, in one transaction.
type part struct {
	entries []entry
	change  *Change // appended to the tenant's change feed when non-nil
}

// changeCost bounds the badger cost of a change-feed entry plus the counter write.
const changeCost = 512

// cost estimates the part's badger transaction cost the way badger counts it
// (Txn.checkSize: key + value + 2 meta bytes + 10 version bytes).
func (p *part) cost() (count, size int64) {
	for _, e := range p.entries {
		count++
		size += int64(len(e.key)+len(e.val)) + 12
	}
	if p.change != nil {
		count += 2
		size += changeCost
	}
	return count, size
}

// planFunc reads what unit i needs inside txn and returns its writes without
// applying them. It may be called more than once for the same unit (a retry after
// a conflict, or a split), so it must have no side effects beyond its result slot.
type planFunc func(txn *badger.Txn, i int) (part, error)

// maxConflicts bounds retries of a transaction that lost a conflict.
const maxConflicts = 32

// commitStats reports how a batch was committed.
type commitStats struct {
	parts   int      // transactions committed
	changes []Change // change-feed entries appended, in sequence order
}

// commitUnits plans and commits n units. The first transaction plans every unit,
// so that an input error anywhere in the batch is found before anything is
// written; units are then committed in as few transactions as badger's size limit
// allows, each unit whole in one of them. It returns only after all committed.
func (db *DB) commitUnits(tenant string, n int, plan planFunc, name func(i int) string) (commitStats, error) {
	var st commitStats
	budgetCount := db.bdb.MaxBatchCount() * 8 / 10
	budgetSize := db.bdb.MaxBatchSize() * 8 / 10
	validated, conflicts := false, 0
	for start := 0; start < n; {
		txn := db.bdb.NewTransaction(true)
		var plans []part
		var cnt, size int64
		end := start
		for i := start; i < n; i++ {
			p, err := plan(txn, i)
			if err != nil {
				txn.Discard()
				if st.parts > 0 {
					return st, fmt.Errorf("batch partly committed (%d parts); replay it: %w", st.parts, err)
				}
				return st, err
			}
			if end == i {
				c, s := p.cost()
				if i == start || (cnt+c <= budgetCount && size+s <= budgetSize) {
					cnt, size = cnt+c, size+s
					plans = append(plans, p)
					end = i + 1
					continue
				}
			}
			if validated {
				break // later units are planned again in their own transaction
			}
		}
		changes, err := db.apply(txn, tenant, plans)
		if errors.Is(err, badger.ErrTxnTooBig) {
			txn.Discard()
			if end-start == 1 {
				return st, fmt.Errorf("%s: too large for one transaction (%d writes, %d bytes); send it in smaller batches: %w", name(start), cnt, size, err)
			}
			budgetCount, budgetSize = cnt/2, size/2 // the estimate was off: shrink and redo
			continue
		}
		if err != nil {
			txn.Discard()
			return st, fmt.Errorf("write batch: %w", err)
		}
		if err := txn.Commit(); err != nil {
			if errors.Is(err, badger.ErrConflict) && conflicts < maxConflicts {
				conflicts++
				continue
			}
			if st.parts > 0 {
				return st, fmt.Errorf("commit batch: partly committed (%d parts); replay it: %w", st.parts, err)
			}
			return st, fmt.Errorf("commit batch: %w", err)
		}
		st.parts++
		st.changes = append(st.changes, changes...)
		validated = true
		start = end
	}
	return st, nil
}

// apply sets the planned writes in txn and numbers the change-feed entries from the
// tenant's counter, which it advances in the same transaction.
func (db *DB) apply(txn *badger.Txn, tenant string, plans []part) ([]Change, error) {
	var (
		changes []Change
		seq     uint64
		loaded  bool
		now     = time.Now().UnixMicro()
	)
	counter := tenantPrefix(tenant, kindCounter)
	for _, p := range plans {
		for _, e := range p.entries {
			if err := txn.Set(e.key, e.val); err != nil {
				return nil, err
			}
		}
		if p.change == nil {
			continue
		}
		if !loaded {
			v, ok, err := get(txn, counter)
			if err != nil {
				return nil, err
			}
			if ok {
				if len(v) != 8 {
					return nil, fmt.Errorf("%w: change counter", errCorrupt)
				}
				seq = binary.BigEndian.Uint64(v)
			}
			loaded = true
		}
		seq++
		c := *p.change
		c.Seq, c.Recorded = seq, now
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		if err := txn.Set(changeKey(tenant, seq), b); err != nil {
			return nil, err
		}
		changes = append(changes, c)
	}
	if len(changes) > 0 {
		if err := txn.Set(counter, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return nil, err
		}
	}
	return changes, nil
}
