package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"

	"github.com/dgraph-io/badger/v4"

	"github.com/engagehq/engage/datasets"
)

// UpsertResult counts what an account upsert did, per distinct account id.
type UpsertResult struct {
	Created   int // accounts that did not exist
	Updated   int // accounts whose stored row changed
	Unchanged int // rows equal to what was stored (a replay)
}

// encodeAccount is the stored form of an account: JSON without the tenant (the
// key holds it), so that rows sent with and without a tenant compare equal.
func encodeAccount(a datasets.Account) ([]byte, error) {
	a.Tenant = ""
	return json.Marshal(a)
}

// UpsertAccounts creates or replaces accounts. It is idempotent: sending the same
// rows again writes nothing. When a batch holds the same id twice, the later row
// wins. A row with a bad id or another tenant refuses the whole batch.
func (db *DB) UpsertAccounts(tenant string, accts []datasets.Account) (UpsertResult, error) {
	var res UpsertResult
	if err := checkTenant(tenant); err != nil {
		return res, err
	}
	last := make(map[string]int, len(accts))
	vals := make([][]byte, len(accts))
	for i := range accts {
		a := &accts[i]
		if r := checkID(a.ID); r != "" {
			return res, &RowError{Kind: "account", Row: i, ID: a.ID, Field: "id", Reason: r}
		}
		if a.Tenant != "" && a.Tenant != tenant {
			return res, &RowError{Kind: "account", Row: i, ID: a.ID, Field: "tenant", Reason: fmt.Sprintf("belongs to tenant %q, not %q", a.Tenant, tenant)}
		}
		v, err := encodeAccount(*a)
		if err != nil {
			return res, &RowError{Kind: "account", Row: i, ID: a.ID, Field: "id", Reason: err.Error()}
		}
		vals[i] = v
		last[a.ID] = i
	}
	units := make([]int, 0, len(last)) // rows that win, in batch order
	for i := range accts {
		if last[accts[i].ID] == i {
			units = append(units, i)
		}
	}
	kind := make([]int8, len(units)) // 0 unchanged, 1 created, 2 updated
	plan := func(txn *badger.Txn, u int) (part, error) {
		row := units[u]
		key := tkey(tenant, kindAccount, accts[row].ID)
		old, ok, err := get(txn, key)
		if err != nil {
			return part{}, fmt.Errorf("read account %q: %w", accts[row].ID, err)
		}
		switch {
		case !ok:
			kind[u] = 1
		case bytes.Equal(old, vals[row]):
			kind[u] = 0
			return part{}, nil
		default:
			kind[u] = 2
		}
		return part{entries: []entry{{key, vals[row]}}}, nil
	}
	name := func(u int) string { return fmt.Sprintf("account %q", accts[units[u]].ID) }
	if _, err := db.commitUnits(tenant, len(units), plan, name); err != nil {
		return res, fmt.Errorf("upsert accounts: %w", err)
	}
	for _, k := range kind {
		switch k {
		case 0:
			res.Unchanged++
		case 1:
			res.Created++
		case 2:
			res.Updated++
		}
	}
	return res, nil
}

// Account returns one account; the error wraps ErrNotFound when it does not exist.
func (db *DB) Account(tenant, id string) (datasets.Account, error) {
	var a datasets.Account
	if err := checkTenant(tenant); err != nil {
		return a, err
	}
	err := db.bdb.View(func(txn *badger.Txn) error {
		v, ok, err := get(txn, tkey(tenant, kindAccount, id))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("account %q: %w", id, ErrNotFound)
		}
		return json.Unmarshal(v, &a)
	})
	if err != nil {
		return a, fmt.Errorf("get account: %w", err)
	}
	a.Tenant = tenant
	return a, nil
}

// Accounts iterates a tenant's accounts in id byte order, for reports and exports.
// The iteration reads one consistent snapshot; stop early by breaking out.
func (db *DB) Accounts(tenant string) iter.Seq2[datasets.Account, error] {
	return func(yield func(datasets.Account, error) bool) {
		if err := checkTenant(tenant); err != nil {
			yield(datasets.Account{}, err)
			return
		}
		scan(db.bdb, tenantPrefix(tenant, kindAccount), func(_, v []byte) (datasets.Account, error) {
			var a datasets.Account
			if err := json.Unmarshal(v, &a); err != nil {
				return a, fmt.Errorf("%w: account: %v", errCorrupt, err)
			}
			a.Tenant = tenant
			return a, nil
		}, yield)
	}
}

// eachKey calls fn with every key under prefix from seek on, in order,
// without reading values (an index scan); fn returns false to stop. The key
// is valid only during the call.
func eachKey(txn *badger.Txn, prefix, seek []byte, fn func(key []byte) (bool, error)) error {
	o := badger.DefaultIteratorOptions
	o.Prefix = prefix
	o.PrefetchValues = false
	it := txn.NewIterator(o)
	defer it.Close()
	for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
		if more, err := fn(it.Item().Key()); err != nil || !more {
			return err
		}
	}
	return nil
}

// scan iterates every key under prefix in one read snapshot, decoding each value.
func scan[T any](bdb *badger.DB, prefix []byte, decode func(k, v []byte) (T, error), yield func(T, error) bool) {
	txn := bdb.NewTransaction(false)
	defer txn.Discard()
	o := badger.DefaultIteratorOptions
	o.Prefix = prefix
	it := txn.NewIterator(o)
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		var x T
		err := item.Value(func(v []byte) error {
			var err error
			x, err = decode(item.Key(), v)
			return err
		})
		if !yield(x, err) || err != nil {
			return
		}
	}
}
