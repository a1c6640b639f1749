package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/engagehq/engage/atomicfile"
)

// Event is one entry of the promotion history.
type Event struct {
	Action string    `json:"action"` // "promote" or "rollback"
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	At     time.Time `json:"at"`
}

// ErrNothingToRollBack is returned by Rollback when no earlier promotion exists.
var ErrNothingToRollBack = errors.New("no earlier promoted version to roll back to")

// ErrEmpty is returned by Promoted when the registry holds no version.
var ErrEmpty = errors.New("registry holds no version")

const historyFile = "promotions.json"

// History returns the promotion events, oldest first.
func (r *Registry) History() ([]Event, error) {
	var h []Event
	err := r.locked(func() error {
		var err error
		h, err = r.readHistory()
		return err
	})
	return h, err
}

// stack replays the history: promote pushes, rollback pops. The top is the
// version in service.
func stack(h []Event) []string {
	var s []string
	for _, e := range h {
		switch e.Action {
		case "promote":
			s = append(s, e.To)
		case "rollback":
			if len(s) > 0 {
				s = s[:len(s)-1]
			}
		}
	}
	return s
}

// Promote puts a version in service.
func (r *Registry) Promote(name string) error {
	if _, err := r.Get(name); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	return r.locked(func() error {
		h, err := r.readHistory()
		if err != nil {
			return fmt.Errorf("promote %s: %w", name, err)
		}
		from := ""
		if s := stack(h); len(s) > 0 {
			from = s[len(s)-1]
		}
		h = append(h, Event{Action: "promote", From: from, To: name, At: r.now().UTC()})
		if err := r.writeHistory(h); err != nil {
			return fmt.Errorf("promote %s: %w", name, err)
		}
		return nil
	})
}

// Rollback returns service to the version promoted before the current one and
// reports which version is now in service.
func (r *Registry) Rollback() (string, error) {
	var to string
	err := r.locked(func() error {
		h, err := r.readHistory()
		if err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
		s := stack(h)
		if len(s) < 2 {
			return fmt.Errorf("rollback: %w", ErrNothingToRollBack)
		}
		to = s[len(s)-2]
		h = append(h, Event{Action: "rollback", From: s[len(s)-1], To: to, At: r.now().UTC()})
		if err := r.writeHistory(h); err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
		return nil
	})
	return to, err
}

// Promoted returns the version in service: the last promoted one, or the
// latest registered when nothing was ever promoted.
func (r *Registry) Promoted() (Version, error) {
	h, err := r.History()
	if err != nil {
		return Version{}, err
	}
	if s := stack(h); len(s) > 0 {
		return r.Get(s[len(s)-1])
	}
	n, err := r.maxVersion()
	if err != nil {
		return Version{}, fmt.Errorf("promoted: %w", err)
	}
	if n == 0 {
		return Version{}, ErrEmpty
	}
	return r.Get(VersionName(n))
}

func (r *Registry) readHistory() ([]Event, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, historyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var h []Event
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%s is corrupt: %w", historyFile, err)
	}
	return h, nil
}

func (r *Registry) writeHistory(h []Event) error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(r.dir, historyFile), 0o600, append(b, '\n')); err != nil {
		return err
	}
	return syncDir(r.dir)
}

// locked runs fn holding an exclusive flock on registry.lock, which serialises
// history updates between goroutines and processes alike (each call opens its
// own descriptor, and flock locks are per open file description).
func (r *Registry) locked(fn func() error) error {
	f, err := os.OpenFile(filepath.Join(r.dir, "registry.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("lock registry: %w", err)
	}
	defer f.Close()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock registry: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}
