//go:build js && wasm

package main

import (
	"math"
	"syscall/js"
	"time"

	"github.com/ckptpack/ckptpack/internal/jsio"
	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// progressPoster turns Execute's per-chunk callbacks into at most ~10
// progress messages per second, and yields to the event loop at each one.
type progressPoster struct {
	id    js.Value
	meter *streamwriter.Meter
	start time.Time
	last  time.Time
	p     checkpoint.Progress
}

func newProgressPoster(id js.Value, total int64) *progressPoster {
	now := time.Now()
	return &progressPoster{id: id, meter: streamwriter.NewMeter(total, now), start: now, last: now}
}

func (pp *progressPoster) update(p checkpoint.Progress) {
	pp.p = p
	now := time.Now()
	if now.Sub(pp.last) < progressInterval {
		return
	}
	pp.last = now
	pp.send(now)
	// Let queued messages (a cancel) run; Execute sees the cancelled
	// context at its next check, and the File reader at its next read.
	jsio.Yield()
}

func (pp *progressPoster) send(now time.Time) {
	st := pp.meter.Update(pp.p.Done, now)
	eta := -1.0
	if st.ETA >= 0 {
		eta = math.Round(st.ETA.Seconds()*10) / 10
	}
	post(map[string]any{
		"type": "progress", "id": pp.id, "done": pp.p.Done, "total": pp.p.Total,
		"mbps": math.Round(st.MBPerSec()*10) / 10, "etaSeconds": eta, "tensor": pp.p.Tensor,
		"wasmMemoryBytes": jsio.MemoryBytes(),
	}, nil)
}

// final posts a last progress of 100 % so the page's bar completes.
func (pp *progressPoster) final() {
	if pp.p.Total > 0 && pp.p.Done == pp.p.Total {
		pp.send(time.Now())
	}
}

func (pp *progressPoster) elapsed() time.Duration { return time.Since(pp.start) }
