package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
)

// additiveScorer scores p = f(account, channel, local hour) + g(message), with
// f and g pseudo-random: the ranking of (channel, slot) is the same under
// every message, so the coordinate search must find the exact argmax.
type additiveScorer struct{ calls, scored int }

func (s *additiveScorer) Version() string          { return "additive/1" }
func (s *additiveScorer) Target() string           { return "engaged_48h" }
func (s *additiveScorer) Priors() *features.Priors { return features.UniformPriors() }
func (s *additiveScorer) Score(x *Context, cands []Candidate, p []float64) error {
	s.calls++
	s.scored += len(cands)
	for i, c := range cands {
		h := fnv.New64a()
		fmt.Fprint(h, x.Account.Row.ID, c.Channel, c.LocalHour)
		f := float64(h.Sum64()%1000) / 4000
		g := float64(datasets.MessageIndex(c.Message)) / 50
		p[i] = f + g
	}
	return nil
}

// TestCoordinateSearch: with AllHours the coordinate search picks the same
// action as scoring every candidate, for a scorer whose slot ranking does not
// depend on the message, and scores far fewer candidates.
func TestCoordinateSearch(t *testing.T) {
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Epsilon, o.HoldoutShare, o.AllHours = 0, 0, true
	search, err := New(fw, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Shortlist = 1000 // never shortlists: every candidate is scored
	full, err := New(fw, o)
	if err != nil {
		t.Fatal(err)
	}
	o.AllHours = false
	two, err := New(fw, o)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	contacts, wider := 0, 0
	var ss, sf additiveScorer
	for i := 0; i < 300; i++ {
		now := time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, time.UTC)
		in := randomInput(t, rng, fw, now, i)
		a, err := search.Decide(context.Background(), in, &ss, "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := full.Decide(context.Background(), in, &sf, "")
		if err != nil {
			t.Fatal(err)
		}
		c, err := two.Decide(context.Background(), in, &sf, "")
		if err != nil {
			t.Fatal(err)
		}
		if (a.Action == nil) != (b.Action == nil) || a.Candidates != b.Candidates {
			t.Fatalf("decision %d: search %+v, full %+v", i, a.Action, b.Action)
		}
		if a.Action == nil || a.Policy != PolicyModel {
			continue
		}
		contacts++
		if *a.Action.P != *b.Action.P || a.Action.Channel != b.Action.Channel || a.Action.LocalHour != b.Action.LocalHour || a.Action.Message != b.Action.Message {
			t.Fatalf("decision %d: coordinate search chose %s %02d %s (p %v), full scoring %s %02d %s (p %v)", i,
				a.Action.Channel, a.Action.LocalHour, a.Action.Message, *a.Action.P, b.Action.Channel, b.Action.LocalHour, b.Action.Message, *b.Action.P)
		}
		if a.Propensity != 1 {
			t.Fatalf("decision %d: propensity %v without exploration", i, a.Propensity)
		}
		if a.Candidates > c.Candidates {
			wider++
		}
	}
	if contacts < 50 || wider == 0 {
		t.Fatalf("too few contacts (%d) or never more candidates with every hour (%d) to test anything", contacts, wider)
	}
	if ss.scored*2 > sf.scored {
		t.Fatalf("coordinate search scored %d candidates, full scoring %d: no saving", ss.scored, sf.scored)
	}
	t.Logf("%d contacts; %d of them with more candidates than two slots; scored %d (search) vs %d (full)", contacts, wider, ss.scored, sf.scored)
}

// TestMinP: a threshold above every probability turns every scored contact
// into "no contact" with the reason; without it the same accounts are
// contacted.
func TestMinP(t *testing.T) {
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		minP float64
		want string
	}{{"off", 0, OutcomeContact}, {"above every p", 1, OutcomeNoContact}} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Epsilon, o.HoldoutShare, o.AllHours, o.MinP = 0.5, 0, true, tc.minP
			eng, err := New(fw, o)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(9, 10))
			var sc additiveScorer // p < 0.35 always
			n := 0
			for i := 0; i < 200; i++ {
				now := time.Date(2026, 5, 1+rng.IntN(28), 10, 0, 0, 0, time.UTC)
				in := randomInput(t, rng, fw, now, i)
				d, err := eng.Decide(context.Background(), in, &sc, "")
				if err != nil {
					t.Fatal(err)
				}
				if d.Candidates == 0 {
					continue // not scored: wait, no channel, or paid
				}
				n++
				if d.Outcome != tc.want {
					t.Fatalf("decision %d: outcome %s, want %s (%v)", i, d.Outcome, tc.want, d.Reasons)
				}
				if d.Outcome == OutcomeNoContact && (d.Action != nil || d.Propensity != 1 || !slices.ContainsFunc(d.Reasons, func(r string) bool { return len(r) > 20 && r[:20] == "no permitted action " })) {
					t.Fatalf("decision %d: no contact without its reason or with an action: %+v", i, d)
				}
			}
			if n < 50 {
				t.Fatalf("only %d scored decisions", n)
			}
		})
	}
	o := DefaultOptions()
	o.MinP = 2
	if _, err := New(fw, o); err == nil {
		t.Fatal("min p 2 accepted")
	}
}

// TestChainScorer: the chain's probability is the product of its parts and
// its target the conversion's.
func TestChainScorer(t *testing.T) {
	rs, err := NewRateScorer(nil)
	if err != nil {
		t.Fatal(err)
	}
	var add additiveScorer
	if _, err := NewChainScorer(rs, nil); err == nil {
		t.Fatal("nil conversion scorer accepted")
	}
	ch, err := NewChainScorer(rs, &add)
	if err != nil {
		t.Fatal(err)
	}
	fw, _ := compliance.Open(compliance.DefaultOptions())
	rng := rand.New(rand.NewPCG(11, 12))
	now := time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
	in := randomInput(t, rng, fw, now, 1)
	x := &Context{Account: in.Account, State: in.State, At: now.UnixMicro()}
	x.Numeric = in.State.Read(x.At, in.Account, rs.Priors(), nil)
	var cands []Candidate
	for _, c := range datasets.ContactChannels {
		for _, m := range datasets.Messages {
			cands = append(cands, Candidate{Channel: c, Message: m, SendAt: now.Add(time.Hour), LocalHour: 10, Slot: 1})
		}
	}
	p, a, b := make([]float64, len(cands)), make([]float64, len(cands)), make([]float64, len(cands))
	if err := ch.Score(x, cands, p); err != nil {
		t.Fatal(err)
	}
	_ = rs.Score(x, cands, a)
	_ = add.Score(x, cands, b)
	for i := range p {
		if p[i] != a[i]*b[i] {
			t.Fatalf("candidate %d: chain %v, want %v x %v", i, p[i], a[i], b[i])
		}
	}
	if ch.Target() != add.Target() || ch.Version() != "rates/1*additive/1" {
		t.Fatalf("target %s version %s", ch.Target(), ch.Version())
	}
}

// BenchmarkDecide measures one decision with the rate scorer, with the two
// profile slots per channel and with every hour (coordinate search).
func BenchmarkDecide(b *testing.B) {
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	sc, err := NewRateScorer(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, all := range []bool{false, true} {
		b.Run(fmt.Sprint("all_hours=", all), func(b *testing.B) {
			o := DefaultOptions()
			o.HoldoutShare, o.AllHours = 0, all
			eng, err := New(fw, o)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(13, 14))
			now := time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC)
			in := randomInput(b, rng, fw, now, 1)
			in.Compliance.Jurisdiction, in.Compliance.TimeZone, in.Compliance.Flags = "GB", "Europe/London", nil
			b.ReportAllocs()
			for b.Loop() {
				if _, err := eng.Decide(context.Background(), in, sc, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
