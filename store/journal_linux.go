package store

import (
	"os"
	"syscall"
)

// datasync flushes f's data and the metadata needed to read it (its size),
// not its timestamps: cheaper than fsync for an appended file.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
