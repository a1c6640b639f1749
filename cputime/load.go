package cputime

import (
	"os"
	"strings"
)

// Load1 returns the machine's 1-minute load average as the system prints it,
// or "?" where /proc/loadavg is absent. Benchmarks print it beside their
// figures: above the core count, wall times measure contention.
func Load1() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
