// Package enginetest holds the small world the engine's and serving's tests
// and benchmarks decide in: an engagement model, accounts across four
// jurisdictions and their histories. Both packages read the same one, so the
// engine's share of a serving decision (BenchmarkDecideWorld) is measured on
// the very model and accounts serving's BenchmarkDecide serves. Only tests
// import it.
package enginetest
