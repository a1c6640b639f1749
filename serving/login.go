package serving

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/engagehq/engage/store"
)

// Dashboard login: a browser cannot send a bearer header, so GET
// /dashboard/login shows a form, and POST /dashboard/login takes the API key,
// checks it (it must be valid and carry the reports scope), and answers with
// a cookie holding an opaque random session id (HttpOnly, SameSite=Strict,
// Path=/dashboard, Secure over TLS). The key itself stays on the server,
// mapped from the session id; every dashboard request re-authenticates it, so
// a revoked key ends its sessions. Sessions expire after Options.SessionTTL
// and end at POST /dashboard/logout. Bearer keys keep working on /dashboard.

const (
	loginPath   = "/dashboard/login"
	logoutPath  = "/dashboard/logout"
	cookieName  = "engage_session"
	cookiePath  = "/dashboard"
	maxSessions = 10_000
)

// sessions maps session ids to API key tokens.
type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

type session struct {
	token   string
	expires time.Time
}

func (ss *sessions) create(token string, ttl time.Duration, now time.Time) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]session{}
	}
	if len(ss.m) >= maxSessions/2 { // sweep expired ones
		for k, v := range ss.m {
			if !now.Before(v.expires) {
				delete(ss.m, k)
			}
		}
	}
	if len(ss.m) >= maxSessions {
		return "", errors.New("too many dashboard sessions")
	}
	ss.m[id] = session{token: token, expires: now.Add(ttl)}
	return id, nil
}

// lookup returns the token of a live session.
func (ss *sessions) lookup(id string, now time.Time) (string, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v, ok := ss.m[id]
	if !ok {
		return "", false
	}
	if !now.Before(v.expires) {
		delete(ss.m, id)
		return "", false
	}
	return v.token, true
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

// dashboardAuth admits a bearer key or a login session; a browser without
// either is sent to the login form.
func (s *Server) dashboardAuth(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if tok, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer "); ok && tok != "" {
				if err := s.admit(c, tok, scope); err != nil {
					return err
				}
				return next(c)
			}
			if ck, err := c.Cookie(cookieName); err == nil {
				if tok, ok := s.sessions.lookup(ck.Value, time.Now()); ok {
					if err := s.admit(c, tok, scope); err != nil {
						var ae *APIError
						if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
							s.sessions.end(ck.Value) // revoked key: the session ends
						}
						return err
					}
					return next(c)
				}
			}
			if strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html") {
				return c.Redirect(http.StatusSeeOther, loginPath)
			}
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="engage"`)
			return apiErr(http.StatusUnauthorized, "Authorization", "missing bearer API key or dashboard session (log in at "+loginPath+")")
		}
	}
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>engage dashboard: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 28em; margin: 4em auto">
<h1>engage dashboard</h1>
{{if .}}<p role="alert" style="color: #a00">{{.}}</p>{{end}}
<form method="post" action="/dashboard/login">
<label for="key">API key (with the reports scope)</label><br>
<input id="key" name="key" type="password" autocomplete="off" required style="width: 100%"><br><br>
<button type="submit">Log in</button>
</form></body></html>
`))

func (s *Server) renderLogin(c echo.Context, status int, msg string) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().WriteHeader(status)
	return loginPage.Execute(c.Response(), msg)
}

func (s *Server) getLogin(c echo.Context) error { return s.renderLogin(c, http.StatusOK, "") }

func (s *Server) postLogin(c echo.Context) error {
	tok := strings.TrimSpace(c.FormValue("key"))
	if tok == "" {
		return s.renderLogin(c, http.StatusBadRequest, "Enter an API key.")
	}
	now := time.Now()
	key, err := s.resolveKey(tok, now)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return s.renderLogin(c, http.StatusUnauthorized, "That API key is not valid.")
		}
		return err
	}
	if !key.Allows(store.ScopeReports) {
		return s.renderLogin(c, http.StatusForbidden, "That API key lacks the reports scope.")
	}
	id, err := s.sessions.create(tok, s.o.SessionTTL, now)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: cookieName, Value: id, Path: cookiePath, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.Request().TLS != nil, MaxAge: int(s.o.SessionTTL.Seconds())})
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}

func (s *Server) postLogout(c echo.Context) error {
	if ck, err := c.Cookie(cookieName); err == nil {
		s.sessions.end(ck.Value)
	}
	c.SetCookie(&http.Cookie{Name: cookieName, Value: "", Path: cookiePath, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	return c.Redirect(http.StatusSeeOther, loginPath)
}
