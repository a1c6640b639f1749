package serving

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"math"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/serving/engine"
)

// Audit record JSON without reflection.
//
// encoding/json walks a decision by reflection, field by field: about a
// fifth of a decision's CPU where this was measured, and the largest cost of
// a decision outside the engine. appendAudit writes the same bytes as
// json.Marshal(auditRecord{...}) (the tests compare them over many
// decisions) by hand. It is written for the exact field lists of the types
// involved: auditShape fingerprints them (names, JSON tags, types), and
// when it differs from the one appendAudit was written for (a field was
// added to engine.Decision, say), encodeAuditIn uses json.Marshal instead, so
// that no field is ever dropped; TestAuditShape fails until appendAudit is
// updated.

// auditShapeWant is the fingerprint of the types appendAudit encodes.
const auditShapeWant = "be217000422b5af"

// auditFast says appendAudit matches the types compiled in.
var auditFast = auditShape() == auditShapeWant

// encodeAuditIn encodes the audit record (the decision as answered plus its
// logged-decisions row) after head: the payload is the
// returned slice of whole, which is head, the payload and then '}' (the
// stored form of store.DecisionRecord.Stored), or nil when the payload
// could not be built in place.
func encodeAuditIn(d *engine.Decision, l *datasets.Decision, head []byte) (payload, whole []byte, err error) {
	if !auditFast {
		p, err := marshalAudit(d, l)
		return p, nil, err
	}
	sp := auditScratch.Get().(*[]byte)
	b := append((*sp)[:0], head...)
	b, ok := appendAudit(b, d, l)
	if !ok { // a value encoding/json refuses or writes otherwise (NaN, year 10000)
		putAuditScratch(sp, b)
		p, err := marshalAudit(d, l)
		return p, nil, err
	}
	n := len(b)
	b = append(b, '}')
	// The record leaves in a buffer of its own, sized to it: the store keeps
	// it until indexed and the answer is served from it, so the scratch
	// (never seen by either) can go back to the pool at once.
	c := append([]byte(nil), b...)
	putAuditScratch(sp, b)
	if head == nil {
		return c[:n:n], nil, nil
	}
	return c[len(head):n:n], c, nil
}

// auditScratch holds the buffers audit records are encoded in before they
// are copied out at their exact length. Encoding straight into a fresh
// buffer had to guess its size: sized for the largest recent record, it
// was half as large again as the mean one (4.9 KB allocated for 3.3 KB in
// the benchmark world), and every fresh page is a page fault the first time
// it is touched (until the heap has been through a collection, which at
// GOGC=1000 is tens of thousands of decisions). Appending field by field
// into warm scratch and copying out once: 6.7 -> 5.1 CPU-µs a decision for
// the encoding in BenchmarkDecide/parallel, 1.4 KB less allocated. Nothing
// but encodeAuditIn ever sees a scratch buffer.
var auditScratch = sync.Pool{New: func() any {
	b := make([]byte, 0, 8<<10)
	return &b
}}

// putAuditScratch returns b's memory to the pool unless it grew very large
// (one huge record should not pin its buffer).
func putAuditScratch(sp *[]byte, b []byte) {
	if cap(b) > 64<<10 {
		return
	}
	*sp = b[:0]
	auditScratch.Put(sp)
}

// marshalAudit is encoding/json's audit record. It marshals a copy of the
// logged row, so that l does not escape through encoding/json's
// reflection: the caller's row then stays on its stack on the fast path.
func marshalAudit(d *engine.Decision, l *datasets.Decision) ([]byte, error) {
	if l == nil {
		return json.Marshal(auditRecord{Decision: d})
	}
	lc := *l
	return json.Marshal(auditRecord{Decision: d, Logged: &lc})
}

// auditShape fingerprints the field lists of the audit record's types.
func auditShape() string {
	h := fnv.New64a()
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			fmt.Fprintf(h, "%s;", t.Kind())
			t = t.Elem()
		}
		fmt.Fprintf(h, "%s;", t)
		if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			fmt.Fprintf(h, "{%s %q %v ", f.Name, f.Tag.Get("json"), f.Anonymous)
			walk(f.Type)
			fmt.Fprint(h, "}")
		}
	}
	walk(reflect.TypeFor[auditRecord]())
	return strconv.FormatUint(h.Sum64(), 16)
}

// appendAudit appends the JSON of auditRecord{d, l}; ok is false when a value
// needs encoding/json's own handling.
func appendAudit(b []byte, d *engine.Decision, l *datasets.Decision) (_ []byte, ok bool) {
	e := jsonw{b: b, ok: true}
	e.raw(`{"decision_id":`)
	e.str(d.DecisionID)
	e.raw(`,"account_id":`)
	e.str(d.AccountID)
	e.raw(`,"decided_at":`)
	e.time(d.DecidedAt)
	e.raw(`,"outcome":`)
	e.str(d.Outcome)
	if d.Action != nil {
		e.raw(`,"action":`)
		e.action(d.Action)
	}
	e.raw(`,"runners_up":`)
	if d.RunnersUp == nil {
		e.raw("null")
	} else {
		e.raw("[")
		for i := range d.RunnersUp {
			if i > 0 {
				e.raw(",")
			}
			e.action(&d.RunnersUp[i])
		}
		e.raw("]")
	}
	e.raw(`,"propensity":`)
	e.float(d.Propensity)
	e.raw(`,"policy":`)
	e.str(d.Policy)
	e.raw(`,"explored":`)
	e.bool(d.Explored)
	e.raw(`,"holdout":`)
	e.bool(d.Holdout)
	if d.Fallback != "" {
		e.raw(`,"fallback":`)
		e.str(d.Fallback)
	}
	e.raw(`,"model_version":`)
	e.str(d.ModelVersion)
	if d.Target != "" {
		e.raw(`,"target":`)
		e.str(d.Target)
	}
	if d.WaitUntil != nil {
		e.raw(`,"wait_until":`)
		e.time(*d.WaitUntil)
	}
	e.raw(`,"time_zone":`)
	e.str(d.TimeZone)
	e.raw(`,"compliance":`)
	e.compliance(&d.Compliance)
	e.raw(`,"reasons":`)
	e.strs(d.Reasons)
	e.raw(`,"features":{`)
	if d.Features.AsOf != nil {
		e.raw(`"as_of":`)
		e.time(*d.Features.AsOf)
		e.raw(",")
	}
	e.raw(`"age_seconds":`)
	e.float(d.Features.AgeSeconds)
	e.raw(`,"stale":`)
	e.bool(d.Features.Stale)
	e.raw(`,"hash":`)
	e.str(d.Features.Hash)
	e.raw(`},"candidates_considered":`)
	e.int(int64(d.Candidates))
	if l != nil {
		e.raw(`,"logged":{`)
		if l.Tenant != "" {
			e.raw(`"tenant":`)
			e.str(l.Tenant)
			e.raw(",")
		}
		e.raw(`"decision_id":`)
		e.str(l.DecisionID)
		e.raw(`,"account_id":`)
		e.str(l.AccountID)
		e.raw(`,"at":`)
		e.int(l.At)
		e.raw(`,"send_at":`)
		e.int(l.SendAt)
		e.raw(`,"channel":`)
		e.str(l.Channel)
		e.raw(`,"local_hour":`)
		e.int(int64(l.LocalHour))
		e.raw(`,"message":`)
		e.str(l.Message)
		e.raw(`,"propensity":`)
		e.float(l.Propensity)
		e.raw(`,"policy":`)
		e.str(l.Policy)
		e.raw(`,"holdout":`)
		e.bool(l.Holdout)
		if l.Model != "" {
			e.raw(`,"model_version":`)
			e.str(l.Model)
		}
		e.raw("}")
	}
	e.raw("}")
	return e.b, e.ok
}

// jsonw appends JSON the way encoding/json writes it (HTML-escaped strings,
// its float format); ok turns false on a value it would refuse.
type jsonw struct {
	b  []byte
	ok bool
}

func (e *jsonw) raw(s string) { e.b = append(e.b, s...) }

func (e *jsonw) bool(v bool) { e.b = strconv.AppendBool(e.b, v) }

func (e *jsonw) int(v int64) { e.b = strconv.AppendInt(e.b, v, 10) }

// float is encoding/json's float64 encoding.
func (e *jsonw) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.ok = false
		e.b = append(e.b, '0')
		return
	}
	fmtc := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	e.b = strconv.AppendFloat(e.b, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// e-09 to e-9
		n := len(e.b)
		if n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

// time is time.Time's MarshalJSON (RFC 3339 with nanoseconds).
func (e *jsonw) time(t time.Time) {
	if b, ok := appendUTCSecond(e.b, t); ok {
		e.b = b
		return
	}
	if y := t.Year(); y < 0 || y > 9999 {
		e.ok = false
	}
	e.b = append(e.b, '"')
	e.b = t.AppendFormat(e.b, time.RFC3339Nano)
	e.b = append(e.b, '"')
}

// appendUTCSecond appends the quoted RFC 3339 form of t when t is in UTC,
// on a whole second, in years 0-9999 (every time of an audit record but the
// local send time): "2006-01-02T15:04:05Z", byte for byte what
// AppendFormat(time.RFC3339Nano) writes, from integer arithmetic instead of
// the layout interpreter (a tenth of the record's encoding). ok is false,
// with b unchanged, for any other time.
func appendUTCSecond(b []byte, t time.Time) (_ []byte, ok bool) {
	if t.Location() != time.UTC || t.Nanosecond() != 0 {
		return b, false
	}
	const minSec = -62167219200 // 0000-01-01T00:00:00Z
	const maxSec = 253402300799 // 9999-12-31T23:59:59Z
	sec := t.Unix()
	if sec < minSec || sec > maxSec {
		return b, false
	}
	days, rem := (sec-minSec)/86400, (sec-minSec)%86400
	// Civil date from days since 0000-03-01 (H. Hinnant's days_from_civil,
	// inverted), shifted so that 0000-01-01 is day 0.
	z := days - 60 // 0000-01-01 is 60 days before 0000-03-01 (a leap year)
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	if y < 0 || y > 9999 {
		return b, false
	}
	hh, mm, ss := rem/3600, rem/60%60, rem%60
	return append(b, '"',
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+hh/10), byte('0'+hh%10), ':', byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10), 'Z', '"'), true
}

func (e *jsonw) strs(ss []string) {
	if ss == nil {
		e.raw("null")
		return
	}
	e.b = append(e.b, '[')
	for i, s := range ss {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(s)
	}
	e.b = append(e.b, ']')
}

func (e *jsonw) action(a *engine.Action) {
	e.raw(`{"channel":`)
	e.str(a.Channel)
	e.raw(`,"message":`)
	e.str(a.Message)
	e.raw(`,"send_at":`)
	e.time(a.SendAt)
	e.raw(`,"send_at_local":`)
	e.str(a.SendAtLocal)
	e.raw(`,"local_hour":`)
	e.int(int64(a.LocalHour))
	if a.P != nil {
		e.raw(`,"p":`)
		e.float(*a.P)
	}
	if a.ExpectedValue != nil {
		e.raw(`,"expected_value":`)
		e.float(*a.ExpectedValue)
	}
	if a.MovedByFirewall {
		e.raw(`,"moved_by_firewall":true`)
	}
	e.b = append(e.b, '}')
}

func (e *jsonw) compliance(c *engine.Compliance) {
	e.raw(`{"jurisdictions":`)
	e.strs(c.Jurisdictions)
	e.raw(`,"zones":`)
	e.strs(c.Zones)
	e.raw(`,"channels":`)
	if c.Channels == nil {
		e.raw("null")
	} else {
		e.b = append(e.b, '[')
		for i := range c.Channels {
			v := &c.Channels[i]
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.raw(`{"channel":`)
			e.str(v.Channel)
			e.raw(`,"allowed_now":`)
			e.bool(v.AllowedNow)
			e.raw(`,"earliest_allowed":`)
			if v.EarliestAllowed == nil {
				e.raw("null")
			} else {
				e.time(*v.EarliestAllowed)
			}
			if len(v.Reasons) > 0 {
				e.raw(`,"reasons":[`)
				for j := range v.Reasons {
					if j > 0 {
						e.b = append(e.b, ',')
					}
					e.reason(&v.Reasons[j])
				}
				e.b = append(e.b, ']')
			}
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	e.raw(`,"notices":`)
	if c.Notices == nil {
		e.raw("null")
	} else {
		e.b = append(e.b, '[')
		for i := range c.Notices {
			n := &c.Notices[i]
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.raw(`{"id":`)
			e.str(n.ID)
			e.raw(`,"text":`)
			e.str(n.Text)
			e.raw(`,"jurisdiction":`)
			e.str(n.Jurisdiction)
			e.raw(`,"source":`)
			e.str(n.Source)
			e.raw(`,"status":`)
			e.str(n.Status)
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	if len(c.Warnings) > 0 {
		e.raw(`,"warnings":`)
		e.strs(c.Warnings)
	}
	e.b = append(e.b, '}')
}

func (e *jsonw) reason(r *compliance.Reason) {
	e.raw(`{"rule":`)
	e.str(r.Rule)
	e.raw(`,"text":`)
	e.str(r.Text)
	e.raw(`,"jurisdiction":`)
	e.str(r.Jurisdiction)
	e.raw(`,"source":`)
	e.str(r.Source)
	e.raw(`,"status":`)
	e.str(r.Status)
	e.b = append(e.b, '}')
}

const hexDigits = "0123456789abcdef"

// plainASCII marks the ASCII bytes that str copies unchanged: one table
// load per byte instead of six comparisons (rule and notice texts make up
// most of an audit record).
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// str is encoding/json's string encoding with HTML escaping.
func (e *jsonw) str(s string) {
	if len(s) >= minCachedStr {
		h := maphash.String(strSeed, s)
		slot := &strCache[h%strCacheSize]
		if c := slot.Load(); c != nil && c.s == s {
			e.b = append(e.b, c.q...)
			return
		}
		start := len(e.b)
		e.quote(s)
		// Cache a string on its second sighting: rule, reason and notice
		// texts come back decision after decision, one-off strings do not
		// churn the cache.
		seen := &strSeen[h%strCacheSize]
		if seen.Load() == h {
			slot.Store(&quotedStr{s: s, q: bytes.Clone(e.b[start:])})
		} else {
			seen.Store(h)
		}
		return
	}
	e.quote(s)
}

// Quoted long strings. The compliance part of an audit record is mostly the
// same long texts (reasons, notices, rule sources) again and again; escaping
// them byte by byte was the largest part of the record's encoding. A
// direct-mapped cache keyed by the string's hash holds their quoted form; a
// hit is checked against the whole string, so a collision only misses.
const (
	minCachedStr = 64
	strCacheSize = 4096
)

var (
	strSeed  = maphash.MakeSeed()
	strCache [strCacheSize]atomic.Pointer[quotedStr]
	strSeen  [strCacheSize]atomic.Uint64
)

// quotedStr is a string and its JSON form (quotes included).
type quotedStr struct {
	s string
	q []byte
}

// quote appends s as encoding/json writes it.
func (e *jsonw) quote(s string) {
	b := append(e.b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if plainASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	e.b = append(b, '"')
}
