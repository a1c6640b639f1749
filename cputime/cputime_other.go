//go:build !unix

package cputime

import "time"

// Process returns 0: CPU time is not measured on this platform.
func Process() time.Duration { return 0 }

// PeakRSS returns 0: peak memory is not measured on this platform.
func PeakRSS() int64 { return 0 }
