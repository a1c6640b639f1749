package datasets

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// eventBatch fills buf with synthetic events numbered from start.
func eventBatch(buf []Event, start int) {
	for i := range buf {
		k := start + i
		buf[i] = Event{
			Tenant: "acme", EventID: "e" + strconv.Itoa(k), AccountID: "a" + strconv.Itoa(k%200000),
			Type: EventTypes[k%len(EventTypes)], At: t2020 + int64(k)*1e6, Channel: ContactChannels[k%5],
			Message: Messages[k%5], DecisionID: "d" + strconv.Itoa(k/3), Amount: int64(k % 1000), Currency: "USD",
		}
	}
}

func writeEvents(tb testing.TB, path string, n int, sample func()) {
	w, err := Create[Event](path, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	buf := make([]Event, 8192)
	for done := 0; done < n; done += len(buf) {
		b := buf[:min(len(buf), n-done)]
		eventBatch(b, done)
		if err := w.Write(b); err != nil {
			tb.Fatal(err)
		}
		if sample != nil {
			sample()
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

func readEvents(tb testing.TB, path string, sample func()) int {
	r, err := Open[Event](path)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	buf := make([]Event, 8192)
	total := 0
	for {
		n, err := r.Next(buf)
		total += n
		if sample != nil {
			sample()
		}
		if err == io.EOF {
			return total
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

const benchEvents = 1_000_000

func BenchmarkWriteEvents(b *testing.B) {
	b.ReportAllocs()
	path := filepath.Join(b.TempDir(), "events.parquet")
	for b.Loop() {
		writeEvents(b, path, benchEvents, nil)
	}
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkReadEvents(b *testing.B) {
	b.ReportAllocs()
	path := filepath.Join(b.TempDir(), "events.parquet")
	writeEvents(b, path, benchEvents, nil)
	st, _ := os.Stat(path)
	b.ReportMetric(float64(st.Size())/benchEvents, "file-bytes/event")
	for b.Loop() {
		if n := readEvents(b, path, nil); n != benchEvents {
			b.Fatalf("read %d", n)
		}
	}
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// loggedBenchFile writes a 1M-row logged table of 12 columns (8 numeric, 3
// categorical, 1 time), the shape of a features X.parquet.
func loggedBenchFile(tb testing.TB, rows int) (string, int) {
	cols := []Column{{Name: "decision_id", Role: RoleID, Kind: KindCategorical}, {Name: "at", Role: RoleTime, Kind: KindTime}}
	for i := range 8 {
		cols = append(cols, Column{Name: "x" + strconv.Itoa(i), Role: RoleContext, Kind: KindNumeric})
	}
	cols = append(cols, Column{Name: "channel", Role: RoleAction, Kind: KindCategorical}, Column{Name: "message", Role: RoleAction, Kind: KindCategorical})
	path := filepath.Join(tb.TempDir(), "x.parquet")
	w, err := CreateLogged(path, cols, nil)
	if err != nil {
		tb.Fatal(err)
	}
	r := newRand(1)
	t := NewTable(cols, 65536)
	for done := 0; done < rows; {
		t.Reset()
		for k := 0; k < 65536 && done < rows; k++ {
			t.AppendString(0, "d"+strconv.Itoa(done))
			t.AppendTime(1, t2020+int64(done)*1e6)
			for i := range 8 {
				t.AppendFloat(2+i, float64(r.IntN(100))/4)
			}
			t.AppendString(10, ContactChannels[r.IntN(5)])
			t.AppendString(11, Messages[r.IntN(5)])
			done++
		}
		if err := w.Write(t); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return path, len(cols)
}

func BenchmarkLoggedRead(b *testing.B) {
	b.ReportAllocs()
	const rows = 1_000_000
	path, ncols := loggedBenchFile(b, rows)
	for b.Loop() {
		r, err := OpenLogged(path)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			t, err := r.Next(0)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += t.Len()
		}
		r.Close()
		if n != rows {
			b.Fatalf("read %d rows", n)
		}
	}
	b.ReportMetric(float64(rows*ncols)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
}

func BenchmarkLoggedWrite(b *testing.B) {
	b.ReportAllocs()
	const rows = 1_000_000
	var ncols int
	for b.Loop() {
		_, ncols = loggedBenchFile(b, rows)
	}
	b.ReportMetric(float64(rows*ncols)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
}

// peakHeap samples HeapInuse while fn runs (fn calls sample).
func peakHeap(fn func(sample func())) uint64 {
	runtime.GC()
	var peak uint64
	var ms runtime.MemStats
	k := 0
	fn(func() {
		if k++; k%8 != 0 {
			return
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	})
	return peak
}

// TestFlatMemory writes and reads 1M and then 10M events and checks the peak
// heap does not grow with the file. Slow (about a minute): ENGAGE_SLOW=1.
func TestFlatMemory(t *testing.T) {
	if os.Getenv("ENGAGE_SLOW") == "" {
		t.Skip("set ENGAGE_SLOW=1 to write and read 10M events")
	}
	dir := t.TempDir()
	type result struct{ write, read uint64 }
	res := map[int]result{}
	for _, n := range []int{1_000_000, 10_000_000} {
		path := filepath.Join(dir, "events.parquet")
		t0 := time.Now()
		w := peakHeap(func(s func()) { writeEvents(t, path, n, s) })
		tw := time.Since(t0)
		t0 = time.Now()
		var got int
		r := peakHeap(func(s func()) { got = readEvents(t, path, s) })
		tr := time.Since(t0)
		if got != n {
			t.Fatalf("read %d of %d", got, n)
		}
		st, _ := os.Stat(path)
		t.Logf("%d events: file %d MB; write %.0f events/s, peak heap %d MB; read %.0f events/s, peak heap %d MB",
			n, st.Size()>>20, float64(n)/tw.Seconds(), w>>20, float64(n)/tr.Seconds(), r>>20)
		res[n] = result{w, r}
		os.Remove(path)
	}
	small, big := res[1_000_000], res[10_000_000]
	if big.write > small.write*3/2+32<<20 || big.read > small.read*3/2+32<<20 {
		t.Fatalf("memory grows with the file: 1M events %d/%d MB, 10M events %d/%d MB (write/read)",
			small.write>>20, small.read>>20, big.write>>20, big.read>>20)
	}
}
