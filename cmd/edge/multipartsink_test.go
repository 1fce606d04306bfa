package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
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

// sinkOverObject puts src into a memStore as "in" (with direct staging or
// not) and opens a reader of it and a multipart sink to "out".
func sinkOverObject(t *testing.T, src []byte, staging bool) (*memStore, *objectReader, *multipartSink) {
	t.Helper()
	store := newMemStore()
	store.staging = staging
	store.put("in", src)
	sink, err := newMultipartSink(store, "out", minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	return store, newObjectReader(store, "in", int64(len(src)), readAheadSize), sink
}

func TestMultipartSinkCopyRange(t *testing.T) {
	src := make([]byte, 4*minPartSize)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	for _, staging := range []bool{false, true} {
		store, r, sink := sinkOverObject(t, src, staging)
		if _, err := sink.Write([]byte("header")); err != nil {
			t.Fatal(err)
		}
		n, err := sink.CopyRange(r, 10, 2*minPartSize+3)
		if !staging {
			if n != 0 || !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("upload without StageObject: CopyRange = %d, %v; want ErrUnsupported", n, err)
			}
			continue
		}
		if err != nil || n != 2*minPartSize+3 {
			t.Fatalf("CopyRange = %d, %v", n, err)
		}
		if err := sink.Finish(); err != nil {
			t.Fatal(err)
		}
		want := append([]byte("header"), src[10:10+2*minPartSize+3]...)
		if !bytes.Equal(store.objects["out"], want) {
			t.Error("object differs from header + copied range")
		}
		if store.stagedObjectBytes != 2*minPartSize+3 {
			t.Errorf("%d bytes staged from the object, want all %d", store.stagedObjectBytes, 2*minPartSize+3)
		}
	}
}

// TestExecuteIntoR2 runs the engine's executor over objectReaders into the
// sink, with and without direct staging, for a plan mixing a header,
// small and large copies, inline data and a transpose.
func TestExecuteIntoR2(t *testing.T) {
	a := make([]byte, 3*minPartSize+999)
	b := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, buf := range [][]byte{a, b} {
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
	}
	header := []byte("\x10\x00\x00\x00\x00\x00\x00\x00{}              ")
	steps := []checkpoint.Step{
		{Tensor: "small", Input: 0, Offset: 5, Length: 100},
		{Tensor: "big", Input: 0, Offset: 200, Length: int64(len(a)) - 200},
		{Tensor: "inline", Input: -1, Data: []byte{1, 2, 3, 4}},
		{Tensor: "t", Input: 1, Offset: 0, Length: 64 * 32 * 2, Transpose: &checkpoint.Transpose{Rows: 64, Cols: 32, ElemSize: 2}},
		{Tensor: "b", Input: 1, Offset: 7, Length: int64(len(b)) - 7},
	}
	var want bytes.Buffer
	want.Write(header)
	want.Write(a[5:105])
	want.Write(a[200:])
	want.Write([]byte{1, 2, 3, 4})
	for c := 0; c < 32; c++ {
		for r := 0; r < 64; r++ {
			want.Write(b[(r*32+c)*2 : (r*32+c)*2+2])
		}
	}
	want.Write(b[7:])

	for _, staging := range []bool{false, true} {
		store := newMemStore()
		store.staging = staging
		store.put("a", a)
		store.put("b", b)
		plan := &checkpoint.Plan{
			Header: header,
			Steps:  steps,
			Inputs: []checkpoint.Input{
				{Name: "a", R: newObjectReader(store, "a", int64(len(a)), readAheadSize), Size: int64(len(a))},
				{Name: "b", R: newObjectReader(store, "b", int64(len(b)), readAheadSize), Size: int64(len(b))},
			},
			Size: int64(want.Len()),
		}
		sink, err := newMultipartSink(store, "out", minPartSize)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkpoint.Execute(context.Background(), plan, sink, checkpoint.ExecuteOptions{BufferSize: 4 << 20}); err != nil {
			t.Fatalf("staging=%v: %v", staging, err)
		}
		if !bytes.Equal(store.objects["out"], want.Bytes()) {
			t.Errorf("staging=%v: output differs", staging)
		}
		if staging && store.stagedObjectBytes == 0 {
			t.Error("nothing was staged directly")
		}
		sum, err := sink.SHA256()
		if ws := sha256.Sum256(want.Bytes()); err != nil || !bytes.Equal(sum, ws[:]) {
			t.Errorf("staging=%v: SHA256 = %x, %v", staging, sum, err)
		}
	}
}

func TestExecuteIntoR2FailureLeavesNothing(t *testing.T) {
	for _, staging := range []bool{false, true} {
		store := newMemStore()
		store.staging = staging
		a := make([]byte, 4*minPartSize)
		store.put("a", a)
		// The second get fails: mid-copy on both paths (a staged copy
		// fetches at most maxStageFetch at once).
		store.failGetAfter = 1
		plan := &checkpoint.Plan{
			Steps:  []checkpoint.Step{{Tensor: "big", Input: 0, Offset: 0, Length: int64(len(a))}},
			Inputs: []checkpoint.Input{{Name: "a", R: newObjectReader(store, "a", int64(len(a)), readAheadSize), Size: int64(len(a))}},
			Size:   int64(len(a)),
		}
		sink, err := newMultipartSink(store, "out", minPartSize)
		if err != nil {
			t.Fatal(err)
		}
		err = checkpoint.Execute(context.Background(), plan, sink, checkpoint.ExecuteOptions{BufferSize: 4 << 20})
		if !errors.Is(err, errInjected) {
			t.Fatalf("staging=%v: Execute = %v, want the injected failure", staging, err)
		}
		if _, ok := store.objects["out"]; ok || store.inProgress() != 0 {
			t.Errorf("staging=%v: object or upload left behind", staging)
		}
	}
}

func TestMultipartSinkRefusesToReplaceAnObjectWrittenMeanwhile(t *testing.T) {
	store := newMemStore()
	sink, err := newMultipartSink(store, "checkpoints/ComfyUI_00001_.safetensors", minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(make([]byte, minPartSize+1)); err != nil {
		t.Fatal(err)
	}
	// Another request with the same counter completes first.
	store.put("checkpoints/ComfyUI_00001_.safetensors", []byte("theirs"))
	err = sink.Finish()
	if !errors.Is(err, errKeyTaken) {
		t.Fatalf("Finish = %v, want errKeyTaken", err)
	}
	if got := string(store.objects["checkpoints/ComfyUI_00001_.safetensors"]); got != "theirs" || store.inProgress() != 0 {
		t.Errorf("the other object became %q, %d uploads in progress", got, store.inProgress())
	}
	if e := classify(err, &storeCalls{}); e.Status != 409 {
		t.Errorf("answered %d, want 409", e.Status)
	}
}

// TestStagedCopiesReadAhead: a run of small tensors costs one get per
// read-ahead window, and a copy across a part boundary one get.
func TestStagedCopiesReadAhead(t *testing.T) {
	store := newMemStore()
	store.staging = true
	src := make([]byte, 3*stageReadAhead)
	for i := range src {
		src[i] = byte(i * 7)
	}
	store.put("in", src)
	r := newObjectReader(store, "in", int64(len(src)), readAheadSize)
	sink, err := newMultipartSink(store, "out", minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	const small = 4096
	for off := int64(0); off < stageReadAhead; off += small {
		if n, err := sink.CopyRange(r, off, small); err != nil || n != small {
			t.Fatalf("CopyRange at %d = %d, %v", off, n, err)
		}
	}
	if store.gets != 1 {
		t.Errorf("%d small copies took %d gets, want 1", stageReadAhead/small, store.gets)
	}
	// One long copy from where the read-ahead ended, across part boundaries.
	if n, err := sink.CopyRange(r, stageReadAhead, 2*stageReadAhead); err != nil || n != 2*stageReadAhead {
		t.Fatalf("long CopyRange = %d, %v", n, err)
	}
	if store.gets != 2 {
		t.Errorf("a %d-byte copy spanning parts took %d gets, want 1", 2*stageReadAhead, store.gets-1)
	}
	if err := sink.Finish(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(store.objects["out"], src) {
		t.Error("output differs from the source")
	}
}

// TestMultipartSinkGather: pieces of one stretch, out of order and across a
// part boundary, cost one get and arrive in the order given; without
// staging the sink declines and appends nothing.
func TestMultipartSinkGather(t *testing.T) {
	src := make([]byte, 3*minPartSize)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	// A stretch of 6 MiB at 1 MiB, stored a, b, c, d and wanted c, a, d, b.
	const off, n = 1 << 20, 6 << 20
	a := streamwriter.Range{Off: off, N: 1 << 20}
	b := streamwriter.Range{Off: off + 1<<20, N: 2<<20 + 5}
	c := streamwriter.Range{Off: off + 3<<20 + 5, N: 2 << 20}
	d := streamwriter.Range{Off: off + 5<<20 + 5, N: 1<<20 - 5}
	pieces := []streamwriter.Range{c, a, d, b}

	for _, staging := range []bool{false, true} {
		store, r, sink := sinkOverObject(t, src, staging)
		if _, err := sink.Write(make([]byte, minPartSize-(3<<20))); err != nil { // the pieces cross into part 2
			t.Fatal(err)
		}
		got, err := sink.CopyGather(r, off, n, pieces)
		if !staging {
			if got != 0 || !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("upload without StageObject: CopyGather = %d, %v; want ErrUnsupported", got, err)
			}
			sink.Abort()
			continue
		}
		if err != nil || got != n {
			t.Fatalf("CopyGather = %d, %v", got, err)
		}
		if store.gets != 1 {
			t.Errorf("a gather of %d pieces took %d gets, want 1", len(pieces), store.gets)
		}
		if err := sink.Finish(); err != nil {
			t.Fatal(err)
		}
		want := make([]byte, minPartSize-(3<<20))
		for _, p := range pieces {
			want = append(want, src[p.Off:p.Off+p.N]...)
		}
		if !bytes.Equal(store.objects["out"], want) {
			t.Error("object differs from the pieces in order")
		}
	}
}
