package reports

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// golden compares v's JSON with testdata/name.json (rewritten with -update).
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatalf("marshal %s: %v", name, err)
	}
	got = append(got, '\n')
	if bytes.Contains(got, []byte("NaN")) || bytes.Contains(got, []byte("Inf")) {
		t.Fatalf("%s: NaN or Inf in JSON", name)
	}
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s; run with -update after checking the diff:\n%s", name, path, got)
	}
}

func TestGolden(t *testing.T) {
	b := loadFixture(t, fixtureOptions())
	cases := []struct {
		name string
		f    Filter
	}{
		{"all", Filter{}},
		{"empty_period", Filter{From: day("2026-03-01"), To: day("2026-03-08")}},
		{"before_referral", Filter{From: day("2025-06-01"), To: day("2025-07-01")}},
		{"no_holdout", Filter{Products: []string{"credit_card"}}},
		{"email", Filter{Channels: []string{"email"}}},
		{"us", Filter{Jurisdictions: []string{"US"}, From: day("2026-01-05"), To: day("2026-01-12")}},
	}
	for _, c := range cases {
		for _, name := range Names {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				r, err := b.Run(name, c.f)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, strings.ReplaceAll(name, "-", "_")+"_"+c.name, r)
			})
		}
	}
}

func metric(t *testing.T, r *UpliftReport, name, currency string) Metric {
	t.Helper()
	for _, m := range r.Metrics {
		if m.Name == name && m.Currency == currency {
			return m
		}
	}
	t.Fatalf("no metric %s %s", name, currency)
	return Metric{}
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 || (math.IsNaN(a) && math.IsNaN(b)) }

// TestUpliftByHand checks the fixture's uplift figures against hand counts.
func TestUpliftByHand(t *testing.T) {
	b := loadFixture(t, fixtureOptions())
	r := b.Uplift(Filter{})
	if r.Treatment.Accounts != 2 || r.Holdout.Accounts != 2 || r.Unassigned != 1 {
		t.Fatalf("arms: %d treated, %d holdout, %d unassigned; want 2, 2, 1", r.Treatment.Accounts, r.Holdout.Accounts, r.Unassigned)
	}
	nan := math.NaN()
	for _, c := range []struct {
		name, cur  string
		tr, ho, df float64
		status     string
	}{
		// A1 paid 4000 of 10000 and A2 20000 of 20000; A4 paid nothing of
		// 8000, but A4 alone is a USD holdout of 1 account (< MinAccounts 2).
		{MetricLiquidation, "USD", 24000.0 / 30000, 0, nan, StatusNotEnoughData},
		{MetricAmountPerAcct, "USD", 12000, 0, nan, StatusNotEnoughData},
		// GBP has only A3 (holdout): no treated GBP account.
		{MetricLiquidation, "GBP", nan, 0.5, nan, StatusNotEnoughData},
		{MetricPaymentRate, "", 1, 0.5, 0.5, StatusOK},
		// 4 contacts / 2 payments vs 2 contacts / 1 payment.
		{MetricContactsPerPaid, "", 2, 2, 0, StatusOK},
		// one complaint in 4 treated contacts; no holdout account complained,
		// so resampling the holdout has no variance: not enough data.
		{MetricComplaintsPerM, "", 250000, 0, nan, StatusNotEnoughData},
		{MetricOptOutRate, "", 0, 0.5, -0.5, StatusOK},
	} {
		m := metric(t, r, c.name, c.cur)
		if !near(val(m.Treatment), c.tr) || !near(val(m.Holdout), c.ho) || !near(val(m.Diff), c.df) || m.Status != c.status {
			t.Errorf("%s %s: treatment %v holdout %v diff %v status %s; want %v %v %v %s", c.name, c.cur,
				val(m.Treatment), val(m.Holdout), val(m.Diff), m.Status, c.tr, c.ho, c.df, c.status)
		}
		if m.Status == StatusOK && (m.Low == nil || m.High == nil || *m.Low > *m.Diff || *m.High < *m.Diff) {
			t.Errorf("%s %s: interval [%v, %v] does not hold diff %v", c.name, c.cur, val(m.Low), val(m.High), val(m.Diff))
		}
	}
	// Payment rate: Newcombe's interval, by hand from the two Wilson intervals.
	m := metric(t, r, MetricPaymentRate, "")
	z := 1.959963984540054
	l1, u1 := Wilson(2, 2, z)
	l2, u2 := Wilson(1, 2, z)
	lo := 0.5 - math.Sqrt((1-l1)*(1-l1)+(u2-0.5)*(u2-0.5))
	hi := 0.5 + math.Sqrt((u1-1)*(u1-1)+(0.5-l2)*(0.5-l2))
	if !near(*m.Low, lo) || !near(*m.High, hi) || m.Significant {
		t.Errorf("payment rate interval [%v, %v] significant=%v; want [%v, %v] not significant", *m.Low, *m.High, m.Significant, lo, hi)
	}
	// Under a channel filter only A1's payment (last touch: the email) stays.
	r = b.Uplift(Filter{Channels: []string{"email"}})
	if m := metric(t, r, MetricPaymentRate, ""); !near(val(m.Treatment), 0.5) || !near(val(m.Holdout), 0) {
		t.Errorf("email payment rate %v vs %v; want 0.5 vs 0", val(m.Treatment), val(m.Holdout))
	}
}

func TestNotEnoughData(t *testing.T) {
	b := loadFixture(t, fixtureOptions())
	for _, f := range []Filter{
		{Products: []string{"credit_card"}},                        // holdout with no accounts
		{From: day("2025-06-01"), To: day("2025-07-01")},           // nobody referred yet
		{Jurisdictions: []string{"CA"}},                            // only an unassigned account
		{From: day("2026-03-01"), To: day("2026-03-08")},           // accounts, but no events
		{Jurisdictions: []string{"NZ"}, Channels: []string{"sms"}}, // nothing at all
	} {
		r := b.Uplift(f)
		js, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if bytes.Contains(js, []byte("NaN")) || bytes.Contains(js, []byte("Inf")) {
			t.Errorf("%+v: NaN/Inf in JSON", f)
		}
		armsOK := r.Treatment.Accounts >= 2 && r.Holdout.Accounts >= 2
		if !armsOK && (r.Status != StatusNotEnoughData || !strings.Contains(r.Message, "not enough data")) {
			t.Errorf("%+v: status %q message %q; want not_enough_data", f, r.Status, r.Message)
		}
		for _, m := range r.Metrics {
			if m.Status == StatusNotEnoughData && (m.Diff != nil || m.Low != nil || m.Significant) {
				t.Errorf("%+v: %s without data has diff %v", f, m.Name, val(m.Diff))
			}
		}
	}
	// Accounts but an empty period: rates are 0 vs 0, ratios have no denominator.
	r := b.Uplift(Filter{From: day("2026-03-01"), To: day("2026-03-08")})
	if m := metric(t, r, MetricPaymentRate, ""); m.Status != StatusOK || !near(val(m.Diff), 0) {
		t.Errorf("empty period payment rate: %+v", m)
	}
	if m := metric(t, r, MetricContactsPerPaid, ""); m.Status != StatusNotEnoughData || m.Treatment != nil {
		t.Errorf("empty period contacts per payment: %+v", m)
	}
}

func TestChannelsByHand(t *testing.T) {
	b := loadFixture(t, fixtureOptions())
	r := b.Channels(Filter{})
	want := map[string][]int{
		"email":  {2, 1, 1, 0, 0, 1}, // A4 bounced; A1 opened and paid (last touch)
		"sms":    {1, 1, 1, 1, 0, 0},
		"call":   {2, 2, 1, 1, 1, 1}, // no answer, then conversation, promise, payment
		"letter": {1, 1, 1, 1, 0, 0}, // the payment 14 days later is outside the window
	}
	if len(r.ByChannel) != len(want) {
		t.Fatalf("%d channels, want %d", len(r.ByChannel), len(want))
	}
	for _, f := range r.ByChannel {
		w := want[f.Channel]
		for i := range w {
			if f.Counts[i] != w[i] {
				t.Errorf("%s: counts %v, want %v", f.Channel, f.Counts, w)
				break
			}
		}
		if !near(val(f.Rates[1]), float64(w[1])/float64(w[0])) {
			t.Errorf("%s delivered rate %v", f.Channel, val(f.Rates[1]))
		}
	}
}

func TestLiquidationByHand(t *testing.T) {
	b := loadFixture(t, fixtureOptions())
	r := b.Liquidation(Filter{})
	type k struct{ age, cur string }
	want := map[k][2]float64{ // accounts, rate
		{"18-24", "USD"}: {1, 0},
		{"25-34", "USD"}: {1, 0.4},
		{"25-34", "GBP"}: {1, 0.5},
		{"35-44", "USD"}: {1, 1},
		{"65+", "CAD"}:   {1, 0.5},
	}
	if len(r.ByAgeBand) != len(want) {
		t.Fatalf("%d age cells, want %d", len(r.ByAgeBand), len(want))
	}
	for _, c := range r.ByAgeBand {
		w, ok := want[k{c.AgeBand, c.Currency}]
		if !ok || float64(c.Accounts) != w[0] || !near(val(c.LiquidationRate), w[1]) || !c.Small {
			t.Errorf("cell %+v: want %v, small", c, w)
		}
	}
	if r.ByAgeBand[0].AgeBand != "18-24" {
		t.Errorf("age bands out of order: first is %s", r.ByAgeBand[0].AgeBand)
	}
	if len(r.ByBoth) != 5 || len(r.ByRegion) != 3 {
		t.Errorf("%d both cells and %d regions; want 5 and 3 (US, GB, CA)", len(r.ByBoth), len(r.ByRegion))
	}
}

func TestSeasonalityByHand(t *testing.T) {
	b := loadFixture(t, fixtureOptions())
	r := b.Seasonality(Filter{})
	// Payments at local 05:00 (New York), 06:00 (Chicago), 12:00 (London),
	// 10:00 (Toronto); on Tue 6, Fri 9, Tue 20 and Sat 10 January.
	for h, want := range map[int]int{5: 1, 6: 1, 12: 1, 10: 1, 11: 0} {
		if got := r.ByHour[h].Payments; got != want {
			t.Errorf("hour %d: %d payments, want %d", h, got, want)
		}
	}
	for d, want := range map[int]int{1: 2, 4: 1, 5: 1, 0: 0} {
		if got := r.ByWeekday[d].Payments; got != want {
			t.Errorf("%s: %d payments, want %d", weekdayNames[d], got, want)
		}
	}
	if got := r.ByDayOfMonth[5].Payments; got != 1 {
		t.Errorf("day 6: %d payments, want 1", got)
	}
	// Contacts: 6, of which 4 engaged (A1 email, A1 sms, A2 second call, A3 letter).
	c, e := 0, 0
	for _, s := range r.ByWeekday {
		c += s.Contacts
		e += s.Engaged
	}
	if c != 6 || e != 4 {
		t.Errorf("%d contacts, %d engaged; want 6, 4", c, e)
	}
	// A1's email went at 14:00 UTC = 09:00 in New York on Monday 5 January.
	if s := r.HourWeekday[0*24+9]; s.Contacts != 1 || s.Engaged != 1 || !near(val(s.EngagementRate), 1) {
		t.Errorf("Mon 09: %+v", s)
	}
	if len(r.ByMonth) != 1 || r.ByMonth[0].Label != "Jan" || r.ByMonth[0].Payments != 4 {
		t.Errorf("months: %+v", r.ByMonth)
	}
}

func TestModelUplift(t *testing.T) {
	b := loadFixture(t, fixtureOptions())
	if r := b.ModelUplift(Filter{}); r.Status != StatusNoModel || r.Qini != nil {
		t.Errorf("without scores: status %s", r.Status)
	}
	// Scores file: accounts, treatment arm against holdout.
	o := fixtureOptions()
	o.Scores = func(a *datasets.Account) (float64, bool) {
		s := map[string]float64{"A1": 0.9, "A2": 0.5, "A3": 0.1, "A4": 0.8}
		v, ok := s[a.ID]
		return v, ok
	}
	r := loadFixture(t, o).ModelUplift(Filter{})
	if r.Status != StatusOK || r.Qini == nil || r.Treated != 2 || r.Controls != 2 || r.Unit != "account" {
		t.Fatalf("model uplift: %+v", r)
	}
	last := r.Curve[len(r.Curve)-1]
	// All 4 targeted: 2 treated payers - 1 holdout payer × 2/2 = 1.
	if last.Targeted != 4 || !near(last.Incremental, 1) || !near(last.Random, 1) {
		t.Errorf("curve end %+v; want 4 targeted, 1 incremental", last)
	}
}

func TestParseFilter(t *testing.T) {
	for _, c := range []struct {
		q       string
		wantErr string
	}{
		{"from=2026-01-01&to=2026-02-01&jurisdiction=US,GB&channel=email&channel=sms", ""},
		{"from=2026-01-01T10:00:00Z", ""},
		{"from=yesterday", "from"},
		{"from=2026-02-01&to=2026-01-01", "to"},
		{"channel=pigeon", "channel"},
	} {
		q, _ := parseQuery(c.q)
		f, err := ParseFilter(q)
		if c.wantErr == "" && err != nil {
			t.Errorf("%s: %v", c.q, err)
		}
		if c.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantErr)) {
			t.Errorf("%s: error %v, want one about %s", c.q, err, c.wantErr)
		}
		if err == nil {
			g, err := ParseFilter(f.Query())
			if err != nil || g.From != f.From || len(g.Channels) != len(f.Channels) || len(g.Jurisdictions) != len(f.Jurisdictions) {
				t.Errorf("%s: round trip %+v -> %+v (%v)", c.q, f, g, err)
			}
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	f.Add("from=2026-01-01&to=2026-02-01&jurisdiction=US&product=bnpl&channel=sms")
	f.Add("to=2026-01-01T00:00:00Z&channel=,,")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseQuery(s)
		if err != nil {
			return
		}
		fl, err := ParseFilter(q)
		if err != nil {
			return
		}
		if _, err := ParseFilter(fl.Query()); err != nil {
			t.Fatalf("%q parsed but its Query() does not: %v", s, err)
		}
	})
}

func parseQuery(s string) (map[string][]string, error) { return urlParse(s) }
