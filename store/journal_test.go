package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// TestJournalReplay: records left in a journal segment after the watermark
// (as by a crash before the indexer ran) are in the store after Open; a
// torn or damaged tail, a frame of another segment after the tail, and a
// segment whose header does not check out replay nothing more; after a torn
// tail new records go to a new segment, so that a whole but unacknowledged
// frame behind the torn one never becomes readable; the journals of earlier
// layouts (one file; two overwritten segments) are replayed and removed.
func TestJournalReplay(t *testing.T) {
	const seg = 1 // the first segment of a new store
	rec := func(id string, i int) (DecisionRecord, []byte) {
		r := DecisionRecord{ID: id, AccountID: "acc", At: int64(100 + i), Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
		val, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return r, val
	}
	frame := func(g uint64, id string, i int) []byte {
		r, val := rec(id, i)
		return appendFrame(nil, g, "t1", &r, val)
	}
	tests := []struct {
		name   string
		legacy int                   // 1, 2: write an earlier layout's journal
		header bool                  // damage the header
		tail   func(b []byte) []byte // appended after the whole frames
		want   int                   // records expected after reopen
	}{
		{"clean", 0, false, func(b []byte) []byte { return b }, 3},
		{"torn header", 0, false, func(b []byte) []byte { return append(b, 1, 2, 3) }, 3},
		{"torn payload", 0, false, func(b []byte) []byte { f := frame(seg, "torn", 9); return append(b, f[:len(f)-2]...) }, 3},
		{"bad crc", 0, false, func(b []byte) []byte { f := frame(seg, "bad", 9); f[len(f)-1] ^= 0xff; return append(b, f...) }, 3},
		{"huge length", 0, false, func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0) }, 3},
		{"other segment's frame after the tail", 0, false, func(b []byte) []byte { return append(b, frame(seg+1, "stale", 9)...) }, 3},
		{"whole frame behind a torn one", 0, false, func(b []byte) []byte {
			f := frame(seg, "torn", 9)
			f[len(f)-1] ^= 0xff
			return append(append(b, f...), frame(seg, "ghost", 9)...)
		}, 3},
		{"damaged segment header", 0, true, func(b []byte) []byte { return b }, 0},
		{"legacy journal", 1, false, func(b []byte) []byte { return b }, 3},
		{"legacy torn tail", 1, false, func(b []byte) []byte { return append(b, 1, 2, 3) }, 3},
		{"legacy segments", 2, false, func(b []byte) []byte { return b }, 3},
		{"legacy segments torn tail", 2, false, func(b []byte) []byte { return append(b, 1, 2, 3) }, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := openDir(t, dir, nil)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			var b []byte
			for i := range 3 {
				r, val := rec(fmt.Sprint("d", i), i)
				switch tc.legacy {
				case 1:
					b = appendFrameCRC(b, 0, false, "t1", &r, val)
				case 2:
					b = appendFrame(b, 7, "t1", &r, val)
				default:
					b = appendFrame(b, seg, "t1", &r, val)
				}
			}
			b = tc.tail(b)
			switch tc.legacy {
			case 1:
				if err := os.WriteFile(filepath.Join(dir, journalName), b, 0o600); err != nil {
					t.Fatal(err)
				}
			case 2:
				h := make([]byte, journalHeader)
				copy(h, legacySegmentMagic)
				binary.LittleEndian.PutUint64(h[8:], 7)
				binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], crcTable))
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf(legacySegmentName, 1)), append(h, b...), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf(legacySegmentName, 0)), make([]byte, 2*journalHeader), 0o600); err != nil {
					t.Fatal(err)
				}
			default:
				path := segPath(dir, seg)
				old, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if tc.header {
					old[9] ^= 1
				}
				copy(old[journalHeader:], b)
				if err := os.WriteFile(path, old, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			db = openDir(t, dir, nil)
			for _, name := range []string{journalName, fmt.Sprintf(legacySegmentName, 0), fmt.Sprintf(legacySegmentName, 1)} {
				if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("legacy journal %s after replay: %v, want removed", name, err)
				}
			}
			check := func(db *DB) {
				t.Helper()
				list, err := db.Decisions("t1", "acc", minT, maxT)
				if err != nil || len(list) != tc.want {
					t.Fatalf("replayed %d records (%v), want %d", len(list), err, tc.want)
				}
				for i, r := range list {
					if r.ID != fmt.Sprint("d", i) || string(r.Payload) != fmt.Sprintf(`{"i":%d}`, i) {
						t.Fatalf("record %d: %+v", i, r)
					}
				}
				for _, id := range []string{"torn", "bad", "stale", "ghost"} {
					if _, err := db.Decision("t1", id); !errors.Is(err, ErrNotFound) {
						t.Fatalf("damaged record %s: %v, want not found", id, err)
					}
				}
			}
			check(db)
			// A record of the torn frame's size (where the journal would have
			// gone on had it written over the torn tail) and a reopen: the
			// unacknowledged frame behind the torn one stays unreadable.
			r, _ := rec("tor2", 8)
			r.AccountID = "acx"
			if err := db.PutDecision("t1", r); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDir(t, dir, nil)
			defer db.Close()
			check(db)
			if got, err := db.Decision("t1", "tor2"); err != nil || string(got.Payload) != `{"i":8}` {
				t.Fatalf("record after the replay: %+v %v", got, err)
			}
			if tc.want == 0 {
				return
			}
			// Ids stay immutable across the replay.
			if err := db.PutDecision("t1", DecisionRecord{ID: "d1", AccountID: "acc", At: 101, Payload: []byte(`{"i":7}`)}); err == nil {
				t.Fatal("a replayed id accepted other content")
			}
		})
	}
}

// TestJournalRounds: with small segments the committer moves on to the next
// segment (made by the preparer) many times; after a close (clean) or an
// abandoned store (no close: as after a crash), every acknowledged record is
// found once, with its content, and the segments keep a bounded size.
func TestJournalRounds(t *testing.T) {
	for _, clean := range []bool{true, false} {
		t.Run(fmt.Sprint("clean=", clean), func(t *testing.T) {
			dir := t.TempDir()
			small := func(o *Options) { o.JournalSegment = 16 << 10 }
			db := openDir(t, dir, small)
			const n = 600
			for i := range n {
				p := fmt.Sprintf(`{"i":%d,"pad":"%0200d"}`, i, i)
				if err := db.PutDecision("t1", DecisionRecord{ID: fmt.Sprint("d", i), AccountID: fmt.Sprint("a", i%7), At: int64(i), Payload: []byte(p)}); err != nil {
					t.Fatal(err)
				}
			}
			if db.jr.curSeg < 5 {
				t.Fatalf("segment %d after %d records in 16 KiB segments: the journal did not move on", db.jr.curSeg, n)
			}
			if clean {
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				// Abandon the store as a crash would: the files stay as
				// written; close only the handles so that badger can reopen.
				db.closing.Do(func() { close(db.decStop) })
				<-db.decDone
				close(db.jr.stop)
				<-db.jr.idxDone
				<-db.jr.prepDone
				db.jr.closeFiles()
				if err := db.bdb.Close(); err != nil {
					t.Fatal(err)
				}
			}
			segs, err := listSegments(dir)
			if err != nil || len(segs) < 5 {
				t.Fatalf("segments %v: %v", segs, err)
			}
			for _, n := range segs {
				fi, err := os.Stat(segPath(dir, n))
				if err != nil || fi.Size() > 1<<20 {
					t.Fatalf("segment %d: %v %v", n, fi, err)
				}
			}
			db = openDir(t, dir, small)
			defer db.Close()
			for i := range n {
				r, err := db.Decision("t1", fmt.Sprint("d", i))
				if err != nil || string(r.Payload) != fmt.Sprintf(`{"i":%d,"pad":"%0200d"}`, i, i) {
					t.Fatalf("record %d: %+v %v", i, r, err)
				}
			}
			got := 0
			for a := range 7 {
				list, err := db.Decisions("t1", fmt.Sprint("a", a), minT, maxT)
				if err != nil {
					t.Fatal(err)
				}
				got += len(list)
			}
			if got != n {
				t.Fatalf("listed %d records, want %d", got, n)
			}
		})
	}
}

// TestJournalReadYourWrites: a record is readable by id and listed right
// after PutDecisions returns, while the indexer may still be behind, and an
// id journaled but not yet indexed refuses other content.
func TestJournalReadYourWrites(t *testing.T) {
	db := openDir(t, t.TempDir(), nil)
	defer db.Close()
	if db.jr == nil {
		t.Fatal("on-disk store without a journal")
	}
	for i := range 200 {
		rec := DecisionRecord{ID: fmt.Sprint("d", i), AccountID: "acc", At: int64(i), Payload: []byte(`{"x":1}`)}
		if err := db.PutDecision("t1", rec); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Decision("t1", rec.ID); err != nil || got.ID != rec.ID {
			t.Fatalf("read after put: %+v %v", got, err)
		}
		if err := db.PutDecision("t1", rec); err != nil {
			t.Fatalf("same record again: %v", err)
		}
		rec.Payload = []byte(`{"x":2}`)
		var re *RowError
		if err := db.PutDecision("t1", rec); !errors.As(err, &re) {
			t.Fatalf("other content under %s: %v, want a RowError", rec.ID, err)
		}
		if i%50 == 0 {
			if list, err := db.Decisions("t1", "acc", minT, maxT); err != nil || len(list) != i+1 {
				t.Fatalf("listed %d (%v), want %d", len(list), err, i+1)
			}
		}
	}
}

// TestJournalNoJournalOption: NoJournal stores through badger group commit,
// and still reads (and refuses to overwrite) the records an earlier run
// wrote to the journal.
func TestJournalNoJournalOption(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir, nil)
	old := DecisionRecord{ID: "j", AccountID: "a", At: 0, Payload: []byte(`{"j":1}`)}
	if err := db.PutDecision("t1", old); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDir(t, dir, func(o *Options) { o.NoJournal = true })
	defer db.Close()
	if db.jr.writing() {
		t.Fatal("journal writes with NoJournal")
	}
	if err := db.PutDecision("t1", DecisionRecord{ID: "d", AccountID: "a", At: 1, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Decision("t1", "d"); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Decision("t1", "j"); err != nil || string(got.Payload) != `{"j":1}` {
		t.Fatalf("journal record with NoJournal: %+v %v", got, err)
	}
	if list, err := db.Decisions("t1", "a", minT, maxT); err != nil || len(list) != 2 || list[0].ID != "j" || list[1].ID != "d" {
		t.Fatalf("listed %+v %v", list, err)
	}
	if err := db.PutDecision("t1", old); err != nil {
		t.Fatalf("the same record again: %v", err)
	}
	old.Payload = []byte(`{"j":2}`)
	var re *RowError
	if err := db.PutDecision("t1", old); !errors.As(err, &re) {
		t.Fatalf("other content under a journaled id: %v, want a RowError", err)
	}
}

// TestIDFilter: the filter never says "absent" for an added id, and the
// store refuses a reused event id with other content after a reopen (the
// filter is rebuilt from the store) and after the filter is rebuilt full.
func TestIDFilter(t *testing.T) {
	f := newIDFilter(0)
	for i := range 50_000 {
		f.add(fmt.Appendf(nil, "ev%d", i))
	}
	false_ := 0
	for i := range 50_000 {
		if !f.mayContain(fmt.Appendf(nil, "ev%d", i)) {
			t.Fatalf("added id ev%d reported absent", i)
		}
		if f.mayContain(fmt.Appendf(nil, "other%d", i)) {
			false_++
		}
	}
	if false_ > 500 {
		t.Fatalf("%d false positives of 50000", false_)
	}

	dir := t.TempDir()
	db := openDir(t, dir, nil)
	as := accounts("acc", 3)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		t.Fatal(err)
	}
	evs := events("x", as, 30)
	if _, err := db.AppendEvents("t1", evs, testApply); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDir(t, dir, nil)
	defer db.Close()
	res, err := db.AppendEvents("t1", evs, testApply)
	if err != nil || res.Appended != 0 || len(res.Duplicates) != len(evs) {
		t.Fatalf("replay after reopen: %+v %v", res, err)
	}
	other := evs[:1:1]
	other[0].Amount++
	var re *RowError
	if _, err := db.AppendEvents("t1", other, testApply); !errors.As(err, &re) {
		t.Fatalf("reused id with other content after reopen: %v", err)
	}
}

// TestJournalLeftovers: a segment whose creation a crash interrupted (its
// temporary file) is removed at Open and never read; the journal's bytes
// count in Size.
func TestJournalLeftovers(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir, nil)
	if err := db.PutDecision("t1", DecisionRecord{ID: "d", AccountID: "a", At: 1, Payload: []byte(`{"x":1}`)}); err != nil {
		t.Fatal(err)
	}
	if _, vlog := db.Size(); vlog < firstSegment {
		t.Fatalf("Size: value log and journal %d bytes, want at least the first segment's %d", vlog, firstSegment)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	tmp := segPath(dir, 9) + segmentTmpSuffix
	if err := os.WriteFile(tmp, []byte("half-written segment"), 0o600); err != nil {
		t.Fatal(err)
	}
	db = openDir(t, dir, nil)
	defer db.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("interrupted segment after Open: %v, want removed", err)
	}
	if r, err := db.Decision("t1", "d"); err != nil || string(r.Payload) != `{"x":1}` {
		t.Fatalf("record after reopen: %+v %v", r, err)
	}
	if err := db.PutDecision("t1", DecisionRecord{ID: "e", AccountID: "a", At: 2, Payload: []byte(`{"x":2}`)}); err != nil {
		t.Fatal(err)
	}
	if list, err := db.Decisions("t1", "a", minT, maxT); err != nil || len(list) != 2 {
		t.Fatalf("listed %d (%v), want 2", len(list), err)
	}
}
