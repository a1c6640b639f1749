package reports

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/engagehq/engage/datasets"
)

func TestLoadScores(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "s.csv")
	if err := os.WriteFile(csvPath, []byte("uplift,account_id\n0.5,A1\n-0.25,A2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pqPath := filepath.Join(dir, "s.parquet")
	if err := parquet.WriteFile(pqPath, []scoreRow{{"A1", 0.5}, {"A2", -0.25}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{csvPath, pqPath} {
		fn, err := LoadScores(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if s, ok := fn(&datasets.Account{ID: "A2"}); !ok || s != -0.25 {
			t.Errorf("%s: A2 = %v %v", p, s, ok)
		}
		if _, ok := fn(&datasets.Account{ID: "A9"}); ok {
			t.Errorf("%s: unknown account scored", p)
		}
	}
	for name, body := range map[string]string{
		"nan.csv":     "account_id,uplift\nA1,NaN\n",
		"missing.csv": "account_id,score\nA1,1\n",
		"text.csv":    "account_id,uplift\nA1,high\n",
	} {
		p := filepath.Join(dir, name)
		_ = os.WriteFile(p, []byte(body), 0o644)
		if _, err := LoadScores(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
