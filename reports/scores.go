package reports

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/engagehq/engage/datasets"
)

// scoreRow is a row of an uplift scores file.
type scoreRow struct {
	AccountID string  `parquet:"account_id"`
	Uplift    float64 `parquet:"uplift"`
}

// LoadScores reads per-account uplift scores from a CSV or Parquet file with
// columns account_id and uplift, and returns them as an Options.Scores
// function. Non-finite scores are refused.
func LoadScores(path string) (func(*datasets.Account) (float64, bool), error) {
	m := map[string]float64{}
	add := func(row int, id string, s float64) error {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return fmt.Errorf("scores %s: row %d: uplift %v is not finite", path, row, s)
		}
		m[id] = s
		return nil
	}
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("scores: %w", err)
		}
		defer f.Close()
		cr := csv.NewReader(f)
		head, err := cr.Read()
		if err != nil {
			return nil, fmt.Errorf("scores %s: header: %w", path, err)
		}
		ia, iu := -1, -1
		for i, h := range head {
			switch strings.TrimSpace(h) {
			case "account_id":
				ia = i
			case "uplift":
				iu = i
			}
		}
		if ia < 0 || iu < 0 {
			return nil, fmt.Errorf("scores %s: need columns account_id and uplift, have %v", path, head)
		}
		for row := 2; ; row++ {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("scores %s: %w", path, err)
			}
			s, err := strconv.ParseFloat(strings.TrimSpace(rec[iu]), 64)
			if err != nil {
				return nil, fmt.Errorf("scores %s: row %d: uplift: %w", path, row, err)
			}
			if err := add(row, rec[ia], s); err != nil {
				return nil, err
			}
		}
	} else {
		rows, err := parquet.ReadFile[scoreRow](path)
		if err != nil {
			return nil, fmt.Errorf("scores %s: %w", path, err)
		}
		for i, r := range rows {
			if err := add(i+1, r.AccountID, r.Uplift); err != nil {
				return nil, err
			}
		}
	}
	return func(a *datasets.Account) (float64, bool) {
		s, ok := m[a.ID]
		return s, ok
	}, nil
}
