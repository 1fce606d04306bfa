package checkpoint

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// A conversion of a virtual input (a .ckpt, a sharded checkpoint) must keep
// its dtype conversion when Lower moves it onto the backing file: lowering
// once turned every non-transpose step into a plain copy, so a "converted"
// .ckpt came out with F32 bytes under an F16 header.
func TestConvertVirtualInputLowersConversions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	const na, nb = 1000, 15
	// The backing file: 16 bytes of something else, then b, then a, so the
	// virtual layout (a, b) is not the backing order.
	backing := make([]byte, 16+4*(na+nb))
	vals := make([]float32, na+nb)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64() * 100)
	}
	vals[3] = float32(math.Inf(1))
	vals[4] = 70000 // beyond F16: becomes +Inf
	put := func(off int, v []float32) {
		for i, f := range v {
			binary.LittleEndian.PutUint32(backing[off+4*i:], math.Float32bits(f))
		}
	}
	aVals, bVals := vals[:na], vals[na:]
	put(16+4*nb, aVals)
	put(16, bVals)
	file := Input{Name: "weights.bin", R: bytes.NewReader(backing), Size: int64(len(backing))}
	vf, err := safetensors.NewVirtualFile("model.ckpt", nil, []safetensors.VirtualTensor{
		{Name: "a", DType: safetensors.DTypeF32, Shape: []int64{na}, Pieces: []safetensors.Piece{{Input: file, Offset: 16 + 4*nb, Length: 4 * na}}},
		{Name: "b", DType: safetensors.DTypeF32, Shape: []int64{3, 5}, Pieces: []safetensors.Piece{{Input: file, Offset: 16, Length: 4 * nb}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	plan, _, err := PlanConvert(ConvertRequest{Input: vf.Input(), To: safetensors.DTypeF16, Match: "."})
	if err != nil {
		t.Fatal(err)
	}
	lowered, err := Lower(plan)
	if err != nil {
		t.Fatal(err)
	}
	converts := 0
	for _, s := range lowered.Steps {
		if s.Input >= 0 {
			if _, virtual := lowered.Inputs[s.Input].R.(*safetensors.VirtualFile); virtual {
				t.Errorf("step %s still reads the virtual file", s.Tensor)
			}
		}
		if s.Convert != nil {
			converts++
		}
	}
	if converts != 2 {
		t.Fatalf("lowered plan has %d conversion steps, want 2", converts)
	}

	out, h := executeToMemory(t, plan)
	want := func(name string, v []float32) {
		t.Helper()
		ti, ok := h.Lookup(name)
		if !ok || ti.DType != safetensors.DTypeF16 {
			t.Fatalf("%s: %+v, want an F16 tensor", name, ti)
		}
		data := out[h.DataStart+ti.Begin : h.DataStart+ti.End]
		for i, f := range v {
			if got, exp := binary.LittleEndian.Uint16(data[2*i:]), f32ToF16(math.Float32bits(f)); got != exp {
				t.Fatalf("%s[%d] = %#04x, want %#04x (from %g)", name, i, got, exp, f)
			}
		}
	}
	want("a", aVals)
	want("b", bVals)
}
