package reports

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Report statuses.
const (
	StatusOK = "ok"
	// StatusNotEnoughData marks a figure or report that the data cannot
	// support: an arm below Options.MinAccounts, or a zero denominator.
	StatusNotEnoughData = "not_enough_data"
	// StatusNoModel marks a model-uplift report without uplift scores.
	StatusNoModel = "no_model"
)

// CI methods named on every metric.
const (
	MethodNewcombe  = "newcombe_hybrid_wilson"
	MethodBootstrap = "bootstrap_percentile"
)

// Uplift metric names.
const (
	MetricLiquidation     = "liquidation_rate"
	MetricPaymentRate     = "payment_rate"
	MetricAmountPerAcct   = "amount_per_account"
	MetricContactsPerPaid = "contacts_per_payment"
	MetricComplaintsPerM  = "complaints_per_million_contacts"
	MetricOptOutRate      = "opt_out_rate"
)

// UpliftReport compares the model policy (treatment) with the
// business-as-usual holdout over a period, in total and week by week.
type UpliftReport struct {
	Report string `json:"report"`
	Filter Filter `json:"filter"`
	// From and To are the period actually covered (open filter bounds closed
	// on the data's span).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Status is "ok" or "not_enough_data" (an arm too small); Message says why.
	Status     string  `json:"status"`
	Message    string  `json:"message,omitempty"`
	Confidence float64 `json:"confidence"`
	Treatment  ArmInfo `json:"treatment"`
	Holdout    ArmInfo `json:"holdout"`
	// Unassigned counts accounts of the population without decisions, left out.
	Unassigned int      `json:"unassigned_accounts"`
	Metrics    []Metric `json:"metrics"`
	Weekly     []Week   `json:"weekly"`
	// Resamples and WeeklyResamples are the bootstrap sizes used.
	Resamples       int `json:"resamples"`
	WeeklyResamples int `json:"weekly_resamples"`
}

// ArmInfo describes one arm: its size and the policies its decisions ran
// (a treatment arm that ran only "bau" makes the comparison an A/A test).
type ArmInfo struct {
	Accounts int            `json:"accounts"`
	Policies map[string]int `json:"decisions_by_policy"`
}

// Metric is one treatment-vs-holdout comparison. Values are null when the
// data cannot support them (Status says so), never NaN.
type Metric struct {
	Name string `json:"name"`
	// Currency is set on money metrics, which are computed per currency.
	Currency string `json:"currency,omitempty"`
	// Method is the interval's method: newcombe_hybrid_wilson or
	// bootstrap_percentile.
	Method      string   `json:"method"`
	Status      string   `json:"status"`
	Treatment   *float64 `json:"treatment"`
	Holdout     *float64 `json:"holdout"`
	Diff        *float64 `json:"diff"`
	Low         *float64 `json:"low"`
	High        *float64 `json:"high"`
	Significant bool     `json:"significant"`
	// TreatmentN and HoldoutN are the accounts behind each side.
	TreatmentN int `json:"treatment_accounts"`
	HoldoutN   int `json:"holdout_accounts"`
}

// Week is the comparison over one week (Monday 00:00 UTC onwards, clipped to
// the period).
type Week struct {
	Start   time.Time `json:"week_start"`
	End     time.Time `json:"week_end"`
	Metrics []Metric  `json:"metrics"`
}

// Uplift computes the uplift report over the filter's slice.
func (b *Book) Uplift(f Filter) *UpliftReport {
	from, to := b.bounds(&f)
	r := &UpliftReport{
		Report: "uplift", Filter: f,
		From: time.UnixMicro(from).UTC(), To: time.UnixMicro(to).UTC(),
		Confidence: b.opts.Confidence, Resamples: b.opts.Resamples, WeeklyResamples: b.opts.WeeklyResamples,
		Treatment: ArmInfo{Policies: map[string]int{}}, Holdout: ArmInfo{Policies: map[string]int{}},
	}
	pop := b.population(&f, to)
	for _, a := range pop {
		var info *ArmInfo
		switch b.arm(a) {
		case Treatment:
			info = &r.Treatment
		case Holdout:
			info = &r.Holdout
		default:
			r.Unassigned++
			continue
		}
		info.Accounts++
		for p, n := range a.policies {
			info.Policies[p] += n
		}
	}
	r.Status = StatusOK
	if m := b.opts.MinAccounts; r.Treatment.Accounts < m || r.Holdout.Accounts < m {
		r.Status = StatusNotEnoughData
		r.Message = fmt.Sprintf("not enough data: treatment has %d accounts and holdout %d; each arm needs at least %d",
			r.Treatment.Accounts, r.Holdout.Accounts, m)
	}
	r.Metrics = b.upliftMetrics(&f, pop, from, to, b.opts.Resamples, "total")
	for ws := weekStart(from); ws < to; ws += weekUS {
		lo, hi := max(ws, from), min(ws+weekUS, to)
		r.Weekly = append(r.Weekly, Week{
			Start: time.UnixMicro(lo).UTC(), End: time.UnixMicro(hi).UTC(),
			Metrics: b.upliftMetrics(&f, b.population(&f, hi), lo, hi, b.opts.WeeklyResamples, fmt.Sprint("week", lo)),
		})
	}
	return r
}

const weekUS = int64(7 * 24 * time.Hour / time.Microsecond)

// weekStart returns the Monday 00:00 UTC at or before us.
func weekStart(us int64) int64 {
	t := time.UnixMicro(us).UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	d = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	return d.UnixMicro()
}

// armStats are per-account figures of one arm (optionally one currency).
type armStats struct {
	units          []unit
	paid, optedOut int
}

func (s *armStats) add(a *acct, st acctStats) {
	s.units = append(s.units, unit{
		fBalance:     float64(a.Balance),
		fCollected:   float64(st.collected),
		fOne:         1,
		fContacts:    float64(st.contacts),
		fPayments:    float64(st.payments),
		fComplaintsM: 1e6 * float64(st.complaints),
	})
	if st.payments > 0 {
		s.paid++
	}
	if st.optOut {
		s.optedOut++
	}
}

func (s *armStats) n() int { return len(s.units) }

// upliftMetrics computes every metric over [from, to) for the population.
func (b *Book) upliftMetrics(f *Filter, pop []*acct, from, to int64, resamples int, tag string) []Metric {
	var t, h armStats
	cur := map[string]*[2]armStats{}
	for _, a := range pop {
		arm := b.arm(a)
		if arm == Unassigned {
			continue
		}
		st := a.stats(f, from, to)
		c := cur[a.Currency]
		if c == nil {
			c = &[2]armStats{}
			cur[a.Currency] = c
		}
		if arm == Treatment {
			t.add(a, st)
			c[0].add(a, st)
		} else {
			h.add(a, st)
			c[1].add(a, st)
		}
	}
	currencies := make([]string, 0, len(cur))
	for c := range cur {
		currencies = append(currencies, c)
	}
	slices.Sort(currencies)

	z := zFor(b.opts.Confidence)
	minN, minEv := b.opts.MinAccounts, b.opts.MinEvents
	var out []Metric
	var jobs []func()
	// ratios adds bootstrap metrics sharing one resampling of the arms.
	ratios := func(names []string, defs []ratioDef, currency string, ta, ha *armStats) {
		first := len(out)
		for _, name := range names {
			out = append(out, Metric{Name: name, Currency: currency, Method: MethodBootstrap,
				TreatmentN: ta.n(), HoldoutN: ha.n(), Status: StatusNotEnoughData})
		}
		jobs = append(jobs, func() {
			var need []ratioDef
			var idx []int
			for j, d := range defs {
				m := &out[first+j]
				rt, okt := ratioOf(ta.units, d)
				rh, okh := ratioOf(ha.units, d)
				m.Treatment, m.Holdout = num(rt, okt), num(rh, okh)
				tn, td := support(ta.units, d)
				hn, hd := support(ha.units, d)
				if ta.n() >= minN && ha.n() >= minN && okt && okh && min(tn, td, hn, hd) >= minEv {
					m.Diff = num(rt-rh, true)
					need = append(need, d)
					idx = append(idx, first+j)
				}
			}
			if len(need) == 0 {
				return
			}
			rng := rngFor(b.opts.Seed, tag+"/"+names[0]+"/"+currency)
			for k, iv := range bootstrapDiffs(ta.units, ha.units, need, resamples, b.opts.Confidence, rng) {
				m := &out[idx[k]]
				if !iv.ok {
					m.Diff = nil
					continue
				}
				m.Status = StatusOK
				m.Low, m.High = num(iv.lo, true), num(iv.hi, true)
				m.Significant = iv.lo > 0 || iv.hi < 0
			}
		})
	}
	prop := func(name string, xt, xh int) {
		m := Metric{Name: name, Method: MethodNewcombe, TreatmentN: t.n(), HoldoutN: h.n(), Status: StatusNotEnoughData}
		if t.n() > 0 {
			m.Treatment = num(float64(xt)/float64(t.n()), true)
		}
		if h.n() > 0 {
			m.Holdout = num(float64(xh)/float64(h.n()), true)
		}
		if t.n() >= minN && h.n() >= minN {
			lo, hi := Newcombe(xt, t.n(), xh, h.n(), z)
			m.Status = StatusOK
			m.Diff = num(*m.Treatment-*m.Holdout, true)
			m.Low, m.High = num(lo, true), num(hi, true)
			m.Significant = lo > 0 || hi < 0
		}
		out = append(out, m)
	}
	for _, c := range currencies {
		a := cur[c]
		ratios([]string{MetricLiquidation, MetricAmountPerAcct},
			[]ratioDef{{fCollected, fBalance}, {fCollected, fOne}}, c, &a[0], &a[1])
	}
	prop(MetricPaymentRate, t.paid, h.paid)
	ratios([]string{MetricContactsPerPaid, MetricComplaintsPerM},
		[]ratioDef{{fContacts, fPayments}, {fComplaintsM, fContacts}}, "", &t, &h)
	prop(MetricOptOutRate, t.optedOut, h.optedOut)
	run(jobs)
	return out
}

// run runs jobs on GOMAXPROCS goroutines.
func run(jobs []func()) {
	ch := make(chan func())
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				j()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
}
