package cputime

import (
	"runtime"
	"testing"
)

func TestProcessGrows(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("not measured on " + runtime.GOOS)
	}
	start := Process()
	x := 0.0
	for i := 0; Process()-start <= 0 && i < 1e9; i++ {
		x += float64(i) * 1e-9
	}
	if Process() <= start {
		t.Fatalf("CPU time did not grow after busy work (%v)", x)
	}
	if PeakRSS() <= 0 {
		t.Fatal("no peak RSS")
	}
}
