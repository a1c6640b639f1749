package features

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

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
	accts, err := loadAccounts(path)
	if err != nil {
		return nil, err
	}
	m := make(map[string]*Account, accts.len())
	for _, a := range accts.accts {
		m[a.Row.ID] = a
	}
	return m, nil
}

// loadAccounts reads accounts.parquet into an index, rejecting duplicate ids.
// One goroutine decodes rows while the calling one prepares them (zone,
// segment, flags), so loading uses both cores.
func loadAccounts(path string) (*accountIndex, error) {
	r, err := datasets.Open[datasets.Account](path)
	if err != nil {
		return nil, err
	}
	accts := make([]*Account, 0, r.NumRows())
	type chunk struct {
		rows []datasets.Account
		err  error
	}
	chunks := make(chan chunk, 2)
	stop := make(chan struct{})
	defer func() {
		close(stop)
		for range chunks { // the decoder has stopped when chunks closes
		}
		r.Close()
	}()
	go func() {
		defer close(chunks)
		for {
			buf := make([]datasets.Account, 4096)
			n, err := r.Next(buf)
			if errors.Is(err, io.EOF) || (err == nil && n == 0) {
				err = io.EOF
			}
			select {
			case chunks <- chunk{buf[:n], err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var row int64
	for c := range chunks {
		for i := range c.rows {
			row++
			a, perr := NewAccount(&c.rows[i])
			if perr != nil {
				return nil, fmt.Errorf("%s row %d: %w", path, row, perr)
			}
			accts = append(accts, a)
		}
		if c.err == io.EOF {
			break
		}
		if c.err != nil {
			return nil, fmt.Errorf("read %s: %w", path, c.err)
		}
	}
	if row := duplicateRow(accts); row > 0 {
		return nil, fmt.Errorf("%s row %d: duplicate account_id %q", path, row, accts[row-1].Row.ID)
	}
	return newAccountIndex(accts), nil
}

// duplicateRow returns the (1-based) row of the first account, in file order,
// whose id an earlier row already has; 0 when the ids are unique.
func duplicateRow(accts []*Account) int {
	byID := func(x, y *Account) int { return strings.Compare(x.Row.ID, y.Row.ID) }
	if slices.IsSortedFunc(accts, byID) { // the usual layout: one pass
		for i := 1; i < len(accts); i++ {
			if accts[i].Row.ID == accts[i-1].Row.ID {
				return i + 1
			}
		}
		return 0
	}
	idx := make([]int, len(accts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return byID(accts[x], accts[y]) })
	first := 0
	for k := 1; k < len(idx); k++ {
		if i := idx[k]; accts[i].Row.ID == accts[idx[k-1]].Row.ID && (first == 0 || i+1 < first) {
			first = i + 1
		}
	}
	return first
}

// Build is the batch (point-in-time) driver: it turns the event history into the
// logged-decisions table at out, one row per decision with the features as of an
// instant strictly before it, the action, its propensity and its outcomes. It
// streams the events (sorted by account_id, at) in columnar batches; memory is
// bounded by one account's state and decisions. The output is written to a temp
// file renamed at the end: an error or a cancelled ctx leaves nothing at out.
func Build(ctx context.Context, in Inputs, out string, o Options) (sum Summary, err error) {
	accounts, err := loadAccounts(in.Accounts)
	if err != nil {
		return sum, err
	}
	sum.Accounts = accounts.len()
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
		c, err := countPriors(ctx, in.Events, accounts, sum.End, progress)
		if err != nil {
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

// countPriors is the priors pass: it folds every account's events and counts
// the final states. The accounts are independent, so the file is cut in two
// halves of row groups, each folded by its own decoder and builder (four
// goroutines on the machine's cores), and the counts are merged; the account
// cut by the boundary is folded whole by the first half.
func countPriors(ctx context.Context, path string, accounts *accountIndex, end int64, progress func(int64)) (*PriorCounter, error) {
	src, err := openEvents(path)
	if err != nil {
		return nil, err
	}
	rgs := src.pf.RowGroups()
	src.Close()
	// the boundary: the row group starting nearest the middle row
	cut, best := 0, int64(math.MaxInt64)
	var rows int64
	for i, g := range rgs {
		if d := abs(2*rows - src.numRows); i > 0 && d < best {
			cut, best = i, d
		}
		rows += g.NumRows()
	}
	if cut == 0 {
		c := NewPriorCounter()
		b := &builder{what: path, accounts: accounts, rep: newReplayer(UniformPriors(), end), counter: c}
		return c, streamEvents(ctx, path, b, progress)
	}
	var mu sync.Mutex
	shared := func(n int64) {
		mu.Lock()
		progress(n)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	halves := [2]span{{to: cut}, {from: cut, to: len(rgs)}}
	var counts [2]*PriorCounter
	var errs [2]error
	var wg sync.WaitGroup
	for h := range halves {
		idx := *accounts // its own cursor over the shared accounts
		counts[h] = NewPriorCounter()
		b := &builder{what: path, accounts: &idx, rep: newReplayer(UniformPriors(), end), counter: counts[h]}
		wg.Go(func() {
			if errs[h] = streamSpan(ctx, path, halves[h], b, shared); errs[h] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	for _, err := range errs { // the first half's error names the earlier row
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	counts[0].merge(counts[1])
	return counts[0], nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// span is part of the events file for one builder: row groups [from, to).
// The account at the start of a span that does not start the file is the
// previous span's (skipped: that span reads on to finish it), so a span that
// does not end the file reads past row group to-1 until its first account
// there ends.
type span struct{ from, to int }

// streamEvents decodes the events file in one goroutine and feeds the builder
// in the calling one, so decoding and the state updates use both cores.
func streamEvents(ctx context.Context, path string, b *builder, progress func(int64)) error {
	return streamSpan(ctx, path, span{to: math.MaxInt}, b, progress)
}

// streamSpan is streamEvents over a span of the file.
func streamSpan(ctx context.Context, path string, sp span, b *builder, progress func(int64)) (err error) {
	src, err := openEvents(path)
	if err != nil {
		return err
	}
	defer src.Close()
	src.seek(sp.from)
	skip := sp.from > 0 // skipping the first account's events
	var first []byte    // ... which is this one
	stopAt := int64(-1) // first row past the span, when it does not end the file
	if n := len(src.pf.RowGroups()); sp.to < n {
		stopAt = 0
		for _, g := range src.pf.RowGroups()[:sp.to] {
			stopAt += g.NumRows()
		}
	}
	var last []byte // with stopAt: the account being finished past the span
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
	finished, stopped := false, false
	defer func() {
		if !finished {
			if !stopped {
				close(stop)
			}
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
		if stopped {
			continue // drain
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		i := 0
		for ; skip && i < bt.n; i++ {
			id := bt.account(i)
			if first == nil {
				first = append([]byte{}, id...)
			}
			if !bytes.Equal(id, first) {
				if bytes.Compare(id, first) < 0 {
					return fmt.Errorf("%s row %d: account_id %q after %q: events must be sorted by (account_id, at)", b.what, bt.row0+int64(i)+1, id, first)
				}
				skip = false
				break
			}
		}
		done := i
		for ; i < bt.n; i++ {
			row := bt.row0 + int64(i)
			if stopAt >= 0 && row >= stopAt {
				id := bt.account(i)
				if last == nil {
					last = append([]byte{}, id...)
				} else if !bytes.Equal(id, last) {
					break
				}
			}
			ev = event{at: bt.at[i], amount: bt.amount[i], typ: bt.typ[i], ch: bt.ch[i], msg: bt.msg[i]}
			if err := b.add(row, bt.account(i), &ev, typeName(bt)); err != nil {
				return err
			}
		}
		progress(int64(i - done))
		if i < bt.n { // the span's last account is finished: stop decoding
			stopped = true
			close(stop)
		}
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
