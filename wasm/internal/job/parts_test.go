package job

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

func seq(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)*7 + seed
	}
	return b
}

// testPlan mixes every step kind: copies from two files (two of them
// adjacent, to be merged), inline data next to a transpose (to be merged
// into one inline part), and a copy after the transpose.
func testPlan() (*checkpoint.Plan, [][]byte) {
	a, b := seq(4096, 1), seq(3000, 5)
	inputs := []checkpoint.Input{
		{Name: "a.safetensors", R: bytes.NewReader(a), Size: int64(len(a))},
		{Name: "b.safetensors", R: bytes.NewReader(b), Size: int64(len(b))},
	}
	header := []byte("HEADER--")
	steps := []checkpoint.Step{
		{Tensor: "x", Input: 0, Offset: 100, Length: 200},
		{Tensor: "y", Input: 0, Offset: 300, Length: 50}, // adjacent to x: merged
		{Tensor: "z", Input: 1, Offset: 0, Length: 10},
		{Tensor: "small", Input: -1, Data: []byte{1, 2, 3, 4}},
		// 6×5 F16 matrix at 1000 of b, written transposed
		{Tensor: "proj", Input: 1, Offset: 1000, Length: 6 * 5 * 2, Transpose: &checkpoint.Transpose{Rows: 6, Cols: 5, ElemSize: 2}},
		{Tensor: "empty", Input: 0, Offset: 7, Length: 0},
		{Tensor: "w", Input: 0, Offset: 4000, Length: 96},
	}
	size := int64(len(header))
	for _, s := range steps {
		if s.Input < 0 {
			size += int64(len(s.Data))
		} else {
			size += s.Length
		}
	}
	return &checkpoint.Plan{Architecture: "test", Header: header, Steps: steps, Inputs: inputs, Size: size}, [][]byte{a, b}
}

func TestBuildPartsAssemblesToExecuteOutput(t *testing.T) {
	plan, files := testPlan()
	index := func(in checkpoint.Input) int {
		for i, x := range plan.Inputs {
			if x.R == in.R {
				return i
			}
		}
		return -1
	}
	parts, err := BuildParts(context.Background(), plan, index)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for _, p := range parts {
		if p.Inline {
			got = append(got, p.Data...)
		} else {
			got = append(got, files[p.File][p.Start:p.End]...)
		}
	}
	var want streamwriter.MemorySink
	if err := checkpoint.Execute(context.Background(), plan, &want, checkpoint.ExecuteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("parts assemble to %d bytes that differ from Execute's %d bytes", len(got), len(want.Bytes()))
	}
	if PartsSize(parts) != plan.Size {
		t.Errorf("PartsSize = %d, plan size %d", PartsSize(parts), plan.Size)
	}
	// header | a[100:350] | b[0:10] | small+proj | a[4000:4096]
	if len(parts) != 5 {
		t.Errorf("got %d parts, want 5 (adjacent ranges and inline bytes merged): %+v", len(parts), parts)
	}
	if parts[1].Inline || parts[1].Start != 100 || parts[1].End != 350 {
		t.Errorf("part 1 = %+v, want a[100:350]", parts[1])
	}
	if want := int64(8 + 4 + 60); InlineBytes(plan) != want {
		t.Errorf("InlineBytes = %d, want %d", InlineBytes(plan), want)
	}
}

func TestBuildPartsRefusesUnknownInputAndTooMuchInline(t *testing.T) {
	plan, _ := testPlan()
	_, err := BuildParts(context.Background(), plan, func(checkpoint.Input) int { return -1 })
	if !errors.Is(err, checkpoint.ErrBadPlan) {
		t.Errorf("unmapped input: err = %v, want ErrBadPlan", err)
	}
	plan.Steps = append(plan.Steps, checkpoint.Step{Tensor: "big", Input: -1, Data: make([]byte, MaxBlobInlineBytes)})
	if BlobFits(plan) {
		t.Error("BlobFits with more than MaxBlobInlineBytes inline")
	}
	_, err = BuildParts(context.Background(), plan, func(checkpoint.Input) int { return 0 })
	if !errors.Is(err, ErrBlobTooBig) || Classify(err) != CodeInput {
		t.Errorf("too much inline: err = %v (code %s), want ErrBlobTooBig / input", err, Classify(err))
	}
}

func TestBuildPartsStopsWhenCancelled(t *testing.T) {
	plan, _ := testPlan()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := BuildParts(ctx, plan, func(checkpoint.Input) int { return 0 })
	if Classify(err) != CodeCancelled {
		t.Errorf("err = %v (code %s), want cancelled", err, Classify(err))
	}
	if !strings.Contains(err.Error(), "proj") {
		t.Errorf("error %q does not name the tensor being computed", err)
	}
}
