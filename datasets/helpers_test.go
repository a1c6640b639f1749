package datasets

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/engagehq/engage/repo"
)

// sharedDir returns ../shared beside the module root, or skips the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	shared, err := repo.Shared(dir)
	if err != nil {
		t.Skipf("shared data sets not found (the project's ../shared): %v; skipping", err)
	}
	if _, err := os.Stat(filepath.Join(shared, "datasets")); err != nil {
		t.Skipf("shared data sets not found at %s (the project's ../shared); skipping", shared)
	}
	return shared
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

var t2020 = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

// randText makes awkward but CSV-safe strings: quotes, commas, unicode, newlines
// (no \r: CSV readers normalise \r\n inside quoted fields).
func randText(r *rand.Rand) string {
	alphabet := []rune("abcXYZ019 ,;\"'\n\tä漢🙂-_.")
	n := r.IntN(12)
	b := make([]rune, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func randTime(r *rand.Rand) int64 { return t2020 + r.Int64N(5*365*86400e6) }

func randAccount(r *rand.Rand, i int) Account {
	return Account{
		Tenant: pick(r, []string{"", "acme", "t2"}), ID: "a" + strconv.Itoa(i), ReferredAt: randTime(r),
		Balance: r.Int64N(1e7), Currency: pick(r, []string{"USD", "GBP", "CAD", "AUD"}), Product: pick(r, Products),
		DaysPastDue: int32(r.IntN(400)), Jurisdiction: pick(r, []string{"US", "US-MA", "CA-ON", "AU-NSW", "GB", "NZ"}),
		TimeZone: pick(r, []string{"America/New_York", "Europe/London", "Australia/Sydney", "UTC"}),
		AgeBand:  pick(r, AgeBands), Language: pick(r, []string{"en", "fr-CA", ""}),
		ConsentEmail: r.IntN(2) == 0, ConsentSMS: r.IntN(2) == 0, ConsentCall: r.IntN(2) == 0,
		ConsentPush: r.IntN(2) == 0, ConsentLetter: r.IntN(2) == 0,
		Flags: pick(r, []string{"", "dispute", "hardship,attorney"}),
	}
}

func randEvent(r *rand.Rand, i int) Event {
	e := Event{
		Tenant: pick(r, []string{"", "acme"}), EventID: "e" + strconv.Itoa(i), AccountID: "a" + strconv.Itoa(r.IntN(1000)),
		Type: pick(r, EventTypes), At: randTime(r), Channel: pick(r, ContactChannels), Message: pick(r, Messages),
		DecisionID: "d" + strconv.Itoa(r.IntN(1000)),
	}
	if e.Type == EventPayment || e.Type == EventPromiseToPay {
		e.Amount, e.Currency = 1+r.Int64N(1e6), "USD"
	}
	return e
}

func randDecision(r *rand.Rand, i int) Decision {
	at := randTime(r)
	return Decision{
		Tenant: "acme", DecisionID: "d" + strconv.Itoa(i), AccountID: "a" + strconv.Itoa(r.IntN(1000)),
		At: at, SendAt: at + r.Int64N(86400e6), Channel: pick(r, ContactChannels), LocalHour: int32(r.IntN(24)),
		Message: pick(r, Messages), Propensity: r.Float64(), Policy: pick(r, Policies), Holdout: r.IntN(10) == 0,
		Model: pick(r, []string{"", "m-2025-01"}),
	}
}

func randTruth(r *rand.Rand, i int) Truth {
	return Truth{
		AccountID: "a" + strconv.Itoa(i), BestChannel: pick(r, ContactChannels), PeakHour: int32(r.IntN(24)),
		PeakHourWeekend: int32(r.IntN(24)), ActiveType: pick(r, ActiveTypes), BestMessage: pick(r, Messages),
		AffinityEmail: r.Float64(), AffinitySMS: r.Float64(), AffinityCall: r.Float64(), AffinityPush: r.Float64(),
		AffinityLetter: r.Float64(), PayPropensity: r.Float64() / 10, ComplaintRisk: r.Float64() / 100, Payday: int32(1 + r.IntN(28)),
	}
}

// randRows makes n valid random rows of table T.
func randRows[T Row](seed uint64, n int) []T {
	r := newRand(seed)
	out := make([]T, n)
	for i := range out {
		switch p := any(&out[i]).(type) {
		case *Account:
			*p = randAccount(r, i)
		case *Event:
			*p = randEvent(r, i)
		case *Decision:
			*p = randDecision(r, i)
		case *Truth:
			*p = randTruth(r, i)
		}
	}
	return out
}

// weird overwrites string fields with awkward text, to stress CSV quoting.
func weirdEvents(r *rand.Rand, es []Event) {
	for i := range es {
		es[i].Tenant = randText(r)
		es[i].DecisionID = randText(r)
	}
}
