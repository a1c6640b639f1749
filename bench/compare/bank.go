package compare

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"

	"github.com/engagehq/engage/atomicfile"
	"github.com/engagehq/engage/models"
)

// bankCategorical lists bank-full.csv's string columns; the rest are numeric.
var bankCategorical = map[string]bool{
	"job": true, "marital": true, "education": true, "default": true, "housing": true,
	"loan": true, "contact": true, "month": true, "poutcome": true,
}

// BankDropped are the columns left out: duration is only known after the call
// (upstream's leakage warning) and y is the target.
var BankDropped = []string{"duration", "y"}

// LoadBank reads bank-full.csv (';'-separated, quoted strings) into a matrix
// with the string columns as categoricals (levels sorted) and y = 1 for "yes".
// Rows keep the file's (date) order.
func LoadBank(path string) (*models.Matrix, []float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load bank: %w", err)
	}
	defer f.Close()
	X, y, err := ReadBank(f)
	if err != nil {
		return nil, nil, fmt.Errorf("load bank %s: %w", path, err)
	}
	return X, y, nil
}

// ReadBank parses the bank-full.csv layout from r.
func ReadBank(r io.Reader) (*models.Matrix, []float64, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.Comma = ';'
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(recs) < 2 {
		return nil, nil, errors.New("no data rows")
	}
	head := recs[0]
	yCol := slices.Index(head, "y")
	if yCol < 0 {
		return nil, nil, errors.New(`no "y" column`)
	}
	var cols []int
	var feats []models.Feature
	for j, name := range head {
		if slices.Contains(BankDropped, name) {
			continue
		}
		ft := models.Feature{Name: name, Kind: models.Numeric}
		if bankCategorical[name] {
			ft.Kind = models.Categorical
			seen := map[string]bool{}
			for _, rec := range recs[1:] {
				if j < len(rec) && !seen[rec[j]] {
					seen[rec[j]] = true
					ft.Levels = append(ft.Levels, rec[j])
				}
			}
			slices.Sort(ft.Levels)
		}
		cols = append(cols, j)
		feats = append(feats, ft)
	}
	X := models.NewMatrix(len(recs)-1, feats)
	y := make([]float64, X.Rows)
	for i, rec := range recs[1:] {
		if len(rec) != len(head) {
			return nil, nil, fmt.Errorf("line %d: %d fields, header has %d", i+2, len(rec), len(head))
		}
		for k, j := range cols {
			if feats[k].Kind == models.Categorical {
				X.Set(i, k, float64(slices.Index(feats[k].Levels, rec[j])))
				continue
			}
			v, err := strconv.ParseFloat(rec[j], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d, %s: %w", i+2, head[j], err)
			}
			X.Set(i, k, v)
		}
		switch rec[yCol] {
		case "yes":
			y[i] = 1
		case "no":
		default:
			return nil, nil, fmt.Errorf("line %d: y = %q, want yes or no", i+2, rec[yCol])
		}
	}
	return X, y, nil
}

// Split is one train/validation/test partition of row indices.
type Split struct {
	Name               string
	Train, Valid, Test []int
}

// TimeSplit keeps row order: the first 1-testFrac of rows are for fitting, of
// which the last validFrac (of all rows) validate early stopping, and the last
// testFrac of rows are the test set.
func TimeSplit(n int, validFrac, testFrac float64) Split {
	nTest := int(float64(n) * testFrac)
	nValid := int(float64(n) * validFrac)
	nTrain := n - nTest - nValid
	return Split{Name: "time", Train: span(0, nTrain), Valid: span(nTrain, nTrain+nValid), Test: span(nTrain+nValid, n)}
}

// StratifiedSplit draws the same shares at random within each class, seeded.
func StratifiedSplit(y []float64, validFrac, testFrac float64, seed uint64) Split {
	rng := rand.New(rand.NewPCG(seed, 17))
	s := Split{Name: "random"}
	for _, cls := range []float64{0, 1} {
		var idx []int
		for i, v := range y {
			if v == cls {
				idx = append(idx, i)
			}
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		nTest := int(float64(len(idx)) * testFrac)
		nValid := int(float64(len(idx)) * validFrac)
		s.Test = append(s.Test, idx[:nTest]...)
		s.Valid = append(s.Valid, idx[nTest:nTest+nValid]...)
		s.Train = append(s.Train, idx[nTest+nValid:]...)
	}
	slices.Sort(s.Train)
	slices.Sort(s.Valid)
	slices.Sort(s.Test)
	return s
}

func span(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

// Subset copies the given rows of X and y.
func Subset(X *models.Matrix, y []float64, rows []int) (*models.Matrix, []float64) {
	S := models.NewMatrix(len(rows), X.Features)
	sy := make([]float64, len(rows))
	for k, r := range rows {
		copy(S.Row(k), X.Row(r))
		sy[k] = y[r]
	}
	return S, sy
}

// WriteCSV writes X and y as a comma-separated file with a header, levels as
// their strings, missing values as empty fields and the label as column "y".
func WriteCSV(path string, X *models.Matrix, y []float64) error {
	return atomicfile.Write(path, 0o600, func(out io.Writer) error {
		bw := bufio.NewWriter(out)
		w := csv.NewWriter(bw)
		rec := make([]string, 0, X.Cols+1)
		for _, f := range X.Features {
			rec = append(rec, f.Name)
		}
		_ = w.Write(append(rec, "y"))
		for i := 0; i < X.Rows; i++ {
			rec = rec[:0]
			for j, f := range X.Features {
				v := X.At(i, j)
				switch {
				case v != v:
					rec = append(rec, "")
				case f.Kind == models.Categorical:
					rec = append(rec, f.Levels[int(v)])
				default:
					rec = append(rec, strconv.FormatFloat(v, 'g', -1, 64))
				}
			}
			_ = w.Write(append(rec, strconv.FormatFloat(y[i], 'g', -1, 64)))
		}
		w.Flush()
		return errors.Join(w.Error(), bw.Flush())
	})
}
