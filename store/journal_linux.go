package store

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
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

// writeOut starts writing n bytes of f at off to the device and waits for
// them, without a device cache flush: a new segment's zeros reach the disk a
// piece at a time instead of in one burst in front of a journal sync.
func writeOut(f *os.File, off, n int64) error {
	const waitBefore, write, waitAfter = 1, 2, 4
	for {
		err := syscall.SyncFileRange(int(f.Fd()), off, n, waitBefore|write|waitAfter)
		if err != syscall.EINTR {
			return err
		}
	}
}

// directChunk is the size of one O_DIRECT write of zeros: each waits for the
// device, so at most one such write is ever queued in front of a journal
// sync.
const directChunk = 256 << 10

// zeroFill writes zeros to the file at path (open as f) from off to size,
// both multiples of the page size. It writes with O_DIRECT where the file
// system takes it: no copy through the page cache and no 64 MiB of cached
// zeros pushing other pages out (journal writes cover whole pages, so the
// uncached pages are never read back); elsewhere through the page cache.
func zeroFill(f *os.File, path string, off, size int64, stop <-chan struct{}) error {
	d, err := os.OpenFile(path, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return bufferedZeroFill(f, off, size, stop)
	}
	defer d.Close()
	buf := make([]byte, directChunk+journalHeader)
	a := int(uintptr(unsafe.Pointer(&buf[0])) % journalHeader)
	if a != 0 {
		a = journalHeader - a
	}
	zero := buf[a : a+directChunk]
	for ; off < size; off += directChunk {
		k := min(int64(directChunk), size-off)
		if _, err := d.WriteAt(zero[:k], off); err != nil {
			if errors.Is(err, syscall.EINVAL) {
				return bufferedZeroFill(f, off, size, stop)
			}
			return err
		}
		if stop != nil {
			select {
			case <-stop:
				return errClosed
			default:
			}
		}
	}
	return nil
}
