package features

import (
	"fmt"

	"github.com/engagehq/engage/datasets"
)

// Account is a referral prepared for feature read-out: the row plus what every
// read would otherwise recompute (its zone clock, segment key, flags). Serving
// keeps one per request; the batch driver one per account in the stream. An
// Account caches the zone offset and the priors' segment profile as it is used,
// so it is not safe for concurrent use: give each goroutine its own.
type Account struct {
	Row     datasets.Account
	clock   zoneClock
	segment string // SegmentKey(age band, region): the priors' hour-of-week profile key
	flags   uint8  // flagDispute...

	// cached lookup of the segment profile in the last Priors read with.
	priors *Priors
	prof   *profile
}

const (
	flagDispute uint8 = 1 << iota
	flagCease
	flagHardship
)

// NewAccount prepares a referral row. It fails only when the account's time zone
// is not an IANA zone, because every local-time feature would then be wrong.
func NewAccount(a *datasets.Account) (*Account, error) {
	c, err := newZoneClock(a.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", a.ID, err)
	}
	p := &Account{Row: *a, clock: c, segment: SegmentKey(a.AgeBand, a.Region())}
	for _, f := range a.FlagList() {
		switch f {
		case datasets.FlagDispute:
			p.flags |= flagDispute
		case datasets.FlagCease:
			p.flags |= flagCease
		case datasets.FlagHardship:
			p.flags |= flagHardship
		}
	}
	return p, nil
}

// SegmentKey names the group of similar debtors whose hour-of-week profile a
// debtor with few engagements is shrunk toward: same age band and region.
func SegmentKey(ageBand, region string) string { return ageBand + "|" + region }

// HourOfWeek returns the local hour of the week (0..167, Sunday 00:00 local = 0)
// of the UTC instant us in the account's zone; serving uses it to place a
// candidate send slot on the profile.
func (a *Account) HourOfWeek(us int64) int { return a.clock.hourOfWeek(us) }

// profileFor returns the segment prior profile, cached per Priors.
func (a *Account) profileFor(p *Priors) *profile {
	if a.priors != p {
		a.priors = p
		a.prof = p.segmentProfile(a.segment)
	}
	return a.prof
}

// Categorical returns the account's categorical features in CategoricalNames
// order, appended to dst. "" is a missing value.
func (a *Account) Categorical(dst []string) []string {
	r := &a.Row
	return append(dst, r.Product, r.Jurisdiction, r.Region(), r.AgeBand, r.Language)
}

// CategoricalNames lists the categorical feature columns, in the order
// Account.Categorical fills them.
var CategoricalNames = []string{"product", "jurisdiction", "region", "age_band", "language"}
