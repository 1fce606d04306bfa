package streamwriter

import "fmt"

// HeaderPatcher is a sink that can overwrite bytes it has already written,
// before Finish. The engine uses it for modelspec.hash_sha256: the header
// is written first with a fixed-width placeholder, the data is streamed
// and hashed, and the placeholder is then replaced by the digest, so the
// header's length (and every offset after it) never changes.
//
// PatchAt replaces len(p) bytes at off; off+len(p) must not pass what was
// written. How each sink does it:
//   - FileSink: pwrite into the temporary file, before the fsync and the
//     link to the final name;
//   - MemorySink: a copy into its buffer;
//   - SyncHandleSink (OPFS, browser): handle.write(p, {at: off}) on the
//     still-open sync access handle, before flush and close;
//   - WritableSink (File System Access): writable.write({type: 'write',
//     position: off, data: p}) before close, which is when the browser
//     swaps the new content in;
//   - the R2 multipart sink (cmd/edge): the part holding the header is kept
//     and uploaded last, after the patch (parts may be uploaded in any
//     order).
//
// A sink without it (HashingSink, the browser's Blob-of-slices hand-off)
// cannot carry the hash in the header; the engine refuses such a plan
// before writing anything, and hosts report the hash instead.
type HeaderPatcher interface {
	PatchAt(off int64, p []byte) error
}

// PatchAt overwrites bytes of the temporary file with pwrite.
func (s *FileSink) PatchAt(off int64, p []byte) error {
	if s.closed {
		return ErrClosed
	}
	if off < 0 || off+int64(len(p)) > s.at {
		return fmt.Errorf("%s: patch of %d bytes at %d lies outside the %d bytes written", s.target, len(p), off, s.at)
	}
	if _, err := s.f.WriteAt(p, off); err != nil {
		return s.wrap(err)
	}
	return nil
}

// PatchAt overwrites bytes of the buffer.
func (m *MemorySink) PatchAt(off int64, p []byte) error {
	if m.closed {
		return ErrClosed
	}
	if off < 0 || off+int64(len(p)) > int64(len(m.buf)) {
		return fmt.Errorf("streamwriter: patch of %d bytes at %d lies outside the %d bytes written", len(p), off, len(m.buf))
	}
	copy(m.buf[off:], p)
	return nil
}
