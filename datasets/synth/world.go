package synth

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/engagehq/engage/datasets"
)

// Channel positions in datasets.ContactChannels, plus the agent hand-off.
const (
	chEmail = iota
	chSMS
	chCall
	chPush
	chLetter
	chAgent
	nContact = 5
)

// Message positions in datasets.Messages.
const (
	msgFriendly = iota
	msgEmpathetic
	msgFirm
	msgDiscount
	msgPlan
	nMessage = 5
)

// Active types: when in the local day a debtor engages.
var activeTypes = []string{"morning", "lunch", "evening", "night"}

// Salts separate the random streams of one account.
const (
	saltAccount uint64 = 0x9e3779b97f4a7c15
	saltHistory uint64 = 0xbf58476d1ce4e5b9
)

// prefs is the hidden side of an account: what the debtor would do, which only
// the world knows. Affinities are engagement probabilities of a contact the
// debtor sees at once (an active hour, the best message, no recent contacts).
type prefs struct {
	affinity    [nContact]float64
	response    [nMessage]float64 // message response, 1 for the best message
	peak        int               // weekday local peak hour
	peakWeekend int
	sigma       float64 // hours, spread of the active window around the peak
	weekend     float64 // weekend engagement multiplier
	payProp     float64 // daily probability of paying without contact
	convert     float64 // probability of a payment outcome given engagement
	complaint   float64 // base complaint probability per contact
	payday      int     // day of month
	best        int     // argmax affinity
	bestMsg     int
	active      int  // index in activeTypes
	zone        int  // index in World.zones
	gap         int  // BAU cadence in days
	close       bool // the runner-up channel is within a factor 0.6-0.85 of the best
	noContact   bool
	hardship    bool
	holdout     bool
	dpd         int
}

// World is a synthetic debtor population with its hidden truth. It is built
// deterministically from Options; History and WriteDir never change it, while
// Outcome and Spontaneous evolve a per-account state for closed-loop play.
type World struct {
	opts     Options
	accounts []datasets.Account
	prefs    []prefs
	zones    []*zoneTable
	cal      []calDay
	start    int64 // Unix seconds
	end      int64 // Unix seconds, exclusive
	width    int   // digits of account numbers

	stateMu sync.Mutex
	state   []*state // lazily created by Outcome and Spontaneous
}

// calDay describes one simulated local calendar date; it is the same in every
// zone because it is a date, not an instant.
type calDay struct {
	weekend bool
	dom     int
	dim     int // days in month
	season  float64
}

// seasonal returns the payment-propensity multiplier of a month: money is short
// in December and comes back in January (bonuses, refunds, new-year resolve).
func seasonal(m time.Month) float64 {
	switch m {
	case time.December:
		return 0.6
	case time.November:
		return 0.85
	case time.January:
		return 1.3
	case time.February:
		return 1.1
	}
	return 1
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// New builds the accounts and their hidden preferences.
func New(opts Options) (*World, error) {
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("synth options: %w", err)
	}
	w := &World{
		opts:  opts,
		start: opts.Start.Unix(),
		end:   opts.Start.Unix() + int64(opts.Days)*86400,
		width: max(7, len(strconv.Itoa(opts.Accounts))),
	}
	zoneIdx := map[string]int{}
	for _, j := range jurisdictions {
		if _, ok := zoneIdx[j.zone]; ok {
			continue
		}
		zt, err := newZoneTable(j.zone, opts.Start, opts.Days+1)
		if err != nil {
			return nil, err
		}
		zoneIdx[j.zone] = len(w.zones)
		w.zones = append(w.zones, zt)
	}
	y, m, d := opts.Start.Date()
	for i := 0; i <= opts.Days; i++ {
		t := time.Date(y, m, d+i, 0, 0, 0, 0, time.UTC)
		w.cal = append(w.cal, calDay{
			weekend: t.Weekday() == time.Saturday || t.Weekday() == time.Sunday,
			dom:     t.Day(),
			dim:     daysIn(t.Year(), t.Month()),
			season:  seasonal(t.Month()),
		})
	}

	// Account ids live in one string: A0000001A0000002...
	var sb strings.Builder
	sb.Grow(opts.Accounts * (w.width + 1))
	for i := range opts.Accounts {
		sb.WriteByte('A')
		s := strconv.Itoa(i + 1)
		for range w.width - len(s) {
			sb.WriteByte('0')
		}
		sb.WriteString(s)
	}
	ids := sb.String()

	w.accounts = make([]datasets.Account, opts.Accounts)
	w.prefs = make([]prefs, opts.Accounts)
	w.state = make([]*state, opts.Accounts)
	cum := make([]float64, len(jurisdictions))
	total := 0.0
	for i, j := range jurisdictions {
		total += j.weight
		cum[i] = total
	}
	zoneOf := make([]int, len(jurisdictions))
	for i, j := range jurisdictions {
		zoneOf[i] = zoneIdx[j.zone]
	}

	workers := opts.workers()
	var wg sync.WaitGroup
	per := (opts.Accounts + workers - 1) / max(workers, 1)
	for k := range workers {
		lo, hi := k*per, min((k+1)*per, opts.Accounts)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := rand.NewPCG(0, 0)
			rng := rand.New(src)
			for i := lo; i < hi; i++ {
				src.Seed(opts.Seed^saltAccount, uint64(i))
				id := ids[i*(w.width+1) : (i+1)*(w.width+1)]
				w.accounts[i], w.prefs[i] = w.genAccount(i, id, rng, cum, total, zoneOf)
			}
		}()
	}
	wg.Wait()
	return w, nil
}

// Options returns the options the world was built from.
func (w *World) Options() Options { return w.opts }

// Len returns the number of accounts.
func (w *World) Len() int { return len(w.accounts) }

// Accounts returns the referred accounts in id order. The slice is shared; do
// not modify it.
func (w *World) Accounts() []datasets.Account { return w.accounts }

// Location returns the cached time zone of account i.
func (w *World) Location(i int) *time.Location { return w.zones[w.prefs[i].zone].loc }

// Holdout reports whether account i is in the stable BAU-only holdout.
func (w *World) Holdout(i int) bool { return w.prefs[i].holdout }

// Truth returns the hidden preferences in the order of Accounts: for evaluation
// only, never for training.
func (w *World) Truth() []datasets.Truth {
	out := make([]datasets.Truth, len(w.prefs))
	for i := range w.prefs {
		out[i] = w.truth(i)
	}
	return out
}

func (w *World) truth(i int) datasets.Truth {
	p := &w.prefs[i]
	return datasets.Truth{
		AccountID:       w.accounts[i].ID,
		BestChannel:     datasets.ContactChannels[p.best],
		PeakHour:        int32(p.peak),
		PeakHourWeekend: int32(p.peakWeekend),
		ActiveType:      activeTypes[p.active],
		BestMessage:     datasets.Messages[p.bestMsg],
		AffinityEmail:   p.affinity[chEmail],
		AffinitySMS:     p.affinity[chSMS],
		AffinityCall:    p.affinity[chCall],
		AffinityPush:    p.affinity[chPush],
		AffinityLetter:  p.affinity[chLetter],
		PayPropensity:   p.payProp,
		ComplaintRisk:   p.complaint,
		Payday:          int32(p.payday),
	}
}

// Tables of the population. Rows follow datasets.AgeBands.
var (
	ageWeights = []float64{0.12, 0.24, 0.22, 0.18, 0.14, 0.10}
	// favourite-channel distribution by age band: email, sms, call, push, letter.
	favByAge = [][nContact]float64{
		{0.20, 0.35, 0.05, 0.35, 0.05},
		{0.25, 0.35, 0.08, 0.27, 0.05},
		{0.35, 0.25, 0.15, 0.15, 0.10},
		{0.38, 0.17, 0.25, 0.08, 0.12},
		{0.30, 0.10, 0.35, 0.05, 0.20},
		{0.15, 0.05, 0.45, 0.03, 0.32},
	}
	// regional multipliers on the favourite-channel distribution.
	favByRegion = [][nContact]float64{
		regionUS: {1, 1, 1, 1, 1},
		regionCA: {1.15, 0.9, 1, 1, 1},
		regionAU: {0.9, 1.35, 0.8, 1.1, 0.9},
		regionNZ: {0.9, 1.3, 0.8, 1.1, 1},
		regionGB: {1.25, 1.1, 0.6, 1, 1.1},
	}
	// active types by age band: morning, lunch, evening, night.
	activeByAge = [][4]float64{
		{0.10, 0.20, 0.35, 0.35},
		{0.15, 0.25, 0.40, 0.20},
		{0.25, 0.30, 0.35, 0.10},
		{0.35, 0.30, 0.30, 0.05},
		{0.45, 0.30, 0.22, 0.03},
		{0.55, 0.30, 0.14, 0.01},
	}
	productWeights = []float64{0.30, 0.30, 0.12, 0.16, 0.12}
	// balance log-normal: median in major units and sigma, by product.
	balanceMedian = []float64{150, 2200, 5500, 280, 420}
	balanceSigma  = []float64{0.7, 0.9, 0.8, 0.6, 0.7}
	currencyScale = map[string]float64{"USD": 1, "CAD": 1.35, "AUD": 1.5, "NZD": 1.65, "GBP": 0.8}
	paydays       = []int{1, 15, 15, 25, 28, 31}
	// topAffinity is the range of the favourite channel's affinity by channel:
	// email, sms, call, push, letter.
	topAffinity = [nContact][2]float64{{0.85, 0.97}, {0.7, 0.9}, {0.75, 0.97}, {0.7, 0.92}, {0.5, 0.7}}
	// otherAffinity is the typical affinity of a channel that is not the
	// debtor's favourite.
	otherAffinity = [nContact]float64{0.1, 0.025, 0.07, 0.045, 0.025}
)

// CloseShare is the share of debtors whose runner-up channel is close to the
// favourite (0.6-0.85 of its affinity): their best channel is hard to tell
// from a short history, as in real collections.
const CloseShare = 0.07

func pick(rng *rand.Rand, weights []float64) int {
	t := 0.0
	for _, x := range weights {
		t += x
	}
	u := rng.Float64() * t
	for i, x := range weights {
		u -= x
		if u < 0 {
			return i
		}
	}
	return len(weights) - 1
}

func bern(rng *rand.Rand, p float64) bool { return rng.Float64() < p }

func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func (w *World) genAccount(i int, id string, rng *rand.Rand, cum []float64, total float64, zoneOf []int) (datasets.Account, prefs) {
	u := rng.Float64() * total
	ji := len(jurisdictions) - 1
	for k, c := range cum {
		if u < c {
			ji = k
			break
		}
	}
	j := &jurisdictions[ji]
	region := regionOf(j.code)
	age := pick(rng, ageWeights)

	pw := append([]float64(nil), productWeights...)
	switch {
	case age <= 1:
		pw[0] *= 1.8
	case age >= 4:
		pw[0] *= 0.4
	}
	product := pick(rng, pw)

	lang := "en"
	switch v := rng.Float64(); {
	case v < j.french:
		lang = "fr"
	case v < j.french+j.spanish:
		lang = "es"
	}

	major := balanceMedian[product] * currencyScale[j.currency] * math.Exp(balanceSigma[product]*rng.NormFloat64())
	balance := max(int64(math.Round(major*100)), 2000)
	dpd := 30 + int(min(rng.ExpFloat64()*45, 690))

	var p prefs
	p.zone = zoneOf[ji]
	p.dpd = dpd

	// Channel affinities: a favourite drawn by age and region, clearly ahead
	// (at least 3x every other channel, typically 5-20x) for most debtors; for CloseShare of them a
	// runner-up is within a factor 0.6-0.85 (the truth is still the argmax).
	// The level of the favourite depends on what engaging means on it: opening
	// an email is easy, calling back after a letter is not.
	var fw [nContact]float64
	for c := range fw {
		fw[c] = favByAge[age][c] * favByRegion[region][c]
	}
	p.best = pick(rng, fw[:])
	top := uniform(rng, topAffinity[p.best][0], topAffinity[p.best][1])
	for c := range p.affinity {
		if c == p.best {
			p.affinity[c] = top
			continue
		}
		// Others sit at the channel's everyday level (an email gets opened now
		// and then, a text rarely answered), lifted a little by the age-band
		// prior, and at most a third of the favourite.
		p.affinity[c] = min(otherAffinity[c]*uniform(rng, 0.5, 1.5)*(0.8+0.6*fw[c]), top/3)
	}
	if bern(rng, CloseShare) {
		p.close = true
		fw[p.best] = 0
		second := pick(rng, fw[:])
		p.affinity[second] = top * uniform(rng, 0.6, 0.85)
	}

	// Active hours in local time: a window around the peak (sigma 0.8-1.4 h),
	// shifted on weekends. Peaks lie in the permitted contact window
	// (08:00-21:00) except the night type's, at 20-21 h on weekdays.
	p.active = pick(rng, activeByAge[age][:])
	switch p.active {
	case 0:
		p.peak, p.peakWeekend = 8+rng.IntN(3), 9+rng.IntN(3)
	case 1:
		p.peak, p.peakWeekend = 12+rng.IntN(2), 12+rng.IntN(3)
	case 2:
		p.peak, p.peakWeekend = 17+rng.IntN(3), 16+rng.IntN(4)
	default:
		p.peak, p.peakWeekend = 20+rng.IntN(2), 21+rng.IntN(2)
	}
	p.sigma = uniform(rng, 0.8, 1.4)
	p.weekend = uniform(rng, 0.7, 1.1)

	// Message response: the best tone depends on the debtor's situation.
	hardship := bern(rng, 0.06)
	mw := []float64{0.30, 0.20, 0.10, 0.20, 0.20}
	if dpd < 60 {
		mw[msgFriendly] *= 1.6
	}
	if dpd > 120 {
		mw[msgDiscount] *= 2
		mw[msgFirm] *= 1.3
	}
	if major > 2000 {
		mw[msgPlan] *= 1.6
	}
	if hardship {
		mw[msgPlan] *= 3
		mw[msgEmpathetic] *= 2.5
		mw[msgFirm] *= 0.2
	}
	p.bestMsg = pick(rng, mw)
	for m := range p.response {
		p.response[m] = uniform(rng, 0.45, 0.85)
		if m == msgFirm {
			p.response[m] *= 0.8
		}
	}
	p.response[p.bestMsg] = 1

	// Payment propensity: small, old debts get paid; big, stale ones do not.
	lb := math.Log(major / 500)
	p.payProp = sigmoid(-6.8 - 0.35*lb - 0.006*float64(dpd-60) + 0.5*rng.NormFloat64())
	p.convert = sigmoid(-3.0 - 0.25*lb - 0.004*float64(dpd-60) + 0.4*rng.NormFloat64())
	p.complaint = math.Exp(math.Log(0.0005) + 0.6*rng.NormFloat64())
	if hardship {
		p.complaint *= 2
	}
	p.payday = paydays[rng.IntN(len(paydays))]

	// Consents per channel; people tend to consent where they like to be reached.
	consent := func(c int, base float64) bool {
		if c == p.best {
			base = 1 - (1-base)*0.1
		}
		return bern(rng, base)
	}
	pushBase := 0.2
	if product == 0 || product == 3 {
		pushBase = 0.55
	}

	var flags []string
	if bern(rng, 0.02) {
		flags = append(flags, datasets.FlagDispute)
	}
	if bern(rng, 0.01) {
		flags = append(flags, datasets.FlagCease)
	}
	if hardship {
		flags = append(flags, datasets.FlagHardship)
	}
	if bern(rng, 0.004) {
		flags = append(flags, datasets.FlagAttorney)
	}
	if bern(rng, 0.003) {
		flags = append(flags, datasets.FlagBankruptcy)
	}
	if bern(rng, 0.001) {
		flags = append(flags, datasets.FlagDeceased)
	}
	for _, f := range flags {
		if f != datasets.FlagHardship {
			p.noContact = true
		}
	}
	p.hardship = hardship

	// BAU cadence: bigger balances are worked harder.
	switch {
	case bern(rng, 0.15):
		p.gap = 5
	case major >= 400:
		p.gap = 2
	default:
		p.gap = 3
	}

	spread := int64(w.opts.ReferralSpread * float64(w.opts.Days) * 86400)
	referred := w.start
	if spread > 0 {
		referred += rng.Int64N(spread)
	}

	a := datasets.Account{
		Tenant:        w.opts.Tenant,
		ID:            id,
		ReferredAt:    referred * 1e6,
		Balance:       balance,
		Currency:      j.currency,
		Product:       datasets.Products[product],
		DaysPastDue:   int32(dpd),
		Jurisdiction:  j.code,
		TimeZone:      j.zone,
		AgeBand:       datasets.AgeBands[age],
		Language:      lang,
		ConsentEmail:  consent(chEmail, 0.85),
		ConsentSMS:    consent(chSMS, 0.65),
		ConsentCall:   consent(chCall, 0.9),
		ConsentPush:   consent(chPush, pushBase),
		ConsentLetter: consent(chLetter, 0.97),
		Flags:         strings.Join(flags, ","),
	}
	h := fnv.New64a()
	h.Write([]byte(w.opts.Tenant))
	h.Write([]byte{0})
	h.Write([]byte(id))
	p.holdout = float64(h.Sum64()%1_000_000) < w.opts.HoldoutShare*1_000_000
	return a, p
}
