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

// GatherCopier is an optional extension of RangeCopier: append several
// ranges of one source, in the order given, reading the stretch that holds
// them once. The engine uses it where consecutive output tensors together
// cover a short stretch of one input in another order than the input
// stores them (CLIP-G's q, k and v, fused in that order into in_proj but
// stored k, out, q, v): a source with a fixed cost per read (a browser File)
// then pays it once per stretch instead of once per tensor.
type GatherCopier interface {
	RangeCopier
	// CopyGather appends src's bytes [p.Off, p.Off+p.N) for each p of
	// pieces, in order. The pieces lie within [off, off+n) and cover it
	// exactly, each byte once. It returns the bytes appended and reports
	// errors as CopyRange does (errors.ErrUnsupported with nothing
	// appended: the caller copies the pieces one by one instead).
	CopyGather(src io.ReaderAt, off, n int64, pieces []Range) (int64, error)
}

// Range is n bytes of a source at Off.
type Range struct {
	Off, N int64
}
