package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestLogLines(t *testing.T) {
	var buf bytes.Buffer
	bar := New(&buf, 1000, "features", "events")
	if err := bar.Set(500); err != nil {
		t.Fatal(err)
	}
	if err := bar.Finish(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "\r") || strings.Contains(out, "\x1b[") {
		t.Fatalf("log output has terminal control characters: %q", out)
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) == 0 || got[0] == "" {
		t.Fatalf("no progress line written: %q", out)
	}
	// Only the finish: the blank start is dropped and the 10 s throttle
	// holds back the update in between (a first update would otherwise
	// print an absurd rate over a few microseconds).
	if len(got) != 1 {
		t.Fatalf("%d lines for one quick run, want 1: %q", len(got), out)
	}
	last := got[len(got)-1]
	for _, want := range []string{"features", "1000/1000", "events"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line %q lacks %q", last, want)
		}
	}
}

func TestLinesWriter(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"\rabc   ", "abc\n"},
		{"\r   \r", ""},
		{"a\rb", "a\nb\n"},
		{"", ""},
	}
	var buf bytes.Buffer
	l := &lines{w: &buf, skip: 1}
	for _, in := range []string{"\r   \r", "\rfirst", "\rsecond  "} {
		if _, err := l.Write([]byte(in)); err != nil {
			t.Fatal(err)
		}
	}
	if buf.String() != "second\n" {
		t.Errorf("skip 1 wrote %q, want only the second line", buf.String())
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		l := &lines{w: &buf}
		n, err := l.Write([]byte(tt.in))
		if err != nil || n != len(tt.in) {
			t.Fatalf("Write(%q) = %d, %v", tt.in, n, err)
		}
		if buf.String() != tt.want {
			t.Errorf("Write(%q) wrote %q, want %q", tt.in, buf.String(), tt.want)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
}
