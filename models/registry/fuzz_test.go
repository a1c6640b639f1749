package registry

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeArtifact checks that the decoder never panics and that whatever it
// accepts is valid and survives an encode/decode round trip unchanged.
func FuzzDecodeArtifact(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"engage.artifact/1","family":"x","payload":1,"features":[{"name":"a","kind":1}],"data_hash":"h","target":"t","created":"2025-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeArtifact(b)
		if err != nil {
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("decoded an invalid artifact: %v", err)
		}
		enc, err := EncodeArtifact(a)
		if err != nil {
			t.Fatalf("cannot re-encode a decoded artifact: %v", err)
		}
		a2, err := DecodeArtifact(enc)
		if err != nil {
			t.Fatalf("cannot decode a re-encoded artifact: %v\n%s", err, enc)
		}
		enc2, err := EncodeArtifact(a2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
	})
}

func TestDecodeArtifactRejects(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "linear.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeArtifact(good); err != nil {
		t.Fatalf("testdata/linear.json: %v", err)
	}
	cases := map[string]string{
		"not json":        `{`,
		"unknown field":   `{"format":"engage.artifact/1","bogus":1}`,
		"wrong format":    `{"format":"other"}`,
		"no payload":      `{"format":"engage.artifact/1","family":"x","features":[{"name":"a"}],"data_hash":"h","target":"t","created":"2025-01-01T00:00:00Z"}`,
		"dup feature":     `{"format":"engage.artifact/1","family":"x","payload":{},"features":[{"name":"a"},{"name":"a"}],"data_hash":"h","target":"t","created":"2025-01-01T00:00:00Z"}`,
		"cat no levels":   `{"format":"engage.artifact/1","family":"x","payload":{},"features":[{"name":"a","kind":1}],"data_hash":"h","target":"t","created":"2025-01-01T00:00:00Z"}`,
		"bad kind":        `{"format":"engage.artifact/1","family":"x","payload":{},"features":[{"name":"a","kind":7}],"data_hash":"h","target":"t","created":"2025-01-01T00:00:00Z"}`,
		"no created":      `{"format":"engage.artifact/1","family":"x","payload":{},"features":[{"name":"a"}],"data_hash":"h","target":"t"}`,
		"trailing object": `{"format":"engage.artifact/1","family":"x","payload":{},"features":[{"name":"a"}],"data_hash":"h","target":"t","created":"2025-01-01T00:00:00Z"} {}`,
	}
	for name, in := range cases {
		if _, err := DecodeArtifact([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
