package serving

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/serving/engine"
	"github.com/engagehq/engage/store"
)

// DecisionsRequest is the body of POST /v1/decisions: one account_id or up to
// MaxBatch account_ids, decided at now (default: the server clock).
type DecisionsRequest struct {
	AccountID  string     `json:"account_id,omitempty"`
	AccountIDs []string   `json:"account_ids,omitempty"`
	Now        *time.Time `json:"now,omitempty"`
}

// DecisionsResponse holds one decision per requested account, in order.
type DecisionsResponse struct {
	Decisions []engine.Decision `json:"decisions"`
}

// auditRecord is the stored audit payload: the decision as answered plus its
// logged-decisions row (the training and reporting format).
type auditRecord struct {
	*engine.Decision
	Logged *datasets.Decision `json:"logged,omitempty"`
}

// decisionIDPrefix marks the ids this server makes: only those are looked up
// for the notices their contact carried.
const decisionIDPrefix = "dc_"

// newDecisionID is unique per process run (boot time, counter) and per tenant
// and account; it is also the exploration seed's second half.
func (s *Server) newDecisionID(tenant, account string, at time.Time) string {
	h := fnv.New128a()
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(s.boot))
	binary.LittleEndian.PutUint64(b[8:], s.seq.Add(1))
	binary.LittleEndian.PutUint64(b[16:], uint64(at.UnixNano()))
	h.Write(b[:])
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write([]byte(account))
	return decisionIDPrefix + hex.EncodeToString(h.Sum(nil))
}

func (s *Server) postDecisions(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	req, ok := parseDecisionsRequest(b)
	if !ok {
		if ae := decodeStrict(b, &req, ""); ae != nil {
			if ae.Field == "" && strings.HasPrefix(ae.Reason, "not an RFC 3339 time") {
				ae.Field = "now"
			}
			return ae
		}
	}
	ids := req.AccountIDs
	switch {
	case req.AccountID != "" && len(ids) > 0:
		return apiErr(http.StatusBadRequest, "account_id", "give account_id or account_ids, not both")
	case req.AccountID != "":
		ids = []string{req.AccountID}
	case len(ids) == 0:
		return apiErr(http.StatusBadRequest, "account_id", "missing: give account_id or account_ids")
	case len(ids) > s.o.MaxBatch:
		return apiErr(http.StatusRequestEntityTooLarge, "account_ids", fmt.Sprintf("batch of %d accounts exceeds the limit of %d", len(ids), s.o.MaxBatch))
	}
	now := s.now()
	if req.Now != nil {
		now = *req.Now
	}
	payloads, err := s.Decide(c.Request().Context(), tenantOf(c), ids, now)
	if err != nil {
		return err
	}
	n := len(`{"decisions":[]}`) + 1
	for _, p := range payloads {
		n += len(p) + 1
	}
	bp := respPool.Get().(*[]byte)
	out := (*bp)[:0]
	if cap(out) < n {
		out = make([]byte, 0, n)
	}
	out = append(out, `{"decisions":[`...)
	for i, p := range payloads {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, p...)
	}
	out = append(out, "]}\n"...)
	err = writeJSON(c, out)
	if cap(out) <= maxPooledResp {
		*bp = out[:0]
		respPool.Put(bp)
	}
	return err
}

// parseDecisionsRequest reads the common body of a one-account decision,
// {"account_id":"…","now":"…"} (either key may be missing, in either order,
// with JSON whitespace), without encoding/json's reflection and scanner:
// 0.1 µs and two allocations instead of 2.4 µs and ten. It declines (ok
// false) whatever else it meets, escapes, non-ASCII, other keys, repeated
// keys, null, arrays, and trailing data included, and decodeStrict decides
// those; whatever it accepts, decodeStrict would decode to the same request
// (FuzzParseDecisionsRequest checks it).
func parseDecisionsRequest(b []byte) (req DecisionsRequest, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return req, false
	}
	var seenID, seenNow bool
	for i = skipWS(b, i+1); ; {
		k0, k1, next, ok := plainString(b, i)
		if !ok {
			return DecisionsRequest{}, false
		}
		if i = skipWS(b, next); i >= len(b) || b[i] != ':' {
			return DecisionsRequest{}, false
		}
		v0, v1, next, ok := plainString(b, skipWS(b, i+1))
		if !ok {
			return DecisionsRequest{}, false
		}
		switch key := b[k0:k1]; {
		case string(key) == "account_id" && !seenID:
			seenID = true
			req.AccountID = string(b[v0:v1])
		case string(key) == "now" && !seenNow:
			seenNow = true
			var t time.Time
			if t.UnmarshalJSON(b[v0-1:v1+1]) != nil {
				return DecisionsRequest{}, false
			}
			req.Now = &t
		default:
			return DecisionsRequest{}, false
		}
		if i = skipWS(b, next); i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i >= len(b) || b[i] != '}' || skipWS(b, i+1) != len(b) {
			return DecisionsRequest{}, false
		}
		return req, true
	}
}

// skipWS returns the index of the first byte at or after i that is not JSON
// whitespace.
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString finds the JSON string starting at b[i] when it holds printable
// ASCII only and no escapes: its contents are b[lo:hi] and it ends before
// next.
func plainString(b []byte, i int) (lo, hi, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return i + 1, j, j + 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return 0, 0, 0, false
		}
	}
	return 0, 0, 0, false
}

// respPool holds response buffers; one request's answer is encoded into one
// and written at once.
var respPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// maxPooledResp bounds the buffers kept in respPool (a batch answer may be MBs).
const maxPooledResp = 64 << 10

// writeJSON sends b as a 200 JSON answer with its Content-Length: net/http
// then writes it in one go instead of switching to chunked encoding (and a
// write per chunk) once the body outgrows its 2 KB buffer. On a connection
// Serve accepted, an answer larger than net/http's 4 KiB connection buffer
// goes out in one write too, headers included (see heldConn). b may be
// reused once writeJSON returns.
func writeJSON(c echo.Context, b []byte) error {
	res := c.Response()
	h := res.Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	hc := heldConnOf(c.Request())
	fl, ok := res.Writer.(http.Flusher)
	if hc == nil || !ok || len(b) < 3<<10 || len(b) > maxHeld {
		res.WriteHeader(http.StatusOK)
		_, err := res.Write(b)
		return err
	}
	hc.hold()
	defer hc.release() // no-op after the release below; sends what is held on a panic
	res.WriteHeader(http.StatusOK)
	_, err := res.Write(b)
	if err == nil {
		fl.Flush() // hands the headers and the whole body to hc
	}
	if e := hc.release(); err == nil {
		err = e
	}
	return err
}

// Decide decides for each account at now, stores every decision's audit record
// (synced) and returns each decision's JSON. An unknown account refuses the
// whole request with a 404 naming its row, before anything is stored.
//
// A large batch is stored in chunks while it is decided: the sync of one
// chunk's records overlaps the deciding of the next, so both cores keep
// working. Every account is checked first (unknown ids, bad ids), so a
// request refused for its input stores nothing; only a failure of the store
// itself (or of the engine, a bug) part way leaves the earlier chunks'
// records stored: audit records of decisions never answered, like any
// decision whose contact the client does not send.
func (s *Server) Decide(ctx context.Context, tenant string, ids []string, now time.Time) ([][]byte, error) {
	model := s.scorer.Load() // one model for the whole request, even across a swap
	if len(ids) == 1 {
		return s.decideSingle(ctx, tenant, ids, now, model)
	}
	expected := s.db.ExpectDecisions()
	var once sync.Once
	release := func() { once.Do(expected) }
	defer release()
	recs := make([]store.DecisionRecord, len(ids))
	errs := make([]error, len(ids))
	workers := 1
	if w := runtime.GOMAXPROCS(0); len(ids) >= 64 && w > 1 {
		workers = w
	}
	// parallel runs f over ids[lo:hi] on the workers, which take grains of
	// rows from one counter (none idles while the other has work left), and
	// returns the first error (by row) as the request's error.
	parallel := func(lo, hi int, f func(i int) error) error {
		if workers == 1 || hi-lo < 64 {
			for i := lo; i < hi; i++ {
				if errs[i] = f(i); errs[i] != nil {
					break
				}
			}
		} else {
			var next atomic.Int64
			var failed atomic.Bool
			next.Store(int64(lo))
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !failed.Load() {
						a := int(next.Add(pipeGrain)) - pipeGrain
						if a >= hi {
							return
						}
						for i := a; i < min(a+pipeGrain, hi); i++ {
							if errs[i] = f(i); errs[i] != nil {
								failed.Store(true)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
		}
		for i := lo; i < hi; i++ {
			if errs[i] != nil {
				return s.rowError(ids, i, errs[i])
			}
		}
		return nil
	}
	var views []*view // of a large batch: read once, by the check
	decide := func(i int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		var v *view
		if views != nil {
			v = views[i]
		}
		recs[i], err = s.decideView(ctx, tenant, ids[i], now, model, v)
		return err
	}
	if len(ids) < 2*pipeChunk {
		if err := parallel(0, len(ids), decide); err != nil {
			return nil, err
		}
		release()
		if err := s.db.PutDecisions(tenant, recs); err != nil {
			return nil, fmt.Errorf("store decisions: %w", err)
		}
	} else {
		// Check every account first, keeping the views for the deciding.
		views = make([]*view, len(ids))
		check := func(i int) error {
			if r := checkAccountID(ids[i]); r != "" {
				return apiErr(http.StatusBadRequest, "account_id", r)
			}
			var err error
			views[i], err = s.view(tenant, ids[i], now)
			return err
		}
		if err := parallel(0, len(ids), check); err != nil {
			return nil, err
		}
		if err := s.pipeline(tenant, ids, recs, errs, workers, decide, release); err != nil {
			return nil, err
		}
	}
	s.bump(tenant)
	out := make([][]byte, len(recs))
	for i := range recs {
		out[i] = recs[i].Payload
	}
	return out, nil
}

// decideSingle is Decide for one account: the same steps, without the
// worker and pipeline machinery a batch needs (its closures, per-row slices
// and sync.Once were a tenth of a one-account decision's allocations).
func (s *Server) decideSingle(ctx context.Context, tenant string, ids []string, now time.Time, model *servingModel) ([][]byte, error) {
	release := s.db.ExpectDecisions()
	if err := ctx.Err(); err != nil {
		release()
		return nil, s.rowError(ids, 0, err)
	}
	one := &struct { // the record the store keeps and the answer: one allocation
		rec [1]store.DecisionRecord
		out [1][]byte
	}{}
	var err error
	one.rec[0], err = s.decideView(ctx, tenant, ids[0], now, model, nil)
	release()
	if err != nil {
		return nil, s.rowError(ids, 0, err)
	}
	if err := s.db.PutDecisions(tenant, one.rec[:]); err != nil {
		return nil, fmt.Errorf("store decisions: %w", err)
	}
	s.bump(tenant)
	one.out[0] = one.rec[0].Payload
	return one.out[:], nil
}

// pipeChunk is how many decisions of a large batch are stored together while
// the next ones are decided; pipeGrain is how many a worker takes at a time
// (pipeChunk is a multiple of it, so a grain never straddles two chunks).
const (
	pipeChunk = 256
	pipeGrain = 16
)

// pipeline decides a large batch on the workers and stores it chunk by
// chunk: a chunk goes to the store as soon as its last decision is made,
// while the workers go on with the next ones. Workers take grains from one
// counter over the whole batch, so none waits at a chunk's end for the
// other to finish its half (the fork-join per chunk this replaces left a
// core idle for the slower half of every chunk). A failed decision stops
// the workers; the error of its lowest row is the request's. Chunks
// complete out of order; release runs before the last one is stored.
func (s *Server) pipeline(tenant string, ids []string, recs []store.DecisionRecord, errs []error, workers int, decide func(i int) error, release func()) error {
	nchunks := (len(ids) + pipeChunk - 1) / pipeChunk
	left := make([]atomic.Int32, nchunks)
	for c := range left {
		left[c].Store(int32(min(pipeChunk, len(ids)-c*pipeChunk)))
	}
	var (
		next, done   atomic.Int64
		failed       atomic.Bool
		work, stores sync.WaitGroup
		mu           sync.Mutex
		putErr       error
	)
	for range workers {
		work.Add(1)
		go func() {
			defer work.Done()
			for !failed.Load() {
				lo := int(next.Add(pipeGrain)) - pipeGrain
				if lo >= len(ids) {
					return
				}
				hi := min(lo+pipeGrain, len(ids))
				for i := lo; i < hi; i++ {
					if errs[i] = decide(i); errs[i] != nil {
						failed.Store(true)
						return
					}
				}
				c := lo / pipeChunk
				if left[c].Add(-int32(hi-lo)) != 0 {
					continue
				}
				if done.Add(1) == int64(nchunks) {
					release()
				}
				stores.Add(1)
				go func(part []store.DecisionRecord) {
					defer stores.Done()
					if err := s.db.PutDecisions(tenant, part); err != nil {
						mu.Lock()
						putErr = cmp.Or(putErr, err)
						mu.Unlock()
					}
				}(recs[c*pipeChunk : min((c+1)*pipeChunk, len(ids))])
			}
		}()
	}
	work.Wait()
	stores.Wait()
	for i := range errs {
		if errs[i] != nil {
			return s.rowError(ids, i, errs[i])
		}
	}
	if putErr != nil {
		return fmt.Errorf("store decisions: %w", putErr)
	}
	return nil
}

// rowError turns the error of row i of a decisions request into the
// request's answer: a 4xx naming the row for input errors, else err.
func (s *Server) rowError(ids []string, i int, err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	if len(ids) > 1 {
		return rowErr(ae.Status, "account_ids", i, "", ae.Reason)
	}
	return apiErr(ae.Status, "account_id", ae.Reason)
}

// decideOne reads one account's inputs (from the view cache when it can),
// decides, and encodes the audit record.
func (s *Server) decideOne(ctx context.Context, tenant, id string, now time.Time, model *servingModel) (store.DecisionRecord, error) {
	return s.decideView(ctx, tenant, id, now, model, nil)
}

// decideView is decideOne with the account's view when the caller read it
// already (a large batch reads every view while checking its ids); nil
// reads it.
func (s *Server) decideView(ctx context.Context, tenant, id string, now time.Time, model *servingModel, v *view) (store.DecisionRecord, error) {
	if v == nil {
		if r := checkAccountID(id); r != "" {
			return store.DecisionRecord{}, apiErr(http.StatusBadRequest, "account_id", r)
		}
		var err error
		if v, err = s.view(tenant, id, now); err != nil {
			return store.DecisionRecord{}, err
		}
	}
	// The account's private copy (Account caches lookups inside) and the
	// budget (a context) both outlive this frame for the engine: one
	// allocation holds both.
	sc := &decideScratch{acct: *v.acct, bud: budget{ctx, time.Now().Add(s.o.DecisionBudget)}}
	in := &engine.Input{
		Tenant: tenant, DecisionID: s.newDecisionID(tenant, id, now), Now: now,
		Account: &sc.acct, State: v.state, Subject: v.sub, NoRules: v.noRules,
	}
	d, err := s.eng.Decide(&sc.bud, in, model.scorer, model.err)
	if err != nil {
		return store.DecisionRecord{}, err
	}
	var l *datasets.Decision
	if row, ok := d.Logged(tenant); ok {
		row.Tenant = ""
		l = &row
	}
	at := now.UnixMicro()
	var hb [160]byte
	head, inPlace := store.AppendDecisionHead(hb[:0], d.DecisionID, id, at)
	if !inPlace {
		head = nil
	}
	payload, stored, err := encodeAuditIn(d, l, head)
	if err != nil {
		return store.DecisionRecord{}, fmt.Errorf("encode decision: %w", err)
	}
	notices := make([]string, len(d.Compliance.Notices))
	for i, n := range d.Compliance.Notices {
		notices[i] = n.ID
	}
	s.notices.set(cacheKey(tenant, d.DecisionID), notices)
	ch, fb := "none", "false"
	if d.Action != nil {
		ch = d.Action.Channel
	}
	if d.Fallback != "" {
		fb = "true"
	}
	s.m.decision(d.Outcome, ch, d.Policy, fb)
	// payload comes from json.Marshal: the store need not scan it again.
	return store.DecisionRecord{ID: d.DecisionID, AccountID: id, At: at, Payload: payload, Stored: stored, Compact: true, Fresh: true}, nil
}

// decideScratch is what one decision hands the engine and must live on the
// heap.
type decideScratch struct {
	acct features.Account
	bud  budget
}

// budget is a decision's scoring budget: ctx with a deadline that Err
// reports once passed, without the timer (and its allocations and locked
// timer-heap updates, about a microsecond per decision) that
// context.WithTimeout sets up. Done does not close at the deadline, only
// with the parent: the engine polls Err between its stages, it never waits
// on Done.
type budget struct {
	context.Context
	deadline time.Time
}

// Deadline implements context.Context.
func (b budget) Deadline() (time.Time, bool) {
	if d, ok := b.Context.Deadline(); ok && d.Before(b.deadline) {
		return d, true
	}
	return b.deadline, true
}

// Err implements context.Context.
func (b budget) Err() error {
	if err := b.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(b.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// view returns what a decision at now reads about an account: from the cache
// when it holds the account with a ledger detailed enough for now, else read
// from the store (and cached).
func (s *Server) view(tenant, id string, now time.Time) (*view, error) {
	var kb [128]byte
	kbuf := appendCacheKey(kb[:0], tenant, id)
	need := now.Add(-s.lookback).UnixMicro()
	if v, ok := s.views.getBytes(kbuf); ok && v.cutoff <= need {
		return v, nil
	}
	key := string(kbuf)
	gen := s.views.begin(key)
	acct, err := s.account(tenant, id)
	if err != nil {
		return nil, err
	}
	raw, err := s.db.FeatureState(tenant, id)
	if err != nil {
		return nil, err
	}
	v := &view{acct: acct}
	if len(raw) > 0 {
		v.state = features.NewState()
		if err := v.state.UnmarshalBinary(raw); err != nil {
			return nil, fmt.Errorf("feature state of an account: %w", err)
		}
	}
	evs, err := s.db.Events(tenant, id, math.MinInt64, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	ca, ledger := engine.FromEvents(&acct.Row, evs, func(did string) []string { return s.noticesOf(tenant, did) })
	// Keep a week of slack before the lookback, so that the cached view serves
	// the decisions of the coming week without a rebuild.
	cut := now.Add(-s.lookback - 7*24*time.Hour)
	ledger = engine.PruneLedger(ledger, cut)
	v.cutoff = cut.UnixMicro()
	// An account in a jurisdiction without a rule pack is not an error: its
	// decisions fail closed (no contact, with the reason).
	if v.noRules = s.eng.NoRules(ca.Jurisdiction); v.noRules == "" {
		if v.sub, err = s.fw.Subject(ca, ledger); err != nil {
			return nil, fmt.Errorf("decide %s: compliance: %w", id, err)
		}
	}
	s.views.put(key, v, gen)
	return v, nil
}

// noticesOf returns the notices decision id told its contact to carry; ids
// not made by this server carry none.
func (s *Server) noticesOf(tenant, id string) []string {
	if !strings.HasPrefix(id, decisionIDPrefix) {
		return nil
	}
	key := cacheKey(tenant, id)
	gen := s.notices.begin(key)
	if n, ok := s.notices.get(key); ok {
		return n
	}
	var n []string
	if r, err := s.db.Decision(tenant, id); err == nil {
		var p struct {
			Compliance struct {
				Notices []struct {
					ID string `json:"id"`
				} `json:"notices"`
			} `json:"compliance"`
		}
		if json.Unmarshal(r.Payload, &p) == nil {
			for _, x := range p.Compliance.Notices {
				n = append(n, x.ID)
			}
		}
	}
	s.notices.put(key, n, gen)
	return n
}

// checkAccountID refuses ids the store could never hold.
func checkAccountID(id string) string {
	switch {
	case id == "":
		return "empty account id"
	case len(id) > 256:
		return "account id longer than 256 bytes"
	case strings.TrimSpace(id) != id || strings.ContainsAny(id, "\x00\n\r\t"):
		return "account id has surrounding or control whitespace"
	}
	return ""
}

func (s *Server) getDecision(c echo.Context) error {
	r, err := s.db.Decision(tenantOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return apiErr(http.StatusNotFound, "id", "unknown decision")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
