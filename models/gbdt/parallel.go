package gbdt

import (
	"sync"
	"sync/atomic"
)

// parallelFor calls fn(i) for i in [0, n) on up to workers goroutines. Each
// call runs on exactly one goroutine, so results written per index do not
// depend on the number of workers.
func parallelFor(n, workers int, fn func(i int)) {
	if workers <= 1 || n <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// parallelChunks splits [0, n) into fixed chunks of size chunk and calls fn on
// each; the chunking does not depend on workers.
func parallelChunks(n, chunk, workers int, fn func(lo, hi int)) {
	k := (n + chunk - 1) / chunk
	parallelFor(k, workers, func(c int) {
		lo := c * chunk
		fn(lo, min(n, lo+chunk))
	})
}
