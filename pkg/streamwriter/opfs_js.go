//go:build js && wasm

package streamwriter

import (
	"errors"
	"fmt"
	"io"
	"syscall/js"

	"github.com/ckptpack/ckptpack/internal/jsio"
)

// partSuffix marks an OPFS file still being written. The finished file only
// appears under its real name (a rename on Finish), so a tab that crashes
// mid-write leaves a ".part" file, never a truncated checkpoint that looks
// complete.
const partSuffix = ".part"

// PartSuffix is exported for listings that hide or clean unfinished files.
const PartSuffix = partSuffix

// StorageFullError is a write the browser accepted only partly: the disk or
// the origin's storage quota is full. FileSystemSyncAccessHandle.write does
// not throw there; it returns a short count (Chromium returns 2^32-8,
// File::FILE_ERROR_NO_SPACE read as unsigned, in an off-the-record profile
// whose OPFS lives in RAM).
type StorageFullError struct {
	Name    string // output file
	At      int64  // offset of the failed write
	Wanted  int64  // bytes the write should have taken
	Written int64  // bytes in the file before the failed write
}

func (e *StorageFullError) Error() string {
	return fmt.Sprintf("%s: the browser stopped accepting data after %d bytes (storage full or over quota)", e.Name, e.Written)
}

// StorageFull lets callers that cannot import this js-only type recognise it.
func (e *StorageFullError) StorageFull() bool { return true }

// SyncHandleSink writes through a FileSystemSyncAccessHandle (OPFS only,
// dedicated workers only). Each Write is one synchronous handle.write of the
// caller's buffer straight from the WebAssembly memory.
type SyncHandleSink struct {
	name   string
	handle js.Value // FileSystemSyncAccessHandle
	io     js.Value
	at     int64
	closed bool

	// finish and abort run after the handle is flushed/closed.
	finish func() error
	abort  func() error
}

func newSyncHandleSink(fileHandle js.Value, name string) (*SyncHandleSink, error) {
	io, err := jsio.Helpers()
	if err != nil {
		return nil, err
	}
	h, err := jsio.AwaitCall(fileHandle, "createSyncAccessHandle")
	if err != nil {
		return nil, fmt.Errorf("%s: opening for writing: %w", name, err)
	}
	s := &SyncHandleSink{name: name, handle: h, io: io}
	// Start from an empty file: a handle for an existing file keeps its bytes.
	if _, err := jsio.Call(h, "truncate", 0); err != nil {
		s.closeHandle()
		return nil, fmt.Errorf("%s: truncating: %w", name, err)
	}
	return s, nil
}

// Write implements Sink.
func (s *SyncHandleSink) Write(p []byte) (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	v, err := jsio.Call(s.io, "syncWrite", s.handle, jsio.Addr(p), len(p), s.at)
	if err != nil {
		if je, ok := err.(*jsio.Error); ok && je.Name == "QuotaExceededError" {
			return 0, &StorageFullError{Name: s.name, At: s.at, Wanted: int64(len(p)), Written: s.at}
		}
		return 0, fmt.Errorf("%s: writing at byte %d: %w", s.name, s.at, err)
	}
	n := int64(v.Float())
	if n != int64(len(p)) {
		return 0, &StorageFullError{Name: s.name, At: s.at, Wanted: int64(len(p)), Written: s.at}
	}
	s.at += n
	return len(p), nil
}

// Written is the number of bytes written so far.
func (s *SyncHandleSink) Written() int64 { return s.at }

// CopyRange implements RangeCopier for inputs that are browser Files read
// with BYOB streams: JS reads the range and writes every piece straight to
// the sync access handle, so the bytes never pass through wasm memory (one
// memcpy per byte less than Write, and no per-chunk js.Value). Other sources
// are refused with errors.ErrUnsupported and take the buffered path.
func (s *SyncHandleSink) CopyRange(src io.ReaderAt, off, n int64) (int64, error) {
	return s.copyFromFile(src, off, n, "copyToHandle")
}

// CopyGather implements GatherCopier for the same sources as CopyRange: JS
// reads src[off, off+n) with one arrayBuffer() and writes the pieces from
// it in order. A browser File costs about one IPC round trip per read, so
// CLIP-G's fused q, k and v cost one instead of three.
func (s *SyncHandleSink) CopyGather(src io.ReaderAt, off, n int64, pieces []Range) (int64, error) {
	// Offsets into the stretch, as plain numbers: [at0, n0, at1, n1, …].
	flat := make([]any, 0, 2*len(pieces))
	for _, p := range pieces {
		flat = append(flat, p.Off-off, p.N)
	}
	return s.copyFromFile(src, off, n, "gatherToHandle", flat)
}

// copyFromFile has the JS helper method (ckptpackIO.copyToHandle or
// gatherToHandle) copy n bytes of the File src from off to the handle at
// s.at, and turns its {copied, eof, full} reply into RangeCopier's result.
func (s *SyncHandleSink) copyFromFile(src io.ReaderAt, off, n int64, method string, extra ...any) (int64, error) {
	f, ok := src.(*jsio.File)
	if !ok || f.Mode != jsio.ReadBYOB {
		return 0, fmt.Errorf("%s: copy from %T: %w", s.name, src, errors.ErrUnsupported)
	}
	if s.closed {
		return 0, ErrClosed
	}
	if f.Ctx != nil {
		if err := f.Ctx.Err(); err != nil {
			return 0, err
		}
	}
	res, err := jsio.AwaitCall(s.io, method, append([]any{f.Value, off, off + n, s.handle, s.at}, extra...)...)
	if err != nil {
		if je, ok := err.(*jsio.Error); ok && je.Name == "QuotaExceededError" {
			return 0, &StorageFullError{Name: s.name, At: s.at, Wanted: n, Written: s.at}
		}
		// handle.write failures other than a short count are rare; a
		// rejected read names the input.
		return 0, &SourceError{Err: &jsio.ReadError{File: f.Name, Offset: off, Err: err}}
	}
	copied := int64(res.Get("copied").Float())
	s.at += copied
	switch {
	case res.Get("full").Truthy():
		return copied, &StorageFullError{Name: s.name, At: s.at, Wanted: n - copied, Written: s.at}
	case res.Get("eof").Truthy() || copied != n:
		return copied, &SourceError{Err: io.ErrUnexpectedEOF}
	}
	return copied, nil
}

func (s *SyncHandleSink) closeHandle() error {
	_, err := jsio.Call(s.handle, "close")
	return err
}

// Finish flushes (an fdatasync) and closes the handle, then makes the file
// visible under its final name.
func (s *SyncHandleSink) Finish() error {
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	if _, err := jsio.Call(s.handle, "flush"); err != nil {
		s.closeHandle()
		return fmt.Errorf("%s: flushing: %w", s.name, err)
	}
	if err := s.closeHandle(); err != nil {
		return fmt.Errorf("%s: closing: %w", s.name, err)
	}
	if s.finish != nil {
		return s.finish()
	}
	return nil
}

// Abort closes the handle and removes the file. Calling it after Finish (or
// twice) removes whatever is left.
func (s *SyncHandleSink) Abort() error {
	var errs []error
	if !s.closed {
		s.closed = true
		if err := s.closeHandle(); err != nil {
			errs = append(errs, fmt.Errorf("%s: closing: %w", s.name, err))
		}
	}
	if s.abort != nil {
		if err := s.abort(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// OPFSSink writes a new file into an OPFS directory. The data goes to
// "<name>.part" and is renamed to name on Finish; Abort removes the part
// file.
type OPFSSink struct {
	*SyncHandleSink
	dir  js.Value
	Name string
}

// CreateOPFS creates name (as name+".part" until Finish) in dir, a
// FileSystemDirectoryHandle of the origin private file system. It fails if
// name already exists, so a finished checkpoint is never overwritten.
func CreateOPFS(dir js.Value, name string) (*OPFSSink, error) {
	if _, err := jsio.AwaitCall(dir, "getFileHandle", name); err == nil {
		return nil, fmt.Errorf("%s: already in browser storage (delete it under Saved files first)", name)
	}
	part := name + partSuffix
	fh, err := jsio.AwaitCall(dir, "getFileHandle", part, map[string]any{"create": true})
	if err != nil {
		return nil, fmt.Errorf("%s: creating: %w", part, err)
	}
	shs, err := newSyncHandleSink(fh, name)
	if err != nil {
		removeEntry(dir, part)
		return nil, err
	}
	s := &OPFSSink{SyncHandleSink: shs, dir: dir, Name: name}
	shs.finish = func() error {
		// FileSystemHandle.move(newName) renames within the directory
		// (Chromium, OPFS). On failure the part file is removed.
		if _, err := jsio.AwaitCall(fh, "move", name); err != nil {
			removeEntry(dir, part)
			return fmt.Errorf("%s: renaming finished file: %w", name, err)
		}
		s.dir = js.Undefined()
		return nil
	}
	shs.abort = func() error {
		if s.dir.IsUndefined() {
			return removeEntry(dir, name) // aborted after a successful Finish
		}
		return removeEntry(dir, part)
	}
	return s, nil
}

// AfterAbort adds fn to what Abort does, after the file is removed (the
// worker takes away the folders it created for this file).
func (s *OPFSSink) AfterAbort(fn func()) {
	abort := s.abort
	s.abort = func() error {
		err := abort()
		fn()
		return err
	}
}

func removeEntry(dir js.Value, name string) error {
	_, err := jsio.AwaitCall(dir, "removeEntry", name)
	if je, ok := err.(*jsio.Error); ok && je.Name == "NotFoundError" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: removing: %w", name, err)
	}
	return nil
}

// OpenFileHandleSink writes into a FileSystemFileHandle the page obtained
// (showSaveFilePicker, or an OPFS handle). An OPFS handle is written through
// a sync access handle; any other handle through createWritable, whose data
// only replaces the file's content on Finish (Chromium writes a swap file and
// moves it into place on close), so Abort leaves the previous content.
//
// forceWritable skips the sync access handle even for an OPFS handle.
func OpenFileHandleSink(fileHandle js.Value, forceWritable bool) (Sink, error) {
	name := "output"
	if n := fileHandle.Get("name"); n.Type() == js.TypeString {
		name = n.String()
	}
	if !forceWritable && fileHandle.Get("createSyncAccessHandle").Type() == js.TypeFunction {
		s, err := newSyncHandleSink(fileHandle, name)
		if err == nil {
			s.abort = func() error {
				// Leave no partial file behind; remove() exists for OPFS
				// handles in Chromium. Failing that, leave it empty.
				if fileHandle.Get("remove").Type() == js.TypeFunction {
					if _, err := jsio.AwaitCall(fileHandle, "remove"); err == nil {
						return nil
					}
				}
				return nil
			}
			return s, nil
		}
		// Not an OPFS file (createSyncAccessHandle rejects with
		// InvalidStateError or similar): fall through to createWritable.
	}
	return openWritableSink(fileHandle, name)
}

// WritableSink writes through a FileSystemWritableFileStream. Its output is
// queued in JS and written in batches of up to writableBatch bytes, one
// Blob per batch (see ckptpackIO.writableFlush): each write() is a round trip
// to the browser process. A flush blocks the calling goroutine until the
// browser took the batch, which also lets the worker's event loop run.
type WritableSink struct {
	name     string
	handle   js.Value // FileSystemFileHandle
	writable js.Value
	io       js.Value
	at       int64 // bytes queued or written; at - queuedAll are written
	closed   bool

	// The parts queued since the last flush, to name the input of one that
	// cannot be read; a part of Go's own bytes has no file.
	queued    []queuedPart
	queuedOwn int64 // bytes of Go's own data queued (copies in the JS heap)
	queuedAll int64
}

type queuedPart struct {
	file string
	off  int64
}

// Batch limits of WritableSink. 256 MiB keeps the progress bar within
// about a second of the disk; the copies of Go's bytes held in the JS heap
// stay under writableOwnBatch.
const (
	writableBatch    = 256 << 20
	writableOwnBatch = 16 << 20
	writableMaxParts = 1024
)

func openWritableSink(fileHandle js.Value, name string) (*WritableSink, error) {
	io, err := jsio.Helpers()
	if err != nil {
		return nil, err
	}
	if fileHandle.Get("createWritable").Type() != js.TypeFunction {
		return nil, fmt.Errorf("%s: this browser cannot write to a chosen file from a worker (no createWritable)", name)
	}
	w, err := jsio.AwaitCall(fileHandle, "createWritable", map[string]any{"keepExistingData": false})
	if err != nil {
		return nil, fmt.Errorf("%s: opening for writing: %w", name, err)
	}
	return &WritableSink{name: name, handle: fileHandle, writable: w, io: io}, nil
}

// Write implements Sink.
func (s *WritableSink) Write(p []byte) (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if _, err := jsio.Call(s.io, "writableQueueBytes", s.writable, jsio.Addr(p), len(p)); err != nil {
		return 0, fmt.Errorf("%s: writing at byte %d: %w", s.name, s.at, err)
	}
	s.queued = append(s.queued, queuedPart{})
	s.queuedOwn += int64(len(p))
	s.queuedAll += int64(len(p))
	s.at += int64(len(p))
	if err := s.flushIfFull(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CopyRange implements RangeCopier for inputs that are browser Files: the
// range is queued as a Blob slice, which the browser copies into the file
// itself (no byte crosses into wasm memory or the worker's JS heap). Other
// sources are refused with errors.ErrUnsupported and take the buffered
// path. A slice that cannot be read fails the flush that writes it, which
// may come with a later call: that error names the slice's own input.
func (s *WritableSink) CopyRange(src io.ReaderAt, off, n int64) (int64, error) {
	f, ok := src.(*jsio.File)
	if !ok {
		return 0, fmt.Errorf("%s: copy from %T: %w", s.name, src, errors.ErrUnsupported)
	}
	if s.closed {
		return 0, ErrClosed
	}
	if f.Ctx != nil {
		if err := f.Ctx.Err(); err != nil {
			return 0, err
		}
	}
	if _, err := jsio.Call(s.io, "writableQueueSlice", s.writable, f.Value, off, off+n); err != nil {
		return 0, fmt.Errorf("%s: writing at byte %d: %w", s.name, s.at, err)
	}
	s.queued = append(s.queued, queuedPart{file: f.Name, off: off})
	s.queuedAll += n
	s.at += n
	if err := s.flushIfFull(); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *WritableSink) flushIfFull() error {
	if s.queuedAll < writableBatch && s.queuedOwn < writableOwnBatch && len(s.queued) < writableMaxParts {
		return nil
	}
	return s.flush()
}

// flush writes the queued parts as one Blob.
func (s *WritableSink) flush() error {
	if len(s.queued) == 0 {
		return nil
	}
	parts, written := s.queued, s.at-s.queuedAll
	s.queued, s.queuedOwn, s.queuedAll = nil, 0, 0
	res, err := jsio.AwaitCall(s.io, "writableFlush", s.writable)
	if err != nil {
		if je, ok := err.(*jsio.Error); ok && je.Name == "QuotaExceededError" {
			return &StorageFullError{Name: s.name, At: written, Wanted: s.at - written, Written: written}
		}
		return fmt.Errorf("%s: writing at byte %d: %w", s.name, written, err)
	}
	if i := res.Get("failed").Int(); i >= 0 && i < len(parts) {
		// Reading that slice failed: its input changed or went away.
		readErr := &jsio.Error{Name: res.Get("name").String(), Message: res.Get("message").String()}
		return &jsio.ReadError{File: parts[i].file, Offset: parts[i].off, Err: readErr}
	}
	return nil
}

// Finish writes what is queued and closes the stream, which commits the
// file.
func (s *WritableSink) Finish() error {
	if s.closed {
		return ErrClosed
	}
	if err := s.flush(); err != nil {
		return err // the caller aborts
	}
	s.closed = true
	if _, err := jsio.AwaitCall(s.writable, "close"); err != nil {
		return fmt.Errorf("%s: closing: %w", s.name, err)
	}
	return nil
}

// Abort discards everything written; the chosen file keeps its old content.
// A file that is empty afterwards was created for this save (the save
// picker creates it empty) and is removed where the browser allows it
// (FileSystemHandle.remove, Chromium).
func (s *WritableSink) Abort() error {
	if s.closed {
		return nil
	}
	s.closed = true
	jsio.Call(s.io, "writableDrop", s.writable)
	s.queued = nil
	if _, err := jsio.AwaitCall(s.writable, "abort"); err != nil {
		return fmt.Errorf("%s: discarding partial output: %w", s.name, err)
	}
	if s.handle.Get("remove").Type() == js.TypeFunction {
		if f, err := jsio.AwaitCall(s.handle, "getFile"); err == nil && f.Get("size").Float() == 0 {
			jsio.AwaitCall(s.handle, "remove")
		}
	}
	return nil
}
