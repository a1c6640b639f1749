package compliance

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestSessionMatchesSubject: a Session's answers are the Subject's, on the
// property test's random accounts, ledgers and instants, for the questions
// the decision engine asks in the order it asks them (every channel's
// verdict at one instant, then the earliest instants of send slots of every
// channel, which repeat instants across channels, then a full check), plus
// the other kind of address and checks with a message, so that remembered
// outcomes are reused across channels, instants and kinds.
func TestSessionMatchesSubject(t *testing.T) {
	fw := mustOpen(t)
	rng := rand.New(rand.NewPCG(20260103, 11))
	var ses Session
	hits := 0
	for i := range 1200 {
		a, ledger, _, at, kind := randomCase(rng, fw)
		s, err := fw.Subject(a, ledger)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		ses.Reset(s)
		same := func(what string, got, want any) {
			t.Helper()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("case %d %s: session %+v, subject %+v", i, what, got, want)
			}
		}
		for _, ch := range Channels {
			ok1, r1, e1, err1 := ses.Verdict(ch, at, kind)
			ok2, r2, e2, err2 := s.Verdict(ch, at, kind)
			same("verdict "+ch.String(), []any{ok1, r1, e1, err1}, []any{ok2, r2, e2, err2})
		}
		slots := []time.Time{at.Add(time.Hour).Truncate(time.Hour), at.Add(7 * time.Hour).Truncate(time.Hour), at.Add(30 * time.Hour)}
		for _, x := range slots {
			for _, ch := range Channels {
				u1, ok1, err1 := ses.Earliest(ch, x, kind, 14*24*time.Hour)
				u2, ok2, err2 := s.Earliest(ch, x, kind, 14*24*time.Hour)
				same("earliest "+ch.String(), []any{u1, ok1, err1}, []any{u2, ok2, err2})
				a1, err1 := ses.Allowed(ch, x, Work)
				a2, err2 := s.Allowed(ch, x, Work)
				same("allowed "+ch.String(), []any{a1, err1}, []any{a2, err2})
			}
		}
		for _, ch := range Channels {
			for _, c := range []Contact{{Channel: ch, At: at, AddressKind: kind}, {Channel: ch, At: slots[0], AddressKind: Work, Message: &Message{Notices: []string{"us-validation-notice"}}}} {
				d1, err1 := ses.Check(c)
				d2, err2 := s.Check(c)
				same("check "+ch.String(), []any{d1, err1}, []any{d2, err2})
			}
		}
		hits += ses.n
	}
	if hits == 0 {
		t.Fatal("the session remembered nothing")
	}
}

// TestSessionsShareSubject: sessions on several goroutines ask one shared
// Subject (as serving's cached subjects are shared between decisions) and
// get its answers; run with -race, it also checks the subject's lazily made
// reason texts are safe to share.
func TestSessionsShareSubject(t *testing.T) {
	fw := mustOpen(t)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 40 {
		a, ledger, _, at, kind := randomCase(rng, fw)
		s, err := fw.Subject(a, ledger)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]Decision, len(Channels))
		for k, ch := range Channels {
			if want[k], err = s.Check(Contact{Channel: ch, At: at, AddressKind: kind}); err != nil {
				t.Fatal(err)
			}
		}
		s, _ = fw.Subject(a, ledger) // fresh: nothing made yet
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				var ses Session
				ses.Reset(s)
				for k, ch := range Channels {
					got, err := ses.Check(Contact{Channel: ch, At: at, AddressKind: kind})
					if err != nil || !reflect.DeepEqual(got, want[k]) {
						errs <- fmt.Errorf("case %d %s: %+v %v, want %+v", i, ch, got, err, want[k])
						return
					}
				}
				errs <- nil
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}
