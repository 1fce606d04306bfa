package streamwriter

import (
	"fmt"
	"syscall/js"

	"github.com/ckptpack/ckptpack/internal/jsio"
)

// PatchAt overwrites bytes already written through the still-open sync
// access handle (handle.write(p, {at: off})), before Finish flushes and
// closes it.
func (s *SyncHandleSink) PatchAt(off int64, p []byte) error {
	if s.closed {
		return ErrClosed
	}
	if off < 0 || off+int64(len(p)) > s.at {
		return fmt.Errorf("%s: patch of %d bytes at %d lies outside the %d bytes written", s.name, len(p), off, s.at)
	}
	v, err := jsio.Call(s.io, "syncWrite", s.handle, jsio.Addr(p), len(p), off)
	if err != nil {
		return fmt.Errorf("%s: rewriting %d bytes at %d: %w", s.name, len(p), off, err)
	}
	if int(v.Float()) != len(p) {
		return &StorageFullError{Name: s.name, At: off, Wanted: int64(len(p)), Written: s.at}
	}
	return nil
}

// PatchAt overwrites bytes already written with a positioned write
// (writable.write({type: 'write', position: off, data})). The browser keeps
// the stream's data in a swap file until close, so the patch lands before
// the file is committed.
func (s *WritableSink) PatchAt(off int64, p []byte) error {
	if s.closed {
		return ErrClosed
	}
	if off < 0 || off+int64(len(p)) > s.at {
		return fmt.Errorf("%s: patch of %d bytes at %d lies outside the %d bytes written", s.name, len(p), off, s.at)
	}
	// The patch must land on written bytes, and a positioned write moves
	// the stream's cursor: write what is queued first.
	if err := s.flush(); err != nil {
		return err
	}
	data, err := jsio.Call(s.io, "copyOut", jsio.Addr(p), len(p))
	if err != nil {
		return err
	}
	params := js.Global().Get("Object").New()
	params.Set("type", "write")
	params.Set("position", off)
	params.Set("data", data)
	if _, err := jsio.AwaitCall(s.writable, "write", params); err != nil {
		return fmt.Errorf("%s: rewriting %d bytes at %d: %w", s.name, len(p), off, err)
	}
	return nil
}
