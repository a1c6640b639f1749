package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestJournalReplay: records left in the journal (as by a crash before the
// indexer ran) are in the store after Open, a torn or damaged tail is dropped,
// and the journal starts empty.
func TestJournalReplay(t *testing.T) {
	tests := []struct {
		name string
		tail func(b []byte) []byte // appended after the whole frames
		want int                   // records expected after reopen
	}{
		{"clean", func(b []byte) []byte { return b }, 3},
		{"torn header", func(b []byte) []byte { return append(b, 1, 2, 3) }, 3},
		{"torn payload", func(b []byte) []byte {
			f := appendFrame(nil, "t1", &DecisionRecord{ID: "torn", AccountID: "a", At: 9}, []byte(`{}`))
			return append(b, f[:len(f)-2]...)
		}, 3},
		{"bad crc", func(b []byte) []byte {
			f := appendFrame(nil, "t1", &DecisionRecord{ID: "bad", AccountID: "a", At: 9}, []byte(`{}`))
			f[len(f)-1] ^= 0xff
			return append(b, f...)
		}, 3},
		{"huge length", func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0) }, 3},
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
				rec := DecisionRecord{ID: fmt.Sprint("d", i), AccountID: "acc", At: int64(100 + i), Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
				val, err := json.Marshal(rec)
				if err != nil {
					t.Fatal(err)
				}
				b = appendFrame(b, "t1", &rec, val)
			}
			path := filepath.Join(dir, journalName)
			if err := os.WriteFile(path, tc.tail(b), 0o600); err != nil {
				t.Fatal(err)
			}
			db = openDir(t, dir, nil)
			defer db.Close()
			if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
				t.Fatalf("journal after replay: %v %v, want empty", fi, err)
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
			for _, id := range []string{"torn", "bad"} {
				if _, err := db.Decision("t1", id); !errors.Is(err, ErrNotFound) {
					t.Fatalf("damaged record %s: %v, want not found", id, err)
				}
			}
			// Ids stay immutable across the replay.
			if err := db.PutDecision("t1", DecisionRecord{ID: "d1", AccountID: "acc", At: 101, Payload: []byte(`{"i":7}`)}); err == nil {
				t.Fatal("a replayed id accepted other content")
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
