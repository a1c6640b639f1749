package features

import (
	"os"
	"testing"
)

var tempDirs []string

// osMkdirTemp makes a folder removed when the package's tests end (the shared
// world outlives any one test's t.TempDir).
func osMkdirTemp() (string, error) {
	d, err := os.MkdirTemp("", "engage-features-test-")
	if err == nil {
		tempDirs = append(tempDirs, d)
	}
	return d, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}
