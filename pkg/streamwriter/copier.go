package streamwriter

import "io"

// RangeCopier is an optional fast path a Sink may offer: append n bytes of
// src starting at off without passing them through the caller's buffer (a
// file sink can then let the kernel copy file to file with
// copy_file_range). The executor still calls it in bounded pieces.
//
// CopyRange returns the bytes appended. It returns an error wrapping
// errors.ErrUnsupported, having appended nothing, when it cannot take this
// source (not a plain file, a filesystem that cannot copy); the caller then
// falls back to reading and writing. Errors that come from reading src are
// wrapped in *SourceError so the caller can name the input file.
type RangeCopier interface {
	CopyRange(src io.ReaderAt, off, n int64) (int64, error)
}

// SourceError wraps a failure to read the source of a CopyRange. A source
// that ends early is reported as io.ErrUnexpectedEOF.
type SourceError struct {
	Err error
}

func (e *SourceError) Error() string { return "reading source: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }
