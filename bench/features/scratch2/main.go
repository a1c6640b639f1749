// Command scratch2 is a temporary writer benchmark (to be deleted).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/engagehq/engage/datasets"
)

func main() {
	in := flag.String("in", "/tmp/engx/x.parquet", "")
	rows := flag.Int("rows", 1<<20, "")
	comp := flag.String("c", "snappy", "")
	workers := flag.Int("w", 0, "")
	reps := flag.Int("reps", 3, "")
	prof := flag.String("prof", "", "")
	out := flag.String("out", "/tmp/engx/wb.parquet", "")
	maxDict := flag.Int("md", 0, "")
	flag.Parse()
	r, err := datasets.OpenLogged(*in)
	if err != nil {
		panic(err)
	}
	var batches []*datasets.Table
	n := 0
	for n < *rows {
		t, err := r.Next(8192)
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		batches = append(batches, t)
		n += t.Len()
	}
	cols := r.Columns()
	if *prof != "" {
		f, _ := os.Create(*prof)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	for range *reps {
		o := datasets.DefaultLoggedOptions()
		o.Compression = *comp
		o.Workers = *workers
		if *maxDict > 0 {
			o.MaxDictionary = *maxDict
		}
		t0 := time.Now()
		c0 := cpu()
		w, err := datasets.CreateLoggedWith(*out, cols, r.Meta(), o)
		if err != nil {
			panic(err)
		}
		for _, b := range batches {
			if err := w.Write(b); err != nil {
				panic(err)
			}
		}
		tc := time.Now()
		if err := w.Close(); err != nil {
			panic(err)
		}
		fmt.Println("close", time.Since(tc))
		d := time.Since(t0)
		cp := cpu() - c0
		st, _ := os.Stat(*out)
		cells := float64(n) * float64(len(cols))
		fmt.Printf("%s w=%d: %d rows %.3f s  %.1f M cells/s  %.2f ns/cell wall, %.2f ns/cell CPU  %.1f MB\n", *comp, *workers, n, d.Seconds(), cells/d.Seconds()/1e6, d.Seconds()*1e9/cells, cp.Seconds()*1e9/cells, float64(st.Size())/1e6)
	}
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
