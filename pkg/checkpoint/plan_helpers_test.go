package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/internal/fixture"
	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// memFile is an in-memory safetensors file for plan-only tests: the real
// header bytes, zeros as data except for the tensors given content.
type memFile struct {
	header []byte
	size   int64
	data   map[int64][]byte // absolute offset -> bytes
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > f.size-off {
		n = int(f.size - off)
	}
	for i := range p[:n] {
		p[i] = 0
	}
	if off < int64(len(f.header)) {
		copy(p[:n], f.header[off:])
	}
	for at, b := range f.data {
		lo, hi := max(at, off), min(at+int64(len(b)), off+int64(n))
		if lo < hi {
			copy(p[lo-off:hi-off], b[lo-at:hi-at])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// testTensor is one tensor of a test file.
type testTensor struct {
	Name  string
	DType safetensors.DType
	Shape []int64
	Data  []byte // optional content
}

// makeInput lays tensors out as the Python writer does and returns an
// in-memory Input with the encoded header.
func makeInput(t testing.TB, name string, tensors []testTensor, meta map[string]string) Input {
	t.Helper()
	ts := make([]safetensors.Tensor, len(tensors))
	content := map[string][]byte{}
	for i, x := range tensors {
		ts[i] = safetensors.Tensor{Name: x.Name, DType: x.DType, Shape: x.Shape}
		if x.Data != nil {
			content[x.Name] = x.Data
		}
	}
	safetensors.ReferenceOrder(ts)
	dataSize, err := safetensors.AssignOffsets(ts)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	hdr, err := safetensors.EncodeHeader(meta, ts)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	f := &memFile{header: hdr, size: int64(len(hdr)) + dataSize, data: map[int64][]byte{}}
	for _, x := range ts {
		if b, ok := content[x.Name]; ok {
			f.data[int64(len(hdr))+x.Begin] = b
		}
	}
	return Input{Name: name, R: f, Size: f.size}
}

// oracleManifest loads testdata/oracle/<arch>/<file>.json.
func oracleManifest(t testing.TB, arch, file string) *fixture.Manifest {
	t.Helper()
	dir, err := fixture.ArchDir(arch)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fixture.LoadManifest(filepath.Join(dir, file+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// manifestTensors turns manifest entries into test tensors, with the
// content of entries that fix a value.
func manifestTensors(t testing.TB, m *fixture.Manifest) []testTensor {
	t.Helper()
	out := make([]testTensor, 0, len(m.Tensors))
	for _, e := range m.Tensors {
		x := testTensor{Name: e.Key, DType: safetensors.DType(e.DType), Shape: e.Shape}
		if e.Value != nil {
			b, err := fixture.EncodeValues(e.Value, e.DType)
			if err != nil {
				t.Fatal(err)
			}
			x.Data = b
		}
		out = append(out, x)
	}
	return out
}

func manifestMeta(m *fixture.Manifest) map[string]string {
	if m.Metadata == nil {
		return nil
	}
	meta := map[string]string{}
	for _, kv := range m.Metadata {
		meta[kv.Key] = kv.Value
	}
	return meta
}

// manifestInput is a header-only input built from an oracle manifest,
// named after the component.
func manifestInput(t testing.TB, arch, component string) Input {
	m := oracleManifest(t, arch, component)
	return makeInput(t, component, manifestTensors(t, m), manifestMeta(m))
}

// componentRequest is the SaveRequest of an oracle architecture: unet as
// the model, every text encoder (in the order given) as clip, vae.
func componentRequest(t testing.TB, arch string, clips ...string) SaveRequest {
	req := SaveRequest{Model: manifestInput(t, arch, "unet"), VAE: manifestInput(t, arch, "vae"), Title: "ComfyUI 1"}
	for _, c := range clips {
		req.Clip = append(req.Clip, manifestInput(t, arch, c))
	}
	return req
}

// headerOf re-reads an input's header (to find a component tensor's bytes).
func headerOf(t testing.TB, in Input) *safetensors.Header {
	t.Helper()
	h, err := safetensors.ReadHeader(in)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// executeToMemory executes p into memory and returns the bytes written and
// their parsed header.
func executeToMemory(t testing.TB, p *Plan) ([]byte, *safetensors.Header) {
	t.Helper()
	var sink streamwriter.MemorySink
	if err := Execute(context.Background(), p, &sink, ExecuteOptions{}); err != nil {
		t.Fatal(err)
	}
	out := sink.Bytes()
	h, err := safetensors.ParseHeader("out", out[8:binary.LittleEndian.Uint64(out)+8], int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	return out, h
}

// stateDictTensors lists sd's tensors, by name, as dtype tensors.
func stateDictTensors(sd comfy.StateDict, dtype safetensors.DType) []testTensor {
	var ts []testTensor
	for _, k := range sd.SortedKeys() {
		ts = append(ts, testTensor{Name: k, DType: dtype, Shape: sd[k].Shape})
	}
	return ts
}

func sortedNames(ts []safetensors.Tensor) []string {
	out := make([]string, len(ts))
	for i, x := range ts {
		out[i] = x.Name
	}
	sort.Strings(out)
	return out
}

func f32le(v float32) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)) }

func f16le(vals ...float64) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint16(b, fixture.Float64ToF16(v))
	}
	return b
}

// segment is where a run of an output tensor's bytes comes from: bytes
// [Start, End) of tensor Tensor of input File (transposed when Transpose).
type segment struct {
	File       string
	Tensor     string
	Start, End int64
	Transpose  bool
}

// provenance maps every output tensor of p to its source segments (merged
// where contiguous) or, for computed tensors, to its inline bytes.
func provenance(t testing.TB, p *Plan) (map[string][]segment, map[string][]byte) {
	t.Helper()
	headers := make([]*safetensors.Header, len(p.Inputs))
	for i, in := range p.Inputs {
		headers[i] = headerOf(t, in)
	}
	segs := map[string][]segment{}
	inline := map[string][]byte{}
	for _, s := range p.Steps {
		if s.Input < 0 {
			inline[s.Tensor] = append(inline[s.Tensor], s.Data...)
			continue
		}
		h := headers[s.Input]
		rel := s.Offset - h.DataStart
		i := sort.Search(len(h.Tensors), func(i int) bool { return h.Tensors[i].End > rel })
		if i == len(h.Tensors) || h.Tensors[i].Begin > rel || rel+s.Length > h.Tensors[i].End {
			t.Fatalf("%s: step %+v is not inside one tensor of %s", s.Tensor, s, p.Inputs[s.Input].Name)
		}
		src := h.Tensors[i]
		seg := segment{File: p.Inputs[s.Input].Name, Tensor: src.Name, Start: rel - src.Begin, End: rel - src.Begin + s.Length, Transpose: s.Transpose != nil}
		if l := segs[s.Tensor]; len(l) > 0 {
			last := &l[len(l)-1]
			if last.File == seg.File && last.Tensor == seg.Tensor && last.End == seg.Start && !last.Transpose && !seg.Transpose {
				last.End = seg.End
				continue
			}
		}
		segs[s.Tensor] = append(segs[s.Tensor], seg)
	}
	return segs, inline
}

// checkHeader compares p's tensors and metadata with an expected manifest
// and checks that p.Header encodes exactly them.
func checkHeader(t *testing.T, p *Plan, want *fixture.Manifest) {
	t.Helper()
	got := map[string]safetensors.Tensor{}
	for _, x := range p.Tensors {
		got[x.Name] = x
	}
	for _, e := range want.Tensors {
		g, ok := got[e.Key]
		if !ok {
			t.Errorf("missing tensor %s", e.Key)
			continue
		}
		if string(g.DType) != e.DType || !slices.Equal(g.Shape, e.Shape) {
			t.Errorf("%s: got %s %v, want %s %v", e.Key, g.DType, g.Shape, e.DType, e.Shape)
		}
		delete(got, e.Key)
	}
	for k := range got {
		t.Errorf("unexpected tensor %s", k)
	}
	wantMeta := manifestMeta(want)
	if len(wantMeta) != len(p.Metadata) {
		t.Errorf("metadata: got %v, want %v", p.Metadata, wantMeta)
	}
	for k, v := range wantMeta {
		if p.Metadata[k] != v {
			t.Errorf("metadata %s: got %q, want %q", k, p.Metadata[k], v)
		}
	}
	// The header bytes say the same, in the reference order.
	h, err := safetensors.ParseHeader("plan", p.Header[8:], p.Size)
	if err != nil {
		t.Fatalf("plan header: %v", err)
	}
	if int64(len(p.Header)) != h.DataStart || len(p.Header)%8 != 0 {
		t.Errorf("header is %d bytes, data starts at %d", len(p.Header), h.DataStart)
	}
	if len(h.Tensors) != len(p.Tensors) {
		t.Fatalf("header has %d tensors, plan %d", len(h.Tensors), len(p.Tensors))
	}
	order := make([]safetensors.Tensor, len(p.Tensors))
	copy(order, p.Tensors)
	safetensors.ReferenceOrder(order)
	for i := range h.Tensors {
		a, b := h.Tensors[i], p.Tensors[i]
		if a.Name != b.Name || a.Begin != b.Begin || a.End != b.End || order[i].Name != b.Name {
			t.Fatalf("header tensor %d: %+v, plan %+v, reference order %s", i, a, b, order[i].Name)
		}
	}
	if len(h.Metadata) != len(p.Metadata) {
		t.Errorf("header metadata %v, plan %v", h.Metadata, p.Metadata)
	}
	var total int64
	for _, s := range p.Steps {
		total += s.Length
	}
	if int64(len(p.Header))+total != p.Size {
		t.Errorf("steps cover %d bytes after a %d-byte header, plan size %d", total, len(p.Header), p.Size)
	}
}

// checkSources checks every output tensor's byte mapping against the
// manifest's source: copy, concat (q, k, v in order), transpose, arange,
// const. component maps a manifest component name to the input name that
// holds it.
func checkSources(t *testing.T, p *Plan, want *fixture.Manifest, component func(string) string) {
	t.Helper()
	segs, inline := provenance(t, p)
	comps := map[string]*fixture.Manifest{}
	sizeOf := func(ref fixture.SourceRef) int64 {
		m := comps[ref.Component]
		if m == nil {
			m = oracleManifest(t, filepath.Base(filepath.Dir(want.Path)), strings.TrimSuffix(want.Components[ref.Component], ".json"))
			comps[ref.Component] = m
		}
		e, ok := m.Lookup(ref.Key)
		if !ok {
			t.Fatalf("component %s has no %s", ref.Component, ref.Key)
		}
		n, _ := e.NumBytes()
		return n
	}
	for _, e := range want.Tensors {
		src := e.Source
		got := segs[e.Key]
		switch src.Op {
		case "copy", "concat", "transpose":
			var exp []segment
			for _, ref := range src.From {
				exp = append(exp, segment{File: component(ref.Component), Tensor: ref.Key, End: sizeOf(ref), Transpose: src.Op == "transpose"})
			}
			if len(got) != len(exp) {
				t.Errorf("%s (%s): got segments %+v, want %+v", e.Key, src.Op, got, exp)
				continue
			}
			for i := range exp {
				if got[i] != exp[i] {
					t.Errorf("%s (%s) segment %d: got %+v, want %+v", e.Key, src.Op, i, got[i], exp[i])
				}
			}
		case "arange", "const":
			if len(got) != 0 {
				t.Errorf("%s (%s) reads inputs: %+v", e.Key, src.Op, got)
			}
			var vals []string
			if src.Op == "arange" {
				for v := src.Start; v < src.End; v++ {
					vals = append(vals, strconv.FormatInt(v, 10))
				}
			} else {
				for _, v := range src.Value {
					vals = append(vals, fmt.Sprint(v))
				}
			}
			nums := make([]json.Number, len(vals))
			for i, v := range vals {
				nums[i] = json.Number(v)
			}
			wantBytes, err := fixture.EncodeValues(nums, e.DType)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(inline[e.Key], wantBytes) {
				t.Errorf("%s (%s): inline bytes %x, want %x", e.Key, src.Op, inline[e.Key], wantBytes)
			}
		default:
			t.Errorf("%s: unknown source op %q", e.Key, src.Op)
		}
	}
}
