package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoot(t *testing.T) {
	top := t.TempDir()
	mod := filepath.Join(top, "main")
	deep := filepath.Join(mod, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{mod, deep} {
		if got, err := Root(dir); err != nil || got != mod {
			t.Errorf("Root(%s) = %q, %v; want %s", dir, got, err, mod)
		}
	}
	if _, err := Root(top); err == nil || !strings.Contains(err.Error(), "no go.mod") {
		t.Errorf("Root above the module: %v, want a no go.mod error", err)
	}
	if _, err := Shared(deep); err == nil {
		t.Error("Shared found a folder that does not exist")
	}
	if err := os.Mkdir(filepath.Join(top, "shared"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Shared(deep); err != nil || got != filepath.Join(top, "shared") {
		t.Errorf("Shared = %q, %v", got, err)
	}
}
