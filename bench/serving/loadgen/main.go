// Command loadgen sends POST requests at a constant rate (open loop: a slow
// answer does not slow the schedule, so queueing shows in the latencies) for a
// bounded duration, spreading them round robin over the bodies of a file (one
// per line; e.g. one account each) or repeating one body, and prints the
// achieved rate, errors and latency percentiles as one tab-separated line. It
// only targets loopback addresses.
//
// It shares the machine with the server it measures, so it is written to
// cost little CPU: requests are formatted once, and each of -conns keep-alive
// connections is driven by one goroutine that writes a request and reads its
// answer (no per-request goroutine, no transport hand-offs). A request due
// while every connection is busy waits for one; its latency, measured from
// its scheduled send time, includes that wait.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	target := flag.String("url", "", "URL to POST to (127.0.0.1 only)")
	body := flag.String("body", "{}", "request body")
	bodiesFile := flag.String("bodies", "", "file of request bodies, one per line, sent round robin (instead of -body)")
	key := flag.String("key", "", "bearer key (default: $ENGAGE_KEY)")
	rate := flag.Int("rate", 2000, "requests per second")
	dur := flag.Duration("duration", 10*time.Second, "how long to send")
	conns := flag.Int("conns", 64, "maximum connections")
	dump := flag.String("dump", "", "write each request's scheduled send offset and latency (ms, tab-separated) to this file, to see whether slow answers cluster in time")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || !(strings.HasPrefix(u.Host, "127.0.0.1:") || strings.HasPrefix(u.Host, "localhost:")) {
		log.Fatalf("-url must be a loopback URL, got %q", *target)
	}
	if *key == "" {
		*key = os.Getenv("ENGAGE_KEY")
	}
	bodies := [][]byte{[]byte(*body)}
	if *bodiesFile != "" {
		b, err := os.ReadFile(*bodiesFile)
		if err != nil {
			log.Fatal(err)
		}
		bodies = bodies[:0]
		for _, l := range bytes.Split(b, []byte("\n")) {
			if l = bytes.TrimSpace(l); len(l) > 0 {
				bodies = append(bodies, l)
			}
		}
		if len(bodies) == 0 {
			log.Fatalf("no bodies in %s", *bodiesFile)
		}
	}
	reqs := make([][]byte, len(bodies))
	for i, b := range bodies {
		var r bytes.Buffer
		fmt.Fprintf(&r, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", u.RequestURI(), u.Host)
		if *key != "" {
			fmt.Fprintf(&r, "Authorization: Bearer %s\r\n", *key)
		}
		fmt.Fprintf(&r, "Content-Length: %d\r\n\r\n", len(b))
		r.Write(b)
		reqs[i] = r.Bytes()
	}
	n := int(float64(*rate) * dur.Seconds())
	lat := make([]time.Duration, n)
	due := make([]time.Time, n)
	jobs := make(chan int, n)
	var mu sync.Mutex
	errs := 0
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c conn
			defer c.close()
			for i := range jobs {
				err := c.do(u.Host, reqs[i%len(reqs)])
				// latency from the scheduled send time: includes any queueing
				lat[i] = time.Since(due[i])
				if err != nil {
					mu.Lock()
					errs++
					mu.Unlock()
				}
			}
		}()
	}
	start := time.Now()
	interval := time.Second / time.Duration(*rate)
	for i := range n {
		due[i] = start.Add(time.Duration(i) * interval)
		if d := time.Until(due[i]); d > 0 {
			time.Sleep(d)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	el := time.Since(start)
	if *dump != "" {
		var b bytes.Buffer
		for i, l := range lat {
			fmt.Fprintf(&b, "%.3f\t%.3f\n", float64(time.Duration(i)*interval)/1e6, float64(l)/1e6)
		}
		if err := os.WriteFile(*dump, b.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[min(n-1, int(p*float64(n)))].Microseconds()) / 1000 }
	fmt.Printf("rate\t%.0f\terrors\t%d\tp50_ms\t%.2f\tp90_ms\t%.2f\tp99_ms\t%.2f\tmax_ms\t%.2f\n",
		float64(n)/el.Seconds(), errs, pct(0.5), pct(0.9), pct(0.99), float64(lat[n-1].Microseconds())/1000)
}

// conn is one keep-alive connection, dialled on first use and again after
// an error.
type conn struct {
	nc net.Conn
	br *bufio.Reader
}

// do sends one formatted request and reads its whole answer; a status other
// than 200 is an error.
func (c *conn) do(host string, req []byte) error {
	if c.nc == nil {
		nc, err := net.Dial("tcp", host)
		if err != nil {
			return err
		}
		c.nc, c.br = nc, bufio.NewReaderSize(nc, 64<<10)
	}
	if _, err := c.nc.Write(req); err != nil {
		c.close()
		return err
	}
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil || res.Close {
		c.close()
	}
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}

func (c *conn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc, c.br = nil, nil
	}
}
