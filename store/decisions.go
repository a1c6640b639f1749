package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"
)

// DecisionRecord is the audit record of one decision: what serving answered, kept
// as the opaque JSON it returned so the audit shows exactly that.
type DecisionRecord struct {
	ID        string          `json:"decision_id"`
	AccountID string          `json:"account_id"`
	At        int64           `json:"at"` // decision time, UTC micros
	Payload   json.RawMessage `json:"payload"`
}

// PutDecisions stores decision audit records, all or nothing. Records are
// immutable: putting the same record again is a no-op, putting a different record
// under a used id refuses the batch with a *RowError.
func (db *DB) PutDecisions(tenant string, recs []DecisionRecord) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	vals := make([][]byte, len(recs))
	seen := make(map[string]int, len(recs))
	var units []int
	for i := range recs {
		r := &recs[i]
		bad := func(field, reason string) error {
			return &RowError{Kind: "decision", Row: i, ID: r.ID, Field: field, Reason: reason}
		}
		if s := checkID(r.ID); s != "" {
			return bad("decision_id", s)
		}
		if s := checkID(r.AccountID); s != "" {
			return bad("account_id", s)
		}
		if !json.Valid(r.Payload) {
			return bad("payload", "not valid JSON")
		}
		v, err := json.Marshal(r)
		if err != nil {
			return bad("payload", err.Error())
		}
		vals[i] = v
		if j, ok := seen[r.ID]; ok {
			if !bytes.Equal(vals[j], v) {
				return bad("decision_id", fmt.Sprintf("reused in this batch with different content (row %d)", j))
			}
			continue
		}
		seen[r.ID] = i
		units = append(units, i)
	}
	plan := func(txn *badger.Txn, u int) (part, error) {
		i := units[u]
		r := &recs[i]
		key := tkey(tenant, kindDecision, r.ID)
		old, ok, err := get(txn, key)
		if err != nil {
			return part{}, fmt.Errorf("read decision %q: %w", r.ID, err)
		}
		if ok {
			if !bytes.Equal(old, vals[i]) {
				return part{}, &RowError{Kind: "decision", Row: i, ID: r.ID, Field: "decision_id", Reason: "already stored with different content"}
			}
			return part{}, nil
		}
		return part{entries: []entry{
			{key, vals[i]},
			{logKey(tenant, kindDecisionLog, r.AccountID, r.At, r.ID), nil},
		}}, nil
	}
	name := func(u int) string { return fmt.Sprintf("decision %q", recs[units[u]].ID) }
	if _, err := db.commitUnits(tenant, len(units), plan, name); err != nil {
		return fmt.Errorf("put decisions: %w", err)
	}
	return nil
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
	err := db.bdb.View(func(txn *badger.Txn) error {
		v, ok, err := get(txn, tkey(tenant, kindDecision, id))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("decision %q: %w", id, ErrNotFound)
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
	var out []DecisionRecord
	prefix := logPrefix(tenant, kindDecisionLog, account)
	err := db.bdb.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = prefix
		o.PrefetchValues = false
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Seek(appendTime(append([]byte{}, prefix...), from)); it.ValidForPrefix(prefix); it.Next() {
			k := it.Item().Key()
			if len(k) < len(prefix)+8 {
				return fmt.Errorf("%w: decision log key", errCorrupt)
			}
			if to != math.MaxInt64 && readTime(k[len(prefix):]) >= to {
				break
			}
			id := string(k[len(prefix)+8:])
			v, ok, err := get(txn, tkey(tenant, kindDecision, id))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: decision %q in log but not stored", errCorrupt, id)
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
