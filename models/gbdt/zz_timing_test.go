package gbdt

import (
	"context"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZTiming(t *testing.T) {
	X, y := benchData(40000)
	for _, w := range []int{1, 2} {
		best, bestCPU := time.Hour, time.Hour
		for range 3 {
			o := DefaultOptions()
			o.MaxIter, o.EarlyStoppingRounds, o.Workers = 100, 0, w
			st, c := time.Now(), cpuTime()
			Fit(context.Background(), X, y, nil, nil, o)
			best = min(best, time.Since(st))
			bestCPU = min(bestCPU, cpuTime()-c)
		}
		t.Logf("workers %d: wall min %v cpu min %v", w, best, bestCPU)
	}
}
