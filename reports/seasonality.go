package reports

import (
	"time"
)

// SeasonalityReport counts payments and engagement by the debtor's local
// month, weekday, hour and day of month (paydays), and by hour × weekday.
//
// Contacts are bucketed by their local send time and count as engaged when
// anything proving engagement followed them (opened, clicked, replied, a call
// conversation, an inbound call); payments are bucketed by their own local
// time. Days is the number of UTC calendar days of the period that fall in the
// bucket, so that PaymentsPerDay compares buckets of unequal length (there are
// fewer 31sts than 1sts).
type SeasonalityReport struct {
	Report       string         `json:"report"`
	Filter       Filter         `json:"filter"`
	From         time.Time      `json:"from"`
	To           time.Time      `json:"to"`
	Status       string         `json:"status"`
	Message      string         `json:"message,omitempty"`
	ByMonth      []SeasonBucket `json:"by_month"`
	ByWeekday    []SeasonBucket `json:"by_weekday"`
	ByHour       []SeasonBucket `json:"by_hour"`
	ByDayOfMonth []SeasonBucket `json:"by_day_of_month"`
	// HourWeekday has 7 × 24 cells, Monday 00h first.
	HourWeekday []SeasonBucket `json:"by_weekday_hour"`
}

// SeasonBucket is one bucket of a seasonality breakdown.
type SeasonBucket struct {
	// Label names the bucket ("Jan", "Mon", "14", "Mon 14").
	Label string `json:"label"`
	// Month (1-12), Weekday (1 = Monday … 7 = Sunday), Hour (0-23) and Day
	// (1-31) locate the bucket; fields that do not apply are 0 (Hour -1).
	Month          int      `json:"month,omitempty"`
	Weekday        int      `json:"weekday,omitempty"`
	Hour           int      `json:"hour"`
	Day            int      `json:"day,omitempty"`
	Days           int      `json:"days"`
	Contacts       int      `json:"contacts"`
	Engaged        int      `json:"engaged"`
	EngagementRate *float64 `json:"engagement_rate"`
	Payments       int      `json:"payments"`
	PaymentsPerDay *float64 `json:"payments_per_day"`
}

var weekdayNames = [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// isoWeekday returns 0 for Monday … 6 for Sunday.
func isoWeekday(t time.Time) int { return (int(t.Weekday()) + 6) % 7 }

// Seasonality computes the seasonality report over the filter's slice.
func (b *Book) Seasonality(f Filter) *SeasonalityReport {
	from, to := b.bounds(&f)
	r := &SeasonalityReport{Report: "seasonality", Filter: f, From: time.UnixMicro(from).UTC(), To: time.UnixMicro(to).UTC(), Status: StatusOK}
	month := make([]SeasonBucket, 12)
	wd := make([]SeasonBucket, 7)
	hour := make([]SeasonBucket, 24)
	dom := make([]SeasonBucket, 31)
	hw := make([]SeasonBucket, 7*24)
	for i := range month {
		month[i] = SeasonBucket{Label: time.Month(i + 1).String()[:3], Month: i + 1, Hour: -1}
	}
	for i := range wd {
		wd[i] = SeasonBucket{Label: weekdayNames[i], Weekday: i + 1, Hour: -1}
	}
	for i := range hour {
		hour[i] = SeasonBucket{Label: twoDigits(i), Hour: i}
	}
	for i := range dom {
		dom[i] = SeasonBucket{Label: twoDigits(i + 1), Day: i + 1, Hour: -1}
	}
	for d := range 7 {
		for h := range 24 {
			hw[d*24+h] = SeasonBucket{Label: weekdayNames[d] + " " + twoDigits(h), Weekday: d + 1, Hour: h}
		}
	}
	// Calendar days of the period (UTC) per bucket.
	if to > from {
		start := time.UnixMicro(from).UTC()
		day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
		for ; day.UnixMicro() < to; day = day.AddDate(0, 0, 1) {
			month[day.Month()-1].Days++
			w := isoWeekday(day)
			wd[w].Days++
			dom[day.Day()-1].Days++
			for h := range 24 {
				hour[h].Days++
				hw[w*24+h].Days++
			}
		}
	}
	all := func(t time.Time) [5]*SeasonBucket {
		w := isoWeekday(t)
		return [5]*SeasonBucket{&month[t.Month()-1], &wd[w], &hour[t.Hour()], &dom[t.Day()-1], &hw[w*24+t.Hour()]}
	}
	seen := false
	for _, a := range b.population(&f, to) {
		for _, c := range a.contacts {
			if c.at < from || c.at >= to || !f.matchChannel(c.ch) {
				continue
			}
			seen = true
			for _, bk := range all(time.UnixMicro(c.at).In(a.loc)) {
				bk.Contacts++
				if c.stages&stageEngaged != 0 {
					bk.Engaged++
				}
			}
		}
		for i := range a.evs {
			e := &a.evs[i]
			if e.typ != evPayment || e.at < from || e.at >= to || !f.matchChannel(e.ch) {
				continue
			}
			seen = true
			for _, bk := range all(time.UnixMicro(e.at).In(a.loc)) {
				bk.Payments++
			}
		}
	}
	if !seen {
		r.Status = StatusNotEnoughData
		r.Message = "not enough data: no contacts or payments in this period and slice"
	}
	for _, s := range [][]SeasonBucket{month, wd, hour, dom, hw} {
		for i := range s {
			s[i].EngagementRate = num(float64(s[i].Engaged)/float64(s[i].Contacts), s[i].Contacts > 0)
			s[i].PaymentsPerDay = num(float64(s[i].Payments)/float64(s[i].Days), s[i].Days > 0)
		}
	}
	// Months outside the period carry nothing: drop them so a 90-day period
	// shows its three or four months only.
	for _, m := range month {
		if m.Days > 0 || m.Contacts > 0 || m.Payments > 0 {
			r.ByMonth = append(r.ByMonth, m)
		}
	}
	r.ByWeekday, r.ByHour, r.ByDayOfMonth, r.HourWeekday = wd, hour, dom, hw
	return r
}

func twoDigits(i int) string {
	return string([]byte{byte('0' + i/10), byte('0' + i%10)})
}
