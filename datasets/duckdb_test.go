package datasets

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The interoperability tests check our Parquet against an independent reader
// and writer: DuckDB, through the npm package @duckdb/node-api at the version
// the acceptance check pins. The package is installed once into
// $ENGAGE_DUCKDB_DIR (default $HOME/.cache/engage-duckdb). The tests skip when
// node or npm is absent; CI installs Node.js (>= 18) with npm.
const duckdbVersion = "1.5.6-r.1"

var duckOnce struct {
	sync.Once
	dir string
	err error
}

const duckScript = `import { DuckDBInstance } from '@duckdb/node-api';
const c = await (await DuckDBInstance.create(':memory:')).connect();
for (const q of process.argv.slice(2)) {
  for (const row of (await c.runAndReadAll(q)).getRows()) console.log(row.map(String).join('\t'));
  console.log('\x1e');
}
`

func duckDir(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: skipping the DuckDB interoperability test (install Node.js with npm to run it)", tool)
		}
	}
	duckOnce.Do(func() {
		dir := os.Getenv("ENGAGE_DUCKDB_DIR")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				duckOnce.err = err
				return
			}
			dir = filepath.Join(home, ".cache", "engage-duckdb")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			duckOnce.err = err
			return
		}
		pkg, _ := os.ReadFile(filepath.Join(dir, "node_modules", "@duckdb", "node-api", "package.json"))
		if !strings.Contains(string(pkg), `"version": "`+duckdbVersion+`"`) {
			if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
				os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"engage-duckdb","private":true}`), 0o644)
			}
			cmd := exec.Command("npm", "install", "--silent", "--no-audit", "--no-fund", "@duckdb/node-api@"+duckdbVersion)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				duckOnce.err = fmt.Errorf("npm install @duckdb/node-api@%s in %s: %v\n%s", duckdbVersion, dir, err, out)
				return
			}
		}
		duckOnce.err = os.WriteFile(filepath.Join(dir, "engage-q.mjs"), []byte(duckScript), 0o644)
		duckOnce.dir = dir
	})
	if duckOnce.err != nil {
		t.Skipf("DuckDB unavailable: %v", duckOnce.err)
	}
	return duckOnce.dir
}

// duck runs queries in one DuckDB session and returns each result as rows of
// tab-separated cells.
func duck(t *testing.T, queries ...string) [][][]string {
	t.Helper()
	dir := duckDir(t)
	cmd := exec.Command("node", append([]string{"engage-q.mjs"}, queries...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("duckdb: %v\n%s", err, msg)
	}
	var res [][][]string
	var cur [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "\x1e" {
			res = append(res, cur)
			cur = nil
			continue
		}
		cur = append(cur, strings.Split(line, "\t"))
	}
	if len(res) != len(queries) {
		t.Fatalf("duckdb returned %d results for %d queries", len(res), len(queries))
	}
	return res
}

func one(t *testing.T, res [][]string) string {
	t.Helper()
	if len(res) != 1 || len(res[0]) != 1 {
		t.Fatalf("want one cell, got %v", res)
	}
	return res[0][0]
}

func eqInt(t *testing.T, what, got string, want int64) {
	t.Helper()
	if got != strconv.FormatInt(want, 10) {
		t.Errorf("%s: DuckDB says %s, we wrote %d", what, got, want)
	}
}

func eqFloat(t *testing.T, what, got string, want float64) {
	t.Helper()
	g, err := strconv.ParseFloat(got, 64)
	if err != nil || math.Abs(g-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s: DuckDB says %s, we wrote %v", what, got, want)
	}
}

func TestDuckDBReadsCanonicalTables(t *testing.T) {
	dir := t.TempDir()
	events := randRows[Event](11, 30000)
	accounts := randRows[Account](12, 5000)
	decisions := randRows[Decision](13, 7000)
	truth := randRows[Truth](14, 5000)
	ep, ap, dp, tp := filepath.Join(dir, "events.parquet"), filepath.Join(dir, "accounts.parquet"), filepath.Join(dir, "decisions.parquet"), filepath.Join(dir, "truth.parquet")
	for _, err := range []error{
		WriteAll(ep, events, Options{RowGroupRows: 8192}),
		WriteAll(ap, accounts, Options{Compression: "snappy"}),
		WriteAll(dp, decisions, Options{}),
		WriteAll(tp, truth, Options{Compression: "none"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var amount, minAt, maxAt int64 = 0, math.MaxInt64, math.MinInt64
	types := map[string]bool{}
	for _, e := range events {
		amount += e.Amount
		minAt, maxAt = min(minAt, e.At), max(maxAt, e.At)
		types[e.Type] = true
	}
	var balance, dpd, consents int64
	for _, a := range accounts {
		balance += a.Balance
		dpd += int64(a.DaysPastDue)
		if a.ConsentSMS {
			consents++
		}
	}
	var prop float64
	var hours, holdouts int64
	for _, d := range decisions {
		prop += d.Propensity
		hours += int64(d.LocalHour)
		if d.Holdout {
			holdouts++
		}
	}
	var aff float64
	for _, x := range truth {
		aff += x.AffinityEmail
	}
	e := events[12345]
	res := duck(t,
		fmt.Sprintf("select count(*), sum(amount), count(distinct type), epoch_us(min(\"at\")), epoch_us(max(\"at\")) from '%s'", ep),
		fmt.Sprintf("select account_id, type, epoch_us(\"at\"), channel, message, amount, currency from '%s' where event_id = 'e12345'", ep),
		fmt.Sprintf("select count(*), sum(balance), sum(days_past_due), sum(consent_sms::int) from '%s'", ap),
		fmt.Sprintf("select count(*), sum(propensity), sum(local_hour), sum(holdout::int) from '%s'", dp),
		fmt.Sprintf("select count(*), sum(affinity_email) from '%s'", tp),
		fmt.Sprintf("select typeof(\"at\") from '%s' limit 1", ep),
	)
	r := res[0][0]
	eqInt(t, "events count", r[0], int64(len(events)))
	eqInt(t, "sum(amount)", r[1], amount)
	eqInt(t, "distinct types", r[2], int64(len(types)))
	eqInt(t, "min(at)", r[3], minAt)
	eqInt(t, "max(at)", r[4], maxAt)
	want := []string{e.AccountID, e.Type, strconv.FormatInt(e.At, 10), e.Channel, e.Message, strconv.FormatInt(e.Amount, 10), e.Currency}
	if got := res[1]; len(got) != 1 || strings.Join(got[0], "|") != strings.Join(want, "|") {
		t.Errorf("event e12345: DuckDB %v, we wrote %v", got, want)
	}
	r = res[2][0]
	eqInt(t, "accounts count", r[0], int64(len(accounts)))
	eqInt(t, "sum(balance)", r[1], balance)
	eqInt(t, "sum(days_past_due)", r[2], dpd)
	eqInt(t, "sum(consent_sms)", r[3], consents)
	r = res[3][0]
	eqInt(t, "decisions count", r[0], int64(len(decisions)))
	eqFloat(t, "sum(propensity)", r[1], prop)
	eqInt(t, "sum(local_hour)", r[2], hours)
	eqInt(t, "sum(holdout)", r[3], holdouts)
	r = res[4][0]
	eqInt(t, "truth count", r[0], int64(len(truth)))
	eqFloat(t, "sum(affinity_email)", r[1], aff)
	if got := one(t, res[5]); got != "TIMESTAMP WITH TIME ZONE" {
		t.Errorf("at is read by DuckDB as %s, want TIMESTAMP WITH TIME ZONE (UTC-adjusted)", got)
	}
}

func TestDuckDBReadsLoggedTable(t *testing.T) {
	cols := []Column{
		{Name: "decision_id", Role: RoleID, Kind: KindCategorical},
		{Name: "at", Role: RoleTime, Kind: KindTime},
		{Name: "x", Role: RoleContext, Kind: KindNumeric},
		{Name: "last_paid", Role: RoleContext, Kind: KindTime},
		{Name: "channel", Role: RoleAction, Kind: KindCategorical},
		{Name: "p", Role: RolePropensity, Kind: KindNumeric},
	}
	tb := randTable(21, cols, 50000)
	path := filepath.Join(t.TempDir(), "x.parquet")
	w, err := CreateLogged(path, cols, map[string]string{"engage.source": "duck"})
	if err != nil {
		t.Fatal(err)
	}
	w.rgRows = 20000
	if err := w.Write(tb); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var sumX float64
	var nan, missing, email int64
	for i := range tb.Len() {
		if x := tb.Floats[2][i]; math.IsNaN(x) {
			nan++
		} else {
			sumX += x
		}
		if tb.Times[3][i] == MissingTime {
			missing++
		}
		if tb.Strings[4][i] == "email" {
			email++
		}
	}
	res := duck(t,
		fmt.Sprintf("select count(*), sum(x) filter (where not isnan(x)), count(*) filter (where isnan(x)), count(*) - count(last_paid), count(*) filter (where channel = 'email') from '%s'", path),
		fmt.Sprintf("select decision_id, epoch_us(\"at\"), x, channel from '%s' where decision_id = 'd777'", path),
		fmt.Sprintf("select decode(value) from parquet_kv_metadata('%s') where decode(key) = 'engage.columns'", path),
		fmt.Sprintf("select string_agg(column_name, ',') from (describe select * from '%s')", path),
	)
	r := res[0][0]
	eqInt(t, "count", r[0], int64(tb.Len()))
	eqFloat(t, "sum(x)", r[1], sumX)
	eqInt(t, "NaN x", r[2], nan)
	eqInt(t, "null last_paid", r[3], missing)
	eqInt(t, "email rows", r[4], email)
	got := res[1]
	want := []string{"d777", strconv.FormatInt(tb.Times[1][777], 10), strconv.FormatFloat(tb.Floats[2][777], 'g', -1, 64), tb.Strings[4][777]}
	if len(got) != 1 || got[0][0] != want[0] || got[0][1] != want[1] || got[0][3] != want[3] {
		t.Errorf("row d777: DuckDB %v, we wrote %v", got, want)
	}
	if len(got) == 1 {
		eqFloat(t, "x of d777", got[0][2], tb.Floats[2][777])
	}
	if !strings.Contains(one(t, res[2]), `"role":"propensity"`) {
		t.Errorf("engage.columns metadata not visible to DuckDB: %v", res[2])
	}
	if got := one(t, res[3]); got != "decision_id,at,x,last_paid,channel,p" {
		t.Errorf("column order in the file: %s", got)
	}
}

func TestReadDuckDBWrittenParquet(t *testing.T) {
	dir := t.TempDir()
	ev, lg := filepath.Join(dir, "events.parquet"), filepath.Join(dir, "logged.parquet")
	const n = 300000 // more than two DuckDB row groups (122880 rows)
	duck(t,
		fmt.Sprintf(`copy (select 'e' || i as event_id, 'a' || (i %% 97) as account_id,
			['payment', 'opened', 'contact_sent'][i %% 3 + 1] as type,
			timestamp '2024-01-01' + to_microseconds(i * 1000) as at,
			case when i %% 5 = 0 then null else 'sms' end as channel,
			(i * 7)::bigint as amount, 'USD' as currency
			from range(%d) t(i)) to '%s' (format parquet)`, n, ev),
		fmt.Sprintf(`copy (select i::double / 4 as x, case when i %% 7 = 0 then null else 'c' || (i %% 4) end as cat,
			timestamptz '2024-01-01 00:00:00+00' + to_microseconds(i * 1000000) as at,
			i %% 2 = 0 as flag, i::integer as n32, (i %% 1000)::decimal(10, 2) / 8 as dec,
			date '2024-01-01' + (i %% 30)::integer as day, case when i %% 3 = 0 then null else i::float end as f,
			(i %% 200)::utinyint as small
			from range(%d) t(i)) to '%s' (format parquet)`, n, lg),
	)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	events, err := ReadAll[Event](ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Fatalf("read %d events, want %d", len(events), n)
	}
	types := []string{"payment", "opened", "contact_sent"}
	for i, e := range events {
		ch := "sms"
		if i%5 == 0 {
			ch = ""
		}
		want := Event{EventID: "e" + strconv.Itoa(i), AccountID: "a" + strconv.Itoa(i%97), Type: types[i%3], At: t0 + int64(i)*1000, Channel: ch, Amount: int64(i) * 7, Currency: "USD"}
		if e != want {
			t.Fatalf("event %d: got %+v want %+v", i, e, want)
		}
	}
	tb, err := ReadLogged(lg)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Len() != n {
		t.Fatalf("read %d logged rows, want %d", tb.Len(), n)
	}
	kinds := map[string]Kind{"x": KindNumeric, "cat": KindCategorical, "at": KindTime, "flag": KindNumeric, "n32": KindNumeric, "dec": KindNumeric, "day": KindTime, "f": KindNumeric, "small": KindNumeric}
	for name, k := range kinds {
		if i := tb.Index(name); i < 0 || tb.Columns[i].Kind != k {
			t.Fatalf("column %s: want kind %s in %+v", name, k, tb.Columns)
		}
	}
	ix := func(s string) int { return tb.Index(s) }
	for i := range n {
		cat := "c" + strconv.Itoa(i%4)
		if i%7 == 0 {
			cat = ""
		}
		f := float64(i)
		if i%3 == 0 {
			f = math.NaN()
		}
		flag := 0.0
		if i%2 == 0 {
			flag = 1
		}
		dec := math.Round(float64(i%1000)/8*100) / 100 // decimal(10,2)/8 -> DuckDB decimal division
		checks := []struct {
			name      string
			got, want float64
		}{
			{"x", tb.Floats[ix("x")][i], float64(i) / 4},
			{"flag", tb.Floats[ix("flag")][i], flag},
			{"n32", tb.Floats[ix("n32")][i], float64(i)},
			{"f", tb.Floats[ix("f")][i], f},
			{"small", tb.Floats[ix("small")][i], float64(i % 200)},
		}
		for _, c := range checks {
			if c.got != c.want && !(math.IsNaN(c.got) && math.IsNaN(c.want)) {
				t.Fatalf("row %d %s: got %v want %v", i, c.name, c.got, c.want)
			}
		}
		if d := tb.Floats[ix("dec")][i]; math.Abs(d-float64(i%1000)/8) > 0.01 {
			t.Fatalf("row %d dec: got %v want about %v (%v)", i, d, float64(i%1000)/8, dec)
		}
		if got := tb.Strings[ix("cat")][i]; got != cat {
			t.Fatalf("row %d cat: got %q want %q", i, got, cat)
		}
		if got, want := tb.Times[ix("at")][i], t0+int64(i)*1e6; got != want {
			t.Fatalf("row %d at: got %d want %d", i, got, want)
		}
		if got, want := tb.Times[ix("day")][i], t0+int64(i%30)*86400e6; got != want {
			t.Fatalf("row %d day: got %d want %d", i, got, want)
		}
	}
}
