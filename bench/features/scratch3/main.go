// Command scratch3 prints per-column compression (temporary).
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/parquet-go/parquet-go"
)

func main() {
	f, _ := os.Open(os.Args[1])
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		panic(err)
	}
	type c struct {
		name   string
		u, z   int64
	}
	m := map[string]*c{}
	var order []string
	for _, rg := range pf.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			n := cc.MetaData.PathInSchema[0]
			if m[n] == nil {
				m[n] = &c{name: n}
				order = append(order, n)
			}
			m[n].u += cc.MetaData.TotalUncompressedSize
			m[n].z += cc.MetaData.TotalCompressedSize
		}
	}
	var all []*c
	var tu, tz, poorU int64
	for _, n := range order {
		all = append(all, m[n])
		tu += m[n].u
		tz += m[n].z
		if float64(m[n].z) > 0.8*float64(m[n].u) {
			poorU += m[n].u
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].u > all[j].u })
	for _, x := range all[:40] {
		fmt.Printf("%-40s %8.1f MB -> %8.1f MB (%.2f)\n", x.name, float64(x.u)/1e6, float64(x.z)/1e6, float64(x.z)/float64(x.u))
	}
	fmt.Printf("total %.1f MB -> %.1f MB; uncompressed bytes in columns compressing worse than 0.8: %.1f MB\n", float64(tu)/1e6, float64(tz)/1e6, float64(poorU)/1e6)
}
