package features

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/engagehq/engage/datasets"
)

// heavyState folds n random events over a year into a state.
func heavyState(t testing.TB, n int, seed uint64) (*State, *Account) {
	acct := testAccount("A1", "Australia/Adelaide")
	a, err := NewAccount(&acct)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	s := NewState()
	for _, e := range randomHistory(rng, "A1", n, t0, 365*usDay) {
		if err := s.Apply(&e, a); err != nil {
			t.Fatal(err)
		}
	}
	return s, a
}

func TestCodecRoundTrip(t *testing.T) {
	p := UniformPriors()
	for _, n := range []int{0, 1, 10, 300, 20000} {
		s, a := heavyState(t, n, uint64(n))
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var d State
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatalf("%d events: %v", n, err)
		}
		b2, _ := d.AppendBinary(nil)
		if !bytes.Equal(b, b2) {
			t.Fatalf("%d events: re-encoding differs", n)
		}
		at := s.Last() + usHour
		want, got := s.Read(at, a, p, nil), d.Read(at, a, p, nil)
		for i := range want {
			if !close9(want[i], got[i]) {
				t.Fatalf("%d events: %s reads %v after decoding, %v before", n, numericNames[i], got[i], want[i])
			}
		}
		if len(b) > 2048 {
			t.Fatalf("%d events: encoded state %d bytes, budget 2048", n, len(b))
		}
		t.Logf("%d events: %d bytes", n, len(b))
	}
}

func TestCodecRejects(t *testing.T) {
	s, _ := heavyState(t, 50, 1)
	b, _ := s.MarshalBinary()
	future := append([]byte{StateVersion + 1}, b[1:]...)
	var d State
	if err := d.UnmarshalBinary(future); !errors.Is(err, ErrStateVersion) {
		t.Fatalf("unknown version: %v, want ErrStateVersion", err)
	}
	for _, bad := range [][]byte{nil, {StateVersion}, b[:len(b)-1], append(append([]byte{}, b...), 0)} {
		if err := d.UnmarshalBinary(bad); err == nil {
			t.Fatalf("decoded %d corrupt bytes without error", len(bad))
		}
	}
}

// TestEncodedSizeWorld: every account of the synthetic world fits the 2 KB budget.
func TestEncodedSizeWorld(t *testing.T) {
	w := smallWorld(t)
	accts := map[string]*Account{}
	for i := range w.accounts {
		a, _ := NewAccount(&w.accounts[i])
		accts[a.Row.ID] = a
	}
	states := map[string]*State{}
	for i := range w.events {
		e := &w.events[i]
		s := states[e.AccountID]
		if s == nil {
			s = NewState()
			states[e.AccountID] = s
		}
		if err := s.Apply(e, accts[e.AccountID]); err != nil {
			t.Fatal(err)
		}
	}
	var sum, mx int
	for _, s := range states {
		b, _ := s.MarshalBinary()
		sum += len(b)
		mx = max(mx, len(b))
	}
	if mx > 2048 {
		t.Fatalf("largest state %d bytes > 2048", mx)
	}
	t.Logf("%d accounts: mean %d bytes, max %d", len(states), sum/max(1, len(states)), mx)
}

func FuzzUnmarshalState(f *testing.F) {
	for _, n := range []int{0, 5, 200} {
		s, _ := heavyState(f, n, 9)
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s State
		if err := s.UnmarshalBinary(b); err != nil {
			return
		}
		// what decodes re-encodes to something that decodes to the same state
		b2, _ := s.MarshalBinary()
		var s2 State
		if err := s2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		b3, _ := s2.MarshalBinary()
		if !bytes.Equal(b2, b3) {
			t.Fatal("encoding not stable")
		}
		acct := testAccount("A1", "UTC")
		a, _ := NewAccount(&acct)
		s.Read(s.Last(), a, UniformPriors(), nil) // must not panic
	})
}

func BenchmarkOnlineApply(b *testing.B) {
	acct := testAccount("A1", "America/New_York")
	a, _ := NewAccount(&acct)
	rng := rand.New(rand.NewPCG(5, 5))
	evs := randomHistory(rng, "A1", 4096, t0, 120*usDay)
	s := NewState()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(evs) {
			i = 0
			s.Reset()
		}
		if err := s.Apply(&evs[i], a); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkOnlineUpdateStored is one ingested event as serving runs it: decode
// the stored state, apply, encode.
func BenchmarkOnlineUpdateStored(b *testing.B) {
	acct := testAccount("A1", "America/New_York")
	a, _ := NewAccount(&acct)
	rng := rand.New(rand.NewPCG(5, 5))
	evs := randomHistory(rng, "A1", 4096, t0, 120*usDay)
	var s State
	s.Reset()
	buf, _ := s.MarshalBinary()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(evs) {
			i = 0
			s.Reset()
			buf, _ = s.AppendBinary(buf[:0])
		}
		if err := s.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
		if err := s.Apply(&evs[i], a); err != nil {
			b.Fatal(err)
		}
		buf, _ = s.AppendBinary(buf[:0])
		i++
	}
	b.ReportMetric(float64(len(buf)), "state-bytes")
}

func BenchmarkRead(b *testing.B) {
	s, a := heavyState(b, 300, 2)
	p := UniformPriors()
	dst := make([]float64, 0, NumNumeric())
	b.ReportAllocs()
	for b.Loop() {
		dst = s.Read(s.Last()+1, a, p, dst[:0])
	}
}

var _ = datasets.EventPayment

// BenchmarkOnlineUpdateWorld is BenchmarkOnlineUpdateStored over the synthetic
// world's real per-account histories (typical states, not adversarial ones).
func BenchmarkOnlineUpdateWorld(b *testing.B) {
	w := smallWorld(b)
	accts := map[string]*Account{}
	for i := range w.accounts {
		a, _ := NewAccount(&w.accounts[i])
		accts[a.Row.ID] = a
	}
	stored := map[string][]byte{}
	var s State
	b.ReportAllocs()
	i, total := 0, 0
	for b.Loop() {
		if i == len(w.events) {
			i = 0
			clear(stored)
		}
		e := &w.events[i]
		buf := stored[e.AccountID]
		if buf == nil {
			s.Reset()
		} else if err := s.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
		if err := s.Apply(e, accts[e.AccountID]); err != nil {
			b.Fatal(err)
		}
		buf, _ = s.AppendBinary(buf[:0])
		stored[e.AccountID] = buf
		total += len(buf)
		i++
	}
	b.ReportMetric(float64(total)/float64(b.N), "state-bytes")
}
