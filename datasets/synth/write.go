package synth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"

	"github.com/engagehq/engage/atomicfile"
	"github.com/engagehq/engage/datasets"
)

// File names WriteDir produces.
const (
	AccountsFile  = "accounts.parquet"
	EventsFile    = "events.parquet"
	DecisionsFile = "decisions.parquet"
	TruthFile     = "truth.parquet"
)

// Stats summarises a written world.
type Stats struct {
	Accounts  int
	Events    int
	Decisions int
	Payments  int
	Referred  int64 // sum of balances, minor units (currencies mixed)
	Collected int64 // sum of payments, minor units (currencies mixed)
}

// LiquidationRate is money collected over money referred.
func (s Stats) LiquidationRate() float64 {
	if s.Referred == 0 {
		return 0
	}
	return float64(s.Collected) / float64(s.Referred)
}

const batchRows = 64 << 10

func writerOptions() []parquet.WriterOption {
	return []parquet.WriterOption{
		parquet.Compression(&parquet.Snappy),
		parquet.MaxRowsPerRowGroup(256 << 10),
		parquet.CreatedBy("engage-synth", "1", "0"),
	}
}

// writeAll writes n rows, made in batches by row, to a new Parquet file.
func writeAll[T any](ctx context.Context, f *os.File, n int, row func(i int) T) error {
	pw := parquet.NewGenericWriter[T](f, writerOptions()...)
	batch := make([]T, 0, batchRows)
	for lo := 0; lo < n; lo += batchRows {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch = batch[:0]
		for i := lo; i < min(lo+batchRows, n); i++ {
			batch = append(batch, row(i))
		}
		if _, err := pw.Write(batch); err != nil {
			return err
		}
	}
	return pw.Close()
}

// streamWriter writes batches of rows from a channel in a goroutine, handing
// the emptied batches back for reuse.
type streamWriter[T any] struct {
	batch []T
	in    chan []T
	free  chan []T
	done  chan error
}

func newStreamWriter[T any](f *os.File) *streamWriter[T] {
	s := &streamWriter[T]{
		batch: make([]T, 0, batchRows),
		in:    make(chan []T, 2),
		free:  make(chan []T, 3),
		done:  make(chan error, 1),
	}
	go func() {
		pw := parquet.NewGenericWriter[T](f, writerOptions()...)
		var err error
		for b := range s.in {
			if err == nil {
				_, err = pw.Write(b)
			}
			select {
			case s.free <- b[:0]:
			default:
			}
		}
		if err == nil {
			err = pw.Close()
		}
		s.done <- err
	}()
	return s
}

func (s *streamWriter[T]) add(row T) {
	s.batch = append(s.batch, row)
	if len(s.batch) == batchRows {
		s.in <- s.batch
		select {
		case s.batch = <-s.free:
		default:
			s.batch = make([]T, 0, batchRows)
		}
	}
}

// close flushes and waits; it must be called exactly once.
func (s *streamWriter[T]) close() error {
	if len(s.batch) > 0 {
		s.in <- s.batch
	}
	close(s.in)
	return <-s.done
}

// parquetSink is the Sink of WriteDir.
type parquetSink struct {
	events    *streamWriter[datasets.Event]
	decisions *streamWriter[datasets.Decision]
	stats     *Stats
}

func (s *parquetSink) Decision(d datasets.Decision) error {
	s.stats.Decisions++
	s.decisions.add(d)
	return nil
}

func (s *parquetSink) Event(e datasets.Event) error {
	s.stats.Events++
	if e.Type == datasets.EventPayment {
		s.stats.Payments++
		s.stats.Collected += e.Amount
	}
	s.events.add(e)
	return nil
}

// WriteDir writes accounts.parquet, events.parquet, decisions.parquet and
// truth.parquet into dir. Each file is written to a temporary file beside it and
// renamed only when everything succeeded, so a cancelled run leaves no partial
// files. progress, when not nil, is called with accounts simulated so far.
func (w *World) WriteDir(ctx context.Context, dir string, progress func(done, total int)) error {
	_, err := w.WriteDirStats(ctx, dir, progress)
	return err
}

// WriteDirStats is WriteDir that also returns what was written.
func (w *World) WriteDirStats(ctx context.Context, dir string, progress func(done, total int)) (Stats, error) {
	stats := Stats{Accounts: len(w.accounts)}
	for k := range w.accounts {
		stats.Referred += w.accounts[k].Balance
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return stats, fmt.Errorf("synth out dir: %w", err)
	}
	var files []*atomicfile.File
	defer func() {
		for _, t := range files {
			if t != nil {
				t.Abort()
			}
		}
	}()
	for _, name := range []string{AccountsFile, EventsFile, DecisionsFile, TruthFile} {
		t, err := atomicfile.Create(filepath.Join(dir, name))
		if err != nil {
			return stats, err
		}
		files = append(files, t)
	}

	// Accounts and truth are in memory already; write them beside the history.
	static := make(chan error, 1)
	go func() {
		if err := writeAll(ctx, files[0].File, len(w.accounts), func(i int) datasets.Account { return w.accounts[i] }); err != nil {
			static <- fmt.Errorf("write %s: %w", AccountsFile, err)
			return
		}
		if err := writeAll(ctx, files[3].File, len(w.prefs), w.truth); err != nil {
			static <- fmt.Errorf("write %s: %w", TruthFile, err)
			return
		}
		static <- nil
	}()

	sink := &parquetSink{
		events:    newStreamWriter[datasets.Event](files[1].File),
		decisions: newStreamWriter[datasets.Decision](files[2].File),
		stats:     &stats,
	}
	herr := w.history(ctx, sink, progress)
	eerr := sink.events.close()
	derr := sink.decisions.close()
	serr := <-static
	if err := errors.Join(herr, wrapErr(EventsFile, eerr), wrapErr(DecisionsFile, derr), serr); err != nil {
		return stats, err
	}
	for k, t := range files {
		if err := t.Commit(t.Chmod(0o644)); err != nil {
			return stats, err
		}
		files[k] = nil
	}
	return stats, nil
}

func wrapErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("write %s: %w", name, err)
}
