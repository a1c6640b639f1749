package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File is a file being written whole or not at all: a temporary file in its
// destination's folder (so the final rename is atomic), written through the
// embedded *os.File, then either committed onto the destination or aborted.
type File struct {
	*os.File
	path string
}

// Create opens a temporary file beside path, which is left as it is until
// Commit.
func Create(path string) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &File{File: f, path: path}, nil
}

// Commit ends the write. With err nil (the writer's own outcome) it syncs the
// file's data (a crash after the rename must not leave an empty or partial
// file under the final name), closes it and renames it onto the destination;
// with any error, err or its own, the temporary file is removed and the
// error names the destination. A nil File commits nothing and returns err,
// so writers that may or may not own a file can call it either way.
func (f *File) Commit(err error) error {
	if f == nil {
		return err
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return nil
}

// Abort drops everything written: the temporary file is closed and removed
// and the destination left as it was. A nil File does nothing.
func (f *File) Abort() error {
	if f == nil {
		return nil
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Write calls write with a temporary file in path's folder and, when it
// succeeds, gives the file mode perm and commits it onto path (synced, then
// renamed). On any error the temporary file is removed, path is left as it
// was, and the error names path.
func Write(path string, perm os.FileMode, write func(io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	err = f.Chmod(perm)
	if err == nil {
		err = write(f)
	}
	return f.Commit(err)
}

// WriteBytes is Write of b.
func WriteBytes(path string, perm os.FileMode, b []byte) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
