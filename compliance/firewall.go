package compliance

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"
	"time"
	_ "time/tzdata" // local hours must not depend on the host's zoneinfo
)

//go:embed packs/*.yaml
var embedded embed.FS

// DefaultPacks returns the rule packs embedded in the binary.
func DefaultPacks() ([]*Pack, error) {
	sub, err := fs.Sub(embedded, "packs")
	if err != nil {
		return nil, fmt.Errorf("embedded packs: %w", err)
	}
	return LoadPacks(sub)
}

// Options are the firewall's knobs.
type Options struct {
	// PacksDir, when set, holds YAML packs that replace embedded packs of the same
	// jurisdiction and add new ones.
	PacksDir string
	// Horizon bounds the search for the earliest permitted instant; beyond it the answer is null.
	Horizon time.Duration
}

// DefaultOptions searches two weeks ahead, long enough to clear a 7-day cap or wait and a
// holiday weekend, short enough to answer in microseconds.
func DefaultOptions() Options { return Options{Horizon: 14 * 24 * time.Hour} }

// Open builds a firewall from the embedded packs plus opts.PacksDir.
func Open(opts Options) (*Firewall, error) {
	packs, err := DefaultPacks()
	if err != nil {
		return nil, err
	}
	if opts.PacksDir != "" {
		if st, err := os.Stat(opts.PacksDir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("packs dir %s: not a readable directory", opts.PacksDir)
		}
		over, err := LoadPacks(os.DirFS(opts.PacksDir))
		if err != nil {
			return nil, fmt.Errorf("packs dir %s: %w", opts.PacksDir, err)
		}
		byJ := map[string]int{}
		for i, p := range packs {
			byJ[p.Jurisdiction] = i
		}
		for _, p := range over {
			if i, ok := byJ[p.Jurisdiction]; ok {
				packs[i] = p
			} else {
				byJ[p.Jurisdiction] = len(packs)
				packs = append(packs, p)
			}
		}
	}
	return New(packs, opts)
}

// Firewall holds the compiled packs; it is safe for concurrent use.
type Firewall struct {
	opts   Options
	layers map[string]*layer
	zones  sync.Map // name -> *time.Location
	// plans are the subjects' rule lists by planKey (Subject.sharePlan):
	// at most one per jurisdiction, flag set and consent set.
	plans sync.Map
}

// layer is one compiled pack.
type layer struct {
	code     string
	pack     *Pack
	parent   *layer
	zones    []string
	holidays *holidayCal
	rules    []*rule
}

// New compiles packs into a firewall, checking what a single pack cannot: unique
// jurisdictions and rule ids, parents that exist, and no cycles.
func New(packs []*Pack, opts Options) (*Firewall, error) {
	if opts.Horizon <= 0 {
		return nil, errors.New("options: horizon must be positive")
	}
	f := &Firewall{opts: opts, layers: map[string]*layer{}}
	ids := map[string]string{}
	for _, p := range packs {
		if _, dup := f.layers[p.Jurisdiction]; dup {
			return nil, fmt.Errorf("jurisdiction %s defined twice", p.Jurisdiction)
		}
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("pack %s: %w", p.Jurisdiction, err)
		}
		l := &layer{code: p.Jurisdiction, pack: p}
		if p.Holidays != nil {
			l.holidays, _ = compileHolidays(p.Holidays)
			if prev, ok := ids[p.Holidays.ID]; ok {
				return nil, fmt.Errorf("rule id %s used in %s and %s", p.Holidays.ID, prev, p.Jurisdiction)
			}
			ids[p.Holidays.ID] = p.Jurisdiction
		}
		for i := range p.Rules {
			r, err := compileRule(&p.Rules[i], l.holidays != nil)
			if err != nil {
				return nil, fmt.Errorf("pack %s rule %s: %w", p.Jurisdiction, p.Rules[i].ID, err)
			}
			if prev, ok := ids[r.meta.ID]; ok {
				return nil, fmt.Errorf("rule id %s used in %s and %s", r.meta.ID, prev, p.Jurisdiction)
			}
			ids[r.meta.ID] = p.Jurisdiction
			l.rules = append(l.rules, r)
		}
		f.layers[p.Jurisdiction] = l
	}
	if _, ok := f.layers["POLICY"]; !ok {
		return nil, errors.New("no POLICY pack: company policy is the root every jurisdiction inherits")
	}
	for code, l := range f.layers {
		if l.pack.Parent == "" {
			continue
		}
		p, ok := f.layers[l.pack.Parent]
		if !ok {
			return nil, fmt.Errorf("pack %s: parent %s has no pack", code, l.pack.Parent)
		}
		l.parent = p
	}
	for code, l := range f.layers {
		seen := map[*layer]bool{}
		for x := l; x != nil; x = x.parent {
			if seen[x] {
				return nil, fmt.Errorf("pack %s: parent chain loops", code)
			}
			seen[x] = true
		}
		for x := l; x != nil && len(l.zones) == 0; x = x.parent {
			l.zones = x.pack.Zones
		}
		if !l.pack.Abstract && code != "POLICY" && len(l.zones) == 0 {
			return nil, fmt.Errorf("pack %s: no zones (own or inherited): the unknown-zone reading needs them", code)
		}
	}
	return f, nil
}

// Horizon is how far ahead Check searches for a contact's earliest permitted
// instant (Options.Horizon), so a caller that also needs Earliest over the
// same horizon can take it from Check's answer instead of searching twice.
func (f *Firewall) Horizon() time.Duration { return f.opts.Horizon }

// Jurisdictions lists the jurisdictions an account may name, sorted.
func (f *Firewall) Jurisdictions() []string {
	var out []string
	for c, l := range f.layers {
		if !l.pack.Abstract && c != "POLICY" {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// Packs returns the packs in effect, sorted by jurisdiction, for listings and docs.
func (f *Firewall) Packs() []*Pack {
	out := make([]*Pack, 0, len(f.layers))
	for _, l := range f.layers {
		out = append(out, l.pack)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Jurisdiction < out[j].Jurisdiction })
	return out
}

// Chain returns the layers that apply to a jurisdiction, root (POLICY) first.
func (f *Firewall) Chain(jurisdiction string) ([]string, error) {
	ls, err := f.chain(jurisdiction)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.code
	}
	return out, nil
}

func (f *Firewall) chain(j string) ([]*layer, error) {
	l, ok := f.layers[j]
	if !ok {
		return nil, fmt.Errorf("unknown jurisdiction %q (known: %v)", j, f.Jurisdictions())
	}
	if l.pack.Abstract || j == "POLICY" {
		return nil, fmt.Errorf("jurisdiction %q is not specific enough: name a subdivision (e.g. a province)", j)
	}
	var out []*layer
	for x := l; x != nil; x = x.parent {
		out = append(out, x)
	}
	for i, k := 0, len(out)-1; i < k; i, k = i+1, k-1 {
		out[i], out[k] = out[k], out[i]
	}
	return out, nil
}

func (f *Firewall) location(name string) (*time.Location, error) {
	if v, ok := f.zones.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: want an IANA name like America/New_York", name)
	}
	f.zones.Store(name, loc)
	return loc, nil
}
