package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestJournalReplay: records left in a journal segment (as by a crash before
// the indexer ran) are in the store after Open; a torn or damaged tail,
// frames of an earlier round after the tail, and a segment whose header does
// not check out replay nothing more; an earlier version's single-file
// journal is replayed and removed.
func TestJournalReplay(t *testing.T) {
	const gen = 7
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
		legacy bool                  // write the earlier single-file format
		header bool                  // damage the header
		tail   func(b []byte) []byte // appended after the whole frames
		want   int                   // records expected after reopen
	}{
		{"clean", false, false, func(b []byte) []byte { return b }, 3},
		{"torn header", false, false, func(b []byte) []byte { return append(b, 1, 2, 3) }, 3},
		{"torn payload", false, false, func(b []byte) []byte { f := frame(gen, "torn", 9); return append(b, f[:len(f)-2]...) }, 3},
		{"bad crc", false, false, func(b []byte) []byte { f := frame(gen, "bad", 9); f[len(f)-1] ^= 0xff; return append(b, f...) }, 3},
		{"huge length", false, false, func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0) }, 3},
		{"earlier round after the tail", false, false, func(b []byte) []byte { return append(b, frame(gen-1, "stale", 9)...) }, 3},
		{"damaged segment header", false, true, func(b []byte) []byte { return b }, 0},
		{"legacy journal", true, false, func(b []byte) []byte { return b }, 3},
		{"legacy torn tail", true, false, func(b []byte) []byte { return append(b, 1, 2, 3) }, 3},
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
				if tc.legacy {
					b = appendFrameCRC(b, 0, false, "t1", &r, val)
				} else {
					b = appendFrame(b, gen, "t1", &r, val)
				}
			}
			b = tc.tail(b)
			if tc.legacy {
				if err := os.WriteFile(filepath.Join(dir, journalName), b, 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				seg := filepath.Join(dir, fmt.Sprintf(segmentName, 1))
				old, err := os.ReadFile(seg)
				if err != nil {
					t.Fatal(err)
				}
				h := segmentHeaderPage(gen)
				if tc.header {
					h[9] ^= 1
				}
				copy(old, h)
				copy(old[journalHeader:], b)
				if err := os.WriteFile(seg, old, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			db = openDir(t, dir, nil)
			defer db.Close()
			if _, err := os.Stat(filepath.Join(dir, journalName)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("legacy journal after replay: %v, want removed", err)
			}
			list, err := db.Decisions("t1", "acc", minT, maxT)
			if err != nil || len(list) != tc.want {
				t.Fatalf("replayed %d records (%v), want %d", len(list), err, tc.want)
			}
			for i, r := range list {
				if r.ID != fmt.Sprint("d", i) || string(r.Payload) != fmt.Sprintf(`{"i":%d}`, i) {
					t.Fatalf("record %d: %+v", i, r)
				}
			}
			for _, id := range []string{"torn", "bad", "stale"} {
				if _, err := db.Decision("t1", id); !errors.Is(err, ErrNotFound) {
					t.Fatalf("damaged record %s: %v, want not found", id, err)
				}
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

// TestJournalRounds: with small segments the committer switches between them
// many times (starting each over in a new generation) and grows one when
// the other still holds records the index lacks; after a close (clean) or
// an abandoned store (no close: as after a crash), every acknowledged record
// is found once, with its content, and the segments keep a bounded size.
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
			if db.jr.gen < 5 {
				t.Fatalf("generation %d after %d records in 16 KiB segments: the segments did not switch", db.jr.gen, n)
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
				db.jr.closeFiles()
				if err := db.bdb.Close(); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 2 {
				fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf(segmentName, i)))
				if err != nil || fi.Size() > 1<<20 {
					t.Fatalf("segment %d: %v %v", i, fi, err)
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

// TestJournalNoJournalOption: NoJournal stores through badger group commit.
func TestJournalNoJournalOption(t *testing.T) {
	db := openDir(t, t.TempDir(), func(o *Options) { o.NoJournal = true })
	defer db.Close()
	if db.jr != nil {
		t.Fatal("journal opened with NoJournal")
	}
	if err := db.PutDecision("t1", DecisionRecord{ID: "d", AccountID: "a", At: 1, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Decision("t1", "d"); err != nil {
		t.Fatal(err)
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
