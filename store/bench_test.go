package store

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/engagehq/engage/cputime"
	"github.com/engagehq/engage/datasets"
)

// benchStore opens an on-disk store with server defaults (64 MiB memtables).
func benchStore(b *testing.B, sync bool) *DB {
	o := DefaultOptions()
	o.SyncWrites = sync
	db, err := Open(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// benchBatches makes batches of size events over nAcct accounts, each event on a
// random account, times increasing.
func benchBatches(rng *rand.Rand, as []datasets.Account, size, n int) [][]datasets.Event {
	out := make([][]datasets.Event, n)
	at := int64(1_700_000_000_000_000)
	for i := range out {
		bt := make([]datasets.Event, size)
		for j := range bt {
			at += 1000
			bt[j] = datasets.Event{
				EventID: fmt.Sprintf("b%d-%d", i, j), AccountID: as[rng.IntN(len(as))].ID, Type: datasets.EventDelivered,
				At: at, Channel: datasets.ChannelEmail, Message: datasets.MessageEmpathetic, DecisionID: fmt.Sprintf("dec-%d-%d", i, j),
			}
		}
		out[i] = bt
	}
	return out
}

func benchAppend(b *testing.B, sync bool, size int) {
	db := benchStore(b, sync)
	as := accounts("acc", 10_000)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	batches := benchBatches(rng, as, size, 64)
	b.ReportAllocs()
	i, parts := 0, 0
	start, cpu0 := time.Now(), cputime.Process()
	for b.Loop() {
		bt := batches[i%len(batches)]
		if i >= len(batches) { // fresh ids: measure appends, not replays
			bt = append([]datasets.Event(nil), bt...)
			for j := range bt {
				bt[j].EventID = fmt.Sprintf("r%d-%d", i, j)
			}
		}
		res, err := db.AppendEvents("t1", bt, testApply)
		if err != nil || res.Appended != size {
			b.Fatalf("%v appended %d", err, res.Appended)
		}
		parts += res.Parts
		i++
	}
	b.ReportMetric(float64(i*size)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(i*size)/(cputime.Process()-cpu0).Seconds(), "events/cpu-s")
	b.ReportMetric(float64(parts)/float64(i), "txns/batch")
}

// BenchmarkAppendEvents ingests batches on disk, with the counter feature and
// status hooks: SyncWrites on (the server default) and off (to see the fsync cost).
func BenchmarkAppendEvents(b *testing.B) {
	for _, size := range []int{1000, 10_000} {
		for _, sync := range []bool{true, false} {
			b.Run(fmt.Sprintf("batch=%d/sync=%v", size, sync), func(b *testing.B) { benchAppend(b, sync, size) })
		}
	}
}

// BenchmarkFeatureStateGet reads the feature state of random accounts.
func BenchmarkFeatureStateGet(b *testing.B) {
	db := benchStore(b, true)
	as := accounts("acc", 10_000)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bt := range benchBatches(rng, as, 10_000, 5) {
		if _, err := db.AppendEvents("t1", bt, testApply); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	n := 0
	start, cpu0 := time.Now(), cputime.Process()
	for b.Loop() {
		_, err := db.FeatureState("t1", as[rng.IntN(len(as))].ID)
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "reads/s")
	b.ReportMetric(float64(n)/(cputime.Process()-cpu0).Seconds(), "reads/cpu-s")
}

// BenchmarkEventsTimeline reads one random account's whole log (about 50 events),
// what the compliance ledger check does per decision.
func BenchmarkEventsTimeline(b *testing.B) {
	db := benchStore(b, true)
	as := accounts("acc", 1000)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, bt := range benchBatches(rng, as, 10_000, 5) {
		if _, err := db.AppendEvents("t1", bt, testApply); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Events("t1", as[rng.IntN(len(as))].ID, minT, maxT); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutDecision stores one decision audit record per call, synced.
func BenchmarkPutDecision(b *testing.B) {
	db := benchStore(b, true)
	payload := []byte(`{"decision_id":"x","account_id":"acc0001","action":{"channel":"sms","send_at":"2026-01-01T15:00:00Z","local_hour":10,"message":"empathetic"},"scores":{"email":0.12,"sms":0.31,"call":0.08},"propensity":0.87,"model_version":"gbdt-20260101-1","rules":["US-MA:call-cap-2-per-7d","US:quiet-hours"]}`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := db.PutDecision("t1", DecisionRecord{ID: fmt.Sprint("d", i), AccountID: fmt.Sprintf("acc%04d", i%10_000), At: int64(i), Payload: payload}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAuthenticate checks a valid token, as every request does.
func BenchmarkAuthenticate(b *testing.B) {
	db := benchStore(b, true)
	tok, _, err := db.CreateKey("t1", []string{ScopeEvents})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Authenticate(tok); err != nil {
			b.Fatal(err)
		}
	}
}
