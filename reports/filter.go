package reports

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/engagehq/engage/datasets"
)

// Filter selects the period and the slice of the book a report covers. The
// zero Filter covers everything.
type Filter struct {
	// From and To bound the period: From <= at < To; zero means open.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Jurisdictions keeps accounts in these jurisdictions; a country code
	// also matches its subdivisions. Empty keeps all.
	Jurisdictions []string `json:"jurisdictions,omitempty"`
	// Products keeps accounts of these products. Empty keeps all.
	Products []string `json:"products,omitempty"`
	// Channels keeps events on these channels (see the package doc on
	// attribution). Empty keeps all.
	Channels []string `json:"channels,omitempty"`
}

// ParseFilter reads a Filter from query parameters: from, to (YYYY-MM-DD or
// RFC 3339; to is exclusive), jurisdiction, product and channel (repeated or
// comma-separated). It names the parameter that is wrong.
func ParseFilter(q url.Values) (Filter, error) {
	var f Filter
	var err error
	if f.From, err = parseTime(q.Get("from")); err != nil {
		return f, fmt.Errorf("from: %w", err)
	}
	if f.To, err = parseTime(q.Get("to")); err != nil {
		return f, fmt.Errorf("to: %w", err)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, fmt.Errorf("to: %s is not after from %s", q.Get("to"), q.Get("from"))
	}
	f.Jurisdictions = listParam(q["jurisdiction"])
	f.Products = listParam(q["product"])
	f.Channels = listParam(q["channel"])
	for _, c := range f.Channels {
		if datasets.ChannelIndex(c) < 0 {
			return f, fmt.Errorf("channel: unknown channel %q (want one of %s)", c, strings.Join(datasets.Channels, ", "))
		}
	}
	for _, p := range f.Products {
		if p == "" || len(p) > 64 {
			return f, fmt.Errorf("product: bad value %q", p)
		}
	}
	for _, j := range f.Jurisdictions {
		if j == "" || len(j) > 16 {
			return f, fmt.Errorf("jurisdiction: bad value %q", j)
		}
	}
	return f, nil
}

// Query returns the filter as query parameters, the inverse of ParseFilter.
func (f Filter) Query() url.Values {
	q := url.Values{}
	if !f.From.IsZero() {
		q.Set("from", formatTime(f.From))
	}
	if !f.To.IsZero() {
		q.Set("to", formatTime(f.To))
	}
	if len(f.Jurisdictions) > 0 {
		q.Set("jurisdiction", strings.Join(f.Jurisdictions, ","))
	}
	if len(f.Products) > 0 {
		q.Set("product", strings.Join(f.Products, ","))
	}
	if len(f.Channels) > 0 {
		q.Set("channel", strings.Join(f.Channels, ","))
	}
	return q
}

func formatTime(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t.UTC(), nil
}

func listParam(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// matchAccount reports whether an account is in the filter's slice.
func (f *Filter) matchAccount(a *datasets.Account) bool {
	if len(f.Products) > 0 && !slices.Contains(f.Products, a.Product) {
		return false
	}
	if len(f.Jurisdictions) > 0 {
		ok := false
		for _, j := range f.Jurisdictions {
			if a.Jurisdiction == j || (!strings.Contains(j, "-") && datasets.Region(a.Jurisdiction) == j) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// inPeriod reports whether an instant (µs) is in [From, To).
func (f *Filter) inPeriod(us int64) bool {
	if !f.From.IsZero() && us < f.From.UnixMicro() {
		return false
	}
	if !f.To.IsZero() && us >= f.To.UnixMicro() {
		return false
	}
	return true
}

// matchChannel reports whether channel index c passes the channel filter.
func (f *Filter) matchChannel(c int8) bool {
	if len(f.Channels) == 0 {
		return true
	}
	return c >= 0 && slices.Contains(f.Channels, datasets.Channels[c])
}
