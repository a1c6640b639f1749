package features

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Scan runs the point-in-time replay of Build with the given priors but writes
// nothing: it reports how many decisions would be read out. Benchmarks use it to
// separate the driver's own cost from the Parquet writer's; it also validates an
// input quickly.
func Scan(ctx context.Context, in Inputs, p *Priors) (Summary, error) {
	var sum Summary
	if p == nil {
		p = UniformPriors()
	}
	accounts, err := loadAccounts(in.Accounts)
	if err != nil {
		return sum, err
	}
	sum.Accounts = accounts.len()
	if sum.End, err = historyEnd(in); err != nil {
		return sum, err
	}
	decs, err := openDecisions(in.Decisions)
	if err != nil {
		return sum, err
	}
	defer decs.Close()
	var sink float64
	b := &builder{what: in.Events, accounts: accounts, decs: decs, rep: newReplayer(p, sum.End),
		emit: func(a *Account, rows []pendingRow) error {
			sum.Decisions += int64(len(rows))
			for i := range rows {
				sink += rows[i].feat[0]
			}
			return nil
		}}
	if err := streamEvents(ctx, in.Events, b, func(int64) {}); err != nil {
		return sum, err
	}
	sum.Events = b.events
	sum.Priors = p
	_ = sink
	return sum, nil
}

// Aggregate computes, for every (account, channel) pair, the number of events
// and the sum of their amounts, streaming events.parquet with the batch
// driver's columnar reader; it returns the number of groups. It is the Go side
// of the DuckDB comparison (the same GROUP BY written in SQL). Like the driver,
// it relies on the events being sorted by account_id.
func Aggregate(ctx context.Context, path string) (groups int64, err error) {
	src, err := openEvents(path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	var (
		count [numChannels + 1]int64
		sum   [numChannels + 1]int64
		cur   []byte
		total int64
	)
	flush := func() {
		for c := range count {
			if count[c] > 0 {
				groups++
				total += sum[c]
			}
		}
		count, sum = [numChannels + 1]int64{}, [numChannels + 1]int64{}
	}
	bt := newEventBatch()
	err = safely(func() error {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := src.next(bt); err != nil {
				return err
			}
			for i := 0; i < bt.n; i++ {
				id := bt.account(i)
				if !bytes.Equal(id, cur) {
					flush()
					cur = append(cur[:0], id...)
				}
				c := int(bt.ch[i]) + 1 // -1 (none) -> 0
				if c < 0 {
					return fmt.Errorf("%s row %d: unknown channel", path, bt.row0+int64(i)+1)
				}
				count[c]++
				sum[c] += bt.amount[i]
			}
		}
	})
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	flush()
	return groups, nil
}
