package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// memStore is an in-memory objectStore with R2's multipart rules and
// failure injection, for tests of everything above the R2 binding.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	owners  map[string]string  // key → owner of the upload that wrote it
	uploads map[int]*memUpload // in progress, by upload ID

	nextUpload int
	etagSeq    int // etags differ between uploads of the same bytes, as R2's do
	// failGetAfter / failPartAfter make the n+1st get / uploadPart fail
	// (0: never).
	failGetAfter, failPartAfter int
	gets, parts                 int

	// staging makes uploads objectStagers; stagedObjectBytes counts what
	// they staged straight from objects.
	staging           bool
	stagedObjectBytes int64
}

func newMemStore() *memStore {
	return &memStore{objects: map[string][]byte{}, uploads: map[int]*memUpload{}}
}

var errInjected = errors.New("injected R2 failure")

func (s *memStore) put(key string, data []byte) { s.objects[key] = data }

func (s *memStore) Head(key string) (objectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[key]
	if !ok {
		return objectInfo{}, &storeError{Op: "head", Key: key, Err: errObjectNotFound}
	}
	return objectInfo{Size: int64(len(b)), ETag: fmt.Sprintf("%x", sha256.Sum256(b)), Owner: s.owners[key]}, nil
}

func (s *memStore) ReadRange(key string, p []byte, off int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.failGetAfter > 0 && s.gets > s.failGetAfter {
		return &storeError{Op: "get", Key: key, Err: errInjected}
	}
	b, ok := s.objects[key]
	if !ok {
		return &storeError{Op: "get", Key: key, Err: errObjectNotFound}
	}
	if off < 0 || off+int64(len(p)) > int64(len(b)) {
		return &storeError{Op: "get", Key: key, Err: fmt.Errorf("range %d+%d outside %d bytes", off, len(p), len(b))}
	}
	copy(p, b[off:])
	return nil
}

func (s *memStore) List(prefix string) (keys, folders []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for k := range s.objects {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, "/"); i >= 0 {
			f := prefix + rest[:i+1]
			if !seen[f] {
				seen[f] = true
				folders = append(folders, f)
			}
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sort.Strings(folders)
	return keys, folders, nil
}

func (s *memStore) CreateMultipartUpload(key string, partSize int, owner string) (multipartUpload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextUpload++
	u := &memUpload{store: s, id: s.nextUpload, key: key, owner: owner, parts: map[int][]byte{}, etags: map[int]string{}, sum: sha256.New(), pending: make([]byte, partSize)}
	s.uploads[u.id] = u
	if s.staging {
		return stagingUpload{u, &memCarry{}}, nil
	}
	return u, nil
}

func (s *memStore) upload(key, uploadID string) (*memUpload, error) {
	id, _ := strconv.Atoi(uploadID)
	u, ok := s.uploads[id]
	if !ok || u.key != key {
		return nil, &storeError{Op: "resumeMultipartUpload", Key: key, Err: errors.New("no such upload")}
	}
	return u, nil
}

func (s *memStore) ResumeMultipartUpload(key, uploadID string, partSize int) (multipartUpload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	orig, err := s.upload(key, uploadID)
	if err != nil {
		return nil, err
	}
	// Another invocation's handle on the same upload: the parts are shared,
	// the pending buffer is its own.
	u := &memUpload{store: s, id: orig.id, key: key, parts: orig.parts, etags: orig.etags, sum: sha256.New(), pending: make([]byte, partSize)}
	if s.staging {
		return stagingUpload{u, &memCarry{}}, nil
	}
	return u, nil
}

func (s *memStore) CompleteMultipartUpload(key, uploadID string, parts []uploadedPart) error {
	s.mu.Lock()
	u, err := s.upload(key, uploadID)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if len(parts) != len(u.parts) {
		return &storeError{Op: "complete", Key: key, Err: fmt.Errorf("%d parts listed, %d uploaded", len(parts), len(u.parts))}
	}
	for i, p := range parts {
		if p.N != i+1 || u.etags[p.N] != p.ETag {
			return &storeError{Op: "complete", Key: key, Err: fmt.Errorf("part %d: listed as number %d etag %q, uploaded with etag %q", i+1, p.N, p.ETag, u.etags[i+1])}
		}
	}
	return u.Complete()
}

func (s *memStore) AbortMultipartUpload(key, uploadID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.upload(key, uploadID)
	if err != nil {
		return err
	}
	delete(s.uploads, u.id)
	return nil
}

func (s *memStore) inProgress() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}

type memUpload struct {
	store *memStore
	id    int
	key   string
	owner string
	parts map[int][]byte
	etags map[int]string // of each part's last upload
	sum   hash.Hash      // of parts in upload order, as r2Upload hashes

	pending []byte // the part being staged
}

func (u *memUpload) Stage(at int, p []byte) { copy(u.pending[at:], p) }

// stagingUpload is a memUpload that stages object bytes itself, keeping the
// fetched tail as r2Upload does, so the sink's RangeCopier path is
// exercised.
type stagingUpload struct {
	*memUpload
	carry *memCarry
}

type memCarry struct {
	key  string
	off  int64
	data []byte
}

func (u stagingUpload) StageObject(at int, key string, off int64, n, want int) (bool, error) {
	if want < n {
		return false, fmt.Errorf("StageObject: want %d < n %d", want, n)
	}
	c := u.carry
	fetched := false
	if c.key != key || off < c.off || off+int64(n) > c.off+int64(len(c.data)) {
		data := make([]byte, want)
		if err := u.store.ReadRange(key, data, off); err != nil {
			return true, err
		}
		*c = memCarry{key: key, off: off, data: data}
		fetched = true
	}
	copy(u.pending[at:at+n], c.data[off-c.off:])
	u.store.mu.Lock()
	u.store.stagedObjectBytes += int64(n)
	u.store.mu.Unlock()
	return fetched, nil
}

func (u *memUpload) SHA256() ([]byte, error) { return u.sum.Sum(nil), nil }

func (u *memUpload) UploadPart(n, size int) error {
	part := u.pending[:size]
	s := u.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.uploads[u.id]; !ok {
		return &storeError{Op: "uploadPart", Key: u.key, Err: errors.New("no such upload")}
	}
	s.parts++
	if s.failPartAfter > 0 && s.parts > s.failPartAfter {
		return &storeError{Op: "uploadPart", Key: u.key, Err: errInjected}
	}
	if n < 1 || n > maxParts {
		return &storeError{Op: "uploadPart", Key: u.key, Err: fmt.Errorf("part number %d", n)}
	}
	u.parts[n] = append([]byte(nil), part...)
	s.etagSeq++
	u.etags[n] = fmt.Sprintf("%x-%d", sha256.Sum256(part), s.etagSeq)
	u.sum.Write(part)
	return nil
}

func (u *memUpload) UploadID() string { return strconv.Itoa(u.id) }

func (u *memUpload) ETag(n int) string {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	return u.etags[n]
}

// Complete enforces R2's rules: parts 1..n, all but the last the same size
// and at least 5 MiB.
func (u *memUpload) Complete() error {
	s := u.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.uploads[u.id]; !ok {
		return &storeError{Op: "complete", Key: u.key, Err: errors.New("no such upload")}
	}
	var data []byte
	for i := 1; i <= len(u.parts); i++ {
		p, ok := u.parts[i]
		if !ok {
			return &storeError{Op: "complete", Key: u.key, Err: fmt.Errorf("part %d missing", i)}
		}
		if i < len(u.parts) && (len(p) < minPartSize || len(p) != len(u.parts[1])) {
			return &storeError{Op: "complete", Key: u.key, Err: fmt.Errorf("part %d has %d bytes", i, len(p))}
		}
		data = append(data, p...)
	}
	delete(s.uploads, u.id)
	s.objects[u.key] = data
	if s.owners == nil {
		s.owners = map[string]string{}
	}
	s.owners[u.key] = u.owner
	return nil
}

func (u *memUpload) Abort() error {
	s := u.store
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.uploads, u.id)
	return nil
}
