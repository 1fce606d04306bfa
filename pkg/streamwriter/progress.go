package streamwriter

import (
	"fmt"
	"time"
)

// Meter turns (bytes done, time) samples into a throughput and an ETA. The
// CLI's progress bar and the browser worker's progress messages both use it;
// it never reads the clock itself, so it behaves the same under test and in
// js/wasm.
//
// The rate is measured over a sliding window of recent samples (Window), so
// it follows the disk's current speed (page cache first, then the device)
// instead of the average since the start.
type Meter struct {
	Total  int64         // expected bytes; <= 0 when unknown
	Window time.Duration // rate window; <= 0 means 5 s

	start   time.Time
	samples []sample // ring of recent samples, oldest first
}

type sample struct {
	t    time.Time
	done int64
}

// Stats is one reading of a Meter.
type Stats struct {
	Done, Total int64
	Elapsed     time.Duration
	BytesPerSec float64       // 0 until two samples are apart in time
	ETA         time.Duration // -1 when unknown
}

// NewMeter starts a meter at now for total bytes.
func NewMeter(total int64, now time.Time) *Meter {
	m := &Meter{Total: total, start: now}
	m.samples = append(m.samples, sample{now, 0})
	return m
}

// Update records that done bytes are written at now and returns the
// current reading.
func (m *Meter) Update(done int64, now time.Time) Stats {
	window := m.Window
	if window <= 0 {
		window = 5 * time.Second
	}
	m.samples = append(m.samples, sample{now, done})
	// Keep one sample older than the window so the rate always spans it.
	drop := 0
	for drop+1 < len(m.samples)-1 && now.Sub(m.samples[drop+1].t) >= window {
		drop++
	}
	if drop > 0 {
		m.samples = append(m.samples[:0], m.samples[drop:]...)
	}
	s := Stats{Done: done, Total: m.Total, Elapsed: now.Sub(m.start), ETA: -1}
	first := m.samples[0]
	if dt := now.Sub(first.t).Seconds(); dt > 0 {
		s.BytesPerSec = float64(done-first.done) / dt
	}
	if m.Total > 0 && s.BytesPerSec > 0 {
		left := max(m.Total-done, 0)
		s.ETA = time.Duration(float64(left) / s.BytesPerSec * float64(time.Second))
	}
	return s
}

// Fraction is Done/Total in [0, 1]; 0 when Total is unknown.
func (s Stats) Fraction() float64 {
	if s.Total <= 0 {
		return 0
	}
	return min(max(float64(s.Done)/float64(s.Total), 0), 1)
}

// MBPerSec is the rate in megabytes (10^6 bytes) per second.
func (s Stats) MBPerSec() float64 { return s.BytesPerSec / 1e6 }

// String is a one-line summary: "1.20 GB / 6.94 GB  412 MB/s  ETA 0:14".
func (s Stats) String() string {
	out := FormatBytes(s.Done)
	if s.Total > 0 {
		out += " / " + FormatBytes(s.Total)
	}
	if s.BytesPerSec > 0 {
		out += fmt.Sprintf("  %.0f MB/s", s.MBPerSec())
	}
	if s.ETA >= 0 {
		out += "  ETA " + FormatDuration(s.ETA)
	}
	return out
}

// FormatBytes writes n in decimal units as file managers do ("6.94 GB").
func FormatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit && exp < 4; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %cB", float64(n)/float64(div), "kMGTP"[exp])
}

// FormatDuration writes d as m:ss, or h:mm:ss from an hour on.
func FormatDuration(d time.Duration) string {
	secs := int64(d.Round(time.Second) / time.Second)
	if secs < 0 {
		secs = 0
	}
	h, m, sec := secs/3600, secs/60%60, secs%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}
