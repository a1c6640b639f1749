package datasets

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func loadSpec(t *testing.T, name string) *Spec {
	t.Helper()
	s, err := LoadSpec(filepath.Join("specs", name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestImportBankMarketing(t *testing.T) {
	shared := sharedDir(t)
	out := filepath.Join(t.TempDir(), "bank.parquet")
	n, err := Import(context.Background(), loadSpec(t, "bank-marketing.yaml"), filepath.Join(shared, "datasets/uci-bank-marketing/bank-full.csv"), out, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 45211 {
		t.Fatalf("imported %d rows, SOURCE.md says 45,211", n)
	}
	tb, err := ReadLogged(out)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Len() != 45211 || tb.Index("duration") >= 0 {
		t.Fatalf("%d rows, duration index %d", tb.Len(), tb.Index("duration"))
	}
	y := tb.Floats[tb.Index("y")]
	var yes float64
	for _, v := range y {
		yes += v
	}
	if yes != 5289 { // SOURCE.md: y=yes 5,289 / 45,211
		t.Fatalf("y=yes count %v, SOURCE.md says 5,289", yes)
	}
	// first data line: 58;"management";"married";"tertiary";"no";2143;"yes";"no";"unknown";5;"may";261;1;-1;0;"unknown";"no"
	get := func(col string, row int) string {
		i := tb.Index(col)
		if tb.Columns[i].Kind == KindNumeric {
			return strconv.FormatFloat(tb.Floats[i][row], 'g', -1, 64)
		}
		return tb.Strings[i][row]
	}
	want := map[string]string{"row": "0", "age": "58", "job": "management", "balance": "2143", "contact": "unknown", "day": "5", "month": "may", "pdays": "-1", "poutcome": "unknown", "y": "0"}
	for col, w := range want {
		if g := get(col, 0); g != w {
			t.Errorf("row 0 %s = %s, want %s", col, g, w)
		}
	}
	roles := map[string]Role{"age": RoleContext, "contact": RoleAction, "month": RoleAction, "day": RoleAction, "y": RoleOutcome, "row": RoleID}
	for col, r := range roles {
		if got := tb.Columns[tb.Index(col)].Role; got != r {
			t.Errorf("%s role %s, want %s", col, got, r)
		}
	}
	if last := tb.Floats[tb.Index("row")][45210]; last != 45210 {
		t.Errorf("last row number %v", last)
	}
}

func TestImportHillstrom(t *testing.T) {
	shared := sharedDir(t)
	out := filepath.Join(t.TempDir(), "hill.parquet")
	in := filepath.Join(shared, "datasets/hillstrom-email/Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv")
	n, err := Import(context.Background(), loadSpec(t, "hillstrom.yaml"), in, out, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 64000 {
		t.Fatalf("imported %d rows, SOURCE.md says 64,000", n)
	}
	tb, err := ReadLogged(out)
	if err != nil {
		t.Fatal(err)
	}
	seg, visit, spend, p := tb.Strings[tb.Index("segment")], tb.Floats[tb.Index("visit")], tb.Floats[tb.Index("spend")], tb.Floats[tb.Index("propensity")]
	arms := map[string]int{}
	visits := map[string]float64{}
	spends := map[string]float64{}
	for i := range tb.Len() {
		arms[seg[i]]++
		visits[seg[i]] += visit[i]
		spends[seg[i]] += spend[i]
		if math.Abs(p[i]-1.0/3) > 1e-12 {
			t.Fatalf("row %d propensity %v", i, p[i])
		}
	}
	// SOURCE.md: arm sizes and visit / spend rates
	wantArms := map[string]int{"Mens E-Mail": 21307, "Womens E-Mail": 21387, "No E-Mail": 21306}
	wantVisit := map[string]float64{"Mens E-Mail": 0.18276, "Womens E-Mail": 0.15140, "No E-Mail": 0.10617}
	wantSpend := map[string]float64{"Mens E-Mail": 1.42262, "Womens E-Mail": 1.07720, "No E-Mail": 0.65279}
	for arm, k := range wantArms {
		if arms[arm] != k {
			t.Errorf("arm %s: %d rows, want %d", arm, arms[arm], k)
		}
		if r := visits[arm] / float64(k); math.Abs(r-wantVisit[arm]) > 5e-6 {
			t.Errorf("arm %s visit rate %.5f, want %.5f", arm, r, wantVisit[arm])
		}
		if r := spends[arm] / float64(k); math.Abs(r-wantSpend[arm]) > 5e-6 {
			t.Errorf("arm %s spend %.5f, want %.5f", arm, r, wantSpend[arm])
		}
	}
	// the quoted bucket with a comma survives
	hs := tb.Strings[tb.Index("history_segment")]
	found := false
	for _, s := range hs {
		found = found || s == "6) $750 - $1,000"
	}
	if !found {
		t.Error(`no "6) $750 - $1,000" history_segment`)
	}
}

const testSpec = `
name: t
delimiter: ";"
columns:
  - {name: id, role: id}
  - {name: age, role: context, kind: numeric}
  - {name: job, role: context}
  - {name: when, role: time, format: date}
  - {name: arm, role: action, levels: [a, b]}
  - {name: p, role: propensity, constant: 0.5}
  - {name: y, role: outcome, map: {"yes": 1, "no": 0}}
  - {name: note, role: ignore}
`

func TestImportErrors(t *testing.T) {
	spec, err := ParseSpec([]byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	head := "id;age;job;when;arm;y;note\n"
	cases := []struct {
		name, csv string
		want      []string // "row column: reason"
	}{
		{"good", head + "1;30;x;2024-01-02;a;yes;n\n", nil},
		{"not a number", head + "1;old;x;2024-01-02;a;yes;n\n", []string{"1 age: not a number"}},
		{"not in mapping", head + "1;30;x;2024-01-02;a;maybe;n\n", []string{"1 y: not in the mapping"}},
		{"not a level", head + "1;30;x;2024-01-02;c;yes;n\n", []string{"1 arm: not in the listed levels"}},
		{"bad date", head + "1;30;x;02/01/2024;a;yes;n\n", []string{"1 when: not a date"}},
		{"empty id", head + ";30;x;2024-01-02;a;yes;n\n", []string{"1 id: empty cell"}},
		{"empty outcome", head + "1;30;x;2024-01-02;a;;n\n", []string{"1 y: not in the mapping"}},
		{"field count", head + "1;30;x;2024-01-02;a;yes\n", []string{"1 : has 6 fields"}},
		{"bare quote", head + "1;30;x\"y;2024-01-02;a;yes;n\n", []string{"1 : malformed CSV"}},
		{"several rows", head + "1;30;x;2024-01-02;a;yes;n\n2;NaN;x;2024-01-02;a;yes;n\n3;1e400;x;2024-01-02;b;no;n\n", []string{"2 age: not a number", "3 age: not a number"}},
		{"missing header column", "id;age;job;when;y;note\n1;30;x;2024-01-02;yes;n\n", []string{"0 arm: missing from the CSV header"}},
		{"unlisted column", "id;age;job;when;arm;y;note;extra\n1;30;x;2024-01-02;a;yes;n;e\n", []string{"0 extra: not in the spec"}},
		{"constant in csv", "id;age;job;when;arm;y;note;p\n1;30;x;2024-01-02;a;yes;n;1\n", []string{"0 p: constant column also present", "0 p: not in the spec"}},
		{"empty file", "", []string{"0 : no header"}},
		{"acceptance check file", "age;job;y\nold;x;maybe\n", []string{"0 id: missing", "0 when: missing", "0 arm: missing", "0 note: missing", "1 age: not a number", "1 y: not in the mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.parquet")
			os.WriteFile(in, []byte(c.csv), 0o644)
			n, err := Import(context.Background(), spec, in, out, ImportOptions{})
			ents, _ := os.ReadDir(dir)
			if len(c.want) == 0 {
				if err != nil || n != 1 || len(ents) != 2 {
					t.Fatalf("n=%d err=%v files=%d", n, err, len(ents))
				}
				return
			}
			if len(ents) != 1 {
				t.Fatalf("failed import left files behind: %v", ents)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			if int(ve.Total) != len(c.want) {
				t.Fatalf("got %d errors %v, want %v", ve.Total, ve.Errors, c.want)
			}
			for i, w := range c.want {
				pos, reason, _ := strings.Cut(w, ": ")
				row, col, _ := strings.Cut(pos, " ")
				e := ve.Errors[i]
				if strconv.FormatInt(e.Row, 10) != row || e.Column != col || !strings.Contains(e.Reason, reason) {
					t.Errorf("error %d: got %s, want %s", i, e.Error(), w)
				}
			}
		})
	}
}

func TestImportInferenceAndQuoting(t *testing.T) {
	spec, err := ParseSpec([]byte(`
name: infer
quote: none
trim_space: true
row_number: pos
unlisted: ignore
columns:
  - {name: a, role: context}
  - {name: b, role: context}
  - {name: c, role: outcome}
  - {name: at, role: time}
`))
	if err != nil {
		t.Fatal(err)
	}
	csv := "a,b,c,at,extra\r\n1, x ,2.5,2024-01-01T00:00:00Z,zz\r\n,\"y,3,2024-01-01T01:00:00+01:00,zz\r\n\r\n2.5e3,z,1,2024-06-01T12:00:00.5Z,zz\r\n"
	var out bytes.Buffer
	n, err := ImportCSV(context.Background(), spec, bytes.NewReader([]byte(csv)), &nopWriter{&out}, ImportOptions{})
	if err != nil || n != 3 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	path := filepath.Join(t.TempDir(), "x.parquet")
	os.WriteFile(path, out.Bytes(), 0o644)
	tb, err := ReadLogged(path)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]Kind{"pos": KindNumeric, "a": KindNumeric, "b": KindCategorical, "c": KindNumeric, "at": KindTime}
	for c, k := range kinds {
		if got := tb.Columns[tb.Index(c)].Kind; got != k {
			t.Errorf("%s inferred %s, want %s", c, got, k)
		}
	}
	a := tb.Floats[tb.Index("a")]
	if a[0] != 1 || !math.IsNaN(a[1]) || a[2] != 2500 {
		t.Errorf("a = %v", a)
	}
	if b := tb.Strings[tb.Index("b")]; b[0] != "x" || b[1] != `"y` {
		t.Errorf("b = %q (quote none keeps quotes, trim_space trims)", b)
	}
	if at := tb.Times[tb.Index("at")]; at[0] != at[1] || at[2]%1e6 != 5e5 {
		t.Errorf("at = %v", at)
	}
}

type nopWriter struct{ io.Writer }

func TestImportCancel(t *testing.T) {
	spec, _ := ParseSpec([]byte(testSpec))
	var b strings.Builder
	b.WriteString("id;age;job;when;arm;y;note\n")
	for range 10000 {
		b.WriteString("1;30;x;2024-01-02;a;yes;n\n")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	os.WriteFile(in, []byte(b.String()), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Import(ctx, spec, in, filepath.Join(dir, "out.parquet"), ImportOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("cancelled import left %v", ents)
	}
}

func TestParseSpecErrors(t *testing.T) {
	cases := map[string]string{
		"typo key":            "name: x\ncolums: []\n",
		"no columns":          "name: x\n",
		"bad role":            "columns: [{name: a, role: feature}]",
		"no role":             "columns: [{name: a}]",
		"bad kind":            "columns: [{name: a, role: context, kind: int}]",
		"map on categorical":  "columns: [{name: a, role: outcome, kind: categorical, map: {x: 1}}]",
		"propensity range":    "columns: [{name: p, role: propensity, constant: 3}]",
		"duplicate":           "columns: [{name: a, role: context}, {name: a, role: outcome}]",
		"all ignored":         "columns: [{name: a, role: ignore}]",
		"long delimiter":      "delimiter: ';;'\ncolumns: [{name: a, role: context}]",
		"quote delimiter":     "delimiter: '\"'\ncolumns: [{name: a, role: context}]",
		"bad quote":           "quote: \"'\"\ncolumns: [{name: a, role: context}]",
		"id numeric":          "columns: [{name: a, role: id, kind: numeric}]",
		"format on numeric":   "columns: [{name: a, role: context, kind: numeric, format: unix}]",
		"duplicate level":     "columns: [{name: a, role: action, levels: [x, x]}]",
		"row number clash":    "row_number: a\ncolumns: [{name: a, role: context}]",
		"comma in name":       "columns: [{name: 'a,b', role: context}]",
		"not yaml":            "{{{",
		"bad unlisted":        "unlisted: maybe\ncolumns: [{name: a, role: context}]",
		"infinite constant":   "columns: [{name: a, role: context, constant: .inf}]",
		"time kind for id":    "columns: [{name: a, role: time, kind: numeric}]",
		"bad time format":     "columns: [{name: a, role: time, format: iso}]",
		"map and constant":    "columns: [{name: a, role: context, map: {x: 1}, constant: 1}]",
		"empty map":           "columns: [{name: a, role: outcome, map: {}}]",
		"levels on numeric":   "columns: [{name: a, role: context, kind: numeric, levels: [x]}]",
		"unknown column key":  "columns: [{name: a, role: context, kinds: numeric}]",
		"two docs first fail": "columns: 3",
	}
	for name, y := range cases {
		if _, err := ParseSpec([]byte(y)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, f := range []string{"bank-marketing.yaml", "hillstrom.yaml"} {
		loadSpec(t, f)
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, name := range []string{"bank-marketing.yaml", "hillstrom.yaml"} {
		b, err := os.ReadFile(filepath.Join("specs", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(testSpec))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSpec(b)
		if err == nil && len(s.Columns) == 0 {
			t.Fatal("accepted a spec without columns")
		}
	})
}

func FuzzImportCSV(f *testing.F) {
	spec, err := ParseSpec([]byte(testSpec))
	if err != nil {
		f.Fatal(err)
	}
	infer, err := ParseSpec([]byte("quote: none\nunlisted: ignore\ncolumns: [{name: a, role: context}, {name: b, role: outcome}]"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("id;age;job;when;arm;y;note\n1;30;x;2024-01-02;a;yes;n\n"), false)
	f.Add([]byte("a,b\n1,2\n,\n\"x\",3\n"), true)
	f.Add([]byte("age;job;y\nold;x;maybe\n"), false)
	f.Fuzz(func(t *testing.T, csv []byte, useInfer bool) {
		s := spec
		if useInfer {
			s = infer
		}
		var out bytes.Buffer
		n, err := ImportCSV(context.Background(), s, bytes.NewReader(csv), &out, ImportOptions{MaxErrors: 5})
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Total == 0 || n != 0 {
				t.Fatalf("n=%d err=%v", n, err)
			}
			return
		}
		path := filepath.Join(t.TempDir(), "x.parquet")
		os.WriteFile(path, out.Bytes(), 0o644)
		tb, err := ReadLogged(path)
		if err != nil || int64(tb.Len()) != n {
			t.Fatalf("written table unreadable (%v) or wrong length", err)
		}
	})
}
