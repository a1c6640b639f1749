package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/training"
)

func main() {
	r, err := action.Open(os.Args[2])
	if err != nil {
		panic(err)
	}
	t := time.Now()
	m, err := action.Load(r, os.Args[3])
	if err != nil {
		panic(err)
	}
	fmt.Println("load", time.Since(t))
	for _, s := range []action.Search{action.Exhaustive, action.Coordinate} {
		rep, err := training.EvaluatePreferences(context.Background(), os.Args[1], m, training.PreferenceOptions{Search: s})
		if err != nil {
			panic(err)
		}
		fmt.Println(rep.Markdown())
		fmt.Println("per rank", rep.ScoreTime/time.Duration(rep.Scored))
	}
}
