package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/serving/engine"
)

// TestAuditShape: appendAudit was written for the field lists compiled in.
// When this fails, a type of the audit record changed: update appendAudit
// (and TestAuditJSON's cases) and auditShapeWant; until then encodeAuditIn
// falls back to encoding/json.
func TestAuditShape(t *testing.T) {
	if got := auditShape(); got != auditShapeWant {
		t.Errorf("audit record types changed (shape %s, appendAudit written for %s): update appendAudit and auditShapeWant", got, auditShapeWant)
	}
}

// TestAuditJSON: appendAudit writes exactly json.Marshal's bytes, for real
// decisions (a served model over a synthetic world) and for hand-made ones
// with every optional field, odd strings and floats.
func TestAuditJSON(t *testing.T) {
	if !auditFast {
		t.Skip("audit record types changed: see TestAuditShape")
	}
	type keptRec struct {
		b    []byte
		want string
	}
	var kept []keptRec
	defer func() {
		for i, k := range kept {
			if string(k.b) != k.want {
				t.Errorf("record %d of %d changed after later encodings", i, len(kept))
			}
		}
	}()
	check := func(d *engine.Decision, l *datasets.Decision) {
		t.Helper()
		want, werr := json.Marshal(auditRecord{Decision: d, Logged: l})
		got, ok := appendAudit(nil, d, l)
		if werr != nil {
			if ok {
				t.Fatalf("encoding/json refuses (%v), appendAudit did not", werr)
			}
			return
		}
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("appendAudit (ok %v):\n%s\nencoding/json:\n%s", ok, got, want)
		}
		// encodeAuditIn hands out a buffer of the record's own (encoded in a
		// pooled scratch first): head, the payload and '}', none of it
		// shared with a later record's encoding.
		head := []byte(`{"h":1,"audit":`)
		payload, whole, err := encodeAuditIn(d, l, head)
		if err != nil || !bytes.Equal(payload, want) || !bytes.Equal(whole, append(append(append([]byte{}, head...), want...), '}')) {
			t.Fatalf("encodeAuditIn (err %v):\n%s\n%s\nencoding/json:\n%s", err, payload, whole, want)
		}
		kept = append(kept, keptRec{whole, string(whole)})
	}

	e := newEnv(t, "", DefaultOptions())
	accts := world(200, "J")
	if _, err := e.srv.Refer("t1", accts); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Ingest("t1", history(accts)); err != nil {
		t.Fatal(err)
	}
	m := e.srv.scorer.Load()
	for _, now := range []time.Time{t0, t0.Add(3*24*time.Hour + 7*time.Hour)} {
		for i := range accts {
			v, err := e.srv.view("t1", accts[i].ID, now)
			if err != nil {
				t.Fatal(err)
			}
			acct := *v.acct
			in := &engine.Input{Tenant: "t1", DecisionID: e.srv.newDecisionID("t1", accts[i].ID, now), Now: now, Account: &acct, State: v.state, Subject: v.sub}
			d, err := e.srv.eng.Decide(context.Background(), in, m.scorer, m.err)
			if err != nil {
				t.Fatal(err)
			}
			var l *datasets.Decision
			if row, ok := d.Logged("t1"); ok {
				l = &row
			}
			check(d, l)
		}
	}

	p, ev, tiny, huge := 0.123456789, -1e-9, 5e-7, 1e22
	at := time.Date(2026, 3, 4, 5, 6, 7, 891, time.FixedZone("X", 3600))
	odd := "a\"b\\c<d>e&f\n\r\t\b\f\x01\x1f é \u2028 \u2029 \xff end"
	full := &engine.Decision{
		DecisionID: "dc_1", AccountID: odd, DecidedAt: at, Outcome: "contact",
		Action:     &engine.Action{Channel: "sms", Message: "firm", SendAt: at, SendAtLocal: "x", LocalHour: 9, P: &p, ExpectedValue: &ev, MovedByFirewall: true},
		RunnersUp:  []engine.Action{{Channel: "email", P: &tiny}, {Channel: odd, ExpectedValue: &huge}},
		Propensity: 0.5, Policy: "model", Explored: true, Holdout: true, Fallback: odd, ModelVersion: "v1", Target: "pay",
		WaitUntil: &at, TimeZone: "Europe/Paris",
		Compliance: engine.Compliance{
			Jurisdictions: []string{"US", "US-CA"}, Zones: []string{},
			Channels: []engine.ChannelVerdict{{Channel: "call", EarliestAllowed: &at, Reasons: []compliance.Reason{{Rule: "r", Text: odd, Jurisdiction: "US", Source: "s", Status: "law"}}}, {Channel: "sms", AllowedNow: true}},
			Notices:  []compliance.Notice{{ID: "n1", Text: odd}},
			Warnings: []string{odd},
		},
		Reasons:    []string{odd, ""},
		Features:   engine.FeatureInfo{AsOf: &at, AgeSeconds: 12.5, Stale: true, Hash: "abc"},
		Candidates: 42,
	}
	check(full, &datasets.Decision{Tenant: "t", DecisionID: "dc_1", AccountID: odd, At: -5, SendAt: 1 << 60, Channel: "sms", LocalHour: 23, Message: "m", Propensity: 1e-7, Policy: "p", Holdout: true, Model: "v"})
	check(&engine.Decision{}, nil)
	check(&engine.Decision{Propensity: math.NaN()}, nil)
	check(&engine.Decision{DecidedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, nil)
	for _, f := range []float64{0, -0.0, 1, -1, 1e20, 1e21, 123456789012345678, 1e-6, 9.99e-7, -2.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		check(&engine.Decision{Propensity: f, Features: engine.FeatureInfo{AgeSeconds: -f}}, nil)
	}
}

// FuzzAuditString: strings encode as encoding/json encodes them.
func FuzzAuditString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\x00\x7f\u2028", "\xff\xfe", "é😀", strings.Repeat("a <&> é\u2028 \xff\n", 8)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		for range 3 { // the second sighting caches a long string, the third hits
			e := jsonw{ok: true}
			e.str(s)
			if !bytes.Equal(e.b, want) {
				t.Fatalf("%q: got %s, want %s", s, e.b, want)
			}
		}
	})
}

// TestAuditStringCacheCollision: two long strings that share a slot of the
// quoted-string cache, written in turns, each encode as themselves.
func TestAuditStringCacheCollision(t *testing.T) {
	a := "a long reason text that repeats, with characters JSON escapes: <&> \u2028 \n"
	slot := func(s string) uint64 { return maphash.String(strSeed, s) % strCacheSize }
	b := ""
	for i := 0; b == ""; i++ {
		if c := fmt.Sprintf("another long reason text, long enough to be cached by the encoder: number %d", i); slot(c) == slot(a) {
			b = c
		}
	}
	if len(a) < minCachedStr || len(b) < minCachedStr {
		t.Fatalf("strings of %d and %d bytes are not cached (from %d)", len(a), len(b), minCachedStr)
	}
	for i := range 12 {
		s := a
		if i%3 == 2 {
			s = b
		}
		want, _ := json.Marshal(s)
		e := jsonw{ok: true}
		e.str(s)
		if !bytes.Equal(e.b, want) {
			t.Fatalf("round %d %q: got %s, want %s", i, s, e.b, want)
		}
	}
}

// BenchmarkAuditJSON: one real decision's audit record by appendAudit and by
// encoding/json.
func BenchmarkAuditJSON(b *testing.B) {
	s, ids := benchServer(b, 10, false)
	m := s.scorer.Load()
	v, err := s.view("bench", ids[0], t0)
	if err != nil {
		b.Fatal(err)
	}
	acct := *v.acct
	d, err := s.eng.Decide(context.Background(), &engine.Input{Tenant: "bench", DecisionID: "dc_x", Now: t0, Account: &acct, State: v.state, Subject: v.sub}, m.scorer, m.err)
	if err != nil {
		b.Fatal(err)
	}
	row, _ := d.Logged("bench")
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := encodeAuditIn(d, &row, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(auditRecord{Decision: d, Logged: &row}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzAuditTime: jsonw.time writes time.Time's MarshalJSON bytes, on the
// UTC whole-second fast path and off it (other zones, fractions, years
// outside 0-9999 refused).
func FuzzAuditTime(f *testing.F) {
	for _, s := range []int64{0, -1, 1, 86399, 86400, 951782400, 951868800, 1773154800, -62167219200,
		-62167219201, 253402300799, 253402300800, -62162035200, 4107542400, -2208988800, 68256000} {
		f.Add(s, int32(0), false)
	}
	f.Add(int64(1773154800), int32(5), false)
	f.Add(int64(1773154800), int32(0), true)
	f.Fuzz(func(t *testing.T, sec int64, nsec int32, zoned bool) {
		tm := time.Unix(sec, int64(uint32(nsec)%1e9)).UTC()
		if zoned {
			tm = tm.In(time.FixedZone("X", -5*3600))
		}
		want, err := tm.MarshalJSON()
		e := jsonw{ok: true}
		e.time(tm)
		if err != nil {
			if e.ok {
				t.Fatalf("%v: MarshalJSON refuses (%v), jsonw.time does not", sec, err)
			}
			return
		}
		if !e.ok || string(e.b) != string(want) {
			t.Fatalf("%d.%d: got %s (ok %v), want %s", sec, nsec, e.b, e.ok, want)
		}
	})
}

// TestAuditTimeSweep: the fast path agrees with AppendFormat on every day
// of four centuries around the leap-year rules and on every year 0-9999.
func TestAuditTimeSweep(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		want, _ := tm.MarshalJSON()
		got, ok := appendUTCSecond(nil, tm)
		if !ok || string(got) != string(want) {
			t.Fatalf("%v: got %s (ok %v), want %s", tm, got, ok, want)
		}
	}
	for d := time.Date(1800, 1, 1, 23, 59, 59, 0, time.UTC); d.Year() < 2200; d = d.AddDate(0, 0, 1) {
		check(d)
	}
	for y := 0; y <= 9999; y++ {
		check(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC))
		check(time.Date(y, 2, 28, 12, 30, 7, 0, time.UTC))
		check(time.Date(y, 3, 1, 0, 0, 1, 0, time.UTC))
		check(time.Date(y, 12, 31, 23, 59, 59, 0, time.UTC))
	}
}
