//go:build js && wasm

package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"syscall/js"
)

// r2Store implements objectStore over the raw R2 binding (an R2Bucket),
// awaiting its promises from Go. Range bodies are read by the JS helpers in
// r2io.mjs (ckptpackR2) into reused JS buffers, so that Go never holds a
// fetched body: syscall/js would keep each one alive until Go's GC.
type r2Store struct {
	bucket js.Value
	slot   js.Value // ckptpackR2 slot for ReadRange
}

func newR2Store(bucket js.Value) *r2Store {
	return &r2Store{bucket: bucket, slot: jsR2.Call("newSlot")}
}

var (
	jsObject     = js.Global().Get("Object")
	jsUint8Array = js.Global().Get("Uint8Array")
	jsArray      = js.Global().Get("Array")
	// The helpers of r2io.mjs, installed by entry.mjs before Go starts.
	jsR2 = js.Global().Get("ckptpackR2")
	// workerd's crypto.DigestStream: a WritableStream that hashes natively.
	jsDigestStream = js.Global().Get("crypto").Get("DigestStream")
)

// await blocks the calling goroutine until p settles. The Go scheduler
// returns to the JS event loop meanwhile, which is what lets the promise
// run at all.
func await(p js.Value) (js.Value, error) {
	type settled struct {
		v   js.Value
		err error
	}
	ch := make(chan settled, 1)
	var onOK, onErr js.Func
	onOK = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{v: args[0]}
		return nil
	})
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{err: jsError(args[0])}
		return nil
	})
	defer onOK.Release()
	defer onErr.Release()
	p.Call("then", onOK, onErr)
	s := <-ch
	return s.v, s.err
}

// jsError turns a rejection reason into a Go error with its message.
func jsError(v js.Value) error {
	if v.Type() == js.TypeObject && v.Get("message").Type() == js.TypeString {
		return errors.New(v.Get("message").String())
	}
	return errors.New(js.Global().Call("String", v).String())
}

// call invokes method on v, turning a synchronous JS throw into an error
// (syscall/js panics on one) and awaiting the returned promise.
func call(v js.Value, method string, args ...any) (res js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if jerr, ok := r.(js.Error); ok {
				err = jsError(jerr.Value)
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	return await(v.Call(method, args...))
}

func (s *r2Store) Head(key string) (objectInfo, error) {
	obj, err := call(s.bucket, "head", key)
	if err != nil {
		return objectInfo{}, &storeError{Op: "head", Key: key, Err: err}
	}
	if obj.IsNull() {
		return objectInfo{}, &storeError{Op: "head", Key: key, Err: errObjectNotFound}
	}
	info := objectInfo{Size: int64(obj.Get("size").Float()), ETag: obj.Get("etag").String()}
	if meta := obj.Get("customMetadata"); meta.Truthy() && meta.Get(ownerMetadata).Truthy() {
		info.Owner = meta.Get(ownerMetadata).String()
	}
	return info, nil
}

func (s *r2Store) ReadRange(key string, p []byte, off int64) error {
	if err := s.fetch(s.slot, key, off, len(p)); err != nil {
		return err
	}
	js.CopyBytesToGo(p, jsR2.Call("view", s.slot, 0, len(p)))
	return nil
}

// fetch reads n bytes of key at off into the start of slot's buffer.
func (s *r2Store) fetch(slot js.Value, key string, off int64, n int) error {
	got, err := call(jsR2, "fetchInto", s.bucket, key, float64(off), n, slot)
	if err != nil {
		return &storeError{Op: "get", Key: key, Err: err}
	}
	switch g := got.Int(); {
	case g < 0:
		return &storeError{Op: "get", Key: key, Err: errObjectNotFound}
	case g != n:
		return &storeError{Op: "get", Key: key, Err: fmt.Errorf("asked for %d bytes at offset %d, got %d", n, off, g)}
	}
	return nil
}

func (s *r2Store) List(prefix string) (keys, folders []string, err error) {
	cursor := ""
	for {
		opts := jsObject.New()
		opts.Set("prefix", prefix)
		opts.Set("delimiter", "/")
		if cursor != "" {
			opts.Set("cursor", cursor)
		}
		res, err := call(s.bucket, "list", opts)
		if err != nil {
			return nil, nil, &storeError{Op: "list", Key: prefix, Err: err}
		}
		objs := res.Get("objects")
		for i, n := 0, objs.Length(); i < n; i++ {
			keys = append(keys, objs.Index(i).Get("key").String())
		}
		if dp := res.Get("delimitedPrefixes"); dp.Truthy() {
			for i, n := 0, dp.Length(); i < n; i++ {
				folders = append(folders, dp.Index(i).String())
			}
		}
		if !res.Get("truncated").Truthy() {
			return keys, folders, nil
		}
		cursor = res.Get("cursor").String()
	}
}

// ownerMetadata is the custom metadata key holding an upload's owner.
const ownerMetadata = "ckptpack-job"

func (s *r2Store) CreateMultipartUpload(key string, partSize int, owner string) (multipartUpload, error) {
	opts := map[string]any{}
	if owner != "" {
		opts["customMetadata"] = map[string]any{ownerMetadata: owner}
	}
	u, err := call(s.bucket, "createMultipartUpload", key, opts)
	if err != nil {
		return nil, &storeError{Op: "createMultipartUpload", Key: key, Err: err}
	}
	up := newR2Upload(s, key, u, partSize)
	up.hashes = true
	if jsDigestStream.Truthy() {
		up.digest = jsDigestStream.New("SHA-256")
		up.digestWriter = up.digest.Call("getWriter")
	} else {
		up.goSum = sha256.New() // not workerd: hash in Go
	}
	return up, nil
}

func newR2Upload(s *r2Store, key string, u js.Value, partSize int) *r2Upload {
	up := &r2Upload{store: s, key: key, upload: u, parts: jsArray.New(), part: jsUint8Array.New(partSize), etags: map[int]string{}}
	up.carry.slot = jsR2.Call("newSlot")
	return up
}

// resume is bucket.resumeMultipartUpload, which returns the upload object
// itself (no promise), with a JS throw turned into an error.
func (s *r2Store) resume(key, uploadID string) (u js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &storeError{Op: "resumeMultipartUpload", Key: key, Err: fmt.Errorf("%v", r)}
		}
	}()
	return s.bucket.Call("resumeMultipartUpload", key, uploadID), nil
}

func (s *r2Store) ResumeMultipartUpload(key, uploadID string, partSize int) (multipartUpload, error) {
	u, err := s.resume(key, uploadID)
	if err != nil {
		return nil, err
	}
	return newR2Upload(s, key, u, partSize), nil
}

func (s *r2Store) CompleteMultipartUpload(key, uploadID string, parts []uploadedPart) error {
	u, err := s.resume(key, uploadID)
	if err != nil {
		return err
	}
	list := jsArray.New()
	for _, p := range parts {
		o := jsObject.New()
		o.Set("partNumber", p.N)
		o.Set("etag", p.ETag)
		list.Call("push", o)
	}
	if _, err := call(u, "complete", list); err != nil {
		return &storeError{Op: "complete", Key: key, Err: err}
	}
	return nil
}

func (s *r2Store) AbortMultipartUpload(key, uploadID string) error {
	u, err := s.resume(key, uploadID)
	if err != nil {
		return err
	}
	if _, err := call(u, "abort"); err != nil {
		return &storeError{Op: "abort", Key: key, Err: err}
	}
	return nil
}

// r2Upload is an R2MultipartUpload with its pending part in one reused JS
// buffer: the JS heap holds one part at a time, and Go none.
type r2Upload struct {
	store  *r2Store
	key    string
	upload js.Value
	parts  js.Value // R2UploadedPart objects for complete()
	part   js.Value // Uint8Array of the part size: the pending part

	etags map[int]string

	hashes               bool      // SHA256 is wanted (not for a resumed upload)
	digest, digestWriter js.Value  // crypto.DigestStream and its writer
	goSum                hash.Hash // used instead where there is no DigestStream

	// carry holds the last range StageObject fetched (len bytes of key at
	// off, in a ckptpackR2 slot), whose tail the next call usually needs.
	carry struct {
		slot js.Value
		key  string
		off  int64
		len  int
	}
}

func (u *r2Upload) Stage(at int, p []byte) {
	js.CopyBytesToJS(u.part.Call("subarray", at, at+len(p)), p)
}

func (u *r2Upload) StageObject(at int, key string, off int64, n, want int) (fetched bool, err error) {
	c := &u.carry
	if c.key != key || off < c.off || off+int64(n) > c.off+int64(c.len) {
		c.key, c.len = "", 0 // the slot is refilled: if that fails, nothing is carried
		if err := u.store.fetch(c.slot, key, off, want); err != nil {
			return true, err
		}
		c.key, c.off, c.len = key, off, want
		fetched = true
	}
	jsR2.Call("copyOut", c.slot, int(off-c.off), n, u.part, at)
	return fetched, nil
}

func (u *r2Upload) UploadPart(n, size int) error {
	view := u.part
	if size < u.part.Length() {
		view = u.part.Call("subarray", 0, size)
	}
	switch {
	case !u.hashes:
	case u.goSum != nil:
		b := make([]byte, size)
		js.CopyBytesToGo(b, view)
		u.goSum.Write(b)
	default:
		if _, err := call(u.digestWriter, "write", view); err != nil {
			return fmt.Errorf("%s: hashing part %d: %w", u.key, n, err)
		}
	}
	res, err := call(u.upload, "uploadPart", n, view)
	if err != nil {
		return &storeError{Op: fmt.Sprintf("uploadPart %d", n), Key: u.key, Err: err}
	}
	u.etags[n] = res.Get("etag").String()
	if n == 1 {
		// Part 1 comes last when it holds a patched header
		// (multipartSink.holdFirstPart); complete() takes the parts in order.
		u.parts.Call("unshift", res)
	} else {
		u.parts.Call("push", res)
	}
	return nil
}

func (u *r2Upload) Complete() error {
	if _, err := call(u.upload, "complete", u.parts); err != nil {
		return &storeError{Op: "complete", Key: u.key, Err: err}
	}
	return nil
}

func (u *r2Upload) Abort() error {
	if _, err := call(u.upload, "abort"); err != nil {
		return &storeError{Op: "abort", Key: u.key, Err: err}
	}
	return nil
}

func (u *r2Upload) UploadID() string { return u.upload.Get("uploadId").String() }

func (u *r2Upload) ETag(n int) string { return u.etags[n] }

func (u *r2Upload) SHA256() ([]byte, error) {
	if !u.hashes {
		return nil, fmt.Errorf("%s: a resumed upload has no digest", u.key)
	}
	if u.goSum != nil {
		return u.goSum.Sum(nil), nil
	}
	if _, err := call(u.digestWriter, "close"); err != nil {
		return nil, fmt.Errorf("%s: finishing SHA-256: %w", u.key, err)
	}
	sum, err := await(u.digest.Get("digest"))
	if err != nil {
		return nil, fmt.Errorf("%s: finishing SHA-256: %w", u.key, err)
	}
	out := make([]byte, sha256.Size)
	if n := js.CopyBytesToGo(out, jsUint8Array.New(sum)); n != sha256.Size {
		return nil, fmt.Errorf("%s: SHA-256 digest has %d bytes", u.key, n)
	}
	return out, nil
}
