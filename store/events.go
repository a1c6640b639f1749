package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"sort"

	"github.com/dgraph-io/badger/v4"

	"github.com/engagehq/engage/datasets"
)

// FeatureFunc folds an account's new events into its opaque online feature state.
// old is nil for an account without state; evs are the events of the batch that
// were not stored before, oldest first. It must be deterministic and free of side
// effects: the store may call it more than once for the same input (transaction
// retries, split batches) and keeps only the result of the committed call.
type FeatureFunc func(acct string, old []byte, evs []datasets.Event) ([]byte, error)

// StatusFunc returns an account's status after its new events, given the status
// stored before (prev, "" at first) and the feature state just computed. When the
// result differs from prev the store saves it and appends a Change to the tenant's
// feed. Same purity rules as FeatureFunc.
type StatusFunc func(acct string, prev string, state []byte, evs []datasets.Event) (string, error)

// Apply holds the caller's hooks run inside the append transaction. The store
// does not interpret feature state or statuses: the features and serving packages
// own their meaning. Nil hooks are skipped.
type Apply struct {
	Features FeatureFunc
	Status   StatusFunc
}

// Change is one account status change in a tenant's feed.
type Change struct {
	Seq       uint64 `json:"seq"` // gap-free, increasing in commit order, per tenant
	AccountID string `json:"account_id"`
	From      string `json:"from"`
	To        string `json:"to"`
	At        int64  `json:"at"`          // time of the latest event that led to it, UTC micros
	EventID   string `json:"event_id"`    // that event
	Recorded  int64  `json:"recorded_at"` // commit wall time, UTC micros
}

// AppendResult reports what an append did.
type AppendResult struct {
	Appended   int      // events stored by this call
	Duplicates []string // event ids already stored (or repeated in the batch): no-ops
	Changes    []Change // status changes appended to the feed
	Parts      int      // transactions used; more than 1 only for batches too large for one
}

// hashLen is how much of the SHA-256 of an event's encoding the idempotency record
// keeps: enough that a different event with a reused id is never taken for a replay.
const hashLen = 16

// AppendEvents stores a batch of events, idempotent by event_id, and in the same
// transaction updates each touched account's event log, feature state (through
// ap.Features) and status (through ap.Status, appending to the change feed).
//
// A row with an empty id or type, an unknown account or an event_id already used
// for different content refuses the whole batch with a *RowError and stores
// nothing. A stored or repeated identical event is a no-op listed in Duplicates.
// See the package doc for how batches too large for one transaction are split.
func (db *DB) AppendEvents(tenant string, evs []datasets.Event, ap Apply) (AppendResult, error) {
	var res AppendResult
	if err := checkTenant(tenant); err != nil {
		return res, err
	}
	encs := make([][]byte, len(evs))
	first := make(map[string]int, len(evs))
	var batchDups []string
	type group struct {
		acct string
		rows []int
	}
	var groups []group
	groupOf := make(map[string]int)
	for i := range evs {
		e := &evs[i]
		bad := func(field, reason string) error {
			return &RowError{Kind: "event", Row: i, ID: e.EventID, Field: field, Reason: reason}
		}
		if r := checkID(e.EventID); r != "" {
			return res, bad("event_id", r)
		}
		if r := checkID(e.AccountID); r != "" {
			return res, bad("account_id", r)
		}
		if e.Type == "" {
			return res, bad("type", "empty")
		}
		if e.Tenant != "" && e.Tenant != tenant {
			return res, bad("tenant", fmt.Sprintf("belongs to tenant %q, not %q", e.Tenant, tenant))
		}
		encs[i] = encodeEvent(nil, e)
		if j, ok := first[e.EventID]; ok {
			if !bytes.Equal(encs[j], encs[i]) {
				return res, bad("event_id", fmt.Sprintf("reused in this batch with different content (row %d)", j))
			}
			batchDups = append(batchDups, e.EventID)
			continue
		}
		first[e.EventID] = i
		g, ok := groupOf[e.AccountID]
		if !ok {
			g = len(groups)
			groupOf[e.AccountID] = g
			groups = append(groups, group{acct: e.AccountID})
		}
		groups[g].rows = append(groups[g].rows, i)
	}
	for _, g := range groups {
		sort.SliceStable(g.rows, func(a, b int) bool { return evs[g.rows[a]].At < evs[g.rows[b]].At })
	}

	unlock := db.lockTenant(tenant)
	defer unlock()
	filter, err := db.eventIDFilter(tenant)
	if err != nil {
		return res, fmt.Errorf("append events: event ids: %w", err)
	}

	dups := make([][]string, len(groups))
	added := make([]int, len(groups))
	plan := func(txn *badger.Txn, u int) (part, error) {
		g := groups[u]
		dups[u], added[u] = nil, 0
		bad := func(row int, field, reason string) error {
			return &RowError{Kind: "event", Row: row, ID: evs[row].EventID, Field: field, Reason: reason}
		}
		// The state record exists once an account has events; accounts are never
		// deleted, so it also proves the account exists and saves a read.
		skey := tkey(tenant, kindState, g.acct)
		rec, haveState, err := get(txn, skey)
		if err != nil {
			return part{}, fmt.Errorf("read state of %q: %w", g.acct, err)
		}
		if !haveState {
			if _, ok, err := get(txn, tkey(tenant, kindAccount, g.acct)); err != nil {
				return part{}, fmt.Errorf("read account %q: %w", g.acct, err)
			} else if !ok {
				return part{}, bad(g.rows[0], "account_id", fmt.Sprintf("unknown account %q (refer it first)", g.acct))
			}
		}
		prev, old, err := splitState(rec)
		if err != nil {
			return part{}, fmt.Errorf("state of %q: %w", g.acct, err)
		}
		var p part
		var fresh []datasets.Event
		for _, row := range g.rows {
			e := &evs[row]
			sum := sha256.Sum256(encs[row])
			idKey := tkey(tenant, kindEventID, e.EventID)
			var stored []byte
			var ok bool
			if id := idKey[len(idKey)-len(e.EventID):]; filter.mayContain(id) {
				if stored, ok, err = get(txn, idKey); err != nil {
					return part{}, fmt.Errorf("read event %q: %w", e.EventID, err)
				}
			} else {
				filter.add(id) // certainly new; from now on "maybe"
			}
			if ok {
				if len(stored) < hashLen || !bytes.Equal(stored[:hashLen], sum[:hashLen]) {
					return part{}, bad(row, "event_id", "already stored with different content")
				}
				dups[u] = append(dups[u], e.EventID)
				continue
			}
			loc := appendTime(appendLP(append(make([]byte, 0, hashLen+len(g.acct)+12), sum[:hashLen]...), g.acct), e.At)
			p.entries = append(p.entries,
				entry{idKey, loc},
				entry{logKey(tenant, kindEventLog, g.acct, e.At, e.EventID), encs[row]})
			ev := *e
			ev.Tenant = tenant
			fresh = append(fresh, ev)
		}
		if len(fresh) == 0 {
			return part{}, nil
		}
		added[u] = len(fresh)
		state, next := old, prev
		if ap.Features != nil {
			if state, err = ap.Features(g.acct, old, fresh); err != nil {
				return part{}, fmt.Errorf("features of account %q: %w", g.acct, err)
			}
		}
		if ap.Status != nil {
			if next, err = ap.Status(g.acct, prev, state, fresh); err != nil {
				return part{}, fmt.Errorf("status of account %q: %w", g.acct, err)
			}
		}
		if !haveState || next != prev || !bytes.Equal(state, old) {
			p.entries = append(p.entries, entry{skey, joinState(next, state)})
		}
		if next != prev {
			last := fresh[len(fresh)-1]
			p.change = &Change{AccountID: g.acct, From: prev, To: next, At: last.At, EventID: last.EventID}
		}
		return p, nil
	}
	name := func(u int) string {
		return fmt.Sprintf("account %q (%d events)", groups[u].acct, len(groups[u].rows))
	}
	st, err := db.commitUnits(tenant, len(groups), plan, name)
	if err != nil {
		return res, fmt.Errorf("append events: %w", err)
	}
	res.Parts, res.Changes = st.parts, st.changes
	for u := range groups {
		res.Appended += added[u]
		res.Duplicates = append(res.Duplicates, dups[u]...)
	}
	res.Duplicates = append(res.Duplicates, batchDups...)
	return res, nil
}

// Events returns an account's events with from <= At < to, oldest first (ties by
// event id): the journey timeline and the compliance contact ledger. Use
// math.MinInt64 and math.MaxInt64 for open ends.
func (db *DB) Events(tenant, account string, from, to int64) ([]datasets.Event, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	var out []datasets.Event
	prefix := logPrefix(tenant, kindEventLog, account)
	err := db.bdb.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = prefix
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Seek(appendTime(append([]byte{}, prefix...), from)); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			k := item.Key()
			if len(k) < len(prefix)+8 {
				return fmt.Errorf("%w: event log key", errCorrupt)
			}
			if to != math.MaxInt64 && readTime(k[len(prefix):]) >= to {
				break
			}
			err := item.Value(func(v []byte) error {
				e, err := decodeEvent(v, tenant)
				out = append(out, e)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of account %q: %w", account, err)
	}
	return out, nil
}

// Event returns one stored event by id; the error wraps ErrNotFound when absent.
func (db *DB) Event(tenant, id string) (datasets.Event, error) {
	var e datasets.Event
	if err := checkTenant(tenant); err != nil {
		return e, err
	}
	err := db.bdb.View(func(txn *badger.Txn) error {
		loc, ok, err := get(txn, tkey(tenant, kindEventID, id))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("event %q: %w", id, ErrNotFound)
		}
		n, k := binary.Uvarint(loc[min(hashLen, len(loc)):])
		if len(loc) < hashLen || k <= 0 || uint64(len(loc)-hashLen-k) != n+8 {
			return fmt.Errorf("%w: event locator", errCorrupt)
		}
		acct := string(loc[hashLen+k : hashLen+k+int(n)])
		at := readTime(loc[len(loc)-8:])
		v, ok, err := get(txn, logKey(tenant, kindEventLog, acct, at, id))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: event %q in index but not in log", errCorrupt, id)
		}
		e, err = decodeEvent(v, tenant)
		return err
	})
	if err != nil {
		return e, fmt.Errorf("get event: %w", err)
	}
	return e, nil
}

// TenantEvents iterates all of a tenant's events, account by account and oldest
// first within an account, in one read snapshot: the source of reports and exports.
func (db *DB) TenantEvents(tenant string) iter.Seq2[datasets.Event, error] {
	return func(yield func(datasets.Event, error) bool) {
		if err := checkTenant(tenant); err != nil {
			yield(datasets.Event{}, err)
			return
		}
		scan(db.bdb, tenantPrefix(tenant, kindEventLog), func(_, v []byte) (datasets.Event, error) {
			return decodeEvent(v, tenant)
		}, yield)
	}
}

// joinState encodes an account's state record: its status, then its feature state.
func joinState(status string, features []byte) []byte {
	b := make([]byte, 0, binary.MaxVarintLen32+len(status)+len(features))
	return append(appendLP(b, status), features...)
}

// splitState inverts joinState; a missing record is status "" and no features.
func splitState(rec []byte) (string, []byte, error) {
	if rec == nil {
		return "", nil, nil
	}
	n, k := binary.Uvarint(rec)
	if k <= 0 || n > uint64(len(rec)-k) {
		return "", nil, fmt.Errorf("%w: account state", errCorrupt)
	}
	features := rec[k+int(n):]
	if len(features) == 0 {
		features = nil
	}
	return string(rec[k : k+int(n)]), features, nil
}

// state reads an account's state record.
func (db *DB) state(tenant, account string) (string, []byte, error) {
	if err := checkTenant(tenant); err != nil {
		return "", nil, err
	}
	var rec []byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		var err error
		rec, _, err = get(txn, tkey(tenant, kindState, account))
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("state of account %q: %w", account, err)
	}
	status, features, err := splitState(rec)
	if err != nil {
		return "", nil, fmt.Errorf("state of account %q: %w", account, err)
	}
	return status, features, nil
}

// FeatureState returns an account's online feature state, nil when it has none.
func (db *DB) FeatureState(tenant, account string) ([]byte, error) {
	_, f, err := db.state(tenant, account)
	return f, err
}

// Status returns an account's current status, "" when none was ever set.
func (db *DB) Status(tenant, account string) (string, error) {
	s, _, err := db.state(tenant, account)
	return s, err
}
