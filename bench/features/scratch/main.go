// Command scratch is a temporary analysis tool (to be deleted).
package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/features"
)

func main() {
	switch os.Args[1] {
	case "gen":
		dir := os.Args[2]
		in := features.Inputs{Accounts: filepath.Join(dir, "accounts.parquet"), Events: filepath.Join(dir, "events.parquet"), Decisions: filepath.Join(dir, "decisions.parquet")}
		_, err := features.Build(context.Background(), in, os.Args[3], features.DefaultOptions())
		if err != nil {
			panic(err)
		}
	case "stats":
		r, err := datasets.OpenLogged(os.Args[2])
		if err != nil {
			panic(err)
		}
		t, err := r.Next(0)
		if err != nil && err != io.EOF {
			panic(err)
		}
		fmt.Println("rows", t.Len())
		type cs struct {
			name          string
			distinct, nan int
			runs          int
		}
		var all []cs
		for i, c := range t.Columns {
			s := cs{name: c.Name}
			switch c.Kind {
			case datasets.KindNumeric:
				m := map[uint64]bool{}
				prev := uint64(1)
				for _, x := range t.Floats[i] {
					b := math.Float64bits(x)
					m[b] = true
					if math.IsNaN(x) {
						s.nan++
					}
					if b != prev {
						s.runs++
					}
					prev = b
				}
				s.distinct = len(m)
			case datasets.KindTime:
				m := map[int64]bool{}
				for _, x := range t.Times[i] {
					m[x] = true
				}
				s.distinct = len(m)
			default:
				m := map[string]bool{}
				for _, x := range t.Strings[i] {
					m[x] = true
				}
				s.distinct = len(m)
			}
			all = append(all, s)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].distinct < all[j].distinct })
		for _, s := range all {
			fmt.Printf("%-40s distinct %7d nan %7d runs %7d\n", s.name, s.distinct, s.nan, s.runs)
		}
	}
}
