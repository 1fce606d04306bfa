package streamwriter

import "os"

// writebackStep is how much freshly appended data waits before the disk
// write of it is started.
const writebackStep = 8 << 20

// writeback starts the disk write of a file's appended bytes while the
// copy goes on. Left alone, the kernel lets dirty pages pile up (to 10 % of
// RAM before background writeback starts, 30 s before they expire), so the
// disk idles while the copy runs at memory speed and the final fsync then
// writes nearly everything: the copy and the write happen one after the
// other. Started early, they overlap and the fsync finds little left.
//
// The hint (Linux's sync_file_range) blocks while the disk queue is full,
// tens of ms per 64 MiB here, so it runs on a goroutine of its own: on the
// copying goroutine it would serialise the two again. When that goroutine
// falls behind, later spans merge into one rather than wait. Nothing here
// makes data durable; the fsync in Finish still does that.
//
// On systems without such a hint (startWriteback is nil) it does nothing.
type writeback struct {
	started int64 // the write of every byte before this has been asked for
	spans   chan [2]int64
	done    chan struct{}
}

// appended notes that the file now holds end bytes.
func (w *writeback) appended(f *os.File, end int64) {
	if startWriteback == nil || end-w.started < writebackStep {
		return
	}
	if w.spans == nil {
		w.spans, w.done = make(chan [2]int64, 16), make(chan struct{})
		fd := f.Fd() // taken here, on the goroutine that owns f; valid until stop
		go func() {
			defer close(w.done)
			for s := range w.spans {
				startWriteback(fd, s[0], s[1])
			}
		}()
	}
	select {
	case w.spans <- [2]int64{w.started, end - w.started}:
		w.started = end
	default: // busy: the next span includes this one
	}
}

// stop waits for the writes already asked for to be started. It must be
// called before the file is closed, and is safe to call more than once.
func (w *writeback) stop() {
	if w.spans == nil {
		return
	}
	close(w.spans)
	<-w.done
	w.spans = nil
}
