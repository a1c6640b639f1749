package compliance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Request is the JSON contract of `engage compliance check` and POST /v1/compliance/check:
// one account, its contact ledger and one planned contact.
type Request struct {
	Account Account `json:"account"`
	Ledger  []Entry `json:"ledger"`
	Contact Contact `json:"contact"`
}

// DecodeRequest reads one request strictly: unknown fields, trailing data and missing
// required fields are errors, because a misspelled "flags" must never read as "no flags".
func DecodeRequest(r io.Reader) (Request, error) {
	var req Request
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("decode request: %w", err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return Request{}, errors.New("decode request: trailing data after the JSON object")
	}
	if err := req.validate(); err != nil {
		return Request{}, err
	}
	return req, nil
}

// UnmarshalRequest is DecodeRequest for a byte slice.
func UnmarshalRequest(b []byte) (Request, error) { return DecodeRequest(bytes.NewReader(b)) }

func (r *Request) validate() error {
	if r.Account.Jurisdiction == "" {
		return errors.New("account.jurisdiction is required")
	}
	if r.Contact.At.IsZero() {
		return errors.New("contact.at is required (RFC 3339)")
	}
	for i, e := range r.Ledger {
		if e.At.IsZero() {
			return fmt.Errorf("ledger[%d].at is required (RFC 3339)", i)
		}
	}
	return nil
}

// Check answers one request: compile the account and ledger, then check the contact.
func (f *Firewall) Check(req Request) (Decision, error) {
	if err := req.validate(); err != nil {
		return Decision{}, err
	}
	s, err := f.Subject(req.Account, req.Ledger)
	if err != nil {
		return Decision{}, err
	}
	return s.Check(req.Contact)
}
