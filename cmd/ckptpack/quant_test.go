//go:build linux || darwin

package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// writeLayers writes a small safetensors file of two BF16 Linear layers
// with weight-like values and F32 biases.
func writeLayers(t *testing.T, path string) {
	t.Helper()
	ts := []safetensors.Tensor{
		{Name: "blocks.0.attn.qkv.weight", DType: safetensors.DTypeBF16, Shape: []int64{96, 64}},
		{Name: "blocks.0.attn.qkv.bias", DType: safetensors.DTypeF32, Shape: []int64{96}},
		{Name: "blocks.0.mlp.fc1.weight", DType: safetensors.DTypeBF16, Shape: []int64{128, 64}},
	}
	safetensors.ReferenceOrder(ts)
	size, err := safetensors.AssignOffsets(ts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := safetensors.EncodeHeader(nil, ts)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	for _, x := range ts {
		es := int64(2)
		if x.DType == safetensors.DTypeF32 {
			es = 4
		}
		for i := x.Begin; i < x.End; i += es {
			v := float32(math.Sin(float64(i))) * 0.05
			if es == 4 {
				binary.LittleEndian.PutUint32(data[i:], math.Float32bits(v))
			} else {
				binary.LittleEndian.PutUint16(data[i:], uint16(math.Float32bits(v)>>16))
			}
		}
	}
	if err := os.WriteFile(path, append(h, data...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestQuantizeCLI: convert --to nvfp4 writes the comfy_quant layers,
// inspect names the format, prune keeps every scale and marker, and
// convert --to fp16 of the quantized file leaves the layers alone.
func TestQuantizeCLI(t *testing.T) {
	dir := scratchDir(t)
	in := filepath.Join(dir, "layers.safetensors")
	writeLayers(t, in)
	code, stdout, stderr := runCLI(t, "convert", "--to", "nvfp4", "--match", `weight$`, in)
	if code != exitOK || !strings.Contains(stdout, "2 layers to nvfp4") {
		t.Fatalf("convert: %d %s %s", code, stdout, stderr)
	}
	q := filepath.Join(dir, "layers-nvfp4.safetensors")
	code, stdout, stderr = runCLI(t, "inspect", q)
	if code != exitOK || !strings.Contains(stdout, "quantization:") || !strings.Contains(stdout, "nvfp4  2 layers  (comfy_quant)") {
		t.Errorf("inspect: %d %s %s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "inspect", "--json", q)
	var r checkpoint.Report
	if code != exitOK || json.Unmarshal([]byte(stdout), &r) != nil || len(r.Quantization) != 1 || r.Quantization[0].Layers != 2 {
		t.Errorf("inspect --json: %d %s %s", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, "prune", "--keep-unused", q)
	if code != exitOK {
		t.Fatalf("prune: %s", stderr)
	}
	code, stdout, _ = runCLI(t, "inspect", filepath.Join(dir, "layers-nvfp4-pruned.safetensors"))
	if code != exitOK || !strings.Contains(stdout, "nvfp4  2 layers") {
		t.Errorf("pruned: %s", stdout)
	}
	code, stdout, stderr = runCLI(t, "convert", "--to", "fp16", "--match", `.`, q)
	if code != exitFailure || !strings.Contains(stderr, "quantized layer") {
		t.Errorf("fp16 --match . of a quantized file: %d %s %s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "convert", "--to", "nvfp4", "--exclude", "x", "--to", "fp16", in)
	if code == exitOK {
		t.Errorf("--exclude with fp16: %d %s", code, stdout)
	}
	_ = stderr
}
