// Package cputime reads the CPU time the process has used, for benchmarks.
//
// On a machine shared with other work, wall time measures contention as much
// as cost; the process's user and system time (every thread: background
// indexing, the garbage collector, worker pools) measures the work itself, so
// engage's benchmarks report both.
package cputime
