package compliance

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Account is what the firewall needs to know about one referred debt and its debtor.
type Account struct {
	ID           string `json:"id"`
	Jurisdiction string `json:"jurisdiction"`
	// TimeZone is the debtor's IANA zone; empty means unknown, which applies every zone of
	// the jurisdiction at once.
	TimeZone string `json:"time_zone"`
	// Consents are the customer's explicit channel choices: false is an opt-out; a channel
	// that is absent carries no choice (packs may still require explicit consent).
	Consents map[Channel]bool `json:"consents"`
	Flags    []Flag           `json:"flags"`
	// PreferredChannel, when set, is the customer's request to be contacted that way: other
	// channels are denied, except letters (statutory notices must still be mailed).
	PreferredChannel *Channel `json:"preferred_channel,omitempty"`
	// DoNotContact are local times the customer said are inconvenient.
	DoNotContact []Quiet `json:"do_not_contact,omitempty"`
}

// Quiet is a customer's do-not-contact period in their local time.
type Quiet struct {
	// Days are sun..sat; empty means every day.
	Days []string `json:"days,omitempty"`
	// From and To are HH:MM; From > To wraps past midnight.
	From string `json:"from"`
	To   string `json:"to"`
	// Channels limits the period to some channels; empty means all but letters.
	Channels []Channel `json:"channels,omitempty"`
}

// Entry is one past contact or conversation on the account's ledger.
type Entry struct {
	Channel Channel   `json:"channel"`
	At      time.Time `json:"at"`
	Outcome Outcome   `json:"outcome"`
	// AccountID names the debt when the ledger mixes a debtor's accounts; empty means this account.
	AccountID   string      `json:"account_id,omitempty"`
	AddressKind AddressKind `json:"address_kind,omitempty"`
	// Notices are the notice rule ids the contact carried (validation notice, ...).
	Notices []string `json:"notices,omitempty"`
}

// Contact is the planned contact being checked.
type Contact struct {
	Channel     Channel     `json:"channel"`
	At          time.Time   `json:"at"`
	AddressKind AddressKind `json:"address_kind,omitempty"`
	// Message, when given, is checked for the notices it must carry; when nil only the list
	// of required notices is returned.
	Message *Message `json:"message,omitempty"`
}

// Message is the content side of a planned contact, as far as the firewall cares.
type Message struct {
	Notices []string `json:"notices"`
}

// Reason is one rule that denies a contact, in words a person can act on.
type Reason struct {
	Rule         string `json:"rule"`
	Text         string `json:"text"`
	Jurisdiction string `json:"jurisdiction"`
	Source       string `json:"source"`
	Status       string `json:"status"`
}

// Notice is a disclosure the message must carry.
type Notice struct {
	ID           string `json:"id"`
	Text         string `json:"text"`
	Jurisdiction string `json:"jurisdiction"`
	Source       string `json:"source"`
	Status       string `json:"status"`
}

// Decision is the firewall's answer for one planned contact.
type Decision struct {
	Allowed bool     `json:"allowed"`
	Reasons []Reason `json:"reasons"`
	// EarliestAllowed is the first instant at or after the contact's time when the same
	// channel is allowed (the contact's own time when allowed); nil when blocked for good or
	// beyond the horizon.
	EarliestAllowed *time.Time `json:"earliest_allowed"`
	Notices         []Notice   `json:"notices"`
	Jurisdictions   []string   `json:"jurisdictions"`
	Zones           []string   `json:"zones"`
	Warnings        []string   `json:"warnings,omitempty"`
}

// Subject is an account and its ledger compiled for repeated checks: the decision engine
// builds one per account and asks about every candidate action.
type Subject struct {
	f        *Firewall
	acct     Account
	layers   []*layer
	zones    []*time.Location
	zoneName []string
	warnings []string
	flags    flagSet
	optIn    chanSet // consent true
	optOut   chanSet // consent false
	customer []*rule // built-in rules from the account's explicit choices

	// ledger, sorted by time
	at          []int64
	ch          []Channel
	out         []Outcome
	debt        []bool // entry is about this account's debt
	addr        []AddressKind
	notices     [][]string
	firstComm   int64 // first communication (any outcome that reached the consumer), 0 if none
	firstCommOK bool

	// rules[rulesEnd[ch-1]:rulesEnd[ch]] are the pack rules eval runs for
	// channel ch, in layer order, without those that cannot deny this
	// account (a flag it does not have, consent it gave): see planRules.
	rules    []layerRule
	rulesEnd [numChannels]int
	// bare[bareEnd[ch-1]:bareEnd[ch]] are rules[...] for a question
	// without a message or a notice list (Verdict, Allowed, Earliest):
	// without the notice rules that cannot deny such a question (see
	// noticeBare), in the same order.
	bare    []layerRule
	bareEnd [numChannels]int
	// noticeRules[ch] is how many notice rules a contact on ch may need:
	// the capacity of Check's notice list.
	noticeRules [numChannels]int
	// overdue holds the reason text of each notice rule with a deadline,
	// made the first time a check needs it: it depends only on the rule and
	// the account's first communication, and every decision on an account
	// with an overdue notice gives it for each channel the notice denies.
	overdue []overdueText
	inline  [2]overdueText // overdue's first entries, without an allocation
	// gates holds, for each gate rule planRules lists, what evalGate reads
	// of the ledger: it depends on the rule and the ledger alone, never on
	// the instant asked about.
	gates      []gateEvidence
	gateInline [2]gateEvidence // gates' first entries, without an allocation
}

// gateEvidence is a gate rule's evidence on the subject's ledger: whether
// there is any, the earliest instant one lets a contact through (open) and
// the bound evalGate's scan of the ledger gives when none does yet (next,
// its fold in ledger order).
type gateEvidence struct {
	r     *rule
	found bool
	open  int64
	next  int64
}

// overdueText is the reason an overdue notice rule gives (nil until made).
type overdueText struct {
	r    *rule
	text atomic.Pointer[string]
}

// layerRule is a pack rule with its layer.
type layerRule struct {
	l *layer
	r *rule
}

// planRules lists, per channel, the pack rules eval must run for this
// account: every rule on the channel (and every notice rule), in layer
// order, except a rule whose flags condition the account does not meet,
// a flag rule for flags the account does not have and a consent rule for a
// channel the account consented to, which never deny it (see evalRule).
func (s *Subject) planRules() {
	n := 0
	for _, l := range s.layers {
		n += len(l.rules)
	}
	s.rules = make([]layerRule, 0, n)
	s.overdue = s.inline[:0]
	s.gates = s.gateInline[:0]
	for ch := Email; ch < numChannels; ch++ {
		for _, l := range s.layers {
			for _, r := range l.rules {
				if r.kind != kindNotice && !r.channels.has(ch) || r.whenFlags != 0 && s.flags&r.whenFlags == 0 ||
					r.kind == kindFlag && s.flags&r.flags == 0 || r.kind == kindConsent && s.optIn.has(ch) {
					continue
				}
				s.rules = append(s.rules, layerRule{l, r})
				if r.kind == kindNotice && r.channels.has(ch) {
					s.noticeRules[ch]++
				}
				if r.kind == kindNotice && r.deadline > 0 && s.overdueOf(r) == nil {
					s.overdue = append(s.overdue, overdueText{r: r})
				}
				if r.kind == kindGate && s.gateOf(r) == nil {
					s.gates = append(s.gates, s.gateScan(r))
				}
			}
		}
		s.rulesEnd[ch] = len(s.rules)
	}
	s.bare = make([]layerRule, 0, len(s.rules))
	for ch := Email; ch < numChannels; ch++ {
		for _, rr := range s.rules[s.rulesEnd[ch-1]:s.rulesEnd[ch]] {
			if rr.r.kind != kindNotice || !noticeBare(rr.r, ch) {
				s.bare = append(s.bare, rr)
			}
		}
		s.bareEnd[ch] = len(s.bare)
	}
	s.sharePlan()
}

// planKey is what a subject's rule lists depend on (planRules): the
// jurisdiction's layers (named by the most specific one), the account's
// flags and the channels it consented to.
type planKey struct {
	leaf  *layer
	flags flagSet
	optIn chanSet
}

// sharePlan makes s read the rule lists of the first subject planned with
// the same key: they are the same lists (planRules is a function of the
// key), and lists shared by every subject of a jurisdiction stay in the
// cache where each account's own copy, read once per decision, would miss.
// The lists are never written after planRules.
func (s *Subject) sharePlan() {
	if len(s.layers) == 0 || s.f == nil {
		return
	}
	k := planKey{leaf: s.layers[len(s.layers)-1], flags: s.flags, optIn: s.optIn}
	fresh := &[2][]layerRule{s.rules, s.bare}
	v, _ := s.f.plans.LoadOrStore(k, fresh)
	p := v.(*[2][]layerRule)
	s.rules, s.bare = p[0], p[1]
}

// noticeBare reports whether notice rule r never changes the verdict of a
// question on ch without a message nor a notice list: evalNotice then only
// denies for an overdue deadline notice the channel cannot carry.
func noticeBare(r *rule, ch Channel) bool {
	return r.when != "until_delivered" || r.deadline <= 0 || r.channels.has(ch)
}

var customerMeta = struct{ optOut, preferred, quiet ruleMeta }{
	optOut:    ruleMeta{ID: "customer-opt-out", Text: "the customer opted out of this channel", Source: "customer's explicit choice; 12 CFR 1006.14(h), 1006.6(e); CONC 7.9.4 R; ACCC/ASIC guideline Part 2 s.4 (honour stated preferences)", Status: "v_primary"},
	preferred: ruleMeta{ID: "customer-preferred-channel", Text: "the customer asked to be contacted by another channel", Source: "customer's explicit choice; CONC 7.9.4 R (how to be contacted); company policy elsewhere", Status: "policy"},
	quiet:     ruleMeta{ID: "customer-do-not-contact", Text: "the customer said this time is inconvenient", Source: "customer's explicit choice; 15 U.S.C. 1692c(a)(1); 12 CFR 1006.6(b)(1); CONC 7.9.4 R; ACCC/ASIC guideline Part 2 s.4", Status: "v_primary"},
}

// Subject compiles an account and its ledger. It fails on an unknown jurisdiction or zone and
// on malformed entries, never by allowing.
func (f *Firewall) Subject(acct Account, ledger []Entry) (*Subject, error) {
	ls, err := f.chain(acct.Jurisdiction)
	if err != nil {
		return nil, err
	}
	s := &Subject{f: f, acct: acct, layers: ls}
	leaf := ls[len(ls)-1]
	names := leaf.zones
	if acct.TimeZone != "" {
		if _, err := f.location(acct.TimeZone); err != nil {
			return nil, err
		}
		if slices.Contains(leaf.zones, acct.TimeZone) {
			names = []string{acct.TimeZone}
		} else {
			names = append([]string{acct.TimeZone}, leaf.zones...)
			s.warnings = append(s.warnings, fmt.Sprintf("zone %s is not a zone of %s; every zone of %s is applied as well (strictest reading)", acct.TimeZone, leaf.code, leaf.code))
		}
	} else {
		s.warnings = append(s.warnings, fmt.Sprintf("debtor's zone unknown: every zone of %s must be inside its permitted hours", leaf.code))
	}
	for _, n := range names {
		loc, err := f.location(n)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", leaf.code, err)
		}
		s.zones = append(s.zones, loc)
		s.zoneName = append(s.zoneName, n)
	}
	for _, fl := range acct.Flags {
		if fl >= numFlags {
			return nil, fmt.Errorf("account flag %d: unknown", fl)
		}
		s.flags |= 1 << fl
	}
	for c, v := range acct.Consents {
		if c == noChannel || c >= numChannels {
			return nil, fmt.Errorf("consent for unknown channel %d", c)
		}
		if v {
			s.optIn |= 1 << c
		} else {
			s.optOut |= 1 << c
		}
	}
	if acct.PreferredChannel != nil {
		pc := *acct.PreferredChannel
		if pc == noChannel || pc >= numChannels {
			return nil, errors.New("preferred_channel: unknown channel")
		}
		r := &rule{meta: customerMeta.preferred, kind: kindFlag, channels: allChannels &^ (1 << pc) &^ (1 << Letter)}
		r.meta.Text = fmt.Sprintf("the customer asked to be contacted by %s", pc)
		s.customer = append(s.customer, r)
	}
	for i, q := range acct.DoNotContact {
		r, err := compileQuiet(q)
		if err != nil {
			return nil, fmt.Errorf("do_not_contact[%d]: %w", i, err)
		}
		s.customer = append(s.customer, r)
	}
	idx := make([]int, len(ledger))
	for i := range idx {
		idx[i] = i
		e := &ledger[i]
		if e.At.IsZero() {
			return nil, fmt.Errorf("ledger[%d]: at is missing", i)
		}
		if e.Channel == noChannel || e.Channel >= numChannels {
			return nil, fmt.Errorf("ledger[%d]: channel is missing or unknown", i)
		}
		if e.Outcome == noOutcome || e.Outcome >= numOutcomes {
			return nil, fmt.Errorf("ledger[%d]: outcome is missing or unknown", i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return ledger[idx[a]].At.Before(ledger[idx[b]].At) })
	n := len(ledger)
	s.at, s.ch, s.out, s.debt, s.addr = make([]int64, n), make([]Channel, n), make([]Outcome, n), make([]bool, n), make([]AddressKind, n)
	s.notices = make([][]string, n)
	for k, i := range idx {
		e := &ledger[i]
		s.at[k], s.ch[k], s.out[k], s.addr[k], s.notices[k] = e.At.UnixNano(), e.Channel, e.Outcome, e.AddressKind, e.Notices
		s.debt[k] = e.AccountID == "" || e.AccountID == acct.ID
		if s.debt[k] && e.Outcome.communication() && !s.firstCommOK {
			s.firstComm, s.firstCommOK = s.at[k], true
		}
	}
	s.planRules()
	return s, nil
}

func compileQuiet(q Quiet) (*rule, error) {
	from, err := parseClock(q.From)
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	to, err := parseClock(q.To)
	if err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	if from == to {
		return nil, errors.New("from equals to")
	}
	r := &rule{meta: customerMeta.quiet, kind: kindQuiet, channels: allChannels &^ (1 << Letter)}
	r.meta.Text = fmt.Sprintf("the customer said %s-%s is inconvenient", q.From, q.To)
	if len(q.Channels) > 0 {
		r.channels = 0
		for _, c := range q.Channels {
			if c == noChannel || c >= numChannels {
				return nil, errors.New("unknown channel")
			}
			r.channels |= 1 << c
		}
	}
	days := []int{0, 1, 2, 3, 4, 5, 6}
	if len(q.Days) > 0 {
		days = days[:0]
		for _, d := range q.Days {
			i, err := parseWeekday(d)
			if err != nil {
				return nil, err
			}
			days = append(days, i)
		}
	}
	// A wrapping period blocks [from, 24:00) on the day and [00:00, to) on the next.
	for _, d := range days {
		if from < to {
			r.week[d] = append(r.week[d], window{from, to})
		} else {
			r.week[d] = append(r.week[d], window{from, 1440})
			r.week[(d+1)%7] = append(r.week[(d+1)%7], window{0, to})
		}
	}
	for d := range r.week {
		sort.Slice(r.week[d], func(i, j int) bool { return r.week[d][i].from < r.week[d][j].from })
	}
	return r, nil
}

// verdict collects the outcome of evaluating every rule at one instant.
type verdict struct {
	allowed bool
	never   bool  // some denying rule cannot clear with time
	next    int64 // lower bound on the next instant that may be allowed (max over denying rules)
	collect bool
	reasons []Reason
	notices []Notice
	// walls caches the evaluated instant's wall clock in the subject's first
	// zones (zone i valid when bit i of wallSet is set): the hour rules of
	// every layer read it, and a zone lookup is the costly part.
	wallSet uint8
	walls   [4]time.Time
	// memo, when not nil, is the Session the question comes from: it
	// remembers the channel-independent rules' outcomes.
	memo *Session
}

// wall returns instant t's wall clock in loc (zone zi of the subject) as a
// UTC time: its clock, date, weekday and day of the year are loc's, and
// reading them needs no further zone lookup.
func (v *verdict) wall(zi int, loc *time.Location, t int64) time.Time {
	if zi < len(v.walls) && v.wallSet&(1<<zi) != 0 {
		return v.walls[zi]
	}
	_, off := time.Unix(0, t).In(loc).Zone()
	w := time.Unix(0, t).Add(time.Duration(off) * time.Second).UTC()
	if zi < len(v.walls) {
		v.walls[zi], v.wallSet = w, v.wallSet|1<<zi
	}
	return w
}

func (v *verdict) deny(l *layer, m *ruleMeta, text string, next int64, never bool) {
	v.allowed = false
	if never {
		v.never = true
	} else if next > v.next {
		v.next = next
	}
	if v.collect {
		j := "customer"
		if l != nil {
			j = l.code
		}
		if text == "" {
			text = m.Text
		}
		v.reasons = append(v.reasons, Reason{Rule: m.ID, Text: text, Jurisdiction: j, Source: m.Source, Status: m.Status})
	}
}

// Check answers whether the contact is allowed, with every reason, the notices it must carry
// and the earliest permitted instant for its channel.
func (s *Subject) Check(c Contact) (Decision, error) { return s.check(c, nil) }

func (s *Subject) check(c Contact, memo *Session) (Decision, error) {
	if c.Channel == noChannel || c.Channel >= numChannels {
		return Decision{}, errors.New("contact: channel is missing or unknown")
	}
	if c.At.IsZero() {
		return Decision{}, errors.New("contact: at is missing")
	}
	v := verdict{allowed: true, collect: true, memo: memo}
	if err := s.eval(&v, c.Channel, c.At.UnixNano(), c.AddressKind, c.Message, true); err != nil {
		return Decision{}, err
	}
	d := Decision{Allowed: v.allowed, Reasons: v.reasons, Notices: v.notices, Zones: s.zoneName, Warnings: s.warnings}
	if d.Reasons == nil {
		d.Reasons = []Reason{}
	}
	if d.Notices == nil {
		d.Notices = []Notice{}
	}
	d.Jurisdictions = make([]string, len(s.layers))
	for i, l := range s.layers {
		d.Jurisdictions[i] = l.code
	}
	if v.allowed {
		t := c.At.UTC()
		d.EarliestAllowed = &t
		return d, nil
	}
	if v.never {
		return d, nil
	}
	t, ok, err := s.search(c.Channel, c.AddressKind, c.At.UnixNano(), v.next, s.f.opts.Horizon, memo)
	if err != nil {
		return Decision{}, err
	}
	if ok {
		d.EarliestAllowed = &t
	}
	return d, nil
}

// Verdict is Check of a contact on ch at at without a message, for a caller
// that asks about every channel at the decision instant and needs the notices
// of none of them: whether the contact is allowed and, when it is not, every
// reason and the earliest permitted instant (nil when blocked for good or
// beyond the horizon; nil too when allowed, where Check answers at itself),
// exactly as Check answers them. An allowed channel
// costs what Allowed costs (reasons nil); a denied one is evaluated once,
// instead of Allowed and then Check, and builds no notice list.
func (s *Subject) Verdict(ch Channel, at time.Time, kind AddressKind) (allowed bool, reasons []Reason, earliest *time.Time, err error) {
	return s.verdict(ch, at, kind, nil)
}

func (s *Subject) verdict(ch Channel, at time.Time, kind AddressKind, memo *Session) (allowed bool, reasons []Reason, earliest *time.Time, err error) {
	if ch == noChannel || ch >= numChannels {
		return false, nil, nil, errors.New("contact: channel is missing or unknown")
	}
	if at.IsZero() {
		return false, nil, nil, errors.New("contact: at is missing")
	}
	// Notices never deny a contact without a message (evalNotice), so the
	// answer is Check's whether they are listed or not.
	v := verdict{allowed: true, collect: true, memo: memo}
	if err := s.eval(&v, ch, at.UnixNano(), kind, nil, false); err != nil {
		return false, nil, nil, err
	}
	if v.allowed {
		return true, nil, nil, nil
	}
	if v.never {
		return false, v.reasons, nil, nil
	}
	t, ok, err := s.search(ch, kind, at.UnixNano(), v.next, s.f.opts.Horizon, memo)
	if err != nil {
		return false, nil, nil, err
	}
	if ok {
		earliest = &t
	}
	return false, v.reasons, earliest, nil
}

// Scope returns what every Check of the subject reports besides the verdict:
// the jurisdictions whose rules apply (a fresh slice), the zones and the
// warnings (shared, read-only).
func (s *Subject) Scope() (jurisdictions, zones, warnings []string) {
	jurisdictions = make([]string, len(s.layers))
	for i, l := range s.layers {
		jurisdictions[i] = l.code
	}
	return jurisdictions, s.zoneName, s.warnings
}

// Allowed is the fast path for the decision engine: a yes or no without reasons or notices.
func (s *Subject) Allowed(ch Channel, at time.Time, kind AddressKind) (bool, error) {
	return s.allowed(ch, at, kind, nil)
}

func (s *Subject) allowed(ch Channel, at time.Time, kind AddressKind, memo *Session) (bool, error) {
	v := verdict{allowed: true, memo: memo}
	err := s.eval(&v, ch, at.UnixNano(), kind, nil, false)
	return v.allowed, err
}

// Earliest returns the first instant at or after from, within horizon, at which a contact on
// ch (without regard to message content) is allowed; ok is false when there is none.
func (s *Subject) Earliest(ch Channel, from time.Time, kind AddressKind, horizon time.Duration) (t time.Time, ok bool, err error) {
	return s.earliest(ch, from, kind, horizon, nil)
}

func (s *Subject) earliest(ch Channel, from time.Time, kind AddressKind, horizon time.Duration, memo *Session) (t time.Time, ok bool, err error) {
	if ch == noChannel || ch >= numChannels {
		return time.Time{}, false, errors.New("unknown channel")
	}
	t0 := from.UnixNano()
	return s.search(ch, kind, t0, t0, horizon, memo)
}

func (s *Subject) search(ch Channel, kind AddressKind, from, t int64, horizon time.Duration, memo *Session) (time.Time, bool, error) {
	end := from + int64(horizon)
	if t < from {
		t = from
	}
	for iter := 0; iter < 100000 && t <= end; iter++ {
		v := verdict{allowed: true, memo: memo}
		if err := s.eval(&v, ch, t, kind, nil, false); err != nil {
			return time.Time{}, false, err
		}
		if v.allowed {
			return time.Unix(0, t).UTC(), true, nil
		}
		if v.never {
			return time.Time{}, false, nil
		}
		if v.next <= t {
			v.next = t + int64(time.Second)
		}
		t = v.next
	}
	return time.Time{}, false, nil
}

// eval runs every rule of every layer (and the customer's own choices) for a contact on ch
// at t. With message != nil, notices it lacks deny; withNotices asks for the notice list.
func (s *Subject) eval(v *verdict, ch Channel, t int64, kind AddressKind, msg *Message, withNotices bool) error {
	if s.optOut.has(ch) {
		m := customerMeta.optOut
		text := ""
		if v.collect {
			text = "the customer opted out of " + ch.String()
		}
		v.deny(nil, &m, text, 0, true)
	}
	for _, r := range s.customer {
		if !r.channels.has(ch) {
			continue
		}
		if err := s.evalRule(v, nil, r, ch, t, kind, msg, withNotices); err != nil {
			return err
		}
	}
	if ch > noChannel && ch < numChannels {
		rules := s.rules[s.rulesEnd[ch-1]:s.rulesEnd[ch]]
		if msg == nil && !withNotices {
			rules = s.bare[s.bareEnd[ch-1]:s.bareEnd[ch]]
		}
		for _, rr := range rules {
			if err := s.evalRule(v, rr.l, rr.r, ch, t, kind, msg, withNotices); err != nil {
				return err
			}
		}
		return nil
	}
	for _, l := range s.layers {
		for _, r := range l.rules {
			if r.kind != kindNotice && !r.channels.has(ch) {
				continue
			}
			if err := s.evalRule(v, l, r, ch, t, kind, msg, withNotices); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Subject) evalRule(v *verdict, l *layer, r *rule, ch Channel, t int64, kind AddressKind, msg *Message, withNotices bool) error {
	if r.whenFlags != 0 && s.flags&r.whenFlags == 0 {
		return nil
	}
	if v.memo != nil && channelFree(r.kind) {
		return v.memo.eval(s, v, l, r, t, kind)
	}
	return s.runRule(v, l, r, ch, t, kind, msg, withNotices)
}

// runRule evaluates rule r (whose flags condition holds) into v.
func (s *Subject) runRule(v *verdict, l *layer, r *rule, ch Channel, t int64, kind AddressKind, msg *Message, withNotices bool) error {
	switch r.kind {
	case kindFlag:
		if l == nil || s.flags&r.flags != 0 {
			text := ""
			if l != nil && v.collect {
				text = fmt.Sprintf("%s (account flag: %s)", r.meta.Text, s.flagNames(r.flags))
			}
			v.deny(l, &r.meta, text, 0, true)
		}
	case kindConsent:
		if !s.optIn.has(ch) {
			text := ""
			if v.collect {
				text = fmt.Sprintf("%s (no explicit consent recorded for %s)", r.meta.Text, ch)
			}
			v.deny(l, &r.meta, text, 0, true)
		}
	case kindHours, kindQuiet:
		return s.evalHours(v, l, r, t)
	case kindCap:
		s.evalCap(v, l, r, t, kind)
	case kindCooldown:
		s.evalCooldown(v, l, r, t)
	case kindGate:
		s.evalGate(v, l, r, t, msg)
	case kindNotice:
		s.evalNotice(v, l, r, ch, t, msg, withNotices)
	}
	return nil
}

func (s *Subject) flagNames(fs flagSet) string {
	var out []string
	for f := Flag(0); f < numFlags; f++ {
		if fs.has(f) && s.flags.has(f) {
			out = append(out, f.String())
		}
	}
	return strings.Join(out, ", ")
}

// windowsOn returns the hour windows of rule r for the local date of lt.
func windowsOn(l *layer, r *rule, lt time.Time) ([]window, bool, error) {
	if r.hasHoliday && l != nil && l.holidays != nil {
		hol, err := l.holidays.is(lt.Year(), lt.YearDay())
		if err != nil {
			return nil, false, fmt.Errorf("%s rule %s: %w", l.code, r.meta.ID, err)
		}
		if hol {
			return r.holiday, true, nil
		}
	}
	return r.week[lt.Weekday()], false, nil
}

// evalHours checks permitted hours (kindHours: t must be inside a window) or a customer's
// quiet period (kindQuiet: t must be outside every window) in every zone that applies.
func (s *Subject) evalHours(v *verdict, l *layer, r *rule, t int64) error {
	for zi, loc := range s.zones {
		wt := v.wall(zi, loc, t)
		hh, mm, _ := wt.Clock()
		minute := int16(hh*60 + mm)
		ws, hol, err := windowsOn(l, r, wt)
		if err != nil {
			return err
		}
		inside := false
		for _, w := range ws {
			if minute >= w.from && minute < w.to {
				inside = true
				break
			}
		}
		if r.kind == kindHours && inside || r.kind == kindQuiet && !inside {
			continue
		}
		next, never, err := s.nextOpen(l, r, t, wt, loc)
		if err != nil {
			return err
		}
		text := ""
		if v.collect {
			text = hoursText(r, wt, ws, hol, s.zoneName[zi])
		}
		v.deny(l, &r.meta, text, next, never)
	}
	return nil
}

func hoursText(r *rule, lt time.Time, ws []window, hol bool, zone string) string {
	day := lt.Weekday().String()
	if hol {
		day += " (a holiday)"
	}
	if r.kind == kindQuiet {
		return fmt.Sprintf("%s; local time %s on %s in %s", r.meta.Text, lt.Format("15:04"), day, zone)
	}
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmtClock(w.from)+"-"+fmtClock(w.to))
	}
	allowed := "no contact that day"
	if len(parts) > 0 {
		allowed = "permitted " + strings.Join(parts, ", ")
	}
	return fmt.Sprintf("%s; local time %s on %s in %s is outside it (%s)", r.meta.Text, lt.Format("15:04"), day, zone, allowed)
}

// nextOpen finds the next instant after t at which rule r lets a contact through in loc;
// wt is t's wall clock in loc (verdict.wall).
func (s *Subject) nextOpen(l *layer, r *rule, t int64, wt time.Time, loc *time.Location) (int64, bool, error) {
	y, m, d := wt.Date()
	for k := 0; k <= 15; k++ {
		// The local calendar day k days on: its date, weekday and holiday
		// status are those of its noon, read without a zone lookup.
		day := time.Date(y, m, d+k, 12, 0, 0, 0, time.UTC)
		ws, _, err := windowsOn(l, r, day)
		if err != nil {
			return 0, false, err
		}
		dy, dm, dd := day.Date()
		at := func(min int16) int64 {
			return time.Date(dy, dm, dd, int(min/60), int(min%60), 0, 0, loc).UnixNano()
		}
		if r.kind == kindQuiet {
			// allowed again at the end of the blocking window that contains t, unless another
			// window starts right there (e.g. a wrap into the next day).
			for _, w := range ws {
				if e := at(w.to); e > t && at(w.from) <= t {
					return e, false, nil
				}
			}
			if k > 0 {
				return at(0), false, nil
			}
			continue
		}
		for _, w := range ws {
			st, en := at(w.from), at(w.to)
			if en > t && st < en {
				if st > t {
					return st, false, nil
				}
				return t + int64(time.Second), false, nil
			}
		}
	}
	return 0, true, nil
}

// capSpan returns the index range of ledger entries with time in (lo, hi].
func (s *Subject) span(lo, hi int64) (int, int) {
	a := sort.Search(len(s.at), func(i int) bool { return s.at[i] > lo })
	b := sort.Search(len(s.at), func(i int) bool { return s.at[i] > hi })
	return a, b
}

func (s *Subject) counts(r *rule, i int, kind AddressKind) bool {
	if r.perDebt && !s.debt[i] {
		return false
	}
	if r.addrKinds != 0 && r.addrKinds&(1<<s.addr[i]) == 0 {
		return false
	}
	return r.counts[s.ch[i]]&(1<<s.out[i]) != 0
}

// evalCap denies when some window of the cap's length that contains t would hold more than
// max counted contacts with the planned one added. Windows are half-open (b-W, b].
func (s *Subject) evalCap(v *verdict, l *layer, r *rule, t int64, kind AddressKind) {
	if r.addrKinds != 0 && r.addrKinds&(1<<kind) == 0 {
		return
	}
	W := r.window
	a, b := s.span(t-W, t)
	n := 0
	for i := a; i < b; i++ {
		if s.counts(r, i, kind) {
			n++
		}
	}
	worst := n
	_, c := s.span(t, t+W-1)
	future := false
	for j := b; j < c; j++ {
		if !s.counts(r, j, kind) {
			continue
		}
		future = true
		// window (e_j - W, e_j] contains t because e_j - W < t.
		lo, hi := s.span(s.at[j]-W, s.at[j])
		m := 0
		for i := lo; i < hi; i++ {
			if s.counts(r, i, kind) {
				m++
			}
		}
		if m > worst {
			worst = m
		}
	}
	if worst+1 <= r.max {
		return
	}
	var next int64
	if !future {
		// drop the oldest n+1-max counted contacts of (t-W, t]
		need := n + 1 - r.max
		for i := a; i < b; i++ {
			if s.counts(r, i, kind) {
				need--
				if need == 0 {
					next = s.at[i] + W
					break
				}
			}
		}
	} else {
		// a later contact also constrains t: step to the next instant any window changes.
		next = 1<<63 - 1
		for i := 0; i < len(s.at); i++ {
			if !s.counts(r, i, kind) {
				continue
			}
			for _, x := range [3]int64{s.at[i] - W, s.at[i], s.at[i] + W} {
				if x > t && x < next {
					next = x
				}
			}
		}
	}
	text := ""
	if v.collect {
		text = fmt.Sprintf("%s: %d counted in the %d days around this contact, at most %d allowed (%s)", r.meta.Text, worst, r.windowDays, r.max, scopeWord(r.perDebt))
	}
	v.deny(l, &r.meta, text, next, false)
}

func scopeWord(perDebt bool) string {
	if perDebt {
		return "per debt"
	}
	return "per debtor"
}

// evalCooldown denies while a trigger (e.g. a telephone conversation) on local day D is less
// than `days` local days back: the trigger day is day 1, so contact resumes on day D+days.
func (s *Subject) evalCooldown(v *verdict, l *layer, r *rule, t int64) {
	look := int64(r.days+2) * int64(24*time.Hour)
	a, b := s.span(t-look, t)
	var until int64
	var trig int64
	for i := a; i < b; i++ {
		if r.perDebt && !s.debt[i] || r.counts[s.ch[i]]&(1<<s.out[i]) == 0 {
			continue
		}
		for _, loc := range s.zones {
			lt := time.Unix(0, s.at[i]).In(loc)
			y, m, d := lt.Date()
			u := time.Date(y, m, d+r.days, 0, 0, 0, 0, loc).UnixNano()
			if u > until {
				until, trig = u, s.at[i]
			}
		}
	}
	if until <= t {
		return
	}
	text := ""
	if v.collect {
		text = fmt.Sprintf("%s: triggered by %s at %s; allowed again from %s", r.meta.Text, s.describe(trig), time.Unix(0, trig).UTC().Format(time.RFC3339), time.Unix(0, until).UTC().Format(time.RFC3339))
	}
	v.deny(l, &r.meta, text, until, false)
}

func (s *Subject) describe(at int64) string {
	for i := range s.at {
		if s.at[i] == at {
			return s.out[i].String()
		}
	}
	return "a contact"
}

// gateOpen is when evidence logged at e lets gated contact through: after wait full local days.
func (s *Subject) gateOpen(r *rule, e int64) int64 {
	var open int64
	for _, loc := range s.zones {
		lt := time.Unix(0, e).In(loc)
		y, m, d := lt.Date()
		u := time.Date(y, m, d+r.days+1, 0, 0, 0, 0, loc).UnixNano()
		if r.days == 0 {
			u = e + 1
		}
		if u > open {
			open = u
		}
	}
	return open
}

func (s *Subject) isEvidence(r *rule, i int) bool {
	if !s.debt[i] {
		return false
	}
	if r.counts[s.ch[i]]&(1<<s.out[i]) != 0 {
		return true
	}
	return r.notice != "" && slices.Contains(s.notices[i], r.notice)
}

// evalGate denies until a prior written notice (evidence on the ledger) is old enough.
func (s *Subject) evalGate(v *verdict, l *layer, r *rule, t int64, msg *Message) {
	if msg != nil && r.notice != "" && slices.Contains(msg.Notices, r.notice) {
		return // this contact is the notice itself
	}
	g := s.gateOf(r)
	if g == nil { // not planned (evalRule's every-layer path): read the ledger now
		scan := s.gateScan(r)
		g = &scan
	}
	// Some evidence lets the contact through at t exactly when the
	// earliest does; else every one opens after t, and the bound is the
	// scan's.
	if g.found && g.open <= t {
		return
	}
	next, found := g.next, g.found
	text := ""
	if v.collect {
		if found {
			text = fmt.Sprintf("%s: the notice on the ledger is too recent; allowed from %s", r.meta.Text, time.Unix(0, next).UTC().Format(time.RFC3339))
		} else {
			text = fmt.Sprintf("%s: no such notice on the ledger", r.meta.Text)
		}
	}
	v.deny(l, &r.meta, text, next, !found)
}

// gateScan reads gate rule r's evidence off the ledger: found when there
// is any, open the earliest instant any lets a contact through, next the
// bound evalGate denies with when none does yet (the first evidence's
// opening, then any smaller one, in ledger order).
func (s *Subject) gateScan(r *rule) gateEvidence {
	g := gateEvidence{r: r}
	for i := range s.at {
		if !s.isEvidence(r, i) {
			continue
		}
		o := s.gateOpen(r, s.at[i])
		if !g.found || o < g.open {
			g.open = o
		}
		g.found = true
		if g.next == 0 || o < g.next {
			g.next = o
		}
	}
	return g
}

// gateOf returns r's entry in Subject.gates, nil when it has none.
func (s *Subject) gateOf(r *rule) *gateEvidence {
	for i := range s.gates {
		if s.gates[i].r == r {
			return &s.gates[i]
		}
	}
	return nil
}

// delivered reports whether a ledger entry at or before t carried notice id.
func (s *Subject) delivered(id string, t int64) bool {
	for i := range s.at {
		if s.at[i] > t {
			break
		}
		if s.debt[i] && slices.Contains(s.notices[i], id) {
			return true
		}
	}
	return false
}

// nextDelivery returns the time of the first ledger entry after t that carries notice id, or 0.
func (s *Subject) nextDelivery(id string, t int64) int64 {
	for i := range s.at {
		if s.at[i] > t && s.debt[i] && slices.Contains(s.notices[i], id) {
			return s.at[i]
		}
	}
	return 0
}

// evalNotice adds a required notice and, when the message is known, denies if it lacks it.
// A notice with a deadline that passed undelivered denies every contact that cannot carry it.
func (s *Subject) evalNotice(v *verdict, l *layer, r *rule, ch Channel, t int64, msg *Message, withNotices bool) {
	initial := !s.firstCommOK || s.firstComm >= t
	carries := r.channels.has(ch)
	need := false
	switch r.when {
	case "always":
		need = true
	case "initial":
		need = initial
	case "subsequent":
		need = !initial
	case "until_delivered":
		// The ledger scan only matters when the notice is overdue for this
		// channel, or listed, or checked against the message.
		overdue := r.deadline > 0 && !initial && t > s.firstComm+r.deadline && !carries
		if overdue || carries && (withNotices || msg != nil) {
			need = !s.delivered(r.meta.ID, t)
		}
		if need && overdue {
			// overdue: a channel that cannot carry the notice must wait until it is sent
			text := ""
			if v.collect {
				text = s.overdueText(r)
			}
			// a later ledger entry carrying the notice (a scheduled mailing) clears it then
			next, never := s.nextDelivery(r.meta.ID, t), false
			if next == 0 {
				never = true
			}
			v.deny(l, &r.meta, text, next, never)
		}
	}
	if !need || !carries {
		return
	}
	if withNotices {
		if v.notices == nil && ch > noChannel && ch < numChannels {
			v.notices = make([]Notice, 0, s.noticeRules[ch])
		}
		v.notices = append(v.notices, Notice{ID: r.meta.ID, Text: r.meta.Text, Jurisdiction: l.code, Source: r.meta.Source, Status: r.meta.Status})
	}
	if msg != nil && !slices.Contains(msg.Notices, r.meta.ID) {
		text := ""
		if v.collect {
			text = "the message lacks a required notice: " + r.meta.Text
		}
		v.deny(l, &r.meta, text, 0, true)
	}
}

// overdueText is the reason an overdue notice rule r gives: made once per
// subject (see Subject.overdue).
func (s *Subject) overdueText(r *rule) string {
	o := s.overdueOf(r)
	if o != nil {
		if t := o.text.Load(); t != nil {
			return *t
		}
	}
	text := r.meta.Text + ": overdue since " + time.Unix(0, s.firstComm+r.deadline).UTC().Format(time.RFC3339) + "; send it (" + chanList(r.channels) + ") before any other contact"
	if o != nil {
		o.text.Store(&text)
	}
	return text
}

// overdueOf returns r's entry in Subject.overdue, nil when it has none.
func (s *Subject) overdueOf(r *rule) *overdueText {
	for i := range s.overdue {
		if s.overdue[i].r == r {
			return &s.overdue[i]
		}
	}
	return nil
}

func chanList(cs chanSet) string {
	if int(cs) < len(chanLists) {
		return chanLists[cs]
	}
	return joinChannels(cs)
}

// chanLists holds chanList of every set of channels, built once.
var chanLists = func() []string {
	out := make([]string, 1<<numChannels)
	for cs := range out {
		out[cs] = joinChannels(chanSet(cs))
	}
	return out
}()

func joinChannels(cs chanSet) string {
	var out []string
	for c := Email; c < numChannels; c++ {
		if cs.has(c) {
			out = append(out, c.String())
		}
	}
	return strings.Join(out, " or ")
}
