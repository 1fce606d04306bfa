package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// R2 multipart rules: every part but the last has the same size, at least
// 5 MiB, and an upload has at most 10,000 parts.
const (
	minPartSize     = 5 << 20
	maxParts        = 10000
	defaultPartSize = 8 << 20 // ~1,000 parts for 8 GB; larger only when needed
)

// partSizeFor chooses the part size for an object of total bytes: the
// default, or for objects over 10,000 default parts the smallest whole MiB
// that fits them in 10,000 parts.
func partSizeFor(total int64) int {
	size := int64(defaultPartSize)
	if need := (total + maxParts - 1) / maxParts; need > size {
		size = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return int(size)
}

// multipartSink is a streamwriter.Sink writing one R2 object through a
// multipart upload. It fills the upload's pending part and uploads each full
// one; Finish uploads the rest and completes the upload, Abort (or any
// failure) aborts it so no object and no in-progress upload remains. The
// upload hashes the parts (see multipartUpload.SHA256).
//
// As a streamwriter.RangeCopier it takes the engine's copy steps from R2
// objects (objectReader) itself and, where the upload can (objectStager),
// moves those bytes from R2 into the part without passing them through Go.
type multipartSink struct {
	store    objectStore
	key      string
	upload   multipartUpload
	partSize int
	fill     int // bytes staged in the pending part
	next     int // next part number
	bytes    int64
	state    sinkState
	failed   error // the failure that ended the sink

	// partsOnly: the sink writes some parts of a job's upload (newPartSink);
	// onPart hears of each part uploaded.
	partsOnly bool
	onPart    func(n, size int) error

	// first holds part 1 in Go until Finish when the header is to be
	// patched (holdFirstPart): parts may be uploaded in any order, so
	// the part with the header goes last, after PatchAt. nil otherwise.
	first []byte
}

type sinkState int

const (
	sinkOpen sinkState = iota
	sinkFinished
	sinkAborted
)

var (
	_ streamwriter.Sink         = (*multipartSink)(nil)
	_ streamwriter.GatherCopier = (*multipartSink)(nil)
)

var errSinkClosed = errors.New("sink already finished or aborted")

// errKeyTaken: the output key appeared while the upload ran (another
// request chose the same counter). Completing would replace that object.
var errKeyTaken = errors.New("an object with this key was written meanwhile (a concurrent request with the same filename_prefix?); nothing was written")

// stageReadAhead is the least a staged copy fetches from an object: the
// tensors that follow a small one are usually next in the same file, so one
// get serves many of them (the upload keeps the fetched tail in JS).
const stageReadAhead = 8 << 20

// maxStageFetch bounds one staged fetch of a long range.
const maxStageFetch = 2 * stageReadAhead

// newMultipartSink starts a multipart upload to key with parts of partSize.
func newMultipartSink(store objectStore, key string, partSize int) (*multipartSink, error) {
	if partSize < minPartSize {
		return nil, fmt.Errorf("part size %d below R2's minimum %d", partSize, minPartSize)
	}
	u, err := store.CreateMultipartUpload(key, partSize, "")
	if err != nil {
		return nil, err
	}
	return &multipartSink{store: store, key: key, upload: u, partSize: partSize, next: 1}, nil
}

// newPartSink writes parts first, first+1 … of upload (an assembly job's,
// resumed) and nothing else: Finish uploads the pending part, however
// short, and does not complete the upload; Abort leaves the upload alone
// (the job retries the parts, and re-uploading a part replaces it).
// onPart is called after each part is uploaded.
func newPartSink(key string, upload multipartUpload, partSize, first int, onPart func(n, size int) error) *multipartSink {
	return &multipartSink{key: key, upload: upload, partSize: partSize, next: first, partsOnly: true, onPart: onPart}
}

func (s *multipartSink) usable() error {
	if s.state != sinkOpen {
		return errSinkClosed
	}
	return s.failed
}

func (s *multipartSink) Write(p []byte) (int, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	n := 0
	if s.first != nil && s.next == 1 {
		n = min(len(p), s.partSize-len(s.first))
		s.first = append(s.first, p[:n]...)
		if len(s.first) == s.partSize {
			s.next = 2 // part 1 is complete but held back
		}
	}
	for n < len(p) {
		c := min(len(p)-n, s.partSize-s.fill)
		s.upload.Stage(s.fill, p[n:n+c])
		s.fill += c
		n += c
		if err := s.flushIfFull(); err != nil {
			return n - c, err
		}
	}
	return n, nil
}

// CopyRange implements streamwriter.RangeCopier for copies out of R2
// objects when the upload can stage them; anything else is left to the
// engine's buffered path (errors.ErrUnsupported, nothing appended).
func (s *multipartSink) CopyRange(src io.ReaderAt, off, n int64) (int64, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	obj, ok := src.(*objectReader)
	stager, canStage := s.upload.(objectStager)
	if !ok || !canStage || (s.first != nil && s.next == 1) {
		return 0, errors.ErrUnsupported
	}
	if off < 0 || off+n > obj.size {
		return 0, &streamwriter.SourceError{Err: io.ErrUnexpectedEOF}
	}
	var done int64
	for done < n {
		c := int(min(n-done, int64(s.partSize-s.fill)))
		// Fetch the rest of the range (or the read-ahead window for a short
		// one), but at most maxStageFetch at a time: the engine hands over
		// ranges of up to 64 MiB at once, and fetched bytes are held in the
		// isolate's memory (128 MB in all).
		want := max(int64(c), min(max(n-done, stageReadAhead), maxStageFetch, obj.size-(off+done)))
		if _, err := stager.StageObject(s.fill, obj.key, off+done, c, int(want)); err != nil {
			s.failed = err
			return done, &streamwriter.SourceError{Err: err}
		}
		s.fill += c
		done += int64(c)
		if err := s.flushIfFull(); err != nil {
			return done - int64(c), err
		}
	}
	return done, nil
}

// CopyGather implements streamwriter.GatherCopier: one get of the whole
// stretch (at most maxStageFetch), then each piece staged from the fetched
// bytes. CLIP-G stores each layer's k, out, q, v projections back to back
// and the output wants q, k, v, then out; copied one by one, the read-ahead
// from q misses k behind it, and each layer costs several gets.
func (s *multipartSink) CopyGather(src io.ReaderAt, off, n int64, pieces []streamwriter.Range) (int64, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	obj, ok := src.(*objectReader)
	stager, canStage := s.upload.(objectStager)
	if !ok || !canStage || (s.first != nil && s.next == 1) || n > maxStageFetch {
		return 0, errors.ErrUnsupported
	}
	if off < 0 || off+n > obj.size {
		return 0, &streamwriter.SourceError{Err: io.ErrUnexpectedEOF}
	}
	// Staging nothing from the stretch's start fetches the stretch; the
	// pieces' copies below then find it fetched.
	if _, err := stager.StageObject(s.fill, obj.key, off, 0, int(n)); err != nil {
		s.failed = err
		return 0, &streamwriter.SourceError{Err: err}
	}
	var done int64
	for _, p := range pieces {
		c, err := s.CopyRange(src, p.Off, p.N)
		done += c
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// flushIfFull uploads the pending part once it is full.
func (s *multipartSink) flushIfFull() error {
	if s.fill < s.partSize {
		return nil
	}
	if err := s.flush(); err != nil {
		s.failed = err
		return err
	}
	return nil
}

// flush uploads the staged bytes as the next part.
func (s *multipartSink) flush() error {
	if s.next > maxParts {
		return fmt.Errorf("%s: more than %d parts of %d bytes", s.key, maxParts, s.partSize)
	}
	if err := s.upload.UploadPart(s.next, s.fill); err != nil {
		return err
	}
	if s.onPart != nil {
		if err := s.onPart(s.next, s.fill); err != nil {
			return err
		}
	}
	s.bytes += int64(s.fill)
	s.next++
	s.fill = 0
	return nil
}

// Finish uploads the last part and completes the upload. On failure it
// aborts, so the caller never has to.
func (s *multipartSink) Finish() error {
	if err := s.usable(); err != nil {
		return err
	}
	if s.partsOnly {
		if s.fill > 0 {
			if err := s.flush(); err != nil {
				s.failed = err
				return err
			}
		}
		s.state = sinkFinished
		return nil
	}
	if s.first != nil {
		if err := s.uploadHeldPart(); err != nil {
			s.failed = err
			return errors.Join(err, s.Abort())
		}
	} else if s.fill > 0 || s.next == 1 {
		// An upload needs at least one part; only the last may be short.
		if err := s.flush(); err != nil {
			s.failed = err
			return errors.Join(err, s.Abort())
		}
	}
	// R2 multipart uploads take no precondition, so check right before
	// completing: this narrows the race between two requests that chose
	// the same counter from minutes (the whole upload) to one round trip.
	if _, err := s.store.Head(s.key); !errors.Is(err, errObjectNotFound) {
		if err == nil {
			err = fmt.Errorf("%s: %w", s.key, errKeyTaken)
		}
		s.failed = err
		return errors.Join(err, s.Abort())
	}
	if err := s.upload.Complete(); err != nil {
		s.failed = err
		return errors.Join(err, s.Abort())
	}
	s.state = sinkFinished
	return nil
}

// Abort discards the upload. It is allowed after a failed Finish and is a
// no-op after a previous Abort.
func (s *multipartSink) Abort() error {
	switch s.state {
	case sinkAborted:
		return nil
	case sinkFinished:
		return errSinkClosed
	}
	s.state = sinkAborted
	if s.partsOnly {
		return nil
	}
	return s.upload.Abort()
}

// holdFirstPart makes the sink keep part 1 (the header and the data after
// it, up to a part) in Go until Finish, so that PatchAt can rewrite the
// header. It costs one part of memory and must be called before any write.
// The upload's SHA-256 is then not available (parts go out of order).
func (s *multipartSink) holdFirstPart() {
	s.first = make([]byte, 0, s.partSize)
}

// PatchAt implements streamwriter.HeaderPatcher for a sink holding its
// first part: the bytes must lie in it.
func (s *multipartSink) PatchAt(off int64, p []byte) error {
	if err := s.usable(); err != nil {
		return err
	}
	if s.first == nil || off < 0 || off+int64(len(p)) > int64(len(s.first)) {
		return fmt.Errorf("%s: cannot rewrite bytes %d+%d: only the held first part (%d bytes) can be patched", s.key, off, len(p), len(s.first))
	}
	copy(s.first[off:], p)
	return nil
}

// uploadHeldPart finishes a sink holding part 1: the last part (the pending
// one) is uploaded first, then part 1 from the held bytes.
func (s *multipartSink) uploadHeldPart() error {
	if s.next > 1 && s.fill > 0 {
		if err := s.flush(); err != nil {
			return err
		}
	}
	s.upload.Stage(0, s.first)
	if err := s.upload.UploadPart(1, len(s.first)); err != nil {
		return err
	}
	s.bytes += int64(len(s.first))
	return nil
}

// Bytes is the number of bytes uploaded.
func (s *multipartSink) Bytes() int64 { return s.bytes }

// SHA256 is the digest of the object written; call it after Finish.
func (s *multipartSink) SHA256() ([]byte, error) {
	if s.first != nil {
		return nil, errors.New("no digest: part 1 was uploaded last (a patched header)")
	}
	if s.state != sinkFinished {
		return nil, errors.New("no digest: the upload did not finish")
	}
	return s.upload.SHA256()
}
