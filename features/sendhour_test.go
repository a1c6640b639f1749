package features

import (
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

// TestSendHour: engagements at 18:00-19:00 local on weekdays and at 11:00 on
// weekends make the weekday read-out 18 or 19 and the weekend one 11 (or a
// neighbour within the ±1 h window); only the candidate hours are answered,
// none answers -1, and an account without engagements still gets an hour
// (the prior's).
func TestSendHour(t *testing.T) {
	acct := testAccount("A1", "Australia/Sydney")
	a, err := NewAccount(&acct)
	if err != nil {
		t.Fatal(err)
	}
	p := UniformPriors()
	s := NewState()
	all := []int{8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	if h := s.SendHour(a, p, false, all); h < 8 || h > 20 {
		t.Fatalf("no engagements: hour %d, want a candidate", h)
	}
	loc, _ := time.LoadLocation(acct.TimeZone)
	n := 0
	for d := 0; d < 28; d++ {
		day := time.Date(2026, 3, 2+d, 0, 0, 0, 0, loc)
		h := 18 + d%2
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			h = 11
		}
		at := time.Date(day.Year(), day.Month(), day.Day(), h, 10, 0, 0, loc).UnixMicro()
		for _, e := range []datasets.Event{
			{EventID: "s", AccountID: "A1", Type: datasets.EventContactSent, Channel: "email", At: at},
			{EventID: "o", AccountID: "A1", Type: datasets.EventOpened, Channel: "email", At: at + 60_000_000},
		} {
			n++
			if err := s.Apply(&e, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		weekend  bool
		hours    []int
		lo, hi   int
		describe string
	}{
		{false, all, 18, 19, "weekday"},
		{true, all, 10, 12, "weekend"},
		{false, []int{14, 15, 16, 17}, 17, 17, "weekday, afternoon candidates only"},
		{false, nil, -1, -1, "no candidate"},
	} {
		if h := s.SendHour(a, p, tc.weekend, tc.hours); h < tc.lo || h > tc.hi {
			t.Errorf("%s: hour %d, want %d..%d", tc.describe, h, tc.lo, tc.hi)
		}
	}
}
