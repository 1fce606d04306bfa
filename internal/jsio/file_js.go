//go:build js && wasm

package jsio

import (
	"context"
	"fmt"
	"io"
	"syscall/js"
)

// ReadMode selects how File bytes reach Go.
type ReadMode int

const (
	// ReadSync reads with FileReaderSync.readAsArrayBuffer(file.slice(a, b)):
	// synchronous, simplest, but every read allocates a fresh ArrayBuffer that
	// V8 frees late, so renderer memory rises with the copy and falls at GC.
	ReadSync ReadMode = iota
	// ReadBYOB reads file.slice(a, b).stream() with a BYOB reader into one
	// staging buffer reused across reads (renderer memory stays flat). Each
	// read is awaited, which also yields to the event loop. Where Blob
	// streams have no BYOB reader (WebKit), web/worker-io.js's readStreamed
	// falls back to one FileReaderSync read per call, still awaited.
	ReadBYOB
)

// maxReadBytes bounds one JS read so a big ReadAt never asks the browser for
// one huge ArrayBuffer.
const maxReadBytes = 64 << 20

// File is an io.ReaderAt over a JS File (or Blob) that reads only the ranges
// asked for, straight into the caller's buffer. Reads may run in parallel,
// also with other Files over the same JS File.
type File struct {
	// Value is the Blob this reader reads: a whole-file slice() of the File
	// it was made from (lazy, nothing is copied). web/worker-io.js keeps its
	// open BYOB stream per Blob object, so each File gets a stream of its
	// own: two requests reading one File at once (two plans, a plan during a
	// save, one checkpoint in several slots) never read from, reposition or
	// close each other's stream.
	Value js.Value
	Name  string
	Size  int64
	Mode  ReadMode
	// Ctx, when set, is checked before every read so a cancelled job stops
	// reading even if its caller does not check.
	Ctx context.Context
}

// NewFile wraps a JS File or Blob. name is used in errors when the value has
// no name of its own (a Blob).
func NewFile(v js.Value, name string) (*File, error) {
	if v.Type() != js.TypeObject || v.Get("slice").Type() != js.TypeFunction || v.Get("size").Type() != js.TypeNumber {
		return nil, fmt.Errorf("%s: not a File or Blob", name)
	}
	if n := v.Get("name"); n.Type() == js.TypeString && n.String() != "" {
		name = n.String()
	}
	own, err := Call(v, "slice")
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read it: %w", name, err)
	}
	if own.Type() != js.TypeObject {
		return nil, fmt.Errorf("%s: not a File or Blob (slice() returned no Blob)", name)
	}
	return &File{Value: own, Name: name, Size: int64(v.Get("size").Float())}, nil
}

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative read offset %d", f.Name, off)
	}
	if off >= f.Size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	h, err := Helpers()
	if err != nil {
		return 0, err
	}
	want := int64(len(p))
	short := false
	if rest := f.Size - off; want > rest {
		want, short = rest, true
	}
	var done int64
	for done < want {
		if f.Ctx != nil {
			if err := f.Ctx.Err(); err != nil {
				return int(done), err
			}
		}
		n := min(want-done, maxReadBytes)
		start := off + done
		dst := p[done : done+n]
		// Offsets cross as JS numbers (float64): exact up to 2^53 bytes.
		var got js.Value
		if f.Mode == ReadBYOB {
			got, err = AwaitCall(h, "readStreamed", f.Value, start, start+n, Addr(dst))
		} else {
			got, err = Call(h, "readSync", f.Value, start, start+n, Addr(dst))
		}
		if err != nil {
			return int(done), &ReadError{File: f.Name, Offset: start, Err: err}
		}
		if got.Type() != js.TypeNumber || int64(got.Float()) != n {
			// The File shrank or changed after it was chosen.
			return int(done), &ReadError{File: f.Name, Offset: start, Err: io.ErrUnexpectedEOF}
		}
		done += n
	}
	if short {
		return int(done), io.EOF
	}
	return int(done), nil
}

// ReadError is a failed read of an input file. The browser reports a file
// that was modified, moved or deleted after it was picked as
// NotReadableError.
type ReadError struct {
	File   string
	Offset int64
	Err    error
}

func (e *ReadError) Error() string {
	hint := ""
	if je, ok := e.Err.(*Error); ok && je.Name == "NotReadableError" {
		hint = " (was the file changed, moved or deleted after it was chosen? choose it again)"
	}
	return fmt.Sprintf("%s: reading at byte %d: %v%s", e.File, e.Offset, e.Err, hint)
}

func (e *ReadError) Unwrap() error { return e.Err }

// InputFile reports the file name for error messages sent to the page.
func (e *ReadError) InputFile() string { return e.File }

// Close closes the stream a ReadBYOB File keeps open between sequential
// reads (and its staging buffer). Call it when the request that opened the
// File ends; reading again reopens the stream.
func (f *File) Close() {
	if h, err := Helpers(); err == nil {
		Call(h, "releaseReaders", f.Value)
	}
}
