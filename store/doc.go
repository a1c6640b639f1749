// Package store is the badger-backed storage behind serving and reports: accounts,
// the per-account event log, online feature state, account status and its change
// feed, decision audit records and API keys.
//
// API key tokens come from crypto/rand, the one random choice that is not seeded.
//
// # Tenancy
//
// Every method that reads or writes tenant data takes the tenant, and every such key
// starts with the tenant's length-prefixed name, so no key of one tenant is a prefix
// of, or equal to, a key of another: a read for tenant "a" can never return a row of
// tenant "ab". API keys are the one global namespace (Authenticate receives only the
// plaintext), and each key record carries the tenant it is bound to.
//
// # Key layout
//
//	m v                                   layout version (1 byte)
//	k <key id>                            API key record (JSON: tenant, scopes, SHA-256 of the token)
//	t <uvarint len><tenant> <kind> ...    tenant data; <kind> is one byte:
//	  a <account>                         account (JSON of datasets.Account, tenant cleared)
//	  e <event id>                        idempotency record: 16-byte content hash, account, time
//	  l <uvarint len><account> <at> <id>  per-account event log, time ordered (binary event)
//	  s <account>                         account state: uvarint len + status, then the
//	                                      opaque online feature state
//	  C                                   change-feed counter (last sequence, 8 bytes big endian)
//	  c <seq>                             change-feed entry (JSON Change)
//	  d <decision id>                     decision audit record (JSON)
//	  D <uvarint len><account> <at> <id>  decisions of an account, time ordered (empty value)
//	  k <key id>                          the tenant's API keys (empty value)
//
// <at> is the event or decision time in UTC microseconds, 8 bytes big endian with the
// sign bit flipped so that negative times sort before positive ones; <seq> is 8 bytes
// big endian.
//
// # Guarantees
//
// With Options.SyncWrites (the default) a write method returns only after its data is
// synced to disk: an acknowledged write survives a crash of the process. Batches are
// validated completely before anything is written; a batch with a bad row stores
// nothing and the error (a *RowError) names the row, the field and the reason.
//
// AppendEvents is idempotent by event_id. A batch normally commits in one badger
// transaction. A batch too large for one transaction is split between accounts,
// never inside one: each account's events, its feature state, its status and its
// change-feed entry commit together. The call returns success only after every part
// committed. If it fails part way (I/O error, a concurrent writer invalidating the
// validation), some accounts' parts may be committed and the caller must treat the
// batch as not acknowledged and replay it; because appends are idempotent the replay
// stores exactly the missing parts, and feature state never counts an event twice.
//
// With the default 64 MiB memtables a transaction holds about 9.6 MB of writes, so
// a 10,000-event batch commits whole; only one account's part must always fit
// (tens of thousands of events). The feature and status hooks see only the events
// not stored before, and may run more than once per account (a retry after a
// transaction conflict, a split): they must be pure. Appends of one tenant are
// serialised inside the process; appends of different tenants run in parallel.
//
// Durability is what badger's SyncWrites gives: the write-ahead log is msync'ed
// before Commit returns. The tests kill a writing process with SIGKILL and find
// every acknowledged batch (event batches and concurrent, group-committed
// decision records); they cannot simulate a power cut.
//
// # Decision audit journal and group commit
//
// A synced badger commit costs about 1.8 ms where this was measured; an append
// to a plain file plus fdatasync about 0.4-0.6 ms. Decision audit records,
// one small record per decision from many requests at once, therefore go
// through a journal (journal.go): PutDecisions calls are handed to one
// committer goroutine that takes every call waiting at that moment, checks
// their ids, writes their CRC-framed records to the journal in one write and
// fdatasyncs once; each call
// returns only after that sync, so "returned nil" still means "on disk".
// Callers that announced a call (ExpectDecisions) are waited for, up to the
// duration of the previous group (at most 2 ms), so that concurrent decisions
// share a sync. Calls refused while planning (an id reused with other
// content) store nothing and do not affect the rest of the group.
//
// Badger stays the index (Decision, Decisions, reports): an indexer goroutine
// writes journaled records into badger in batches (every 20 ms or 16k records;
// Decisions first waits for every record acknowledged before it). Until then
// Decision finds a record among the pending ones in memory. The id check is
// exact: an id is looked up among the pending records, then in a badger
// snapshot taken after that lookup, and the indexer drops a record from pending
// only after its badger commit. Serving's decision ids are unique by
// construction (boot time and counter); records it marks Fresh skip that
// check, the one read per record on the write path.
//
// Key-value separation. Values of Options.ValueThreshold (1 KiB) and more
// live in badger's value log; the LSM tree keeps a 12-byte pointer. Audit
// records (1.5-4 KB of JSON, written once, never changed) are the values
// above it: without separation every memtable flush and every compaction
// copied (and compressed) them again, about a third of a decision's CPU in
// the profiles. Accounts, feature states (about 120 bytes), events and
// change-feed entries stay below it: in the LSM tree a read of them touches
// one block, and rewriting them on every event leaves no garbage in the
// value log. The value log only grows (records are immutable), so RunGC
// rarely finds anything to reclaim.
//
// The journal is two segment files (decisions.journal.0 and .1 in the store
// directory, Options.JournalSegment bytes each, 8 MiB by default) written
// full of zeros once and then only overwritten in place: an fdatasync of an
// appended file also commits the file system's metadata journal (the size
// changed), a second device flush queued behind badger's own file writes,
// which is where synced appends' latency spikes came from. The committer fills
// one segment, then starts the other over (its records were indexed long
// ago) in a new generation; frames' CRCs cover the generation, so an earlier
// round's frames after the tail never replay. Should the other segment still
// hold unindexed records, the active one grows instead.
//
// Recovery: Open reads both segments (and the single-file journal of earlier
// versions, which it then removes), writes every whole record of their
// current rounds into badger (synced) and starts a new round. Records are immutable by id and only one
// content per id ever reaches the journal, so replaying a record badger already
// holds changes nothing. A frame is synced before its caller is answered, so
// only a tail nobody was answered for can be torn: replay stops at the first
// short frame or CRC mismatch and drops the rest. The SIGKILL test covers this
// path (acknowledged concurrent decisions are found after reopen), and unit
// tests replay torn and damaged tails.
//
// In-memory and encrypted stores (the journal would hold decisions in the
// clear) and Options.NoJournal commit audit records straight into badger
// instead, group-committed in one synced transaction per group. SyncWrites
// stays on there rather than "SyncWrites off + DB.Sync() after the commit":
// DB.Sync syncs the memtable that is current when it runs, so a memtable
// rotation between the commit and the Sync would leave the committed entries
// in an unsynced WAL. Event batches commit (and sync) once per batch.
//
// The change feed of a tenant has a sequence number per entry, assigned inside the
// committing transaction from a counter key, so sequences are gap-free, increase in
// commit order and survive restarts.
package store
