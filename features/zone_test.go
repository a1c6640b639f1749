package features

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

func wantHOW(us int64, loc *time.Location) int {
	lt := time.UnixMicro(us).In(loc)
	return int(lt.Weekday())*24 + lt.Hour()
}

// TestHourOfWeekMatchesTimeIn: the cached-offset clock agrees with time.In at
// every instant of a year, for DST zones, half- and quarter-hour offsets, and
// across instants that jump back and forth (as a store replays accounts).
func TestHourOfWeekMatchesTimeIn(t *testing.T) {
	zones := []string{"America/New_York", "America/St_Johns", "Australia/Adelaide", "Asia/Kolkata",
		"Europe/London", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kathmandu", "UTC", "America/Phoenix"}
	start := time.Date(2025, 12, 25, 0, 0, 0, 0, time.UTC).UnixMicro()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, z := range zones {
		c, err := newZoneClock(z)
		if err != nil {
			t.Fatal(err)
		}
		loc, _ := time.LoadLocation(z)
		// monotone sweep every 7 minutes through 2026
		for us := start; us < start+375*usDay; us += 7 * 60_000_000 {
			if got, want := c.hourOfWeek(us), wantHOW(us, loc); got != want {
				t.Fatalf("%s %s: hour of week %d, want %d", z, time.UnixMicro(us).UTC(), got, want)
			}
		}
		// random jumps, including before 1970
		for k := 0; k < 5000; k++ {
			us := rng.Int64N(80*365*usDay) - 20*365*usDay
			if got, want := c.hourOfWeek(us), wantHOW(us, loc); got != want {
				t.Fatalf("%s %s: hour of week %d, want %d", z, time.UnixMicro(us).UTC(), got, want)
			}
		}
	}
}

// TestHourOfWeekCases pins hand-checked local hours: the 2026 New York switches
// and half-hour zones.
func TestHourOfWeekCases(t *testing.T) {
	at := func(s string) int64 {
		tt, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tt.UnixMicro()
	}
	cases := []struct {
		zone, utc string
		how       int // Sunday 00 = 0
	}{
		{"America/New_York", "2026-03-08T06:30:00Z", 0*24 + 1},   // Sun 01:30 EST
		{"America/New_York", "2026-03-08T07:30:00Z", 0*24 + 3},   // Sun 03:30 EDT (02:xx skipped)
		{"America/New_York", "2026-03-09T13:15:00Z", 1*24 + 9},   // Mon 09:15 EDT
		{"America/New_York", "2026-03-06T14:15:00Z", 5*24 + 9},   // Fri 09:15 EST
		{"America/New_York", "2026-11-01T05:30:00Z", 0*24 + 1},   // Sun 01:30 EDT
		{"America/New_York", "2026-11-01T06:30:00Z", 0*24 + 1},   // Sun 01:30 EST again
		{"America/New_York", "2026-11-01T07:30:00Z", 0*24 + 2},   // Sun 02:30 EST
		{"America/St_Johns", "2026-01-05T12:00:00Z", 1*24 + 8},   // Mon 08:30 NST (-3:30)
		{"America/St_Johns", "2026-07-06T12:00:00Z", 1*24 + 9},   // Mon 09:30 NDT (-2:30)
		{"Australia/Adelaide", "2026-01-04T23:00:00Z", 1*24 + 9}, // Mon 09:30 ACDT (+10:30)
		{"Australia/Adelaide", "2026-07-05T23:00:00Z", 1*24 + 8}, // Mon 08:30 ACST (+9:30)
		{"Asia/Kolkata", "2026-01-05T03:00:00Z", 1*24 + 8},       // Mon 08:30 IST (+5:30)
		{"Asia/Kolkata", "2026-01-04T18:29:00Z", 0*24 + 23},      // Sun 23:59 IST
		{"Asia/Kolkata", "2026-01-04T18:30:00Z", 1*24 + 0},       // Mon 00:00 IST
	}
	for _, c := range cases {
		clk, err := newZoneClock(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := clk.hourOfWeek(at(c.utc)); got != c.how {
			t.Errorf("%s at %s: hour of week %d, want %d", c.zone, c.utc, got, c.how)
		}
	}
}

// TestProfileAcrossDST: a debtor who opens at 09:15 local every weekday of the
// March 2026 switch week lands in the 9 o'clock bins before and after it, and
// the profile's peak hour of day is 9.
func TestProfileAcrossDST(t *testing.T) {
	acct := testAccount("A1", "America/New_York")
	a, err := NewAccount(&acct)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/New_York")
	s := NewState()
	for d := 2; d <= 13; d++ { // 2026-03-02 (Mon) .. 03-13 (Fri), switch on Sun 03-08
		day := time.Date(2026, 3, d, 9, 15, 0, 0, loc)
		if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			continue
		}
		e := datasets.Event{EventID: day.String(), AccountID: "A1", Type: datasets.EventOpened, Channel: "email", At: day.UnixMicro()}
		if err := s.Apply(&e, a); err != nil {
			t.Fatal(err)
		}
	}
	for h := 0; h < hoursOfWeek; h++ {
		wd, hr := h/24, h%24
		want := uint32(0)
		if hr == 9 && wd >= 1 && wd <= 5 {
			want = 2
		}
		if s.how[h] != want {
			t.Fatalf("hour of week %d (weekday %d %02d:00): %d engagements, want %d", h, wd, hr, s.how[h], want)
		}
	}
	p := UniformPriors()
	v := s.Read(time.Date(2026, 3, 14, 0, 0, 0, 0, loc).UnixMicro(), a, p, nil)
	hod := v[indexOf("profile_hour_00") : indexOf("profile_hour_23")+1]
	best := 0
	for h := range hod {
		if hod[h] > hod[best] {
			best = h
		}
	}
	if best != 9 {
		t.Fatalf("profile peak hour of day %d, want 9 (profile %v)", best, hod)
	}
	// Half-hour zone: Kolkata 09:15 local is 03:45 UTC.
	acct2 := testAccount("A2", "Asia/Kolkata")
	a2, _ := NewAccount(&acct2)
	s2 := NewState()
	e := datasets.Event{EventID: "E", AccountID: "A2", Type: datasets.EventClicked, Channel: "sms",
		At: time.Date(2026, 1, 5, 3, 45, 0, 0, time.UTC).UnixMicro()} // Monday
	if err := s2.Apply(&e, a2); err != nil {
		t.Fatal(err)
	}
	if s2.how[1*24+9] != 1 {
		t.Fatalf("Kolkata Monday 09:15 not in bin Mon 09")
	}
}

func indexOf(name string) int {
	for i, n := range numericNames {
		if n == name {
			return i
		}
	}
	panic("no feature " + name)
}

func TestProfileSlotAffinity(t *testing.T) {
	s, a := heavyState(t, 500, 4)
	p := UniformPriors()
	var prof [168]float64
	s.Profile(a, p, &prof)
	sum := 0.0
	for _, x := range prof {
		sum += x
	}
	if !close9(sum, 1) {
		t.Fatalf("profile sums to %v, want 1", sum)
	}
	for k := int64(0); k < 200; k++ {
		at := t0 + k*37*60_000_000
		if got, want := s.SlotAffinity(at, a, p), 168*prof[a.HourOfWeek(at)]; got != want {
			t.Fatalf("slot affinity %v, want %v", got, want)
		}
	}
}
