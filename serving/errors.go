package serving

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/store"
)

// APIError is the body of every error answer: the HTTP status, the field (a
// JSON path such as "events[3].type") and batch row (from 0) at fault when
// there is one, and the reason in words.
type APIError struct {
	Status int    `json:"status"`
	Field  string `json:"field,omitempty"`
	Row    *int   `json:"row,omitempty"`
	Reason string `json:"reason"`
}

// Error implements error.
func (e *APIError) Error() string {
	if e.Row != nil {
		return fmt.Sprintf("%d %s row %d: %s", e.Status, e.Field, *e.Row, e.Reason)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Field, e.Reason)
}

// errorBody wraps an APIError as {"error": {...}}.
type errorBody struct {
	Error *APIError `json:"error"`
}

func apiErr(status int, field, reason string) *APIError {
	return &APIError{Status: status, Field: field, Reason: reason}
}

func rowErr(status int, list string, row int, field, reason string) *APIError {
	r := row
	f := fmt.Sprintf("%s[%d]", list, row)
	if field != "" {
		f += "." + field
	}
	return &APIError{Status: status, Field: f, Row: &r, Reason: reason}
}

// batchError turns validation and store row errors into a 4xx naming the row.
func batchError(list string, err error) *APIError {
	var ve *datasets.ValidationError
	if errors.As(err, &ve) && len(ve.Errors) > 0 {
		e := ve.Errors[0]
		reason := e.Reason
		if ve.Total > 1 {
			reason = fmt.Sprintf("%s (and %d more invalid values in the batch)", e.Reason, ve.Total-1)
		}
		return rowErr(http.StatusUnprocessableEntity, list, int(e.Row-1), e.Column, reason)
	}
	var re *store.RowError
	if errors.As(err, &re) {
		return rowErr(http.StatusUnprocessableEntity, list, re.Row, re.Field, re.Reason)
	}
	var le *lateError
	if errors.As(err, &le) {
		return rowErr(http.StatusUnprocessableEntity, list, le.row, "at", le.Error())
	}
	return nil
}

// errorHandler renders every error as JSON. Unknown errors are 500 with a
// generic reason (the detail goes to the log, which carries no personal data
// beyond what the error text holds).
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var ae *APIError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &he):
		reason := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			reason = m
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			reason = "request body exceeds the size limit"
		}
		ae = apiErr(he.Code, "", strings.ToLower(reason))
	default:
		s.log.Error("internal error", "route", c.Path(), "err", err)
		ae = apiErr(http.StatusInternalServerError, "", "internal error")
	}
	if ae.Status == http.StatusTooManyRequests {
		c.Response().Header().Set("Retry-After", "1")
	}
	_ = c.JSON(ae.Status, errorBody{ae})
}

// readBody reads the (size-limited) request body.
func readBody(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, he
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apiErr(http.StatusRequestEntityTooLarge, "", fmt.Sprintf("request body exceeds the limit of %d bytes", mbe.Limit))
		}
		return nil, apiErr(http.StatusBadRequest, "", "cannot read the request body")
	}
	return b, nil
}

// decodeStrict decodes one JSON value into v: unknown fields and trailing data
// are errors; the error names the field. prefix is prepended to field names.
func decodeStrict(b []byte, v any, prefix string) *APIError {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, prefix)
	}
	if dec.More() {
		return apiErr(http.StatusBadRequest, prefix, "trailing data after the JSON value")
	}
	return nil
}

// jsonError maps encoding/json errors to a 400 naming the field.
func jsonError(err error, prefix string) *APIError {
	join := func(f string) string {
		switch {
		case prefix == "":
			return f
		case f == "":
			return prefix
		}
		return prefix + "." + f
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var pe *time.ParseError
	switch {
	case errors.As(err, &pe):
		return apiErr(http.StatusBadRequest, prefix, fmt.Sprintf("not an RFC 3339 time: %q", pe.Value))
	case errors.As(err, &te):
		return apiErr(http.StatusBadRequest, join(te.Field), fmt.Sprintf("wrong type: got a JSON %s, want %s", te.Value, goTypeWord(te.Type.String())))
	case errors.As(err, &se):
		return apiErr(http.StatusBadRequest, prefix, fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se))
	case errors.Is(err, io.EOF):
		return apiErr(http.StatusBadRequest, prefix, "empty body: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apiErr(http.StatusBadRequest, prefix, "truncated JSON")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return apiErr(http.StatusBadRequest, join(strings.Trim(f, `"`)), "unknown field")
	}
	return apiErr(http.StatusBadRequest, prefix, strings.TrimPrefix(msg, "json: "))
}

func goTypeWord(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case t == "time.Time":
		return "an RFC 3339 time string"
	}
	return "an object"
}
