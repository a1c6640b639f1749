package serving

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/engagehq/engage/store"
)

// noRedirect is a client that shows redirects instead of following them.
func noRedirect(e *env) *http.Client {
	c := *e.hs.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func login(t *testing.T, e *env, key string) *http.Response {
	t.Helper()
	res, err := noRedirect(e).PostForm(e.hs.URL+"/dashboard/login", url.Values{"key": {key}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func getWithCookie(t *testing.T, e *env, path string, ck *http.Cookie, accept string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.hs.URL+path, nil)
	if ck != nil {
		req.AddCookie(ck)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := noRedirect(e).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func TestDashboardLogin(t *testing.T) {
	o := DefaultOptions()
	o.SessionTTL = 300 * time.Millisecond
	e := newEnv(t, "", o)
	eventsOnly, _, err := e.db.CreateKey("a", []string{store.ScopeEvents})
	if err != nil {
		t.Fatal(err)
	}

	// The form is public HTML.
	res := getWithCookie(t, e, "/dashboard/login", nil, "")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("login form: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// A browser without a session is sent to it; an API client gets 401.
	if res := getWithCookie(t, e, "/dashboard", nil, "text/html,*/*"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dashboard/login" {
		t.Fatalf("browser without session: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := getWithCookie(t, e, "/dashboard", nil, ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API client without key: %d", res.StatusCode)
	}

	for _, tc := range []struct {
		name, key string
		want      int
	}{
		{"empty", "", http.StatusBadRequest},
		{"invalid", "engage_nope", http.StatusUnauthorized},
		{"no reports scope", eventsOnly, http.StatusForbidden},
	} {
		if res := login(t, e, tc.key); res.StatusCode != tc.want || len(res.Cookies()) != 0 {
			t.Errorf("%s: %d with %d cookies, want %d and none", tc.name, res.StatusCode, len(res.Cookies()), tc.want)
		}
	}

	res = login(t, e, e.keys["a"])
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dashboard" {
		t.Fatalf("login: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == cookieName {
			ck = c
		}
	}
	if ck == nil {
		t.Fatal("no session cookie")
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/dashboard" || strings.Contains(ck.Value, e.keys["a"]) || len(ck.Value) < 32 {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/dashboard, an opaque id", ck)
	}
	if res := getWithCookie(t, e, "/dashboard", ck, "text/html"); res.StatusCode != 200 {
		t.Fatalf("dashboard with session: %d", res.StatusCode)
	}
	// The cookie is not an API credential.
	if res := getWithCookie(t, e, "/v1/reports/uplift", ck, ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API with a session cookie: %d", res.StatusCode)
	}
	// A forged id is refused.
	if res := getWithCookie(t, e, "/dashboard", &http.Cookie{Name: cookieName, Value: strings.Repeat("0", 64)}, ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged session: %d", res.StatusCode)
	}
	// Sessions expire.
	time.Sleep(350 * time.Millisecond)
	if res := getWithCookie(t, e, "/dashboard", ck, ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired session: %d", res.StatusCode)
	}
	// Logout ends a session.
	res = login(t, e, e.keys["a"])
	ck = res.Cookies()[0]
	req, _ := http.NewRequest("POST", e.hs.URL+"/dashboard/logout", nil)
	req.AddCookie(ck)
	if r, err := noRedirect(e).Do(req); err != nil || r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %v %v", r, err)
	}
	if res := getWithCookie(t, e, "/dashboard", ck, ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", res.StatusCode)
	}
}
