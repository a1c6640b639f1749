package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestGroupCommit runs many concurrent PutDecisions calls, some of which reuse
// a decision id with other content: every call that returned nil is stored
// whole, every refused call stores nothing, and of the writers racing for one
// id exactly one wins.
func TestGroupCommit(t *testing.T) {
	db := openDir(t, t.TempDir(), nil)
	defer db.Close()
	const writers, calls = 16, 40
	type result struct {
		recs []DecisionRecord
		err  error
	}
	results := make([][]result, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := 0; c < calls; c++ {
				recs := []DecisionRecord{
					{ID: fmt.Sprintf("own-%d-%d-a", w, c), AccountID: "acc", At: int64(c), Payload: []byte(`{"x":1}`)},
					{ID: fmt.Sprintf("own-%d-%d-b", w, c), AccountID: "acc", At: int64(c), Payload: []byte(`{"x":2}`)},
				}
				if c%5 == 0 { // contested: every writer claims this id with its own content
					recs = append(recs, DecisionRecord{ID: fmt.Sprintf("contested-%d", c), AccountID: "acc", At: 1, Payload: []byte(fmt.Sprintf(`{"w":%d}`, w))})
				}
				results[w] = append(results[w], result{recs, db.PutDecisions("t1", recs)})
			}
		}()
	}
	wg.Wait()
	winners := map[string]int{}
	for w := range results {
		for _, r := range results[w] {
			var re *RowError
			if r.err != nil && !errors.As(r.err, &re) {
				t.Fatalf("unexpected error: %v", r.err)
			}
			for i, rec := range r.recs {
				got, err := db.Decision("t1", rec.ID)
				stored := err == nil && string(got.Payload) == string(rec.Payload)
				if r.err == nil && !stored {
					t.Fatalf("acknowledged record %s missing or different: %v", rec.ID, err)
				}
				if r.err != nil && i < 2 && err == nil {
					t.Fatalf("record %s of a refused call was stored", rec.ID)
				}
				if r.err == nil && i == 2 {
					winners[rec.ID]++
				}
			}
		}
	}
	for c := 0; c < calls; c += 5 {
		if id := fmt.Sprintf("contested-%d", c); winners[id] != 1 {
			t.Fatalf("%s: %d winners, want 1", id, winners[id])
		}
	}
}

// TestPutAfterClose: Close commits what is queued and later calls
// fail instead of hanging.
func TestPutAfterClose(t *testing.T) {
	db := openDir(t, t.TempDir(), nil)
	if err := db.PutDecision("t1", DecisionRecord{ID: "d1", AccountID: "a", At: 1, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PutDecision("t1", DecisionRecord{ID: "d2", AccountID: "a", At: 1, Payload: []byte(`{}`)}); err == nil {
		t.Fatal("put after close succeeded")
	}
}
