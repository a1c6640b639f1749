package features

import (
	"fmt"
	"math"

	"github.com/engagehq/engage/datasets"
)

// Row is one logged decision read out by Replay: the in-memory form of a row of
// the table Build writes.
type Row struct {
	Decision    datasets.Decision
	Categorical []string  // CategoricalNames order
	Numeric     []float64 // NumericNames order, then ActionNames (of the logged action)
	Outcomes    []float64 // OutcomeNames order; NaN when censored
}

// Replay is the batch driver over rows in memory, for tests, notebooks and small
// imports: the same builder and replayer as Build, fed from slices. Events must
// be sorted by (account_id, at) like the events file. Decisions need not be
// sorted.
func Replay(accounts []datasets.Account, events []datasets.Event, decisions []datasets.Decision, o Options) ([]Row, *Priors, error) {
	prepared := make([]*Account, len(accounts))
	for i := range accounts {
		a, err := NewAccount(&accounts[i])
		if err != nil {
			return nil, nil, err
		}
		prepared[i] = a
	}
	accts := newAccountIndex(prepared)
	end := o.End
	if end == 0 {
		end = math.MinInt64
		for i := range events {
			end = max(end, events[i].At)
		}
		for i := range decisions {
			end = max(end, decisions[i].At)
		}
	}
	feed := func(b *builder) error {
		for i := range events {
			e := &events[i]
			ev, err := intern(e)
			if err != nil {
				return fmt.Errorf("events row %d: %w", i+1, err)
			}
			if err := b.add(int64(i), []byte(e.AccountID), &ev, nil); err != nil {
				return err
			}
		}
		return b.close()
	}
	priors := o.Priors
	if priors == nil {
		c := NewPriorCounter()
		if err := feed(&builder{what: "events", accounts: accts, rep: newReplayer(UniformPriors(), end), counter: c}); err != nil {
			return nil, nil, err
		}
		var err error
		if priors, err = c.Priors(o.PriorOptions); err != nil {
			return nil, nil, err
		}
		// the priors pass moved the accounts' zone caches; they are caches only.
	}
	var rows []Row
	b := &builder{what: "events", accounts: accts, decs: newMemDecisions(decisions), rep: newReplayer(priors, end),
		emit: func(a *Account, pr []pendingRow) error {
			for i := range pr {
				rows = append(rows, Row{
					Decision:    pr[i].d.Decision,
					Categorical: a.Categorical(nil),
					Numeric:     append([]float64(nil), pr[i].feat...),
					Outcomes:    append([]float64(nil), pr[i].out[:]...),
				})
			}
			return nil
		}}
	if err := feed(b); err != nil {
		return nil, nil, err
	}
	return rows, priors, nil
}
