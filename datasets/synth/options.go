package synth

import (
	"fmt"
	"runtime"
	"time"
)

// Options are the knobs of a world; a world is a pure function of them (Workers
// only changes speed, never bytes).
type Options struct {
	// Accounts is the number of referred accounts.
	Accounts int
	// Days is the length of the history the BAU policy plays.
	Days int
	// Seed selects the world; the same seed gives the same bytes.
	Seed uint64
	// Start is the first simulated instant, a UTC midnight.
	Start time.Time
	// Tenant is written on every row.
	Tenant string
	// HoldoutShare is the stable, hash-assigned share of accounts kept on BAU.
	HoldoutShare float64
	// ReferralSpread is the share of Days over which referrals arrive (0 means
	// every account is referred at Start).
	ReferralSpread float64
	// Epsilon is the BAU policy's exploration: the probability of choosing the
	// channel, the hour and the message each uniformly at random, independently.
	EpsilonChannel, EpsilonHour, EpsilonMessage float64
	// WeeklyCap is the BAU's maximum contacts per account in any rolling 7 days.
	WeeklyCap int
	// Workers generating account shards; 0 means GOMAXPROCS.
	Workers int
}

// DefaultOptions returns a 20,000-account, 90-day world starting Monday
// 2026-01-05 with a 10% holdout and an exploring BAU policy.
func DefaultOptions() Options {
	return Options{
		Accounts:       20000,
		Days:           90,
		Seed:           1,
		Start:          time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		Tenant:         "demo",
		HoldoutShare:   0.1,
		ReferralSpread: 0.2,
		EpsilonChannel: 0.3,
		EpsilonHour:    0.6,
		EpsilonMessage: 0.3,
		WeeklyCap:      4,
	}
}

func (o *Options) check() error {
	switch {
	case o.Accounts < 0:
		return fmt.Errorf("accounts %d: must not be negative", o.Accounts)
	case o.Accounts > 99_999_999:
		return fmt.Errorf("accounts %d: at most 99,999,999", o.Accounts)
	case o.Days <= 0 || o.Days > 3660:
		return fmt.Errorf("days %d: must be in 1..3660", o.Days)
	case o.Start.IsZero():
		return fmt.Errorf("start: must be set")
	case !o.Start.Equal(o.Start.UTC().Truncate(24 * time.Hour)):
		return fmt.Errorf("start %s: must be a UTC midnight", o.Start)
	case o.Tenant == "":
		return fmt.Errorf("tenant: must not be empty")
	case o.HoldoutShare < 0 || o.HoldoutShare > 1:
		return fmt.Errorf("holdout share %g: must be in [0,1]", o.HoldoutShare)
	case o.ReferralSpread < 0 || o.ReferralSpread > 1:
		return fmt.Errorf("referral spread %g: must be in [0,1]", o.ReferralSpread)
	case o.WeeklyCap < 1 || o.WeeklyCap > 16:
		return fmt.Errorf("weekly cap %d: must be in 1..16", o.WeeklyCap)
	case o.Workers < 0:
		return fmt.Errorf("workers %d: must not be negative", o.Workers)
	}
	for _, e := range []float64{o.EpsilonChannel, o.EpsilonHour, o.EpsilonMessage} {
		if e <= 0 || e > 1 {
			return fmt.Errorf("epsilon %g: must be in (0,1] so every action has a propensity", e)
		}
	}
	return nil
}

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}
