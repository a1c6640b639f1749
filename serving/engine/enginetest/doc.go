// Package enginetest holds the small engagement model that the engine's and
// serving's tests and benchmarks decide with, so that the engine's share of
// a serving decision (BenchmarkDecideWorld) is measured on the very model
// serving's BenchmarkDecide serves. Only tests import it.
package enginetest
