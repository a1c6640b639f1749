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
//	m j                                   decision journal watermark: uvarint segment, uvarint offset
//	k <key id>                            API key record (JSON: tenant, scopes, SHA-256 of the token)
//	t <uvarint len><tenant> <kind> ...    tenant data; <kind> is one byte:
//	  a <account>                         account (JSON of datasets.Account, tenant cleared)
//	  e <event id>                        idempotency record: 16-byte content hash, account, time
//	  l <uvarint len><account> <at> <id>  per-account event log, time ordered (binary event)
//	  s <account>                         account state: uvarint len + status, then the
//	                                      opaque online feature state
//	  C                                   change-feed counter (last sequence, 8 bytes big endian)
//	  c <seq>                             change-feed entry (JSON Change)
//	  d <decision id>                     decision audit record: a pointer into the journal
//	                                      (ptrTag, uvarint segment, offset, frame length) or,
//	                                      written without the journal or by earlier
//	                                      versions, the record's JSON
//	  D <uvarint len><account> <at> <id>  decisions of an account, time ordered (the same
//	                                      pointer; empty: the record is under d)
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
// The journal is the records' permanent home; badger indexes them: an
// indexer goroutine writes, per record, a pointer (a few bytes, kept in the
// LSM tree) under its id and under its entry in the account's decision log,
// in batches (every 100 ms or 16k records; Decisions first waits for every
// record acknowledged before it), with a watermark: the journal position up
// to which badger points at every record. Until then Decision finds a record
// among the pending ones in memory. The id check is exact: an id is looked up
// among the pending records, then in a badger snapshot taken after that
// lookup, and the indexer drops a record from pending only after its badger
// commit. Serving's decision ids are unique by construction (boot time and
// counter); records it marks Fresh skip that check, the one read per record
// on the write path (and a batch of them the map of its ids: the committer
// still refuses one id with two contents within a group). Writing each 1.5-4 KB record into badger as well (its
// value log, earlier its LSM tree) cost about a tenth of a decision's CPU and
// wrote every record to the disk twice.
//
// Segments (decisions.00000001.seg, ...: Options.JournalSegment bytes, 64
// MiB by default) are written full of zeros before use (by a preparer
// goroutine, with O_DIRECT where the file system takes it) and then only
// written in place, a group at a time, padded to a page end: an fdatasync
// then commits no file-system metadata (the size does not change), which an
// appended file's sync does, queued behind every other file's metadata
// (badger's), where synced appends' latency spikes came from. A frame's CRC
// covers its segment's number.
//
// Recovery: Open replays into badger every whole record after the watermark
// (synced; the journals of earlier versions, which held records on their way
// into badger, are replayed whole and removed). Records are immutable by id
// and only one content per id ever reaches the journal, so re-indexing a
// record changes nothing. A frame is synced before its caller is answered, so
// only a tail nobody was answered for can be torn: replay stops at the first
// short frame or CRC mismatch, and the journal goes on in a new segment when
// anything but zeros follows the last whole frame, so that an unacknowledged
// frame can never become readable later. The SIGKILL test covers this path
// (acknowledged concurrent decisions are found after reopen, with default and
// with tiny segments), and unit tests replay torn and damaged tails.
//
// Key-value separation. Values of Options.ValueThreshold (1 KiB) and more
// live in badger's value log; the LSM tree keeps a 12-byte pointer. Audit
// records stored whole in badger (without the journal) are above it, so that
// memtable flushes and compactions do not copy them again and again.
// Accounts, feature states (about 120 bytes), events, change-feed entries
// and journal pointers stay below it: in the LSM tree a read of them touches
// one block, and rewriting them leaves no garbage in the value log.
//
// In-memory and encrypted stores (the journal would hold decisions in the
// clear) and Options.NoJournal commit audit records, whole, straight into
// badger instead (with NoJournal the journal still serves the records it
// holds), group-committed in one synced transaction per group. SyncWrites
// stays on there rather than "SyncWrites off + DB.Sync() after the commit":
// DB.Sync syncs the memtable that is current when it runs, so a memtable
// rotation between the commit and the Sync would leave the committed entries
// in an unsynced WAL. Event batches commit (and sync) once per batch.
//
// The change feed of a tenant has a sequence number per entry, assigned inside the
// committing transaction from a counter key, so sequences are gap-free, increase in
// commit order and survive restarts.
package store
