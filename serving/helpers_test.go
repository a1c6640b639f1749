package serving

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/serving/engine/enginetest"
	"github.com/engagehq/engage/store"
)

// t0 is the test clock: decisions and events happen around it.
var t0 = time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)

type env struct {
	t      *testing.T
	dir    string
	db     *store.DB
	srv    *Server
	hs     *httptest.Server
	reg    *registry.Registry
	keys   map[string]string // name -> token
	closed bool
}

// newEnv opens a store in dir (a fresh temp dir when empty), a registry with
// two models (v0001 promoted), and keys: "a" (tenant a, all scopes), "b"
// (tenant b, all scopes), "a-events" (tenant a, events only).
func newEnv(t *testing.T, dir string, o Options) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	db, err := store.Open(dir+"/store", store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := action.Open(dir + "/registry")
	if err != nil {
		t.Fatal(err)
	}
	if vs, _ := reg.List(); len(vs) == 0 {
		registerModel(t, reg, 1)
		registerModel(t, reg, 2)
		if err := reg.Promote("v0001"); err != nil {
			t.Fatal(err)
		}
	}
	if o.Now == nil {
		o.Now = func() time.Time { return t0 }
	}
	o.ReloadEvery = 0
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := New(db, fw, reg, o)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, db: db, srv: srv, reg: reg, keys: map[string]string{}}
	e.hs = heldServer(srv.Handler()) // as Serve accepts connections (see conn.go)
	for name, k := range map[string]struct {
		tenant string
		scopes []string
	}{"a": {"a", store.Scopes}, "b": {"b", store.Scopes}, "a-events": {"a", []string{store.ScopeEvents}}} {
		tok, _, err := db.CreateKey(k.tenant, k.scopes)
		if err != nil {
			t.Fatal(err)
		}
		e.keys[name] = tok
	}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	if e.closed {
		return
	}
	e.closed = true
	e.hs.Close()
	if err := e.db.Close(); err != nil {
		e.t.Error(err)
	}
}

// do sends a request with key name (or none) and decodes a JSON answer into out.
func (e *env) do(method, path, key string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.hs.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+e.keys[key])
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := e.hs.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return res.StatusCode
}

// registerModel registers enginetest's engagement model of seed (a small
// gbdt on which email in the evening with firm messages engages most).
func registerModel(t testing.TB, reg *registry.Registry, seed uint64) {
	t.Helper()
	a, err := enginetest.Model(seed, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(a, registry.Card{Title: "test model"}); err != nil {
		t.Fatal(err)
	}
}

// world returns enginetest's n accounts (four jurisdictions, every consent)
// referred 30 days before t0.
func world(n int, prefix string) []datasets.Account { return enginetest.Accounts(n, prefix, t0) }

// idsOf returns the accounts' ids, in order.
func idsOf(accts []datasets.Account) []string {
	ids := make([]string, len(accts))
	for i, a := range accts {
		ids[i] = a.ID
	}
	return ids
}

// history returns a few events per account: an email with the validation
// notice's letter, deliveries, an open, sometimes a payment.
func history(accts []datasets.Account) []datasets.Event { return enginetest.History(accts, t0) }
