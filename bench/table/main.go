// Command table turns `go test -bench` output on stdin into a Markdown table, so that
// `make bench` prints one readable summary and keeps it under bench/results/.
//
// Every metric a benchmark reports (ns/op, B/op, allocs/op and custom ones from
// b.ReportMetric such as events/s) becomes a cell; packages are taken from the
// "pkg:" lines that precede their benchmarks.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

type row struct {
	pkg, name string
	metrics   []metric
}

type metric struct{ value, unit string }

func main() {
	rows, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
	write(os.Stdout, rows)
}

// parse reads benchmark lines: "BenchmarkX-2   100   123 ns/op   4 B/op ...".
func parse(r io.Reader) ([]row, error) {
	var rows []row
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(p), "github.com/engagehq/engage/")
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		rw := row{pkg: pkg, name: strings.TrimPrefix(name, "Benchmark")}
		for i := 2; i+1 < len(f); i += 2 {
			rw.metrics = append(rw.metrics, metric{value: f[i], unit: f[i+1]})
		}
		rows = append(rows, rw)
	}
	return rows, sc.Err()
}

func write(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| package | benchmark | metrics |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, r := range rows {
		var cells []string
		for _, m := range r.metrics {
			cells = append(cells, m.value+" "+m.unit)
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", r.pkg, r.name, strings.Join(cells, ", "))
	}
}
