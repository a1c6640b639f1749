package simulate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/datasets/synth"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/serving/engine"
	"github.com/engagehq/engage/training"
)

// trainer trains, registers and promotes the model policy's models in a
// registry in a temporary directory.
type trainer struct {
	o        *Options
	seed     uint64
	dir      string
	reg      *registry.Registry
	priors   *features.Priors
	meta     map[string]string
	base     *datasets.Table    // the pretraining history's logged table
	late     map[string]float64 // late-response factors of the pretraining history
	spent    time.Duration
	versions []string
}

func newTrainer(_ context.Context, o *Options, seed uint64) (*trainer, error) {
	dir, err := os.MkdirTemp("", "engage-simulate-registry-")
	if err != nil {
		return nil, fmt.Errorf("registry dir: %w", err)
	}
	reg, err := action.Open(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("registry: %w", err)
	}
	return &trainer{o: o, seed: seed, dir: dir, reg: reg}, nil
}

func (t *trainer) close() { os.RemoveAll(t.dir) }

// memSink collects a synth history in memory.
type memSink struct {
	events    []datasets.Event
	decisions []datasets.Decision
}

// Decision implements synth.Sink.
func (m *memSink) Decision(d datasets.Decision) error {
	m.decisions = append(m.decisions, d)
	return nil
}

// Event implements synth.Sink.
func (m *memSink) Event(e datasets.Event) error { m.events = append(m.events, e); return nil }

// pretrain trains the first model on a separate world's BAU history (seed +
// 1000), whose exploration covers every action.
func (t *trainer) pretrain(ctx context.Context) (engine.Scorer, error) {
	began := time.Now()
	wo := synth.DefaultOptions()
	wo.Accounts, wo.Days, wo.Seed, wo.Start, wo.Tenant = t.o.PretrainAccounts, t.o.PretrainDays, t.seed+1000, t.o.Start, t.o.Tenant
	wo.Workers = t.o.Workers
	w, err := synth.New(wo)
	if err != nil {
		return nil, fmt.Errorf("pretraining world: %w", err)
	}
	var sink memSink
	if err := w.History(ctx, &sink); err != nil {
		return nil, fmt.Errorf("pretraining history: %w", err)
	}
	rows, priors, err := features.Replay(w.Accounts(), sink.events, sink.decisions, features.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("pretraining features: %w", err)
	}
	t.priors = priors
	if t.o.LateResponses {
		t.late = lateFactors(sink.events)
		slog.Debug("simulate: late-response factors", "factors", t.late)
	}
	pj, err := priors.JSON()
	if err != nil {
		return nil, err
	}
	t.meta = map[string]string{training.MetaPriors: string(pj)}
	if t.base, err = toTable(rows); err != nil {
		return nil, err
	}
	sc, err := t.fitAll(ctx, t.base, fmt.Sprintf("pretrain-seed-%d", t.seed+1000))
	t.spent += time.Since(began)
	return sc, err
}

// retrain fits on the simulation's own logs before day d (a seeded sample of
// accounts) plus the pretraining history, and promotes the model. A fit that
// fails keeps the current model (nil scorer).
func (t *trainer) retrain(ctx context.Context, s *sim, d int) (engine.Scorer, error) {
	began := time.Now()
	defer func() { t.spent += time.Since(began) }()
	cut := s.o.Start.Add(time.Duration(d) * 24 * time.Hour).UnixMicro()
	idx := make([]int, len(s.accts))
	for i := range idx {
		idx[i] = i
	}
	if len(idx) > t.o.TrainAccounts && t.o.TrainAccounts > 0 {
		rng := rngFor(t.seed, fmt.Sprintf("train-sample-%d", d))
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		idx = idx[:t.o.TrainAccounts]
		slices.Sort(idx)
	}
	var accts []datasets.Account
	var events []datasets.Event
	var decs []datasets.Decision
	for _, i := range idx {
		a := s.accts[i]
		if len(a.decs) == 0 {
			continue
		}
		accts = append(accts, *a.row)
		for k := range a.events {
			if a.events[k].At < cut {
				events = append(events, a.events[k])
			}
		}
		for k := range a.decs {
			if a.decs[k].At < cut {
				decs = append(decs, a.decs[k])
			}
		}
	}
	if len(decs) == 0 {
		return nil, nil
	}
	fo := features.DefaultOptions()
	fo.Priors, fo.End = t.priors, cut
	rows, _, err := features.Replay(accts, events, decs, fo)
	if err != nil {
		return nil, fmt.Errorf("retrain day %d features: %w", d, err)
	}
	tab, err := toTable(rows)
	if err != nil {
		return nil, err
	}
	if err := tab.Append(t.base); err != nil {
		return nil, err
	}
	tab = sample(tab, t.o.TrainRows, rngFor(t.seed, fmt.Sprintf("train-rows-%d", d)).Uint64())
	sc, err := t.fitAll(ctx, tab, fmt.Sprintf("simulation-seed-%d-day-%d", t.seed, d))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		slog.Warn("simulate: retraining failed; keeping the current model", "day", d, "err", err)
		return nil, nil
	}
	return sc, nil
}

// fitAll fits the engagement model on tab and, with Options.Convert, the
// conversion model on tab's engaged rows, and chains them.
func (t *trainer) fitAll(ctx context.Context, tab *datasets.Table, data string) (engine.Scorer, error) {
	second := t.o.Convert
	if second == "" {
		second = t.o.MessageTarget
	}
	if second == "" {
		rep, err := t.train(ctx, tab, data, t.o.Target)
		if err != nil {
			return nil, err
		}
		return t.register(rep, data, t.o.Target, true)
	}
	// The two fits are independent and run side by side; they are
	// registered in a fixed order so version names are deterministic.
	type res struct {
		rep training.Report
		err error
	}
	conv := make(chan res, 1)
	go func() {
		rep, err := t.train(ctx, engagedRows(tab, t.o.Target), data+"-engaged", second)
		conv <- res{rep, err}
	}()
	er, err := t.train(ctx, tab, data, t.o.Target)
	cr := <-conv
	if err != nil {
		return nil, err
	}
	if cr.err != nil {
		return nil, cr.err
	}
	es, err := t.register(er, data, t.o.Target, true)
	if err != nil {
		return nil, err
	}
	cs, err := t.register(cr.rep, data+"-engaged", second, false)
	if err != nil {
		return nil, err
	}
	if t.o.Convert == "" {
		return &messageScorer{engage: es, pay: cs}, nil
	}
	return engine.NewChainScorer(es, cs)
}

// engagedRows keeps the rows of tab whose target outcome is positive.
func engagedRows(tab *datasets.Table, target string) *datasets.Table {
	i := tab.Index(target)
	if i < 0 || tab.Floats[i] == nil {
		return tab
	}
	var keep []int
	for r, v := range tab.Floats[i] {
		if v > 0 {
			keep = append(keep, r)
		}
	}
	return subset(tab, keep)
}

// train fits a model of target on tab.
func (t *trainer) train(ctx context.Context, tab *datasets.Table, data, target string) (training.Report, error) {
	o := training.DefaultOptions()
	o.Target, o.Seed = target, t.seed
	if t.o.GBDTIter > 0 {
		o.GBDT.MaxIter = t.o.GBDTIter
	}
	o.Title, o.Owner = "engage simulate: "+data, "engage simulate"
	rep, err := training.Fit(ctx, tab, t.meta, data, o)
	if err != nil {
		return rep, fmt.Errorf("fit %s of %s: %w", target, data, err)
	}
	return rep, nil
}

// register registers a fitted model and loads it from the registry as a
// scorer; promote makes it the registry's promoted model.
func (t *trainer) register(rep training.Report, data, target string, promote bool) (engine.Scorer, error) {
	v, err := t.reg.Register(rep.Artifact, rep.Card)
	if err != nil {
		return nil, err
	}
	if promote {
		if err := t.reg.Promote(v.Name); err != nil {
			return nil, err
		}
	}
	l, err := t.reg.Load(v.Name)
	if err != nil {
		return nil, err
	}
	m, err := action.FromLoaded(l)
	if err != nil {
		return nil, err
	}
	t.versions = append(t.versions, fmt.Sprintf("%s (%s of %s, %d rows, AUC %.3f)", v.Name, target, data, rep.Rows-rep.Dropped, rep.Metrics["auc"]))
	sc, err := engine.NewModelScorer(m)
	if err != nil {
		return nil, err
	}
	if l.Version.Family == action.FamilyGBDT {
		// gbdt partial evaluation, as serving does: the account's context is
		// evaluated once and each of the ~100 candidates walks only the trees
		// that split on action columns. UseBound verifies the answers are
		// identical and keeps the plain path when it is not faster.
		if g, err := action.DecodeGBDT(l.Artifact.Payload); err == nil {
			if err := sc.UseBound(g, false); err != nil && !errors.Is(err, engine.ErrBoundSlower) {
				slog.Debug("simulate: gbdt partial evaluation off", "version", v.Name, "err", err)
			}
		}
	}
	return sc, nil
}

// toTable lays Replay's rows out as the logged-decisions table the batch
// driver writes (features.Columns).
func toTable(rows []features.Row) (*datasets.Table, error) {
	cols := features.Columns()
	t := datasets.NewTable(cols, len(rows))
	ix := func(name string) (int, error) {
		i := t.Index(name)
		if i < 0 {
			return 0, fmt.Errorf("logged table: column %s missing", name)
		}
		return i, nil
	}
	var fixed [7]int
	for k, n := range []string{"decision_id", "account_id", "decided_at", "channel", "local_hour", "message", "propensity"} {
		var err error
		if fixed[k], err = ix(n); err != nil {
			return nil, err
		}
	}
	num := append(slices.Clone(features.NumericNames()), features.ActionNames()...)
	var cat, nix, out []int
	for _, names := range []struct {
		dst   *[]int
		names []string
	}{{&cat, features.CategoricalNames}, {&nix, num}, {&out, features.OutcomeNames}} {
		for _, n := range names.names {
			i, err := ix(n)
			if err != nil {
				return nil, err
			}
			*names.dst = append(*names.dst, i)
		}
	}
	for r := range rows {
		row := &rows[r]
		if len(row.Numeric) != len(nix) || len(row.Categorical) != len(cat) || len(row.Outcomes) != len(out) {
			return nil, fmt.Errorf("logged table: replay row has %d/%d/%d values, want %d/%d/%d", len(row.Categorical), len(row.Numeric), len(row.Outcomes), len(cat), len(nix), len(out))
		}
		d := &row.Decision
		t.AppendString(fixed[0], d.DecisionID)
		t.AppendString(fixed[1], d.AccountID)
		t.AppendTime(fixed[2], d.At)
		t.AppendString(fixed[3], d.Channel)
		t.AppendFloat(fixed[4], float64(d.LocalHour))
		t.AppendString(fixed[5], d.Message)
		p := d.Propensity
		if p <= 0 {
			p = math.NaN()
		}
		t.AppendFloat(fixed[6], p)
		for k, i := range cat {
			t.AppendString(i, row.Categorical[k])
		}
		for k, i := range nix {
			t.AppendFloat(i, row.Numeric[k])
		}
		for k, i := range out {
			t.AppendFloat(i, row.Outcomes[k])
		}
	}
	return t, nil
}

// sample keeps n rows of t drawn without replacement (in table order), or t
// itself when it is no larger.
func sample(t *datasets.Table, n int, seed uint64) *datasets.Table {
	if n <= 0 || t.Len() <= n {
		return t
	}
	rng := rngFor(seed, "rows")
	keep := rng.Perm(t.Len())[:n]
	slices.Sort(keep)
	return subset(t, keep)
}

// subset keeps the rows of t listed in keep, in that order.
func subset(t *datasets.Table, keep []int) *datasets.Table {
	u := datasets.NewTable(t.Columns, len(keep))
	for i := range t.Columns {
		switch {
		case t.Floats[i] != nil:
			for _, r := range keep {
				u.Floats[i] = append(u.Floats[i], t.Floats[i][r])
			}
		case t.Times[i] != nil:
			for _, r := range keep {
				u.Times[i] = append(u.Times[i], t.Times[i][r])
			}
		default:
			for _, r := range keep {
				u.Strings[i] = append(u.Strings[i], t.Strings[i][r])
			}
		}
	}
	return u
}

// messageScorer ranks channel and send hour by an engagement model and only
// the message by a payment model: each candidate's engagement probability is
// scaled by its message's payment probability relative to the mean over the
// messages of the same (channel, send instant). The engagement model sees
// the channel and hour effects sharply but the message barely (a tone moves
// engagement by a few percent and payment by half); the payment model sees
// the message but is too noisy to rank channels and hours. The product keeps
// the engagement scale, so the engine's values and costs mean what they
// meant.
type messageScorer struct {
	engage, pay engine.Scorer
}

// Version implements engine.Scorer: both versions.
func (s *messageScorer) Version() string { return s.engage.Version() + "+msg:" + s.pay.Version() }

// Target implements engine.Scorer: the engagement model's target.
func (s *messageScorer) Target() string { return s.engage.Target() }

// Priors implements engine.Scorer.
func (s *messageScorer) Priors() *features.Priors { return s.engage.Priors() }

// Score implements engine.Scorer.
func (s *messageScorer) Score(x *engine.Context, cands []engine.Candidate, p []float64) error {
	if err := s.engage.Score(x, cands, p); err != nil {
		return err
	}
	q := make([]float64, len(cands))
	if err := s.pay.Score(x, cands, q); err != nil {
		return err
	}
	// Candidates of one (channel, send instant) are adjacent (the engine
	// crosses each slot with every message), but group by key to be safe.
	for lo := 0; lo < len(cands); {
		hi := lo + 1
		for hi < len(cands) && cands[hi].Channel == cands[lo].Channel && cands[hi].SendAt.Equal(cands[lo].SendAt) {
			hi++
		}
		var mean float64
		n := 0
		for i := lo; i < hi; i++ {
			if !math.IsNaN(q[i]) {
				mean += q[i]
				n++
			}
		}
		if n > 0 && mean > 0 {
			mean /= float64(n)
			for i := lo; i < hi; i++ {
				if !math.IsNaN(q[i]) {
					p[i] *= q[i] / mean
				}
			}
		}
		lo = hi
	}
	return nil
}

// optimistScorer adds an optimism bonus for little-tried channels to another
// scorer's probabilities (Options.ExploreBonus): upper-confidence ranking,
// deterministic given the features, so exploration propensities stay exact.
type optimistScorer struct {
	engine.Scorer
	bonus float64
	sent  map[string]int // channel -> NumericNames index of <channel>_sent
}

func newOptimistScorer(sc engine.Scorer, bonus float64) (*optimistScorer, error) {
	s := &optimistScorer{Scorer: sc, bonus: bonus, sent: map[string]int{}}
	num := features.NumericNames()
	for _, c := range datasets.ContactChannels {
		i := slices.Index(num, c+"_sent")
		if i < 0 {
			return nil, fmt.Errorf("optimist scorer: feature %s_sent missing", c)
		}
		s.sent[c] = i
	}
	return s, nil
}

// Score implements engine.Scorer.
func (s *optimistScorer) Score(x *engine.Context, cands []engine.Candidate, p []float64) error {
	if err := s.Scorer.Score(x, cands, p); err != nil {
		return err
	}
	for i := range cands {
		k, ok := s.sent[cands[i].Channel]
		if !ok || math.IsNaN(p[i]) {
			continue
		}
		n := x.Numeric[k]
		if math.IsNaN(n) || n < 0 {
			n = 0
		}
		p[i] += s.bonus / math.Sqrt(1+n)
	}
	return nil
}

// responseWindow is how long after a contact a response still counts for
// the late-response correction: a letter is answered by a call-back days
// after it was mailed, beyond engaged_48h's window.
const responseWindow = 7 * 24 * time.Hour

// lateFactors measures, per channel, how many more contacts get a response
// (an engagement event carrying the contact's decision id) within
// responseWindow than within 48 hours: engaged_48h censors slow channels,
// and a model of it undervalues them by this factor. Channels with too few
// responses read 1.
func lateFactors(events []datasets.Event) map[string]float64 {
	type rec struct {
		ch   string
		sent int64
	}
	sent := map[string]rec{}
	first := map[string]int64{}
	for k := range events {
		e := &events[k]
		if e.DecisionID == "" {
			continue
		}
		switch {
		case e.Type == datasets.EventContactSent:
			if _, ok := sent[e.DecisionID]; !ok {
				sent[e.DecisionID] = rec{e.Channel, e.At}
			}
		case engagement[e.Type]:
			if t, ok := first[e.DecisionID]; !ok || e.At < t {
				first[e.DecisionID] = e.At
			}
		}
	}
	in48, inWin := map[string]int{}, map[string]int{}
	for id, at := range first {
		r, ok := sent[id]
		if !ok {
			continue
		}
		d := at - r.sent
		if d <= (48 * time.Hour).Microseconds() {
			in48[r.ch]++
		}
		if d <= responseWindow.Microseconds() {
			inWin[r.ch]++
		}
	}
	out := map[string]float64{}
	for _, ch := range datasets.ContactChannels {
		out[ch] = 1
		if in48[ch] >= 50 {
			out[ch] = float64(inWin[ch]) / float64(in48[ch])
		}
	}
	return out
}

// lateScorer scales another scorer's engagement probabilities by the
// channel's late-response factor (lateFactors), so that a channel whose
// responses often arrive after 48 hours (letters) is valued by all its
// responses. Probabilities stay in [0, 1].
type lateScorer struct {
	engine.Scorer
	factor map[string]float64
}

// Score implements engine.Scorer.
func (s *lateScorer) Score(x *engine.Context, cands []engine.Candidate, p []float64) error {
	if err := s.Scorer.Score(x, cands, p); err != nil {
		return err
	}
	for i := range cands {
		if f, ok := s.factor[cands[i].Channel]; ok && !math.IsNaN(p[i]) {
			p[i] = min(p[i]*f, 1)
		}
	}
	return nil
}
