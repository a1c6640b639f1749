package compliance

import "time"

// Session asks one Subject many questions from one goroutine, as the
// decision engine does: every channel at the decision instant, then the
// candidate send slots of each channel. The rules whose outcome does not
// depend on the channel asked about (permitted hours, quiet periods, caps,
// cooldowns) are evaluated once per instant and remembered, so the other
// channels at the same instant reuse the outcome. Every answer is the
// Subject's own (TestSessionMatchesSubject).
//
// A Session is for one goroutine; the zero value is ready after Reset. It
// remembers a bounded number of outcomes and simply evaluates beyond them.
type Session struct {
	s    *Subject
	n    int
	memo [24]memoEntry
}

// memoEntry is the outcome of rule r at instant t (for address kind kind
// when r is a cap): the verdict it alone gives, with its reasons when
// collected.
type memoEntry struct {
	r       *rule
	t       int64
	kind    AddressKind
	collect bool
	allowed bool
	never   bool
	next    int64
	reasons []Reason
}

// Reset starts a session of questions about s, forgetting the previous one.
func (x *Session) Reset(s *Subject) {
	clear(x.memo[:x.n])
	x.s, x.n = s, 0
}

// Subject returns the subject the session asks about.
func (x *Session) Subject() *Subject { return x.s }

// Check is Subject.Check.
func (x *Session) Check(c Contact) (Decision, error) { return x.s.check(c, x) }

// Verdict is Subject.Verdict.
func (x *Session) Verdict(ch Channel, at time.Time, kind AddressKind) (bool, []Reason, *time.Time, error) {
	return x.s.verdict(ch, at, kind, x)
}

// Allowed is Subject.Allowed.
func (x *Session) Allowed(ch Channel, at time.Time, kind AddressKind) (bool, error) {
	return x.s.allowed(ch, at, kind, x)
}

// Earliest is Subject.Earliest.
func (x *Session) Earliest(ch Channel, from time.Time, kind AddressKind, horizon time.Duration) (time.Time, bool, error) {
	return x.s.earliest(ch, from, kind, horizon, x)
}

// channelFree reports whether rules of kind k give the same outcome for
// every channel they apply to: they read the instant, the ledger and (caps)
// the address kind, never the channel or the message.
func channelFree(k ruleKind) bool {
	switch k {
	case kindHours, kindQuiet, kindCap, kindCooldown:
		return true
	}
	return false
}

// eval applies rule r at t to v: the remembered outcome when there is one
// (one with reasons serves a question without), else the rule evaluated on
// its own and merged into v exactly as its denials would have been.
func (x *Session) eval(s *Subject, v *verdict, l *layer, r *rule, t int64, kind AddressKind) error {
	capKind := r.kind == kindCap
	for i := range x.n {
		e := &x.memo[i]
		if e.r == r && e.t == t && (!capKind || e.kind == kind) && (e.collect || !v.collect) {
			e.merge(v)
			return nil
		}
	}
	// The rule runs on its own, on v emptied of its outcome (v keeps its
	// wall clocks, which the rule reads and fills, without copying them
	// out and back); v's outcome is restored after.
	allowed, never, next, reasons, notices, memo := v.allowed, v.never, v.next, v.reasons, v.notices, v.memo
	v.allowed, v.never, v.next, v.reasons, v.notices, v.memo = true, false, 0, nil, nil, nil
	err := s.runRule(v, l, r, noChannel, t, kind, nil, false)
	e := memoEntry{r: r, t: t, kind: kind, collect: v.collect, allowed: v.allowed, never: v.never, next: v.next, reasons: v.reasons}
	v.allowed, v.never, v.next, v.reasons, v.notices, v.memo = allowed, never, next, reasons, notices, memo
	if err != nil {
		return err
	}
	e.merge(v)
	if x.n < len(x.memo) {
		x.memo[x.n] = e
		x.n++
	}
	return nil
}

// merge applies the remembered outcome to v as verdict.deny applied each of
// the rule's denials: allowed and never combine, next is the largest bound,
// the reasons follow v's.
func (e *memoEntry) merge(v *verdict) {
	if !e.allowed {
		v.allowed = false
	}
	if e.never {
		v.never = true
	}
	if e.next > v.next {
		v.next = e.next
	}
	if v.collect {
		v.reasons = append(v.reasons, e.reasons...)
	}
}
