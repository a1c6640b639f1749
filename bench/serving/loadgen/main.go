// Command loadgen sends POST requests at a constant rate (open loop: a slow
// answer does not slow the schedule, so queueing shows in the latencies) for a
// bounded duration, spreading them round robin over the bodies of a file (one
// per line; e.g. one account each) or repeating one body, and prints the achieved rate, errors and latency
// percentiles as one tab-separated line. It only targets loopback addresses.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
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
	tr := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	n := int(float64(*rate) * dur.Seconds())
	lat := make([]time.Duration, n)
	var mu sync.Mutex
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Second / time.Duration(*rate)
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			req, _ := http.NewRequest("POST", *target, bytes.NewReader(bodies[i%len(bodies)]))
			req.Header.Set("Content-Type", "application/json")
			if *key != "" {
				req.Header.Set("Authorization", "Bearer "+*key)
			}
			res, err := client.Do(req)
			// latency from the scheduled send time: includes any queueing
			lat[i] = time.Since(due)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			if err != nil || res.StatusCode != 200 {
				mu.Lock()
				errs++
				mu.Unlock()
			}
		}(i, due)
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[min(n-1, int(p*float64(n)))].Microseconds()) / 1000 }
	fmt.Printf("rate\t%.0f\terrors\t%d\tp50_ms\t%.2f\tp90_ms\t%.2f\tp99_ms\t%.2f\tmax_ms\t%.2f\n",
		float64(n)/el.Seconds(), errs, pct(0.5), pct(0.9), pct(0.99), float64(lat[n-1].Microseconds())/1000)
}
