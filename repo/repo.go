package repo

import (
	"fmt"
	"os"
	"path/filepath"
)

// Root walks up from dir to the folder holding go.mod.
func Root(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// Shared returns the shared folder beside the module root above dir, or an
// error saying where it was looked for.
func Shared(dir string) (string, error) {
	root, err := Root(dir)
	if err != nil {
		return "", err
	}
	s := filepath.Join(filepath.Dir(root), "shared")
	if _, err := os.Stat(s); err != nil {
		return "", fmt.Errorf("shared folder: %w", err)
	}
	return s, nil
}
