package features

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"unsafe"

	"github.com/parquet-go/parquet-go"

	"github.com/engagehq/engage/datasets"
)

// decisionSource hands the batch driver each account's decisions, in account
// order.
type decisionSource interface {
	// peek returns the account of the next unread decision; ok is false at the end.
	peek() (id string, ok bool, err error)
	// take returns (and consumes) the decisions of account id, which must be the
	// peeked one or one without decisions (nil).
	take(id string) ([]decision, error)
}

// builder is the merge of the event stream with the decisions and accounts,
// shared by the file and the in-memory drivers: one place checks the input
// order and names offending rows.
type builder struct {
	what     string // events source name for errors
	accounts *accountIndex
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
	a := b.accounts.find(unsafe.String(unsafe.SliceData(id), len(id)))
	if a == nil {
		return fmt.Errorf("%s row %d: account_id %q is not in the accounts table", b.what, row+1, id)
	}
	if err := b.flushBefore(a.Row.ID); err != nil {
		return err
	}
	var decs []decision
	if b.decs != nil {
		var err error
		if decs, err = b.decs.take(a.Row.ID); err != nil {
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
		a := b.accounts.find(next)
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

// accountIndex finds the prepared accounts by id. The builder asks for them in
// ascending id order (events and decisions are sorted by account), so a
// cursor over the accounts sorted by id finds each one a few entries further
// on, reading memory in order where a hash map would miss the cache on every
// account; a lookup out of order falls back to binary search.
type accountIndex struct {
	ids   []string // ascending
	accts []*Account
	cur   int // position of the last account found
}

// newAccountIndex indexes accts, which it reorders; of accounts with the same
// id, the last one wins.
func newAccountIndex(accts []*Account) *accountIndex {
	byID := func(x, y *Account) int { return strings.Compare(x.Row.ID, y.Row.ID) }
	if !slices.IsSortedFunc(accts, byID) {
		slices.SortStableFunc(accts, byID)
	}
	x := &accountIndex{ids: make([]string, 0, len(accts)), accts: accts[:0]}
	for _, a := range accts {
		if n := len(x.ids); n > 0 && x.ids[n-1] == a.Row.ID {
			x.accts[n-1] = a
			continue
		}
		x.ids = append(x.ids, a.Row.ID)
		x.accts = append(x.accts, a)
	}
	return x
}

// len is the number of distinct accounts.
func (x *accountIndex) len() int { return len(x.ids) }

// find returns the account id, or nil. id is not retained.
func (x *accountIndex) find(id string) *Account {
	ids := x.ids
	lo := 0
	if x.cur < len(ids) && ids[x.cur] <= id {
		// ascending lookups: the next account is usually a few entries on
		lo = x.cur
		for i := lo; i < len(ids) && i < lo+8; i++ {
			switch c := strings.Compare(ids[i], id); {
			case c == 0:
				x.cur = i
				return x.accts[i]
			case c > 0:
				return nil // between ids[i-1] < id and ids[i]
			}
		}
	}
	i, ok := slices.BinarySearch(ids[lo:], id)
	if !ok {
		return nil
	}
	x.cur = lo + i
	return x.accts[x.cur]
}

// memDecisions is a decisionSource over decisions in memory, grouped by account.
type memDecisions struct {
	ids    []string
	groups map[string][]decision
	i      int
}

func newMemDecisions(ds []datasets.Decision) *memDecisions {
	m := &memDecisions{groups: map[string][]decision{}}
	for i := range ds {
		d := &ds[i]
		if _, ok := m.groups[d.AccountID]; !ok {
			m.ids = append(m.ids, d.AccountID)
		}
		m.groups[d.AccountID] = append(m.groups[d.AccountID], newDecision(d))
	}
	slices.Sort(m.ids)
	return m
}

func (m *memDecisions) peek() (string, bool, error) {
	if m.i >= len(m.ids) {
		return "", false, nil
	}
	return m.ids[m.i], true, nil
}

func (m *memDecisions) take(id string) ([]decision, error) {
	if m.i < len(m.ids) && m.ids[m.i] == id {
		m.i++
		return m.groups[id], nil
	}
	return nil, nil
}

// fileDecisions streams decisions.parquet column by column, like the events;
// it must be grouped by account_id in the events' order, as the synthetic world
// and the store's export write it (an unsorted file is an error naming the row).
type fileDecisions struct {
	path   string
	file   *os.File
	pf     *parquet.File
	rg     int
	rgLeft int64
	cols   [8]*colReader // id, account, at, send_at, channel, local_hour, message, propensity

	n, pos  int
	row0    int64 // file row of batch position 0
	ids     []byte
	idOff   []uint32
	accts   []byte
	acctOff []uint32
	// the batch's ids as one string each: decisions and accounts take
	// substrings of them, one allocation per batch instead of one per row.
	idStr, acctStr string
	at             []int64
	send           []int64
	hour           []int32
	ch, msg        []int8
	prop           []float64

	peekPos int
	peekID  string
	prev    string
	group   []decision
}

func openDecisions(path string) (*fileDecisions, error) {
	f, pf, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	d := &fileDecisions{path: path, file: f, pf: pf, rg: -1, peekPos: -1,
		at: make([]int64, batchRows), send: make([]int64, batchRows), hour: make([]int32, batchRows),
		ch: make([]int8, batchRows), msg: make([]int8, batchRows), prop: make([]float64, batchRows)}
	specs := []struct {
		name string
		need bool
		kind parquet.Kind
	}{
		{"decision_id", true, parquet.ByteArray}, {"account_id", true, parquet.ByteArray}, {"at", true, parquet.Int64},
		{"send_at", false, parquet.Int64}, {"channel", true, parquet.ByteArray}, {"local_hour", false, parquet.Int32},
		{"message", true, parquet.ByteArray}, {"propensity", false, parquet.Double},
	}
	var errs []error
	for i, sp := range specs {
		c, err := openColumn(pf, path, sp.name, sp.need, sp.kind)
		errs = append(errs, err)
		d.cols[i] = c
	}
	if err := errors.Join(errs...); err != nil {
		f.Close()
		return nil, err
	}
	d.cols[4].intern = internChannel
	d.cols[6].intern = internMessage
	return d, nil
}

// fill decodes the next batch when the current one is used up.
func (f *fileDecisions) fill() error {
	if f.pos < f.n {
		return nil
	}
	f.row0 += int64(f.n)
	f.n, f.pos, f.peekPos = 0, 0, -1
	for f.rgLeft == 0 {
		f.rg++
		rgs := f.pf.RowGroups()
		if f.rg >= len(rgs) {
			return nil
		}
		f.rgLeft = rgs[f.rg].NumRows()
		chunks := rgs[f.rg].ColumnChunks()
		for _, c := range f.cols {
			if c != nil {
				c.reset(chunks[c.index].Pages())
			}
		}
	}
	n := int(min(f.rgLeft, batchRows))
	f.ids, f.idOff = f.ids[:0], append(f.idOff[:0], 0)
	f.accts, f.acctOff = f.accts[:0], append(f.acctOff[:0], 0)
	err := safely(func() error {
		c := f.cols
		if err := c[0].readByteArrays(&f.ids, &f.idOff, n); err != nil {
			return err
		}
		if err := c[1].readByteArrays(&f.accts, &f.acctOff, n); err != nil {
			return err
		}
		if err := c[2].readInt64(f.at, n); err != nil {
			return err
		}
		if c[3] == nil {
			clear(f.send[:n])
		} else if err := c[3].readInt64(f.send, n); err != nil {
			return err
		}
		if err := c[4].readCodes(f.ch, n, nil); err != nil {
			return err
		}
		if c[5] == nil {
			clear(f.hour[:n])
		} else if err := c[5].readInt32(f.hour, n); err != nil {
			return err
		}
		if err := c[6].readCodes(f.msg, n, nil); err != nil {
			return err
		}
		if c[7] == nil {
			clear(f.prop[:n])
		} else if err := c[7].readDouble(f.prop, n); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", f.path, err)
	}
	f.idStr, f.acctStr = string(f.ids), string(f.accts)
	f.rgLeft -= int64(n)
	f.n = n
	return nil
}

func (f *fileDecisions) account(i int) string { return f.acctStr[f.acctOff[i]:f.acctOff[i+1]] }

func (f *fileDecisions) peek() (string, bool, error) {
	if err := f.fill(); err != nil {
		return "", false, err
	}
	if f.pos >= f.n {
		return "", false, nil
	}
	if f.peekPos != f.pos {
		f.peekID = f.account(f.pos)
		f.peekPos = f.pos
	}
	return f.peekID, true, nil
}

func (f *fileDecisions) take(id string) ([]decision, error) {
	f.group = f.group[:0]
	for {
		if f.pos >= f.n { // next batch
			next, ok, err := f.peek()
			if err != nil {
				return nil, err
			}
			if !ok || next != id {
				break
			}
		} else if f.account(f.pos) != id {
			break
		}
		i := f.pos
		row := f.row0 + int64(i) + 1
		ch, msg := f.ch[i], f.msg[i]
		if ch < 0 {
			return nil, fmt.Errorf("%s row %d: missing or unknown channel", f.path, row)
		}
		if msg == codeUnknown {
			return nil, fmt.Errorf("%s row %d: unknown message variant", f.path, row)
		}
		d := decision{Decision: datasets.Decision{
			DecisionID: f.idStr[f.idOff[i]:f.idOff[i+1]],
			AccountID:  id,
			At:         f.at[i],
			SendAt:     f.send[i],
			Channel:    datasets.Channels[ch],
			LocalHour:  f.hour[i],
			Propensity: f.prop[i],
		}, ch: ch, msg: max(msg, -1)}
		if msg >= 0 {
			d.Message = datasets.Messages[msg]
		}
		f.group = append(f.group, d)
		f.pos++
	}
	if len(f.group) > 0 {
		if f.prev != "" && id <= f.prev {
			return nil, fmt.Errorf("%s row %d: account_id %q after %q: decisions must be sorted by account_id",
				f.path, f.row0+int64(f.pos), id, f.prev)
		}
		f.prev = id
	}
	return f.group, nil
}

// Close releases the file.
func (f *fileDecisions) Close() error {
	for _, c := range f.cols {
		if c != nil {
			c.close()
		}
	}
	return f.file.Close()
}
