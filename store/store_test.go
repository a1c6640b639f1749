package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/engagehq/engage/datasets"
)

func TestAccounts(t *testing.T) {
	db := openMem(t)
	as := accounts("acc", 5)
	res, err := db.UpsertAccounts("t1", as)
	if err != nil {
		t.Fatal(err)
	}
	if res != (UpsertResult{Created: 5}) {
		t.Fatalf("first upsert: %+v", res)
	}
	if res, err = db.UpsertAccounts("t1", as); err != nil || res != (UpsertResult{Unchanged: 5}) {
		t.Fatalf("replay: %+v %v", res, err)
	}
	as[2].Balance = 42
	as[3].Tenant = "t1" // the tenant field is allowed when it matches, and not part of the content
	if res, err = db.UpsertAccounts("t1", as[2:4]); err != nil || res != (UpsertResult{Updated: 1, Unchanged: 1}) {
		t.Fatalf("update: %+v %v", res, err)
	}
	// Later rows win inside one batch.
	dup := []datasets.Account{as[0], as[0]}
	dup[1].Balance = 7
	if _, err := db.UpsertAccounts("t1", dup); err != nil {
		t.Fatal(err)
	}
	got, err := db.Account("t1", as[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	want := as[2]
	want.Tenant = "t1"
	if got != want {
		t.Fatalf("get: %+v, want %+v", got, want)
	}
	if a, _ := db.Account("t1", as[0].ID); a.Balance != 7 {
		t.Fatalf("later row did not win: %d", a.Balance)
	}
	if _, err := db.Account("t1", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing account: %v", err)
	}
	var ids []string
	for a, err := range db.Accounts("t1") {
		if err != nil {
			t.Fatal(err)
		}
		if a.Tenant != "t1" {
			t.Fatalf("tenant %q", a.Tenant)
		}
		ids = append(ids, a.ID)
	}
	if len(ids) != 5 || !sort.StringsAreSorted(ids) {
		t.Fatalf("iterate: %v", ids)
	}
	for range db.Accounts("t1") {
		break // early stop must not panic or leak
	}
}

func TestAccountsBadInput(t *testing.T) {
	db := openMem(t)
	long := strings.Repeat("x", maxIDLen+1)
	for _, tc := range []struct {
		name  string
		mut   func([]datasets.Account)
		row   int
		field string
	}{
		{"empty id", func(a []datasets.Account) { a[1].ID = "" }, 1, "id"},
		{"long id", func(a []datasets.Account) { a[2].ID = long }, 2, "id"},
		{"bad utf8", func(a []datasets.Account) { a[0].ID = "\xff" }, 0, "id"},
		{"other tenant", func(a []datasets.Account) { a[2].Tenant = "t2" }, 2, "tenant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := accounts(tc.name, 3)
			tc.mut(as)
			_, err := db.UpsertAccounts("t1", as)
			var re *RowError
			if !errors.As(err, &re) || re.Row != tc.row || re.Field != tc.field || re.Kind != "account" {
				t.Fatalf("err %v, want row %d field %s", err, tc.row, tc.field)
			}
			for a, err := range db.Accounts("t1") {
				t.Fatalf("stored %v %v after refused batch", a.ID, err)
			}
		})
	}
	if _, err := db.UpsertAccounts("", accounts("x", 1)); err == nil {
		t.Fatal("empty tenant accepted")
	}
}

func TestAppendEvents(t *testing.T) {
	db := openMem(t)
	as := accounts("acc", 4)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		t.Fatal(err)
	}
	evs := events("ev", as, 40)
	res, err := db.AppendEvents("t1", evs, testApply)
	if err != nil {
		t.Fatal(err)
	}
	if res.Appended != 40 || len(res.Duplicates) != 0 || res.Parts != 1 {
		t.Fatalf("result %+v", res)
	}
	// Every account got a payment (rows 6, 13, 20, 27, 34 hit accounts 2,1,0,3,2).
	if len(res.Changes) != 4 {
		t.Fatalf("changes %+v", res.Changes)
	}
	for i, c := range res.Changes {
		if c.Seq != uint64(i+1) || c.To != "paid" || c.From != "" {
			t.Fatalf("change %d: %+v", i, c)
		}
	}
	for _, a := range as {
		got, err := db.Events("t1", a.ID, minT, maxT)
		if err != nil {
			t.Fatal(err)
		}
		var want []datasets.Event
		var sum int64
		for _, e := range evs {
			if e.AccountID == a.ID {
				e.Tenant = "t1"
				want = append(want, e)
				sum += e.Amount
			}
		}
		sort.Slice(want, func(i, j int) bool { return want[i].At < want[j].At })
		if !slices.Equal(got, want) {
			t.Fatalf("timeline of %s:\n got %+v\nwant %+v", a.ID, got, want)
		}
		// A time window: [second, fourth) event.
		win, err := db.Events("t1", a.ID, want[1].At, want[3].At)
		if err != nil || !slices.Equal(win, want[1:3]) {
			t.Fatalf("window: %+v %v", win, err)
		}
		c := decodeCounter(t, must(db.FeatureState("t1", a.ID)))
		if c.N != len(want) || c.Sum != sum {
			t.Fatalf("features of %s: %+v, want n=%d sum=%d", a.ID, c, len(want), sum)
		}
		if s, _ := db.Status("t1", a.ID); s != "paid" {
			t.Fatalf("status %q", s)
		}
	}
	e, err := db.Event("t1", evs[5].EventID)
	evs[5].Tenant = "t1"
	if err != nil || e != evs[5] {
		t.Fatalf("event by id: %+v %v", e, err)
	}
	if _, err := db.Event("t1", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing event: %v", err)
	}
	n := 0
	for _, err := range db.TenantEvents("t1") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 40 {
		t.Fatalf("tenant events %d", n)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// snapshot is everything a tenant has, to compare before and after a replay.
func snapshot(t *testing.T, db *DB, tenant string, as []datasets.Account) string {
	t.Helper()
	var b strings.Builder
	for _, a := range as {
		evs, err := db.Events(tenant, a.ID, minT, maxT)
		if err != nil {
			t.Fatal(err)
		}
		fs, _ := db.FeatureState(tenant, a.ID)
		st, _ := db.Status(tenant, a.ID)
		fmt.Fprintf(&b, "%s %v %s %s\n", a.ID, evs, fs, st)
	}
	ch, next, err := db.Changes(tenant, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ch {
		c.Recorded = 0
		fmt.Fprintf(&b, "%+v\n", c)
	}
	fmt.Fprintf(&b, "next %d\n", next)
	return b.String()
}

func TestAppendIdempotent(t *testing.T) {
	db := openMem(t)
	as := accounts("acc", 3)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		t.Fatal(err)
	}
	evs := events("ev", as, 30)
	if _, err := db.AppendEvents("t1", evs, testApply); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, db, "t1", as)
	res, err := db.AppendEvents("t1", evs, testApply)
	if err != nil {
		t.Fatal(err)
	}
	if res.Appended != 0 || len(res.Duplicates) != 30 || len(res.Changes) != 0 {
		t.Fatalf("replay %+v", res)
	}
	if after := snapshot(t, db, "t1", as); after != before {
		t.Fatalf("replay changed the store:\n%s\n---\n%s", before, after)
	}
	// A batch with a repeat inside it and one stored event: only the new one counts.
	fresh := events("new", as, 2)
	mixed := append(fresh, fresh[0], evs[0])
	res, err = db.AppendEvents("t1", mixed, testApply)
	if err != nil || res.Appended != 2 || len(res.Duplicates) != 2 {
		t.Fatalf("mixed %+v %v", res, err)
	}
	c := decodeCounter(t, must(db.FeatureState("t1", as[0].ID)))
	if c.N != 11 {
		t.Fatalf("account 0 has %d events counted, want 11", c.N)
	}
	// The tenant field matching is not content.
	withTenant := evs[:1:1]
	withTenant[0].Tenant = "t1"
	if res, err := db.AppendEvents("t1", withTenant, testApply); err != nil || len(res.Duplicates) != 1 {
		t.Fatalf("with tenant %+v %v", res, err)
	}
}

func TestAppendBadInput(t *testing.T) {
	long := strings.Repeat("y", maxIDLen+1)
	for _, tc := range []struct {
		name   string
		mut    func([]datasets.Event)
		row    int
		field  string
		reason string
	}{
		{"empty event_id", func(e []datasets.Event) { e[3].EventID = "" }, 3, "event_id", "empty"},
		{"long event_id", func(e []datasets.Event) { e[3].EventID = long }, 3, "event_id", "longer"},
		{"empty account_id", func(e []datasets.Event) { e[4].AccountID = "" }, 4, "account_id", "empty"},
		{"empty type", func(e []datasets.Event) { e[5].Type = "" }, 5, "type", "empty"},
		{"other tenant", func(e []datasets.Event) { e[1].Tenant = "t2" }, 1, "tenant", "t2"},
		{"unknown account", func(e []datasets.Event) { e[8].AccountID = "ghost" }, 8, "account_id", `unknown account "ghost"`},
		{"id reused in batch", func(e []datasets.Event) { e[9].EventID = e[2].EventID }, 9, "event_id", "different content (row 2)"},
		{"id reused from store", func(e []datasets.Event) { e[7].EventID = "stored000000" }, 7, "event_id", "already stored with different content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openMem(t)
			as := accounts("acc", 3)
			if _, err := db.UpsertAccounts("t1", as); err != nil {
				t.Fatal(err)
			}
			stored := events("stored", as, 1)
			if _, err := db.AppendEvents("t1", stored, testApply); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, db, "t1", as)
			evs := events("ev", as, 12)
			tc.mut(evs)
			_, err := db.AppendEvents("t1", evs, testApply)
			var re *RowError
			if !errors.As(err, &re) || re.Kind != "event" || re.Row != tc.row || re.Field != tc.field || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err %v, want row %d field %s reason %q", err, tc.row, tc.field, tc.reason)
			}
			if re.ID != evs[tc.row].EventID {
				t.Fatalf("error names id %q, want %q", re.ID, evs[tc.row].EventID)
			}
			if after := snapshot(t, db, "t1", as); after != before {
				t.Fatalf("refused batch changed the store:\n%s\n---\n%s", before, after)
			}
			if _, err := db.Event("t1", "ev000000"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("event of refused batch stored: %v", err)
			}
		})
	}
}

func TestHookErrorStoresNothing(t *testing.T) {
	db := openMem(t)
	as := accounts("acc", 3)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	ap := Apply{Features: func(acct string, old []byte, evs []datasets.Event) ([]byte, error) {
		if acct == as[2].ID {
			return nil, boom
		}
		return countFeatures(acct, old, evs)
	}}
	if _, err := db.AppendEvents("t1", events("ev", as, 9), ap); !errors.Is(err, boom) || !strings.Contains(err.Error(), as[2].ID) {
		t.Fatalf("err %v", err)
	}
	for _, a := range as {
		if evs, _ := db.Events("t1", a.ID, minT, maxT); len(evs) != 0 {
			t.Fatalf("%s has %d events after a failed batch", a.ID, len(evs))
		}
	}
}

// smallTxn opens a store whose transactions hold only a few thousand writes, so
// that a 10,000-event batch must be split.
func smallTxn(t *testing.T) *DB {
	o := DefaultOptions()
	o.InMemory = true
	o.MemTableSize = 1 << 20
	o.BlockCacheSize = 8 << 20
	db, err := Open("", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestLargeBatchSplits(t *testing.T) {
	db := smallTxn(t)
	as := accounts("acc", 500)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		t.Fatal(err)
	}
	evs := events("ev", as, 10_000)
	res, err := db.AppendEvents("t1", evs, testApply)
	if err != nil {
		t.Fatal(err)
	}
	if res.Parts < 2 || res.Appended != 10_000 {
		t.Fatalf("result parts=%d appended=%d", res.Parts, res.Appended)
	}
	t.Logf("10,000 events in %d transactions", res.Parts)
	for i, c := range res.Changes {
		if c.Seq != uint64(i+1) {
			t.Fatalf("change %d has seq %d", i, c.Seq)
		}
	}
	before := snapshot(t, db, "t1", as)
	for _, a := range as {
		if c := decodeCounter(t, must(db.FeatureState("t1", a.ID))); c.N != 20 {
			t.Fatalf("%s counted %d events, want 20", a.ID, c.N)
		}
	}
	res, err = db.AppendEvents("t1", evs, testApply)
	if err != nil || res.Appended != 0 || len(res.Changes) != 0 {
		t.Fatalf("replay %+v %v", res.Appended, err)
	}
	if snapshot(t, db, "t1", as) != before {
		t.Fatal("replay of a split batch changed the store")
	}
	// A bad row at the very end still refuses the whole (split) batch.
	bad := events("bad", as, 10_000)
	bad[9_999].AccountID = "ghost"
	if _, err := db.AppendEvents("t1", bad, testApply); err == nil {
		t.Fatal("accepted")
	}
	if _, err := db.Event("t1", "bad000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("split batch with a bad last row stored its first row: %v", err)
	}
	// One account with more events than a transaction holds is refused by name.
	one := events("one", as[:1], 20_000)
	if _, err := db.AppendEvents("t1", one, testApply); err == nil || !strings.Contains(err.Error(), as[0].ID) {
		t.Fatalf("oversized account part: %v", err)
	}
}

// TestSplitFailureReplay fails a split batch after some of its parts committed and
// checks that replaying it completes it without counting any event twice.
func TestSplitFailureReplay(t *testing.T) {
	db := smallTxn(t)
	as := accounts("acc", 500)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		t.Fatal(err)
	}
	evs := events("ev", as, 10_000)
	victim := as[len(as)-1].ID // planned in the first transaction, committed in a later one
	calls := 0
	flaky := Apply{Status: paidStatus, Features: func(acct string, old []byte, e []datasets.Event) ([]byte, error) {
		if acct == victim {
			if calls++; calls == 2 {
				return nil, errors.New("disk on fire")
			}
		}
		return countFeatures(acct, old, e)
	}}
	_, err := db.AppendEvents("t1", evs, flaky)
	if err == nil || !strings.Contains(err.Error(), "partly committed") {
		t.Fatalf("err %v", err)
	}
	stored := 0
	for range db.TenantEvents("t1") {
		stored++
	}
	if stored == 0 || stored == len(evs) {
		t.Fatalf("%d events stored; the test wants a partial commit", stored)
	}
	res, err := db.AppendEvents("t1", evs, testApply)
	if err != nil || res.Appended != len(evs)-stored || len(res.Duplicates) != stored {
		t.Fatalf("replay: appended %d dups %d err %v (had %d)", res.Appended, len(res.Duplicates), err, stored)
	}
	for _, a := range as {
		if c := decodeCounter(t, must(db.FeatureState("t1", a.ID))); c.N != 20 {
			t.Fatalf("%s counted %d events, want 20", a.ID, c.N)
		}
	}
	ch, _, _ := db.Changes("t1", 0, 10_000)
	if len(ch) != len(as) {
		t.Fatalf("%d changes, want one per account (%d)", len(ch), len(as))
	}
}

func TestChanges(t *testing.T) {
	db := openMem(t)
	as := accounts("acc", 50)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		t.Fatal(err)
	}
	// Concurrent appends of disjoint batches: the feed must be gap-free and each
	// account's change must appear exactly once.
	var wg sync.WaitGroup
	for w := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := as[w*10 : w*10+10]
			for b := range 4 {
				if _, err := db.AppendEvents("t1", events(fmt.Sprintf("w%db%d-", w, b), sub, 10), testApply); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var all []Change
	cursor := uint64(0)
	for {
		page, next, err := db.Changes("t1", cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			if next != cursor {
				t.Fatalf("empty page moved the cursor %d -> %d", cursor, next)
			}
			break
		}
		if len(page) > 7 || next != page[len(page)-1].Seq {
			t.Fatalf("page of %d, next %d", len(page), next)
		}
		all = append(all, page...)
		cursor = next
	}
	seen := map[string]bool{}
	for i, c := range all {
		if c.Seq != uint64(i+1) {
			t.Fatalf("gap: change %d has seq %d", i, c.Seq)
		}
		key := c.AccountID + "/" + c.To
		if seen[key] {
			t.Fatalf("duplicate change %s", key)
		}
		seen[key] = true
	}
	// Each account went "" -> active (first batch without payment) or "" -> paid,
	// and at most once to paid.
	if len(all) < 50 {
		t.Fatalf("%d changes for 50 accounts", len(all))
	}
	if _, _, err := db.Changes("t1", 0, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
	if page, next, err := db.Changes("t1", ^uint64(0), 5); err != nil || len(page) != 0 || next != ^uint64(0) {
		t.Fatalf("max cursor: %v %d %v", page, next, err)
	}
}

func TestDecisions(t *testing.T) {
	db := openMem(t)
	recs := []DecisionRecord{
		{ID: "d2", AccountID: "a1", At: 200, Payload: []byte(`{"channel": "sms"}`)},
		{ID: "d1", AccountID: "a1", At: 100, Payload: []byte(`{"channel":"email"}`)},
		{ID: "d3", AccountID: "a2", At: 150, Payload: []byte(`{}`)},
	}
	if err := db.PutDecisions("t1", recs); err != nil {
		t.Fatal(err)
	}
	if err := db.PutDecisions("t1", recs); err != nil {
		t.Fatalf("replay: %v", err)
	}
	got, err := db.Decision("t1", "d2")
	if err != nil || got.AccountID != "a1" || got.At != 200 || string(got.Payload) != `{"channel":"sms"}` {
		t.Fatalf("get: %+v %v", got, err)
	}
	list, err := db.Decisions("t1", "a1", minT, maxT)
	if err != nil || len(list) != 2 || list[0].ID != "d1" || list[1].ID != "d2" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if list, _ := db.Decisions("t1", "a1", 101, 201); len(list) != 1 || list[0].ID != "d2" {
		t.Fatalf("window: %+v", list)
	}
	if _, err := db.Decision("t1", "zz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	for _, tc := range []struct {
		name  string
		recs  []DecisionRecord
		row   int
		field string
	}{
		{"changed", []DecisionRecord{{ID: "d9", AccountID: "a1", Payload: []byte(`1`)}, {ID: "d1", AccountID: "a1", At: 100, Payload: []byte(`{"channel":"call"}`)}}, 1, "decision_id"},
		{"empty id", []DecisionRecord{{AccountID: "a1", Payload: []byte(`1`)}}, 0, "decision_id"},
		{"empty account", []DecisionRecord{{ID: "d9", Payload: []byte(`1`)}}, 0, "account_id"},
		{"bad json", []DecisionRecord{{ID: "d9", AccountID: "a1", Payload: []byte(`{`)}}, 0, "payload"},
		{"in-batch reuse", []DecisionRecord{{ID: "d9", AccountID: "a1", Payload: []byte(`1`)}, {ID: "d9", AccountID: "a1", Payload: []byte(`2`)}}, 1, "decision_id"},
	} {
		err := db.PutDecisions("t1", tc.recs)
		var re *RowError
		if !errors.As(err, &re) || re.Row != tc.row || re.Field != tc.field {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if _, err := db.Decision("t1", "d9"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: refused batch stored d9", tc.name)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	db := openMem(t)
	tok, k, err := db.CreateKey("t1", []string{ScopeEvents, ScopeReferrals, ScopeEvents})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(k.Scopes, []string{ScopeEvents, ScopeReferrals}) || k.Tenant != "t1" || !k.Allows(ScopeEvents) || k.Allows(ScopeAdmin) || k.Allows(ScopeReports) {
		t.Fatalf("key %+v", k)
	}
	got, err := db.Authenticate(tok)
	if err != nil || got.ID != k.ID || got.Tenant != "t1" {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	tok2, k2, _ := db.CreateKey("t1", []string{ScopeAdmin})
	if !k2.Allows(ScopeReports) {
		t.Fatal("admin does not allow reports")
	}
	// Wrong secrets and malformed tokens all fail alike.
	flip := []byte(tok)
	flip[len(flip)-1] ^= 1
	for _, bad := range []string{"", "ek_", tok[:len(tok)-1], string(flip), strings.ToUpper(tok), tok + "x", "ek_" + strings.Repeat("z", 16) + tok[19:]} {
		if _, err := db.Authenticate(bad); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("authenticate(%q): %v", bad, err)
		}
	}
	if _, _, err := db.CreateKey("t1", []string{"root"}); err == nil {
		t.Fatal("unknown scope accepted")
	}
	if _, _, err := db.CreateKey("t1", nil); err == nil {
		t.Fatal("no scopes accepted")
	}
	keys, err := db.ListKeys("t1")
	if err != nil || len(keys) != 2 {
		t.Fatalf("list: %+v %v", keys, err)
	}
	for _, k := range keys {
		if strings.Contains(fmt.Sprint(k), tok[20:]) {
			t.Fatal("listing shows the secret")
		}
	}
	if err := db.RevokeKey("t2", k.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other tenant revoked: %v", err)
	}
	if err := db.RevokeKey("t1", k.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeKey("t1", k.ID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := db.Authenticate(tok); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := db.Authenticate(tok2); err != nil {
		t.Fatalf("other key after revoke: %v", err)
	}
	keys, _ = db.ListKeys("t1")
	for _, k := range keys {
		if (k.ID == k2.ID) != (k.Revoked == 0) {
			t.Fatalf("revocation state %+v", k)
		}
	}
}

// TestTenantIsolation writes the same ids with different content under tenants
// whose names are prefixes of each other, and checks every read method returns
// only its tenant's rows.
func TestTenantIsolation(t *testing.T) {
	db := openMem(t)
	tenants := []string{"a", "ab", "a\x01b", "b"}
	tokens := map[string]string{}
	for i, tn := range tenants {
		as := accounts("acc", 2)
		for j := range as {
			as[j].Balance = int64(i + 1)
		}
		if _, err := db.UpsertAccounts(tn, as); err != nil {
			t.Fatal(err)
		}
		evs := events("ev", as, 4+i) // same ids, different content per tenant
		for j := range evs {
			evs[j].Amount = int64(100*i + j)
		}
		if _, err := db.AppendEvents(tn, evs, testApply); err != nil {
			t.Fatalf("tenant %q: %v", tn, err)
		}
		if err := db.PutDecision(tn, DecisionRecord{ID: "d", AccountID: as[0].ID, At: 1, Payload: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
		tok, _, err := db.CreateKey(tn, []string{ScopeReports})
		if err != nil {
			t.Fatal(err)
		}
		tokens[tn] = tok
	}
	for i, tn := range tenants {
		a, err := db.Account(tn, "acc0000")
		if err != nil || a.Balance != int64(i+1) || a.Tenant != tn {
			t.Fatalf("%q account: %+v %v", tn, a, err)
		}
		n := 0
		for a, err := range db.Accounts(tn) {
			if err != nil || a.Balance != int64(i+1) {
				t.Fatalf("%q iterate: %+v %v", tn, a, err)
			}
			n++
		}
		if n != 2 {
			t.Fatalf("%q has %d accounts", tn, n)
		}
		total := 0
		for _, acc := range []string{"acc0000", "acc0001"} {
			evs, err := db.Events(tn, acc, minT, maxT)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.Tenant != tn || e.Amount/100 != int64(i) {
					t.Fatalf("%q sees event %+v", tn, e)
				}
			}
			total += len(evs)
			c := decodeCounter(t, must(db.FeatureState(tn, acc)))
			if c.N != len(evs) {
				t.Fatalf("%q features %+v for %d events", tn, c, len(evs))
			}
		}
		if total != 4+i {
			t.Fatalf("%q has %d events, want %d", tn, total, 4+i)
		}
		te := 0
		for e, err := range db.TenantEvents(tn) {
			if err != nil || e.Amount/100 != int64(i) {
				t.Fatalf("%q tenant events: %+v %v", tn, e, err)
			}
			te++
		}
		if te != total {
			t.Fatalf("%q tenant events %d", tn, te)
		}
		if e, err := db.Event(tn, "ev000000"); err != nil || e.Amount != int64(100*i) {
			t.Fatalf("%q event: %+v %v", tn, e, err)
		}
		ch, _, err := db.Changes(tn, 0, 100)
		if err != nil || len(ch) == 0 || ch[0].Seq != 1 {
			t.Fatalf("%q changes: %+v %v", tn, ch, err)
		}
		d, err := db.Decision(tn, "d")
		if err != nil || string(d.Payload) != fmt.Sprint(i) {
			t.Fatalf("%q decision: %+v %v", tn, d, err)
		}
		ds, _ := db.Decisions(tn, "acc0000", minT, maxT)
		if len(ds) != 1 || string(ds[0].Payload) != fmt.Sprint(i) {
			t.Fatalf("%q decisions: %+v", tn, ds)
		}
		keys, _ := db.ListKeys(tn)
		if len(keys) != 1 || keys[0].Tenant != tn {
			t.Fatalf("%q keys: %+v", tn, keys)
		}
		k, err := db.Authenticate(tokens[tn])
		if err != nil || k.Tenant != tn {
			t.Fatalf("%q auth: %+v %v", tn, k, err)
		}
		for _, other := range tenants {
			if other != tn {
				if err := db.RevokeKey(other, k.ID); !errors.Is(err, ErrNotFound) {
					t.Fatalf("%q revoked %q's key: %v", other, tn, err)
				}
			}
		}
	}
	// An event of tenant "a" cannot land on tenant "ab"'s account.
	if _, err := db.AppendEvents("a", []datasets.Event{{EventID: "x", AccountID: "acc0000", Type: "opened", Tenant: "ab"}}, testApply); err == nil {
		t.Fatal("cross-tenant event accepted")
	}
}

func TestKeyLayoutNoPrefixOverlap(t *testing.T) {
	// No tenant prefix is a prefix of another tenant's prefix.
	names := []string{"a", "ab", "a\x01b", "b", "\x02ab", strings.Repeat("x", 127), strings.Repeat("x", 128)}
	for _, k := range []byte{kindAccount, kindEventLog, kindChange} {
		for _, x := range names {
			for _, y := range names {
				if x != y && bytes.HasPrefix(tenantPrefix(y, k), tenantPrefix(x, k)) {
					t.Fatalf("prefix of %q covers %q", x, y)
				}
			}
		}
	}
	// Log keys order by time, negative before positive.
	times := []int64{minT, -5, 0, 3, maxT}
	for i := 1; i < len(times); i++ {
		a := logKey("t", kindEventLog, "acc", times[i-1], "z")
		b := logKey("t", kindEventLog, "acc", times[i], "a")
		if bytes.Compare(a, b) >= 0 {
			t.Fatalf("time %d does not sort before %d", times[i-1], times[i])
		}
	}
	if got := readTime(appendTime(nil, -5)); got != -5 {
		t.Fatalf("readTime %d", got)
	}
}
