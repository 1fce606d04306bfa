package checkpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// ErrCannotPatch: a plan carries a modelspec.hash_sha256 placeholder but the
// sink cannot overwrite its header after the data (no
// streamwriter.HeaderPatcher), so the file would keep the placeholder.
var ErrCannotPatch = errors.New("this output cannot take modelspec.hash_sha256 (it cannot rewrite its header after the data); plan without the hash and report it instead")

// hashSlot finds the offset of the hash placeholder value ("0x000…", 66
// bytes) in an encoded header. The key is matched with its quotes and the
// colon, which JSON escaping makes unique: a metadata value holding the
// same text has its quotes escaped.
func hashSlot(header []byte) int64 {
	needle := []byte(`"` + DataHashKey + `":"` + hashPlaceholder + `"`)
	i := bytes.Index(header, needle)
	if i < 0 {
		return 0
	}
	return int64(i + len(needle) - 1 - len(hashPlaceholder))
}

// formatDataHash is the ModelSpec form of a digest: "0x" and lowercase hex.
func formatDataHash(sum []byte) string { return "0x" + hex.EncodeToString(sum) }

// dataHashSink passes writes on and hashes every byte after the header;
// Finish patches the digest into the header's placeholder and then
// finishes the inner sink. It does not offer CopyRange: the data must pass
// through it to be hashed.
type dataHashSink struct {
	next      streamwriter.Sink
	patcher   streamwriter.HeaderPatcher // nil: hash only (HashData)
	headerLen int64
	slot      int64
	written   int64
	h         hash.Hash
	report    func(string)
}

func (s *dataHashSink) Write(p []byte) (int, error) {
	n := len(p)
	var err error
	if s.next != nil {
		n, err = s.next.Write(p)
	}
	data := p[:n]
	if skip := s.headerLen - s.written; skip > 0 {
		data = data[min(skip, int64(len(data))):]
	}
	s.h.Write(data)
	s.written += int64(n)
	return n, err
}

func (s *dataHashSink) Finish() error {
	sum := formatDataHash(s.h.Sum(nil))
	if s.patcher != nil {
		if err := s.patcher.PatchAt(s.slot, []byte(sum)); err != nil {
			return err
		}
	}
	if s.next != nil {
		if err := s.next.Finish(); err != nil {
			return err
		}
	}
	if s.report != nil {
		s.report(sum)
	}
	return nil
}

func (s *dataHashSink) Abort() error {
	if s.next == nil {
		return nil
	}
	return s.next.Abort()
}

// withDataHash wraps sink for a plan with a hash slot (see Plan.HashSlot).
func withDataHash(p *Plan, sink streamwriter.Sink, report func(string)) (streamwriter.Sink, error) {
	if p.HashSlot == 0 {
		return sink, nil
	}
	patcher, ok := sink.(streamwriter.HeaderPatcher)
	if !ok {
		return nil, ErrCannotPatch
	}
	if p.HashSlot < 8 || p.HashSlot+int64(len(hashPlaceholder)) > int64(len(p.Header)) ||
		string(p.Header[p.HashSlot:p.HashSlot+int64(len(hashPlaceholder))]) != hashPlaceholder {
		return nil, fmt.Errorf("%w: hash slot %d does not hold the placeholder", ErrBadPlan, p.HashSlot)
	}
	return &dataHashSink{next: sink, patcher: patcher, headerLen: int64(len(p.Header)), slot: p.HashSlot, h: sha256.New(), report: report}, nil
}

// HashData computes modelspec.hash_sha256 of the file p describes — SHA-256
// of the data after the header, "0x…" — by reading its steps, without
// writing anything. Hosts whose output cannot be patched (the browser's
// Blob of slices) report it this way; metadata editing in place uses it
// for the existing data. Memory is the one buffer, as for Execute.
func HashData(ctx context.Context, p *Plan, opt ExecuteOptions) (string, error) {
	q := *p
	q.HashSlot = 0
	var sum string
	s := &dataHashSink{headerLen: int64(len(q.Header)), h: sha256.New(), report: func(h string) { sum = h }}
	if err := Execute(ctx, &q, s, opt); err != nil {
		return "", err
	}
	return sum, nil
}
