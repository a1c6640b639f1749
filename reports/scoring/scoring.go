package scoring

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/models/uplift"
	"github.com/engagehq/engage/reports"
	"github.com/engagehq/engage/training"
)

// ErrNoUpliftModel is returned by Pick for a registry without an uplift model.
var ErrNoUpliftModel = errors.New("no uplift model in the registry")

// Pick returns the version to evaluate: the promoted one when it is an uplift
// model, else the newest registered uplift model.
func Pick(reg *registry.Registry) (registry.Version, error) {
	if p, err := reg.Promoted(); err == nil && p.Family == action.FamilyUplift {
		return p, nil
	} else if err != nil && !errors.Is(err, registry.ErrEmpty) {
		return registry.Version{}, err
	}
	vs, err := reg.List()
	if err != nil {
		return registry.Version{}, err
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Family == action.FamilyUplift {
			return vs[i], nil
		}
	}
	return registry.Version{}, ErrNoUpliftModel
}

// Model is a registered uplift model ready to score logged decisions. It
// implements reports.UpliftScorer and is safe for concurrent use.
type Model struct {
	desc   reports.UpliftDesc
	up     *uplift.Model
	priors *features.Priors
	target int // index in features.OutcomeNames
	armOf  func(d *datasets.Decision) string
	get    []getter // one per model feature
}

// getter reads one model feature of a replayed row.
type getter func(r *features.Row) float64

// Load reads version name of reg ("" picks one, see Pick), checks its hash,
// and prepares it to score logged decisions. It fails, naming the reason, for
// a model that is not an uplift model, whose card names no treatment engage
// logs, or whose features the features package does not compute.
func Load(reg *registry.Registry, name string) (*Model, error) {
	if name == "" {
		v, err := Pick(reg)
		if err != nil {
			return nil, err
		}
		name = v.Name
	}
	v, err := reg.Get(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(reg.Dir(), v.Name, "model.json"))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", v.Name, err)
	}
	if h := registry.HashBytes(b); h != v.Hash {
		return nil, fmt.Errorf("load %s: model.json hash %s does not match the manifest %s", v.Name, h, v.Hash)
	}
	a, err := registry.DecodeArtifact(b)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", v.Name, err)
	}
	if a.Family != action.FamilyUplift {
		return nil, fmt.Errorf("load %s: a %s model, not an uplift model", v.Name, a.Family)
	}
	card, err := reg.Card(v.Name)
	if err != nil {
		return nil, err
	}
	m, err := New(a, card)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", v.Name, err)
	}
	m.desc.Name = v.Name
	return m, nil
}

// New prepares an uplift artifact and its card (as training.Fit returns them)
// to score logged decisions.
func New(a *registry.Artifact, card registry.Card) (*Model, error) {
	up, err := uplift.Load(a.Payload, nil)
	if err != nil {
		return nil, err
	}
	design, err := training.ReadUpliftCard(card)
	if err != nil {
		return nil, err
	}
	arms := up.Arms()
	if len(arms) < 2 || arms[0] != design.Control {
		return nil, fmt.Errorf("the model's arms %v do not start with the card's control %q", arms, design.Control)
	}
	m := &Model{up: up, desc: reports.UpliftDesc{Name: card.Version, Method: string(up.Method()), Treatment: design.Treatment,
		Arms: arms, Outcome: cmp.Or(a.Target, design.Target), FittedThrough: design.TestFrom}}
	if m.target = slices.Index(features.OutcomeNames, m.desc.Outcome); m.target < 0 {
		return nil, fmt.Errorf("outcome %q is not one the logged decisions carry (%s)", m.desc.Outcome, strings.Join(features.OutcomeNames, ", "))
	}
	if m.armOf = armField(design.Treatment); m.armOf == nil {
		return nil, fmt.Errorf("treatment %q is not a field of logged decisions (channel, message, local_hour, policy, holdout): score it outside and pass a scores file", design.Treatment)
	}
	if len(a.Priors) == 0 {
		return nil, errors.New("the artifact has no feature priors: it was not trained on engage's logged-decisions table")
	}
	if m.priors, err = features.ParsePriors(a.Priors); err != nil {
		return nil, err
	}
	if m.get, err = getters(up.Features()); err != nil {
		return nil, err
	}
	return m, nil
}

// armField returns the treatment level of a decision for a treatment field,
// formatted as training labels a column's levels; nil for other fields.
func armField(name string) func(d *datasets.Decision) string {
	switch name {
	case "channel":
		return func(d *datasets.Decision) string { return d.Channel }
	case "message":
		return func(d *datasets.Decision) string { return d.Message }
	case "local_hour":
		return func(d *datasets.Decision) string { return strconv.FormatFloat(float64(d.LocalHour), 'g', -1, 64) }
	case "policy":
		return func(d *datasets.Decision) string { return d.Policy }
	case "holdout":
		return func(d *datasets.Decision) string {
			if d.Holdout {
				return "1"
			}
			return "0"
		}
	}
	return nil
}

// getters maps each model feature to the replayed row, encoding categorical
// levels as training's Encoder does (an unseen or empty level is NaN).
func getters(feats []models.Feature) ([]getter, error) {
	cat := map[string]int{}
	for i, n := range features.CategoricalNames {
		cat[n] = i
	}
	num := map[string]int{}
	for i, n := range append(slices.Clone(features.NumericNames()), features.ActionNames()...) {
		num[n] = i
	}
	level := func(f models.Feature, s func(r *features.Row) string) getter {
		m := make(map[string]float64, len(f.Levels))
		for l, v := range f.Levels {
			m[v] = float64(l)
		}
		return func(r *features.Row) float64 {
			if v, ok := m[s(r)]; ok {
				return v
			}
			return math.NaN()
		}
	}
	out := make([]getter, len(feats))
	for j, f := range feats {
		switch {
		case f.Kind == models.Categorical && f.Name == "channel":
			out[j] = level(f, func(r *features.Row) string { return r.Decision.Channel })
		case f.Kind == models.Categorical && f.Name == "message":
			out[j] = level(f, func(r *features.Row) string { return r.Decision.Message })
		case f.Kind == models.Numeric && f.Name == "local_hour":
			out[j] = func(r *features.Row) float64 { return float64(r.Decision.LocalHour) }
		case f.Kind == models.Categorical && hasKey(cat, f.Name):
			k := cat[f.Name]
			out[j] = level(f, func(r *features.Row) string { return r.Categorical[k] })
		case f.Kind == models.Numeric && hasKey(num, f.Name):
			k := num[f.Name]
			out[j] = func(r *features.Row) float64 { return r.Numeric[k] }
		default:
			return nil, fmt.Errorf("feature %q (%s) is not one the features package computes for a logged decision", f.Name, f.Kind)
		}
	}
	return out, nil
}

func hasKey(m map[string]int, k string) bool { _, ok := m[k]; return ok }

// Desc implements reports.UpliftScorer.
func (m *Model) Desc() reports.UpliftDesc {
	d := m.desc
	d.Arms = slices.Clone(d.Arms)
	return d
}

// compact forms of the rows a Source streams (its rows are only valid during
// the call), with vocabulary codes instead of strings.
type (
	cEvent struct {
		at, amount int64
		acct       int32
		typ        int8
		ch, msg    int8
	}
	cDecision struct {
		at, sendAt int64
		acct       int32
		hour       int32
		ch, msg    int8
		holdout    bool
		policy     string
		id         string
	}
)

// chunkAccounts is how many accounts one Replay call reads out.
const chunkAccounts = 512

// ScoreDecisions implements reports.UpliftScorer: it holds the source's
// events and decisions in compact form, then replays them account by account
// (in account_id order, chunkAccounts at a time) through the features
// package with the model's priors, and scores each decision that score
// accepts and that is in one of the model's arms (the model's trees are the
// cost; the replay is cheap).
func (m *Model) ScoreDecisions(ctx context.Context, src reports.Source, score func(d *datasets.Decision) bool,
	emit func(d *datasets.Decision, arm int, outcome float64, effects []float64) error) error {
	var accts []datasets.Account
	idx := map[string]int32{}
	err := src.Accounts(func(a *datasets.Account) error {
		if _, dup := idx[a.ID]; dup {
			return nil
		}
		if _, err := features.NewAccount(a); err != nil {
			return nil // an account features cannot read (bad zone) is left out
		}
		x := *a
		x.ID = strings.Clone(a.ID)
		for _, s := range []*string{&x.Currency, &x.Product, &x.Jurisdiction, &x.TimeZone, &x.AgeBand, &x.Language, &x.Flags, &x.Tenant} {
			*s = strings.Clone(*s)
		}
		idx[x.ID] = int32(len(accts))
		accts = append(accts, x)
		return nil
	})
	if err != nil {
		return fmt.Errorf("score uplift: accounts: %w", err)
	}
	end := int64(math.MinInt64)
	var evs []cEvent
	err = src.Events(func(e *datasets.Event) error {
		i, ok := idx[e.AccountID]
		t, ch, msg := datasets.EventIndex(e.Type), code(datasets.ChannelIndex, e.Channel), code(datasets.MessageIndex, e.Message)
		if !ok || t < 0 || ch == unknown || msg == unknown {
			return nil
		}
		evs = append(evs, cEvent{at: e.At, amount: e.Amount, acct: i, typ: int8(t), ch: ch, msg: msg})
		end = max(end, e.At)
		if len(evs)%65536 == 0 {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("score uplift: events: %w", err)
	}
	var decs []cDecision
	err = src.Decisions(func(d *datasets.Decision) error {
		i, ok := idx[d.AccountID]
		if !ok {
			return nil
		}
		decs = append(decs, cDecision{at: d.At, sendAt: d.SendAt, acct: i, hour: d.LocalHour,
			ch: code(datasets.ChannelIndex, d.Channel), msg: code(datasets.MessageIndex, d.Message),
			holdout: d.Holdout, policy: internPolicy(d.Policy), id: strings.Clone(d.DecisionID)})
		end = max(end, d.At)
		return nil
	})
	if err != nil {
		return fmt.Errorf("score uplift: decisions: %w", err)
	}
	if len(decs) == 0 {
		return nil
	}
	// Group by account (counting sort), events in time order within one.
	evOff, evByAcct := group(len(accts), evs, func(e *cEvent) int32 { return e.acct })
	decOff, decByAcct := group(len(accts), decs, func(d *cDecision) int32 { return d.acct })
	for a := range accts {
		s := evByAcct[evOff[a]:evOff[a+1]]
		slices.SortStableFunc(s, func(x, y cEvent) int { return cmp.Compare(x.at, y.at) })
	}
	order := make([]int32, len(accts))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int { return strings.Compare(accts[x].ID, accts[y].ID) })

	o := features.DefaultOptions()
	o.Priors, o.End = m.priors, end
	row := make([]float64, len(m.get))
	eff := make([]float64, len(m.desc.Arms)-1)
	var ca []datasets.Account
	var ce []datasets.Event
	var cd []datasets.Decision
	for lo := 0; lo < len(order); lo += chunkAccounts {
		if err := ctx.Err(); err != nil {
			return err
		}
		ca, ce, cd = ca[:0], ce[:0], cd[:0]
		for _, a := range order[lo:min(lo+chunkAccounts, len(order))] {
			if decOff[a] == decOff[a+1] {
				continue // no decision to score
			}
			acc := &accts[a]
			ca = append(ca, *acc)
			for _, e := range evByAcct[evOff[a]:evOff[a+1]] {
				ce = append(ce, datasets.Event{AccountID: acc.ID, Type: datasets.EventTypes[e.typ], At: e.at,
					Channel: name(datasets.Channels, e.ch), Message: name(datasets.Messages, e.msg), Amount: e.amount})
			}
			for _, d := range decByAcct[decOff[a]:decOff[a+1]] {
				cd = append(cd, datasets.Decision{Tenant: acc.Tenant, DecisionID: d.id, AccountID: acc.ID, At: d.at, SendAt: d.sendAt,
					Channel: name(datasets.Channels, d.ch), LocalHour: d.hour, Message: name(datasets.Messages, d.msg),
					Policy: d.policy, Holdout: d.holdout})
			}
		}
		if len(cd) == 0 {
			continue
		}
		rows, _, err := features.Replay(ca, ce, cd, o)
		if err != nil {
			return fmt.Errorf("score uplift: features: %w", err)
		}
		for i := range rows {
			r := &rows[i]
			arm := slices.Index(m.desc.Arms, m.armOf(&r.Decision))
			var effects []float64
			if arm >= 0 && score(&r.Decision) {
				for j, g := range m.get {
					row[j] = g(r)
				}
				if err := m.up.Effects(row, eff); err != nil {
					return fmt.Errorf("score uplift: decision %s: %w", r.Decision.DecisionID, err)
				}
				effects = eff
			}
			if err := emit(&r.Decision, arm, r.Outcomes[m.target], effects); err != nil {
				return err
			}
		}
	}
	return nil
}

const unknown = int8(-2)

// code returns the vocabulary index of s, -1 for "", unknown otherwise.
func code(index func(string) int, s string) int8 {
	if s == "" {
		return -1
	}
	if i := index(s); i >= 0 {
		return int8(i)
	}
	return unknown
}

func name(vocab []string, c int8) string {
	if c < 0 {
		return ""
	}
	return vocab[c]
}

func internPolicy(p string) string {
	if i := slices.Index(datasets.Policies, p); i >= 0 {
		return datasets.Policies[i]
	}
	return strings.Clone(p)
}

// group sorts xs by key into contiguous runs (a stable counting sort) and
// returns the run offsets: key k's run is out[off[k]:off[k+1]].
func group[T any](n int, xs []T, key func(*T) int32) ([]int, []T) {
	off := make([]int, n+1)
	for i := range xs {
		off[key(&xs[i])+1]++
	}
	for k := 0; k < n; k++ {
		off[k+1] += off[k]
	}
	next := slices.Clone(off[:n])
	out := make([]T, len(xs))
	for i := range xs {
		k := key(&xs[i])
		out[next[k]] = xs[i]
		next[k]++
	}
	return off, out
}

// Registry is the model-uplift report's view of a model registry: on every
// report it picks the model to evaluate (Version, or Pick's choice when
// empty) and reuses the loaded model while that version stays the one.
type Registry struct {
	Reg *registry.Registry
	// Version pins a version; "" follows Pick.
	Version string

	mu  sync.Mutex
	cur *Model
}

// Scorer returns the model to evaluate, nil (and no error) when the registry
// holds no uplift model; use it as reports.Options.Uplift.
func (r *Registry) Scorer() (reports.UpliftScorer, error) {
	if r == nil || r.Reg == nil {
		return nil, nil
	}
	name := r.Version
	if name == "" {
		v, err := Pick(r.Reg)
		if errors.Is(err, ErrNoUpliftModel) || errors.Is(err, registry.ErrEmpty) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		name = v.Name
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil && r.cur.desc.Name == name {
		return r.cur, nil
	}
	m, err := Load(r.Reg, name)
	if err != nil {
		return nil, err
	}
	r.cur = m
	return m, nil
}
