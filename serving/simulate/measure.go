package simulate

import (
	"fmt"
	"slices"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/serving/engine"
)

// Result is one policy played on one seed.
type Result struct {
	Policy string `json:"policy"`
	Seed   uint64 `json:"seed"`
	// Referred and Collected are in US cents (Rates); Liquidation is their ratio.
	Referred    float64 `json:"referred_usd_cents"`
	Collected   float64 `json:"collected_usd_cents"`
	Liquidation float64 `json:"liquidation_rate"`
	// ByCurrency is the liquidation rate in each currency's own money.
	ByCurrency map[string]float64 `json:"liquidation_by_currency"`
	// Uplift is the relative liquidation uplift over bau on the same seed,
	// with its 95% bootstrap interval over accounts.
	Uplift   float64    `json:"uplift_vs_bau"`
	UpliftCI [2]float64 `json:"uplift_vs_bau_ci95"`

	Accounts, Contacts, Payments, Complaints, OptOuts int
	// Unknown counts accounts in jurisdictions without a rule pack: never
	// contacted by any policy (they still pay unprompted).
	Unknown              int     `json:"unknown_jurisdiction_accounts"`
	ContactsPerPayment   float64 `json:"contacts_per_payment"`
	ComplaintsPerMillion float64 `json:"complaints_per_million_contacts"`
	OptOutRate           float64 `json:"optouts_per_contact"`
	// EngagedRate is the share of contacts engaged with (an open, click,
	// reply or conversation carrying the contact's decision id): how well
	// channel and send hour were chosen, before any message effect.
	EngagedRate float64 `json:"engaged_per_contact"`
	// Violations are contacts the independent check denied (must be 0), of
	// Checked contacts.
	Violations        int      `json:"violations"`
	Checked           int      `json:"checked"`
	ViolationExamples []string `json:"violation_examples,omitempty"`
	// Decisions is how many times the policy was asked; Dropped how many
	// chosen contacts the send-time re-check refused.
	Decisions       int64   `json:"decisions"`
	Dropped         int64   `json:"dropped_at_send"`
	DecisionsPerSec float64 `json:"decisions_per_sec"`
	// Models lists the versions the model policy promoted.
	Models    []string      `json:"models,omitempty"`
	Wall      time.Duration `json:"wall_ns"`
	TrainTime time.Duration `json:"train_ns"`
	CheckTime time.Duration `json:"check_ns"`

	perAccount []float64 // collected per account, US cents
}

// measure computes the metrics from the emitted events.
func (s *sim) measure() *Result {
	r := &Result{Policy: s.policy, Seed: s.seed, Accounts: len(s.accts), ByCurrency: map[string]float64{}}
	r.perAccount = make([]float64, len(s.accts))
	engaged := map[string]struct{}{}
	refCur := map[string]float64{}
	colCur := map[string]float64{}
	for k, a := range s.accts {
		if a.unknown {
			r.Unknown++
		}
		rate := Rates[a.row.Currency]
		if rate == 0 {
			rate = 1
		}
		r.Referred += float64(a.row.Balance) * rate
		refCur[a.row.Currency] += float64(a.row.Balance)
		var got int64
		var last string // events of one decision's engagement come together
		for i := range a.events {
			e := &a.events[i]
			if e.DecisionID != "" && e.DecisionID != last && engagement[e.Type] {
				engaged[e.DecisionID] = struct{}{}
				last = e.DecisionID
			}
			switch e.Type {
			case datasets.EventContactSent:
				r.Contacts++
			case datasets.EventPayment:
				r.Payments++
				got += e.Amount
			case datasets.EventComplaint:
				r.Complaints++
			case datasets.EventOptOut:
				r.OptOuts++
			}
		}
		r.perAccount[k] = float64(got) * rate
		r.Collected += r.perAccount[k]
		colCur[a.row.Currency] += float64(got)
	}
	r.Liquidation = r.Collected / r.Referred
	for c, v := range refCur {
		r.ByCurrency[c] = colCur[c] / v
	}
	r.ContactsPerPayment = float64(r.Contacts) / float64(max(r.Payments, 1))
	r.ComplaintsPerMillion = 1e6 * float64(r.Complaints) / float64(max(r.Contacts, 1))
	r.OptOutRate = float64(r.OptOuts) / float64(max(r.Contacts, 1))
	r.EngagedRate = float64(len(engaged)) / float64(max(r.Contacts, 1))
	r.Decisions, r.Dropped = s.decisions.Load(), s.dropped.Load()
	return r
}

// engagement marks the event types that mean the debtor engaged with a
// contact (features' kEngaged).
var engagement = map[string]bool{
	datasets.EventOpened: true, datasets.EventClicked: true, datasets.EventReplied: true,
	datasets.EventCallConversation: true, datasets.EventInboundCall: true,
}

// uplift sets the relative uplift over base with a paired percentile
// bootstrap over accounts.
func (r *Result) uplift(base *Result, b int, seed uint64) {
	if base.Collected == 0 { // undefined; JSON has no NaN
		return
	}
	r.Uplift = r.Collected/base.Collected - 1
	if b <= 0 || r == base {
		r.UpliftCI = [2]float64{r.Uplift, r.Uplift}
		return
	}
	rng := rngFor(seed, "bootstrap-"+r.Policy)
	n := len(r.perAccount)
	vals := make([]float64, 0, b)
	for range b {
		var x, y float64
		for range n {
			i := rng.IntN(n)
			x += r.perAccount[i]
			y += base.perAccount[i]
		}
		if y > 0 {
			vals = append(vals, x/y-1)
		}
	}
	slices.Sort(vals)
	if len(vals) == 0 {
		return
	}
	q := func(p float64) float64 { return vals[min(int(p*float64(len(vals))), len(vals)-1)] }
	r.UpliftCI = [2]float64{q(0.025), q(0.975)}
}

// check is the independent compliance check: every contact_sent event is
// re-checked by the audit firewall against the account rebuilt from the
// emitted events strictly before it, with the notices its decision carried.
func (s *sim) check() (violations int, examples []string, checked int) {
	type out struct {
		v, n int
		ex   []string
	}
	workers := s.o.workers()
	res := make([]out, workers)
	per := (len(s.accts) + workers - 1) / workers
	done := make(chan struct{}, workers)
	for k := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			lo, hi := k*per, min((k+1)*per, len(s.accts))
			for i := lo; i < hi; i++ {
				a := s.accts[i]
				notices := func(id string) []string { return a.notices[id] }
				for j := range a.events {
					e := &a.events[j]
					if e.Type != datasets.EventContactSent {
						continue
					}
					res[k].n++
					ca, led := engine.FromEvents(a.row, a.events[:j], notices)
					why := ""
					sub, err := s.audit.Subject(ca, led)
					if err != nil {
						why = err.Error()
					} else if ch, err := compliance.ParseChannel(e.Channel); err != nil {
						why = err.Error()
					} else {
						d, err := sub.Check(compliance.Contact{Channel: ch, At: time.UnixMicro(e.At).UTC(), Message: &compliance.Message{Notices: a.notices[e.DecisionID]}})
						switch {
						case err != nil:
							why = err.Error()
						case !d.Allowed:
							for _, r := range d.Reasons {
								why += r.Rule + ": " + r.Text + "; "
							}
						}
					}
					if why != "" {
						res[k].v++
						if len(res[k].ex) < 5 {
							res[k].ex = append(res[k].ex, fmt.Sprintf("%s %s %s at %s: %s", a.row.ID, e.DecisionID, e.Channel, time.UnixMicro(e.At).UTC().Format(time.RFC3339), why))
						}
					}
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	for _, r := range res {
		violations += r.v
		checked += r.n
		examples = append(examples, r.ex...)
	}
	return violations, examples, checked
}
