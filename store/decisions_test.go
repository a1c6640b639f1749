package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestDecisionsLargeAndFresh: audit records above Options.ValueThreshold (kept
// in badger's value log) and below it read back the same, before and after a
// reopen; records marked Fresh skip the proof that their id is unused, and a
// later record that reuses such an id with other content is still refused.
func TestDecisionsLargeAndFresh(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mem       bool
		threshold int64
	}{
		{"memory", true, 0},
		{"disk", false, 0},
		{"disk small threshold", false, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			open := func() *DB {
				if tc.mem {
					db := openMem(t)
					return db
				}
				return openDir(t, dir, func(o *Options) {
					if tc.threshold > 0 {
						o.ValueThreshold = tc.threshold
					}
				})
			}
			db := open()
			var recs []DecisionRecord
			for i := range 40 {
				size := 10
				if i%2 == 0 {
					size = 4000 // above the default threshold
				}
				p := fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", size))
				recs = append(recs, DecisionRecord{ID: fmt.Sprintf("dc_%03d", i), AccountID: fmt.Sprintf("a%d", i%3), At: int64(1000 + i), Payload: []byte(p), Compact: true, Fresh: i%4 != 3})
			}
			for lo := 0; lo < len(recs); lo += 8 {
				if err := db.PutDecisions("t", recs[lo:lo+8]); err != nil {
					t.Fatal(err)
				}
			}
			check := func(db *DB) {
				t.Helper()
				for _, r := range recs {
					got, err := db.Decision("t", r.ID)
					if err != nil || string(got.Payload) != string(r.Payload) || got.AccountID != r.AccountID || got.At != r.At {
						t.Fatalf("%s: %v %.40q", r.ID, err, got.Payload)
					}
				}
				n := 0
				for a := range 3 {
					list, err := db.Decisions("t", fmt.Sprintf("a%d", a), minT, maxT)
					if err != nil {
						t.Fatal(err)
					}
					for k, r := range list {
						if k > 0 && r.At <= list[k-1].At {
							t.Fatalf("a%d: out of order at %d", a, k)
						}
					}
					n += len(list)
				}
				if n != len(recs) {
					t.Fatalf("listed %d records, want %d", n, len(recs))
				}
			}
			check(db)
			reuse := recs[0]
			reuse.Payload, reuse.Fresh = []byte(`{"other":1}`), false
			var re *RowError
			if err := db.PutDecision("t", reuse); !errors.As(err, &re) || re.Field != "decision_id" {
				t.Fatalf("reused fresh id: %v", err)
			}
			if tc.mem {
				return
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = open()
			defer db.Close()
			check(db)
		})
	}
}

// TestDecisionStoredInPlace: a record's Stored form is used only when it is
// exactly the head, the record's own Payload (the same memory) and '}';
// anything else is ignored and the record stored from its fields.
func TestDecisionStoredInPlace(t *testing.T) {
	build := func(id, account string, at int64, payload string) ([]byte, []byte) {
		b, ok := AppendDecisionHead(nil, id, account, at)
		if !ok {
			t.Fatalf("%q: no head", id)
		}
		h := len(b)
		b = append(append(b, payload...), '}')
		return b, b[h : len(b)-1 : len(b)-1]
	}
	for _, tc := range []struct {
		name    string
		inPlace bool
		rec     func() DecisionRecord
	}{
		{"in place", true, func() DecisionRecord {
			st, p := build("s1", "a", 5, `{"x":1}`)
			return DecisionRecord{ID: "s1", AccountID: "a", At: 5, Payload: p, Stored: st, Compact: true}
		}},
		{"payload elsewhere", false, func() DecisionRecord {
			st, _ := build("s2", "a", 5, `{"x":1}`)
			return DecisionRecord{ID: "s2", AccountID: "a", At: 5, Payload: []byte(`{"x":1}`), Stored: st, Compact: true}
		}},
		{"head of another record", false, func() DecisionRecord {
			st, p := build("s3", "other", 6, `{"x":1}`)
			return DecisionRecord{ID: "s3", AccountID: "a", At: 5, Payload: p, Stored: st, Compact: true}
		}},
		{"not compact", false, func() DecisionRecord {
			st, p := build("s4", "a", 5, `{"x": 1}`)
			return DecisionRecord{ID: "s4", AccountID: "a", At: 5, Payload: p, Stored: st}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openMem(t)
			r := tc.rec()
			if _, ok := storedInPlace(&r); ok != tc.inPlace {
				t.Fatalf("in place: %v, want %v", ok, tc.inPlace)
			}
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.PutDecision("t", r); err != nil {
				t.Fatal(err)
			}
			got, err := db.Decision("t", r.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != string(want) {
				t.Fatalf("stored %s, want %s", b, want)
			}
		})
	}
}

// TestFreshBatchDuplicate: a batch of Fresh records is not checked for a
// repeated id before the committer, which still stores one id with one
// content: the same record twice is stored once, two contents under one id
// refuse the whole batch and store none of it.
func TestFreshBatchDuplicate(t *testing.T) {
	db := openDir(t, t.TempDir(), nil)
	defer db.Close()
	rec := func(id, p string) DecisionRecord {
		return DecisionRecord{ID: id, AccountID: "a", At: 1, Payload: []byte(p), Compact: true, Fresh: true}
	}
	if err := db.PutDecisions("t", []DecisionRecord{rec("dc_1", `{"x":1}`), rec("dc_1", `{"x":1}`), rec("dc_2", `{"x":2}`)}); err != nil {
		t.Fatalf("same record twice: %v", err)
	}
	list, err := db.Decisions("t", "a", minT, maxT)
	if err != nil || len(list) != 2 {
		t.Fatalf("listed %d records (%v), want 2", len(list), err)
	}
	var re *RowError
	if err := db.PutDecisions("t", []DecisionRecord{rec("dc_3", `{"x":3}`), rec("dc_3", `{"x":4}`)}); !errors.As(err, &re) || re.Field != "decision_id" {
		t.Fatalf("one id, two contents: %v", err)
	}
	if _, err := db.Decision("t", "dc_3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused batch stored a record: %v", err)
	}
}
