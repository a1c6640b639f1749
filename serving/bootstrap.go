package serving

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/progress"
	"github.com/engagehq/engage/store"
)

// BootstrapSummary reports what Bootstrap loaded.
type BootstrapSummary struct {
	Accounts, Events, Duplicates, Decisions int
	// LastEvent is the latest event time (UTC micros): a sensible "now" for a
	// demo decision right after the history.
	LastEvent int64
	// FirstAccount is an account id to show in the printed example.
	FirstAccount string
}

// bootBatch is the batch size of the bootstrap's ingestion calls.
const bootBatch = 10_000

// Bootstrap loads a synthetic world (accounts.parquet, events.parquet and, when
// present, decisions.parquet as written by `engage datasets synth`) into the
// store for tenant, through the same validation and ingestion path as the API
// (Refer, Ingest). It is idempotent: a second run stores nothing new. Logged
// decisions become audit records (for the reports' holdout arms). progress,
// when not nil, receives progress bars.
func (s *Server) Bootstrap(ctx context.Context, tenant, dir string, progress io.Writer) (BootstrapSummary, error) {
	var sum BootstrapSummary
	err := eachBatch(ctx, filepath.Join(dir, "accounts.parquet"), "accounts", progress, func(rows []datasets.Account) error {
		for i := range rows {
			rows[i].Tenant = ""
		}
		if sum.FirstAccount == "" && len(rows) > 0 {
			sum.FirstAccount = rows[0].ID
		}
		_, err := s.Refer(tenant, rows)
		sum.Accounts += len(rows)
		return err
	})
	if err != nil {
		return sum, err
	}
	err = eachBatch(ctx, filepath.Join(dir, "events.parquet"), "events", progress, func(rows []datasets.Event) error {
		for i := range rows {
			rows[i].Tenant = ""
			sum.LastEvent = max(sum.LastEvent, rows[i].At)
		}
		res, err := s.Ingest(tenant, rows)
		sum.Events += res.Appended
		sum.Duplicates += res.Duplicates
		return err
	})
	if err != nil {
		return sum, err
	}
	dpath := filepath.Join(dir, "decisions.parquet")
	if _, err := os.Stat(dpath); err != nil {
		return sum, nil
	}
	err = eachBatch(ctx, dpath, "decisions", progress, func(rows []datasets.Decision) error {
		recs := make([]store.DecisionRecord, len(rows))
		for i := range rows {
			r := rows[i]
			r.Tenant = ""
			p, err := json.Marshal(struct {
				Imported bool               `json:"imported"`
				Logged   *datasets.Decision `json:"logged"`
			}{true, &r})
			if err != nil {
				return err
			}
			recs[i] = store.DecisionRecord{ID: r.DecisionID, AccountID: r.AccountID, At: r.At, Payload: p, Compact: true}
		}
		if err := s.db.PutDecisions(tenant, recs); err != nil {
			return err
		}
		s.bump(tenant)
		sum.Decisions += len(rows)
		return nil
	})
	return sum, err
}

// eachBatch streams a Parquet table in batches of bootBatch rows.
func eachBatch[T datasets.Row](ctx context.Context, path, what string, pw io.Writer, fn func([]T) error) error {
	r, err := datasets.Open[T](path)
	if err != nil {
		return fmt.Errorf("bootstrap %s: %w", what, err)
	}
	defer r.Close()
	var bar *progressbar.ProgressBar
	if pw != nil {
		bar = progress.New(pw, r.NumRows(), "load "+what, "rows")
		defer bar.Finish()
	}
	buf := make([]T, bootBatch)
	var row int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := r.Next(buf)
		if n > 0 {
			if err := fn(buf[:n]); err != nil {
				var ae *APIError
				if errors.As(err, &ae) && ae.Row != nil {
					return fmt.Errorf("bootstrap %s: row %d of %s: %s: %s", what, row+int64(*ae.Row)+1, path, ae.Field, ae.Reason)
				}
				return fmt.Errorf("bootstrap %s: %w", what, err)
			}
			row += int64(n)
			if bar != nil {
				_ = bar.Set64(row)
			}
		}
		if errors.Is(rerr, io.EOF) || (rerr == nil && n == 0) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("bootstrap %s: %w", what, rerr)
		}
	}
}
