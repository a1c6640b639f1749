package compare

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/repo"
)

const sample = `"age";"job";"marital";"duration";"balance";"y"
58;"management";"married";261;2143;"no"
44;"technician";"single";151;29;"yes"
33;"management";"single";76;-2;"no"
`

func TestReadBank(t *testing.T) {
	X, y, err := ReadBank(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if X.Rows != 3 || X.Cols != 4 {
		t.Fatalf("shape %d x %d, want 3 x 4 (duration and y dropped)", X.Rows, X.Cols)
	}
	if err := X.Validate(); err != nil {
		t.Fatal(err)
	}
	if f := X.Features[1]; f.Kind != models.Categorical || strings.Join(f.Levels, ",") != "management,technician" {
		t.Errorf("job feature %+v", f)
	}
	if X.At(1, 1) != 1 || X.At(2, 3) != -2 || y[1] != 1 || y[0] != 0 {
		t.Errorf("values: row1 job %v, row2 balance %v, y %v", X.At(1, 1), X.At(2, 3), y)
	}
	for _, bad := range []string{"", `"a";"b"` + "\n1;2\n", `"a";"y"` + "\n1;maybe\n", `"a";"y"` + "\nx;no\n"} {
		if _, _, err := ReadBank(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadBank(%q) gave no error", bad)
		}
	}
}

func TestSplits(t *testing.T) {
	y := make([]float64, 1000)
	for i := range y {
		if i%10 == 0 {
			y[i] = 1
		}
	}
	for _, s := range []Split{TimeSplit(len(y), 0.08, 0.2), StratifiedSplit(y, 0.08, 0.2, 1)} {
		seen := make([]int, len(y))
		for _, part := range [][]int{s.Train, s.Valid, s.Test} {
			for _, r := range part {
				seen[r]++
			}
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("%s split: row %d in %d parts", s.Name, i, c)
			}
		}
		if len(s.Test) != 200 || len(s.Valid) != 80 {
			t.Errorf("%s split: %d test, %d valid rows", s.Name, len(s.Test), len(s.Valid))
		}
	}
	ts := TimeSplit(len(y), 0.08, 0.2)
	if ts.Train[len(ts.Train)-1] >= ts.Valid[0] || ts.Valid[len(ts.Valid)-1] >= ts.Test[0] {
		t.Error("time split is not ordered")
	}
}

func TestWriteCSVAndBankFile(t *testing.T) {
	X, y, err := ReadBank(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.csv")
	if err := WriteCSV(p, X, y); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := "age,job,marital,balance,y\n58,management,married,2143,0\n44,technician,single,29,1\n33,management,single,-2,0\n"
	if string(b) != want {
		t.Errorf("csv:\n%s\nwant:\n%s", b, want)
	}

	wd, _ := os.Getwd()
	shared, err := repo.Shared(wd)
	if err != nil {
		t.Skipf("shared datasets not available: %v", err)
	}
	X, y, err = LoadBank(filepath.Join(shared, "datasets/uci-bank-marketing/bank-full.csv"))
	if err != nil {
		t.Fatal(err)
	}
	pos := 0.0
	for _, v := range y {
		pos += v
	}
	// SOURCE.md: 45,211 rows, 5,289 yes; 16 inputs minus duration.
	if X.Rows != 45211 || X.Cols != 15 || pos != 5289 {
		t.Errorf("bank-full: %d rows x %d cols, %v positives", X.Rows, X.Cols, pos)
	}
}
