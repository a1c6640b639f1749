package compare

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/engagehq/engage/models/gbdt"
	"github.com/engagehq/engage/repo"
)

// BenchmarkBankFit times our GBDT with default options on the random split of
// bank-full.csv: 300 rounds, no early stopping, so runs are comparable.
func BenchmarkBankFit(b *testing.B) {
	wd, _ := os.Getwd()
	shared, err := repo.Shared(wd)
	if err != nil {
		b.Skipf("shared datasets not available: %v", err)
	}
	X, y, err := LoadBank(filepath.Join(shared, "datasets/uci-bank-marketing/bank-full.csv"))
	if err != nil {
		b.Fatal(err)
	}
	s := StratifiedSplit(y, 0.08, 0.2, 1)
	Xtr, ytr := Subset(X, y, s.Train)
	o := gbdt.DefaultOptions()
	o.MaxIter, o.EarlyStoppingRounds = 300, 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gbdt.Fit(context.Background(), Xtr, ytr, nil, nil, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBankFitES times what the comparison table times: default options
// with early stopping on the validation rows of the random split (the number
// of rounds therefore depends on the model, as it does for XGBoost).
func BenchmarkBankFitES(b *testing.B) {
	wd, _ := os.Getwd()
	shared, err := repo.Shared(wd)
	if err != nil {
		b.Skipf("shared datasets not available: %v", err)
	}
	X, y, err := LoadBank(filepath.Join(shared, "datasets/uci-bank-marketing/bank-full.csv"))
	if err != nil {
		b.Fatal(err)
	}
	s := StratifiedSplit(y, 0.08, 0.2, 1)
	Xtr, ytr := Subset(X, y, s.Train)
	Xva, yva := Subset(X, y, s.Valid)
	o := gbdt.DefaultOptions()
	rounds := 0
	o.Progress = func(r int, _, _ float64) { rounds = r }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gbdt.Fit(context.Background(), Xtr, ytr, Xva, yva, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rounds), "rounds")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N)/float64(rounds), "ms/round")
}
