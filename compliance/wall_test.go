package compliance

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestVerdictWall: the cached wall clock reads the same clock, date, weekday
// and day of the year as the instant in the zone, around DST switches and in
// zones with half-hour offsets, for the first zones (cached) and later ones.
func TestVerdictWall(t *testing.T) {
	names := []string{"America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns"}
	var locs []*time.Location
	for _, n := range names {
		l, err := time.LoadLocation(n)
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, l)
	}
	rng := rand.New(rand.NewPCG(61, 62))
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	span := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() - start
	for range 20000 {
		t0 := start + rng.Int64N(span)
		if rng.IntN(2) == 0 {
			t0 -= t0 % int64(time.Hour) // on the hour, where switches happen
		}
		var v verdict
		for round := range 2 { // computed, then from the cache
			for zi, loc := range locs {
				w := v.wall(zi, loc, t0)
				lt := time.Unix(0, t0).In(loc)
				wh, wm, ws := w.Clock()
				lh, lm, ls := lt.Clock()
				wy, wmo, wd := w.Date()
				ly, lmo, ld := lt.Date()
				if wh != lh || wm != lm || ws != ls || wy != ly || wmo != lmo || wd != ld || w.Weekday() != lt.Weekday() || w.YearDay() != lt.YearDay() {
					t.Fatalf("round %d %s at %s: wall %s, local %s", round, names[zi], time.Unix(0, t0).UTC(), w, lt)
				}
			}
		}
	}
}
