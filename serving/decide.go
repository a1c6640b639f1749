package serving

import (
	"bytes"
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
	var out bytes.Buffer
	out.Grow(len(payloads) * 2048)
	out.WriteString(`{"decisions":[`)
	for i, p := range payloads {
		if i > 0 {
			out.WriteByte(',')
		}
		out.Write(p)
	}
	out.WriteString("]}\n")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, out.Bytes())
}

// Decide decides for each account at now, stores every decision's audit record
// (synced, all or nothing) and returns each decision's JSON. An unknown
// account refuses the whole request with a 404 naming its row, before anything
// is stored.
func (s *Server) Decide(ctx context.Context, tenant string, ids []string, now time.Time) ([][]byte, error) {
	model := s.scorer.Load() // one model for the whole request, even across a swap
	expected := s.db.ExpectDecisions()
	var once sync.Once
	release := func() { once.Do(expected) }
	defer release()
	recs := make([]store.DecisionRecord, len(ids))
	errs := make([]error, len(ids))
	work := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			recs[i], errs[i] = s.decideOne(ctx, tenant, ids[i], now, model)
			if errs[i] != nil {
				return
			}
		}
	}
	if w := runtime.GOMAXPROCS(0); len(ids) >= 64 && w > 1 {
		var wg sync.WaitGroup
		chunk := (len(ids) + w - 1) / w
		for lo := 0; lo < len(ids); lo += chunk {
			wg.Add(1)
			go func(lo, hi int) { defer wg.Done(); work(lo, hi) }(lo, min(lo+chunk, len(ids)))
		}
		wg.Wait()
	} else {
		work(0, len(ids))
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		var ae *APIError
		if errors.As(err, &ae) {
			field := "account_ids"
			if len(ids) == 1 {
				field = "account_id"
			}
			if len(ids) > 1 {
				return nil, rowErr(ae.Status, field, i, "", ae.Reason)
			}
			return nil, apiErr(ae.Status, field, ae.Reason)
		}
		return nil, err
	}
	release()
	if err := s.db.PutDecisions(tenant, recs); err != nil {
		return nil, fmt.Errorf("store decisions: %w", err)
	}
	s.bump(tenant)
	out := make([][]byte, len(recs))
	for i := range recs {
		out[i] = recs[i].Payload
	}
	return out, nil
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
		Account: &acct, State: v.state, Subject: v.sub,
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
	payload, err := encodeAudit(d, l)
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
	return store.DecisionRecord{ID: d.DecisionID, AccountID: id, At: now.UnixMicro(), Payload: payload, Compact: true}, nil
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
	if v.sub, err = s.fw.Subject(ca, ledger); err != nil {
		return nil, fmt.Errorf("decide %s: compliance: %w", id, err)
	}
	s.views.put(key, v, gen)
	return v, nil
}

// encodeAudit encodes the audit record: the decision as answered plus its
// logged-decisions row.
func encodeAudit(d *engine.Decision, l *datasets.Decision) ([]byte, error) {
	return json.Marshal(auditRecord{Decision: d, Logged: l})
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
