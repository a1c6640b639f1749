package reports

import (
	"fmt"
	"strings"
	"time"
)

// Kinds of table columns.
const (
	KindString = "string"
	KindInt    = "int"
	KindFloat  = "float"
	KindBool   = "bool"
	KindTime   = "time"
)

// Formats say how the dashboard shows a number.
const (
	FormatPlain   = ""
	FormatPercent = "pct"   // a share, shown as a percentage
	FormatMoney   = "money" // minor units, shown in major units
	FormatRatio   = "ratio" // a plain number with decimals
)

// Table is a report flattened to rows: what CSV and Parquet export write and
// what the dashboard shows under each chart. Every cell carries the JSON
// pointer of its value in the report's JSON, so the dashboard's numbers can be
// checked against the API's.
type Table struct {
	Name    string   `json:"name"`
	Title   string   `json:"title"`
	Columns []Column `json:"columns"`
	Rows    [][]Cell `json:"rows"`
}

// Column describes one column of a Table.
type Column struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Format string `json:"format,omitempty"`
}

// Cell is one value: string, int64, float64, bool, time.Time or nil (null).
// Ptr is its JSON pointer in the report ("" for derived labels).
type Cell struct {
	V   any    `json:"v"`
	Ptr string `json:"ptr,omitempty"`
}

// Report is what every report type is: a JSON-marshalable struct that
// flattens to tables.
type Report interface {
	// Tables returns the report's tables, the main one first.
	Tables() []Table
}

// TableOf returns the named table of r, or the first when name is empty.
func TableOf(r Report, name string) (Table, error) {
	ts := r.Tables()
	if name == "" && len(ts) > 0 {
		return ts[0], nil
	}
	var names []string
	for _, t := range ts {
		if t.Name == name {
			return t, nil
		}
		names = append(names, t.Name)
	}
	return Table{}, fmt.Errorf("no table %q (have %s)", name, strings.Join(names, ", "))
}

// tb builds a table row by row.
type tb struct {
	t   Table
	row []Cell
}

func newTable(name, title string, cols ...Column) *tb {
	return &tb{t: Table{Name: name, Title: title, Columns: cols, Rows: [][]Cell{}}}
}

func col(name, kind, format string) Column { return Column{Name: name, Kind: kind, Format: format} }

func (b *tb) add(v any, ptr string) *tb {
	switch x := v.(type) {
	case int:
		v = int64(x)
	case *float64:
		if x == nil {
			v = nil
		} else {
			v = *x
		}
	case time.Time:
		v = x.UTC()
	}
	b.row = append(b.row, Cell{V: v, Ptr: ptr})
	if len(b.row) == len(b.t.Columns) {
		b.t.Rows = append(b.t.Rows, b.row)
		b.row = nil
	}
	return b
}

func ptr(parts ...any) string {
	var s strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&s, "/%v", p)
	}
	return s.String()
}

// Tables returns the metrics table and the weekly table.
func (r *UpliftReport) Tables() []Table {
	cols := []Column{col("metric", KindString, ""), col("currency", KindString, ""), col("method", KindString, ""),
		col("status", KindString, ""), col("treatment", KindFloat, FormatRatio), col("holdout", KindFloat, FormatRatio),
		col("diff", KindFloat, FormatRatio), col("low", KindFloat, FormatRatio), col("high", KindFloat, FormatRatio),
		col("significant", KindBool, ""), col("treatment_accounts", KindInt, ""), col("holdout_accounts", KindInt, "")}
	metrics := newTable("metrics", "Treatment (model policy) vs holdout (business as usual)", cols...)
	row := func(b *tb, m *Metric, p string) {
		b.add(m.Name, p+"/name").add(m.Currency, p+"/currency").add(m.Method, p+"/method").add(m.Status, p+"/status").
			add(m.Treatment, p+"/treatment").add(m.Holdout, p+"/holdout").add(m.Diff, p+"/diff").
			add(m.Low, p+"/low").add(m.High, p+"/high").add(m.Significant, p+"/significant").
			add(m.TreatmentN, p+"/treatment_accounts").add(m.HoldoutN, p+"/holdout_accounts")
	}
	for i := range r.Metrics {
		row(metrics, &r.Metrics[i], ptr("metrics", i))
	}
	weekly := newTable("weekly", "Week by week", append([]Column{col("week_start", KindTime, "")}, cols...)...)
	for w := range r.Weekly {
		for i := range r.Weekly[w].Metrics {
			weekly.add(r.Weekly[w].Start, ptr("weekly", w, "week_start"))
			row(weekly, &r.Weekly[w].Metrics[i], ptr("weekly", w, "metrics", i))
		}
	}
	return []Table{metrics.t, weekly.t}
}

// Tables returns one table per breakdown: total, by age band, by region, by
// both.
func (r *LiquidationReport) Tables() []Table {
	var out []Table
	for _, g := range []struct {
		name, title string
		cells       []LiquidationCell
	}{
		{"by_age_band", "By age band", r.ByAgeBand},
		{"by_region", "By region", r.ByRegion},
		{"by_age_band_and_region", "By age band and region", r.ByBoth},
		{"total", "Total", r.Total},
	} {
		t := newTable(g.name, g.title, col("age_band", KindString, ""), col("region", KindString, ""), col("currency", KindString, ""),
			col("accounts", KindInt, ""), col("referred", KindInt, FormatMoney), col("collected", KindInt, FormatMoney),
			col("liquidation_rate", KindFloat, FormatPercent), col("paying_accounts", KindInt, ""),
			col("payment_rate", KindFloat, FormatPercent), col("payment_rate_low", KindFloat, FormatPercent),
			col("payment_rate_high", KindFloat, FormatPercent), col("small", KindBool, ""))
		for i := range g.cells {
			c, p := &g.cells[i], ptr(g.name, i)
			t.add(c.AgeBand, p+"/age_band").add(c.Region, p+"/region").add(c.Currency, p+"/currency").
				add(c.Accounts, p+"/accounts").add(c.Referred, p+"/referred").add(c.Collected, p+"/collected").
				add(c.LiquidationRate, p+"/liquidation_rate").add(c.PayingAccounts, p+"/paying_accounts").
				add(c.PaymentRate, p+"/payment_rate").add(c.PaymentLow, p+"/payment_rate_low").
				add(c.PaymentHigh, p+"/payment_rate_high").add(c.Small, p+"/small")
		}
		out = append(out, t.t)
	}
	return out
}

// Tables returns one table per breakdown: month, weekday, hour, day of month
// and weekday × hour.
func (r *SeasonalityReport) Tables() []Table {
	var out []Table
	for _, g := range []struct {
		name, title string
		b           []SeasonBucket
	}{
		{"by_month", "By month (local)", r.ByMonth},
		{"by_weekday", "By weekday (local)", r.ByWeekday},
		{"by_hour", "By hour (local)", r.ByHour},
		{"by_day_of_month", "By day of month (local)", r.ByDayOfMonth},
		{"by_weekday_hour", "By weekday and hour (local)", r.HourWeekday},
	} {
		t := newTable(g.name, g.title, col("label", KindString, ""), col("days", KindInt, ""), col("contacts", KindInt, ""),
			col("engaged", KindInt, ""), col("engagement_rate", KindFloat, FormatPercent), col("payments", KindInt, ""),
			col("payments_per_day", KindFloat, FormatRatio))
		for i := range g.b {
			s, p := &g.b[i], ptr(g.name, i)
			t.add(s.Label, p+"/label").add(s.Days, p+"/days").add(s.Contacts, p+"/contacts").add(s.Engaged, p+"/engaged").
				add(s.EngagementRate, p+"/engagement_rate").add(s.Payments, p+"/payments").add(s.PaymentsPerDay, p+"/payments_per_day")
		}
		out = append(out, t.t)
	}
	return out
}

// Tables returns the funnel per channel and per channel × jurisdiction, a
// count and a rate (share of sent) column per stage.
func (r *ChannelsReport) Tables() []Table {
	var out []Table
	for _, g := range []struct {
		name, title string
		f           []Funnel
	}{
		{"by_channel", "Funnel by channel", r.ByChannel},
		{"by_channel_jurisdiction", "Funnel by channel and jurisdiction", r.ByChannelJurisdiction},
	} {
		cols := []Column{col("channel", KindString, ""), col("jurisdiction", KindString, "")}
		for _, s := range r.Stages {
			cols = append(cols, col(s, KindInt, ""), col(s+"_rate", KindFloat, FormatPercent))
		}
		t := newTable(g.name, g.title, cols...)
		for i := range g.f {
			fn, p := &g.f[i], ptr(g.name, i)
			t.add(fn.Channel, p+"/channel").add(fn.Jurisdiction, p+"/jurisdiction")
			for k := range fn.Counts {
				t.add(fn.Counts[k], ptr(g.name, i, "counts", k)).add(fn.Rates[k], ptr(g.name, i, "rates", k))
			}
		}
		out = append(out, t.t)
	}
	return out
}

// Tables returns the Qini curve of the headline arm, then every arm's
// figures.
func (r *ModelUpliftReport) Tables() []Table {
	t := newTable("curve", "Qini curve", col("targeted", KindInt, ""), col("share", KindFloat, FormatPercent),
		col("incremental", KindFloat, FormatRatio), col("random", KindFloat, FormatRatio))
	for i := range r.Curve {
		c, p := &r.Curve[i], ptr("curve", i)
		t.add(c.Targeted, p+"/targeted").add(c.Share, p+"/share").add(c.Incremental, p+"/incremental").add(c.Random, p+"/random")
	}
	a := newTable("arms", "Qini by treatment arm", col("arm", KindString, ""), col("status", KindString, ""),
		col("treated_units", KindInt, ""), col("control_units", KindInt, ""),
		col("qini_coefficient", KindFloat, FormatRatio), col("auuc", KindFloat, FormatRatio))
	for i := range r.Arms {
		x, p := &r.Arms[i], ptr("arms", i)
		a.add(x.Arm, p+"/arm").add(x.Status, p+"/status").add(x.Treated, p+"/treated_units").add(x.Controls, p+"/control_units").
			add(x.Qini, p+"/qini_coefficient").add(x.AUUC, p+"/auuc")
	}
	return []Table{t.t, a.t}
}
