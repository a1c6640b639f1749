package simulate

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/serving/engine"
)

// Workflow pauses after what the debtor said (observable events only).
const (
	promisePause   = 10 * 24 * time.Hour
	complaintPause = 14 * 24 * time.Hour
	// lateDelivery is how much later than its send instant the world may
	// deliver a contact (synth draws up to 15 minutes).
	lateDelivery = 15 * time.Minute
)

// account is one account's simulated side: what serving would keep in the
// store (online feature state, the firewall's view, the event log) plus the
// events drawn by the world that have not happened yet.
type account struct {
	i       int
	row     *datasets.Account
	loc     *time.Location
	fa      *features.Account
	st      *features.State
	ca      compliance.Account
	ledger  []compliance.Entry
	events  []datasets.Event // happened, in time order
	pending []datasets.Event // drawn, in the future of the account's clock, by time
	decs    []datasets.Decision
	notices map[string][]string // decision id -> notices its contact carried
	src     *rand.PCG
	rng     *rand.Rand

	referred    int64 // micros
	paid        int64 // payments observed
	lastContact int64 // send instant of the latest contact, micros; 0 none
	promiseTill int64
	quietTill   int64
	seq         int
	done        bool // paid in full or ceased
	// unknown: the firewall has no rule pack for the jurisdiction, so the
	// account is never contacted (the strict reading).
	unknown bool
}

func newAccount(i int, row *datasets.Account, loc *time.Location, seed, salt uint64) (*account, error) {
	fa, err := features.NewAccount(row)
	if err != nil {
		return nil, err
	}
	a := &account{i: i, row: row, loc: loc, fa: fa, st: features.NewState(), referred: row.ReferredAt, notices: map[string][]string{}}
	a.ca, _ = engine.FromEvents(row, nil, nil)
	a.src = rand.NewPCG(seed^salt, uint64(i))
	a.rng = rand.New(a.src)
	return a, nil
}

// noticesOf is the notices lookup engine.FromEvents uses for the ledger.
func (a *account) noticesOf(id string) []string { return a.notices[id] }

// applyUntil applies, in time order, every pending event before t: the
// online features (features.State.Apply, as serving's ingestion) and the
// firewall's view (engine.FromEvents's semantics, merged into the account).
func (a *account) applyUntil(t int64) error {
	k := 0
	for k < len(a.pending) && a.pending[k].At < t {
		k++
	}
	if k == 0 {
		return nil
	}
	batch := a.pending[:k]
	for j := range batch {
		e := &batch[j]
		if err := a.st.Apply(e, a.fa); err != nil {
			return err
		}
		switch e.Type {
		case datasets.EventPayment:
			a.paid += e.Amount
			a.promiseTill = 0
			if a.paid >= a.row.Balance {
				a.done = true
			}
		case datasets.EventPromiseToPay:
			a.promiseTill = max(a.promiseTill, e.At+promisePause.Microseconds())
		case datasets.EventComplaint:
			a.quietTill = max(a.quietTill, e.At+complaintPause.Microseconds())
		case datasets.EventCease:
			a.done = true
		}
	}
	ca, led := engine.FromEvents(a.row, batch, a.noticesOf)
	a.merge(ca, led)
	a.events = append(a.events, batch...)
	a.pending = slices.Delete(a.pending, 0, k)
	return nil
}

// merge folds the firewall's view of new events into the account's: a
// withdrawn consent stays withdrawn, flags only accumulate, the ledger grows.
func (a *account) merge(ca compliance.Account, led []compliance.Entry) {
	for ch, v := range ca.Consents {
		if !v && a.ca.Consents[ch] {
			a.ca.Consents[ch] = false
		}
	}
	for _, f := range ca.Flags {
		if !slices.Contains(a.ca.Flags, f) {
			a.ca.Flags = append(a.ca.Flags, f)
		}
	}
	a.ledger = append(a.ledger, led...)
}

// viewAt is the firewall's view of the account at t > the account's clock:
// the current view plus the pending events before t (what a send-time
// re-check sees).
func (a *account) viewAt(t int64) (compliance.Account, []compliance.Entry) {
	k := 0
	for k < len(a.pending) && a.pending[k].At < t {
		k++
	}
	if k == 0 {
		return a.ca, a.ledger
	}
	ca, led := engine.FromEvents(a.row, a.pending[:k], a.noticesOf)
	out := compliance.Account{ID: a.ca.ID, Jurisdiction: a.ca.Jurisdiction, TimeZone: a.ca.TimeZone, Flags: slices.Clone(a.ca.Flags), Consents: make(map[compliance.Channel]bool, len(a.ca.Consents))}
	for ch, v := range a.ca.Consents {
		out.Consents[ch] = v && ca.Consents[ch]
	}
	for _, f := range ca.Flags {
		if !slices.Contains(out.Flags, f) {
			out.Flags = append(out.Flags, f)
		}
	}
	return out, append(slices.Clip(a.ledger), led...)
}

// add queues events the world drew, keeping the queue in time order.
func (a *account) add(evs []datasets.Event) {
	if len(evs) == 0 {
		return
	}
	a.pending = append(a.pending, evs...)
	slices.SortStableFunc(a.pending, func(x, y datasets.Event) int { return cmp.Compare(x.At, y.At) })
}

// nextDecisionID names the account's next decision: <policy>-<account>-<n>.
func (a *account) nextDecisionID(policy string) string {
	a.seq++
	return policy + "-" + a.row.ID + "-" + strconv.Itoa(a.seq)
}

// eligible is the workflow's rule for the random, model and oracle policies:
// referred, not paid or ceased, a gap of cadence days since the last contact
// (cadence 0: by balance, as collections teams work bigger debts harder: 2
// days from 1,500 in the account's currency, 3 from 400, else 4), not while a
// promise is open or after a complaint.
func (a *account) eligible(now int64, cadence int) bool {
	if a.done || a.unknown || now < a.referred || now < a.promiseTill || now < a.quietTill {
		return false
	}
	if cadence <= 0 {
		switch major := a.row.Balance / 100; {
		case major >= 1500:
			cadence = 2
		case major >= 400:
			cadence = 3
		default:
			cadence = 4
		}
	}
	// A day's cadence counts from the last contact's local date; 12 hours of
	// slack keep sends later in the day from pushing the next one back a day.
	return a.lastContact == 0 || now-a.lastContact >= int64(cadence)*86400e6-12*3600e6
}
