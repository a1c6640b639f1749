//go:build !linux

package store

import "os"

// datasync flushes f to stable storage; fdatasync is Linux-only here.
func datasync(f *os.File) error { return f.Sync() }
