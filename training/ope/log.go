package ope

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/engagehq/engage/datasets"
)

// LogOptions say which columns of a logged table feed the evaluation.
type LogOptions struct {
	// Reward is the outcome column to evaluate (e.g. paid_7d); required.
	Reward string
	// Propensity is the propensity column; "" means the table's only column
	// with role propensity.
	Propensity string
	// Actions are the action-part columns; nil means every column with role
	// action, in table order.
	Actions []string
	// SkipInvalid drops rows whose propensity is missing, not positive or above
	// 1, or whose action part is missing, and counts them in Log.Invalid;
	// otherwise such a row is an error.
	SkipInvalid bool
}

// Log is a logged-decisions table ready for evaluation.
type Log struct {
	// Table is the whole table; Rows index it.
	Table *datasets.Table
	// Space is the action grid: per part, the levels the log actually took
	// (a level the logging policy never took has no propensity, so no policy
	// can be evaluated on it).
	Space *Space
	// Rows are the usable rows, in table order.
	Rows []Row
	// Censored counts rows dropped because the reward was missing (NaN: the
	// outcome window had not closed).
	Censored int
	// Invalid counts rows dropped by SkipInvalid.
	Invalid int
}

// ReadLog reads a logged-decisions Parquet file (datasets.ReadLogged) and
// prepares it for evaluation.
func ReadLog(path string, o LogOptions) (*Log, error) {
	t, err := datasets.ReadLogged(path)
	if err != nil {
		return nil, fmt.Errorf("read log %s: %w", path, err)
	}
	l, err := NewLog(t, o)
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	return l, nil
}

// NewLog checks the table's roles and builds the action space and the rows.
func NewLog(t *datasets.Table, o LogOptions) (*Log, error) {
	if t == nil {
		return nil, ErrEmpty
	}
	col := func(name string) int { return t.Index(name) }
	if o.Reward == "" {
		return nil, fmt.Errorf("no reward column given (outcome columns: %v)", names(t, datasets.RoleOutcome))
	}
	ri := col(o.Reward)
	if ri < 0 {
		return nil, fmt.Errorf("reward column %q not found (outcome columns: %v)", o.Reward, names(t, datasets.RoleOutcome))
	}
	if t.Floats[ri] == nil {
		return nil, fmt.Errorf("reward column %q is %s, want numeric", o.Reward, t.Columns[ri].Kind)
	}
	pi := -1
	if o.Propensity != "" {
		if pi = col(o.Propensity); pi < 0 {
			return nil, fmt.Errorf("propensity column %q not found", o.Propensity)
		}
	} else {
		ps := names(t, datasets.RolePropensity)
		switch len(ps) {
		case 0:
			return nil, fmt.Errorf("the table has no propensity column: off-policy evaluation needs the probability with which each logged action was chosen")
		case 1:
			pi = col(ps[0])
		default:
			return nil, fmt.Errorf("the table has several propensity columns %v; name one", ps)
		}
	}
	if t.Floats[pi] == nil {
		return nil, fmt.Errorf("propensity column %q is %s, want numeric", t.Columns[pi].Name, t.Columns[pi].Kind)
	}
	acts := o.Actions
	if acts == nil {
		acts = names(t, datasets.RoleAction)
	}
	if len(acts) == 0 {
		return nil, fmt.Errorf("the table has no action column")
	}
	ai := make([]int, len(acts))
	for k, a := range acts {
		if ai[k] = col(a); ai[k] < 0 {
			return nil, fmt.Errorf("action column %q not found", a)
		}
		if c := t.Columns[ai[k]]; c.Kind != datasets.KindCategorical && c.Kind != datasets.KindNumeric {
			return nil, fmt.Errorf("action column %q is %s, want categorical or numeric", a, c.Kind)
		}
	}

	l := &Log{Table: t}
	n := t.Len()
	rew, prop := t.Floats[ri], t.Floats[pi]
	keep := make([]int, 0, n)
	for i := 0; i < n; i++ {
		if why := rowProblem(t, ai, i, prop[i]); why != "" {
			if !o.SkipInvalid {
				return nil, fmt.Errorf("row %d: %s (set SkipInvalid to drop such rows)", i, why)
			}
			l.Invalid++
			continue
		}
		if v := rew[i]; math.IsNaN(v) {
			l.Censored++
			continue
		} else if math.IsInf(v, 0) {
			return nil, fmt.Errorf("row %d: reward %q is %g", i, o.Reward, v)
		}
		keep = append(keep, i)
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("%w (%d rows: %d censored, %d invalid)", ErrEmpty, n, l.Censored, l.Invalid)
	}

	parts := make([]Part, len(acts))
	lookups := make([]func(i int) int, len(acts))
	for k, c := range ai {
		p := Part{Name: acts[k], Kind: t.Columns[c].Kind}
		if p.Kind == datasets.KindCategorical {
			seen := map[string]bool{}
			for _, i := range keep {
				seen[t.Strings[c][i]] = true
			}
			// Declared level order first, then any other observed level sorted.
			for _, lv := range t.Columns[c].Levels {
				if seen[lv] {
					p.Levels = append(p.Levels, lv)
					delete(seen, lv)
				}
			}
			var rest []string
			for lv := range seen {
				rest = append(rest, lv)
			}
			slices.Sort(rest)
			p.Levels = append(p.Levels, rest...)
			idx := make(map[string]int, len(p.Levels))
			for j, lv := range p.Levels {
				idx[lv] = j
			}
			col := t.Strings[c]
			lookups[k] = func(i int) int { return idx[col[i]] }
		} else {
			vals := make([]float64, 0, len(keep))
			for _, i := range keep {
				vals = append(vals, t.Floats[c][i])
			}
			slices.Sort(vals)
			p.Values = slices.Compact(vals)
			col := t.Floats[c]
			vs := p.Values
			lookups[k] = func(i int) int { j, _ := slices.BinarySearch(vs, col[i]); return j }
		}
		parts[k] = p
	}
	sp, err := NewSpace(parts)
	if err != nil {
		return nil, err
	}
	l.Space = sp
	l.Rows = make([]Row, len(keep))
	lv := make([]int, len(acts))
	for r, i := range keep {
		for k := range lookups {
			lv[k] = lookups[k](i)
		}
		l.Rows[r] = Row{Table: t, I: i, Action: sp.Index(lv), Propensity: prop[i], Reward: rew[i]}
	}
	return l, nil
}

// rowProblem says why row i cannot be weighted, or "".
func rowProblem(t *datasets.Table, ai []int, i int, p float64) string {
	if math.IsNaN(p) {
		return "propensity is missing"
	}
	if !(p > 0 && p <= 1) {
		return fmt.Sprintf("propensity %g is outside (0,1]", p)
	}
	for _, c := range ai {
		if s := t.Strings[c]; s != nil && s[i] == "" {
			return fmt.Sprintf("action part %q is missing", t.Columns[c].Name)
		}
		if f := t.Floats[c]; f != nil && (math.IsNaN(f[i]) || math.IsInf(f[i], 0)) {
			return fmt.Sprintf("action part %q is %g", t.Columns[c].Name, f[i])
		}
	}
	return ""
}

func names(t *datasets.Table, role datasets.Role) []string {
	var out []string
	for _, c := range t.Columns {
		if c.Role == role {
			out = append(out, c.Name)
		}
	}
	return out
}

// Subsample keeps a uniform random subset of n rows (drawn with seed, PCG),
// in table order, for a quicker evaluation: a uniform subsample leaves every
// estimator unbiased and only widens the intervals. n ≥ len(Rows) keeps all.
func (l *Log) Subsample(n int, seed uint64) {
	if n <= 0 || n >= len(l.Rows) {
		return
	}
	rng := rand.New(rand.NewPCG(seed, 0x737562)) // "sub"
	perm := rng.Perm(len(l.Rows))[:n]
	slices.Sort(perm)
	out := make([]Row, n)
	for k, i := range perm {
		out[k] = l.Rows[i]
	}
	l.Rows = out
}
