// Package repo finds engage's checkout from inside it: the module root (the
// folder with go.mod) and the shared material beside it (../shared: real data
// sets, compliance facts, acceptance checks), which tests and benchmarks read
// but the project never copies.
package repo
