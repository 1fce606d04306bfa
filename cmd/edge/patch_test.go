package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// safetensorsBytes is a one-tensor U8 file of n data bytes.
func safetensorsBytes(t *testing.T, n int64) []byte {
	t.Helper()
	ts := []safetensors.Tensor{{Name: "w", DType: safetensors.DTypeU8, Shape: []int64{n}, End: n}}
	h, err := safetensors.EncodeHeader(map[string]string{"modelspec.title": "old"}, ts)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*13 + i>>11)
	}
	return append(h, data...)
}

// TestMultipartSinkPatchesHeldFirstPart: with a hash slot the first part is
// held back, patched, and uploaded last; the object carries
// modelspec.hash_sha256 equal to the SHA-256 of its data section, for an
// object within one part and one spanning several.
func TestMultipartSinkPatchesHeldFirstPart(t *testing.T) {
	for _, n := range []int64{1000, minPartSize, 3*minPartSize + 4321} {
		src := safetensorsBytes(t, n)
		in := checkpoint.Input{Name: "in.safetensors", R: bytes.NewReader(src), Size: int64(len(src))}
		plan, err := checkpoint.PlanMetadataEdit(in, checkpoint.MetadataEdit{ModelSpec: checkpoint.ModelSpec{Title: "new"}, HashSHA256: true})
		if err != nil {
			t.Fatal(err)
		}
		store := newMemStore()
		sink, err := newMultipartSink(store, "out.safetensors", minPartSize)
		if err != nil {
			t.Fatal(err)
		}
		sink.holdFirstPart()
		var reported string
		if err := checkpoint.Execute(context.Background(), plan, sink, checkpoint.ExecuteOptions{BufferSize: 1 << 20, OnDataHash: func(h string) { reported = h }}); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		obj := store.objects["out.safetensors"]
		hn := binary.LittleEndian.Uint64(obj)
		h, err := safetensors.ParseHeader("out", obj[8:8+hn], int64(len(obj)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(obj[8+hn:])
		want := "0x" + hex.EncodeToString(sum[:])
		if h.Metadata[checkpoint.DataHashKey] != want || reported != want || h.Metadata["modelspec.title"] != "new" {
			t.Errorf("%d bytes: header hash %q, reported %q, data %s", n, h.Metadata[checkpoint.DataHashKey], reported, want)
		}
		if !bytes.Equal(obj[8+hn:], src[len(src)-int(n):]) || sink.Bytes() != plan.Size {
			t.Errorf("%d bytes: data differs or %d bytes counted", n, sink.Bytes())
		}
		if _, err := sink.SHA256(); err == nil {
			t.Error("SHA256 of an out-of-order upload")
		}
	}
}

// TestMultipartSinkPatchFailureLeavesNothing: a part upload failing after
// the held part leaves no object and no upload.
func TestMultipartSinkPatchFailureLeavesNothing(t *testing.T) {
	src := safetensorsBytes(t, 3*minPartSize)
	in := checkpoint.Input{Name: "in.safetensors", R: bytes.NewReader(src), Size: int64(len(src))}
	plan, err := checkpoint.PlanMetadataEdit(in, checkpoint.MetadataEdit{HashSHA256: true})
	if err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	store.failPartAfter = 1
	sink, err := newMultipartSink(store, "out.safetensors", minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	sink.holdFirstPart()
	if err := checkpoint.Execute(context.Background(), plan, sink, checkpoint.ExecuteOptions{BufferSize: 1 << 20}); err == nil {
		t.Fatal("no error")
	}
	if len(store.objects) != 0 || len(store.uploads) != 0 {
		t.Errorf("left %d objects, %d uploads", len(store.objects), len(store.uploads))
	}
}
