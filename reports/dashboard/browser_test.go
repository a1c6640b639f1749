package dashboard

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/engagehq/engage/reports"
)

// webdriver is a minimal W3C WebDriver client over chromedriver's HTTP API.
type webdriver struct {
	base, session string
}

func (wd *webdriver) call(method, path string, body any) (json.RawMessage, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	url := wd.base + path
	if wd.session != "" {
		url = wd.base + "/session/" + wd.session + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Value json.RawMessage `json:"value"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s %s: %s", method, path, b)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, out.Value)
	}
	return out.Value, nil
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBrowser loads every dashboard page in headless Chromium (through
// chromedriver), fails on any console error, checks every number shown
// against the JSON API, and writes a full-page screenshot of each page to
// bench/results/dashboard/. It needs the Debian packages chromium and
// chromium-driver.
func TestBrowser(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	driver, err := exec.LookPath("chromedriver")
	if _, serr := os.Stat(chromium); serr != nil || err != nil {
		t.Skipf("headless browser test skipped: needs %s and chromedriver (apt-get install -y chromium chromium-driver)", chromium)
	}
	books := world(t)
	s := server(t, books)
	// The same data with a registry that holds no uplift model.
	none := &reports.Books{Source: books.Source, Options: books.Options}
	none.Options.Uplift = func() (reports.UpliftScorer, error) { return nil, nil }
	bare := server(t, none)
	out := artefacts(t)

	port := freePort(t)
	cmd := exec.Command(driver, fmt.Sprintf("--port=%d", port))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromedriver: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	wd := &webdriver{base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if v, err := wd.call("GET", "/status", nil); err == nil && strings.Contains(string(v), `"ready":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver not ready: %s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	v, err := wd.call("POST", "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromium, "args": []string{
			"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(), "--window-size=1400,1000",
			"--hide-scrollbars", "--force-device-scale-factor=1",
		}},
		"goog:loggingPrefs": map[string]string{"browser": "ALL"},
	}}})
	if err != nil {
		t.Fatalf("new session: %v\n%s", err, logs.String())
	}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(v, &sess); err != nil || sess.SessionID == "" {
		t.Fatalf("new session: %s", v)
	}
	wd.session = sess.SessionID
	t.Cleanup(func() { _, _ = wd.call("DELETE", "", nil) })

	type page struct{ file, path, base string }
	visit := []page{{"index", "/dashboard", s.URL}}
	for _, p := range pages {
		visit = append(visit, page{p.name, "/dashboard/" + p.name, s.URL})
	}
	visit = append(visit, page{"uplift-not-enough-data", "/dashboard/uplift?jurisdiction=NZ&product=utility&from=2026-01-12&to=2026-01-19", s.URL},
		page{"model-uplift-in-sample", "/dashboard/model-uplift?to=2026-02-01", s.URL},
		page{"model-uplift-no-model", "/dashboard/model-uplift", bare.URL})
	for _, p := range visit {
		if _, err := wd.call("POST", "/url", map[string]string{"url": p.base + p.path}); err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		// Console errors (and failed loads, which Chromium logs as SEVERE).
		v, err := wd.call("POST", "/se/log", map[string]string{"type": "browser"})
		if err != nil {
			t.Fatalf("%s: read console: %v", p.path, err)
		}
		var entries []struct{ Level, Message string }
		_ = json.Unmarshal(v, &entries)
		for _, e := range entries {
			if e.Level == "SEVERE" || e.Level == "WARNING" {
				t.Errorf("%s: console %s: %s", p.path, e.Level, e.Message)
			}
		}
		// Every number on the page against the JSON API.
		v, err = wd.call("POST", "/execute/sync", map[string]any{"args": []any{}, "script": `return {
			title: document.title,
			cells: Array.from(document.querySelectorAll('td[data-ptr]')).map(e => ({
				Ptr: e.dataset.ptr, Value: e.dataset.value || '', Fmt: e.dataset.fmt || '',
				Text: e.textContent, Numeric: e.hasAttribute('data-value')})),
			svgs: document.querySelectorAll('svg').length,
			height: Math.ceil(document.documentElement.scrollHeight),
			status: (document.getElementById('status') || {}).textContent || '',
			notes: Array.from(document.querySelectorAll('p.note')).map(e => e.textContent).join('\n')}`})
		if err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		var pg struct {
			Title  string
			Cells  []cell
			Svgs   int
			Height int
			Status string
			Notes  string
		}
		if err := json.Unmarshal(v, &pg); err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		if p.file != "index" {
			api := strings.Replace(p.path, "/dashboard/", "/v1/reports/", 1)
			code, js := get(t, p.base+api)
			if code != http.StatusOK {
				t.Fatalf("%s: status %d", api, code)
			}
			var doc any
			if err := json.Unmarshal([]byte(js), &doc); err != nil {
				t.Fatal(err)
			}
			for _, c := range pg.Cells {
				if err := checkCell(doc, c); err != nil {
					t.Errorf("%s: %v", p.path, err)
				}
			}
			if p.file == "uplift-not-enough-data" && !strings.Contains(pg.Status, "not enough data") {
				t.Errorf("%s: no 'not enough data' notice (status %q)", p.path, pg.Status)
			}
			switch p.file {
			case "uplift-not-enough-data":
			case "model-uplift-no-model":
				if !strings.Contains(pg.Status, "no uplift model") {
					t.Errorf("%s: no 'no uplift model' notice (status %q)", p.path, pg.Status)
				}
			default:
				if len(pg.Cells) == 0 || pg.Svgs == 0 {
					t.Errorf("%s: %d numbers and %d charts", p.path, len(pg.Cells), pg.Svgs)
				}
			}
			switch p.file {
			case "model-uplift":
				// A real model on the latest data: a Qini coefficient, out of
				// sample, and no notice.
				if pg.Status != "" || !strings.Contains(pg.Notes, "Qini coefficient") || !strings.Contains(pg.Notes, "Out of sample") {
					t.Errorf("%s: status %q, notes %q", p.path, pg.Status, pg.Notes)
				}
			case "model-uplift-in-sample":
				if !strings.Contains(pg.Notes, "In-sample") {
					t.Errorf("%s: the page does not say it is in-sample: %q", p.path, pg.Notes)
				}
			}
		}
		t.Logf("%s: %q, %d numbers checked, %d charts, %d px", p.path, pg.Title, len(pg.Cells), pg.Svgs, pg.Height)
		// Full-page screenshot: grow the window to the page's height.
		h := min(max(pg.Height, 800), 12000)
		if _, err := wd.call("POST", "/window/rect", map[string]int{"width": 1400, "height": h}); err != nil {
			t.Fatalf("%s: resize: %v", p.path, err)
		}
		v, err = wd.call("GET", "/screenshot", nil)
		if err != nil {
			t.Fatalf("%s: screenshot: %v", p.path, err)
		}
		var b64 string
		_ = json.Unmarshal(v, &b64)
		png, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(png) < 1000 {
			t.Fatalf("%s: bad screenshot (%d bytes, %v)", p.path, len(png), err)
		}
		file := filepath.Join(out, p.file+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", file)
		_, _ = wd.call("POST", "/window/rect", map[string]int{"width": 1400, "height": 1000})
	}
}
