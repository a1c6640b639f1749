package serving

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/reports"
	"github.com/engagehq/engage/reports/dashboard"
	"github.com/engagehq/engage/reports/scoring"
	"github.com/engagehq/engage/store"
)

// keyCtx carries the request's store.Key in the request context, for the
// net/http handlers of reports.
type keyCtx struct{}

// withKey copies the authenticated key into the request context.
func withKey(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		k := c.Get(ctxKey).(store.Key)
		c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), keyCtx{}, k)))
		return next(c)
	}
}

// mountReports serves /v1/reports/{name} and /dashboard behind the reports scope;
// each request sees only its key's tenant. The model-uplift report evaluates
// the registry's uplift model (the promoted one when it is an uplift model,
// else the newest; see reports/scoring) on the tenant's logged decisions, and
// says "no uplift model" when there is none or no registry.
func (s *Server) mountReports(e *echo.Echo) {
	books := &reports.Books{
		Options: reports.Options{Uplift: (&scoring.Registry{Reg: s.reg}).Scorer},
		Source: func(r *http.Request) (reports.Source, error) {
			k, ok := r.Context().Value(keyCtx{}).(store.Key)
			if !ok {
				return nil, errors.New("reports: request without an authenticated key")
			}
			return &storeSource{db: s.db, tenant: k.Tenant, gen: s.generation(k.Tenant)}, nil
		},
	}
	api := echo.WrapHandler(&reports.Handler{Books: books, Prefix: "/v1/reports/"})
	dash := echo.WrapHandler(&dashboard.Handler{Books: books, Prefix: "/dashboard", API: "/v1/reports"})
	auth := s.auth(store.ScopeReports)
	e.GET("/v1/reports/:name", api, auth, withKey)
	dauth := s.dashboardAuth(store.ScopeReports)
	e.GET("/dashboard", dash, dauth, withKey)
	e.GET("/dashboard/*", dash, dauth, withKey)
	e.GET(loginPath, s.getLogin)
	e.POST(loginPath, s.postLogin, middleware.BodyLimit("16K"))
	e.POST(logoutPath, s.postLogout)
}

// gens counts each tenant's writes, so that a report cache key changes when
// the data does.
var gens sync.Map // tenant -> *atomic.Uint64

func (s *Server) generation(tenant string) uint64 {
	v, ok := gens.Load(tenant)
	if !ok {
		return 0
	}
	return v.(*atomic.Uint64).Load()
}

func (s *Server) bump(tenant string) {
	v, ok := gens.Load(tenant)
	if !ok {
		v, _ = gens.LoadOrStore(tenant, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

// storeSource adapts the store to reports.Source for one tenant.
type storeSource struct {
	db     *store.DB
	tenant string
	gen    uint64
}

// CacheKey implements reports.Keyed.
func (s *storeSource) CacheKey() string {
	return fmt.Sprintf("%p\x00%s\x00%s", s.db, s.tenant, strconv.FormatUint(s.gen, 10))
}

// Accounts implements reports.Source.
func (s *storeSource) Accounts(fn func(*datasets.Account) error) error {
	for a, err := range s.db.Accounts(s.tenant) {
		if err != nil {
			return err
		}
		if err := fn(&a); err != nil {
			return err
		}
	}
	return nil
}

// Events implements reports.Source.
func (s *storeSource) Events(fn func(*datasets.Event) error) error {
	for e, err := range s.db.TenantEvents(s.tenant) {
		if err != nil {
			return err
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

// Decisions implements reports.Source: the logged row of every audit record.
func (s *storeSource) Decisions(fn func(*datasets.Decision) error) error {
	for a, err := range s.db.Accounts(s.tenant) {
		if err != nil {
			return err
		}
		recs, err := s.db.Decisions(s.tenant, a.ID, math.MinInt64, math.MaxInt64)
		if err != nil {
			return err
		}
		for _, r := range recs {
			var p struct {
				Logged *datasets.Decision `json:"logged"`
			}
			if json.Unmarshal(r.Payload, &p) != nil || p.Logged == nil {
				continue
			}
			p.Logged.Tenant = s.tenant
			if err := fn(p.Logged); err != nil {
				return err
			}
		}
	}
	return nil
}
