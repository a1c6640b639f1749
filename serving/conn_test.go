package serving

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// heldServer is an httptest server set up as Serve sets up its own: every
// connection wrapped in a heldConn and reachable from its requests, so that
// the end-to-end tests go through writeJSON's one-write path.
func heldServer(h http.Handler) *httptest.Server {
	hs := httptest.NewUnstartedServer(h)
	hs.Listener = heldListener{hs.Listener}
	hs.Config.ConnContext = withConn
	hs.Start()
	return hs
}

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// countingListener is heldListener over countingConns.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &heldConn{Conn: countingConn{c, l.writes}}, nil
}

// TestOneWritePerAnswer sends requests one after another on one keep-alive
// connection to a server set up as Serve sets it up, and checks that a
// decisions answer, larger than net/http's 4 KiB connection buffer or not,
// reaches the socket in one write with its declared length, and that the
// answers that follow on the same connection (an error, a small one, more
// decisions) are whole and in order.
func TestOneWritePerAnswer(t *testing.T) {
	e := newEnv(t, "", DefaultOptions())
	defer e.close()
	seed(t, e, "a", world(4, "A"))

	var writes atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.srv.Handler(), ConnContext: withConn}
	go srv.Serve(countingListener{ln, &writes})
	defer srv.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)

	send := func(method, path, body string) (*http.Response, []byte, int64) {
		t.Helper()
		before := writes.Load()
		req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			method, path, e.keys["a"], len(body), body)
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := strconv.Atoi(res.Header.Get("Content-Length")); err != nil || n != len(b) {
			t.Fatalf("%s %s: Content-Length %q, body %d bytes", method, path, res.Header.Get("Content-Length"), len(b))
		}
		return res, b, writes.Load() - before
	}
	decide := func(ids ...string) {
		t.Helper()
		body := `{"account_id":"` + ids[0] + `"}`
		if len(ids) > 1 {
			body = `{"account_ids":["` + strings.Join(ids, `","`) + `"]}`
		}
		res, b, w := send("POST", "/v1/decisions", body)
		var dr DecisionsResponse
		if res.StatusCode != 200 || json.Unmarshal(b, &dr) != nil || len(dr.Decisions) != len(ids) {
			t.Fatalf("decide %v: %d %.200s", ids, res.StatusCode, b)
		}
		for i, d := range dr.Decisions {
			if d.AccountID != ids[i] {
				t.Fatalf("decision %d for %s, want %s", i, d.AccountID, ids[i])
			}
		}
		if w != 1 {
			t.Errorf("decision answer of %d bytes went out in %d writes, want 1", len(b), w)
		}
		if len(ids) > 1 && len(b) < 4<<10 {
			t.Fatalf("batch answer of %d bytes: the test needs one larger than net/http's 4 KiB buffer", len(b))
		}
	}
	decide("A0001", "A0002", "A0003", "A0000")
	if res, b, _ := send("POST", "/v1/decisions", `{"account_id":`); res.StatusCode != 400 || !strings.Contains(string(b), `"error"`) {
		t.Fatalf("malformed body: %d %s", res.StatusCode, b)
	}
	decide("A0001")
	if res, b, _ := send("GET", "/healthz", ""); res.StatusCode != 200 || !strings.Contains(string(b), "ok") {
		t.Fatalf("healthz: %d %s", res.StatusCode, b)
	}
	decide("A0002", "A0003", "A0000", "A0001")
}

// recordConn records the writes that reach it and fails them when told to.
type recordConn struct {
	net.Conn
	writes []string
	fail   error
	closed bool
}

func (c *recordConn) Write(p []byte) (int, error) {
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *recordConn) CloseWrite() error { c.closed = true; return nil }

// TestHeldConn: writes pass through unless held; held writes go out as one,
// in order, at release; a failed write is release's error; a release without
// a hold does nothing; CloseWrite reaches the TCP connection.
func TestHeldConn(t *testing.T) {
	rc := &recordConn{}
	c := &heldConn{Conn: rc}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Write([]byte("a"))
	must(err)
	c.hold()
	c.hold() // a second hold keeps what is held
	for _, p := range []string{"b", "cd", "", "e"} {
		if n, err := c.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("held write %q: %d %v", p, n, err)
		}
	}
	if len(rc.writes) != 1 {
		t.Fatalf("writes reached the connection while held: %q", rc.writes)
	}
	must(c.release())
	must(c.release())
	_, err = c.Write([]byte("f"))
	must(err)
	if want := []string{"a", "bcde", "f"}; !reflect.DeepEqual(rc.writes, want) {
		t.Fatalf("writes %q, want %q", rc.writes, want)
	}
	rc.fail = io.ErrClosedPipe
	c.hold()
	if _, err := c.Write([]byte("g")); err != nil {
		t.Fatalf("held write failed early: %v", err)
	}
	if err := c.release(); err != io.ErrClosedPipe {
		t.Fatalf("release: %v, want the connection's error", err)
	}
	must(c.CloseWrite())
	if !rc.closed {
		t.Fatal("CloseWrite did not reach the connection")
	}
}

// pipeListener accepts one end of a net.Pipe: a connection that is not TCP.
type pipeListener struct{ net.Listener }

func (pipeListener) Accept() (net.Conn, error) { c, _ := net.Pipe(); return c, nil }

// TestHeldListener: TCP connections are wrapped, others (TLS, pipes) are not.
func TestHeldListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	c, err := heldListener{ln}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*heldConn); !ok {
		t.Fatalf("TCP connection accepted as %T, want *heldConn", c)
	}
	p, err := heldListener{pipeListener{ln}}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, ok := p.(*heldConn); ok {
		t.Fatal("a pipe was wrapped")
	}
}

// TestParseDecisionsRequest checks that the common bodies take the fast path
// and that the others fall back to encoding/json.
func TestParseDecisionsRequest(t *testing.T) {
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"account_id":"A0000001","now":"2026-02-04T00:00:00Z"}`, true},
		{`{"account_id":"A1"}`, true},
		{` { "now" : "2026-02-04T00:00:00+01:00" , "account_id" : "A 1" } ` + "\n", true},
		{`{"now":"2026-02-04T00:00:00.123456789Z","account_id":""}`, true},
		{`{}`, false},
		{`{"account_ids":["A1"]}`, false},
		{`{"account_id":"A\u00e91"}`, false},
		{`{"account_id":"Aé1"}`, false},
		{`{"Account_ID":"A1"}`, false},
		{`{"account_id":"A1","account_id":"A2"}`, false},
		{`{"account_id":"A1","now":null}`, false},
		{`{"account_id":"A1","now":"soon"}`, false},
		{`{"account_id":"A1"} {}`, false},
		{`{"account_id":"A1",}`, false},
		{`{"account_id":"A1"`, false},
		{`{"account_id":1}`, false},
		{``, false},
	} {
		got, ok := parseDecisionsRequest([]byte(tc.body))
		if ok != tc.ok {
			t.Errorf("%s: fast path %v, want %v", tc.body, ok, tc.ok)
		}
		if ok {
			checkSameAsStrict(t, []byte(tc.body), got)
		}
	}
}

// checkSameAsStrict fails unless decodeStrict decodes b, without error, to got.
func checkSameAsStrict(t *testing.T, b []byte, got DecisionsRequest) {
	t.Helper()
	var want DecisionsRequest
	if ae := decodeStrict(b, &want, ""); ae != nil {
		t.Fatalf("%q: fast path accepted what decodeStrict refuses: %v", b, ae)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: fast path %+v, decodeStrict %+v", b, got, want)
	}
}

// FuzzParseDecisionsRequest: whatever the fast path accepts, decodeStrict
// decodes to the same request.
func FuzzParseDecisionsRequest(f *testing.F) {
	for _, s := range []string{
		`{"account_id":"A0000001","now":"2026-02-04T00:00:00Z"}`,
		`{"now":"2026-02-04T00:00:00-07:00","account_id":"x"}`,
		` {"account_id" :"A"}`,
		`{"account_id":"A","now":"2026-13-04T00:00:00Z"}`,
		`{"account_id":"A\"","now":"2026-02-04T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, ok := parseDecisionsRequest(b); ok {
			checkSameAsStrict(t, b, got)
		}
	})
}

// BenchmarkParseDecisionsRequest compares the fast path with encoding/json
// on the body of a one-account decision.
func BenchmarkParseDecisionsRequest(b *testing.B) {
	body := []byte(`{"account_id":"A0000001","now":"2026-02-04T00:00:00Z"}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := parseDecisionsRequest(body); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("decodeStrict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req DecisionsRequest
			if ae := decodeStrict(body, &req, ""); ae != nil {
				b.Fatal(ae)
			}
		}
	})
}
