package features

import (
	"bytes"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

// evidenceState is an evening debtor (emails opened at 19:00) called n times
// at local hour callHour without an answer.
func evidenceState(t *testing.T, callHour, n int) (*State, *Account) {
	t.Helper()
	acct := testAccount("A1", "America/Chicago")
	a, err := NewAccount(&acct)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/Chicago")
	s := NewState()
	apply := func(e datasets.Event) {
		if err := s.Apply(&e, a); err != nil {
			t.Fatal(err)
		}
	}
	for d := 0; d < 6; d++ {
		at := time.Date(2026, 2, 2+d, 19, 0, 0, 0, loc).UnixMicro()
		apply(datasets.Event{EventID: "e", AccountID: "A1", Type: datasets.EventContactSent, Channel: "email", At: at})
		apply(datasets.Event{EventID: "o", AccountID: "A1", Type: datasets.EventOpened, Channel: "email", At: at + 60_000_000})
	}
	for d := 0; d < n; d++ {
		at := time.Date(2026, 2, 10+d, callHour, 0, 0, 0, loc).UnixMicro()
		apply(datasets.Event{EventID: "c", AccountID: "A1", Type: datasets.EventContactSent, Channel: "call", At: at})
		apply(datasets.Event{EventID: "n", AccountID: "A1", Type: datasets.EventCallNoAnswer, Channel: "call", At: at + 30_000_000})
	}
	return s, a
}

// TestChannelEvidenceByHour: calls left unanswered at 10:00 by an evening
// debtor weigh less against the call channel than calls left unanswered at
// 19:00, in call_sent_active and channel_active_affinity, while the plain
// engagement rate cannot tell them apart.
func TestChannelEvidenceByHour(t *testing.T) {
	p := UniformPriors()
	p.ChannelRate = map[string]float64{"email": 0.1, "call": 0.1}
	if err := p.Prepare(); err != nil {
		t.Fatal(err)
	}
	read := func(hour int) (num, act []float64) {
		s, a := evidenceState(t, hour, 4)
		at := s.Last() + usHour
		num = s.Read(at, a, p, nil)
		act = s.Candidates(a, p).Values("call", at+usDay, "friendly", nil)
		return num, act
	}
	offNum, offAct := read(10)
	onNum, onAct := read(19)
	col := func(n string) int { return slices.Index(numericNames, n) }
	if offNum[col("call_engagement_rate")] != onNum[col("call_engagement_rate")] {
		t.Fatalf("plain call rate differs: %v vs %v", offNum[col("call_engagement_rate")], onNum[col("call_engagement_rate")])
	}
	off, on := offNum[col("call_sent_active")], onNum[col("call_sent_active")]
	if !(off < 0.5 && on > 3 && on <= 4) {
		t.Fatalf("call_sent_active: 4 calls at 10:00 read %v, at 19:00 %v; want < 0.5 and in (3, 4]", off, on)
	}
	ia := slices.Index(actionNames, ChannelActiveAffinityName)
	if !(offAct[ia] > 2*onAct[ia]) {
		t.Fatalf("channel_active_affinity: calls at 10:00 %v, at 19:00 %v; want the off-hours one well above", offAct[ia], onAct[ia])
	}
	if got := offAct[slices.Index(actionNames, ChannelSentName)]; got != 4 {
		t.Fatalf("channel_sent %v, want 4", got)
	}
	// A debtor never contacted on a channel reads the population rate.
	s, a := evidenceState(t, 10, 0)
	v := s.Candidates(a, p).Values("call", s.Last()+usDay, "friendly", nil)
	if !close9(v[ia], p.chRate[chCall]) || v[slices.Index(actionNames, ChannelSentActiveName)] != 0 {
		t.Fatalf("never called: %v, want the prior %v and no weighed contacts", v, p.chRate[chCall])
	}
}

// TestCodecVersion2: a state encoded by the previous format decodes, its
// contacts held under an unknown send hour that weighs fully (the channel
// evidence reads as the plain counts), every other feature as before; a
// version 3 state whose per-hour counts disagree with the sent counts is
// refused.
func TestCodecVersion2(t *testing.T) {
	s, a := evidenceState(t, 10, 4)
	b3, _ := s.MarshalBinary()
	// The version 2 encoding is the version 3 one without the trailing
	// per-channel send hours: email and call, a one-byte mask and one count
	// each (mask 1<<19 takes three bytes, 1<<10 two).
	v2 := append([]byte{stateVersion2}, b3[1:len(b3)-(3+1)-(2+1)]...)
	var d State
	if err := d.UnmarshalBinary(v2); err != nil {
		t.Fatalf("version 2: %v", err)
	}
	p := UniformPriors()
	at := s.Last() + usHour
	want, got := s.Read(at, a, p, nil), d.Read(at, a, p, nil)
	for i, n := range numericNames {
		switch {
		case n == "call_sent_active" || n == "email_sent_active":
			if got[i] != got[slices.Index(numericNames, n[:len(n)-len("_active")])] {
				t.Fatalf("version 2 %s %v, want the plain count", n, got[i])
			}
		case !close9(got[i], want[i]):
			t.Fatalf("version 2 %s reads %v, want %v", n, got[i], want[i])
		}
	}
	// Re-encoded, it is a version 3 state that round-trips.
	b, _ := d.MarshalBinary()
	var e State
	if err := e.UnmarshalBinary(b); err != nil || b[0] != StateVersion {
		t.Fatalf("re-encoded version 2 state: version %d, %v", b[0], err)
	}
	if b2, _ := e.MarshalBinary(); !bytes.Equal(b, b2) {
		t.Fatal("re-encoded version 2 state does not round-trip")
	}
	// A count that disagrees with the channel's sent count is refused.
	bad := slices.Clone(b3)
	bad[len(bad)-1]++
	if err := d.UnmarshalBinary(bad); err == nil {
		t.Fatal("decoded per-hour counts that disagree with the sent count")
	}
}

// TestSegmentChannelRate: the priors learn per segment which channels get
// answered; channel_segment_rate reads the account's segment, JSON keeps it,
// and priors without it (version 2) read the population rate.
func TestSegmentChannelRate(t *testing.T) {
	young, old := testAccount("Y", "America/Chicago"), testAccount("O", "America/Chicago")
	old.AgeBand = "65+"
	ya, _ := NewAccount(&young)
	oa, _ := NewAccount(&old)
	c := NewPriorCounter()
	// 30 old debtors answer most calls, 30 young ones ignore them.
	for k := range 30 {
		for _, a := range []*Account{ya, oa} {
			s := NewState()
			for d := range 10 {
				at := t0 + int64(k*10+d)*usDay
				e := datasets.Event{EventID: "c", AccountID: a.Row.ID, Type: datasets.EventContactSent, Channel: "call", At: at}
				if err := s.Apply(&e, a); err != nil {
					t.Fatal(err)
				}
				if a == oa && d%5 != 0 {
					e = datasets.Event{EventID: "a", AccountID: a.Row.ID, Type: datasets.EventCallConversation, Channel: "call", At: at + 60_000_000}
					if err := s.Apply(&e, a); err != nil {
						t.Fatal(err)
					}
				}
			}
			c.Add(s, a)
		}
	}
	p, err := c.Priors(DefaultPriorOptions())
	if err != nil {
		t.Fatal(err)
	}
	k := slices.Index(actionNames, ChannelSegmentRateName)
	rate := func(a *Account, p *Priors) float64 {
		return NewState().Candidates(a, p).Values("call", t0, "friendly", nil)[k]
	}
	pop := p.ChannelRate["call"] // 240 of 600 calls answered
	ry, ro := rate(ya, p), rate(oa, p)
	// shrunk toward the population with 200 pseudo-contacts: (0+200·0.4)/500, (240+80)/500
	if !close9(pop, 0.4) || !close9(ry, 0.16) || !close9(ro, 0.64) {
		t.Fatalf("call rate: population %v, young %v, old %v; want 0.4, 0.16, 0.64", pop, ry, ro)
	}
	b, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParsePriors(b)
	if err != nil {
		t.Fatal(err)
	}
	ya2, _ := NewAccount(&young)
	if got := rate(ya2, q); got != ry {
		t.Fatalf("after JSON: %v, want %v", got, ry)
	}
	q.Version, q.SegmentChannelRate = 2, nil
	if err := q.Prepare(); err != nil {
		t.Fatal(err)
	}
	ya3, _ := NewAccount(&young)
	if got := rate(ya3, q); got != q.chRate[chCall] {
		t.Fatalf("version 2 priors: %v, want the population rate %v", got, q.chRate[chCall])
	}
	if got := NewState().Candidates(ya3, q).Values("fax", t0, "friendly", nil)[k]; !math.IsNaN(got) {
		t.Fatalf("unknown channel: %v, want NaN", got)
	}
}
