package reports

import (
	"cmp"
	"slices"
	"time"

	"github.com/engagehq/engage/datasets"
)

// LiquidationReport is liquidation by age band, by region and by both, per
// currency, with the counts behind every rate so that small cells read as small.
type LiquidationReport struct {
	Report     string    `json:"report"`
	Filter     Filter    `json:"filter"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Status     string    `json:"status"`
	Message    string    `json:"message,omitempty"`
	Confidence float64   `json:"confidence"`
	// MinCell is the account count under which a cell is flagged small.
	MinCell   int               `json:"min_cell"`
	Total     []LiquidationCell `json:"total"`
	ByAgeBand []LiquidationCell `json:"by_age_band"`
	ByRegion  []LiquidationCell `json:"by_region"`
	ByBoth    []LiquidationCell `json:"by_age_band_and_region"`
}

// LiquidationCell is one group of accounts in one currency. AgeBand or Region
// is empty when the cell does not split by it.
type LiquidationCell struct {
	AgeBand  string `json:"age_band,omitempty"`
	Region   string `json:"region,omitempty"`
	Currency string `json:"currency"`
	Accounts int    `json:"accounts"`
	// Referred and Collected are minor units of Currency.
	Referred  int64 `json:"referred"`
	Collected int64 `json:"collected"`
	// LiquidationRate is Collected/Referred; null when nothing was referred.
	LiquidationRate *float64 `json:"liquidation_rate"`
	PayingAccounts  int      `json:"paying_accounts"`
	// PaymentRate is PayingAccounts/Accounts with its Wilson interval.
	PaymentRate *float64 `json:"payment_rate"`
	PaymentLow  *float64 `json:"payment_rate_low"`
	PaymentHigh *float64 `json:"payment_rate_high"`
	// Small is set when Accounts < MinCell: read the rates with care.
	Small bool `json:"small"`
}

type liqKey struct{ age, region, cur string }

// Liquidation computes the liquidation report over the filter's slice.
func (b *Book) Liquidation(f Filter) *LiquidationReport {
	from, to := b.bounds(&f)
	r := &LiquidationReport{Report: "liquidation", Filter: f, From: time.UnixMicro(from).UTC(), To: time.UnixMicro(to).UTC(),
		Confidence: b.opts.Confidence, MinCell: b.opts.MinCell, Status: StatusOK}
	cells := [4]map[liqKey]*LiquidationCell{{}, {}, {}, {}}
	pop := b.population(&f, to)
	for _, a := range pop {
		st := a.stats(&f, from, to)
		region := datasets.Region(a.Jurisdiction)
		keys := [4]liqKey{{"", "", a.Currency}, {a.AgeBand, "", a.Currency}, {"", region, a.Currency}, {a.AgeBand, region, a.Currency}}
		for i, k := range keys {
			c := cells[i][k]
			if c == nil {
				c = &LiquidationCell{AgeBand: k.age, Region: k.region, Currency: k.cur}
				cells[i][k] = c
			}
			c.Accounts++
			c.Referred += a.Balance
			c.Collected += st.collected
			if st.payments > 0 {
				c.PayingAccounts++
			}
		}
	}
	if len(pop) == 0 {
		r.Status = StatusNotEnoughData
		r.Message = "not enough data: no accounts in this period and slice"
	}
	z := zFor(b.opts.Confidence)
	lists := [4]*[]LiquidationCell{&r.Total, &r.ByAgeBand, &r.ByRegion, &r.ByBoth}
	for i, m := range cells {
		out := make([]LiquidationCell, 0, len(m))
		for _, c := range m {
			c.LiquidationRate = num(float64(c.Collected)/float64(c.Referred), c.Referred != 0)
			if c.Accounts > 0 {
				c.PaymentRate = num(float64(c.PayingAccounts)/float64(c.Accounts), true)
				lo, hi := Wilson(c.PayingAccounts, c.Accounts, z)
				c.PaymentLow, c.PaymentHigh = num(lo, true), num(hi, true)
			}
			c.Small = c.Accounts < b.opts.MinCell
			out = append(out, *c)
		}
		slices.SortFunc(out, func(x, y LiquidationCell) int {
			return cmp.Or(cmp.Compare(ageOrder(x.AgeBand), ageOrder(y.AgeBand)), cmp.Compare(x.AgeBand, y.AgeBand),
				cmp.Compare(x.Region, y.Region), cmp.Compare(x.Currency, y.Currency))
		})
		*lists[i] = out
	}
	return r
}

func ageOrder(band string) int {
	if i := datasets.AgeBandIndex(band); i >= 0 {
		return i
	}
	return len(datasets.AgeBands)
}
