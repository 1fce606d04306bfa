package main

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func TestObjectReaderMatchesBytesReader(t *testing.T) {
	data := make([]byte, 1<<20+123)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	store := newMemStore()
	store.put("m.safetensors", data)
	const block = 4096
	r := newObjectReader(store, "m.safetensors", int64(len(data)), block)
	want := bytes.NewReader(data)

	check := func(off int64, n int) {
		t.Helper()
		got := make([]byte, n)
		exp := make([]byte, n)
		gn, gerr := r.ReadAt(got, off)
		en, eerr := want.ReadAt(exp, off)
		if gn != en || !bytes.Equal(got[:gn], exp[:en]) || (gerr == nil) != (eerr == nil) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d, %v", n, off, gn, gerr, en, eerr)
		}
	}
	// Sequential small reads (tensor by tensor), crossing block edges.
	for off := int64(0); off < 3*block; off += 100 {
		check(off, 100)
	}
	// Reads longer than a block bypass it; reads inside one hit it.
	check(10, 3*block+7)
	check(block-3, 10)
	// Random reads, including ones running past the end.
	for range 500 {
		off := rng.Int64N(int64(len(data)) + 10)
		check(off, rng.IntN(3*block))
	}
	check(int64(len(data))-5, 100)
	check(int64(len(data)), 0)
}

func TestObjectReaderFetchesBlocksNotTensors(t *testing.T) {
	store := newMemStore()
	store.put("k", make([]byte, 64<<10))
	r := newObjectReader(store, "k", 64<<10, 16<<10)
	buf := make([]byte, 64)
	for off := int64(0); off < 64<<10; off += 64 {
		if _, err := r.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	if store.gets != 4 {
		t.Errorf("1024 sequential 64-byte reads took %d gets, want 4 (one per 16 KiB block)", store.gets)
	}
}

func TestObjectReaderFailureIsAStoreError(t *testing.T) {
	store := newMemStore()
	store.put("k", make([]byte, 100))
	store.failGetAfter = 1
	r := newObjectReader(store, "k", 100, 10)
	buf := make([]byte, 5)
	if _, err := r.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	_, err := r.ReadAt(buf, 50)
	var se *storeError
	if !errors.As(err, &se) || !errors.Is(err, errInjected) || se.Key != "k" {
		t.Fatalf("got %v, want a storeError for k wrapping the injected failure", err)
	}
	// A failed fill must not leave a stale block behind.
	store.failGetAfter = 0
	if _, err := r.ReadAt(buf, 50); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(buf, -1); err == nil {
		t.Error("negative offset: no error")
	}
	if n, err := r.ReadAt(buf, 100); n != 0 || err != io.EOF {
		t.Errorf("read at end = %d, %v; want 0, EOF", n, err)
	}
}
