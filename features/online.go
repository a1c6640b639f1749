package features

import (
	"fmt"

	"github.com/engagehq/engage/datasets"
)

// Update is the online driver's ingest step as serving runs it against the
// store: decode the stored state (nil or empty for a new account), apply the
// account's new events in time order, and encode it again. The events must not
// be older than the state's latest event (ErrOutOfOrder).
func Update(stored []byte, a *Account, events []datasets.Event) ([]byte, error) {
	s := NewState()
	if len(stored) > 0 {
		if err := s.UnmarshalBinary(stored); err != nil {
			return nil, fmt.Errorf("account %s: %w", a.Row.ID, err)
		}
	}
	for i := range events {
		if err := s.Apply(&events[i], a); err != nil {
			return nil, fmt.Errorf("account %s: %w", a.Row.ID, err)
		}
	}
	return s.MarshalBinary()
}

// Vector is a full read-out for one account at one instant, as serving scores it.
type Vector struct {
	Categorical []string  // CategoricalNames order
	Numeric     []float64 // NumericNames order
}

// ReadVector is the online driver's read-out: the account's features as of at
// from its state.
func (s *State) ReadVector(at int64, a *Account, p *Priors) Vector {
	return Vector{Categorical: a.Categorical(nil), Numeric: s.Read(at, a, p, nil)}
}
