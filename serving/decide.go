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
	var req DecisionsRequest
	if ae := decodeStrict(b, &req, ""); ae != nil {
		if ae.Field == "" && strings.HasPrefix(ae.Reason, "not an RFC 3339 time") {
			ae.Field = "now"
		}
		return ae
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

// respPool holds response buffers; one request's answer is encoded into one
// and written at once.
var respPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// maxPooledResp bounds the buffers kept in respPool (a batch answer may be MBs).
const maxPooledResp = 64 << 10

// writeJSON sends b as a 200 JSON answer with its Content-Length: net/http
// then writes it in one go instead of switching to chunked encoding (and a
// write per chunk) once the body outgrows its 2 KB buffer. b may be reused
// once writeJSON returns.
func writeJSON(c echo.Context, b []byte) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	c.Response().WriteHeader(http.StatusOK)
	_, err := c.Response().Write(b)
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
	// parallel runs f over ids[lo:hi] on the workers and returns the
	// first error (by row) as the request's error.
	parallel := func(lo, hi int, f func(i int) error) error {
		work := func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if errs[i] = f(i); errs[i] != nil {
					return
				}
			}
		}
		if workers == 1 || hi-lo < 64 {
			work(lo, hi)
		} else {
			var wg sync.WaitGroup
			chunk := (hi - lo + workers - 1) / workers
			for a := lo; a < hi; a += chunk {
				wg.Add(1)
				go func(a, b int) { defer wg.Done(); work(a, b) }(a, min(a+chunk, hi))
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
	decide := func(i int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		recs[i], err = s.decideOne(ctx, tenant, ids[i], now, model)
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
		// Check every account first: views are cached for the deciding.
		check := func(i int) error {
			if r := checkAccountID(ids[i]); r != "" {
				return apiErr(http.StatusBadRequest, "account_id", r)
			}
			_, err := s.view(tenant, ids[i], now)
			return err
		}
		if err := parallel(0, len(ids), check); err != nil {
			return nil, err
		}
		var wg sync.WaitGroup
		var putErr error
		var mu sync.Mutex
		for lo := 0; lo < len(ids); lo += pipeChunk {
			hi := min(lo+pipeChunk, len(ids))
			if err := parallel(lo, hi, decide); err != nil {
				wg.Wait()
				return nil, err
			}
			if hi == len(ids) {
				release()
			}
			wg.Add(1)
			go func(part []store.DecisionRecord) {
				defer wg.Done()
				if err := s.db.PutDecisions(tenant, part); err != nil {
					mu.Lock()
					putErr = cmp.Or(putErr, err)
					mu.Unlock()
				}
			}(recs[lo:hi])
		}
		wg.Wait()
		if putErr != nil {
			return nil, fmt.Errorf("store decisions: %w", putErr)
		}
	}
	s.bump(tenant)
	out := make([][]byte, len(recs))
	for i := range recs {
		out[i] = recs[i].Payload
	}
	return out, nil
}

// pipeChunk is how many decisions of a large batch are stored together while
// the next ones are decided.
const pipeChunk = 256

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
	if r := checkAccountID(id); r != "" {
		return store.DecisionRecord{}, apiErr(http.StatusBadRequest, "account_id", r)
	}
	v, err := s.view(tenant, id, now)
	if err != nil {
		return store.DecisionRecord{}, err
	}
	acct := *v.acct // a private copy: Account caches lookups inside
	in := &engine.Input{
		Tenant: tenant, DecisionID: s.newDecisionID(tenant, id, now), Now: now,
		Account: &acct, State: v.state, Subject: v.sub, NoRules: v.noRules,
	}
	dctx, cancel := context.WithTimeout(ctx, s.o.DecisionBudget)
	defer cancel()
	d, err := s.eng.Decide(dctx, in, model.scorer, model.err)
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
	s.notices.put(cacheKey(tenant, d.DecisionID), notices, s.notices.begin(cacheKey(tenant, d.DecisionID)))
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

// view returns what a decision at now reads about an account: from the cache
// when it holds the account with a ledger detailed enough for now, else read
// from the store (and cached).
func (s *Server) view(tenant, id string, now time.Time) (*view, error) {
	key := cacheKey(tenant, id)
	need := now.Add(-s.lookback).UnixMicro()
	if v, ok := s.views.get(key); ok && v.cutoff <= need {
		return v, nil
	}
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
