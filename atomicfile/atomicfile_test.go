package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.md")
	if err := WriteBytes(path, 0o644, []byte("first")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, 0o644, func(w io.Writer) error {
		if _, err := w.Write([]byte("half of the sec")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v: want boom, naming %s", err, path)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "first" {
		t.Fatalf("after a failed write the file is %q (%v), want the first content", b, err)
	}
	if err := WriteBytes(path, 0o600, []byte("second")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", st.Mode(), err)
	}
	if b, _ := os.ReadFile(path); string(b) != "second" {
		t.Fatalf("file is %q, want second", b)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 {
		t.Fatalf("temporary files left behind: %v", left)
	}
	if err := WriteBytes(filepath.Join(dir, "missing", "x"), 0o644, nil); err == nil {
		t.Fatal("write into a missing folder succeeded")
	}
}

// TestFile: a File becomes its destination only on Commit(nil); Abort and
// Commit with an error leave the destination as it was and no temporary
// file behind; a nil File (a writer that owns no file) passes err through.
func TestFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "table.parquet")
	if err := WriteBytes(path, 0o600, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		finish func(f *File) error
		want   string
		err    error
	}{
		{"abort", (*File).Abort, "old", nil},
		{"commit an error", func(f *File) error { return f.Commit(boom) }, "old", boom},
		{"commit", func(f *File) error { return f.Commit(nil) }, "new", nil},
	} {
		f, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("new"); err != nil {
			t.Fatal(err)
		}
		err = tc.finish(f)
		if !errors.Is(err, tc.err) || (tc.err != nil && !strings.Contains(err.Error(), path)) {
			t.Errorf("%s: error %v, want %v naming %s", tc.name, err, tc.err, path)
		}
		if b, _ := os.ReadFile(path); string(b) != tc.want {
			t.Errorf("%s: destination holds %q, want %q", tc.name, b, tc.want)
		}
		if left, _ := os.ReadDir(dir); len(left) != 1 {
			t.Errorf("%s: files left in the folder: %v", tc.name, left)
		}
	}
	var none *File
	if err := none.Commit(boom); err != boom {
		t.Errorf("nil File Commit: %v, want the error passed in", err)
	}
	if err := none.Abort(); err != nil {
		t.Errorf("nil File Abort: %v", err)
	}
	if _, err := Create(filepath.Join(dir, "missing", "x")); err == nil {
		t.Error("Create in a missing folder succeeded")
	}
}
