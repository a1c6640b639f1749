package simulate

import (
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/serving/engine"
)

// fakeScorer scores a candidate by a table over its channel and message.
type fakeScorer struct {
	p func(c *engine.Candidate) float64
}

func (f *fakeScorer) Version() string          { return "fake" }
func (f *fakeScorer) Target() string           { return "engaged_48h" }
func (f *fakeScorer) Priors() *features.Priors { return features.UniformPriors() }
func (f *fakeScorer) Score(_ *engine.Context, cands []engine.Candidate, p []float64) error {
	for i := range cands {
		p[i] = f.p(&cands[i])
	}
	return nil
}

func grid() []engine.Candidate {
	var out []engine.Candidate
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	for _, ch := range []string{"email", "call"} {
		for k := range 2 {
			for _, m := range datasets.Messages {
				out = append(out, engine.Candidate{Channel: ch, Message: m, SendAt: t0.Add(time.Duration(k) * time.Hour)})
			}
		}
	}
	return out
}

// TestMessageScorer: the payment model picks the message within each slot;
// the engagement model alone orders the slots (the message factor averages
// to 1 over a slot's messages).
func TestMessageScorer(t *testing.T) {
	eng := &fakeScorer{p: func(c *engine.Candidate) float64 {
		v := 0.1
		if c.Channel == "call" {
			v = 0.4
		}
		if c.Message == datasets.MessageFriendly {
			v *= 1.05 // the engagement model's faint message preference
		}
		return v
	}}
	pay := &fakeScorer{p: func(c *engine.Candidate) float64 {
		v := 0.05
		if c.Message == datasets.MessageDiscount {
			v = 0.1
		}
		if c.Channel == "email" {
			v *= 3 // a payment-model channel effect must not move the channel
		}
		return v
	}}
	s := &messageScorer{engage: eng, pay: pay}
	cands := grid()
	p := make([]float64, len(cands))
	if err := s.Score(nil, cands, p); err != nil {
		t.Fatal(err)
	}
	best := 0
	for i := range p {
		if p[i] > p[best] {
			best = i
		}
	}
	if c := cands[best]; c.Channel != "call" || c.Message != datasets.MessageDiscount {
		t.Fatalf("best %s/%s, want call/discount_offer", c.Channel, c.Message)
	}
	nm := len(datasets.Messages)
	for lo := 0; lo < len(cands); lo += nm {
		var sum, base float64
		for i := lo; i < lo+nm; i++ {
			sum += p[i]
			base += eng.p(&cands[i])
		}
		if math.Abs(sum/base-1) > 0.06 {
			t.Errorf("slot %d: message factors average %.3f, want about 1", lo/nm, sum/base)
		}
	}
	if s.Target() != "engaged_48h" || s.Version() != "fake+msg:fake" {
		t.Errorf("target %q version %q", s.Target(), s.Version())
	}
}

// TestOptimistScorer: the bonus is bonus / sqrt(1 + sends on the channel),
// read from the <channel>_sent feature, and it is deterministic.
func TestOptimistScorer(t *testing.T) {
	base := &fakeScorer{p: func(*engine.Candidate) float64 { return 0.2 }}
	s, err := newOptimistScorer(base, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	num := features.NumericNames()
	x := &engine.Context{Numeric: make([]float64, len(num))}
	x.Numeric[slices.Index(num, "email_sent")] = 8
	cands := grid()
	p := make([]float64, len(cands))
	if err := s.Score(x, cands, p); err != nil {
		t.Fatal(err)
	}
	for i, c := range cands {
		want := 0.2 + 0.3
		if c.Channel == "email" {
			want = 0.2 + 0.3/3
		}
		if math.Abs(p[i]-want) > 1e-12 {
			t.Fatalf("%s: %v, want %v", c.Channel, p[i], want)
		}
	}
}

// TestLateFactors: a channel whose responses arrive after 48 hours gets the
// ratio of responses within 7 days to those within 48 hours; a channel with
// too few responses reads 1; lateScorer applies it, capped at 1.
func TestLateFactors(t *testing.T) {
	const h = int64(3600e6)
	var evs []datasets.Event
	add := func(id, ch string, after int64, typ string) {
		evs = append(evs,
			datasets.Event{DecisionID: id, Type: datasets.EventContactSent, Channel: ch, At: 1000 * h},
			datasets.Event{DecisionID: id, Type: typ, Channel: ch, At: 1000*h + after})
	}
	for k := range 300 {
		id := "L" + strconv.Itoa(k)
		switch k % 3 {
		case 0:
			add(id, "letter", 30*h, datasets.EventInboundCall)
		case 1:
			add(id, "letter", 70*h, datasets.EventInboundCall)
		default:
			add(id, "letter", 10*24*h, datasets.EventInboundCall) // too late for either
		}
		add("E"+strconv.Itoa(k), "email", h, datasets.EventOpened)
	}
	add("C1", "call", 9*24*h, datasets.EventCallConversation)
	f := lateFactors(evs)
	if math.Abs(f["letter"]-2) > 1e-9 || f["email"] != 1 || f["call"] != 1 || f["sms"] != 1 {
		t.Fatalf("factors %v, want letter 2, others 1", f)
	}
	s := &lateScorer{Scorer: &fakeScorer{p: func(c *engine.Candidate) float64 { return 0.6 }}, factor: f}
	cands := []engine.Candidate{{Channel: "letter"}, {Channel: "email"}}
	p := make([]float64, 2)
	if err := s.Score(nil, cands, p); err != nil {
		t.Fatal(err)
	}
	if p[0] != 1 || p[1] != 0.6 {
		t.Fatalf("scores %v, want [1 0.6]", p)
	}
}
