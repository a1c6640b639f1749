package compliance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadPacksFailClearly(t *testing.T) {
	want := map[string]string{
		"bad-code.yaml":             "not an ISO 3166 code",
		"bad-zone.yaml":             "not an IANA zone",
		"missing-days.yaml":         "day sun missing",
		"no-source.yaml":            "source is required",
		"zero-cap.yaml":             "at least one contact",
		"reversed-window.yaml":      "start must be before end",
		"holiday-without-list.yaml": "no holidays list",
		"unknown-channel.yaml":      "unknown channel",
		"unknown-field.yaml":        "rulez",
		"holiday-wrong-year.yaml":   "listed under year",
		"bad-status.yaml":           "status",
		"misplaced-field.yaml":      "does not apply to kind cap",
		"duplicate-id.yaml":         "appears twice",
		"empty.yaml":                "no pack document",
		"syntax.yaml":               "parse pack",
	}
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) != len(want) {
		t.Fatalf("found %d bad packs, table has %d", len(files), len(want))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParsePacks(filepath.Base(f), b)
		if err == nil {
			t.Errorf("%s: parsed without error", f)
			continue
		}
		if w := want[filepath.Base(f)]; !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not mention %q", f, err, w)
		}
	}
}

func TestEmbeddedPacksBuild(t *testing.T) {
	fw := mustOpen(t)
	for _, j := range []string{"US", "US-MA", "US-NY", "US-TX", "US-CA", "US-WA", "CA-ON", "CA-BC", "CA-AB", "CA-QC", "AU", "AU-NSW", "AU-SA", "NZ", "GB"} {
		c, err := fw.Chain(j)
		if err != nil {
			t.Errorf("%s: %v", j, err)
			continue
		}
		if c[0] != "POLICY" || c[len(c)-1] != j {
			t.Errorf("%s: chain %v", j, c)
		}
	}
	for _, j := range []string{"CA", "POLICY", "XX", "US-ZZ", ""} {
		if _, err := fw.Chain(j); err == nil {
			t.Errorf("%q: accepted as a jurisdiction", j)
		}
	}
}

func TestOverrideDirReplacesPack(t *testing.T) {
	dir := t.TempDir()
	// Texas gets a (fictional) 1-call-a-week cap in the override.
	pack := `jurisdiction: US-TX
name: "test override"
parent: US
zones: [America/Chicago]
rules:
  - id: tx-test-cap
    kind: cap
    channels: [call]
    counts: ["call:*"]
    max: 1
    window_days: 7
    scope: debt
    text: "test cap"
    source: "test"
    status: policy
`
	if err := os.WriteFile(filepath.Join(dir, "tx.yaml"), []byte(pack), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.PacksDir = dir
	fw, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fw.Subject(Account{ID: "a", Jurisdiction: "US-TX", TimeZone: "America/Chicago"}, []Entry{{Channel: Call, At: mustTime(t, "2026-11-20T16:00:00Z"), Outcome: CallNoAnswer}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Check(Contact{Channel: Call, At: mustTime(t, "2026-11-23T16:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Reasons[0].Rule != "tx-test-cap" {
		t.Fatalf("override not applied: %+v", d)
	}
	opts.PacksDir = filepath.Join(dir, "missing")
	if _, err := Open(opts); err == nil {
		t.Fatal("missing packs dir accepted")
	}
}

// FuzzParsePacks feeds arbitrary bytes to the pack parser: it must never panic, and a pack it
// accepts must be fully specified (no silently permissive defaults).
func FuzzParsePacks(f *testing.F) {
	for _, dir := range []string{"packs", "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		packs, err := ParsePacks("fuzz", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for _, p := range packs {
			if p.Jurisdiction == "" || p.Name == "" {
				t.Fatalf("accepted pack without jurisdiction or name")
			}
			for i := range p.Rules {
				r := &p.Rules[i]
				cr, err := compileRule(r, p.Holidays != nil)
				if err != nil {
					t.Fatalf("validated rule does not compile: %v", err)
				}
				if r.Source == "" || r.Text == "" || cr.channels == 0 {
					t.Fatalf("rule %s accepted without source, text or channels", r.ID)
				}
				switch cr.kind {
				case kindHours:
					for _, k := range weekdayKeys {
						if _, ok := r.Windows[k]; !ok {
							t.Fatalf("hours rule %s accepted without day %s", r.ID, k)
						}
					}
					for _, ws := range cr.week {
						for _, w := range ws {
							if w.from < 0 || w.to > 1440 || w.from >= w.to {
								t.Fatalf("bad window accepted: %+v", w)
							}
						}
					}
				case kindCap:
					if cr.max < 1 || cr.window <= 0 {
						t.Fatalf("cap %s accepted with max %d window %d", r.ID, cr.max, cr.window)
					}
					var any uint32
					for _, m := range cr.counts {
						any |= m
					}
					if any == 0 {
						t.Fatalf("cap %s counts nothing", r.ID)
					}
				case kindFlag:
					if cr.flags == 0 {
						t.Fatalf("flag rule %s without flags", r.ID)
					}
				}
			}
		}
	})
}
