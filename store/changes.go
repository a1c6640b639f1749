package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Changes returns up to limit status changes of a tenant with Seq > after, in
// sequence order, and the cursor to pass next time (the last Seq returned, or after
// when there is nothing new). Cursor 0 starts from the beginning.
func (db *DB) Changes(tenant string, after uint64, limit int) ([]Change, uint64, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, after, err
	}
	if limit <= 0 {
		return nil, after, fmt.Errorf("changes: limit %d, want > 0", limit)
	}
	var out []Change
	next := after
	prefix := tenantPrefix(tenant, kindChange)
	err := db.bdb.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = prefix
		o.PrefetchSize = min(limit, 100)
		it := txn.NewIterator(o)
		defer it.Close()
		if after == ^uint64(0) {
			return nil
		}
		for it.Seek(changeKey(tenant, after+1)); it.ValidForPrefix(prefix) && len(out) < limit; it.Next() {
			item := it.Item()
			if len(item.Key()) != len(prefix)+8 {
				return fmt.Errorf("%w: change key", errCorrupt)
			}
			var c Change
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &c) }); err != nil {
				return fmt.Errorf("%w: change: %v", errCorrupt, err)
			}
			if c.Seq != binary.BigEndian.Uint64(item.Key()[len(prefix):]) {
				return fmt.Errorf("%w: change seq", errCorrupt)
			}
			out = append(out, c)
			next = c.Seq
		}
		return nil
	})
	if err != nil {
		return nil, after, fmt.Errorf("changes of tenant %q: %w", tenant, err)
	}
	return out, next, nil
}
