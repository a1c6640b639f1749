//go:build !linux

package store

import "os"

// datasync flushes f to stable storage; fdatasync is Linux-only here.
func datasync(f *os.File) error { return f.Sync() }

// writeOut is a no-op where sync_file_range is missing: the segment's final
// sync writes everything.
func writeOut(*os.File, int64, int64) error { return nil }

// zeroFill writes zeros to f from off to size through the page cache.
func zeroFill(f *os.File, _ string, off, size int64, stop <-chan struct{}) error {
	return bufferedZeroFill(f, off, size, stop)
}
