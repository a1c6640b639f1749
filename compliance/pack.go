package compliance

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Pack is one jurisdiction's rules as written in YAML. It is the data format; the firewall
// compiles it into a faster form. Every rule names its source so a denial can be traced to
// the law (or company policy) behind it.
type Pack struct {
	// Jurisdiction is the ISO 3166 code (US, US-MA, CA-ON, AU-NSW, NZ, GB) or POLICY.
	Jurisdiction string `yaml:"jurisdiction"`
	// Name is the human title: the statutes or guidance the pack encodes.
	Name string `yaml:"name"`
	// Parent is the layer above (US for US-MA); its rules apply too.
	Parent string `yaml:"parent"`
	// Abstract packs hold shared rules but cannot be an account's jurisdiction
	// (CA: Canadian debt collection is provincial, so a province is required).
	Abstract bool `yaml:"abstract"`
	// Zones are the IANA zones of the jurisdiction, used for the strictest reading when the
	// debtor's zone is unknown. Inherited from the parent when empty.
	Zones []string `yaml:"zones"`
	// Sources lists the documents the pack was built from, for the README.
	Sources []string `yaml:"sources"`
	// Holidays lists, per year, the dates on which hours rules use their holiday windows.
	Holidays *HolidayList `yaml:"holidays"`
	// Rules are the pack's rules, each with a kind.
	Rules []RuleSpec `yaml:"rules"`
}

// HolidayList is a jurisdiction's holiday dates per year. Years are listed explicitly so a
// year nobody entered is an error rather than a year without holidays.
type HolidayList struct {
	ID     string              `yaml:"id"`
	Text   string              `yaml:"text"`
	Source string              `yaml:"source"`
	Status string              `yaml:"status"`
	Years  map[string][]string `yaml:"years"`
}

// RuleSpec is one rule as written in a pack. Which fields apply depends on Kind:
//
//	hours:    channels, windows (sun..sat and optionally holiday: ["HH:MM-HH:MM", ...])
//	cap:      channels, counts, max, window_days, scope (debt|debtor), when_flags, address_kinds
//	cooldown: channels, after (triggers), days (local calendar days, trigger day = day 1)
//	gate:     channels, evidence and/or evidence_notice, wait_days (full local days between)
//	notice:   channels, when (always|initial|subsequent|until_delivered), when_flags, deadline_days
//	flag:     channels, flags
//	consent:  channels (explicit consent must be true)
type RuleSpec struct {
	ID     string `yaml:"id"`
	Kind   string `yaml:"kind"`
	Text   string `yaml:"text"`
	Source string `yaml:"source"`
	// Status is v_primary, v_secondary, unverified or policy (RULES.md legend).
	Status   string   `yaml:"status"`
	Channels []string `yaml:"channels"`

	Windows map[string][]string `yaml:"windows"`

	Counts       []string `yaml:"counts"`
	Max          int      `yaml:"max"`
	WindowDays   int      `yaml:"window_days"`
	Scope        string   `yaml:"scope"`
	WhenFlags    []string `yaml:"when_flags"`
	AddressKinds []string `yaml:"address_kinds"`

	After []string `yaml:"after"`
	Days  int      `yaml:"days"`

	Evidence       []string `yaml:"evidence"`
	EvidenceNotice string   `yaml:"evidence_notice"`
	WaitDays       int      `yaml:"wait_days"`

	When         string `yaml:"when"`
	DeadlineDays int    `yaml:"deadline_days"`

	Flags []string `yaml:"flags"`
}

var (
	jurisdictionRE = regexp.MustCompile(`^(POLICY|[A-Z]{2}(-[A-Z0-9]{1,3}){0,2})$`)
	ruleIDRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,63}$`)
	statuses       = map[string]bool{"v_primary": true, "v_secondary": true, "unverified": true, "policy": true}
)

// ParsePacks reads every YAML document in data as a pack and validates it on its own
// (references to other packs are checked when the firewall is built). name is used in errors.
func ParsePacks(name string, data []byte) ([]*Pack, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var out []*Pack
	for i := 0; ; i++ {
		var p Pack
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse pack %s (document %d): %w", name, i+1, err)
		}
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("pack %s (document %d, %q): %w", name, i+1, p.Jurisdiction, err)
		}
		out = append(out, &p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pack %s: no pack document", name)
	}
	return out, nil
}

// LoadPacks reads every *.yaml and *.yml file at the top of fsys.
func LoadPacks(fsys fs.FS) ([]*Pack, error) {
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read packs: %w", err)
	}
	var out []*Pack
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			continue
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("read pack %s: %w", n, err)
		}
		ps, err := ParsePacks(path.Base(n), b)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

func (p *Pack) validate() error {
	if !jurisdictionRE.MatchString(p.Jurisdiction) {
		return fmt.Errorf("jurisdiction %q is not an ISO 3166 code like US, US-MA, CA-ON (or POLICY)", p.Jurisdiction)
	}
	if strings.TrimSpace(p.Name) == "" {
		return errors.New("name is empty")
	}
	if p.Parent != "" && !jurisdictionRE.MatchString(p.Parent) {
		return fmt.Errorf("parent %q is not a jurisdiction code", p.Parent)
	}
	if p.Parent == p.Jurisdiction {
		return errors.New("pack is its own parent")
	}
	if p.Jurisdiction != "POLICY" && p.Parent == "" {
		return errors.New("parent is empty: every jurisdiction sits under POLICY or another jurisdiction")
	}
	for _, z := range p.Zones {
		if _, err := time.LoadLocation(z); err != nil || z == "" || z == "UTC" || z == "Local" {
			return fmt.Errorf("zone %q is not an IANA zone", z)
		}
	}
	if p.Holidays != nil {
		if _, err := compileHolidays(p.Holidays); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for i := range p.Rules {
		r := &p.Rules[i]
		if _, err := compileRule(r, p.Holidays != nil); err != nil {
			id := r.ID
			if id == "" {
				id = fmt.Sprintf("#%d", i+1)
			}
			return fmt.Errorf("rule %s: %w", id, err)
		}
		if seen[r.ID] {
			return fmt.Errorf("rule id %s appears twice", r.ID)
		}
		seen[r.ID] = true
	}
	return nil
}

// holidayCal answers "is this local date a holiday?" and fails on years that were not listed.
type holidayCal struct {
	id    string
	meta  ruleMeta
	years map[int]*[367]bool
}

func compileHolidays(h *HolidayList) (*holidayCal, error) {
	if !ruleIDRE.MatchString(h.ID) {
		return nil, fmt.Errorf("holidays: id %q must be lower-case words joined by '-'", h.ID)
	}
	if strings.TrimSpace(h.Text) == "" || strings.TrimSpace(h.Source) == "" {
		return nil, fmt.Errorf("holidays %s: text and source are required", h.ID)
	}
	if !statuses[h.Status] {
		return nil, fmt.Errorf("holidays %s: status %q (want v_primary, v_secondary, unverified or policy)", h.ID, h.Status)
	}
	if len(h.Years) == 0 {
		return nil, fmt.Errorf("holidays %s: no years listed", h.ID)
	}
	c := &holidayCal{id: h.ID, meta: ruleMeta{ID: h.ID, Text: h.Text, Source: h.Source, Status: h.Status}, years: map[int]*[367]bool{}}
	for ys, dates := range h.Years {
		y, err := strconv.Atoi(ys)
		if err != nil || y < 1970 || y > 2200 {
			return nil, fmt.Errorf("holidays %s: year %q is not a year", h.ID, ys)
		}
		days := new([367]bool)
		for _, ds := range dates {
			d, err := time.Parse("2006-01-02", ds)
			if err != nil {
				return nil, fmt.Errorf("holidays %s: date %q: want YYYY-MM-DD", h.ID, ds)
			}
			if d.Year() != y {
				return nil, fmt.Errorf("holidays %s: date %s listed under year %d", h.ID, ds, y)
			}
			days[d.YearDay()] = true
		}
		c.years[y] = days
	}
	return c, nil
}

// is reports whether the local date (y, yday) is a holiday.
func (c *holidayCal) is(y, yday int) (bool, error) {
	days, ok := c.years[y]
	if !ok {
		return false, fmt.Errorf("holiday list %s has no dates for %d: add the year to the pack (a missing year is never read as 'no holidays')", c.id, y)
	}
	return days[yday], nil
}

// ruleMeta is what a denial reports about a rule.
type ruleMeta struct {
	ID     string
	Text   string
	Source string
	Status string
}

type ruleKind uint8

const (
	kindHours ruleKind = iota
	kindCap
	kindCooldown
	kindGate
	kindNotice
	kindFlag
	kindConsent
	kindQuiet // customer do-not-contact times (built in, never from a pack)
)

var kindNames = map[string]ruleKind{"hours": kindHours, "cap": kindCap, "cooldown": kindCooldown, "gate": kindGate, "notice": kindNotice, "flag": kindFlag, "consent": kindConsent}

// window is a half-open local-time interval [from, to) in minutes after midnight.
type window struct{ from, to int16 }

// rule is a compiled rule.
type rule struct {
	meta     ruleMeta
	kind     ruleKind
	channels chanSet

	week       [7][]window
	holiday    []window
	hasHoliday bool

	counts     [numChannels]uint32 // per channel, a bit per outcome that counts / triggers / is evidence
	max        int
	window     int64 // nanoseconds
	perDebt    bool
	whenFlags  flagSet
	addrKinds  uint8 // bit per AddressKind; 0 = all
	days       int
	notice     string
	when       string
	deadline   int64
	flags      flagSet
	windowDays int
}

func compileRule(r *RuleSpec, haveHolidays bool) (*rule, error) {
	if !ruleIDRE.MatchString(r.ID) {
		return nil, fmt.Errorf("id %q must be 2-64 lower-case letters, digits and '-'", r.ID)
	}
	k, ok := kindNames[r.Kind]
	if !ok {
		return nil, fmt.Errorf("kind %q (want hours, cap, cooldown, gate, notice, flag or consent)", r.Kind)
	}
	if strings.TrimSpace(r.Text) == "" {
		return nil, errors.New("text is required: it is what a denial tells the caller")
	}
	if strings.TrimSpace(r.Source) == "" {
		return nil, errors.New("source is required: every rule cites its law, guidance or policy basis")
	}
	if !statuses[r.Status] {
		return nil, fmt.Errorf("status %q (want v_primary, v_secondary, unverified or policy)", r.Status)
	}
	cr := &rule{meta: ruleMeta{ID: r.ID, Text: r.Text, Source: r.Source, Status: r.Status}, kind: k}
	cs, err := parseChannels(r.Channels)
	if err != nil {
		return nil, err
	}
	cr.channels = cs
	if len(r.WhenFlags) > 0 {
		fs, err := parseFlags(r.WhenFlags)
		if err != nil {
			return nil, fmt.Errorf("when_flags: %w", err)
		}
		cr.whenFlags = fs
	}
	// Fields that belong to other kinds are an error: a misplaced field is a rule that does
	// not do what its author thought.
	used := func(name string, set bool, kinds ...ruleKind) error {
		if !set {
			return nil
		}
		for _, kk := range kinds {
			if kk == k {
				return nil
			}
		}
		return fmt.Errorf("field %s does not apply to kind %s", name, r.Kind)
	}
	for _, e := range []error{
		used("windows", r.Windows != nil, kindHours),
		used("counts", r.Counts != nil, kindCap),
		used("max", r.Max != 0, kindCap),
		used("window_days", r.WindowDays != 0, kindCap),
		used("scope", r.Scope != "", kindCap, kindCooldown),
		used("address_kinds", r.AddressKinds != nil, kindCap),
		used("after", r.After != nil, kindCooldown),
		used("days", r.Days != 0, kindCooldown),
		used("evidence", r.Evidence != nil, kindGate),
		used("evidence_notice", r.EvidenceNotice != "", kindGate),
		used("wait_days", r.WaitDays != 0, kindGate),
		used("when", r.When != "", kindNotice),
		used("deadline_days", r.DeadlineDays != 0, kindNotice),
		used("flags", r.Flags != nil, kindFlag),
		used("when_flags", r.WhenFlags != nil, kindCap, kindNotice, kindHours),
	} {
		if e != nil {
			return nil, e
		}
	}
	switch k {
	case kindHours:
		if r.Windows == nil {
			return nil, errors.New("hours rule without windows: list all seven days (an empty list closes the day)")
		}
		for key, ws := range r.Windows {
			parsed, err := parseWindows(ws)
			if err != nil {
				return nil, fmt.Errorf("windows %s: %w", key, err)
			}
			if key == "holiday" {
				if !haveHolidays {
					return nil, errors.New("windows.holiday given but the pack has no holidays list")
				}
				cr.holiday, cr.hasHoliday = parsed, true
				continue
			}
			d, err := parseWeekday(key)
			if err != nil {
				return nil, fmt.Errorf("windows: %w", err)
			}
			cr.week[d] = parsed
		}
		for _, key := range weekdayKeys {
			if _, ok := r.Windows[key]; !ok {
				return nil, fmt.Errorf("windows: day %s missing (list every day; [] closes it)", key)
			}
		}
	case kindCap:
		if r.Max < 1 {
			return nil, fmt.Errorf("max %d: a cap allows at least one contact (use a flag or consent rule to block)", r.Max)
		}
		if r.WindowDays < 1 || r.WindowDays > 366 {
			return nil, fmt.Errorf("window_days %d: want 1..366", r.WindowDays)
		}
		cr.max, cr.windowDays, cr.window = r.Max, r.WindowDays, int64(r.WindowDays)*int64(24*time.Hour)
		if cr.counts, err = parseMatchers(r.Counts, "counts"); err != nil {
			return nil, err
		}
		if cr.perDebt, err = parseScope(r.Scope); err != nil {
			return nil, err
		}
		for _, a := range r.AddressKinds {
			var ak AddressKind
			if err := ak.UnmarshalText([]byte(a)); err != nil || a == "" {
				return nil, fmt.Errorf("address_kinds: %q (want personal or work)", a)
			}
			cr.addrKinds |= 1 << ak
		}
	case kindCooldown:
		if r.Days < 1 || r.Days > 366 {
			return nil, fmt.Errorf("days %d: want 1..366", r.Days)
		}
		cr.days = r.Days
		if cr.counts, err = parseMatchers(r.After, "after"); err != nil {
			return nil, err
		}
		if cr.perDebt, err = parseScope(r.Scope); err != nil {
			return nil, err
		}
	case kindGate:
		if len(r.Evidence) == 0 && r.EvidenceNotice == "" {
			return nil, errors.New("gate needs evidence (ledger outcomes) or evidence_notice")
		}
		if r.WaitDays < 0 || r.WaitDays > 366 {
			return nil, fmt.Errorf("wait_days %d: want 0..366", r.WaitDays)
		}
		if len(r.Evidence) > 0 {
			if cr.counts, err = parseMatchers(r.Evidence, "evidence"); err != nil {
				return nil, err
			}
		}
		if r.EvidenceNotice != "" && !ruleIDRE.MatchString(r.EvidenceNotice) {
			return nil, fmt.Errorf("evidence_notice %q is not a rule id", r.EvidenceNotice)
		}
		cr.notice, cr.days = r.EvidenceNotice, r.WaitDays
	case kindNotice:
		switch r.When {
		case "always", "initial", "subsequent", "until_delivered":
		default:
			return nil, fmt.Errorf("when %q (want always, initial, subsequent or until_delivered)", r.When)
		}
		if r.DeadlineDays < 0 || r.DeadlineDays > 366 {
			return nil, fmt.Errorf("deadline_days %d: want 0..366", r.DeadlineDays)
		}
		if r.DeadlineDays > 0 && r.When != "until_delivered" {
			return nil, errors.New("deadline_days needs when: until_delivered")
		}
		cr.when, cr.deadline = r.When, int64(r.DeadlineDays)*int64(24*time.Hour)
	case kindFlag:
		if len(r.Flags) == 0 {
			return nil, errors.New("flag rule without flags")
		}
		if cr.flags, err = parseFlags(r.Flags); err != nil {
			return nil, err
		}
	case kindConsent:
	}
	return cr, nil
}

func parseChannels(names []string) (chanSet, error) {
	if len(names) == 0 {
		return 0, errors.New("channels: list the channels the rule applies to (or all)")
	}
	var s chanSet
	for _, n := range names {
		if n == "all" {
			s |= allChannels
			continue
		}
		c, err := ParseChannel(n)
		if err != nil {
			return 0, fmt.Errorf("channels: %w", err)
		}
		s |= 1 << c
	}
	return s, nil
}

func parseFlags(names []string) (flagSet, error) {
	var s flagSet
	for _, n := range names {
		f, err := ParseFlag(n)
		if err != nil {
			return 0, err
		}
		s |= 1 << f
	}
	return s, nil
}

func parseScope(s string) (perDebt bool, err error) {
	switch s {
	case "debt":
		return true, nil
	case "debtor":
		return false, nil
	}
	return false, fmt.Errorf("scope %q (want debt or debtor)", s)
}

// parseMatchers reads "channel:outcome" patterns, where either side may be "*", into a bit
// per outcome for each channel.
func parseMatchers(pats []string, field string) ([numChannels]uint32, error) {
	var m [numChannels]uint32
	if len(pats) == 0 {
		return m, fmt.Errorf("%s: list at least one channel:outcome", field)
	}
	for _, p := range pats {
		cs, os, ok := strings.Cut(p, ":")
		if !ok {
			return m, fmt.Errorf("%s: %q is not channel:outcome (either may be *)", field, p)
		}
		var chans chanSet
		if cs == "*" {
			chans = allChannels
		} else {
			c, err := ParseChannel(cs)
			if err != nil {
				return m, fmt.Errorf("%s: %w", field, err)
			}
			chans = 1 << c
		}
		var outs uint32
		if os == "*" {
			outs = 1<<numOutcomes - 2 // bit 0 is noOutcome
		} else {
			o, err := ParseOutcome(os)
			if err != nil {
				return m, fmt.Errorf("%s: %w", field, err)
			}
			outs = 1 << o
		}
		for c := Email; c < numChannels; c++ {
			if chans.has(c) {
				m[c] |= outs
			}
		}
	}
	return m, nil
}

// parseWindows reads "HH:MM-HH:MM" intervals, sorted and not overlapping.
func parseWindows(ss []string) ([]window, error) {
	ws := make([]window, 0, len(ss))
	for _, s := range ss {
		a, b, ok := strings.Cut(s, "-")
		if !ok {
			return nil, fmt.Errorf("%q is not HH:MM-HH:MM", s)
		}
		from, err := parseClock(a)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		to, err := parseClock(b)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		if from >= to {
			return nil, fmt.Errorf("%q: start must be before end (windows do not wrap midnight)", s)
		}
		ws = append(ws, window{from, to})
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].from < ws[j].from })
	for i := 1; i < len(ws); i++ {
		if ws[i].from < ws[i-1].to {
			return nil, errors.New("windows overlap")
		}
	}
	return ws, nil
}

func parseClock(s string) (int16, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("clock %q: want HH:MM", s)
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("clock %q: want 00:00..24:00", s)
	}
	return int16(h*60 + m), nil
}

func fmtClock(m int16) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
