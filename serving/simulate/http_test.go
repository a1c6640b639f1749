package simulate

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/serving"
	"github.com/engagehq/engage/serving/engine"
	"github.com/engagehq/engage/store"
)

// testServer starts a real engage server (store and registry in t.TempDir())
// deciding with the engine options the in-process model policy uses, and
// returns its URL, a key with every scope, the store and the registry
// directory.
func testServer(t *testing.T, o Options) (string, string, *store.DB, string) {
	t.Helper()
	dir := t.TempDir()
	so := store.DefaultOptions()
	so.SyncWrites = false // a test: durability is not what is measured
	so.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(dir+"/store", so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	regDir := dir + "/registry"
	reg, err := action.Open(regDir)
	if err != nil {
		t.Fatal(err)
	}
	sv := serving.DefaultOptions()
	sv.Engine = engine.DefaultOptions()
	sv.Engine.HoldoutShare, sv.Engine.Epsilon, sv.Engine.Seed = 0, o.Epsilon, o.Seeds[0]
	sv.DecisionBudget = time.Minute // never the BAU fallback on a busy machine
	sv.RateLimit, sv.ReloadEvery = 0, 0
	sv.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := serving.New(db, fw, reg, sv)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	tok, _, err := db.CreateKey(o.Tenant, store.Scopes)
	if err != nil {
		t.Fatal(err)
	}
	return hs.URL, tok, db, regDir
}

// tinyHTTP is small enough to play twice (in process and over HTTP) in a few
// seconds, with one retraining.
func tinyHTTP() Options {
	o := DefaultOptions()
	o.Accounts, o.Days, o.Seeds = 300, 14, []uint64{5}
	o.Policies = []string{PolicyModel}
	o.PretrainAccounts, o.PretrainDays = 600, 20
	o.TrainAccounts, o.TrainRows, o.GBDTIter = 300, 10000, 15
	o.RetrainEvery, o.Bootstrap, o.OPE, o.Workers = 7, 0, false, 2
	return o
}

// TestHTTPMatchesInProcess plays the model policy through a real server over
// HTTP and in process on the same seed. With ε = 0 nothing depends on the
// decision ids (the only thing that differs: the server names its own), so
// every count and amount must be equal; the server must have stored every
// event the simulation sent and every decision it asked for, and served the
// retrained model.
func TestHTTPMatchesInProcess(t *testing.T) {
	o := tinyHTTP()
	o.Epsilon = 0
	local, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	url, key, db, regDir := testServer(t, o)
	o.Remote = Remote{URL: url, APIKey: key, Registry: regDir, RunID: "t1", Batch: 100}
	remote, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	md := remote.Render("test")
	t.Logf("\n%s\n%s", local.Markdown("in process"), md)
	if !strings.Contains(md, "**Played over HTTP**") || strings.Contains(local.Render(""), "Played over HTTP") {
		t.Error("only the HTTP report says it was played over HTTP")
	}
	if len(local.Results) != 2 || len(remote.Results) != 2 {
		t.Fatalf("%d and %d results, want bau and model in each", len(local.Results), len(remote.Results))
	}
	l, r := local.Results[1], remote.Results[1]
	if l.Policy != PolicyModel || r.Policy != PolicyModel {
		t.Fatalf("policies %s and %s", l.Policy, r.Policy)
	}
	type counts struct {
		Collected                                         float64
		Contacts, Payments, Complaints, OptOuts, Violated int
		Decisions, Dropped                                int64
	}
	key2 := func(x *Result) counts {
		return counts{x.Collected, x.Contacts, x.Payments, x.Complaints, x.OptOuts, x.Violations, x.Decisions, x.Dropped}
	}
	if key2(l) != key2(r) {
		t.Errorf("in process %+v\nover HTTP  %+v", key2(l), key2(r))
	}
	if r.Contacts == 0 || r.Violations != 0 || r.Checked != r.Contacts {
		t.Errorf("over HTTP: %d contacts, %d violations, %d checked", r.Contacts, r.Violations, r.Checked)
	}
	if math.Abs(l.Uplift-r.Uplift) > 1e-12 {
		t.Errorf("uplift %v in process, %v over HTTP", l.Uplift, r.Uplift)
	}

	// What the server recorded: every event, under the run's ids.
	byType := map[string]int{}
	accts := map[string]bool{}
	for e, err := range db.TenantEvents(o.Tenant) {
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.EventID, "t1-5-") || !strings.HasPrefix(e.AccountID, "t1-5-") {
			t.Fatalf("event %s of %s without the run's prefix", e.EventID, e.AccountID)
		}
		byType[e.Type]++
		accts[e.AccountID] = true
	}
	if byType[datasets.EventContactSent] != r.Contacts || byType[datasets.EventPayment] != r.Payments ||
		byType[datasets.EventComplaint] != r.Complaints || byType[datasets.EventOptOut] != r.OptOuts {
		t.Errorf("server stored %v; the simulation counted %d contacts, %d payments, %d complaints, %d opt-outs",
			byType, r.Contacts, r.Payments, r.Complaints, r.OptOuts)
	}
	var decisions, referred int
	for a, err := range db.Accounts(o.Tenant) {
		if err != nil {
			t.Fatal(err)
		}
		referred++
		ds, err := db.Decisions(o.Tenant, a.ID, math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		decisions += len(ds)
	}
	if int64(decisions) != r.Decisions {
		t.Errorf("server stored %d decisions, the simulation asked %d", decisions, r.Decisions)
	}
	if referred == 0 || referred > o.Accounts || len(accts) > referred {
		t.Errorf("%d accounts referred, %d with events, of %d", referred, len(accts), o.Accounts)
	}
	// Pretrained model and the day-7 retraining, each promoted over HTTP.
	if len(r.Models) != 2 || !strings.Contains(r.Models[1], "v0002 promoted on the server over HTTP, day 7") {
		t.Errorf("models %q: want v0001 and v0002 promoted on the server", r.Models)
	}
	got, err := newClient(&o.Remote).serving(context.Background())
	if err != nil || got != "v0002" {
		t.Errorf("server serves %q (%v), want v0002", got, err)
	}

	// The same run id again: the server already has its events.
	o.Days, o.RetrainEvery = 3, 0
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "already stored") {
		t.Errorf("rerun with the same run id: %v, want an error about events already stored", err)
	}
}

// TestRemoteOptions: what playing over HTTP refuses.
func TestRemoteOptions(t *testing.T) {
	cases := []struct {
		name string
		edit func(o *Options)
		want string // substring of the error; "" means valid
	}{
		{"in process", func(o *Options) {}, ""},
		{"valid", func(o *Options) { o.Remote = Remote{URL: "http://127.0.0.1:8080", APIKey: "k"} }, ""},
		{"no key", func(o *Options) { o.Remote = Remote{URL: "http://127.0.0.1:8080"} }, "API key"},
		{"no scheme", func(o *Options) { o.Remote = Remote{URL: "127.0.0.1:8080", APIKey: "k"} }, "want http"},
		{"ftp", func(o *Options) { o.Remote = Remote{URL: "ftp://h", APIKey: "k"} }, "want http"},
		{"bad run id", func(o *Options) { o.Remote = Remote{URL: "http://h", APIKey: "k", RunID: "a/b"} }, "run id"},
		{"negative batch", func(o *Options) { o.Remote = Remote{URL: "http://h", APIKey: "k", Batch: -1} }, "batch"},
		{"chained", func(o *Options) { o.Remote, o.Convert = Remote{URL: "http://h", APIKey: "k"}, "paid_7d" }, "chained"},
		{"all hours", func(o *Options) { o.Remote, o.AllHours = Remote{URL: "http://h", APIKey: "k"}, true }, "server's"},
		{"min p", func(o *Options) { o.Remote, o.MinP = Remote{URL: "http://h", APIKey: "k"}, 0.01 }, "server's"},
		{"message model", func(o *Options) { o.Remote, o.MessageTarget = Remote{URL: "http://h", APIKey: "k"}, "paid_7d" }, "message model"},
		{"explore bonus", func(o *Options) { o.Remote, o.ExploreBonus = Remote{URL: "http://h", APIKey: "k"}, 0.05 }, "server's"},
		{"convert not a payment", func(o *Options) { o.Convert = "complaint_7d" }, "payment outcome"},
		{"convert is the target", func(o *Options) { o.Target, o.Convert = "paid_7d", "paid_7d" }, "is the target"},
		{"unknown target", func(o *Options) { o.Target = "engaged" }, "target"},
		{"min p above 1", func(o *Options) { o.MinP = 1.5 }, "min p"},
		{"message target not a payment", func(o *Options) { o.MessageTarget = "engaged_48h" }, "message target"},
		{"message target and convert", func(o *Options) { o.MessageTarget, o.Convert = "paid_7d", "paid_30d" }, "set one"},
		{"negative explore bonus", func(o *Options) { o.ExploreBonus = -0.1 }, "explore bonus"},
		{"NaN explore bonus", func(o *Options) { o.ExploreBonus = math.NaN() }, "explore bonus"},
		{"in-process options", func(o *Options) { o.MessageTarget, o.LateResponses, o.ExploreBonus = "paid_7d", true, 0.05 }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := DefaultOptions()
			c.edit(&o)
			err := o.check()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one containing %q", err, c.want)
			case c.want == "" && o.Remote.URL != "" && o.Remote.RunID == "":
				t.Fatal("no run id filled in")
			}
		})
	}
}
