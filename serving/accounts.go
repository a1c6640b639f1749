package serving

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/store"
)

// AccountResponse is the body of GET /v1/accounts/{id}: the referral, its
// status and money, and the journey (every event, oldest first).
type AccountResponse struct {
	Account     datasets.Account `json:"account"`
	Status      string           `json:"status"`
	Balance     int64            `json:"balance"`
	Paid        int64            `json:"paid"`
	BalanceLeft int64            `json:"balance_left"`
	Currency    string           `json:"currency"`
	Journey     []datasets.Event `json:"journey"`
}

func (s *Server) getAccount(c echo.Context) error {
	tenant, id := tenantOf(c), c.Param("id")
	a, err := s.account(tenant, id)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			ae.Field = "id"
		}
		return err
	}
	status, err := s.db.Status(tenant, id)
	if err != nil {
		return err
	}
	if status == "" {
		status = StatusActive
	}
	raw, err := s.db.FeatureState(tenant, id)
	if err != nil {
		return err
	}
	st := features.NewState()
	if len(raw) > 0 {
		if err := st.UnmarshalBinary(raw); err != nil {
			return fmt.Errorf("feature state: %w", err)
		}
	}
	evs, err := s.db.Events(tenant, id, math.MinInt64, math.MaxInt64)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []datasets.Event{}
	}
	for i := range evs {
		evs[i].Tenant = ""
	}
	row := a.Row
	row.Tenant = ""
	paid := paidOf(st, a)
	return c.JSON(http.StatusOK, AccountResponse{
		Account: row, Status: status, Balance: row.Balance, Paid: paid,
		BalanceLeft: max(row.Balance-paid, 0), Currency: row.Currency, Journey: evs,
	})
}

// ChangesResponse is the body of GET /v1/changes: the changes after the cursor
// and the cursor to pass next (equal to after when nothing is new).
type ChangesResponse struct {
	Changes []store.Change `json:"changes"`
	Next    uint64         `json:"next"`
}

func (s *Server) getChanges(c echo.Context) error {
	var after uint64
	if v := c.QueryParam("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return apiErr(http.StatusBadRequest, "after", "want a cursor: a non-negative integer from a previous answer's next")
		}
		after = n
	}
	limit := 1000
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.o.MaxBatch {
			return apiErr(http.StatusBadRequest, "limit", fmt.Sprintf("want an integer in 1..%d", s.o.MaxBatch))
		}
		limit = n
	}
	ch, next, err := s.db.Changes(tenantOf(c), after, limit)
	if err != nil {
		return err
	}
	if ch == nil {
		ch = []store.Change{}
	}
	return c.JSON(http.StatusOK, ChangesResponse{Changes: ch, Next: next})
}

// postComplianceCheck answers compliance.Request: would this contact be allowed.
// The request carries its own account and ledger (nothing is read or stored).
func (s *Server) postComplianceCheck(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return apiErr(http.StatusBadRequest, "", "empty body: want a JSON object")
	}
	var probe map[string]any
	if ae := decodeStrict(b, &probe, ""); ae != nil {
		return ae
	}
	req, err := compliance.UnmarshalRequest(b)
	if err != nil {
		return apiErr(http.StatusBadRequest, complianceField(err), err.Error())
	}
	d, err := s.fw.Check(req)
	if err != nil {
		return apiErr(http.StatusUnprocessableEntity, complianceField(err), err.Error())
	}
	return c.JSON(http.StatusOK, d)
}

// complianceField guesses the field a compliance error is about from its text.
func complianceField(err error) string {
	msg := err.Error()
	for _, f := range []string{"account.jurisdiction", "contact.at", "contact.channel", "ledger", "jurisdiction", "time_zone", "preferred_channel", "do_not_contact", "channel", "outcome"} {
		if strings.Contains(msg, f) {
			return f
		}
	}
	return ""
}
