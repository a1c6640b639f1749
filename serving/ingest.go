package serving

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/store"
)

// Account statuses (see the package doc).
const (
	StatusActive   = "active"
	StatusPromised = "promised"
	StatusPaying   = "paying"
	StatusPaid     = "paid"
	StatusDisputed = "disputed"
	StatusCeased   = "ceased"
	StatusClosed   = "closed"
)

// ReferralsRequest is the body of POST /v1/referrals.
type ReferralsRequest struct {
	Accounts []datasets.Account `json:"accounts"`
}

// ReferralsResponse counts what a referral batch did.
type ReferralsResponse struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// EventsRequest is the body of POST /v1/events.
type EventsRequest struct {
	Events []datasets.Event `json:"events"`
}

// EventsResponse reports what an events batch did.
type EventsResponse struct {
	Appended   int            `json:"appended"`
	Duplicates int            `json:"duplicates"`
	Changes    []store.Change `json:"changes"`
}

// decodeBatch decodes {"<list>": [rows...]} row by row, so that a type error
// names its row; it refuses empty and oversize batches.
func decodeBatch[T any](b []byte, list string, maxRows int) ([]T, *APIError) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, jsonError(err, "")
	}
	for k := range raw {
		if k != list {
			return nil, apiErr(http.StatusBadRequest, k, "unknown field")
		}
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(raw[list], &rows); err != nil || raw[list] == nil {
		return nil, apiErr(http.StatusBadRequest, list, "want an array of rows")
	}
	if len(rows) == 0 {
		return nil, apiErr(http.StatusBadRequest, list, "empty batch")
	}
	if len(rows) > maxRows {
		return nil, apiErr(http.StatusRequestEntityTooLarge, list, fmt.Sprintf("batch of %d rows exceeds the limit of %d", len(rows), maxRows))
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		if e := decodeStrict(r, &out[i], fmt.Sprintf("%s[%d]", list, i)); e != nil {
			row := i
			e.Row = &row
			return nil, e
		}
	}
	return out, nil
}

func (s *Server) postReferrals(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	rows, ae := decodeBatch[datasets.Account](b, "accounts", s.o.MaxBatch)
	if ae != nil {
		return ae
	}
	res, err := s.Refer(tenantOf(c), rows)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// Refer validates and upserts a batch of accounts for tenant: the path of POST
// /v1/referrals and of the bootstrap. A bad row refuses the whole batch with
// an *APIError naming it.
func (s *Server) Refer(tenant string, rows []datasets.Account) (ReferralsResponse, error) {
	for i := range rows {
		if rows[i].Tenant != "" && rows[i].Tenant != tenant {
			return ReferralsResponse{}, rowErr(http.StatusForbidden, "accounts", i, "tenant", "rows may only name the API key's own tenant")
		}
	}
	o := datasets.DefaultValidateOptions()
	o.Now = s.now()
	if err := datasets.Validate(rows, o); err != nil {
		if ae := batchError("accounts", err); ae != nil {
			return ReferralsResponse{}, ae
		}
		return ReferralsResponse{}, err
	}
	res, err := s.db.UpsertAccounts(tenant, rows)
	// Invalidate whatever the outcome: a failed batch may have committed parts.
	keys := make([]string, len(rows))
	for i := range rows {
		keys[i] = cacheKey(tenant, rows[i].ID)
	}
	s.accts.drop(keys...)
	s.views.drop(keys...)
	if err != nil {
		if ae := batchError("accounts", err); ae != nil {
			return ReferralsResponse{}, ae
		}
		return ReferralsResponse{}, err
	}
	s.bump(tenant)
	s.m.referrals.WithLabelValues("created").Add(float64(res.Created))
	s.m.referrals.WithLabelValues("updated").Add(float64(res.Updated))
	s.m.referrals.WithLabelValues("unchanged").Add(float64(res.Unchanged))
	return ReferralsResponse{Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged}, nil
}

func (s *Server) postEvents(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	rows, ae := decodeBatch[datasets.Event](b, "events", s.o.MaxBatch)
	if ae != nil {
		return ae
	}
	res, err := s.Ingest(tenantOf(c), rows)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// Ingest validates and appends a batch of events for tenant, updating the
// feature state, status and change feed of each account in the same
// transaction: the path of POST /v1/events and of the bootstrap.
func (s *Server) Ingest(tenant string, rows []datasets.Event) (EventsResponse, error) {
	for i := range rows {
		if rows[i].Tenant != "" && rows[i].Tenant != tenant {
			return EventsResponse{}, rowErr(http.StatusForbidden, "events", i, "tenant", "rows may only name the API key's own tenant")
		}
	}
	o := datasets.DefaultValidateOptions()
	o.Now = s.now()
	if err := datasets.Validate(rows, o); err != nil {
		if ae := batchError("events", err); ae != nil {
			return EventsResponse{}, ae
		}
		return EventsResponse{}, err
	}
	row := make(map[string]int, len(rows))
	for i := range rows {
		row[rows[i].EventID] = i
	}
	res, err := s.db.AppendEvents(tenant, rows, s.hooks(tenant, row))
	// Invalidate the decision views of the batch's accounts, whatever the
	// outcome (a failed batch may have committed parts).
	keys := make([]string, 0, len(rows))
	seen := make(map[string]bool, len(rows))
	for i := range rows {
		if id := rows[i].AccountID; !seen[id] {
			seen[id] = true
			keys = append(keys, cacheKey(tenant, id))
		}
	}
	s.views.drop(keys...)
	if err != nil {
		if ae := batchError("events", err); ae != nil {
			return EventsResponse{}, ae
		}
		return EventsResponse{}, err
	}
	s.bump(tenant)
	s.m.events.WithLabelValues("stored").Add(float64(res.Appended))
	s.m.events.WithLabelValues("duplicate").Add(float64(len(res.Duplicates)))
	if res.Changes == nil {
		res.Changes = []store.Change{}
	}
	return EventsResponse{Appended: res.Appended, Duplicates: len(res.Duplicates), Changes: res.Changes}, nil
}

// lateError refuses an event older than its account's latest by more than the
// tolerance.
type lateError struct {
	row  int
	id   string
	late time.Duration
	tol  time.Duration
}

func (e *lateError) Error() string {
	return fmt.Sprintf("event %s is %s older than the account's latest event; at most %s is accepted", e.id, e.late.Round(time.Second), e.tol)
}

// hooks are the store callbacks that fold new events into the feature state
// and derive the status; row maps event ids to batch rows for errors.
func (s *Server) hooks(tenant string, row map[string]int) store.Apply {
	return store.Apply{
		Features: func(acct string, old []byte, evs []datasets.Event) ([]byte, error) {
			a, err := s.account(tenant, acct)
			if err != nil {
				return nil, err
			}
			st, err := features.Update(old, a, evs)
			if !errors.Is(err, features.ErrOutOfOrder) {
				return st, err
			}
			// Late events: check the tolerance, then rebuild from the whole history.
			prev := features.NewState()
			if err := prev.UnmarshalBinary(old); err != nil {
				return nil, fmt.Errorf("account %s: %w", acct, err)
			}
			for _, e := range evs {
				if late := time.Duration(prev.Last()-e.At) * time.Microsecond; late > s.o.LateTolerance {
					return nil, &lateError{row: row[e.EventID], id: e.EventID, late: late, tol: s.o.LateTolerance}
				}
			}
			hist, err := s.db.Events(tenant, acct, math.MinInt64, math.MaxInt64)
			if err != nil {
				return nil, err
			}
			all := append(hist, evs...)
			slices.SortStableFunc(all, func(x, y datasets.Event) int { return cmp.Compare(x.At, y.At) })
			return features.Update(nil, a, all)
		},
		Status: func(acct, prev string, state []byte, evs []datasets.Event) (string, error) {
			a, err := s.account(tenant, acct)
			if err != nil {
				return "", err
			}
			// paid and closed are final: nextStatus keeps them whatever paid
			// is, so the state need not be decoded.
			paid := int64(0)
			if prev != StatusPaid && prev != StatusClosed {
				st := features.NewState()
				if err := st.UnmarshalBinary(state); err != nil {
					return "", fmt.Errorf("account %s: %w", acct, err)
				}
				paid = paidOf(st, a)
			}
			return nextStatus(prev, paid, a.Row.Balance, evs), nil
		},
	}
}

// idxPaid is the position of amount_paid in the numeric features.
var idxPaid = slices.Index(features.NumericNames(), "amount_paid")

// paidOf is the amount an account has paid, from its feature state.
func paidOf(st *features.State, a *features.Account) int64 {
	if st.Last() == 0 || idxPaid < 0 {
		return 0
	}
	v := st.Read(st.Last(), a, uniformPriors, nil)
	return int64(v[idxPaid])
}

var uniformPriors = features.UniformPriors()

// nextStatus derives an account's status from the previous one and its new
// events (see the package doc).
func nextStatus(prev string, paid, balance int64, evs []datasets.Event) string {
	st := prev
	if st == "" {
		st = StatusActive
	}
	for i := range evs {
		if st == StatusPaid || st == StatusClosed {
			break
		}
		switch evs[i].Type {
		case datasets.EventDispute:
			st = StatusDisputed
		case datasets.EventCease:
			st = StatusCeased
		case datasets.EventPromiseToPay:
			if st != StatusCeased {
				st = StatusPromised
			}
		case datasets.EventPayment:
			if st != StatusCeased {
				st = StatusPaying
			}
		}
	}
	if st != StatusClosed && balance > 0 && paid >= balance {
		st = StatusPaid
	}
	return st
}

// account returns the prepared account (cached); the error is an *APIError
// 404 when the tenant has no such account.
func (s *Server) account(tenant, id string) (*features.Account, error) {
	key := cacheKey(tenant, id)
	if a, ok := s.accts.get(key); ok {
		cp := *a
		return &cp, nil
	}
	gen := s.accts.begin(key)
	row, err := s.db.Account(tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apiErr(http.StatusNotFound, "account_id", "unknown account (refer it first)")
	}
	if err != nil {
		return nil, err
	}
	a, err := features.NewAccount(&row)
	if err != nil {
		return nil, err
	}
	cp := *a
	s.accts.put(key, &cp, gen)
	return a, nil
}
