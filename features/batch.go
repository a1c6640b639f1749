package features

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/debug"

	"github.com/engagehq/engage/datasets"
)

// Metadata keys the batch driver writes into X.parquet.
const (
	// MetaPriors holds the Priors JSON the features were read out with.
	MetaPriors = "engage.priors"
	// MetaFeatures names the producer and the feature state version.
	MetaFeatures = "engage.features"
)

// Options tune the batch driver.
type Options struct {
	// Priors to read out with. Nil computes them from the events in a first
	// pass (population numbers over the whole history, the standard choice for
	// a training set); pass the training priors when building a test set.
	Priors *Priors
	// PriorOptions are the smoothing strengths used when computing priors.
	PriorOptions PriorOptions
	// End is the end of the history (UTC microseconds): outcome windows that
	// reach past it are censored (NaN). 0 means the latest event or decision
	// instant in the input.
	End int64
	// Progress, when not nil, is called after each batch of events with the
	// events processed so far and the total (both passes counted).
	Progress func(done, total int64)
}

// DefaultOptions computes priors with DefaultPriorOptions.
func DefaultOptions() Options { return Options{PriorOptions: DefaultPriorOptions()} }

// Inputs names the canonical tables the batch driver reads.
type Inputs struct {
	Accounts, Events, Decisions string
}

// Summary reports what a build did.
type Summary struct {
	Accounts  int
	Events    int64 // events read per pass
	Decisions int64 // rows written
	Censored  int64 // rows with at least one censored outcome
	End       int64 // history end used for censoring
	Priors    *Priors
}

// Columns returns the columns of the logged-decisions table the batch driver
// writes, with their roles: ids, decision time, context features (Schema),
// action parts, propensity, outcomes.
func Columns() []datasets.Column {
	cols := []datasets.Column{
		{Name: "decision_id", Role: datasets.RoleID, Kind: datasets.KindCategorical},
		{Name: "account_id", Role: datasets.RoleID, Kind: datasets.KindCategorical},
		{Name: "decided_at", Role: datasets.RoleTime, Kind: datasets.KindTime},
	}
	cols = append(cols, Schema()...)
	cols = append(cols,
		datasets.Column{Name: "channel", Role: datasets.RoleAction, Kind: datasets.KindCategorical, Levels: datasets.Channels},
		datasets.Column{Name: "local_hour", Role: datasets.RoleAction, Kind: datasets.KindNumeric},
		datasets.Column{Name: "message", Role: datasets.RoleAction, Kind: datasets.KindCategorical, Levels: datasets.Messages},
		datasets.Column{Name: "propensity", Role: datasets.RolePropensity, Kind: datasets.KindNumeric},
	)
	for _, n := range OutcomeNames {
		cols = append(cols, datasets.Column{Name: n, Role: datasets.RoleOutcome, Kind: datasets.KindNumeric})
	}
	return cols
}

// Schema returns the feature columns, all with role context: categoricals first
// (CategoricalNames), then NumericNames, then ActionNames (the
// action-dependent context, filled for the logged action).
func Schema() []datasets.Column {
	cols := make([]datasets.Column, 0, len(CategoricalNames)+len(numericNames)+numAction)
	for _, n := range CategoricalNames {
		cols = append(cols, datasets.Column{Name: n, Role: datasets.RoleContext, Kind: datasets.KindCategorical})
	}
	for _, n := range numericNames {
		cols = append(cols, datasets.Column{Name: n, Role: datasets.RoleContext, Kind: datasets.KindNumeric})
	}
	for _, n := range actionNames {
		cols = append(cols, datasets.Column{Name: n, Role: datasets.RoleContext, Kind: datasets.KindNumeric})
	}
	return cols
}

// LoadAccounts reads accounts.parquet into prepared accounts by id.
func LoadAccounts(path string) (map[string]*Account, error) {
	r, err := datasets.Open[datasets.Account](path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	m := make(map[string]*Account, r.NumRows())
	buf := make([]datasets.Account, 4096)
	var row int64
	for {
		n, err := r.Next(buf)
		for i := 0; i < n; i++ {
			row++
			a, perr := NewAccount(&buf[i])
			if perr != nil {
				return nil, fmt.Errorf("%s row %d: %w", path, row, perr)
			}
			if _, dup := m[a.Row.ID]; dup {
				return nil, fmt.Errorf("%s row %d: duplicate account_id %q", path, row, a.Row.ID)
			}
			m[a.Row.ID] = a
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return m, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// Build is the batch (point-in-time) driver: it turns the event history into the
// logged-decisions table at out, one row per decision with the features as of an
// instant strictly before it, the action, its propensity and its outcomes. It
// streams the events (sorted by account_id, at) in columnar batches; memory is
// bounded by one account's state and decisions. The output is written to a temp
// file renamed at the end: an error or a cancelled ctx leaves nothing at out.
func Build(ctx context.Context, in Inputs, out string, o Options) (sum Summary, err error) {
	accounts, err := LoadAccounts(in.Accounts)
	if err != nil {
		return sum, err
	}
	sum.Accounts = len(accounts)
	src, err := openEvents(in.Events)
	if err != nil {
		return sum, err
	}
	src.Close()
	total := src.numRows
	passes := int64(1)
	if o.Priors == nil {
		passes = 2
	}
	var done int64
	progress := func(n int64) {
		done += n
		if o.Progress != nil {
			o.Progress(done, passes*total)
		}
	}

	sum.End = o.End
	if sum.End == 0 {
		if sum.End, err = historyEnd(in); err != nil {
			return sum, err
		}
	}

	priors := o.Priors
	if priors == nil {
		c := NewPriorCounter()
		b := &builder{what: in.Events, accounts: accounts, rep: newReplayer(UniformPriors(), sum.End), counter: c}
		if err := streamEvents(ctx, in.Events, b, progress); err != nil {
			return sum, err
		}
		if priors, err = c.Priors(o.PriorOptions); err != nil {
			return sum, err
		}
	}
	sum.Priors = priors
	pj, err := priors.JSON()
	if err != nil {
		return sum, err
	}

	decs, err := openDecisions(in.Decisions)
	if err != nil {
		return sum, err
	}
	defer decs.Close()
	meta := map[string]string{MetaPriors: string(pj), MetaFeatures: fmt.Sprintf(`{"producer":"engage features build","state_version":%d}`, StateVersion)}
	w, err := datasets.CreateLogged(out, Columns(), meta)
	if err != nil {
		return sum, err
	}
	tw := newTableWriter(w)
	defer func() {
		if err != nil {
			tw.abort()
		}
	}()
	b := &builder{what: in.Events, accounts: accounts, decs: decs, rep: newReplayer(priors, sum.End),
		emit: func(a *Account, rows []pendingRow) error {
			for i := range rows {
				for _, v := range rows[i].out {
					if math.IsNaN(v) {
						sum.Censored++
						break
					}
				}
			}
			sum.Decisions += int64(len(rows))
			return tw.add(a, rows)
		}}
	if err = streamEvents(ctx, in.Events, b, progress); err != nil {
		return sum, err
	}
	sum.Events = b.events
	if err = tw.close(); err != nil {
		return sum, err
	}
	return sum, nil
}

// historyEnd is the latest instant in the events and decisions files.
func historyEnd(in Inputs) (int64, error) {
	end := int64(math.MinInt64)
	for _, f := range []string{in.Events, in.Decisions} {
		mx, ok, err := maxTime(f, "at")
		if err != nil {
			return 0, err
		}
		if ok {
			end = max(end, mx)
		}
	}
	if end == math.MinInt64 {
		end = 0
	}
	return end, nil
}

// streamEvents decodes the events file in one goroutine and feeds the builder
// in the calling one, so decoding and the state updates use both cores.
func streamEvents(ctx context.Context, path string, b *builder, progress func(int64)) (err error) {
	src, err := openEvents(path)
	if err != nil {
		return err
	}
	defer src.Close()
	const depth = 4
	full := make(chan *eventBatch, depth)
	free := make(chan *eventBatch, depth+1)
	for i := 0; i < depth+1; i++ {
		free <- newEventBatch()
	}
	stop := make(chan struct{})
	decoded := make(chan error, 1)
	go func() {
		defer close(full)
		decoded <- safely(func() error {
			for {
				var bt *eventBatch
				select {
				case bt = <-free:
				case <-stop:
					return nil
				}
				if err := src.next(bt); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return fmt.Errorf("read %s: %w", path, err)
				}
				select {
				case full <- bt:
				case <-stop:
					return nil
				}
			}
		})
	}()
	finished := false
	defer func() {
		if !finished {
			close(stop)
			for range full {
			}
			<-decoded
		}
	}()
	var ev event
	typeName := func(bt *eventBatch) func() string {
		return func() string {
			if len(bt.typeNames) > 0 {
				return bt.typeNames[0] // the first unknown type is the one reported
			}
			return "?"
		}
	}
	for bt := range full {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := 0; i < bt.n; i++ {
			ev = event{at: bt.at[i], amount: bt.amount[i], typ: bt.typ[i], ch: bt.ch[i], msg: bt.msg[i]}
			if err := b.add(bt.row0+int64(i), bt.account(i), &ev, typeName(bt)); err != nil {
				return err
			}
		}
		progress(int64(bt.n))
		free <- bt
	}
	finished = true
	if err := <-decoded; err != nil {
		return err
	}
	return b.close()
}

// safely turns a panic inside the Parquet library on a corrupt file into an
// error: bad input never crashes a command.
func safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt or unsupported Parquet input: %v\n%s", r, debug.Stack())
		}
	}()
	return fn()
}
