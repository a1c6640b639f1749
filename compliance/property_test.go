package compliance

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// plain is a deliberately simple second reading of the packs, written apart from the firewall:
// it walks the YAML specs directly, compares clock strings, and counts windows by brute force.
type plain struct {
	packs map[string]*Pack
}

func newPlain(t testing.TB) *plain {
	ps, err := DefaultPacks()
	if err != nil {
		t.Fatal(err)
	}
	p := &plain{packs: map[string]*Pack{}}
	for _, x := range ps {
		p.packs[x.Jurisdiction] = x
	}
	return p
}

func matches(pats []string, e Entry) bool {
	for _, p := range pats {
		c, o, _ := strings.Cut(p, ":")
		if (c == "*" || c == e.Channel.String()) && (o == "*" || o == e.Outcome.String()) {
			return true
		}
	}
	return false
}

func hasName(list []string, name string) bool {
	return slices.Contains(list, name) || slices.Contains(list, "all")
}

func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (p *plain) allowed(a Account, ledger []Entry, ch Channel, at time.Time, kind AddressKind) (bool, error) {
	var chain []*Pack
	for j := a.Jurisdiction; j != ""; {
		pk, ok := p.packs[j]
		if !ok {
			return false, fmt.Errorf("no pack %s", j)
		}
		chain = append(chain, pk)
		j = pk.Parent
	}
	var zoneNames []string
	for _, pk := range chain {
		if len(pk.Zones) > 0 {
			zoneNames = pk.Zones
			break
		}
	}
	if a.TimeZone != "" && !slices.Contains(zoneNames, a.TimeZone) {
		zoneNames = append([]string{a.TimeZone}, zoneNames...)
	} else if a.TimeZone != "" {
		zoneNames = []string{a.TimeZone}
	}
	var zones []*time.Location
	for _, z := range zoneNames {
		loc, err := time.LoadLocation(z)
		if err != nil {
			return false, err
		}
		zones = append(zones, loc)
	}
	hasFlag := func(names []string) bool {
		for _, f := range a.Flags {
			if slices.Contains(names, f.String()) {
				return true
			}
		}
		return false
	}
	sameDebt := func(e Entry) bool { return e.AccountID == "" || e.AccountID == a.ID }
	cname := ch.String()

	if v, ok := a.Consents[ch]; ok && !v {
		return false, nil
	}
	if a.PreferredChannel != nil && ch != *a.PreferredChannel && ch != Letter {
		return false, nil
	}
	for _, q := range a.DoNotContact {
		if ch == Letter && len(q.Channels) == 0 || len(q.Channels) > 0 && !slices.Contains(q.Channels, ch) {
			continue
		}
		for _, loc := range zones {
			lt := at.In(loc)
			clock := lt.Format("15:04")
			day := strings.ToLower(lt.Weekday().String()[:3])
			prev := strings.ToLower(lt.AddDate(0, 0, -1).Weekday().String()[:3])
			listed := func(d string) bool { return len(q.Days) == 0 || slices.Contains(q.Days, d) }
			if q.From < q.To && listed(day) && clock >= q.From && clock < q.To {
				return false, nil
			}
			if q.From > q.To && (listed(day) && clock >= q.From || listed(prev) && clock < q.To) {
				return false, nil
			}
		}
	}
	firstComm := time.Time{}
	for _, e := range ledger {
		switch e.Outcome {
		case ContactSent, Delivered, CallConversation, InboundCallConversation, LetterMailed:
			if sameDebt(e) && (firstComm.IsZero() || e.At.Before(firstComm)) {
				firstComm = e.At
			}
		}
	}
	for _, pk := range chain {
		for _, r := range pk.Rules {
			if len(r.WhenFlags) > 0 && !hasFlag(r.WhenFlags) {
				continue
			}
			applies := hasName(r.Channels, cname)
			switch r.Kind {
			case "flag":
				if applies && hasFlag(r.Flags) {
					return false, nil
				}
			case "consent":
				if applies && !a.Consents[ch] {
					return false, nil
				}
			case "hours":
				if !applies {
					continue
				}
				for _, loc := range zones {
					lt := at.In(loc)
					key := strings.ToLower(lt.Weekday().String()[:3])
					if _, ok := r.Windows["holiday"]; ok {
						list, ok := pk.Holidays.Years[fmt.Sprint(lt.Year())]
						if !ok {
							return false, fmt.Errorf("no holidays for %d", lt.Year())
						}
						if slices.Contains(list, lt.Format("2006-01-02")) {
							key = "holiday"
						}
					}
					clock, in := lt.Format("15:04"), false
					for _, w := range r.Windows[key] {
						from, to, _ := strings.Cut(w, "-")
						if clock >= from && clock < to {
							in = true
						}
					}
					if !in {
						return false, nil
					}
				}
			case "cap":
				if !applies || len(r.AddressKinds) > 0 && !slices.Contains(r.AddressKinds, kind.String()) {
					continue
				}
				W := time.Duration(r.WindowDays) * 24 * time.Hour
				var counted []time.Time
				for _, e := range ledger {
					if matches(r.Counts, e) && (r.Scope == "debtor" || sameDebt(e)) && (len(r.AddressKinds) == 0 || slices.Contains(r.AddressKinds, e.AddressKind.String())) {
						counted = append(counted, e.At)
					}
				}
				for _, anchor := range append([]time.Time{at}, counted...) {
					if !(anchor.Add(-W).Before(at) && !at.After(anchor)) {
						continue
					}
					n := 1
					for _, e := range counted {
						if anchor.Add(-W).Before(e) && !e.After(anchor) {
							n++
						}
					}
					if n > r.Max {
						return false, nil
					}
				}
			case "cooldown":
				if !applies {
					continue
				}
				for _, e := range ledger {
					if e.At.After(at) || !matches(r.After, e) || r.Scope == "debt" && !sameDebt(e) {
						continue
					}
					for _, loc := range zones {
						if dateOf(at.In(loc)).Before(dateOf(e.At.In(loc)).AddDate(0, 0, r.Days)) {
							return false, nil
						}
					}
				}
			case "gate":
				if !applies {
					continue
				}
				ok := false
				for _, e := range ledger {
					if e.At.After(at) || !sameDebt(e) {
						continue
					}
					if !(matches(r.Evidence, e) || r.EvidenceNotice != "" && slices.Contains(e.Notices, r.EvidenceNotice)) {
						continue
					}
					all := true
					for _, loc := range zones {
						if dateOf(at.In(loc)).Before(dateOf(e.At.In(loc)).AddDate(0, 0, r.WaitDays+1)) {
							all = false
						}
					}
					if all {
						ok = true
					}
				}
				if !ok {
					return false, nil
				}
			case "notice":
				if r.DeadlineDays == 0 || applies || firstComm.IsZero() || !firstComm.Before(at) {
					continue
				}
				sent := false
				for _, e := range ledger {
					if !e.At.After(at) && sameDebt(e) && slices.Contains(e.Notices, r.ID) {
						sent = true
					}
				}
				if !sent && at.After(firstComm.Add(time.Duration(r.DeadlineDays)*24*time.Hour)) {
					return false, nil
				}
			}
		}
	}
	return true, nil
}

var propJurisdictions = []string{"US-NY", "US-TX", "US-MA", "US-CA", "US-WA", "US-FL", "CA-ON", "CA-BC", "CA-AB", "CA-QC", "AU-NSW", "AU-SA", "AU-NT", "AU-WA", "NZ", "GB"}

var propOutcomes = []Outcome{ContactSent, Delivered, Bounced, Opened, CallNotConnected, CallNoAnswer, CallVoicemailNoMessage, CallVoicemailLeft, CallConversation, InboundCallConversation, LetterMailed, Payment}

func randomCase(rng *rand.Rand, fw *Firewall) (Account, []Entry, Channel, time.Time, AddressKind) {
	j := propJurisdictions[rng.IntN(len(propJurisdictions))]
	l := fw.layers[j]
	a := Account{ID: "acct", Jurisdiction: j, Consents: map[Channel]bool{}}
	switch r := rng.IntN(10); {
	case r < 6:
		a.TimeZone = l.zones[rng.IntN(len(l.zones))]
	case r < 9:
		a.TimeZone = ""
	default:
		a.TimeZone = "Asia/Kolkata" // outside every jurisdiction, half-hour offset
	}
	for _, c := range Channels {
		switch rng.IntN(8) {
		case 0:
			a.Consents[c] = false
		case 1:
		default:
			a.Consents[c] = true
		}
	}
	for f := Flag(0); f < numFlags; f++ {
		if rng.IntN(25) == 0 {
			a.Flags = append(a.Flags, f)
		}
	}
	if rng.IntN(20) == 0 {
		c := Channels[rng.IntN(len(Channels))]
		a.PreferredChannel = &c
	}
	if rng.IntN(10) == 0 {
		h := rng.IntN(24)
		q := Quiet{From: fmt.Sprintf("%02d:%02d", h, 30*rng.IntN(2)), To: fmt.Sprintf("%02d:00", (h+1+rng.IntN(10))%24)}
		if rng.IntN(2) == 0 {
			q.Days = []string{weekdayKeys[rng.IntN(7)]}
		}
		if q.From[:2] == q.To[:2] {
			q.To = fmt.Sprintf("%02d:45", (h+2)%24)
		}
		a.DoNotContact = []Quiet{q}
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	end := time.Date(2028, 11, 30, 0, 0, 0, 0, time.UTC).Unix()
	at := time.Unix(start+rng.Int64N(end-start), 0).UTC()
	if rng.IntN(3) == 0 {
		at = at.Truncate(time.Minute)
	}
	n := rng.IntN(31)
	var ledger []Entry
	for i := 0; i < n; i++ {
		e := Entry{
			Channel: Channels[rng.IntN(len(Channels))],
			Outcome: propOutcomes[rng.IntN(len(propOutcomes))],
			At:      at.Add(-time.Duration(rng.Int64N(int64(35*24*time.Hour))) + time.Duration(rng.IntN(3))*time.Duration(rng.Int64N(int64(48*time.Hour)))).Truncate(time.Second),
		}
		if e.Channel == Letter && rng.IntN(2) == 0 {
			e.Outcome = LetterMailed
		}
		if strings.HasPrefix(e.Outcome.String(), "call_") && rng.IntN(2) == 0 {
			e.Channel = Call
		}
		if rng.IntN(10) == 0 {
			e.AccountID = "other"
		}
		if rng.IntN(4) == 0 {
			e.AddressKind = Work
		}
		if rng.IntN(4) == 0 {
			e.Notices = []string{[]string{"us-validation-notice", "on-written-notice", "ny-initial-disclosures", "bc-debt-details", "qc-notice-of-payment"}[rng.IntN(5)]}
		}
		ledger = append(ledger, e)
	}
	kind := Personal
	if rng.IntN(5) == 0 {
		kind = Work
	}
	return a, ledger, Channels[rng.IntN(len(Channels))], at, kind
}

// TestPropertyAgainstPlainChecker: every contact the firewall allows passes the plain checker
// (and the other way round), every earliest instant is allowed, and no minute before it is.
func TestPropertyAgainstPlainChecker(t *testing.T) {
	n, slow := 2000, os.Getenv("ENGAGE_SLOW") == "1"
	if slow {
		n = 50000
	}
	fw := mustOpen(t)
	pl := newPlain(t)
	rng := rand.New(rand.NewPCG(20260101, 5))
	horizon := fw.opts.Horizon
	var allowedN, deniedN, earliestN int
	for i := 0; i < n; i++ {
		a, ledger, ch, at, kind := randomCase(rng, fw)
		s, err := fw.Subject(a, ledger)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got, err := s.Allowed(ch, at, kind)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		want, err := pl.allowed(a, ledger, ch, at, kind)
		if err != nil {
			t.Fatalf("case %d: plain: %v", i, err)
		}
		if got != want {
			d, _ := s.Check(Contact{Channel: ch, At: at, AddressKind: kind})
			t.Fatalf("case %d: firewall allowed=%v, plain=%v\naccount %+v\ncontact %s %s %s\nledger %+v\nreasons %+v", i, got, want, a, ch, at.Format(time.RFC3339), kind, ledger, d.Reasons)
		}
		if got {
			allowedN++
		} else {
			deniedN++
		}
		e, ok, err := s.Earliest(ch, at, kind, horizon)
		if err != nil {
			t.Fatalf("case %d: earliest: %v", i, err)
		}
		if got && (!ok || !e.Equal(at)) {
			t.Fatalf("case %d: allowed at %s but earliest %v %v", i, at, e, ok)
		}
		if !ok {
			// Nothing within the horizon: spot-check that hourly instants are all denied.
			for x := at; x.Before(at.Add(horizon)); x = x.Add(time.Hour) {
				if ok2, _ := s.Allowed(ch, x, kind); ok2 {
					d, _ := s.Check(Contact{Channel: ch, At: at, AddressKind: kind})
					t.Fatalf("case %d: earliest null but %s is allowed; at %s reasons %+v ledger %+v", i, x, at, d.Reasons, ledger)
				}
			}
			continue
		}
		earliestN++
		if e.Before(at) || e.After(at.Add(horizon)) {
			t.Fatalf("case %d: earliest %s outside [%s, +horizon]", i, e, at)
		}
		if okE, _ := pl.allowed(a, ledger, ch, e, kind); !okE {
			t.Fatalf("case %d: earliest %s not allowed by the plain checker (%+v, %s)", i, e, a, ch)
		}
		for x := at; x.Before(e); x = x.Add(time.Minute) {
			if ok2, _ := s.Allowed(ch, x, kind); ok2 {
				t.Fatalf("case %d: %s is allowed, before earliest %s", i, x, e)
			}
			if !slow && i%4 != 0 {
				continue
			}
			if ok2, err := pl.allowed(a, ledger, ch, x, kind); ok2 || err != nil {
				t.Fatalf("case %d: plain checker allows %s (err %v), before earliest %s", i, x, err, e)
			}
		}
	}
	t.Logf("%d cases: %d allowed, %d denied, %d denied with an earliest instant", n, allowedN, deniedN, earliestN-allowedN)
	if allowedN < n/20 || deniedN < n/20 {
		t.Fatalf("generator is lopsided: %d allowed, %d denied", allowedN, deniedN)
	}
}
