package datasets

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zone checks must agree on a bare machine without /usr/share/zoneinfo
)

// RowError is one problem with one cell (or one whole row, Column empty):
// enough for an operator to find and fix it in the source file.
type RowError struct {
	// Row counts data rows from 1; 0 is the header or the file as a whole.
	Row    int64
	Column string
	Value  string
	Reason string
}

// Error renders the error as "row 12, column type = "foo": unknown event type".
func (e *RowError) Error() string {
	var b strings.Builder
	if e.Row > 0 {
		fmt.Fprintf(&b, "row %d", e.Row)
	} else {
		b.WriteString("header")
	}
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %s", e.Column)
		b.WriteString(" = " + strconv.Quote(clip(e.Value, 80)))
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ValidationError lists the bad rows of a table: the first Errors (capped so a
// wholly broken file cannot exhaust memory) and the Total count.
type ValidationError struct {
	Table  string
	Errors []RowError
	Total  int64
}

// Error summarises; print Errors for the detail.
func (e *ValidationError) Error() string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("%s: %d invalid values", e.Table, e.Total)
	}
	first := e.Errors[0]
	if e.Total == 1 {
		return fmt.Sprintf("%s: %s", e.Table, first.Error())
	}
	return fmt.Sprintf("%s: %d invalid values; first: %s", e.Table, e.Total, first.Error())
}

// ValidateOptions are the knobs of validation.
type ValidateOptions struct {
	// MaxErrors caps the errors kept (all are counted).
	MaxErrors int
	// Now anchors the timestamp horizon; zero means time.Now().
	Now time.Time
	// Horizon is how far after Now a timestamp may lie (scheduled sends).
	Horizon time.Duration
	// SkipDuplicates turns off the duplicate-id check, whose hash set costs
	// 8-16 bytes per row.
	SkipDuplicates bool
}

// DefaultValidateOptions keeps 1000 errors and accepts times from 2000-01-01
// up to a year after now.
func DefaultValidateOptions() ValidateOptions {
	return ValidateOptions{MaxErrors: 1000, Horizon: 366 * 24 * time.Hour}
}

// MinTime is the earliest timestamp a canonical table may hold (2000-01-01 UTC):
// anything earlier is a unit or zero-value bug, not collections history.
var MinTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Validator checks canonical rows one batch at a time, keeping every error
// (up to MaxErrors) and a hash set of ids for the duplicate check.
type Validator[T Row] struct {
	opts   ValidateOptions
	errs   []RowError
	total  int64
	row    int64
	minUS  int64
	maxUS  int64
	ids    idSet
	zones  map[string]bool
	idName string
}

// NewValidator returns a validator for table T.
func NewValidator[T Row](opts ValidateOptions) *Validator[T] {
	d := DefaultValidateOptions()
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = d.MaxErrors
	}
	if opts.Horizon <= 0 {
		opts.Horizon = d.Horizon
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	v := &Validator[T]{opts: opts, minUS: MinTime.UnixMicro(), maxUS: now.Add(opts.Horizon).UnixMicro(), zones: map[string]bool{}}
	return v
}

// Check validates rows, numbering them after those already checked.
func (v *Validator[T]) Check(rows []T) {
	for i := range rows {
		v.row++
		switch x := any(&rows[i]).(type) {
		case *Account:
			v.account(x)
		case *Event:
			v.event(x)
		case *Decision:
			v.decision(x)
		case *Truth:
			v.truth(x)
		}
	}
}

// Add records an error found outside Check (e.g. a CSV parse error).
func (v *Validator[T]) Add(e RowError) {
	v.total++
	if len(v.errs) < v.opts.MaxErrors {
		v.errs = append(v.errs, e)
	}
}

// Rows returns the number of rows checked.
func (v *Validator[T]) Rows() int64 { return v.row }

// Err returns a *ValidationError when any row was bad, else nil.
func (v *Validator[T]) Err() error {
	if v.total == 0 {
		return nil
	}
	return &ValidationError{Table: TableName[T](), Errors: v.errs, Total: v.total}
}

func (v *Validator[T]) bad(col, val, reason string) {
	v.Add(RowError{Row: v.row, Column: col, Value: val, Reason: reason})
}

func (v *Validator[T]) id(col, val string) {
	if val == "" {
		v.bad(col, val, "empty id")
		return
	}
	if strings.TrimSpace(val) != val || strings.ContainsAny(val, "\n\r\t") {
		v.bad(col, val, "id has surrounding or control whitespace")
	}
}

func (v *Validator[T]) unique(col, val string) {
	if v.opts.SkipDuplicates || val == "" {
		return
	}
	if !v.ids.add(val) {
		v.bad(col, val, "duplicate "+col+" within the file")
	}
}

func (v *Validator[T]) when(col string, us int64) {
	switch {
	case us == 0:
		v.bad(col, FormatTime(us), "zero timestamp")
	case us < v.minUS:
		v.bad(col, FormatTime(us), "timestamp before 2000-01-01")
	case us > v.maxUS:
		v.bad(col, FormatTime(us), fmt.Sprintf("timestamp more than %s in the future", v.opts.Horizon))
	}
}

func (v *Validator[T]) currency(col, c string) {
	if !KnownCurrency(c) {
		v.bad(col, c, "unknown ISO 4217 currency")
	}
}

func (v *Validator[T]) zone(col, z string) {
	ok, seen := v.zones[z]
	if !seen {
		ok = ValidZone(z)
		if len(v.zones) < 10000 {
			v.zones[z] = ok
		}
	}
	if !ok {
		v.bad(col, z, "unknown IANA time zone")
	}
}

func (v *Validator[T]) prob(col string, p float64) {
	if isNaNOrInf(p) || p < 0 || p > 1 {
		v.bad(col, strconv.FormatFloat(p, 'g', -1, 64), "not a probability in [0, 1]")
	}
}

func (v *Validator[T]) hour(col string, h int32) {
	if h < 0 || h > 23 {
		v.bad(col, strconv.Itoa(int(h)), "hour not in 0..23")
	}
}

func (v *Validator[T]) account(a *Account) {
	v.id("account_id", a.ID)
	v.unique("account_id", a.ID)
	v.when("referred_at", a.ReferredAt)
	if a.Balance < 0 {
		v.bad("balance", strconv.FormatInt(a.Balance, 10), "negative balance")
	}
	v.currency("currency", a.Currency)
	if indexOf(Products, a.Product) < 0 {
		v.bad("product", a.Product, "unknown product (want one of "+strings.Join(Products, ", ")+")")
	}
	if a.DaysPastDue < 0 {
		v.bad("days_past_due", strconv.Itoa(int(a.DaysPastDue)), "negative days past due")
	}
	if !ValidJurisdiction(a.Jurisdiction) {
		v.bad("jurisdiction", a.Jurisdiction, "not an ISO 3166 code like US, US-MA, CA-ON")
	}
	v.zone("time_zone", a.TimeZone)
	if a.AgeBand != "" && AgeBandIndex(a.AgeBand) < 0 {
		v.bad("age_band", a.AgeBand, "unknown age band (want one of "+strings.Join(AgeBands, ", ")+")")
	}
	if a.Language != "" && !validLanguage(a.Language) {
		v.bad("language", a.Language, "not a language tag like en, fr-CA")
	}
	for _, f := range a.FlagList() {
		if indexOf(Flags, f) < 0 {
			v.bad("flags", a.Flags, fmt.Sprintf("unknown flag %q", f))
		}
	}
}

func (v *Validator[T]) event(e *Event) {
	v.id("event_id", e.EventID)
	v.unique("event_id", e.EventID)
	v.id("account_id", e.AccountID)
	if EventIndex(e.Type) < 0 {
		v.bad("type", e.Type, "unknown event type")
	}
	v.when("at", e.At)
	if e.Channel != "" && ChannelIndex(e.Channel) < 0 {
		v.bad("channel", e.Channel, "unknown channel")
	}
	if e.Channel == "" && e.Type == EventContactSent {
		v.bad("channel", e.Channel, "contact_sent without a channel")
	}
	if e.Message != "" && MessageIndex(e.Message) < 0 {
		v.bad("message", e.Message, "unknown message variant")
	}
	if e.Amount < 0 {
		v.bad("amount", strconv.FormatInt(e.Amount, 10), "negative amount")
	}
	if e.Amount != 0 || e.Currency != "" {
		v.currency("currency", e.Currency)
	}
	if (e.Type == EventPayment || e.Type == EventPromiseToPay) && e.Amount <= 0 {
		v.bad("amount", strconv.FormatInt(e.Amount, 10), e.Type+" without a positive amount")
	}
}

func (v *Validator[T]) decision(d *Decision) {
	v.id("decision_id", d.DecisionID)
	v.unique("decision_id", d.DecisionID)
	v.id("account_id", d.AccountID)
	v.when("at", d.At)
	v.when("send_at", d.SendAt)
	if d.SendAt != 0 && d.At != 0 && d.SendAt < d.At {
		v.bad("send_at", FormatTime(d.SendAt), "send slot before the decision time "+FormatTime(d.At))
	}
	if ChannelIndex(d.Channel) < 0 {
		v.bad("channel", d.Channel, "unknown channel")
	}
	v.hour("local_hour", d.LocalHour)
	if MessageIndex(d.Message) < 0 {
		v.bad("message", d.Message, "unknown message variant")
	}
	v.prob("propensity", d.Propensity)
	if indexOf(Policies, d.Policy) < 0 {
		v.bad("policy", d.Policy, "unknown policy (want one of "+strings.Join(Policies, ", ")+")")
	}
}

func (v *Validator[T]) truth(t *Truth) {
	v.id("account_id", t.AccountID)
	v.unique("account_id", t.AccountID)
	if indexOf(ContactChannels, t.BestChannel) < 0 {
		v.bad("best_channel", t.BestChannel, "not a contact channel")
	}
	v.hour("peak_hour", t.PeakHour)
	v.hour("peak_hour_weekend", t.PeakHourWeekend)
	if indexOf(ActiveTypes, t.ActiveType) < 0 {
		v.bad("active_type", t.ActiveType, "unknown active type (want one of "+strings.Join(ActiveTypes, ", ")+")")
	}
	if MessageIndex(t.BestMessage) < 0 {
		v.bad("best_message", t.BestMessage, "unknown message variant")
	}
	v.prob("affinity_email", t.AffinityEmail)
	v.prob("affinity_sms", t.AffinitySMS)
	v.prob("affinity_call", t.AffinityCall)
	v.prob("affinity_push", t.AffinityPush)
	v.prob("affinity_letter", t.AffinityLetter)
	v.prob("pay_propensity", t.PayPropensity)
	v.prob("complaint_risk", t.ComplaintRisk)
	if t.Payday < 1 || t.Payday > 31 {
		v.bad("payday", strconv.Itoa(int(t.Payday)), "day of month not in 1..31")
	}
}

// Validate checks in-memory rows (an API batch, say) and returns a
// *ValidationError naming every bad row, or nil.
func Validate[T Row](rows []T, opts ValidateOptions) error {
	v := NewValidator[T](opts)
	v.Check(rows)
	return v.Err()
}

// ValidateFile streams a Parquet or CSV file of T rows through the validator.
// It returns a *ValidationError for bad rows; other errors mean the file could
// not be read at all. A CSV cell that does not parse is reported as a row error
// and ends the scan (the row structure after it cannot be trusted).
func ValidateFile[T Row](path string, opts ValidateOptions) (rows int64, err error) {
	r, err := OpenRows[T](path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	v := NewValidator[T](opts)
	buf := make([]T, 4096)
	for {
		n, err := r.Next(buf)
		v.Check(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			var re *RowError
			if errors.As(err, &re) {
				v.Add(*re)
				break
			}
			return v.Rows(), err
		}
	}
	return v.Rows(), v.Err()
}

// idSet is an open-addressing set of 64-bit id hashes: 8 bytes a slot at most
// 3/4 full, so about 11-21 bytes per distinct id. A hash collision between two
// different ids (probability about n²/2⁶⁵, 3·10⁻⁶ at 10M ids) would be reported
// as a duplicate.
type idSet struct {
	slots []uint64
	n     int
}

// idSeed seeds the id hashes; per process, which is enough for a set.
var idSeed = maphash.MakeSeed()

func (s *idSet) add(id string) bool {
	h := maphash.String(idSeed, id)
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	if s.n*4 >= len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			s.n++
			return true
		case h:
			return false
		}
	}
}

func (s *idSet) grow() {
	old := s.slots
	size := max(1024, 2*len(old))
	s.slots = make([]uint64, size)
	mask := uint64(size - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := h & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h
	}
}

// ValidZone reports whether z names an IANA zone in Go's embedded database
// ("UTC" included; "" and "Local" excluded, since they depend on the machine).
func ValidZone(z string) bool {
	if z == "" || z == "Local" || len(z) > 64 {
		return false
	}
	_, err := time.LoadLocation(z)
	return err == nil
}

// ValidJurisdiction reports whether j is an ISO 3166 country code, optionally
// with a subdivision: "US", "US-MA", "CA-ON", "AU-NSW".
func ValidJurisdiction(j string) bool {
	country, sub, hasSub := strings.Cut(j, "-")
	if len(country) != 2 || !isUpper(country) {
		return false
	}
	if !hasSub {
		return true
	}
	if len(sub) < 1 || len(sub) > 3 {
		return false
	}
	for _, c := range sub {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isUpper(s string) bool {
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// validLanguage accepts BCP 47 tags of the simple form ll or ll-RR (also lll).
func validLanguage(l string) bool {
	lang, region, has := strings.Cut(l, "-")
	if len(lang) < 2 || len(lang) > 3 {
		return false
	}
	for _, c := range lang {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	if !has {
		return true
	}
	return (len(region) == 2 && isUpper(region)) || (len(region) == 3 && strings.Trim(region, "0123456789") == "")
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// Flags lists every account flag.
var Flags = []string{FlagDispute, FlagCease, FlagHardship, FlagAttorney, FlagBankruptcy, FlagDeceased}

// Policies lists every decision policy.
var Policies = []string{PolicyBAU, PolicyModel, PolicyRandom, PolicyOracle, PolicyHoldout}

// ActiveTypes lists the synthetic debtors' activity patterns (Truth.ActiveType).
var ActiveTypes = []string{"morning", "lunch", "evening", "night"}

// currencies is the ISO 4217 subset engage accepts: the markets the compliance
// packs cover plus the other widely traded currencies.
var currencies = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`USD CAD GBP EUR AUD NZD CHF JPY CNY HKD SGD INR ZAR MXN BRL
		SEK NOK DKK PLN CZK HUF RON BGN ILS TRY AED SAR KRW TWD THB MYR IDR PHP VND
		CLP COP PEN ARS NGN KES EGP MAD PKR BDT UAH ISK`) {
		currencies[c] = true
	}
}

// KnownCurrency reports whether c is an ISO 4217 code engage accepts.
func KnownCurrency(c string) bool { return currencies[c] }

// MinorUnits returns the number of decimal places of a currency's minor unit
// (2 for most, 0 for JPY, KRW, ...), for turning amounts into display values.
func MinorUnits(c string) int {
	switch c {
	case "JPY", "KRW", "VND", "CLP", "ISK":
		return 0
	}
	return 2
}
