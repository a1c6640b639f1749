package synth

import (
	"fmt"
	"time"
	_ "time/tzdata" // zones load on a bare machine, same hours everywhere
)

// jurisdiction is where a debtor lives: its rules, zone, currency and languages.
type jurisdiction struct {
	code     string
	zone     string
	currency string
	weight   float64 // share of referrals, roughly by population
	french   float64 // share of French speakers
	spanish  float64 // share of Spanish speakers
}

// jurisdictions lists the places referrals come from. Zones are the real IANA
// zones, including half-hour offsets (St John's, Adelaide) and zones without DST
// (Phoenix, Brisbane, Perth, Regina) so local-time logic is exercised.
var jurisdictions = []jurisdiction{
	{"US-CA", "America/Los_Angeles", "USD", 8.0, 0, 0.25},
	{"US-TX", "America/Chicago", "USD", 6.0, 0, 0.22},
	{"US-FL", "America/New_York", "USD", 4.5, 0, 0.15},
	{"US-NY", "America/New_York", "USD", 4.0, 0, 0.10},
	{"US-PA", "America/New_York", "USD", 2.5, 0, 0.03},
	{"US-IL", "America/Chicago", "USD", 2.5, 0, 0.08},
	{"US-OH", "America/New_York", "USD", 2.3, 0, 0.02},
	{"US-GA", "America/New_York", "USD", 2.2, 0, 0.05},
	{"US-NC", "America/New_York", "USD", 2.2, 0, 0.05},
	{"US-MI", "America/Detroit", "USD", 2.0, 0, 0.02},
	{"US-NJ", "America/New_York", "USD", 1.8, 0, 0.10},
	{"US-WA", "America/Los_Angeles", "USD", 1.6, 0, 0.06},
	{"US-AZ", "America/Phoenix", "USD", 1.5, 0, 0.18},
	{"US-MA", "America/New_York", "USD", 1.4, 0, 0.05},
	{"US-CO", "America/Denver", "USD", 1.2, 0, 0.10},
	{"US-HI", "Pacific/Honolulu", "USD", 0.3, 0, 0.02},
	{"US-AK", "America/Anchorage", "USD", 0.2, 0, 0.02},
	{"CA-ON", "America/Toronto", "CAD", 3.0, 0.04, 0},
	{"CA-QC", "America/Toronto", "CAD", 1.8, 0.78, 0},
	{"CA-BC", "America/Vancouver", "CAD", 1.1, 0.01, 0},
	{"CA-AB", "America/Edmonton", "CAD", 0.9, 0.02, 0},
	{"CA-MB", "America/Winnipeg", "CAD", 0.3, 0.03, 0},
	{"CA-SK", "America/Regina", "CAD", 0.3, 0.01, 0},
	{"CA-NS", "America/Halifax", "CAD", 0.2, 0.03, 0},
	{"CA-NL", "America/St_Johns", "CAD", 0.12, 0, 0},
	{"AU-NSW", "Australia/Sydney", "AUD", 2.1, 0, 0},
	{"AU-VIC", "Australia/Melbourne", "AUD", 1.7, 0, 0},
	{"AU-QLD", "Australia/Brisbane", "AUD", 1.3, 0, 0},
	{"AU-WA", "Australia/Perth", "AUD", 0.7, 0, 0},
	{"AU-SA", "Australia/Adelaide", "AUD", 0.45, 0, 0},
	{"NZ", "Pacific/Auckland", "NZD", 1.2, 0, 0},
	{"GB", "Europe/London", "GBP", 6.0, 0, 0},
}

// region indices used by the preference tables.
const (
	regionUS = iota
	regionCA
	regionAU
	regionNZ
	regionGB
)

func regionOf(code string) int {
	switch code[:2] {
	case "CA":
		return regionCA
	case "AU":
		return regionAU
	case "NZ":
		return regionNZ
	case "GB":
		return regionGB
	}
	return regionUS
}

// zoneTable caches, for one zone, the UTC instant (Unix seconds) of local
// midnight of each simulated calendar day, computed from the offset in force at
// local noon. Local hours 03:00-23:59 are then base+h*3600 exactly (DST switches
// happen before 03:00 in every zone used), which avoids time.In per candidate hour.
type zoneTable struct {
	loc  *time.Location
	base []int64
}

func newZoneTable(name string, start time.Time, days int) (*zoneTable, error) {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("load zone %s: %w", name, err)
	}
	zt := &zoneTable{loc: loc, base: make([]int64, days)}
	y, m, d := start.Date()
	for i := range days {
		noon := time.Date(y, m, d+i, 12, 0, 0, 0, loc)
		zt.base[i] = noon.Unix() - 12*3600
	}
	return zt, nil
}
