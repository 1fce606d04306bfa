package main

import (
	"errors"
	"fmt"
)

// objectStore is what the edge host needs from an R2 bucket. The js/wasm
// build implements it over the raw binding (r2_js.go); tests use memStore.
// The library's own R2 wrapper is not enough: its Get takes no range and its
// Put reads the whole object into memory.
type objectStore interface {
	// Head returns key's size and etag, or an error wrapping
	// errObjectNotFound. Both come from one head request, so the etag is
	// the one of the object whose size was read (jobs check that their
	// inputs stay the same by it).
	Head(key string) (objectInfo, error)
	// ReadRange fills p with the bytes of key starting at off. The range
	// must lie inside the object.
	ReadRange(key string, p []byte, off int64) error
	// List returns every key beginning with prefix that has no "/" after
	// the prefix, and the distinct "<prefix>…/" folder prefixes (R2's
	// delimitedPrefixes), following the listing cursor to the end.
	List(prefix string) (keys, folders []string, err error)
	// CreateMultipartUpload starts a multipart upload to key whose parts
	// (all but the last) have partSize bytes; nothing is visible under key
	// until Complete.
	// owner, if not empty, is recorded in the object's custom metadata
	// (objectInfo.Owner), so a job can recognise the object its own
	// upload completed.
	CreateMultipartUpload(key string, partSize int, owner string) (multipartUpload, error)
	// ResumeMultipartUpload continues upload uploadID to key, started by
	// another invocation (an assembly job's), to upload more parts of
	// partSize. The resumed upload does not hash (SHA256 fails).
	ResumeMultipartUpload(key, uploadID string, partSize int) (multipartUpload, error)
	// CompleteMultipartUpload assembles the parts listed, in order, into
	// the object; AbortMultipartUpload discards the upload.
	CompleteMultipartUpload(key, uploadID string, parts []uploadedPart) error
	AbortMultipartUpload(key, uploadID string) error
}

// objectInfo is what a head request tells of an object.
type objectInfo struct {
	Size int64
	// ETag changes whenever the object is written.
	ETag string
	// Owner is the owner given to the multipart upload that wrote it.
	Owner string
}

// uploadedPart names one uploaded part for CompleteMultipartUpload.
type uploadedPart struct {
	N    int    `json:"partNumber"`
	ETag string `json:"etag"`
}

// multipartUpload is one in-progress R2 multipart upload. It owns the buffer
// of the part being filled, so on Cloudflare that buffer lives in the JS
// heap where uploadPart needs it, not in Go's memory.
type multipartUpload interface {
	// Stage copies p into the pending part at offset at.
	Stage(at int, p []byte)
	// UploadPart uploads the pending part's first size bytes as part
	// number n (1-based) and starts a new pending part.
	UploadPart(n, size int) error
	// Complete assembles the uploaded parts into the object.
	Complete() error
	// Abort discards the upload and every part uploaded so far.
	Abort() error
	// UploadID names the upload for ResumeMultipartUpload.
	UploadID() string
	// ETag is the etag of part n as this upload last uploaded it ("" if
	// it did not).
	ETag(n int) string
	// SHA256 is the digest of all parts uploaded, in order; valid after
	// the last UploadPart. The upload hashes because it holds each part
	// where hashing is cheapest: on Cloudflare crypto.DigestStream hashes
	// the JS part buffer natively, about ten times cheaper than
	// crypto/sha256 compiled to wasm.
	SHA256() ([]byte, error)
}

// objectStager is an upload that can also stage bytes of a stored object
// straight into its pending part. On Cloudflare the bytes then go from the
// R2 get's body to the part buffer inside JS and never cross into Go (two
// copies and a conversion fewer per byte).
//
// StageObject stages n bytes of key at off into the pending part at offset
// at. want >= n is how many bytes from off to fetch when a get is needed:
// the rest of the caller's copy (which may run into the next part) or more,
// as read-ahead. The stager keeps the fetched tail for the following calls,
// so a copy crossing a part boundary costs one get, not two, and a run of
// small tensors one get per read-ahead window. fetched tells whether it
// made a get.
type objectStager interface {
	StageObject(at int, key string, off int64, n, want int) (fetched bool, err error)
}

// errObjectNotFound is wrapped by Head and ReadRange for a missing key.
var errObjectNotFound = errors.New("no such object")

// storeError is a failure of the bucket itself (not of the data in it).
// The server answers it with 502 rather than blaming the request.
type storeError struct {
	Op  string // "get", "head", "list", "uploadPart" …
	Key string
	Err error
}

func (e *storeError) Error() string {
	return fmt.Sprintf("R2 %s %q: %v", e.Op, e.Key, e.Err)
}

func (e *storeError) Unwrap() error { return e.Err }

// storeCalls counts R2 operations of one request. Each is a subrequest on
// Cloudflare, which caps them per request; the server reports the counts.
type storeCalls struct {
	Gets, Parts, Lists, Heads int
	// First is the first bucket failure seen, kept so the server can tell a
	// bucket failure from bad input however the engine wrapped it.
	First error
}

func (c *storeCalls) fail(err error) error {
	if c.First == nil {
		c.First = err
	}
	return err
}

// countingStore wraps a store to count calls and remember the first failure.
type countingStore struct {
	objectStore
	calls *storeCalls
}

func (s countingStore) Head(key string) (objectInfo, error) {
	s.calls.Heads++
	info, err := s.objectStore.Head(key)
	if err != nil && !errors.Is(err, errObjectNotFound) {
		return objectInfo{}, s.calls.fail(err)
	}
	return info, err
}

func (s countingStore) ReadRange(key string, p []byte, off int64) error {
	s.calls.Gets++
	if err := s.objectStore.ReadRange(key, p, off); err != nil {
		return s.calls.fail(err)
	}
	return nil
}

func (s countingStore) List(prefix string) ([]string, []string, error) {
	s.calls.Lists++
	keys, folders, err := s.objectStore.List(prefix)
	if err != nil {
		return nil, nil, s.calls.fail(err)
	}
	return keys, folders, nil
}

func (s countingStore) CreateMultipartUpload(key string, partSize int, owner string) (multipartUpload, error) {
	u, err := s.objectStore.CreateMultipartUpload(key, partSize, owner)
	if err != nil {
		return nil, s.calls.fail(err)
	}
	if st, ok := u.(objectStager); ok {
		return countingStager{countingUpload{u, s.calls}, st}, nil
	}
	return countingUpload{u, s.calls}, nil
}

func (s countingStore) ResumeMultipartUpload(key, uploadID string, partSize int) (multipartUpload, error) {
	u, err := s.objectStore.ResumeMultipartUpload(key, uploadID, partSize)
	if err != nil {
		return nil, s.calls.fail(err)
	}
	if st, ok := u.(objectStager); ok {
		return countingStager{countingUpload{u, s.calls}, st}, nil
	}
	return countingUpload{u, s.calls}, nil
}

type countingUpload struct {
	multipartUpload
	calls *storeCalls
}

func (u countingUpload) UploadPart(n, size int) error {
	u.calls.Parts++
	if err := u.multipartUpload.UploadPart(n, size); err != nil {
		return u.calls.fail(err)
	}
	return nil
}

func (u countingUpload) Complete() error {
	if err := u.multipartUpload.Complete(); err != nil {
		return u.calls.fail(err)
	}
	return nil
}

type countingStager struct {
	countingUpload
	stager objectStager
}

func (u countingStager) StageObject(at int, key string, off int64, n, want int) (bool, error) {
	fetched, err := u.stager.StageObject(at, key, off, n, want)
	if fetched {
		u.calls.Gets++
	}
	if err != nil {
		return fetched, u.calls.fail(err)
	}
	return fetched, nil
}
