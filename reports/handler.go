package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Names lists the reports, as they appear in URLs and on the command line.
var Names = []string{"uplift", "model-uplift", "liquidation", "seasonality", "channels"}

// Run computes the named report over the filter's slice.
func (b *Book) Run(name string, f Filter) (Report, error) {
	switch name {
	case "uplift":
		return b.Uplift(f), nil
	case "model-uplift":
		return b.ModelUplift(f), nil
	case "liquidation":
		return b.Liquidation(f), nil
	case "seasonality":
		return b.Seasonality(f), nil
	case "channels":
		return b.Channels(f), nil
	}
	return nil, fmt.Errorf("unknown report %q (want one of %s)", name, strings.Join(Names, ", "))
}

// Books gives the Book of the tenant a request belongs to. It is how the
// JSON handler and the dashboard stay tenant-blind: the mounter (serving)
// authenticates the request, finds its tenant and returns that tenant's data.
type Books struct {
	// Source returns the Source of the request's tenant (typically read from
	// the request context set by the auth middleware).
	Source func(*http.Request) (Source, error)
	// Options are passed to Load.
	Options Options
	// TTL is how long a loaded Book is reused for a Source implementing
	// Keyed with an unchanged key; 0 means 1 minute.
	TTL time.Duration

	mu      sync.Mutex
	cache   map[string]cached
	reports map[string]cachedReport
}

type cachedReport struct {
	rep Report
	at  time.Time
}

// maxCachedReports bounds the report cache; dashboards ask for few filters.
const maxCachedReports = 64

// Report computes (or reuses, for a Keyed source within TTL) the named report
// of the request's tenant, and returns the Book it came from.
func (bs *Books) Report(r *http.Request, name string, f Filter) (Report, *Book, error) {
	b, key, err := bs.book(r)
	if err != nil {
		return nil, nil, err
	}
	if key == "" {
		rep, err := b.Run(name, f)
		return rep, b, err
	}
	key += "\x00" + name + "\x00" + f.Query().Encode()
	bs.mu.Lock()
	c, hit := bs.reports[key]
	bs.mu.Unlock()
	if hit && time.Since(c.at) < bs.ttl() {
		return c.rep, b, nil
	}
	rep, err := b.Run(name, f)
	if err != nil {
		return nil, nil, err
	}
	bs.mu.Lock()
	if bs.reports == nil {
		bs.reports = map[string]cachedReport{}
	}
	if len(bs.reports) >= maxCachedReports {
		for k, c := range bs.reports {
			if time.Since(c.at) >= bs.ttl() || len(bs.reports) >= maxCachedReports {
				delete(bs.reports, k)
			}
		}
	}
	bs.reports[key] = cachedReport{rep, time.Now()}
	bs.mu.Unlock()
	return rep, b, nil
}

func (bs *Books) ttl() time.Duration {
	if bs.TTL <= 0 {
		return time.Minute
	}
	return bs.TTL
}

type cached struct {
	book *Book
	at   time.Time
}

// Book loads (or reuses) the Book of the request's tenant.
func (bs *Books) Book(r *http.Request) (*Book, error) {
	b, _, err := bs.book(r)
	return b, err
}

// book returns the tenant's Book and its cache key ("" when the source is
// not Keyed, so nothing is cached).
func (bs *Books) book(r *http.Request) (*Book, string, error) {
	if bs.Source == nil {
		return nil, "", errors.New("reports: no Source function configured")
	}
	src, err := bs.Source(r)
	if err != nil {
		return nil, "", err
	}
	k, ok := src.(Keyed)
	if !ok {
		b, err := Load(r.Context(), src, bs.Options)
		return b, "", err
	}
	key := k.CacheKey()
	ttl := bs.ttl()
	bs.mu.Lock()
	c, hit := bs.cache[key]
	bs.mu.Unlock()
	if hit && time.Since(c.at) < ttl {
		return c.book, key, nil
	}
	b, err := Load(context.WithoutCancel(r.Context()), src, bs.Options)
	if err != nil {
		return nil, "", err
	}
	bs.mu.Lock()
	if bs.cache == nil {
		bs.cache = map[string]cached{}
	}
	for k, c := range bs.cache {
		if time.Since(c.at) >= ttl {
			delete(bs.cache, k)
		}
	}
	bs.cache[key] = cached{b, time.Now()}
	bs.mu.Unlock()
	return b, key, nil
}

// Handler serves GET /v1/reports/{name} as JSON, name one of Names, with the
// filter in query parameters (see ParseFilter). It does no authentication:
// mount it behind the API-key middleware with the "reports" scope, and let
// Books.Source return only the authenticated tenant's data.
type Handler struct {
	Books *Books
	// Prefix is the path before the report name; "/v1/reports/" when empty.
	Prefix string
}

// ServeHTTP serves one report.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method", "reports are read with GET")
		return
	}
	prefix := h.Prefix
	if prefix == "" {
		prefix = "/v1/reports/"
	}
	name := strings.Trim(strings.TrimPrefix(r.URL.Path, prefix), "/")
	f, err := ParseFilter(r.URL.Query())
	if err != nil {
		field, reason, _ := strings.Cut(err.Error(), ": ")
		writeError(w, http.StatusBadRequest, field, reason)
		return
	}
	if !validName(name) {
		writeError(w, http.StatusNotFound, "report", fmt.Sprintf("unknown report %q (want one of %s)", name, strings.Join(Names, ", ")))
		return
	}
	rep, _, err := h.Books.Report(r, name, f)
	if err != nil {
		slog.Error("reports: load", "report", name, "err", err)
		writeError(w, http.StatusInternalServerError, "data", "could not load the tenant's data")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		slog.Error("reports: encode", "report", name, "err", err)
	}
}

func validName(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}

// writeError writes the API's JSON error: the field at fault and why.
func writeError(w http.ResponseWriter, code int, field, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"field": field, "reason": reason}})
}
