package serving

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// TestBudget: the timer-less scoring budget reports the deadline once it
// passed, the parent's error first, and the earlier of the two deadlines.
func TestBudget(t *testing.T) {
	now := time.Now()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	soon, cancelSoon := context.WithDeadline(context.Background(), now.Add(time.Minute))
	defer cancelSoon()
	for _, tc := range []struct {
		name     string
		parent   context.Context
		deadline time.Time
		err      error
		want     time.Time
	}{
		{"running", context.Background(), now.Add(time.Hour), nil, now.Add(time.Hour)},
		{"passed", context.Background(), now.Add(-time.Millisecond), context.DeadlineExceeded, now.Add(-time.Millisecond)},
		{"parent cancelled", cancelled, now.Add(time.Hour), context.Canceled, now.Add(time.Hour)},
		{"parent's deadline earlier", soon, now.Add(time.Hour), nil, now.Add(time.Minute)},
		{"own deadline earlier", soon, now.Add(time.Second), nil, now.Add(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := budget{tc.parent, tc.deadline}
			if err := b.Err(); !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Err() = %v, want %v", err, tc.err)
			}
			if d, ok := b.Deadline(); !ok || !d.Equal(tc.want) {
				t.Fatalf("Deadline() = %v %v, want %v", d, ok, tc.want)
			}
		})
	}
}

// TestLargeBatchCancelled: a large batch whose request is cancelled while it
// is decided returns the cancellation (no hang waiting for chunks that will
// never complete), and a later batch of the same accounts still succeeds.
func TestLargeBatchCancelled(t *testing.T) {
	e := newEnv(t, "", DefaultOptions())
	n := 4*pipeChunk + 5
	accts := world(n, "C")
	seed(t, e, "a", accts)
	ids := idsOf(accts)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.srv.Decide(ctx, "a", ids, t0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled batch: %v, want context.Canceled", err)
	}
	out, err := e.srv.Decide(context.Background(), "a", ids, t0)
	if err != nil || len(out) != n {
		t.Fatalf("batch after a cancelled one: %d answers, %v", len(out), err)
	}
	recs, err := e.db.Decisions("a", ids[n-1], math.MinInt64, math.MaxInt64)
	if err != nil || len(recs) != 1 {
		t.Fatalf("last account has %d audit records (%v), want 1", len(recs), err)
	}
}
