package reports

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/engagehq/engage/datasets"
)

// Source is one tenant's data as the reports read it. It is declared here, by
// its consumer, so that reports never depend on storage: serving adapts its
// store, DirSource reads Parquet, MemSource serves tests. Each method calls fn
// once per row, in any order, and stops at fn's first error. The row is only
// valid during the call.
type Source interface {
	Accounts(fn func(*datasets.Account) error) error
	Events(fn func(*datasets.Event) error) error
	Decisions(fn func(*datasets.Decision) error) error
}

// Keyed is implemented by sources that can say when their data changed, so
// that a Handler may reuse a loaded Book until the key changes.
type Keyed interface {
	// CacheKey changes whenever the source's rows change.
	CacheKey() string
}

// MemSource is a Source over rows held in memory; for tests and small data.
type MemSource struct {
	AccountRows  []datasets.Account
	EventRows    []datasets.Event
	DecisionRows []datasets.Decision
}

// Accounts calls fn for each account.
func (m *MemSource) Accounts(fn func(*datasets.Account) error) error { return each(m.AccountRows, fn) }

// Events calls fn for each event.
func (m *MemSource) Events(fn func(*datasets.Event) error) error { return each(m.EventRows, fn) }

// Decisions calls fn for each decision.
func (m *MemSource) Decisions(fn func(*datasets.Decision) error) error {
	return each(m.DecisionRows, fn)
}

func each[T any](rows []T, fn func(*T) error) error {
	for i := range rows {
		if err := fn(&rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// DirSource reads a folder holding accounts.parquet, events.parquet and
// decisions.parquet (the layout `engage datasets synth` writes). A missing
// decisions.parquet reads as no decisions; the other two are required.
type DirSource struct {
	Dir string
}

// NewDirSource checks that dir holds the required tables.
func NewDirSource(dir string) (*DirSource, error) {
	for _, name := range []string{"accounts", "events"} {
		p := filepath.Join(dir, name+".parquet")
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("report data %s: %w", dir, err)
		}
	}
	return &DirSource{Dir: dir}, nil
}

// Accounts streams accounts.parquet.
func (d *DirSource) Accounts(fn func(*datasets.Account) error) error {
	return scan[datasets.Account](filepath.Join(d.Dir, "accounts.parquet"), false, fn)
}

// Events streams events.parquet.
func (d *DirSource) Events(fn func(*datasets.Event) error) error {
	return scan[datasets.Event](filepath.Join(d.Dir, "events.parquet"), false, fn)
}

// Decisions streams decisions.parquet, if present.
func (d *DirSource) Decisions(fn func(*datasets.Decision) error) error {
	return scan[datasets.Decision](filepath.Join(d.Dir, "decisions.parquet"), true, fn)
}

// CacheKey is built from the tables' sizes and modification times.
func (d *DirSource) CacheKey() string {
	var b strings.Builder
	b.WriteString(d.Dir)
	for _, name := range []string{"accounts", "events", "decisions"} {
		st, err := os.Stat(filepath.Join(d.Dir, name+".parquet"))
		if err != nil {
			b.WriteString("|-")
			continue
		}
		fmt.Fprintf(&b, "|%d.%d", st.Size(), st.ModTime().UnixNano())
	}
	return b.String()
}

func scan[T datasets.Row](path string, optional bool, fn func(*T) error) error {
	r, err := datasets.Open[T](path)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer r.Close()
	buf := make([]T, 4096)
	for {
		n, err := r.Next(buf)
		for i := range n {
			if err := fn(&buf[i]); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
