package registry

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"time"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// Decoder rebuilds a family's model from an artifact payload. The returned
// value is whatever the consumer wants to serve (e.g. *gbdt.Model).
type Decoder func(payload json.RawMessage) (any, error)

// Options configure a registry.
type Options struct {
	// Decoders maps a family name to its payload decoder; Load fails for a
	// family without one. More can be added with (*Registry).RegisterFamily.
	Decoders map[string]Decoder
	// Now stamps promotions; nil means time.Now.
	Now func() time.Time
}

// DefaultOptions has no decoders: the consumer knows its families.
func DefaultOptions() Options { return Options{} }

// Registry is a model store rooted at one directory. Its methods are safe for
// concurrent use, also across processes sharing the directory.
type Registry struct {
	dir      string
	decoders map[string]Decoder
	now      func() time.Time
}

// ErrNotFound is returned for a version that does not exist.
var ErrNotFound = errors.New("version not found")

// Open opens (creating if needed) the registry at dir.
func Open(dir string, o Options) (*Registry, error) {
	if dir == "" {
		return nil, errors.New("open registry: empty directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open registry %s: %w", dir, err)
	}
	r := &Registry{dir: dir, decoders: map[string]Decoder{}, now: o.Now}
	for k, d := range o.Decoders {
		r.decoders[k] = d
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// RegisterFamily adds the decoder of a family. Call it before serving starts.
func (r *Registry) RegisterFamily(name string, d Decoder) { r.decoders[name] = d }

// Dir returns the registry's root directory.
func (r *Registry) Dir() string { return r.dir }

// Version describes one stored model.
type Version struct {
	Name    string             `json:"version"` // "v0001"
	Number  int                `json:"number"`
	Hash    string             `json:"hash"` // sha256 of model.json
	Family  string             `json:"family"`
	Target  string             `json:"target"`
	Created time.Time          `json:"created"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Files maps each file of the version folder to its sha256.
	Files map[string]string `json:"files"`
}

var versionRE = regexp.MustCompile(`^v([0-9]{4,9})$`)

// VersionName formats a version number: 1 -> "v0001".
func VersionName(n int) string { return fmt.Sprintf("v%04d", n) }

// ParseVersion reads a version name, rejecting anything that is not one (so a
// caller-supplied name can never escape the registry directory).
func ParseVersion(name string) (int, error) {
	m := versionRE.FindStringSubmatch(name)
	if m == nil {
		return 0, fmt.Errorf("bad version name %q (want v0001, v0002, ...)", name)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("bad version name %q", name)
	}
	return n, nil
}

// Register stores a new immutable version holding the artifact and its model
// card, and returns its description. The version number is one more than the
// highest existing one.
func (r *Registry) Register(a *Artifact, card Card) (Version, error) {
	model, err := EncodeArtifact(a)
	if err != nil {
		return Version{}, fmt.Errorf("register: %w", err)
	}
	tmp, err := os.MkdirTemp(r.dir, ".tmp-version-")
	if err != nil {
		return Version{}, fmt.Errorf("register: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	for attempt := 0; attempt < 1000; attempt++ {
		n, err := r.maxVersion()
		if err != nil {
			return Version{}, fmt.Errorf("register: %w", err)
		}
		v := Version{Name: VersionName(n + 1), Number: n + 1, Hash: HashBytes(model), Family: a.Family,
			Target: a.Target, Created: a.Created.UTC(), Metrics: a.Metrics}
		c := card.fill(v, a)
		cardJSON, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return Version{}, fmt.Errorf("register: card: %w", err)
		}
		cardMD := []byte(c.Markdown())
		v.Files = map[string]string{"model.json": v.Hash, "card.json": HashBytes(cardJSON), "card.md": HashBytes(cardMD)}
		manifest, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return Version{}, fmt.Errorf("register: manifest: %w", err)
		}
		for name, b := range map[string][]byte{"model.json": model, "card.json": cardJSON, "card.md": cardMD, "manifest.json": manifest} {
			if err := writeSync(filepath.Join(tmp, name), b); err != nil {
				return Version{}, fmt.Errorf("register: %w", err)
			}
		}
		if err := syncDir(tmp); err != nil {
			return Version{}, fmt.Errorf("register: %w", err)
		}
		err = os.Rename(tmp, filepath.Join(r.dir, v.Name))
		if err == nil {
			if err := syncDir(r.dir); err != nil {
				return Version{}, fmt.Errorf("register: %w", err)
			}
			return v, nil
		}
		if !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
			return Version{}, fmt.Errorf("register %s: %w", v.Name, err)
		}
		// Another writer took this number; try the next one.
	}
	return Version{}, errors.New("register: could not allocate a version number")
}

func (r *Registry) maxVersion() (int, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if k, err := ParseVersion(e.Name()); err == nil && e.IsDir() {
			n = max(n, k)
		}
	}
	return n, nil
}

// List returns every stored version, oldest first.
func (r *Registry) List() ([]Version, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("list registry: %w", err)
	}
	var out []Version
	for _, e := range entries {
		if _, err := ParseVersion(e.Name()); err != nil || !e.IsDir() {
			continue
		}
		v, err := r.Get(e.Name())
		if err != nil {
			return nil, fmt.Errorf("list registry: %w", err)
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Version) int { return a.Number - b.Number })
	return out, nil
}

// Get returns the description of one version.
func (r *Registry) Get(name string) (Version, error) {
	if _, err := ParseVersion(name); err != nil {
		return Version{}, err
	}
	b, err := os.ReadFile(filepath.Join(r.dir, name, "manifest.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Version{}, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Version{}, fmt.Errorf("get %s: %w", name, err)
	}
	var v Version
	if err := json.Unmarshal(b, &v); err != nil {
		return Version{}, fmt.Errorf("get %s: manifest: %w", name, err)
	}
	if v.Name != name {
		return Version{}, fmt.Errorf("get %s: manifest names %q", name, v.Name)
	}
	return v, nil
}

// Loaded is a decoded model with its artifact.
type Loaded struct {
	Version  Version
	Artifact *Artifact
	// Model is what the family's Decoder returned.
	Model any
}

// Load reads, verifies and decodes one version.
func (r *Registry) Load(name string) (*Loaded, error) {
	v, err := r.Get(name)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(r.dir, name, "model.json"))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	if h := HashBytes(b); h != v.Hash {
		return nil, fmt.Errorf("load %s: model.json hash %s does not match the manifest %s", name, h, v.Hash)
	}
	a, err := DecodeArtifact(b)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	dec, ok := r.decoders[a.Family]
	if !ok {
		return nil, fmt.Errorf("load %s: no decoder registered for family %q", name, a.Family)
	}
	m, err := dec(a.Payload)
	if err != nil {
		return nil, fmt.Errorf("load %s: decode %s payload: %w", name, a.Family, err)
	}
	return &Loaded{Version: v, Artifact: a, Model: m}, nil
}

// Card reads the stored model card of a version.
func (r *Registry) Card(name string) (Card, error) {
	if _, err := ParseVersion(name); err != nil {
		return Card{}, err
	}
	b, err := os.ReadFile(filepath.Join(r.dir, name, "card.json"))
	if err != nil {
		return Card{}, fmt.Errorf("card %s: %w", name, err)
	}
	var c Card
	if err := json.Unmarshal(b, &c); err != nil {
		return Card{}, fmt.Errorf("card %s: %w", name, err)
	}
	return c, nil
}

// writeSync writes a file and fsyncs it, so a rename that publishes it cannot
// expose an empty file after a crash.
func writeSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
