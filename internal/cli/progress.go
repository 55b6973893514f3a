package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws an upload progress bar on a terminal, at most ten times a
// second.
type progress struct {
	w     io.Writer
	total int64
	n     int64
	last  time.Time
	start time.Time
}

func newProgress(w io.Writer, total int64) *progress {
	return &progress{w: w, total: total, start: time.Now()}
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if time.Since(p.last) > 100*time.Millisecond || p.n == p.total {
		p.last = time.Now()
		p.draw()
	}
	return len(b), nil
}

func (p *progress) draw() {
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.n) / float64(p.total)
	}
	const width = 30
	filled := int(frac * width)
	rate := float64(p.n) / max(time.Since(p.start).Seconds(), 0.001)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %s of %s, %s/s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		frac*100, humanBytes(p.n), humanBytes(p.total), humanBytes(int64(rate)))
}

func (p *progress) done() {
	p.draw()
	fmt.Fprintln(p.w)
}
