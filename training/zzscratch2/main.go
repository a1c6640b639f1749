package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/engagehq/engage/datasets"
)

func main() {
	r, err := datasets.Open[datasets.Event](os.Args[1])
	if err != nil {
		panic(err)
	}
	buf := make([]datasets.Event, 8192)
	types := map[string]int{}
	eng := map[string]int{}
	sent := map[string]int{}
	for {
		n, err := r.Next(buf)
		for _, e := range buf[:n] {
			types[e.Type]++
			switch e.Type {
			case "opened", "replied", "call_conversation", "inbound_call_conversation":
				eng[e.AccountID]++
			case "clicked":
				if e.Channel == "sms" {
					eng[e.AccountID]++
				}
			case "contact_sent":
				sent[e.AccountID]++
			}
		}
		if errors.Is(err, io.EOF) || n == 0 {
			break
		}
	}
	fmt.Println(types)
	var v []int
	for a := range sent {
		v = append(v, eng[a])
	}
	sort.Ints(v)
	h := map[int]int{}
	for _, x := range v {
		h[min(x, 10)]++
	}
	fmt.Println(len(v), "median", v[len(v)/2], "p75", v[3*len(v)/4], h)
}
