package store

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/engagehq/engage/datasets"
)

// openMem opens an in-memory store closed at the end of the test.
func openMem(t testing.TB) *DB {
	t.Helper()
	o := DefaultOptions()
	o.InMemory = true
	o.MemTableSize = 16 << 20
	o.BlockCacheSize = 8 << 20
	db, err := Open("", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openDir opens an on-disk store in dir; the caller closes it.
func openDir(t testing.TB, dir string, mut func(*Options)) *DB {
	t.Helper()
	o := DefaultOptions()
	o.MemTableSize = 16 << 20
	o.BlockCacheSize = 8 << 20
	if mut != nil {
		mut(&o)
	}
	db, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// counter is the feature state the tests fold events into: a count and an
// amount sum, which double counting would visibly break.
type counter struct {
	N   int   `json:"n"`
	Sum int64 `json:"sum"`
}

func countFeatures(_ string, old []byte, evs []datasets.Event) ([]byte, error) {
	var c counter
	if old != nil {
		if err := json.Unmarshal(old, &c); err != nil {
			return nil, err
		}
	}
	for _, e := range evs {
		c.N++
		c.Sum += e.Amount
	}
	return json.Marshal(c)
}

// paidStatus turns an account "paid" on its first payment, "active" otherwise.
func paidStatus(_ string, prev string, _ []byte, evs []datasets.Event) (string, error) {
	if prev == "paid" {
		return prev, nil
	}
	for _, e := range evs {
		if e.Type == datasets.EventPayment {
			return "paid", nil
		}
	}
	return "active", nil
}

var testApply = Apply{Features: countFeatures, Status: paidStatus}

func decodeCounter(t testing.TB, b []byte) counter {
	t.Helper()
	var c counter
	if b == nil {
		return c
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func accounts(prefix string, n int) []datasets.Account {
	out := make([]datasets.Account, n)
	for i := range out {
		out[i] = datasets.Account{
			ID: fmt.Sprintf("%s%04d", prefix, i), ReferredAt: 1_700_000_000_000_000, Balance: int64(1000 * (i + 1)),
			Currency: "USD", Product: "bnpl", DaysPastDue: 30, Jurisdiction: "US-MA", TimeZone: "America/New_York",
			AgeBand: "25-34", Language: "en", ConsentEmail: true,
		}
	}
	return out
}

// events makes n events spread over the given accounts, ids prefix+i; every 7th
// is a payment.
func events(prefix string, accts []datasets.Account, n int) []datasets.Event {
	out := make([]datasets.Event, n)
	for i := range out {
		e := datasets.Event{
			EventID: fmt.Sprintf("%s%06d", prefix, i), AccountID: accts[i%len(accts)].ID,
			Type: datasets.EventContactSent, At: 1_700_000_000_000_000 + int64(n-i)*1_000_000, Channel: datasets.ChannelEmail,
			Message: datasets.MessageFriendly,
		}
		if i%7 == 6 {
			e.Type, e.Amount, e.Currency, e.Channel, e.Message = datasets.EventPayment, int64(i), "USD", "", ""
		}
		out[i] = e
	}
	return out
}

const (
	minT = math.MinInt64
	maxT = math.MaxInt64
)
