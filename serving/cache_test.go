package serving

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/serving/engine"
)

// TestViewInvalidation: decisions read a cached view of the account, and an
// acknowledged event or referral is seen by every decision after it: an
// opt-out of every channel turns the next decision into "no contact", a
// dispute referral flag shows in the compliance verdicts. Decisions run
// concurrently with the writes (the race detector checks the shared views).
func TestViewInvalidation(t *testing.T) {
	e := newEnv(t, "", DefaultOptions())
	accts := world(40, "V")
	seed(t, e, "a", accts)
	ctx := context.Background()
	decide := func(id string) *engine.Decision {
		t.Helper()
		var d engine.Decision
		out, err := e.srv.Decide(ctx, "a", []string{id}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out[0], &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	// Warm the cache under concurrent load.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.srv.Decide(ctx, "a", []string{accts[(i*7+g)%len(accts)].ID}, t0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i, a := range accts[:20] {
		if d := decide(a.ID); d.Outcome == engine.OutcomeNoContact {
			t.Fatalf("%s: no contact before the opt-out: %v", a.ID, d.Reasons)
		}
		ev := datasets.Event{EventID: fmt.Sprint("optout-", i), AccountID: a.ID, Type: datasets.EventOptOut, At: t0.Add(-time.Hour).UnixMicro()}
		if _, err := e.srv.Ingest("a", []datasets.Event{ev}); err != nil {
			t.Fatal(err)
		}
		if d := decide(a.ID); d.Outcome != engine.OutcomeNoContact {
			t.Fatalf("%s: decision after an acknowledged opt-out of every channel: %s %+v", a.ID, d.Outcome, d.Action)
		}
	}
	for _, a := range accts[20:30] {
		decide(a.ID)
		a.Flags = datasets.FlagCease
		if _, err := e.srv.Refer("a", []datasets.Account{a}); err != nil {
			t.Fatal(err)
		}
		if d := decide(a.ID); d.Outcome != engine.OutcomeNoContact {
			t.Fatalf("%s: decision after a cease referral: %s %+v", a.ID, d.Outcome, d.Action)
		}
	}
	close(stop)
	wg.Wait()
	if n := e.srv.views.len(); n == 0 {
		t.Fatal("no view was cached")
	}
}

// TestLRU: bounded, least recently used out first, and a load that began
// before an invalidation is not cached.
func TestLRU(t *testing.T) {
	var c lru[int]
	c.init(lruShards * 2) // two per shard
	for i := 0; i < 1000; i++ {
		k := fmt.Sprint(i)
		c.put(k, i, c.begin(k))
	}
	if n := c.len(); n > lruShards*2 {
		t.Fatalf("%d entries, bound %d", n, lruShards*2)
	}
	if v, ok := c.get("999"); !ok || v != 999 {
		t.Fatal("newest entry evicted")
	}
	g := c.begin("x")
	c.drop("x")
	c.put("x", 1, g)
	if _, ok := c.get("x"); ok {
		t.Fatal("a load older than the invalidation was cached")
	}
	c.put("x", 2, c.begin("x"))
	if v, ok := c.get("x"); !ok || v != 2 {
		t.Fatal("fresh load not cached")
	}
	// getBytes finds what put and set stored under the same key's string.
	for i := range 200 {
		tenant, id := fmt.Sprint("t", i%7), fmt.Sprint("acct-", i)
		if i%2 == 0 {
			c.set(cacheKey(tenant, id), i)
		} else {
			c.put(cacheKey(tenant, id), i, c.begin(cacheKey(tenant, id)))
		}
		if v, ok := c.getBytes(appendCacheKey(nil, tenant, id)); !ok || v != i {
			t.Fatalf("getBytes(%s, %s) = %d, %v; want %d", tenant, id, v, ok, i)
		}
	}
	if _, ok := c.getBytes(appendCacheKey(nil, "t0", "absent")); ok {
		t.Fatal("getBytes found an absent key")
	}
}

// TestBoundScorer: a promoted gbdt model is served with partial evaluation,
// and its decisions (action, probabilities, expected values, runners-up) are
// exactly those of the plain per-row prediction.
func TestBoundScorer(t *testing.T) {
	o := DefaultOptions()
	o.Engine.Epsilon, o.Engine.HoldoutShare = 0, 0
	e := newEnv(t, "", o)
	accts := world(24, "B")
	seed(t, e, "a", accts)
	served, ok := e.srv.scorer.Load().scorer.(*engine.ModelScorer)
	if !ok {
		t.Fatal("no model scorer")
	}
	plain, err := engine.NewModelScorer(served.Model())
	if err != nil {
		t.Fatal(err)
	}
	bound, err := engine.NewModelScorer(served.Model())
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.reg.Load("v0001")
	if err != nil {
		t.Fatal(err)
	}
	g, err := action.DecodeGBDT(m.Artifact.Payload)
	if err != nil {
		t.Fatal(err)
	}
	// The small test model may measure faster without partial evaluation;
	// force it on to compare the answers.
	if err := bound.UseBound(g, true); err != nil {
		t.Fatal(err)
	}
	e.srv.UseScorer(bound)
	decideAll := func() []engine.Decision {
		out, err := e.srv.Decide(context.Background(), "a", func() []string {
			ids := make([]string, len(accts))
			for i := range accts {
				ids[i] = accts[i].ID
			}
			return ids
		}(), t0)
		if err != nil {
			t.Fatal(err)
		}
		ds := make([]engine.Decision, len(out))
		for i := range out {
			if err := json.Unmarshal(out[i], &ds[i]); err != nil {
				t.Fatal(err)
			}
		}
		return ds
	}
	a := decideAll()
	e.srv.UseScorer(plain)
	b := decideAll()
	scored := 0
	for i := range a {
		ja, _ := json.Marshal([]any{a[i].Action, a[i].RunnersUp, a[i].Candidates})
		jb, _ := json.Marshal([]any{b[i].Action, b[i].RunnersUp, b[i].Candidates})
		if string(ja) != string(jb) {
			t.Fatalf("%s: bound %s\nplain %s", a[i].AccountID, ja, jb)
		}
		if a[i].Action != nil && a[i].Action.P != nil {
			scored++
		}
	}
	if scored == 0 {
		t.Fatal("no decision was scored by the model")
	}
}
