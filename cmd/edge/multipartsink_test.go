package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestPartSizeFor(t *testing.T) {
	for _, c := range []struct {
		total int64
		want  int
	}{
		{1, defaultPartSize},
		{2 << 30, defaultPartSize},
		{maxParts * defaultPartSize, defaultPartSize},
		{maxParts*defaultPartSize + 1, 9 << 20},
		{200 << 30, 21 << 20},
	} {
		got := partSizeFor(c.total)
		if got != c.want {
			t.Errorf("partSizeFor(%d) = %d, want %d", c.total, got, c.want)
		}
		if parts := (c.total + int64(got) - 1) / int64(got); parts > maxParts || got < minPartSize {
			t.Errorf("partSizeFor(%d) = %d: %d parts", c.total, got, parts)
		}
	}
}

func TestMultipartSinkWritesEqualParts(t *testing.T) {
	for _, size := range []int{1, minPartSize - 1, minPartSize, minPartSize + 1, 3*minPartSize + 12345} {
		store := newMemStore()
		sink, err := newMultipartSink(store, "out/x.safetensors", minPartSize)
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("0123456789abcdefg"), size/17+1)[:size]
		// Odd write sizes, as the engine's header, inline and copy steps give.
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 777777)
			if w, err := sink.Write(rest[:n]); err != nil || w != n {
				t.Fatalf("Write = %d, %v", w, err)
			}
			rest = rest[n:]
		}
		if err := sink.Finish(); err != nil {
			t.Fatalf("%d bytes: Finish: %v", size, err)
		}
		if got := store.objects["out/x.safetensors"]; !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: object has %d bytes, differs", size, len(got))
		}
		got, err := sink.SHA256()
		if sum := sha256.Sum256(data); err != nil || !bytes.Equal(got, sum[:]) || sink.Bytes() != int64(size) {
			t.Errorf("%d bytes: digest or count wrong", size)
		}
		if store.inProgress() != 0 {
			t.Errorf("%d bytes: upload still in progress", size)
		}
		if _, err := sink.Write([]byte{1}); err == nil {
			t.Error("Write after Finish: no error")
		}
	}
}

func TestMultipartSinkAbortLeavesNothing(t *testing.T) {
	store := newMemStore()
	sink, err := newMultipartSink(store, "k", minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(make([]byte, 2*minPartSize+1)); err != nil {
		t.Fatal(err)
	}
	if err := sink.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if _, ok := store.objects["k"]; ok || store.inProgress() != 0 {
		t.Error("object or upload left after Abort")
	}
}

func TestMultipartSinkPartFailure(t *testing.T) {
	store := newMemStore()
	store.failPartAfter = 1
	sink, err := newMultipartSink(store, "k", minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sink.Write(make([]byte, 3*minPartSize))
	if !errors.Is(err, errInjected) {
		t.Fatalf("Write = %v, want the injected failure", err)
	}
	if err := sink.Finish(); err == nil {
		t.Fatal("Finish after a failed write succeeded")
	}
	// The executor aborts after a failure; so does a failed Finish.
	if err := sink.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.objects["k"]; ok || store.inProgress() != 0 {
		t.Error("object or upload left after a failed part")
	}
}

func TestMultipartSinkFinishFailureAborts(t *testing.T) {
	store := newMemStore()
	store.failPartAfter = 1
	sink, err := newMultipartSink(store, "k", minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(make([]byte, minPartSize+10)); err != nil {
		t.Fatal(err)
	}
	if err := sink.Finish(); !errors.Is(err, errInjected) {
		t.Fatalf("Finish = %v, want the injected failure", err)
	}
	if store.inProgress() != 0 {
		t.Error("a failed Finish left the upload in progress")
	}
	if err := sink.Abort(); err != nil {
		t.Errorf("Abort after failed Finish: %v", err)
	}
}
