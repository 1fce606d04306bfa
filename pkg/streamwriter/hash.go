package streamwriter

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

// HashingSink passes writes to another sink and computes the SHA-256 of
// everything written, so a checkpoint's hash is known the moment it is
// written without reading it back.
type HashingSink struct {
	next Sink
	h    hash.Hash
	n    int64
}

// NewHashingSink wraps next.
func NewHashingSink(next Sink) *HashingSink {
	return &HashingSink{next: next, h: sha256.New()}
}

// Write forwards p and hashes the bytes the inner sink accepted.
func (s *HashingSink) Write(p []byte) (int, error) {
	n, err := s.next.Write(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	return n, err
}

// Finish finishes the inner sink.
func (s *HashingSink) Finish() error { return s.next.Finish() }

// Abort aborts the inner sink.
func (s *HashingSink) Abort() error { return s.next.Abort() }

// Written is the number of bytes hashed.
func (s *HashingSink) Written() int64 { return s.n }

// SHA256 is the lowercase hex SHA-256 of the bytes written so far (the
// whole file once Finish has succeeded).
func (s *HashingSink) SHA256() string { return hex.EncodeToString(s.h.Sum(nil)) }

// AutoV2 is the short hash A1111 and Civitai show for a model: the first 10
// hex digits of the whole file's SHA-256.
func (s *HashingSink) AutoV2() string { return AutoV2(s.SHA256()) }

// AutoV2 cuts a hex SHA-256 to its first 10 digits.
func AutoV2(sha256Hex string) string {
	if len(sha256Hex) < 10 {
		return sha256Hex
	}
	return sha256Hex[:10]
}
