package datasets

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var vnow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func vopts() ValidateOptions { o := DefaultValidateOptions(); o.Now = vnow; return o }

// expectErrors validates rows and checks the errors are exactly want (as
// "row column: reason-substring"), in order.
func expectErrors[T Row](t *testing.T, rows []T, want []string) {
	t.Helper()
	err := Validate(rows, vopts())
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	if int(ve.Total) != len(want) || len(ve.Errors) != len(want) {
		t.Fatalf("got %d errors %v, want %d %v", ve.Total, ve.Errors, len(want), want)
	}
	for i, w := range want {
		col, reason, _ := strings.Cut(w, ": ")
		e := ve.Errors[i]
		if e.Column != col || !strings.Contains(e.Reason, reason) {
			t.Errorf("error %d: got %s (column %s), want column %s reason %q", i, e.Error(), e.Column, col, reason)
		}
	}
}

func goodEvent() Event {
	return Event{EventID: "e1", AccountID: "a1", Type: EventPayment, At: vnow.Add(-time.Hour).UnixMicro(), Channel: ChannelSMS, Amount: 100, Currency: "USD"}
}

func TestValidateEvents(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Event)
		want []string
	}{
		{"good", func(*Event) {}, nil},
		{"empty id", func(e *Event) { e.EventID = "" }, []string{"event_id: empty id"}},
		{"empty account", func(e *Event) { e.AccountID = "" }, []string{"account_id: empty id"}},
		{"padded id", func(e *Event) { e.EventID = " e1" }, []string{"event_id: whitespace"}},
		{"unknown type", func(e *Event) { e.Type = "paid" }, []string{"type: unknown event type"}},
		{"unknown channel", func(e *Event) { e.Channel = "fax" }, []string{"channel: unknown channel"}},
		{"unknown message", func(e *Event) { e.Message = "rude" }, []string{"message: unknown message variant"}},
		{"negative amount", func(e *Event) { e.Amount = -5 }, []string{"amount: negative amount", "amount: without a positive amount"}},
		{"payment without amount", func(e *Event) { e.Amount = 0 }, []string{"amount: without a positive amount"}},
		{"unknown currency", func(e *Event) { e.Currency = "XXY" }, []string{"currency: unknown ISO 4217"}},
		{"lower-case currency", func(e *Event) { e.Currency = "usd" }, []string{"currency: unknown ISO 4217"}},
		{"zero time", func(e *Event) { e.At = 0 }, []string{"at: zero timestamp"}},
		{"1999", func(e *Event) { e.At = time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMicro() }, []string{"at: before 2000"}},
		{"ms not us", func(e *Event) { e.At = vnow.UnixMilli() }, []string{"at: before 2000"}},
		{"far future", func(e *Event) { e.At = vnow.AddDate(2, 0, 0).UnixMicro() }, []string{"at: in the future"}},
		{"contact without channel", func(e *Event) { e.Type, e.Channel, e.Amount, e.Currency = EventContactSent, "", 0, "" }, []string{"channel: contact_sent without a channel"}},
		{"two at once", func(e *Event) { e.Type, e.Currency = "x", "" }, []string{"type: unknown event type", "currency: unknown ISO 4217"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := goodEvent()
			c.mod(&e)
			expectErrors(t, []Event{e}, c.want)
		})
	}
	t.Run("duplicate", func(t *testing.T) {
		e := goodEvent()
		f := e
		f.EventID = "e2"
		err := Validate([]Event{e, f, e}, vopts())
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Total != 1 || ve.Errors[0].Row != 3 || !strings.Contains(ve.Errors[0].Reason, "duplicate event_id") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestValidateAccounts(t *testing.T) {
	good := Account{ID: "a1", ReferredAt: vnow.Add(-time.Hour).UnixMicro(), Balance: 1000, Currency: "GBP", Product: "credit_card", DaysPastDue: 30, Jurisdiction: "GB", TimeZone: "Europe/London", AgeBand: "25-34", Language: "en"}
	cases := []struct {
		name string
		mod  func(*Account)
		want []string
	}{
		{"good", func(*Account) {}, nil},
		{"subdivision", func(a *Account) { a.Jurisdiction, a.TimeZone = "AU-NSW", "Australia/Sydney" }, nil},
		{"empty id", func(a *Account) { a.ID = "" }, []string{"account_id: empty id"}},
		{"negative balance", func(a *Account) { a.Balance = -1 }, []string{"balance: negative"}},
		{"negative dpd", func(a *Account) { a.DaysPastDue = -3 }, []string{"days_past_due: negative"}},
		{"bad zone", func(a *Account) { a.TimeZone = "Mars/Olympus" }, []string{"time_zone: unknown IANA"}},
		{"empty zone", func(a *Account) { a.TimeZone = "" }, []string{"time_zone: unknown IANA"}},
		{"local zone", func(a *Account) { a.TimeZone = "Local" }, []string{"time_zone: unknown IANA"}},
		{"lower jurisdiction", func(a *Account) { a.Jurisdiction = "us-ma" }, []string{"jurisdiction: ISO 3166"}},
		{"long subdivision", func(a *Account) { a.Jurisdiction = "US-MASS" }, []string{"jurisdiction: ISO 3166"}},
		{"empty jurisdiction", func(a *Account) { a.Jurisdiction = "" }, []string{"jurisdiction: ISO 3166"}},
		{"currency", func(a *Account) { a.Currency = "" }, []string{"currency: unknown ISO 4217"}},
		{"product", func(a *Account) { a.Product = "mortgage" }, []string{"product: unknown product"}},
		{"age band", func(a *Account) { a.AgeBand = "20-30" }, []string{"age_band: unknown age band"}},
		{"language", func(a *Account) { a.Language = "English" }, []string{"language: language tag"}},
		{"flag", func(a *Account) { a.Flags = "dispute,vip" }, []string{`flags: unknown flag "vip"`}},
		{"referred zero", func(a *Account) { a.ReferredAt = 0 }, []string{"referred_at: zero timestamp"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := good
			c.mod(&a)
			expectErrors(t, []Account{a}, c.want)
		})
	}
}

func TestValidateDecisionsAndTruth(t *testing.T) {
	at := vnow.Add(-time.Hour).UnixMicro()
	good := Decision{DecisionID: "d1", AccountID: "a1", At: at, SendAt: at + 3600e6, Channel: ChannelEmail, LocalHour: 10, Message: MessageFirm, Propensity: 0.2, Policy: PolicyModel}
	cases := []struct {
		name string
		mod  func(*Decision)
		want []string
	}{
		{"good", func(*Decision) {}, nil},
		{"hour", func(d *Decision) { d.LocalHour = 24 }, []string{"local_hour: hour not in 0..23"}},
		{"propensity", func(d *Decision) { d.Propensity = 1.5 }, []string{"propensity: not a probability"}},
		{"nan propensity", func(d *Decision) { d.Propensity = math.NaN() }, []string{"propensity: not a probability"}},
		{"send before decision", func(d *Decision) { d.SendAt = at - 1 }, []string{"send_at: before the decision time"}},
		{"policy", func(d *Decision) { d.Policy = "gut" }, []string{"policy: unknown policy"}},
		{"channel", func(d *Decision) { d.Channel = "" }, []string{"channel: unknown channel"}},
		{"message", func(d *Decision) { d.Message = "" }, []string{"message: unknown message"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := good
			c.mod(&d)
			expectErrors(t, []Decision{d}, c.want)
		})
	}
	tr := randTruth(newRand(1), 1)
	expectErrors(t, []Truth{tr}, nil)
	tr.PeakHour, tr.Payday, tr.BestChannel, tr.AffinitySMS = -1, 0, "agent", 2
	expectErrors(t, []Truth{tr}, []string{"best_channel: not a contact channel", "peak_hour: hour", "affinity_sms: probability", "payday: day of month"})
}

func TestValidationCapsErrors(t *testing.T) {
	rows := make([]Event, 5000)
	for i := range rows {
		rows[i] = goodEvent()
		rows[i].EventID = ""
	}
	o := vopts()
	o.MaxErrors = 10
	var ve *ValidationError
	if err := Validate(rows, o); !errors.As(err, &ve) || len(ve.Errors) != 10 || ve.Total != 5000 || ve.Errors[9].Row != 10 {
		t.Fatalf("got %v", err)
	}
}

func TestValidateFileCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.csv")
	csv := "event_id,account_id,type,at,channel,amount,currency\n" +
		"e1,a1,payment,2025-06-01T10:00:00Z,sms,100,USD\n" +
		"e2,a1,paid,2025-06-01T10:00:00Z,fax,100,USD\n" +
		"e1,,opened,2025-06-01T10:00:00Z,email,0,\n"
	os.WriteFile(path, []byte(csv), 0o644)
	_, err := ValidateFile[Event](path, vopts())
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v", err)
	}
	var got []string
	for _, e := range ve.Errors {
		got = append(got, e.Error())
	}
	want := []string{
		`row 2, column type = "paid": unknown event type`,
		`row 2, column channel = "fax": unknown channel`,
		`row 3, column event_id = "e1": duplicate event_id within the file`,
		`row 3, column account_id = "": empty id`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	os.WriteFile(path, []byte("event_id,at\ne1,2025-06-01T10:00:00Z\ne2,noon\n"), 0o644)
	if _, err := ValidateFile[Event](path, vopts()); !errors.As(err, &ve) || ve.Errors[len(ve.Errors)-1].Row != 2 || ve.Errors[len(ve.Errors)-1].Column != "at" {
		t.Fatalf("unparsable time: %v", err)
	}
}

func TestIDSet(t *testing.T) {
	var s idSet
	for i := range 100000 {
		if !s.add(strconv.Itoa(i) + "x") {
			t.Fatalf("false duplicate at %d", i)
		}
	}
	if s.add("500x") {
		t.Fatal("duplicate not found")
	}
}

func FuzzCSVEvents(f *testing.F) {
	f.Add([]byte("event_id,account_id,type,at\ne1,a1,payment,2025-06-01T10:00:00Z\n"))
	f.Add([]byte("event_id,amount\n\"e\"\"1\",-5\n"))
	f.Add([]byte("\ufeffat\n9999-99-99\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewCSVReader[Event](strings.NewReader(string(b)))
		v := NewValidator[Event](vopts())
		buf := make([]Event, 3)
		for range 1000 {
			n, err := r.Next(buf)
			v.Check(buf[:n])
			if err != nil {
				var re *RowError
				if err.Error() != "EOF" && !errors.As(err, &re) {
					t.Fatalf("non-row error %v", err)
				}
				break
			}
		}
		_ = v.Err()
	})
}
