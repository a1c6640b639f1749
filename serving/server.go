package serving

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/serving/engine"
	"github.com/engagehq/engage/store"
)

// Options are the server's knobs. Start from DefaultOptions.
type Options struct {
	// MaxBatch is the most rows one referrals, events or decisions request holds.
	MaxBatch int
	// BatchBodyLimit and BodyLimit cap request bodies of batch routes and of the
	// others, in bytes.
	BatchBodyLimit, BodyLimit int64
	// RateLimit is the sustained requests per second of one API key and
	// RateBurst the bucket size; RateLimit 0 turns limiting off.
	RateLimit float64
	RateBurst int
	// DecisionBudget is how long one account's scoring may take before the
	// decision falls back to business as usual.
	DecisionBudget time.Duration
	// LateTolerance is how much older than an account's latest event a new
	// event may be; such events rebuild the account's features from its history.
	LateTolerance time.Duration
	// Engine configures the decision engine.
	Engine engine.Options
	// ReloadEvery is how often the promoted model is checked for a change made
	// outside the API (engage models promote); 0 turns it off.
	ReloadEvery time.Duration
	// ShutdownTimeout bounds the drain of requests in flight at shutdown.
	ShutdownTimeout time.Duration
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
	// CacheAccounts bounds the per-account caches (prepared accounts,
	// decision views, notices of recent decisions), each an LRU of about this
	// many entries.
	CacheAccounts int
	// SessionTTL is how long a dashboard login (cookie session) lasts.
	SessionTTL time.Duration
	// Now is the clock of decisions without an explicit "now"; nil means
	// time.Now.
	Now func() time.Time
}

// DefaultOptions: batches of 10,000, 32 MiB batch bodies, 1 MiB others, 2,000
// requests/s per key (burst 4,000), a 50 ms decision budget, events up to 72 h
// late.
func DefaultOptions() Options {
	return Options{
		MaxBatch:        10_000,
		BatchBodyLimit:  32 << 20,
		BodyLimit:       1 << 20,
		RateLimit:       2000,
		RateBurst:       4000,
		DecisionBudget:  50 * time.Millisecond,
		LateTolerance:   72 * time.Hour,
		Engine:          engine.DefaultOptions(),
		ReloadEvery:     10 * time.Second,
		ShutdownTimeout: 15 * time.Second,
		CacheAccounts:   100_000,
		SessionTTL:      8 * time.Hour,
	}
}

// Server is the HTTP API over one store. Create it with New.
type Server struct {
	db   *store.DB
	fw   *compliance.Firewall
	eng  *engine.Engine
	reg  *registry.Registry
	o    Options
	log  *slog.Logger
	e    *echo.Echo
	m    *metrics
	now  func() time.Time
	seq  atomic.Uint64
	boot int64

	scorer   atomic.Pointer[servingModel]
	promote  sync.Mutex // serialises model loads and swaps
	draining atomic.Bool

	keys     sync.Map               // sha256(token) -> cachedKey
	buckets  sync.Map               // key id -> *bucket
	accts    lru[*features.Account] // prepared referral rows
	views    lru[*view]             // what decisions read, per account
	notices  noticeCache
	sessions sessions      // dashboard logins
	lookback time.Duration // engine.Lookback of the firewall
}

// servingModel is the scorer in use and what to say about it.
type servingModel struct {
	scorer  engine.Scorer
	version string
	family  string
	hash    string
	loaded  time.Time
	// err is why no model is served (scorer nil), for the fallback reason.
	err string
}

// New builds the server. reg may be nil (no registry: decisions use the
// business-as-usual fallback, or the rate scorer when Options allow).
func New(db *store.DB, fw *compliance.Firewall, reg *registry.Registry, o Options) (*Server, error) {
	if db == nil || fw == nil {
		return nil, errors.New("serving: nil store or firewall")
	}
	d := DefaultOptions()
	if o.MaxBatch <= 0 {
		o.MaxBatch = d.MaxBatch
	}
	if o.BatchBodyLimit <= 0 {
		o.BatchBodyLimit = d.BatchBodyLimit
	}
	if o.BodyLimit <= 0 {
		o.BodyLimit = d.BodyLimit
	}
	if o.RateBurst <= 0 {
		o.RateBurst = max(1, int(2*o.RateLimit))
	}
	if o.DecisionBudget <= 0 {
		o.DecisionBudget = d.DecisionBudget
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = d.ShutdownTimeout
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = d.SessionTTL
	}
	if o.CacheAccounts <= 0 {
		o.CacheAccounts = d.CacheAccounts
	}
	eng, err := engine.New(fw, o.Engine)
	if err != nil {
		return nil, err
	}
	s := &Server{db: db, fw: fw, eng: eng, reg: reg, o: o, log: o.Logger, now: o.Now, boot: time.Now().UnixNano()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.accts.init(o.CacheAccounts)
	s.views.init(o.CacheAccounts)
	s.notices.init(o.CacheAccounts)
	s.lookback = engine.Lookback(fw)
	s.m = newMetrics(db)
	s.scorer.Store(&servingModel{err: "no model is promoted in the registry"})
	if reg == nil {
		s.scorer.Store(&servingModel{err: "no model registry is configured"})
	} else if err := s.reload(); err != nil {
		s.log.Warn("no model served; decisions fall back to business as usual", "err", err)
	}
	s.routes()
	return s, nil
}

// UseScorer serves sc (e.g. engine.RateScorer) instead of the registry's model
// until the next promotion; for tests and registry-less demos.
func (s *Server) UseScorer(sc engine.Scorer) {
	s.promote.Lock()
	defer s.promote.Unlock()
	s.scorer.Store(&servingModel{scorer: sc, version: sc.Version(), family: "builtin", loaded: time.Now()})
	s.m.setModel(sc.Version())
}

// Handler returns the HTTP handler (the echo instance).
func (s *Server) Handler() http.Handler { return s.e }

// Echo returns the echo instance, for route listings (the OpenAPI test).
func (s *Server) Echo() *echo.Echo { return s.e }

// Serve serves on ln until ctx is cancelled, then stops taking connections,
// marks itself not ready, and drains requests in flight (up to
// Options.ShutdownTimeout) before returning.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.e, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, ConnContext: withConn}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(heldListener{ln}) }()
	var stop <-chan time.Time
	if s.reg != nil && s.o.ReloadEvery > 0 {
		t := time.NewTicker(s.o.ReloadEvery)
		defer t.Stop()
		stop = t.C
	}
	for {
		select {
		case err := <-errc:
			return err
		case <-stop:
			if err := s.reloadIfChanged(); err != nil {
				s.log.Warn("model reload", "err", err)
			}
		case <-ctx.Done():
			s.draining.Store(true)
			s.log.Info("shutting down: draining requests in flight")
			sctx, cancel := context.WithTimeout(context.Background(), s.o.ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}
	}
}

// routes builds the echo instance.
func (s *Server) routes() {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.Recover())
	e.Use(s.observe)
	small := middleware.BodyLimit(strconv.FormatInt(s.o.BodyLimit, 10) + "B")
	large := middleware.BodyLimit(strconv.FormatInt(s.o.BatchBodyLimit, 10) + "B")

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(s.m.handler()))
	e.GET("/openapi.json", func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDoc) })

	v1 := e.Group("/v1")
	v1.POST("/referrals", s.postReferrals, large, s.auth(store.ScopeReferrals))
	v1.POST("/events", s.postEvents, large, s.auth(store.ScopeEvents))
	v1.POST("/decisions", s.postDecisions, large, s.auth(store.ScopeDecisions))
	v1.GET("/decisions/:id", s.getDecision, s.auth(store.ScopeDecisions))
	v1.POST("/compliance/check", s.postComplianceCheck, small, s.auth(store.ScopeDecisions))
	v1.GET("/accounts/:id", s.getAccount, s.auth(store.ScopeReferrals))
	v1.GET("/changes", s.getChanges, s.auth(store.ScopeReferrals))
	v1.GET("/models", s.getModels, s.auth(store.ScopeReports))
	v1.POST("/models/:version/promote", s.postPromote, small, s.auth(store.ScopeAdmin))
	s.mountReports(e)
	s.e = e
}

func (s *Server) readyz(c echo.Context) error {
	if s.draining.Load() {
		return apiErr(http.StatusServiceUnavailable, "", "shutting down")
	}
	m := s.scorer.Load()
	body := map[string]any{"status": "ready", "model": m.version}
	if m.scorer == nil {
		body["model"] = nil
		body["fallback"] = m.err
	}
	return c.JSON(http.StatusOK, body)
}

// observe logs each request (method, route template, status, latency, tenant:
// no path parameters, bodies or query strings, which may hold personal data)
// and records its latency.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		d := time.Since(start)
		s.m.observe(route, c.Request().Method, status, d)
		if route != "/metrics" && route != "/healthz" && route != "/readyz" {
			lvl := slog.LevelDebug
			if status >= 500 {
				lvl = slog.LevelError
			} else if status >= 400 {
				lvl = slog.LevelInfo
			}
			// Checked first: building the attributes allocates, and at the
			// default level a 2xx is not logged at all.
			if ctx := c.Request().Context(); s.log.Enabled(ctx, lvl) {
				tenant := ""
				if k, ok := c.Get(ctxKey).(store.Key); ok {
					tenant = k.Tenant
				}
				s.log.LogAttrs(ctx, lvl, "request", slog.String("method", c.Request().Method), slog.String("route", route),
					slog.Int("status", status), slog.Float64("ms", float64(d.Microseconds())/1000), slog.String("tenant", tenant), slog.Int64("bytes", c.Response().Size))
			}
		}
		return nil
	}
}

// ctxKey is where auth leaves the request's store.Key.
const ctxKey = "engage.key"

// cachedKey is an authenticated key, re-checked against the store after a while.
type cachedKey struct {
	key   store.Key
	until time.Time
}

// keyCacheTTL bounds how long a cached authentication is trusted.
const keyCacheTTL = 30 * time.Second

// auth authenticates the bearer key, checks its scope and rate limit, and
// stores the key for the handler: the tenant of the request is the key's.
func (s *Server) auth(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get(echo.HeaderAuthorization)
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || tok == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="engage"`)
				return apiErr(http.StatusUnauthorized, "Authorization", "missing bearer API key")
			}
			if err := s.admit(c, tok, scope); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// admit authenticates tok, checks the scope and the key's rate limit, and
// stores the key for the handler.
func (s *Server) admit(c echo.Context, tok, scope string) error {
	now := time.Now()
	key, err := s.resolveKey(tok, now)
	if err != nil {
		return err
	}
	if !key.Allows(scope) {
		return apiErr(http.StatusForbidden, "Authorization", fmt.Sprintf("the API key lacks the %q scope", scope))
	}
	if !s.allow(key.ID, now) {
		return apiErr(http.StatusTooManyRequests, "", fmt.Sprintf("rate limit of %.0f requests/s for this API key exceeded; retry later", s.o.RateLimit))
	}
	c.Set(ctxKey, key)
	return nil
}

// resolveKey authenticates an API key token (cached for keyCacheTTL).
func (s *Server) resolveKey(tok string, now time.Time) (store.Key, error) {
	sum := sha256.Sum256([]byte(tok))
	if v, ok := s.keys.Load(sum); ok && now.Before(v.(cachedKey).until) {
		return v.(cachedKey).key, nil
	}
	k, err := s.db.Authenticate(tok)
	switch {
	case errors.Is(err, store.ErrUnauthenticated):
		return store.Key{}, apiErr(http.StatusUnauthorized, "Authorization", "invalid API key")
	case errors.Is(err, store.ErrRevoked):
		s.keys.Delete(sum)
		return store.Key{}, apiErr(http.StatusUnauthorized, "Authorization", "API key revoked")
	case err != nil:
		return store.Key{}, err
	}
	s.keys.Store(sum, cachedKey{key: k, until: now.Add(keyCacheTTL)})
	return k, nil
}

// tenantOf returns the tenant of the authenticated request.
func tenantOf(c echo.Context) string { return c.Get(ctxKey).(store.Key).Tenant }

// bucket is one key's token bucket.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// allow takes a token from the key's bucket.
func (s *Server) allow(id string, now time.Time) bool {
	if s.o.RateLimit <= 0 {
		return true
	}
	v, ok := s.buckets.Load(id)
	if !ok {
		v, _ = s.buckets.LoadOrStore(id, &bucket{tokens: float64(s.o.RateBurst), last: now})
	}
	b := v.(*bucket)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(float64(s.o.RateBurst), b.tokens+now.Sub(b.last).Seconds()*s.o.RateLimit)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
