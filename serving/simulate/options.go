package simulate

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/engagehq/engage/features"
)

// Policy names.
const (
	PolicyBAU    = "bau"
	PolicyRandom = "random"
	PolicyModel  = "model"
	PolicyOracle = "oracle"
)

// Policies lists every policy, bau first (the baseline of the uplift).
var Policies = []string{PolicyBAU, PolicyRandom, PolicyModel, PolicyOracle}

// Rates converts one minor unit of each currency to US cents, so liquidation
// can be summed over currencies (fixed, documented, not market rates).
var Rates = map[string]float64{"USD": 1, "CAD": 0.74, "AUD": 0.66, "NZD": 0.60, "GBP": 1.27}

// Options are the knobs of a simulation.
type Options struct {
	// Accounts and Days size the world; Seeds are the worlds played (each
	// policy is played once per seed).
	Accounts, Days int
	Seeds          []uint64
	// Policies to play; bau is always played first (the uplift baseline).
	Policies []string
	// Start is the first simulated day, a UTC midnight.
	Start time.Time
	// ReferralSpread is the share of Days over which referrals arrive.
	ReferralSpread float64
	// Cadence is the fewest days between two contacts of the random, model and
	// oracle policies (the workflow's rule; bau has its own schedule); 0 means
	// by balance like bau's (2, 3 or 4 days), so every policy contacts about
	// as often and they differ in how, when and with what.
	Cadence int
	// Epsilon is the engine's exploration share in the model policy.
	Epsilon float64
	// RetrainEvery is the retraining period of the model policy in days (0:
	// never; the pretrained model plays throughout).
	RetrainEvery int
	// PretrainAccounts and PretrainDays size the separate BAU history (seed +
	// 1000) the first model is trained on.
	PretrainAccounts, PretrainDays int
	// TrainAccounts caps the accounts whose logs a retraining replays (a
	// seeded sample), and TrainRows the rows it fits on (the latest).
	TrainAccounts, TrainRows int
	// Target is the outcome the model predicts (features.OutcomeNames).
	Target string
	// Convert, when set, is a payment outcome (paid_7d, paid_30d) that a
	// second model predicts on the engaged contacts only; the engine then
	// ranks by P(Target) × P(Convert | engaged) × balance left
	// (engine.ChainScorer) instead of by engagement at a fixed value.
	Convert string
	// MessageTarget, when set (and Convert is not), is a payment outcome
	// (paid_7d, paid_30d) that a second model, fitted on the engaged
	// contacts, predicts to choose the message only: channel and send hour
	// stay ranked by Target (see messageScorer).
	MessageTarget string
	// ExploreBonus is an optimism bonus added to the model's probability of
	// a candidate on a channel the account has been sent little on:
	// ExploreBonus / sqrt(1 + contacts sent on the channel). It is a
	// deterministic function of the features, so the engine's propensities
	// stay exact; it tries a debtor's untried channels while nothing known
	// answers well (0: off).
	ExploreBonus float64
	// LateResponses scales the engagement model's probability per channel
	// by how many more contacts of the pretraining history got a response
	// within 7 days than within 48 hours (a letter is answered by a
	// call-back days later, which engaged_48h does not count).
	LateResponses bool
	// AllHours makes the engine consider every permitted local hour of the
	// next 24 hours per channel (engine.Options.AllHours, coordinate search)
	// instead of the two best hours of the debtor's profile.
	AllHours bool
	// MinP is the engine's value threshold (engine.Options.MinP): no contact
	// when the best action's predicted probability is below it.
	MinP float64
	// GBDTIter caps the boosting rounds of each fit.
	GBDTIter int
	// Bootstrap is the number of resamples of the uplift intervals.
	Bootstrap int
	// OPE runs the off-policy validation (see ValidateOPE) once per seed.
	OPE bool
	// OPEEpsilon is the target policy's exploration in the validation.
	OPEEpsilon float64
	// Workers simulating account shards; 0 means GOMAXPROCS.
	Workers int
	// Tenant names the simulated tenant.
	Tenant string
	// Progress, when not nil, receives a progress bar.
	Progress io.Writer
	// Remote, when its URL is set, plays the model policy through a running
	// engage server over HTTP instead of the in-process engine (see Remote).
	Remote Remote
}

// DefaultOptions: 50,000 accounts x 90 days, seeds 1-3, every policy, weekly
// retraining, bau's contact cadence by balance, the OPE validation. The
// model policy's MessageTarget, LateResponses and ExploreBonus are off: on
// four 10,000-account worlds they collected the same money within noise,
// with more engagement per contact and fewer contacts per payment in every
// world (bench/results/simulate-decomposition-10000x90.md), and the HTTP
// mode (Remote) cannot play them.
func DefaultOptions() Options {
	return Options{
		Accounts:         50000,
		Days:             90,
		Seeds:            []uint64{1, 2, 3},
		Policies:         slices.Clone(Policies),
		Start:            time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		ReferralSpread:   0.2,
		Cadence:          0,
		Epsilon:          0.05,
		RetrainEvery:     7,
		PretrainAccounts: 20000,
		PretrainDays:     45,
		TrainAccounts:    8000,
		TrainRows:        60000,
		Target:           "engaged_48h",
		GBDTIter:         60,
		Bootstrap:        500,
		OPE:              true,
		OPEEpsilon:       0.1,
		Tenant:           "sim",
	}
}

func (o *Options) check() error {
	switch {
	case o.Accounts <= 0:
		return fmt.Errorf("simulate: accounts %d: must be positive", o.Accounts)
	case o.Days <= 0 || o.Days > 366:
		return fmt.Errorf("simulate: days %d: must be in 1..366", o.Days)
	case len(o.Seeds) == 0:
		return fmt.Errorf("simulate: no seed")
	case o.Cadence < 0:
		return fmt.Errorf("simulate: cadence %d: must not be negative", o.Cadence)
	case o.Epsilon < 0 || o.Epsilon > 1 || o.OPEEpsilon < 0 || o.OPEEpsilon > 1:
		return fmt.Errorf("simulate: epsilon %v / %v: must be in [0, 1]", o.Epsilon, o.OPEEpsilon)
	case o.RetrainEvery < 0:
		return fmt.Errorf("simulate: retrain every %d days: must not be negative", o.RetrainEvery)
	case o.Start.IsZero() || !o.Start.Equal(o.Start.UTC().Truncate(24*time.Hour)):
		return fmt.Errorf("simulate: start %s: must be a UTC midnight", o.Start)
	case o.MinP < 0 || o.MinP > 1:
		return fmt.Errorf("simulate: min p %v: must be in [0, 1]", o.MinP)
	case o.Workers < 0:
		return fmt.Errorf("simulate: workers %d: must not be negative", o.Workers)
	case o.Tenant == "":
		return fmt.Errorf("simulate: empty tenant")
	case !slices.Contains(features.OutcomeNames, o.Target):
		return fmt.Errorf("simulate: target %q: want one of %v", o.Target, features.OutcomeNames)
	case o.Convert != "" && o.Convert != "paid_7d" && o.Convert != "paid_30d":
		return fmt.Errorf("simulate: convert %q: want a payment outcome, paid_7d or paid_30d", o.Convert)
	case o.Convert != "" && o.Convert == o.Target:
		return fmt.Errorf("simulate: convert %q is the target: the chain multiplies P(target) by P(convert | target)", o.Convert)
	case o.MessageTarget != "" && o.MessageTarget != "paid_7d" && o.MessageTarget != "paid_30d":
		return fmt.Errorf("simulate: message target %q: want a payment outcome, paid_7d or paid_30d", o.MessageTarget)
	case o.MessageTarget != "" && o.Convert != "":
		return fmt.Errorf("simulate: message target %q and convert %q: the chain already ranks messages by payment; set one", o.MessageTarget, o.Convert)
	case !(o.ExploreBonus >= 0 && o.ExploreBonus <= 1):
		return fmt.Errorf("simulate: explore bonus %v: must be in [0, 1]", o.ExploreBonus)
	}
	if err := o.Remote.check(o); err != nil {
		return err
	}
	for _, p := range o.Policies {
		if !slices.Contains(Policies, p) {
			return fmt.Errorf("simulate: unknown policy %q (want %v)", p, Policies)
		}
	}
	if slices.Contains(o.Policies, PolicyModel) && (o.PretrainAccounts <= 0 || o.PretrainDays <= 0) {
		return fmt.Errorf("simulate: the model policy needs a pretraining history (accounts %d, days %d)", o.PretrainAccounts, o.PretrainDays)
	}
	return nil
}

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// ordered returns the policies to play, bau first, each once.
func (o *Options) ordered() []string {
	out := []string{PolicyBAU}
	for _, p := range Policies {
		if p != PolicyBAU && slices.Contains(o.Policies, p) {
			out = append(out, p)
		}
	}
	return out
}
