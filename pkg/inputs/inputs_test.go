package inputs

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/internal/fixture"
	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// smallFile writes a safetensors file of n F32 tensors t0…t(n-1) of 4
// elements with distinct bytes, returning its path and data section.
func smallFile(t *testing.T, dir, name string, first, n int) (string, []byte) {
	t.Helper()
	var ts []safetensors.Tensor
	var data []byte
	for i := 0; i < n; i++ {
		ts = append(ts, safetensors.Tensor{Name: "t" + string(rune('a'+first+i)), DType: safetensors.DTypeF32, Shape: []int64{4}})
		for j := 0; j < 16; j++ {
			data = append(data, byte(17*(first+i)+j))
		}
	}
	if _, err := safetensors.AssignOffsets(ts); err != nil {
		t.Fatal(err)
	}
	h, err := safetensors.EncodeHeader(map[string]string{"format": "pt"}, ts)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, append(h, data...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// copyAll executes a plan that copies the whole data section of in, through
// Execute (which lowers virtual inputs), and returns the output.
func copyAll(t *testing.T, in checkpoint.Input) (out []byte, lowered *checkpoint.Plan) {
	t.Helper()
	h, err := safetensors.ReadHeader(in)
	if err != nil {
		t.Fatal(err)
	}
	p := &checkpoint.Plan{Inputs: []checkpoint.Input{in}, Size: h.DataSize()}
	for _, ts := range h.Tensors {
		p.Steps = append(p.Steps, checkpoint.Step{Tensor: ts.Name, Input: 0, Offset: h.DataStart + ts.Begin, Length: ts.End - ts.Begin})
	}
	var mem streamwriter.MemorySink
	if err := checkpoint.Execute(context.Background(), p, &mem, checkpoint.ExecuteOptions{}); err != nil {
		t.Fatal(err)
	}
	low, err := checkpoint.Lower(p)
	if err != nil {
		t.Fatal(err)
	}
	return mem.Bytes(), low
}

func TestShardedIndex(t *testing.T) {
	dir := t.TempDir()
	_, d1 := smallFile(t, dir, "m-00001-of-00002.safetensors", 0, 3)
	_, d2 := smallFile(t, dir, "m-00002-of-00002.safetensors", 3, 2)
	index := `{"metadata": {"total_size": 80}, "weight_map": {"ta": "m-00001-of-00002.safetensors", "tb": "m-00001-of-00002.safetensors",
		"tc": "m-00001-of-00002.safetensors", "td": "m-00002-of-00002.safetensors", "te": "m-00002-of-00002.safetensors"}}`
	os.WriteFile(filepath.Join(dir, "m.safetensors.index.json"), []byte(index), 0o644)
	var fsys OSFS
	defer fsys.Close()
	s, err := Open(&fsys, filepath.Join(dir, "m.safetensors.index.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, low := copyAll(t, s.Input)
	if !bytes.Equal(out, append(d1, d2...)) {
		t.Fatal("the sharded file's data is not its shards' data in order")
	}
	if len(low.Inputs) != 2 || len(low.Steps) != 5 {
		t.Errorf("lowered to %d inputs, %d steps; want the 2 shards, one step per tensor", len(low.Inputs), len(low.Steps))
	}
	for _, in := range low.Inputs {
		if _, ok := in.R.(*os.File); !ok {
			t.Errorf("lowered input %s reads through %T, not the shard file", in.Name, in.R)
		}
	}

	// The index and the shards must agree.
	for _, tc := range []struct{ index, says string }{
		{strings.Replace(index, `"te": "m-00002-of-00002.safetensors"`, `"te": "m-00001-of-00002.safetensors"`, 1), "puts tensor te in m-00001-of-00002.safetensors, which does not hold it"},
		{strings.Replace(index, `"te": "m-00002-of-00002.safetensors"`, `"te": "m-00002-of-00002.safetensors", "tz": "m-00002-of-00002.safetensors"`, 1), "puts tensor tz in m-00002-of-00002.safetensors, which does not hold it"},
		{strings.Replace(index, `, "te": "m-00002-of-00002.safetensors"`, ``, 1), "holds tensor te, which the weight map does not list"},
		{strings.Replace(index, `"te": "m-00002-of-00002.safetensors"`, `"te": "../m-00002-of-00002.safetensors"`, 1), "is not a file beside the index"},
		{`{"weight_map": {}}`, "no weight_map"},
	} {
		p := filepath.Join(dir, "bad.safetensors.index.json")
		os.WriteFile(p, []byte(tc.index), 0o644)
		_, err := Open(&fsys, p)
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.HasPrefix(err.Error(), p) {
			t.Errorf("got %v, want %q", err, tc.says)
		}
	}
}

// TestTorchZipData: a .ckpt made from a safetensors file reads back as the
// same tensors and bytes, and executing reads the .ckpt itself.
func TestTorchZipData(t *testing.T) {
	dir := t.TempDir()
	src, data := smallFile(t, dir, "w.safetensors", 0, 5)
	ckpt := filepath.Join(dir, "w.ckpt")
	if err := fixture.WriteTorchZip(src, ckpt, true); err != nil {
		t.Fatal(err)
	}
	var fsys OSFS
	defer fsys.Close()
	s, err := Open(&fsys, ckpt)
	if err != nil {
		t.Fatal(err)
	}
	out, low := copyAll(t, s.Input)
	if !bytes.Equal(out, data) {
		t.Fatal("the .ckpt's tensors are not the source's bytes")
	}
	if len(low.Inputs) != 1 || low.Inputs[0].Name != ckpt {
		t.Errorf("lowered inputs %+v, want the .ckpt", low.Inputs)
	}
}

// TestMapFSFolder: the browser's view of a dropped folder (paths relative
// to the folder's parent) opens like the OS folder.
func TestMapFSFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sdxl")
	if err := fixture.WriteSDXLDiffusers(dir); err != nil {
		t.Fatal(err)
	}
	m := MapFS{}
	var osfs OSFS
	defer osfs.Close()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(dir), p)
		in, err := osfs.Open(p)
		in.Name = filepath.ToSlash(rel)
		m[filepath.ToSlash(rel)] = in
		return err
	})
	if m.Root() != "sdxl" {
		t.Fatalf("root %q", m.Root())
	}
	s, err := Open(m, m.Root())
	if err != nil {
		t.Fatal(err)
	}
	if s.Pipeline != "StableDiffusionXLPipeline" || s.Model == nil || s.Model.Name != "unet" || len(s.Clip) != 2 || s.VAE == nil {
		t.Fatalf("pipeline %+v", s)
	}
	if s.Clip[1].Class != "CLIPTextModelWithProjection" || s.Clip[1].Input.Name != "sdxl/text_encoder_2/model.safetensors.index.json" {
		t.Errorf("text_encoder_2: %+v", s.Clip[1])
	}
	p, err := checkpoint.PlanCheckpoint(checkpoint.SaveRequest{Model: s.Model.Input, Clip: []checkpoint.Input{s.Clip[0].Input, s.Clip[1].Input}, VAE: s.VAE.Input})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "SDXL" {
		t.Errorf("architecture %s", p.Architecture)
	}
}

// TestShardedTorchBins: pytorch_model.bin.index.json over torch zip shards,
// as older transformers checkpoints are saved, in a component folder.
func TestShardedTorchBins(t *testing.T) {
	dir := t.TempDir()
	src1, d1 := smallFile(t, dir, "a.safetensors", 0, 2)
	src2, d2 := smallFile(t, dir, "b.safetensors", 2, 2)
	comp := filepath.Join(dir, "text_encoder")
	os.Mkdir(comp, 0o755)
	for i, src := range []string{src1, src2} {
		if err := fixture.WriteTorchZip(src, filepath.Join(comp, []string{"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"}[i]), false); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(comp, "pytorch_model.bin.index.json"), []byte(`{"weight_map": {"ta": "pytorch_model-00001-of-00002.bin",
		"tb": "pytorch_model-00001-of-00002.bin", "tc": "pytorch_model-00002-of-00002.bin", "td": "pytorch_model-00002-of-00002.bin"}}`), 0o644)
	os.WriteFile(filepath.Join(comp, "config.json"), []byte(`{}`), 0o644)
	var fsys OSFS
	defer fsys.Close()
	s, err := Open(&fsys, comp)
	if err != nil {
		t.Fatal(err)
	}
	out, low := copyAll(t, s.Input)
	if !bytes.Equal(out, append(d1, d2...)) {
		t.Fatal("sharded .bin data differs")
	}
	if len(low.Inputs) != 2 || !strings.HasSuffix(low.Inputs[0].Name, ".bin") {
		t.Errorf("lowered to %+v, want the two .bin files", low.Inputs)
	}
}

// TestTorchZipKernelCopy: executing into a file sink copies the .ckpt's
// ranges with the kernel's file-to-file copy (the lowered inputs are the
// *os.File itself), and the output holds the source tensors' bytes.
func TestTorchZipKernelCopy(t *testing.T) {
	dir := t.TempDir()
	src, data := smallFile(t, dir, "w.safetensors", 0, 6)
	ckpt := filepath.Join(dir, "w.ckpt")
	if err := fixture.WriteTorchZip(src, ckpt, false); err != nil {
		t.Fatal(err)
	}
	var fsys OSFS
	defer fsys.Close()
	s, err := Open(&fsys, ckpt)
	if err != nil {
		t.Fatal(err)
	}
	h, err := safetensors.ReadHeader(s.Input)
	if err != nil {
		t.Fatal(err)
	}
	p := &checkpoint.Plan{Inputs: []checkpoint.Input{s.Input}, Size: h.DataSize()}
	for _, ts := range h.Tensors {
		p.Steps = append(p.Steps, checkpoint.Step{Tensor: ts.Name, Input: 0, Offset: h.DataStart + ts.Begin, Length: ts.End - ts.Begin})
	}
	out := filepath.Join(dir, "out.bin")
	sink, err := streamwriter.CreateFile(out)
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingCopier{FileSink: sink}
	if err := checkpoint.Execute(context.Background(), p, counting, checkpoint.ExecuteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, data) {
		t.Fatal("output differs from the source tensors")
	}
	if counting.fromFile != int64(len(data)) {
		t.Errorf("%d of %d bytes were offered to CopyRange from the .ckpt file", counting.fromFile, len(data))
	}
}

// countingCopier counts the bytes CopyRange is asked to copy from *os.File
// sources.
type countingCopier struct {
	*streamwriter.FileSink
	fromFile int64
}

func (c *countingCopier) CopyRange(src io.ReaderAt, off, n int64) (int64, error) {
	if _, ok := src.(*os.File); ok {
		c.fromFile += n
	}
	return c.FileSink.CopyRange(src, off, n)
}
