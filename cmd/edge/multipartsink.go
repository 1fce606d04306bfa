package main

import (
	"errors"
	"fmt"

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
// multipart upload. It gathers writes into one part-sized buffer (the only
// memory it holds) and uploads each full part; Finish uploads the rest and
// completes the upload, Abort (or any failure) aborts it so no object and no
// in-progress upload remains. The upload hashes the parts (see
// multipartUpload.SHA256).
type multipartSink struct {
	key    string
	upload multipartUpload
	part   []byte
	fill   int
	next   int // next part number
	bytes  int64
	state  sinkState
	failed error // the write failure that ended the sink
}

type sinkState int

const (
	sinkOpen sinkState = iota
	sinkFinished
	sinkAborted
)

var _ streamwriter.Sink = (*multipartSink)(nil)

var errSinkClosed = errors.New("sink already finished or aborted")

// newMultipartSink starts a multipart upload to key with parts of partSize.
func newMultipartSink(store objectStore, key string, partSize int) (*multipartSink, error) {
	if partSize < minPartSize {
		return nil, fmt.Errorf("part size %d below R2's minimum %d", partSize, minPartSize)
	}
	u, err := store.CreateMultipartUpload(key)
	if err != nil {
		return nil, err
	}
	return &multipartSink{key: key, upload: u, part: make([]byte, partSize), next: 1}, nil
}

func (s *multipartSink) Write(p []byte) (int, error) {
	if s.state != sinkOpen {
		return 0, errSinkClosed
	}
	if s.failed != nil {
		return 0, s.failed
	}
	n := 0
	for n < len(p) {
		c := copy(s.part[s.fill:], p[n:])
		s.fill += c
		n += c
		if s.fill == len(s.part) {
			if err := s.flush(); err != nil {
				s.failed = err
				return n - c, err
			}
		}
	}
	return n, nil
}

// flush uploads the buffered bytes as the next part.
func (s *multipartSink) flush() error {
	if s.next > maxParts {
		return fmt.Errorf("%s: more than %d parts of %d bytes", s.key, maxParts, len(s.part))
	}
	if err := s.upload.UploadPart(s.next, s.part[:s.fill]); err != nil {
		return err
	}
	s.bytes += int64(s.fill)
	s.next++
	s.fill = 0
	return nil
}

// Finish uploads the last part and completes the upload. On failure it
// aborts, so the caller never has to.
func (s *multipartSink) Finish() error {
	if s.state != sinkOpen {
		return errSinkClosed
	}
	if s.failed != nil {
		return s.failed
	}
	// An upload needs at least one part; only the last may be short.
	if s.fill > 0 || s.next == 1 {
		if err := s.flush(); err != nil {
			s.failed = err
			return errors.Join(err, s.Abort())
		}
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
	s.part = nil
	return s.upload.Abort()
}

// Bytes is the number of bytes uploaded.
func (s *multipartSink) Bytes() int64 { return s.bytes }

// SHA256 is the digest of the object written; call it after Finish.
func (s *multipartSink) SHA256() ([]byte, error) {
	if s.state != sinkFinished {
		return nil, errors.New("no digest: the upload did not finish")
	}
	return s.upload.SHA256()
}
