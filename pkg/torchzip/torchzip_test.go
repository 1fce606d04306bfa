package torchzip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// The fixtures are written by scripts/torchfixtures/make_fixtures.py with a
// real torch; their tensors hold arange values (element i is i).
const fixtures = "../../testdata/torch"

func openFixture(t *testing.T, name string) checkpoint.Input {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return checkpoint.Input{Name: name, R: f, Size: fi.Size()}
}

// values decodes a tensor's bytes into float64 for comparison.
func values(t *testing.T, dt safetensors.DType, b []byte) []float64 {
	t.Helper()
	var out []float64
	switch dt {
	case safetensors.DTypeF32:
		for i := 0; i < len(b); i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
		}
	case safetensors.DTypeF16:
		for i := 0; i < len(b); i += 2 {
			out = append(out, f16(binary.LittleEndian.Uint16(b[i:])))
		}
	case safetensors.DTypeBF16:
		for i := 0; i < len(b); i += 2 {
			out = append(out, float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[i:]))<<16)))
		}
	case safetensors.DTypeI64:
		for i := 0; i < len(b); i += 8 {
			out = append(out, float64(int64(binary.LittleEndian.Uint64(b[i:]))))
		}
	case safetensors.DTypeI32:
		for i := 0; i < len(b); i += 4 {
			out = append(out, float64(int32(binary.LittleEndian.Uint32(b[i:]))))
		}
	case safetensors.DTypeBOOL, safetensors.DTypeU8:
		for _, c := range b {
			out = append(out, float64(c))
		}
	default:
		t.Fatalf("no decoder for %s", dt)
	}
	return out
}

func f16(h uint16) float64 {
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	var v float64
	switch exp {
	case 0:
		v = frac / 1024 * math.Pow(2, -14)
	default:
		v = (1 + frac/1024) * math.Pow(2, float64(exp-15))
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

func arange(from, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(from + i)
	}
	return out
}

func TestOpenStateDictCheckpoint(t *testing.T) {
	in := openFixture(t, "state_dict.ckpt")
	v, err := Open(in)
	if err != nil {
		t.Fatal(err)
	}
	h, err := safetensors.ReadHeader(v.Input())
	if err != nil {
		t.Fatalf("the virtual file is not valid safetensors: %v", err)
	}
	want := map[string]struct {
		dt    safetensors.DType
		shape []int64
		vals  []float64
	}{
		"model.diffusion_model.w_f32":   {safetensors.DTypeF32, []int64{2, 3}, arange(0, 6)},
		"model.diffusion_model.w_f16":   {safetensors.DTypeF16, []int64{4}, arange(0, 4)},
		"model.diffusion_model.w_bf16":  {safetensors.DTypeBF16, []int64{2, 2}, arange(0, 4)},
		"cond_stage_model.position_ids": {safetensors.DTypeI64, []int64{1, 5}, arange(0, 5)},
		"model.view_tail":               {safetensors.DTypeF32, []int64{3, 4}, arange(12, 12)},
		"model.view_head":               {safetensors.DTypeF32, []int64{2, 4}, arange(0, 8)},
		"model.param":                   {safetensors.DTypeF32, []int64{3}, arange(0, 3)},
		"model.scalar":                  {safetensors.DTypeF32, []int64{}, []float64{7}},
		"model_ema.decay":               {safetensors.DTypeF32, []int64{}, []float64{float64(float32(0.9999))}},
		"model_ema.num_updates":         {safetensors.DTypeI32, []int64{}, []float64{3}},
		"model.mask":                    {safetensors.DTypeBOOL, []int64{3}, []float64{1, 0, 1}},
	}
	if len(h.Tensors) != len(want) {
		var names []string
		for _, ts := range h.Tensors {
			names = append(names, ts.Name)
		}
		t.Fatalf("got tensors %v, want %d (global_step and epoch are not tensors)", names, len(want))
	}
	for _, ts := range h.Tensors {
		w, ok := want[ts.Name]
		if !ok {
			t.Errorf("unexpected tensor %s", ts.Name)
			continue
		}
		if ts.DType != w.dt || !slices.Equal(ts.Shape, w.shape) {
			t.Errorf("%s: %s %v, want %s %v", ts.Name, ts.DType, ts.Shape, w.dt, w.shape)
		}
		b := make([]byte, ts.End-ts.Begin)
		if _, err := v.ReadAt(b, h.DataStart+ts.Begin); err != nil {
			t.Fatalf("%s: %v", ts.Name, err)
		}
		if got := values(t, ts.DType, b); !slices.Equal(got, w.vals) {
			t.Errorf("%s: values %v, want %v", ts.Name, got, w.vals)
		}
	}
}

// TestLowerCopiesFromTheFile: a plan that copies the whole virtual file's
// data reads the .ckpt itself after Lower, and executes to the same bytes.
func TestLowerCopiesFromTheFile(t *testing.T) {
	in := openFixture(t, "plain.pt")
	v, err := Open(in)
	if err != nil {
		t.Fatal(err)
	}
	vin := v.Input()
	h, err := safetensors.ReadHeader(vin)
	if err != nil {
		t.Fatal(err)
	}
	p := &checkpoint.Plan{Header: []byte{}, Inputs: []checkpoint.Input{vin}, Size: h.DataSize()}
	for _, ts := range h.Tensors {
		p.Steps = append(p.Steps, checkpoint.Step{Tensor: ts.Name, Input: 0, Offset: h.DataStart + ts.Begin, Length: ts.End - ts.Begin})
	}
	low, err := checkpoint.Lower(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(low.Inputs) != 1 || low.Inputs[0].R != in.R {
		t.Fatalf("lowered inputs %v, want the .pt file alone", low.Inputs)
	}
	var viaVirtual, viaLowered streamwriter.MemorySink
	if err := checkpoint.Execute(context.Background(), &checkpoint.Plan{Header: p.Header, Steps: p.Steps, Inputs: p.Inputs, Size: p.Size}, &viaVirtual, checkpoint.ExecuteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Execute(context.Background(), low, &viaLowered, checkpoint.ExecuteOptions{}); err != nil {
		t.Fatal(err)
	}
	direct := make([]byte, h.DataSize())
	if _, err := v.ReadAt(direct, h.DataStart); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(viaVirtual.Bytes(), direct) || !bytes.Equal(viaLowered.Bytes(), direct) {
		t.Fatal("executing the lowered plan gave other bytes than reading the virtual file")
	}
	// The Linear weight is arange(6) as float32.
	w, _ := h.Lookup("0.weight")
	if got := values(t, w.DType, direct[w.Begin:w.End]); !slices.Equal(got, arange(0, 6)) {
		t.Errorf("0.weight = %v", got)
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		file string
		is   error
		says string
	}{
		{"malicious.ckpt", ErrRefusedClass, "malicious.ckpt: pickle wants posix.system: refused (not a tensor state dict)"},
		{"noncontiguous.pt", ErrUnsupported, "tensor weight_t"},
		{"legacy.pt", ErrLegacyFormat, "re-save it with a current torch"},
		{"compressed.pt", ErrUnsupported, "is compressed"},
		{"size_bomb.ckpt", nil, "declares 1000000000000 F32 elements (4000000000000 bytes) but its entry holds 16 bytes: refused"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Open(openFixture(t, tc.file))
			if err == nil {
				t.Fatal("opened")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.says) || !strings.HasPrefix(err.Error(), tc.file+":") {
				t.Errorf("error %q: want it to start with the file name and say %q", err, tc.says)
			}
		})
	}
	if _, err := os.Stat("/tmp/ckptpack-pwned"); err == nil {
		t.Fatal("the malicious pickle's command ran")
	}
}

// TestScanRefusesBeforeBuilding: the opcode scan names the class of a GLOBAL
// and refuses declared lengths past the pickle's end, without unpickling.
func TestScanRefusesBeforeBuilding(t *testing.T) {
	for _, tc := range []struct {
		name, pkl, says string
	}{
		{"global", "\x80\x02cbuiltins\neval\nq\x00.", "pickle wants builtins.eval: refused"},
		{"inst", "(ibuiltins\nexec\n.", "pickle wants builtins.exec: refused"},
		{"bytes8 bomb", "\x80\x04\x8e\xff\xff\xff\xff\xff\x00\x00\x00.", "runs past the end of the pickle"},
		{"frame bomb", "\x80\x04\x95\x00\x00\x00\x00\x01\x00\x00\x00.", "runs past the end of the pickle"},
		{"no stop", "\x80\x02}q\x00", "no STOP opcode"},
		{"container bomb", "\x80\x02" + strings.Repeat("}", maxContainers+1) + ".", "far beyond any state dict: refused"},
		{"unknown opcode", "\x80\x02\xff.", "unknown pickle opcode 0xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := scanPickle("x.ckpt", []byte(tc.pkl))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %q", err, tc.says)
			}
		})
	}
	// STACK_GLOBAL names come from the stack: the resolver refuses them.
	a := &archive{in: checkpoint.Input{Name: "x.ckpt"}}
	_, err := a.unpickle([]byte("\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x04echo\x85R."))
	if err == nil || !strings.Contains(err.Error(), "x.ckpt: pickle wants os.system: refused") {
		t.Fatalf("STACK_GLOBAL os.system: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	for _, name := range []string{"state_dict.ckpt", "plain.pt", "size_bomb.ckpt", "malicious.ckpt"} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := checkpoint.Input{Name: "f.ckpt", R: bytes.NewReader(b), Size: int64(len(b))}
		v, err := Open(in)
		if err != nil {
			return
		}
		if _, err := safetensors.ReadHeader(v.Input()); err != nil {
			t.Fatalf("opened, but the virtual header is invalid: %v", err)
		}
	})
}
