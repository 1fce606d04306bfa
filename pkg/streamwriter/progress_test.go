package streamwriter

import (
	"testing"
	"time"
)

func TestMeter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewMeter(1000e6, t0)
	s := m.Update(0, t0)
	if s.BytesPerSec != 0 || s.ETA != -1 {
		t.Fatalf("no time elapsed: %+v", s)
	}
	s = m.Update(100e6, t0.Add(time.Second))
	if s.MBPerSec() != 100 || s.ETA != 9*time.Second || s.Fraction() != 0.1 {
		t.Fatalf("after 1 s: %+v", s)
	}
	if got := s.String(); got != "100.00 MB / 1.00 GB  100 MB/s  ETA 0:09" {
		t.Errorf("String = %q", got)
	}
	// Slow down to 10 MB/s for 20 s: the 5 s window follows the new rate.
	for i := 1; i <= 20; i++ {
		s = m.Update(100e6+int64(i)*10e6, t0.Add(time.Duration(1+i)*time.Second))
	}
	if r := s.MBPerSec(); r < 9.9 || r > 10.1 {
		t.Errorf("rate after slowing down = %.2f MB/s, want 10", r)
	}
	if len(m.samples) > 8 {
		t.Errorf("meter keeps %d samples for a 5 s window at 1 sample/s", len(m.samples))
	}
	if s.Elapsed != 21*time.Second {
		t.Errorf("Elapsed = %v", s.Elapsed)
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.00 kB", 6_938_000_000: "6.94 GB", 34_000_000_000_000: "34.00 TB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0:00", 61 * time.Second: "1:01", 3725 * time.Second: "1:02:05", -time.Second: "0:00"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
