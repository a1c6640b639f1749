package reports

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/engagehq/engage/datasets"
)

// TestHandlerTenants checks that the JSON handler serves whatever tenant the
// mounter's Source function picks, and the API's error shapes.
func TestHandlerTenants(t *testing.T) {
	full := fixture()
	one := &MemSource{AccountRows: full.AccountRows[:1], EventRows: full.EventRows, DecisionRows: full.DecisionRows}
	books := &Books{Options: fixtureOptions(), Source: func(r *http.Request) (Source, error) {
		switch r.Header.Get("X-Tenant") {
		case "t1":
			return full, nil
		case "t2":
			return one, nil
		}
		return nil, errors.New("no tenant")
	}}
	s := httptest.NewServer(&Handler{Books: books})
	defer s.Close()
	do := func(method, path, tenant string) (int, map[string]any) {
		req, _ := http.NewRequest(method, s.URL+path, nil)
		req.Header.Set("X-Tenant", tenant)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	code, v := do("GET", "/v1/reports/liquidation", "t1")
	if code != 200 || len(v["by_age_band"].([]any)) != 5 {
		t.Errorf("t1 liquidation: %d %v", code, v["by_age_band"])
	}
	code, v = do("GET", "/v1/reports/liquidation", "t2")
	if code != 200 || len(v["by_age_band"].([]any)) != 1 {
		t.Errorf("t2 liquidation: %d %v", code, v["by_age_band"])
	}
	if code, _ := do("GET", "/v1/reports/liquidation", "nobody"); code != 500 {
		t.Errorf("no tenant: %d", code)
	}
	if code, v := do("GET", "/v1/reports/bogus", "t1"); code != 404 || !strings.Contains(v["error"].(map[string]any)["reason"].(string), "unknown report") {
		t.Errorf("unknown report: %d %v", code, v)
	}
	if code, v := do("GET", "/v1/reports/uplift?to=2020-13-01", "t1"); code != 400 || v["error"].(map[string]any)["field"] != "to" {
		t.Errorf("bad to: %d %v", code, v)
	}
	if code, _ := do("POST", "/v1/reports/uplift", "t1"); code != 405 {
		t.Errorf("POST: %d", code)
	}
}

// keyedSource counts loads, to check Books reuses a Keyed source's Book.
type keyedSource struct {
	MemSource
	loads int
}

func (k *keyedSource) CacheKey() string { return "k" }
func (k *keyedSource) Accounts(fn func(*datasets.Account) error) error {
	k.loads++
	return k.MemSource.Accounts(fn)
}

func TestBooksCache(t *testing.T) {
	src := &keyedSource{MemSource: *fixture()}
	books := &Books{Options: fixtureOptions(), Source: func(*http.Request) (Source, error) { return src, nil }}
	req := httptest.NewRequest("GET", "/", nil)
	a, _, err := books.Report(req, "uplift", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := books.Report(req, "uplift", Filter{})
	c, _, _ := books.Report(req, "uplift", Filter{Channels: []string{"sms"}})
	if src.loads != 1 || a != b || a == c {
		t.Errorf("%d loads; same report reused: %v; other filter recomputed: %v", src.loads, a == b, a != c)
	}
}
