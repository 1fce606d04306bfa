package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"slices"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// TestWindowsTileTheOutput cuts an SDXL plan (copies, fused q‖k‖v, a
// transposed projection, inline tensors) into windows at every kind of
// boundary, executes each window on its own and checks that the windows,
// concatenated, are the whole output byte for byte.
func TestWindowsTileTheOutput(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	p := windowTestPlan(t, rng)
	whole, _ := executeToMemory(t, p)
	// Boundaries: inside the header, at step edges, inside the transpose,
	// and random ones.
	cuts := map[int64]bool{0: true, p.Size: true, 3: true, int64(len(p.Header)) - 1: true, int64(len(p.Header)): true}
	pos := int64(len(p.Header))
	for i := range p.Steps {
		n, _ := stepOutputLen(&p.Steps[i])
		if p.Steps[i].Transpose != nil {
			cuts[pos+n/3] = true
		}
		pos += n
		cuts[pos] = true
	}
	for range 50 {
		cuts[rng.Int63n(p.Size)] = true
	}
	var bounds []int64
	for c := range cuts {
		bounds = append(bounds, c)
	}
	slices.Sort(bounds)
	var got []byte
	for i := 0; i+1 < len(bounds); i++ {
		w, err := Window(context.Background(), p, bounds[i], bounds[i+1])
		if err != nil {
			t.Fatalf("window %d–%d: %v", bounds[i], bounds[i+1], err)
		}
		var sink streamwriter.MemorySink
		if err := Execute(context.Background(), w, &sink, ExecuteOptions{BufferSize: 64}); err != nil {
			t.Fatalf("window %d–%d: %v", bounds[i], bounds[i+1], err)
		}
		if int64(sink.Len()) != bounds[i+1]-bounds[i] {
			t.Fatalf("window %d–%d wrote %d bytes", bounds[i], bounds[i+1], sink.Len())
		}
		got = append(got, sink.Bytes()...)
	}
	if !bytes.Equal(got, whole) {
		t.Fatal("concatenated windows differ from the whole output")
	}
}

func TestWindowOutsideTheOutput(t *testing.T) {
	p := windowTestPlan(t, rand.New(rand.NewSource(1)))
	for _, w := range [][2]int64{{-1, 4}, {5, 4}, {0, p.Size + 1}} {
		if _, err := Window(context.Background(), p, w[0], w[1]); !errors.Is(err, ErrBadPlan) {
			t.Errorf("window %v: err = %v, want ErrBadPlan", w, err)
		}
	}
}

// windowTestPlan is a small SDXL plan with every kind of step.
func windowTestPlan(t *testing.T, rng *rand.Rand) *Plan {
	t.Helper()
	unetTs := tinySDXLUNet()
	unet, _ := randomInput(t, rng, "unet", unetTs)
	clipL, _ := randomInput(t, rng, "clip_l", tinyCLIP(12, 4, 4))
	clipG, _ := randomInput(t, rng, "clip_g", tinyCLIP(32, 64, 96))
	vae, _ := randomInput(t, rng, "vae", []testTensor{{Name: "decoder.conv_in.weight", DType: "F32", Shape: []int64{8, 4, 3, 3}}})
	p, err := PlanCheckpoint(SaveRequest{Model: unet, Clip: []Input{clipG, clipL}, VAE: vae, Title: "ComfyUI 1"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
