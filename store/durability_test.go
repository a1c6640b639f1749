package store

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/engagehq/engage/datasets"
)

// TestRestart writes every kind of record, closes, reopens and reads all back.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir, nil)
	as := accounts("acc", 20)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		t.Fatal(err)
	}
	evs := events("ev", as, 300)
	if _, err := db.AppendEvents("t1", evs, testApply); err != nil {
		t.Fatal(err)
	}
	if err := db.PutDecision("t1", DecisionRecord{ID: "d1", AccountID: as[0].ID, At: 5, Payload: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := db.CreateKey("t1", []string{ScopeEvents})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, db, "t1", as)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDir(t, dir, nil)
	defer db.Close()
	if lsm, vlog := db.Size(); lsm <= 0 || vlog < 0 {
		t.Fatalf("size of a reopened store: lsm %d vlog %d", lsm, vlog)
	}
	if after := snapshot(t, db, "t1", as); after != before {
		t.Fatalf("reopen lost data:\n%s\n---\n%s", before, after)
	}
	for _, a := range as {
		if _, err := db.Account("t1", a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Decision("t1", "d1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate(tok); err != nil {
		t.Fatal(err)
	}
	// The change counter survives: the next change continues the sequence.
	_, last, _ := db.Changes("t1", 0, 1000)
	res, err := db.AppendEvents("t1", []datasets.Event{{EventID: "late", AccountID: as[0].ID, Type: datasets.EventOpened}},
		Apply{Status: func(string, string, []byte, []datasets.Event) (string, error) { return "engaged", nil }})
	if err != nil || len(res.Changes) != 1 || res.Changes[0].Seq != last+1 {
		t.Fatalf("after restart: %+v %v (last seq %d)", res.Changes, err, last)
	}
}

const (
	crashEnv    = "ENGAGE_STORE_CRASH_DIR"
	crashSegEnv = "ENGAGE_STORE_CRASH_SEGMENT" // the child's journal segment size
)

// TestCrashChild is the child half of TestCrashKeepsAcknowledgedWrites: it appends
// batches forever, printing "ACK <n>" after each acknowledged batch, until killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child process of TestCrashKeepsAcknowledgedWrites")
	}
	o := DefaultOptions()
	o.MemTableSize = 8 << 20
	o.BlockCacheSize = 8 << 20
	if n, err := strconv.ParseInt(os.Getenv(crashSegEnv), 10, 64); err == nil {
		o.JournalSegment = n
	}
	db, err := Open(dir, o)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	as := accounts("acc", 50)
	if _, err := db.UpsertAccounts("t1", as); err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	fmt.Println("ACK accounts")
	// Concurrent audit writers: their calls are group-committed.
	for g := 0; g < 8; g++ {
		go func() {
			for n := 0; ; n++ {
				id := fmt.Sprintf("g%d-%d", g, n)
				if err := db.PutDecision("t1", DecisionRecord{ID: id, AccountID: as[n%50].ID, At: int64(n), Payload: []byte(`{"g":1}`)}); err != nil {
					fmt.Println("ERR", err)
					os.Exit(2)
				}
				fmt.Println("DACK", id)
			}
		}()
	}
	for b := 0; ; b++ {
		if _, err := db.AppendEvents("t1", events(fmt.Sprintf("b%d-", b), as, 200), testApply); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		if err := db.PutDecision("t1", DecisionRecord{ID: fmt.Sprint("d", b), AccountID: as[b%50].ID, At: int64(b), Payload: []byte(`{}`)}); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Println("ACK", b) // unbuffered: written only after both calls returned
	}
}

// TestCrashKeepsAcknowledgedWrites kills a writing child process with SIGKILL
// (no Close, no flush) and checks every batch it acknowledged is in the reopened
// store, that feature state counts exactly the stored events, and that the change
// feed is gap-free.
//
// With small journal segments the child moves through many of them and the
// index's watermark lags behind: the reopen replays across segments, and a
// store reopened after the crash takes new records and finds them after
// another reopen.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	for _, seg := range []string{"", "16384"} {
		t.Run("segment="+seg, func(t *testing.T) { crashKeepsAcknowledgedWrites(t, seg) })
	}
}

func crashKeepsAcknowledgedWrites(t *testing.T, seg string) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashSegEnv+"="+seg)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	var dacked []string
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(10 * time.Second)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ERR") {
			t.Fatalf("child: %s", line)
		}
		if id, ok := strings.CutPrefix(line, "DACK "); ok {
			dacked = append(dacked, id)
		} else if n, err := strconv.Atoi(strings.TrimPrefix(line, "ACK ")); err == nil {
			acked = n
		}
		if acked >= 20 || time.Now().After(deadline) {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if acked < 0 {
		t.Fatal("child acknowledged nothing")
	}
	t.Logf("child killed after %d acknowledged batches and %d concurrent decisions", acked+1, len(dacked))
	if len(dacked) == 0 {
		t.Fatal("no concurrent decision was acknowledged")
	}

	if segs, err := listSegments(dir); err != nil || seg != "" && len(segs) < 3 {
		t.Fatalf("journal segments after the crash: %v %v", segs, err)
	}
	db := openDir(t, dir, nil)
	defer func() { db.Close() }()
	as := accounts("acc", 50)
	for b := 0; b <= acked; b++ {
		for _, e := range events(fmt.Sprintf("b%d-", b), as, 200) {
			got, err := db.Event("t1", e.EventID)
			e.Tenant = "t1"
			if err != nil || got != e {
				t.Fatalf("acknowledged event %s lost: %v", e.EventID, err)
			}
		}
		if _, err := db.Decision("t1", fmt.Sprint("d", b)); err != nil {
			t.Fatalf("acknowledged decision lost: %v", err)
		}
	}
	for _, id := range dacked {
		if _, err := db.Decision("t1", id); err != nil {
			t.Fatalf("acknowledged concurrent decision %s lost: %v", id, err)
		}
	}
	for _, a := range as {
		evs, err := db.Events("t1", a.ID, minT, maxT)
		if err != nil {
			t.Fatal(err)
		}
		if c := decodeCounter(t, must(db.FeatureState("t1", a.ID))); c.N != len(evs) {
			t.Fatalf("%s: feature state counts %d events, log has %d", a.ID, c.N, len(evs))
		}
	}
	ch, _, err := db.Changes("t1", 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range ch {
		if c.Seq != uint64(i+1) {
			t.Fatalf("change feed gap at %d: %d", i, c.Seq)
		}
	}
	// The reopened store goes on: a new record survives another reopen
	// next to the replayed ones.
	if err := db.PutDecision("t1", DecisionRecord{ID: "after", AccountID: as[0].ID, At: 1 << 40, Payload: []byte(`{"after":1}`)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDir(t, dir, nil)
	for _, id := range append(dacked, "after") {
		if _, err := db.Decision("t1", id); err != nil {
			t.Fatalf("decision %s after the second reopen: %v", id, err)
		}
	}
	list, err := db.Decisions("t1", as[0].ID, minT, maxT)
	if err != nil || len(list) == 0 || list[len(list)-1].ID != "after" {
		t.Fatalf("decisions of %s after the second reopen: %d (%v)", as[0].ID, len(list), err)
	}
}

func TestEncryption(t *testing.T) {
	const sentinel = "PLAINTEXT-SENTINEL-ACCOUNT-7731"
	key := bytes.Repeat([]byte{0x42}, 32)
	write := func(dir string, key []byte) {
		db := openDir(t, dir, func(o *Options) { o.EncryptionKey = key })
		as := accounts("x", 1)
		as[0].ID = sentinel
		if _, err := db.UpsertAccounts("t1", as); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AppendEvents("t1", []datasets.Event{{EventID: "e1", AccountID: sentinel, Type: "opened"}}, testApply); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	onDisk := func(dir string) bool {
		found := false
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			found = found || bytes.Contains(b, []byte(sentinel))
			return nil
		})
		return found
	}
	plain, enc := t.TempDir(), t.TempDir()
	write(plain, nil)
	write(enc, key)
	if !onDisk(plain) {
		t.Fatal("control: the sentinel is not on disk even without encryption; the check proves nothing")
	}
	if onDisk(enc) {
		t.Fatal("encrypted store has the account id in plaintext on disk")
	}
	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"wrong key", bytes.Repeat([]byte{0x43}, 32)},
		{"no key", nil},
		{"shorter key", key[:16]},
	} {
		o := DefaultOptions()
		o.EncryptionKey = tc.key
		_, err := Open(enc, o)
		if err == nil || !strings.Contains(err.Error(), "encryption key") {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	o := DefaultOptions()
	o.EncryptionKey = []byte("short")
	if _, err := Open(t.TempDir(), o); err == nil || !strings.Contains(err.Error(), "16, 24 or 32") {
		t.Fatalf("bad key length: %v", err)
	}
	db := openDir(t, enc, func(o *Options) { o.EncryptionKey = key })
	defer db.Close()
	if _, err := db.Account("t1", sentinel); err != nil {
		t.Fatalf("right key: %v", err)
	}
	if evs, _ := db.Events("t1", sentinel, minT, maxT); len(evs) != 1 {
		t.Fatalf("right key reads %d events", len(evs))
	}
}

func TestLoadKey(t *testing.T) {
	raw := []byte("0123456789abcdefghijklmnopqrst\xfe\xff") // 32 bytes, not valid text
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		path string
		want []byte
		err  string
	}{
		{"hex", write("hex", []byte(hex.EncodeToString(raw)+"\n"), 0o600), raw, ""},
		{"base64", write("b64", []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600), raw, ""},
		{"raw", write("raw", raw, 0o600), raw, ""},
		{"too short", write("short", []byte("abcd"), 0o600), nil, "want 16, 24 or 32"},
		{"world readable", write("open", []byte(hex.EncodeToString(raw)), 0o644), nil, "readable by others"},
		{"missing", filepath.Join(dir, "nope"), nil, "no such file"},
	} {
		got, err := LoadKeyFile(tc.path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Fatalf("%s: %q %v", tc.name, got, err)
		}
	}
	t.Setenv(EnvKey, "")
	t.Setenv(EnvKeyFile, "")
	if k, err := LoadKeyFromEnv(); k != nil || err != nil {
		t.Fatalf("unset env: %v %v", k, err)
	}
	t.Setenv(EnvKeyFile, filepath.Join(dir, "hex"))
	if k, err := LoadKeyFromEnv(); !bytes.Equal(k, raw) || err != nil {
		t.Fatalf("env file: %v %v", k, err)
	}
	t.Setenv(EnvKey, hex.EncodeToString(raw[:16]))
	if k, err := LoadKeyFromEnv(); !bytes.Equal(k, raw[:16]) || err != nil {
		t.Fatalf("env key wins: %v %v", k, err)
	}
	t.Setenv(EnvKey, "zz")
	if _, err := LoadKeyFromEnv(); err == nil || !strings.Contains(err.Error(), EnvKey) {
		t.Fatalf("bad env key: %v", err)
	}
}
