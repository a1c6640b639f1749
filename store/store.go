package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// layoutVersion is written once at creation; Open refuses a store of another
// layout instead of misreading it.
const layoutVersion = 1

// ErrNotFound is returned (wrapped, naming what was missing) by the single-record
// getters.
var ErrNotFound = errors.New("not found")

// RowError names the row of a batch that was refused, and why; the whole batch is
// refused with it. Serving turns it into a 4xx that names the field.
type RowError struct {
	Kind   string // "account", "event" or "decision"
	Row    int    // position in the batch, from 0
	ID     string // the row's id, when it has one
	Field  string // JSON name of the offending field
	Reason string
}

// Error implements error.
func (e *RowError) Error() string {
	return fmt.Sprintf("%s %d (%q): %s: %s", e.Kind, e.Row, e.ID, e.Field, e.Reason)
}

// DB is an open store. Its methods are safe for concurrent use.
type DB struct {
	bdb  *badger.DB
	opts Options

	// tenantMu serialises the event appends of one tenant: they all write the
	// tenant's change-feed counter, and serialising them avoids retry storms on
	// transaction conflicts. Different tenants append in parallel.
	tenantMu sync.Map // tenant -> *sync.Mutex
	// idFilters holds each tenant's Bloom filter of event ids (idfilter.go),
	// used under the tenant's lock.
	idFilters sync.Map // tenant -> *idFilter

	// Group commit of audit records (group.go).
	decCh      chan *decReq
	decStop    chan struct{}
	decDone    chan struct{}
	closing    sync.Once
	expect     atomic.Int64  // announced PutDecisions calls (ExpectDecisions)
	unexpect   func()        // ExpectDecisions' done, made once (no closure per decision)
	lastCommit time.Duration // committer's last group commit (committer only)
	jr         *journal      // decision audit journal (journal.go); nil, or not writing: audit records commit in badger
}

// errClosed refuses writes after Close.
var errClosed = errors.New("store is closed")

// Open opens (creating when missing) the store in dir, or an in-memory store when
// opts.InMemory is set.
func Open(dir string, opts Options) (*DB, error) {
	switch len(opts.EncryptionKey) {
	case 0, 16, 24, 32:
	default:
		return nil, fmt.Errorf("open store: encryption key is %d bytes, want 16, 24 or 32", len(opts.EncryptionKey))
	}
	bo := badger.DefaultOptions(dir).
		WithSyncWrites(opts.SyncWrites).
		WithLogger(badgerLogger{log: opts.Logger}).
		WithCompression(options.Snappy).
		WithValueLogFileSize(256 << 20)
	if opts.InMemory {
		bo = bo.WithInMemory(true).WithDir("").WithValueDir("")
	}
	if opts.MemTableSize > 0 {
		// Values above the threshold go to the value log; it must stay below
		// badger's maximum batch (15% of a memtable).
		bo = bo.WithMemTableSize(opts.MemTableSize).
			WithValueThreshold(min(1<<20, opts.MemTableSize*15/100/4))
	}
	if opts.ValueThreshold > 0 && !opts.InMemory {
		// In memory, badger refuses values above the threshold outright.
		bo = bo.WithValueThreshold(min(bo.ValueThreshold, opts.ValueThreshold))
	}
	if opts.BlockCacheSize > 0 {
		bo = bo.WithBlockCacheSize(opts.BlockCacheSize)
	}
	if opts.IndexCacheSize > 0 {
		bo = bo.WithIndexCacheSize(opts.IndexCacheSize)
	}
	if len(opts.EncryptionKey) > 0 {
		bo = bo.WithEncryptionKey(opts.EncryptionKey)
		if opts.EncryptionKeyRotation > 0 {
			bo = bo.WithEncryptionKeyRotationDuration(opts.EncryptionKeyRotation)
		}
		if opts.IndexCacheSize <= 0 {
			bo = bo.WithIndexCacheSize(defaultEncryptedIndexCache)
		}
	}
	bdb, err := badger.Open(bo)
	if err != nil {
		if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
			return nil, fmt.Errorf("open store %s: wrong or missing encryption key (the store was created with another key, or with none): %w", dir, err)
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	db := &DB{bdb: bdb, opts: opts, decCh: make(chan *decReq, 1024), decStop: make(chan struct{}), decDone: make(chan struct{})}
	db.unexpect = func() { db.expect.Add(-1) }
	if err := db.checkVersion(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	if !opts.InMemory && len(opts.EncryptionKey) == 0 {
		// With NoJournal the journal only serves (and replays) the records
		// it holds from earlier runs.
		if err := db.openJournal(dir, !opts.NoJournal); err != nil {
			bdb.Close()
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	go db.committer()
	return db, nil
}

// checkVersion stamps a new store with the layout version and refuses another one.
func (db *DB) checkVersion() error {
	return db.bdb.Update(func(txn *badger.Txn) error {
		it, err := txn.Get(keyVersion)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return txn.Set(keyVersion, []byte{layoutVersion})
		}
		if err != nil {
			return err
		}
		v, err := it.ValueCopy(nil)
		if err != nil {
			return err
		}
		if len(v) != 1 || v[0] != layoutVersion {
			return fmt.Errorf("store layout version %v, this binary reads %d", v, layoutVersion)
		}
		return nil
	})
}

// Close flushes and closes the store. Acknowledged writes are durable without it;
// Close makes the next Open fast.
func (db *DB) Close() error {
	db.closing.Do(func() { close(db.decStop) })
	<-db.decDone // audit records already queued are committed first
	var jerr error
	if db.jr != nil {
		jerr = db.closeJournal() // after the indexer put every record in badger
	}
	if err := db.bdb.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	if jerr != nil {
		return fmt.Errorf("close store: %w", jerr)
	}
	return nil
}

// Size returns the bytes of the LSM tree and of the value log plus the decision
// journal (the two homes of large values), for metrics. Badger refreshes its
// figures about once a minute; an in-memory store reports zeros.
func (db *DB) Size() (lsm, vlog int64) {
	lsm, vlog = db.bdb.Size()
	if db.jr != nil {
		vlog += db.jr.bytes()
	}
	return lsm, vlog
}

// Sync forces everything written so far to disk; only useful with SyncWrites off.
func (db *DB) Sync() error {
	if db.jr != nil {
		if err := db.jr.syncAll(); err != nil {
			return fmt.Errorf("sync decision journal: %w", err)
		}
	}
	return db.bdb.Sync()
}

// RunGC reclaims value-log space; call it periodically from a maintenance loop.
// It returns nil when there was nothing to reclaim.
func (db *DB) RunGC(ctx context.Context) error {
	for ctx.Err() == nil {
		err := db.bdb.RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store gc: %w", err)
		}
	}
	return ctx.Err()
}

// lockTenant serialises appends of one tenant and returns the unlock.
func (db *DB) lockTenant(tenant string) func() {
	m, _ := db.tenantMu.LoadOrStore(tenant, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// get returns a copy of the value at key, or nil and false when absent.
func get(txn *badger.Txn, key []byte) ([]byte, bool, error) {
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := it.ValueCopy(nil)
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// badgerLogger sends badger's messages to slog: errors and warnings as such, the
// rest at debug level (badger is chatty about compactions).
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) logger() *slog.Logger {
	if l.log != nil {
		return l.log
	}
	return slog.Default()
}

func (l badgerLogger) Errorf(f string, a ...any) {
	l.logger().Error(fmt.Sprintf(f, a...), "component", "badger")
}
func (l badgerLogger) Warningf(f string, a ...any) {
	l.logger().Warn(fmt.Sprintf(f, a...), "component", "badger")
}
func (l badgerLogger) Infof(f string, a ...any) {
	l.logger().Debug(fmt.Sprintf(f, a...), "component", "badger")
}
func (l badgerLogger) Debugf(f string, a ...any) {
	l.logger().Debug(fmt.Sprintf(f, a...), "component", "badger")
}
