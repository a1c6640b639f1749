package features

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

// TestActionFeaturesMatchColumns: channel_affinity and message_affinity are
// the candidate's <channel>_engagement_rate and msg_<message>_response_rate,
// and send_slot_affinity is SlotAffinity, for every candidate.
func TestActionFeaturesMatchColumns(t *testing.T) {
	s, a := heavyState(t, 400, 9)
	p := UniformPriors()
	at := s.Last() + 1
	v := s.Read(at, a, p, nil)
	c := s.Candidates(a, p)
	// channel_active_affinity from the numeric columns: the engaged contacts
	// are the plain rate's numerator.
	activeAffinity := func(ch string) float64 {
		rate, sent := v[slices.Index(numericNames, ch+"_engagement_rate")], v[slices.Index(numericNames, ch+"_sent")]
		return rate * (sent + p.RateStrength) / (v[slices.Index(numericNames, ch+"_sent_active")] + p.RateStrength)
	}
	shareSum := 0.0
	for _, ch := range datasets.ContactChannels {
		shareSum += activeAffinity(ch)
	}
	for _, ch := range datasets.Channels {
		for _, m := range datasets.Messages {
			for k := int64(0); k < 30; k++ {
				send := at + k*97*60_000_000
				got := c.Values(ch, send, m, nil)
				var prof [168]float64
				s.Profile(a, p, &prof)
				how := a.HourOfWeek(send)
				want := []float64{
					s.SlotAffinity(send, a, p),
					prof[how] / slices.Max(prof[how/24*24:how/24*24+24]),
					s.slotResponse(a.HourOfWeek(send)%24, p),
					v[slices.Index(numericNames, ch+"_engagement_rate")],
					v[slices.Index(numericNames, "msg_"+m+"_response_rate")],
					v[slices.Index(numericNames, ch+"_sent")],
					v[slices.Index(numericNames, ch+"_sent_active")],
					activeAffinity(ch),
					activeAffinity(ch) / shareSum,
					p.chRate[datasets.ChannelIndex(ch)],
				}
				for i := range want {
					if !close9(got[i], want[i]) {
						t.Fatalf("%s/%s at %s: %s %v, want %v", ch, m, fmtTime(send), actionNames[i], got[i], want[i])
					}
				}
			}
		}
	}
	if got := c.Values("fax", at, "", nil); !math.IsNaN(got[3]) || !math.IsNaN(got[4]) || !math.IsNaN(got[5]) || !math.IsNaN(got[7]) {
		t.Fatalf("unknown channel and no message read %v, want NaN affinities", got)
	}
}

// TestSlotResponse: sends answered at 19:00 local and ignored at 09:00 make
// the 19:00 slot's response rate higher than 09:00's; with no history every
// hour reads the prior.
func TestSlotResponse(t *testing.T) {
	acct := testAccount("A1", "America/Chicago")
	a, err := NewAccount(&acct)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultPriorOptions()
	c := NewPriorCounter()
	p, err := c.Priors(o)
	if err != nil {
		t.Fatal(err)
	}
	s := NewState()
	if r9, r19 := s.slotResponse(9, p), s.slotResponse(19, p); r9 != r19 {
		t.Fatalf("empty state: 09:00 %v, 19:00 %v, want equal", r9, r19)
	}
	loc, _ := time.LoadLocation("America/Chicago")
	n := 0
	for d := 0; d < 20; d++ {
		for _, h := range []int{9, 19} {
			at := time.Date(2026, 2, 2+d, h, 0, 0, 0, loc).UnixMicro()
			n++
			evs := []datasets.Event{{EventID: "s", AccountID: "A1", Type: datasets.EventContactSent, Channel: "sms", At: at}}
			if h == 19 && d%2 == 0 {
				evs = append(evs, datasets.Event{EventID: "c", AccountID: "A1", Type: datasets.EventClicked, Channel: "sms", At: at + 60_000_000})
			}
			for k := range evs {
				if err := s.Apply(&evs[k], a); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if s.slotSent[9] != 20 || s.slotSent[19] != 20 || s.slotResp[19] != 10 || s.slotResp[9] != 0 {
		t.Fatalf("slot counts: sent 09 %d, 19 %d; responses 09 %d, 19 %d", s.slotSent[9], s.slotSent[19], s.slotResp[9], s.slotResp[19])
	}
	r9, r19 := s.slotResponse(9, p), s.slotResponse(19, p)
	if !(r19 > 0.3 && r9 < 0.1) {
		t.Fatalf("slot response 09:00 %v, 19:00 %v: want about 0 and 0.5", r9, r19)
	}
	cols := NewActionColumns([]string{"x", MessageAffinityName, SlotResponseName})
	if cols != (ActionColumns{-1, -1, 2, -1, 1, -1, -1, -1, -1, -1}) {
		t.Fatalf("columns %v", cols)
	}
	row := []float64{7, 0, 0}
	fill := s.Candidates(a, p).FillLocal(cols, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	fill("sms", 19, "friendly", row)
	if row[0] != 7 || row[2] != r19 {
		t.Fatalf("filled row %v, want [7 _ %v]", row, r19)
	}
}

// TestPriorsVersion1: priors saved before the send-slot response (version 1,
// no slot fields) still load, with a flat response over the day.
func TestPriorsVersion1(t *testing.T) {
	p := UniformPriors()
	p.Version, p.SlotResponse, p.ResponseRate, p.SlotStrength = 1, nil, 0, 0
	b, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParsePriors(b)
	if err != nil {
		t.Fatalf("version 1 priors rejected: %v", err)
	}
	for h, r := range q.slotRate {
		if r != 1 {
			t.Fatalf("version 1 slot shape at %02d:00 is %v, want 1", h, r)
		}
	}
	q.Version = PriorsVersion + 1
	if err := q.Prepare(); err == nil {
		t.Fatalf("version %d priors accepted", q.Version)
	}
}
