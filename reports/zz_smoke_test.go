package reports

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"
)

func TestZZSmoke(t *testing.T) {
	if os.Getenv("SMOKE") == "" {
		t.Skip()
	}
	src, err := NewDirSource("/tmp/w")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	b, err := Load(context.Background(), src, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Log("load", time.Since(t0), b.Accounts(), b.Skipped())
	t0 = time.Now()
	r := b.Uplift(Filter{})
	t.Log("uplift", time.Since(t0))
	j, _ := json.MarshalIndent(r.Metrics, "", " ")
	t.Log(string(j))
	t.Log(r.Treatment, r.Holdout, r.Unassigned, len(r.Weekly))
}
