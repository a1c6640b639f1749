package serving

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// One write per answer.
//
// net/http buffers a connection's output in 4 KiB: a decision answer larger
// than that with its headers (one account's is 4-6 KB) goes out as two
// writes, the headers and the first 4 KiB, then the rest when the request
// finishes. On loopback each write is a trip through the TCP stack and a
// wake-up of the reader, which then reads a partial answer and waits again:
// with a 5.7 KB answer, about 5 µs of server CPU and 3 µs of the client's per
// answer (echo servers answering the same bytes, wrk -c32). heldConn lets a
// handler hold the connection's writes while it hands net/http a whole
// answer and flushes it, then send everything in one write (see writeJSON).

// heldConn is an accepted connection whose writes a handler can hold and send
// as one. Only the goroutine serving the connection writes to it (net/http
// serves one request at a time per HTTP/1 connection), so hold, Write and
// release need no lock.
type heldConn struct {
	net.Conn
	buf *[]byte // while held: where writes go, from heldBufs
}

// maxHeld bounds the answers a connection holds: larger ones (batches) go
// out as net/http writes them, and a buffer that grew past it is dropped.
const maxHeld = 64 << 10

// heldBufs lends the buffers of held writes: a connection has one only
// while it holds, so thousands of idle keep-alive connections keep none.
var heldBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// Write implements net.Conn: while held, p is kept for release.
func (c *heldConn) Write(p []byte) (int, error) {
	if c.buf != nil {
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// hold keeps the writes that follow until release.
func (c *heldConn) hold() {
	if c.buf == nil {
		c.buf = heldBufs.Get().(*[]byte)
	}
}

// release sends what was held in one write and stops holding; without a
// hold it does nothing.
func (c *heldConn) release() error {
	bp := c.buf
	if bp == nil {
		return nil
	}
	c.buf = nil
	var err error
	if len(*bp) > 0 {
		_, err = c.Conn.Write(*bp)
	}
	if cap(*bp) <= maxHeld {
		*bp = (*bp)[:0]
		heldBufs.Put(bp)
	}
	return err
}

// CloseWrite half-closes a TCP connection: net/http does so before closing a
// connection it answered with "Connection: close", so that the client reads
// the whole answer instead of a reset.
func (c *heldConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// heldListener wraps every accepted TCP connection in a heldConn. Others
// (a TLS connection, which net/http must see as such) are served as they
// come, with net/http's writes.
type heldListener struct{ net.Listener }

// Accept implements net.Listener.
func (l heldListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		return &heldConn{Conn: tc}, nil
	}
	return c, err
}

// connKey is where the request context holds its *heldConn.
type connKey struct{}

// withConn is http.Server.ConnContext: it makes the connection reachable
// from its requests' contexts.
func withConn(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*heldConn); ok {
		return context.WithValue(ctx, connKey{}, hc)
	}
	return ctx
}

// heldConnOf returns the request's connection when the server accepted it
// (nil under other servers, e.g. httptest with Handler).
func heldConnOf(r *http.Request) *heldConn {
	hc, _ := r.Context().Value(connKey{}).(*heldConn)
	return hc
}
