package store

import (
	"bytes"
	"hash/maphash"

	"github.com/dgraph-io/badger/v4"
)

// Event-id filter.
//
// Appending a new event must prove its id unused: a badger Get that, for an
// id that is indeed new (the common case), searches every memtable and level.
// An idFilter is a Bloom filter of a tenant's stored event ids: when it says
// "absent" the id is certainly not stored and the read is skipped; when it
// says "maybe" the store is read as before, so idempotency stays exact. A
// filter is built from a key-only scan of the tenant's id records at the
// tenant's first append after Open, and rebuilt (twice as large) when it
// fills up. It is used and changed only under the tenant's append lock, the
// one path that writes event ids; ids are added when planned, before their
// commit, so a failed commit only leaves a false "maybe".

// idFilterBits is the smallest filter (bits); a filter holds a tenant's ids at
// about 16 bits each (false "maybe" rate about 0.1% with 4 probes).
const (
	idFilterBits = 1 << 20
	idBitsPerKey = 16
	idProbes     = 4
)

// idFilter is one tenant's Bloom filter of event ids.
type idFilter struct {
	bits []uint64
	n    int // ids added
	max  int // ids it holds before a rebuild
	seed maphash.Seed
}

// newIDFilter sizes a filter for at least n ids.
func newIDFilter(n int) *idFilter {
	m := idFilterBits
	for m < 2*n*idBitsPerKey {
		m *= 2
	}
	return &idFilter{bits: make([]uint64, m/64), max: m / idBitsPerKey, seed: maphash.MakeSeed()}
}

func (f *idFilter) probes(id []byte) (h1, h2 uint64) {
	h := maphash.Bytes(f.seed, id)
	return h, h>>32 | h<<32 | 1
}

func (f *idFilter) add(id []byte) {
	h1, h2 := f.probes(id)
	m := uint64(len(f.bits) * 64)
	for i := uint64(0); i < idProbes; i++ {
		b := (h1 + i*h2) % m
		f.bits[b/64] |= 1 << (b % 64)
	}
	f.n++
}

// mayContain is false only for ids never added.
func (f *idFilter) mayContain(id []byte) bool {
	h1, h2 := f.probes(id)
	m := uint64(len(f.bits) * 64)
	for i := uint64(0); i < idProbes; i++ {
		b := (h1 + i*h2) % m
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// eventIDFilter returns the tenant's filter, building or rebuilding it from
// the store when missing or full. Call it under the tenant's append lock.
func (db *DB) eventIDFilter(tenant string) (*idFilter, error) {
	if v, ok := db.idFilters.Load(tenant); ok && v.(*idFilter).n < v.(*idFilter).max {
		return v.(*idFilter), nil
	}
	prefix := tenantPrefix(tenant, kindEventID)
	var ids [][]byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		return eachKey(txn, prefix, prefix, func(k []byte) (bool, error) {
			ids = append(ids, bytes.Clone(k[len(prefix):]))
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	f := newIDFilter(len(ids))
	for _, id := range ids {
		f.add(id)
	}
	db.idFilters.Store(tenant, f)
	return f, nil
}
