package main

import (
	"errors"
	"io"
	"sync"
)

// objectReader is an io.ReaderAt over one R2 object, reading with ranged
// gets. It serves the engine's own reads: headers while planning, and the
// tensors that are transposed or copied where the upload cannot stage them
// (multipartSink.CopyRange takes the rest, and recognises objectReader to
// do so). Each get is a subrequest with its own latency and the engine
// reads in small pieces (the 8-byte length, then the header), so reads
// shorter than the read-ahead block fetch a whole block and serve the
// following reads from it. Longer reads go straight into the caller's
// buffer. Memory is one block per object, allocated on first use.
type objectReader struct {
	store objectStore
	key   string
	size  int64

	mu sync.Mutex // io.ReaderAt allows parallel calls; the block is shared

	blockSize int
	block     []byte // block[:blockLen] holds the object's bytes at blockOff
	blockOff  int64
	blockLen  int
}

func newObjectReader(store objectStore, key string, size int64, blockSize int) *objectReader {
	return &objectReader{store: store, key: key, size: size, blockSize: blockSize}
}

var errNegativeOffset = errors.New("negative offset")

// ReadAt implements io.ReaderAt: it fills p unless the object ends first,
// in which case it returns the bytes there are and io.EOF.
func (r *objectReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &storeError{Op: "get", Key: r.key, Err: errNegativeOffset}
	}
	if off >= r.size {
		return 0, io.EOF
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var eof error
	if rest := r.size - off; int64(len(p)) > rest {
		p, eof = p[:rest], io.EOF
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.blockOff && pos < r.blockOff+int64(r.blockLen) {
			n += copy(p[n:], r.block[pos-r.blockOff:r.blockLen])
			continue
		}
		want := len(p) - n
		if want >= r.blockSize {
			if err := r.store.ReadRange(r.key, p[n:], pos); err != nil {
				return n, err
			}
			n = len(p)
			continue
		}
		if r.block == nil {
			r.block = make([]byte, r.blockSize)
		}
		fill := int64(r.blockSize)
		if rest := r.size - pos; rest < fill {
			fill = rest
		}
		r.blockLen = 0 // invalid until the read succeeds
		if err := r.store.ReadRange(r.key, r.block[:fill], pos); err != nil {
			return n, err
		}
		r.blockOff, r.blockLen = pos, int(fill)
	}
	return n, eof
}
