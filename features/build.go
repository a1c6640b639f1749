package features

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/engagehq/engage/datasets"
)

// decisionSource hands the batch driver each account's decisions, in account
// order.
type decisionSource interface {
	// peek returns the account of the next unread decision; ok is false at the end.
	peek() (id string, ok bool, err error)
	// take returns (and consumes) the decisions of account id, which must be the
	// peeked one or one without decisions (nil).
	take(id string) ([]datasets.Decision, error)
}

// builder is the merge of the event stream with the decisions and accounts,
// shared by the file and the in-memory drivers: one place checks the input
// order and names offending rows.
type builder struct {
	what     string // events source name for errors
	accounts map[string]*Account
	decs     decisionSource // nil in the priors pass
	rep      *replayer
	counter  *PriorCounter // priors pass only
	emit     func(a *Account, rows []pendingRow) error

	cur    []byte
	acct   *Account
	lastAt int64
	events int64
}

// account switches to account id (the events' next account).
func (b *builder) account(row int64, id []byte) error {
	if b.acct != nil {
		if bytes.Compare(id, b.cur) < 0 {
			return fmt.Errorf("%s row %d: account_id %q after %q: events must be sorted by (account_id, at)", b.what, row+1, id, b.cur)
		}
		if err := b.endAccount(); err != nil {
			return err
		}
	}
	a := b.accounts[string(id)]
	if a == nil {
		return fmt.Errorf("%s row %d: account_id %q is not in the accounts table", b.what, row+1, id)
	}
	if err := b.flushBefore(string(id)); err != nil {
		return err
	}
	var decs []datasets.Decision
	if b.decs != nil {
		var err error
		if decs, err = b.decs.take(string(id)); err != nil {
			return err
		}
	}
	b.cur = append(b.cur[:0], id...)
	b.acct, b.lastAt = a, math.MinInt64
	b.rep.begin(a, decs)
	return nil
}

// flushBefore emits the accounts that have decisions but no events, up to id.
func (b *builder) flushBefore(id string) error {
	if b.decs == nil {
		return nil
	}
	for {
		next, ok, err := b.decs.peek()
		if err != nil {
			return err
		}
		if !ok || (id != "" && next >= id) {
			return nil
		}
		a := b.accounts[next]
		if a == nil {
			return fmt.Errorf("decisions: account_id %q is not in the accounts table", next)
		}
		decs, err := b.decs.take(next)
		if err != nil {
			return err
		}
		b.rep.begin(a, decs)
		if err := b.emit(a, b.rep.finish()); err != nil {
			return err
		}
	}
}

// add feeds one event of the stream; id is its account.
func (b *builder) add(row int64, id []byte, ev *event, typeName func() string) error {
	if b.acct == nil || !bytes.Equal(id, b.cur) {
		if err := b.account(row, id); err != nil {
			return err
		}
	}
	switch {
	case ev.typ < 0:
		return fmt.Errorf("%s row %d: unknown event type %q", b.what, row+1, typeName())
	case ev.ch == codeUnknown:
		return fmt.Errorf("%s row %d: unknown channel", b.what, row+1)
	case ev.msg == codeUnknown:
		return fmt.Errorf("%s row %d: unknown message variant", b.what, row+1)
	case ev.at < b.lastAt:
		return fmt.Errorf("%s row %d: account %q event at %s is before the previous event at %s: events must be sorted by (account_id, at)",
			b.what, row+1, id, fmtTime(ev.at), fmtTime(b.lastAt))
	}
	b.lastAt = ev.at
	b.events++
	b.rep.event(ev)
	return nil
}

func (b *builder) endAccount() error {
	if b.counter != nil {
		b.counter.Add(&b.rep.st, b.acct)
		return nil
	}
	return b.emit(b.acct, b.rep.finish())
}

// close ends the last account and flushes the remaining decision-only accounts.
func (b *builder) close() error {
	if b.acct != nil {
		if err := b.endAccount(); err != nil {
			return err
		}
		b.acct = nil
	}
	return b.flushBefore("")
}

// memDecisions is a decisionSource over decisions in memory, grouped by account.
type memDecisions struct {
	ids    []string
	groups map[string][]datasets.Decision
	i      int
}

func newMemDecisions(ds []datasets.Decision) *memDecisions {
	m := &memDecisions{groups: map[string][]datasets.Decision{}}
	for _, d := range ds {
		if _, ok := m.groups[d.AccountID]; !ok {
			m.ids = append(m.ids, d.AccountID)
		}
		m.groups[d.AccountID] = append(m.groups[d.AccountID], d)
	}
	sortStrings(m.ids)
	return m
}

func (m *memDecisions) peek() (string, bool, error) {
	if m.i >= len(m.ids) {
		return "", false, nil
	}
	return m.ids[m.i], true, nil
}

func (m *memDecisions) take(id string) ([]datasets.Decision, error) {
	if m.i < len(m.ids) && m.ids[m.i] == id {
		m.i++
		return m.groups[id], nil
	}
	return nil, nil
}

// fileDecisions streams decisions.parquet, which must be sorted (grouped) by
// account_id in the same order as the events, as the synthetic world and the
// store's export write it.
type fileDecisions struct {
	path   string
	r      *datasets.Reader[datasets.Decision]
	buf    []datasets.Decision
	pos, n int
	row    int64
	eof    bool
	prev   string
	group  []datasets.Decision
}

func openDecisions(path string) (*fileDecisions, error) {
	r, err := datasets.Open[datasets.Decision](path)
	if err != nil {
		return nil, err
	}
	return &fileDecisions{path: path, r: r, buf: make([]datasets.Decision, 4096)}, nil
}

func (f *fileDecisions) fill() error {
	if f.pos < f.n || f.eof {
		return nil
	}
	n, err := f.r.Next(f.buf)
	f.pos, f.n = 0, n
	if errors.Is(err, io.EOF) {
		f.eof = true
		err = nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", f.path, err)
	}
	if n == 0 {
		f.eof = true
	}
	return nil
}

func (f *fileDecisions) peek() (string, bool, error) {
	if err := f.fill(); err != nil {
		return "", false, err
	}
	if f.pos >= f.n {
		return "", false, nil
	}
	return f.buf[f.pos].AccountID, true, nil
}

func (f *fileDecisions) take(id string) ([]datasets.Decision, error) {
	f.group = f.group[:0]
	for {
		next, ok, err := f.peek()
		if err != nil {
			return nil, err
		}
		if !ok || next != id {
			break
		}
		f.group = append(f.group, f.buf[f.pos])
		f.pos++
		f.row++
	}
	if len(f.group) > 0 {
		if id <= f.prev && f.prev != "" {
			return nil, fmt.Errorf("%s row %d: account_id %q after %q: decisions must be sorted by account_id", f.path, f.row, id, f.prev)
		}
		f.prev = id
	}
	return f.group, nil
}

func (f *fileDecisions) Close() error { return f.r.Close() }
