package features

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/datasets/synth"
)

// memSink collects a synthetic history.
type memSink struct {
	events    []datasets.Event
	decisions []datasets.Decision
}

func (m *memSink) Event(e datasets.Event) error { m.events = append(m.events, e); return nil }
func (m *memSink) Decision(d datasets.Decision) error {
	m.decisions = append(m.decisions, d)
	return nil
}

// testWorld is a small synthetic world, in memory and on disk, shared by tests.
type testWorld struct {
	dir       string
	accounts  []datasets.Account
	events    []datasets.Event
	decisions []datasets.Decision
}

var (
	worldOnce sync.Once
	world     *testWorld
	worldErr  error
)

func smallWorld(t testing.TB) *testWorld {
	t.Helper()
	worldOnce.Do(func() {
		o := synth.DefaultOptions()
		o.Accounts = 600
		o.Days = 75
		w, err := synth.New(o)
		if err != nil {
			worldErr = err
			return
		}
		var m memSink
		if err := w.History(context.Background(), &m); err != nil {
			worldErr = err
			return
		}
		dir, err := osMkdirTemp()
		if err != nil {
			worldErr = err
			return
		}
		if err := w.WriteDir(context.Background(), dir, nil); err != nil {
			worldErr = err
			return
		}
		world = &testWorld{dir: dir, accounts: w.Accounts(), events: m.events, decisions: m.decisions}
	})
	if worldErr != nil {
		t.Fatalf("synthetic world: %v", worldErr)
	}
	return world
}

func (w *testWorld) inputs() Inputs {
	return Inputs{
		Accounts:  filepath.Join(w.dir, synth.AccountsFile),
		Events:    filepath.Join(w.dir, synth.EventsFile),
		Decisions: filepath.Join(w.dir, synth.DecisionsFile),
	}
}
