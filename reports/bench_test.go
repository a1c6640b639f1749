package reports

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

// randomSource makes n accounts with a few contacts and payments each over
// 90 days, a tenth of them in the holdout.
func randomSource(n int) *MemSource {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC).UnixMicro()
	day := int64(24 * time.Hour / time.Microsecond)
	src := &MemSource{}
	curs := []string{"USD", "GBP", "AUD"}
	for i := range n {
		id := fmt.Sprintf("A%06d", i)
		src.AccountRows = append(src.AccountRows, datasets.Account{ID: id, ReferredAt: start, Balance: 10000 + rng.Int64N(200000),
			Currency: curs[i%3], Product: "bnpl", Jurisdiction: []string{"US", "GB", "AU"}[i%3], TimeZone: "UTC",
			AgeBand: datasets.AgeBands[i%6]})
		hold := i%10 == 0
		for k := range 10 {
			at := start + rng.Int64N(90*day)
			dec := fmt.Sprintf("%s-%d", id, k)
			ch := datasets.ContactChannels[rng.IntN(5)]
			src.DecisionRows = append(src.DecisionRows, datasets.Decision{DecisionID: dec, AccountID: id, At: at, Channel: ch, Policy: "bau", Holdout: hold})
			src.EventRows = append(src.EventRows,
				datasets.Event{AccountID: id, Type: datasets.EventContactSent, At: at, Channel: ch, DecisionID: dec},
				datasets.Event{AccountID: id, Type: datasets.EventDelivered, At: at + 60e6, Channel: ch, DecisionID: dec})
			if rng.Float64() < 0.03 {
				src.EventRows = append(src.EventRows, datasets.Event{AccountID: id, Type: datasets.EventPayment, At: at + rng.Int64N(5*day), Amount: 5000})
			}
		}
	}
	return src
}

func BenchmarkLoad(b *testing.B) {
	src := randomSource(5000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(context.Background(), src, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReports(b *testing.B) {
	bk, err := Load(context.Background(), randomSource(5000), DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range Names {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bk.Run(name, Filter{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
