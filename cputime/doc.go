// Package cputime reads what benchmarks report beside wall time: the CPU time
// and peak memory of the process, and the machine's load average.
//
// On a machine shared with other work, wall time measures contention as much
// as cost; the process's user and system time (every thread: background
// indexing, the garbage collector, worker pools) measures the work itself, so
// engage's benchmarks report both.
package cputime
