package features

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/engagehq/engage/datasets"
)

// TestCountPriorsSpans: the priors pass, cut into halves that fold on their
// own, counts exactly what one pass over the whole file counts, wherever the
// row groups cut the accounts (row groups smaller than an account's events
// included).
func TestCountPriorsSpans(t *testing.T) {
	w := smallWorld(t)
	accts := make([]*Account, len(w.accounts))
	for i := range w.accounts {
		a, err := NewAccount(&w.accounts[i])
		if err != nil {
			t.Fatal(err)
		}
		accts[i] = a
	}
	idx := newAccountIndex(accts)
	const end = 1 << 62
	one := NewPriorCounter()
	b := &builder{what: "events", accounts: idx, rep: newReplayer(UniformPriors(), end), counter: one}
	for i := range w.events {
		ev, err := intern(&w.events[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := b.add(int64(i), []byte(w.events[i].AccountID), &ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
	want := priorsJSON(t, one)
	for _, rg := range []int{13, 97, 1000, len(w.events) / 2, len(w.events) + 1} {
		path := filepath.Join(t.TempDir(), "events.parquet")
		if err := datasets.WriteAll(path, w.events, datasets.Options{RowGroupRows: rg, Compression: "snappy"}); err != nil {
			t.Fatal(err)
		}
		var done int64
		c, err := countPriors(context.Background(), path, newAccountIndex(accts), end, func(n int64) { done += n })
		if err != nil {
			t.Fatalf("row groups of %d: %v", rg, err)
		}
		if got := priorsJSON(t, c); got != want {
			t.Errorf("row groups of %d: priors differ from one pass:\n got %.200s\nwant %.200s", rg, got, want)
		}
		if done != int64(len(w.events)) {
			t.Errorf("row groups of %d: progress counted %d events, want %d", rg, done, len(w.events))
		}
	}
}

func priorsJSON(t *testing.T, c *PriorCounter) string {
	t.Helper()
	p, err := c.Priors(DefaultPriorOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCountPriorsUnsortedAtCut: accounts out of order where the halves meet
// are an error, not two folds of one account.
func TestCountPriorsUnsortedAtCut(t *testing.T) {
	accts := []datasets.Account{testAccount("A1", "UTC"), testAccount("A2", "UTC"), testAccount("A3", "UTC")}
	var evs []datasets.Event
	for i, id := range []string{"A1", "A1", "A3", "A3", "A2", "A2"} {
		evs = append(evs, ev("E"+id+string(rune('a'+i)), id, datasets.EventContactSent, "sms", t0+int64(i)*usHour, 0))
	}
	path := filepath.Join(t.TempDir(), "events.parquet")
	if err := datasets.WriteAll(path, evs, datasets.Options{RowGroupRows: 3, Compression: "snappy"}); err != nil {
		t.Fatal(err)
	}
	prepared := make([]*Account, len(accts))
	for i := range accts {
		prepared[i], _ = NewAccount(&accts[i])
	}
	_, err := countPriors(context.Background(), path, newAccountIndex(prepared), t0+usDay, func(int64) {})
	if err == nil || !strings.Contains(err.Error(), "must be sorted") {
		t.Fatalf("error %v, want one about the sort order", err)
	}
}

// TestAccountIndex: lookups in ascending order (the builder's), out of order,
// and of missing ids.
func TestAccountIndex(t *testing.T) {
	var accts []*Account
	for _, id := range []string{"b", "d", "a", "f", "c", "d"} {
		a, err := NewAccount(&datasets.Account{ID: id, TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		accts = append(accts, a)
	}
	last := accts[5]
	x := newAccountIndex(accts)
	if x.len() != 5 {
		t.Fatalf("len %d, want 5", x.len())
	}
	for _, id := range []string{"a", "b", "c", "d", "f", "a", "e", "0", "z", "c", "cc", "d"} {
		got := x.find(id)
		switch {
		case strings.Contains("abcdf", id) && len(id) == 1:
			if got == nil || got.Row.ID != id {
				t.Fatalf("find(%q) = %v", id, got)
			}
		case got != nil:
			t.Fatalf("find(%q) = %q, want nil", id, got.Row.ID)
		}
	}
	if x.find("d") != last {
		t.Error("duplicate id: the last account does not win")
	}
}
