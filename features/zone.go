package features

import (
	"fmt"
	"math"
	"sync"
	"time"
	_ "time/tzdata" // a bare machine must compute the same local hours
)

// locations caches loaded zones: time.LoadLocation parses tzdata on every call.
var locations sync.Map // name -> *time.Location

// loadLocation returns the named IANA zone, cached.
func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// zoneClock turns UTC instants into local hour-of-week without calling time.In per
// event: it caches the zone's current UTC offset and the range of instants for
// which that offset holds, and only consults the tz database when an instant
// falls outside it (at a DST switch).
type zoneClock struct {
	loc      *time.Location
	off      int64 // seconds east of UTC
	from, to int64 // unix seconds: off holds for from <= s < to
}

func newZoneClock(name string) (zoneClock, error) {
	if name == "" {
		name = "UTC"
	}
	loc, err := loadLocation(name)
	if err != nil {
		return zoneClock{}, fmt.Errorf("time zone %q: %w", name, err)
	}
	return zoneClock{loc: loc, from: 1, to: 0}, nil
}

// offset returns the UTC offset in seconds at unix second s.
func (z *zoneClock) offset(s int64) int64 {
	if s >= z.from && s < z.to {
		return z.off
	}
	t := time.Unix(s, 0).In(z.loc)
	_, off := t.Zone()
	start, end := t.ZoneBounds()
	z.off = int64(off)
	z.from, z.to = math.MinInt64, math.MaxInt64
	if !start.IsZero() {
		z.from = start.Unix()
	}
	if !end.IsZero() {
		z.to = end.Unix()
	}
	return z.off
}

// hourOfWeek returns the local hour of the week (0..167, Sunday 00:00 = 0, as
// time.Weekday counts) of the instant us (UTC microseconds).
func (z *zoneClock) hourOfWeek(us int64) int {
	s := floorDiv(us, 1_000_000)
	local := s + z.offset(s)
	days := floorDiv(local, 86400)
	hour := (local - days*86400) / 3600
	wd := (days + 4) % 7 // 1970-01-01 was a Thursday
	if wd < 0 {
		wd += 7
	}
	return int(wd*24 + hour)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// fmtTime formats UTC microseconds for error messages.
func fmtTime(us int64) string {
	if us == math.MinInt64 {
		return "(none)"
	}
	return time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
}
