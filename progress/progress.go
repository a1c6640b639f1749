package progress

import (
	"bytes"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Intervals between two renders. A terminal redraws in place, so it can be
// quick; a log keeps every line, so it gets few.
const (
	TerminalInterval = 200 * time.Millisecond
	LogInterval      = 10 * time.Second
)

// New returns a bar over total units (-1 when unknown) named desc, counting
// unit ("events", "rows", "accounts"), that writes to w; a nil w gives a
// silent bar, so callers need not branch on a quiet flag.
func New(w io.Writer, total int64, desc, unit string) *progressbar.ProgressBar {
	return build(w, total, desc,
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit))
}

// NewBytes returns a bar over total bytes (-1 when unknown), for readers and
// writers of files, shown in B/kB/MB with a byte rate.
func NewBytes(w io.Writer, total int64, desc string) *progressbar.ProgressBar {
	return build(w, total, desc, progressbar.OptionShowBytes(true))
}

func build(w io.Writer, total int64, desc string, unit ...progressbar.Option) *progressbar.ProgressBar {
	if w == nil {
		return progressbar.DefaultSilent(total)
	}
	opts := append([]progressbar.Option{
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetPredictTime(true),
	}, unit...)
	if IsTerminal(w) {
		opts = append(opts,
			progressbar.OptionSetWriter(w),
			progressbar.OptionThrottle(TerminalInterval),
			progressbar.OptionClearOnFinish())
	} else {
		opts = append(opts,
			// The blank 0% render starts the clock, so the first update is
			// throttled like the rest; it says nothing, so it is not printed.
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionSetWriter(&lines{w: w, skip: 1}),
			progressbar.OptionThrottle(LogInterval),
			progressbar.OptionUseANSICodes(false),
			progressbar.OptionSetWidth(20))
	}
	return progressbar.NewOptions64(total, opts...)
}

// IsTerminal reports whether w is a character device (a terminal), the only
// place where redrawing a line in place makes sense.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}

// lines turns the bar's in-place redraws (carriage returns, padding) into
// whole lines, dropping the blank redraws a bar makes to clear itself.
type lines struct {
	mu   sync.Mutex
	w    io.Writer
	skip int // leading lines to drop
}

// Write implements io.Writer. It always reports len(p) written so the bar
// never sees a short write for the bytes it chose to drop.
func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, part := range bytes.Split(p, []byte{'\r'}) {
		part = bytes.TrimSpace(part)
		if len(part) == 0 {
			continue
		}
		if l.skip > 0 {
			l.skip--
			continue
		}
		if _, err := l.w.Write(append(part, '\n')); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
