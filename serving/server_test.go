package serving

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/serving/engine"
	"github.com/engagehq/engage/store"
)

func seed(t *testing.T, e *env, key string, accts []datasets.Account) {
	t.Helper()
	var rr ReferralsResponse
	if c := e.do("POST", "/v1/referrals", key, ReferralsRequest{Accounts: accts}, &rr); c != 200 || rr.Created != len(accts) {
		t.Fatalf("referrals: %d %+v", c, rr)
	}
	var er EventsResponse
	evs := history(accts)
	if c := e.do("POST", "/v1/events", key, EventsRequest{Events: evs}, &er); c != 200 || er.Appended != len(evs) {
		t.Fatalf("events: %d %+v", c, er)
	}
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t, "", DefaultOptions())
	accts := world(8, "A")
	seed(t, e, "a", accts)

	var dr DecisionsResponse
	if c := e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountID: "A0001"}, &dr); c != 200 || len(dr.Decisions) != 1 {
		t.Fatalf("decide: %d %+v", c, dr)
	}
	d := dr.Decisions[0]
	if d.DecisionID == "" || d.Outcome == "" || d.Compliance.Jurisdictions == nil || len(d.Reasons) == 0 {
		t.Fatalf("incomplete decision %+v", d)
	}
	if d.Outcome == engine.OutcomeContact && (d.Action == nil || d.Propensity <= 0 || d.Propensity > 1) {
		t.Fatalf("contact without action or propensity: %+v", d)
	}
	if !d.Holdout && d.Fallback == "" && d.ModelVersion != "v0001" {
		t.Fatalf("model version %q, want v0001", d.ModelVersion)
	}
	// audit
	var rec store.DecisionRecord
	if c := e.do("GET", "/v1/decisions/"+d.DecisionID, "a", nil, &rec); c != 200 || rec.ID != d.DecisionID || rec.AccountID != "A0001" {
		t.Fatalf("audit: %d %+v", c, rec)
	}
	var audit engine.Decision
	if err := json.Unmarshal(rec.Payload, &audit); err != nil || audit.Features.Hash == "" || audit.ModelVersion != d.ModelVersion {
		t.Fatalf("audit payload: %v %+v", err, audit)
	}
	// batch decisions
	ids := idsOf(accts)
	if c := e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountIDs: ids}, &dr); c != 200 || len(dr.Decisions) != len(ids) {
		t.Fatalf("batch: %d %d", c, len(dr.Decisions))
	}
	for i, d := range dr.Decisions {
		if d.AccountID != ids[i] {
			t.Fatalf("batch order: %d is %s", i, d.AccountID)
		}
	}
	// the contact is sent, with its decision id; the account syncs
	if d.Action != nil {
		ev := datasets.Event{EventID: "sent-1", AccountID: "A0001", Type: datasets.EventContactSent, At: t0.UnixMicro(), Channel: d.Action.Channel, Message: d.Action.Message, DecisionID: d.DecisionID}
		if c := e.do("POST", "/v1/events", "a", EventsRequest{Events: []datasets.Event{ev}}, nil); c != 200 {
			t.Fatalf("sent: %d", c)
		}
	}
	pay := datasets.Event{EventID: "pay-full", AccountID: "A0002", Type: datasets.EventPayment, At: t0.UnixMicro(), Amount: accts[2].Balance, Currency: accts[2].Currency}
	var er EventsResponse
	if c := e.do("POST", "/v1/events", "a", EventsRequest{Events: []datasets.Event{pay}}, &er); c != 200 || len(er.Changes) != 1 || er.Changes[0].To != StatusPaid {
		t.Fatalf("payment: %d %+v", c, er)
	}
	var ar AccountResponse
	if c := e.do("GET", "/v1/accounts/A0002", "a", nil, &ar); c != 200 || ar.Status != StatusPaid || ar.BalanceLeft != 0 || len(ar.Journey) != 5 {
		t.Fatalf("account: %d status %s left %d journey %d", c, ar.Status, ar.BalanceLeft, len(ar.Journey))
	}
	if c := e.do("GET", "/v1/accounts/A0003", "a", nil, &ar); c != 200 || ar.Status != StatusPaying || ar.Paid != 1000 {
		t.Fatalf("account A0003: %d %s paid %d", c, ar.Status, ar.Paid)
	}
	// paid in full: no contact
	if c := e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountID: "A0002"}, &dr); c != 200 || dr.Decisions[0].Outcome != engine.OutcomeNoContact {
		t.Fatalf("paid account: %d %+v", c, dr.Decisions[0])
	}
	// the change feed, read in pages
	var all []store.Change
	var cur uint64
	for {
		var cr ChangesResponse
		if c := e.do("GET", fmt.Sprintf("/v1/changes?after=%d&limit=3", cur), "a", nil, &cr); c != 200 {
			t.Fatalf("changes: %d", c)
		}
		if len(cr.Changes) == 0 {
			break
		}
		all, cur = append(all, cr.Changes...), cr.Next
	}
	if len(all) != len(accts)+1 || all[len(all)-1].To != StatusPaid {
		t.Fatalf("feed: %d changes, last %+v", len(all), all[len(all)-1])
	}
	// the compliance check endpoint
	body := `{"account":{"id":"x","jurisdiction":"US-TX","time_zone":"America/Chicago","consents":{"call":true}},"ledger":[],"contact":{"channel":"call","at":"2026-03-10T03:00:00Z"}}`
	var cd map[string]any
	if c := e.do("POST", "/v1/compliance/check", "a", body, &cd); c != 200 || cd["allowed"] != false {
		t.Fatalf("compliance check at 21:00 local... %d %v", c, cd)
	}
	// operations
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		if c := e.do("GET", p, "", nil, nil); c != 200 {
			t.Fatalf("%s: %d", p, c)
		}
	}
	var models ModelsResponse
	if c := e.do("GET", "/v1/models", "a", nil, &models); c != 200 || models.Serving == nil || models.Serving.Version != "v0001" || len(models.Versions) != 2 {
		t.Fatalf("models: %d %+v", c, models)
	}
	if c := e.do("GET", "/v1/reports/liquidation", "a", nil, nil); c != 200 {
		t.Fatalf("report: %d", c)
	}
}

func TestIdempotent(t *testing.T) {
	e := newEnv(t, "", DefaultOptions())
	accts := world(6, "I")
	seed(t, e, "a", accts)
	var before ChangesResponse
	e.do("GET", "/v1/changes", "a", nil, &before)
	var rr ReferralsResponse
	if c := e.do("POST", "/v1/referrals", "a", ReferralsRequest{Accounts: accts}, &rr); c != 200 || rr.Unchanged != len(accts) || rr.Created+rr.Updated != 0 {
		t.Fatalf("second referral: %d %+v", c, rr)
	}
	evs := history(accts)
	var er EventsResponse
	if c := e.do("POST", "/v1/events", "a", EventsRequest{Events: evs}, &er); c != 200 || er.Appended != 0 || er.Duplicates != len(evs) || len(er.Changes) != 0 {
		t.Fatalf("second events: %d %+v", c, er)
	}
	var after ChangesResponse
	e.do("GET", "/v1/changes", "a", nil, &after)
	if after.Next != before.Next || len(after.Changes) != len(before.Changes) {
		t.Fatalf("feed moved: %d -> %d", before.Next, after.Next)
	}
	var ar AccountResponse
	if e.do("GET", "/v1/accounts/I0000", "a", nil, &ar); len(ar.Journey) != 5 {
		t.Fatalf("journey %d events", len(ar.Journey))
	}
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t, "", DefaultOptions())
	seed(t, e, "a", world(4, "T"))
	var dr DecisionsResponse
	if c := e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountID: "T0000"}, &dr); c != 200 {
		t.Fatal(c)
	}
	did := dr.Decisions[0].DecisionID
	cases := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/accounts/T0000", nil},
		{"GET", "/v1/decisions/" + did, nil},
		{"POST", "/v1/decisions", DecisionsRequest{AccountID: "T0000"}},
		{"POST", "/v1/decisions", DecisionsRequest{AccountIDs: []string{"T0000", "T0001"}}},
		{"POST", "/v1/events", EventsRequest{Events: []datasets.Event{{EventID: "x1", AccountID: "T0000", Type: datasets.EventOpened, At: t0.UnixMicro(), Channel: "email"}}}},
	}
	for _, c := range cases {
		if code := e.do(c.method, c.path, "b", c.body, nil); code < 400 || code >= 500 {
			t.Errorf("tenant b %s %s: %d, want 4xx", c.method, c.path, code)
		}
	}
	var cr ChangesResponse
	if e.do("GET", "/v1/changes", "b", nil, &cr); len(cr.Changes) != 0 {
		t.Errorf("tenant b sees %d changes of a", len(cr.Changes))
	}
	// a row naming another tenant is refused
	acc := world(1, "X")
	acc[0].Tenant = "a"
	if code := e.do("POST", "/v1/referrals", "b", ReferralsRequest{Accounts: acc}, nil); code != 403 {
		t.Errorf("row of tenant a sent with b's key: %d", code)
	}
	// reports: b's data source holds nothing of a
	src := &storeSource{db: e.db, tenant: "b"}
	n := 0
	_ = src.Accounts(func(*datasets.Account) error { n++; return nil })
	_ = src.Events(func(*datasets.Event) error { n++; return nil })
	_ = src.Decisions(func(*datasets.Decision) error { n++; return nil })
	if n != 0 {
		t.Errorf("tenant b's report source has %d rows", n)
	}
	var ra, rb map[string]any
	e.do("GET", "/v1/reports/channels", "a", nil, &ra)
	if c := e.do("GET", "/v1/reports/channels", "b", nil, &rb); c != 200 || fmt.Sprint(ra) == fmt.Sprint(rb) {
		t.Errorf("tenant b's channel report equals a's (%d)", c)
	}
	// scopes
	if c := e.do("POST", "/v1/decisions", "a-events", DecisionsRequest{AccountID: "T0000"}, nil); c != 403 {
		t.Errorf("events-only key deciding: %d", c)
	}
	if c := e.do("GET", "/v1/accounts/T0000", "", nil, nil); c != 401 {
		t.Errorf("no key: %d", c)
	}
}

func TestBadPayloads(t *testing.T) {
	o := DefaultOptions()
	o.MaxBatch = 50
	o.BatchBodyLimit = 64 << 10
	e := newEnv(t, "", o)
	seed(t, e, "a", world(3, "B"))
	var base ChangesResponse
	e.do("GET", "/v1/changes", "a", nil, &base)
	ev := `{"event_id":"n1","account_id":"B0000","type":"opened","at":%d,"channel":"email"}`
	good := fmt.Sprintf(ev, t0.UnixMicro())
	big := make([]datasets.Event, 51)
	for i := range big {
		big[i] = datasets.Event{EventID: fmt.Sprint("big", i), AccountID: "B0000", Type: "opened", At: t0.UnixMicro(), Channel: "email"}
	}
	cases := []struct {
		name, path string
		body       any
		code       int
		field      string
	}{
		{"wrong type", "/v1/events", `{"events":[` + good + `,{"event_id":"n2","account_id":"B0000","type":"opened","at":"yesterday"}]}`, 400, "events[1].at"},
		{"unknown channel", "/v1/events", `{"events":[` + good + `,{"event_id":"n2","account_id":"B0000","type":"opened","at":1773150000000000,"channel":"pigeon"}]}`, 422, "events[1].channel"},
		{"unknown type", "/v1/events", `{"events":[{"event_id":"n2","account_id":"B0000","type":"teleport","at":1773150000000000}]}`, 422, "events[0].type"},
		{"unknown account", "/v1/events", `{"events":[` + good + `,{"event_id":"n3","account_id":"nobody","type":"opened","at":1773150000000000,"channel":"email"}]}`, 422, "events[1].account_id"},
		{"oversize batch", "/v1/events", EventsRequest{Events: big}, 413, "events"},
		{"oversize body", "/v1/events", `{"events":[` + good + strings.Repeat(" ", 70<<10) + `]}`, 413, ""},
		{"unknown field", "/v1/events", `{"events":[{"event_id":"n4","account_id":"B0000","type":"opened","at":1773150000000000,"colour":"red"}]}`, 400, "events[0].colour"},
		{"malformed", "/v1/events", `{"events":[`, 400, ""},
		{"empty batch", "/v1/events", `{"events":[]}`, 400, "events"},
		{"bad referral", "/v1/referrals", `{"accounts":[{"id":"B9","referred_at":1773150000000000,"balance":-5,"currency":"USD","product":"bnpl","days_past_due":1,"jurisdiction":"US","time_zone":"America/Chicago"}]}`, 422, "accounts[0].balance"},
		{"bad zone", "/v1/referrals", `{"accounts":[{"id":"B9","referred_at":1773150000000000,"balance":5,"currency":"USD","product":"bnpl","days_past_due":1,"jurisdiction":"US","time_zone":"Mars/Olympus"}]}`, 422, "accounts[0].time_zone"},
		{"decision unknown account", "/v1/decisions", `{"account_ids":["B0000","ghost"]}`, 404, "account_ids[1]"},
		{"decision both", "/v1/decisions", `{"account_id":"B0000","account_ids":["B0001"]}`, 400, "account_id"},
		{"decision bad now", "/v1/decisions", `{"account_id":"B0000","now":"soon"}`, 400, "now"},
		{"compliance unknown jurisdiction", "/v1/compliance/check", `{"account":{"id":"x","jurisdiction":"ZZ"},"ledger":[],"contact":{"channel":"email","at":"2026-03-10T15:00:00Z"}}`, 422, ""},
		{"compliance unknown channel", "/v1/compliance/check", `{"account":{"id":"x","jurisdiction":"US"},"ledger":[],"contact":{"channel":"pigeon","at":"2026-03-10T15:00:00Z"}}`, 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var eb errorBody
			code := e.do("POST", c.path, "a", c.body, &eb)
			if code != c.code {
				t.Fatalf("status %d, want %d (%+v)", code, c.code, eb.Error)
			}
			if eb.Error == nil || eb.Error.Reason == "" || (c.field != "" && !strings.HasPrefix(eb.Error.Field, c.field)) {
				t.Fatalf("error %+v, want field %q", eb.Error, c.field)
			}
		})
	}
	var after ChangesResponse
	e.do("GET", "/v1/changes", "a", nil, &after)
	var ar AccountResponse
	e.do("GET", "/v1/accounts/B0000", "a", nil, &ar)
	if after.Next != base.Next || len(ar.Journey) != 5 {
		t.Fatalf("a refused batch changed something: feed %d -> %d, journey %d", base.Next, after.Next, len(ar.Journey))
	}
	if _, err := e.db.Event("a", "n1"); err == nil {
		t.Fatal("event n1 of a refused batch was stored")
	}
	if n := countDecisions(t, e, "a", "B0000"); n != 0 {
		t.Fatalf("a refused decision batch stored %d decisions", n)
	}
}

func countDecisions(t *testing.T, e *env, tenant, acct string) int {
	recs, err := e.db.Decisions(tenant, acct, -1<<63, 1<<63-1)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func TestRateLimitAndLate(t *testing.T) {
	o := DefaultOptions()
	o.RateLimit, o.RateBurst = 1, 3
	o.LateTolerance = 48 * time.Hour
	e := newEnv(t, "", o)
	codes := map[int]int{}
	for i := 0; i < 6; i++ {
		codes[e.do("GET", "/v1/changes", "b", nil, nil)]++
	}
	if codes[429] == 0 || codes[200] != 3 {
		t.Fatalf("rate limit: %v", codes)
	}
	// late events: within tolerance rebuild the features; beyond it 422
	e.srv.o.RateLimit = 0
	seed(t, e, "a", world(1, "L"))
	late := datasets.Event{EventID: "late1", AccountID: "L0000", Type: datasets.EventOpened, At: t0.Add(-20*24*time.Hour + 25*time.Hour).UnixMicro(), Channel: "email"}
	var er EventsResponse
	if c := e.do("POST", "/v1/events", "a", EventsRequest{Events: []datasets.Event{late}}, &er); c != 200 || er.Appended != 1 {
		t.Fatalf("late within tolerance: %d %+v", c, er)
	}
	tooLate := datasets.Event{EventID: "late2", AccountID: "L0000", Type: datasets.EventOpened, At: t0.Add(-25 * 24 * time.Hour).UnixMicro(), Channel: "email"}
	var eb errorBody
	if c := e.do("POST", "/v1/events", "a", EventsRequest{Events: []datasets.Event{tooLate}}, &eb); c != 422 || eb.Error.Field != "events[0].at" {
		t.Fatalf("too late: %d %+v", c, eb.Error)
	}
}

func TestRestartKeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, DefaultOptions())
	accts := world(5, "R")
	seed(t, e, "a", accts)
	var dr DecisionsResponse
	e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountIDs: []string{"R0000", "R0001"}}, &dr)
	var before ChangesResponse
	e.do("GET", "/v1/changes", "a", nil, &before)
	e.close()

	e2 := newEnv(t, dir, DefaultOptions())
	e2.keys = e.keys // the old keys must still authenticate
	for _, a := range accts {
		var ar AccountResponse
		if c := e2.do("GET", "/v1/accounts/"+a.ID, "a", nil, &ar); c != 200 || len(ar.Journey) < 4 {
			t.Fatalf("after restart %s: %d, %d events", a.ID, c, len(ar.Journey))
		}
	}
	for _, d := range dr.Decisions {
		if c := e2.do("GET", "/v1/decisions/"+d.DecisionID, "a", nil, nil); c != 200 {
			t.Fatalf("decision %s lost: %d", d.DecisionID, c)
		}
	}
	var after ChangesResponse
	e2.do("GET", "/v1/changes", "a", nil, &after)
	if after.Next != before.Next {
		t.Fatalf("change feed %d -> %d", before.Next, after.Next)
	}
}

func TestPromoteUnderLoad(t *testing.T) {
	o := DefaultOptions()
	o.RateLimit = 0
	e := newEnv(t, "", o)
	seed(t, e, "a", world(10, "P"))
	var failed, done atomic.Int64
	var versions sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var dr DecisionsResponse
				if c := e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountID: fmt.Sprintf("P%04d", (w+i)%10)}, &dr); c != 200 || len(dr.Decisions) != 1 {
					failed.Add(1)
					continue
				}
				done.Add(1)
				versions.Store(dr.Decisions[0].ModelVersion, true)
			}
		}(w)
	}
	for i := 0; i < 10; i++ {
		v := []string{"v0002", "v0001"}[i%2]
		var si ServingInfo
		if c := e.do("POST", "/v1/models/"+v+"/promote", "a", nil, &si); c != 200 || si.Version != v {
			t.Errorf("promote %s: %d %+v", v, c, si)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || done.Load() == 0 {
		t.Fatalf("%d failed, %d succeeded", failed.Load(), done.Load())
	}
	_, v1 := versions.Load("v0001")
	_, v2 := versions.Load("v0002")
	if !v1 || !v2 {
		t.Fatalf("decisions did not see both models (v0001 %v, v0002 %v)", v1, v2)
	}
	if c := e.do("POST", "/v1/models/v0009/promote", "a", nil, nil); c != 404 {
		t.Fatalf("unknown version: %d", c)
	}
	if c := e.do("POST", "/v1/models/v0001/promote", "a-events", nil, nil); c != 403 {
		t.Fatalf("promote without admin: %d", c)
	}
}

// slowScorer blocks past any budget.
type slowScorer struct{ engine.RateScorer }

func (s *slowScorer) Score(x *engine.Context, c []engine.Candidate, p []float64) error {
	time.Sleep(30 * time.Millisecond)
	return s.RateScorer.Score(x, c, p)
}

func TestBudgetFallbackAndHoldout(t *testing.T) {
	o := DefaultOptions()
	o.DecisionBudget = 10 * time.Millisecond
	o.Engine.HoldoutShare = 0
	o.RateLimit = 0
	e := newEnv(t, "", o)
	seed(t, e, "a", world(2, "F"))
	rs, err := engine.NewRateScorer(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.UseScorer(&slowScorer{*rs})
	var dr DecisionsResponse
	if c := e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountID: "F0000"}, &dr); c != 200 {
		t.Fatal(c)
	}
	d := dr.Decisions[0]
	if d.Fallback == "" || d.Policy != engine.PolicyBAU || d.Action == nil || d.Action.Message != datasets.MessageFriendly || d.Propensity != 1 {
		t.Fatalf("budget: %+v", d)
	}
	// the holdout share is stable and near its target
	in := 0
	for i := 0; i < 20000; i++ {
		if engine.InHoldout("t", fmt.Sprint("acct", i), 0.1) {
			in++
		}
	}
	if in < 1800 || in > 2200 {
		t.Fatalf("holdout %d of 20000", in)
	}
	if engine.InHoldout("t", "acct1", 0.1) != engine.InHoldout("t", "acct1", 0.1) {
		t.Fatal("holdout not stable")
	}
	_ = http.StatusOK
}
