package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// progressBar redraws one stderr line (only when stderr is a terminal):
//
//	[#########...........]  45%  3.12 GB / 6.94 GB  412 MB/s  ETA 0:09
type progressBar struct {
	w     io.Writer
	meter *streamwriter.Meter
	last  time.Time
	width int
}

// redrawEvery limits redraws: a 16 MiB chunk at several GB/s would
// otherwise redraw hundreds of times a second.
const redrawEvery = 100 * time.Millisecond

func newProgressBar(w io.Writer, total int64) *progressBar {
	width := 80
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c >= 40 {
		width = c
	}
	return &progressBar{w: w, meter: streamwriter.NewMeter(total, time.Now()), width: width}
}

func (b *progressBar) update(p checkpoint.Progress) {
	now := time.Now()
	if now.Sub(b.last) < redrawEvery && p.Done < p.Total {
		return
	}
	b.last = now
	b.draw(b.meter.Update(p.Done, now))
}

func (b *progressBar) draw(s streamwriter.Stats) {
	const barWidth = 20
	filled := int(s.Fraction() * barWidth)
	line := fmt.Sprintf("[%s%s] %3d%%  %s", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), int(s.Fraction()*100), s)
	if s.Total > 0 && s.Done >= s.Total {
		// Finish still fsyncs, which can take seconds on a slow disk.
		line = fmt.Sprintf("[%s] 100%%  %s written, flushing to disk…", strings.Repeat("#", barWidth), streamwriter.FormatBytes(s.Total))
	}
	if len(line) > b.width-1 {
		line = line[:b.width-1]
	}
	fmt.Fprintf(b.w, "\r%-*s", b.width-1, line)
}

// finish ends the bar's line; on failure it clears it so the error message
// stands alone.
func (b *progressBar) finish(ok bool) {
	if ok {
		fmt.Fprintln(b.w)
		return
	}
	fmt.Fprintf(b.w, "\r%*s\r", b.width-1, "")
}

// execute runs plan into sink with a progress bar on stderr when it is a
// terminal (and showBar): the one way every command writes a plan.
func execute(ctx context.Context, e *env, plan *checkpoint.Plan, sink streamwriter.Sink, opt checkpoint.ExecuteOptions, showBar bool) error {
	var bar *progressBar
	if e.tty && showBar {
		bar = newProgressBar(e.stderr, plan.Size)
		opt.Progress = bar.update
	}
	err := checkpoint.Execute(ctx, plan, sink, opt)
	if bar != nil {
		bar.finish(err == nil)
	}
	return err
}
