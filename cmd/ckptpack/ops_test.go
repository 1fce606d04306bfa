//go:build linux || darwin

package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/internal/fixture"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// sd15Checkpoint makes sure the full-size sd15 golden checkpoint and the
// VAE component exist and returns their folder.
func sd15Checkpoint(t *testing.T) string {
	t.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	dir := filepath.Join(fixturesRoot(t), "sd15")
	res, err := fixture.Generate("sd15", dir, fixture.GenerateOptions{Checkpoint: true, Only: []string{"vae", "unet"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Cached {
			t.Logf("generated %s (%d bytes)", r.Path, r.Size)
		}
	}
	return dir
}

func verifyAgainst(t *testing.T, path, arch, manifest string) {
	t.Helper()
	dir, err := fixture.ArchDir(arch)
	if err != nil {
		t.Fatal(err)
	}
	res, err := fixture.Verify(path, filepath.Join(dir, manifest+".json"), fixture.VerifyOptions{MetadataExact: true, Layout: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		var b strings.Builder
		res.Report(&b, 5)
		t.Errorf("%s against %s: %s\n%s", path, manifest, res.Summary(), b.String())
	}
}

// listFiles is every file below dir (relative), to check nothing partial
// is left.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestExtractDataParity extracts the VAE and the diffusion model from the
// full-size sd15 checkpoint through the CLI and checks every byte against
// what ComfyUI's VAESave and ModelSave wrote (vae.json, unet_modelsave.json),
// with ComfyUI's names in the output folder.
func TestExtractDataParity(t *testing.T) {
	dir := sd15Checkpoint(t)
	out := scratchDir(t)
	ckpt := filepath.Join(dir, "checkpoint.safetensors")
	code, stdout, stderr := runCLI(t, "extract", "--component", "vae", ckpt, "--output-dir", out, "--json")
	if code != exitOK {
		t.Fatalf("extract vae: %d %s", code, stderr)
	}
	var rep opReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	vaePath := filepath.Join(out, "vae", "ComfyUI_vae_00001_.safetensors")
	if len(rep.Results) != 1 || len(rep.Results[0].Outputs) != 1 || rep.Results[0].Outputs[0].Path != vaePath {
		t.Fatalf("report %+v", rep)
	}
	verifyAgainst(t, vaePath, "sd15", "vae")

	code, _, stderr = runCLI(t, "extract", "--component", "model", ckpt, "--output-dir", out)
	if code != exitOK {
		t.Fatalf("extract model: %d %s", code, stderr)
	}
	verifyAgainst(t, filepath.Join(out, "diffusion_models", "ComfyUI_00001_.safetensors"), "sd15", "unet_modelsave")

	// CLIPSave naming; the counter continues.
	for _, want := range []string{"ComfyUI_clip_l_00001_.safetensors", "ComfyUI_clip_l_00002_.safetensors"} {
		if code, _, stderr = runCLI(t, "extract", "--component", "clip", ckpt, "--output-dir", out); code != exitOK {
			t.Fatalf("extract clip: %d %s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(out, "clip", want)); err != nil {
			t.Error(err)
		}
	}
}

// TestExtractRefused: a VAE from a file without one is one error line
// naming the file; nothing is written.
func TestExtractRefused(t *testing.T) {
	dir := sd15Checkpoint(t)
	out := scratchDir(t)
	unet := filepath.Join(dir, "unet.safetensors")
	code, _, stderr := runCLI(t, "extract", "--component", "vae", unet, "--output-dir", out)
	oneLineError(t, code, stderr, unet, "not a VAE")
	if files := listFiles(t, out); len(files) != 0 {
		t.Errorf("left behind: %v", files)
	}
	code, _, stderr = runCLI(t, "extract", "--component", "lora", unet)
	if code != exitUsage {
		t.Errorf("--component lora: exit %d %s", code, stderr)
	}
}

// TestConvertCLI converts the F32 sd15 VAE to fp16 and checks every tensor
// against the engine's conversion of the input bytes; then batch behaviour,
// dry run and refusals.
func TestConvertCLI(t *testing.T) {
	dir := sd15Checkpoint(t)
	out := scratchDir(t)
	vae := filepath.Join(dir, "vae.safetensors")

	// A file of one component converts that component by default.
	code, stdout, stderr := runCLI(t, "convert", "--to", "fp16", vae, "--output-dir", out, "--dry-run")
	if code != exitOK || !strings.Contains(stdout, "248 tensors to F16 (F32 tensors of the VAE), 0 kept") {
		t.Errorf("VAE without --all: %d %q %q", code, stdout, stderr)
	}
	// A full checkpoint: only its diffusion model, as before.
	code, stdout, stderr = runCLI(t, "convert", "--to", "fp16", filepath.Join(dir, "checkpoint.safetensors"), "--output-dir", out, "--dry-run", "--json")
	var ck opReport
	if code != exitOK || json.Unmarshal([]byte(stdout), &ck) != nil || ck.Results[0].Convert.Rule != "F32 tensors of the diffusion model" {
		t.Errorf("checkpoint: %d %q %q", code, stdout, stderr)
	}

	code, stdout, stderr = runCLI(t, "convert", "--to", "fp16", "--all", vae, "--output-dir", out, "--dry-run", "--json")
	if code != exitOK {
		t.Fatalf("dry run: %d %s", code, stderr)
	}
	var rep opReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	res := rep.Results[0]
	if !rep.DryRun || res.Convert == nil || res.Convert.Converted != 248 || len(res.Outputs[0].Census) != 1 || res.Outputs[0].Census[0].DType != "F16" {
		t.Fatalf("dry run report %s", stdout)
	}
	if files := listFiles(t, out); len(files) != 0 {
		t.Errorf("dry run wrote %v", files)
	}

	// Batch: one good file, one that is not safetensors. The good one is
	// written, the bad one named, exit 1.
	bad := filepath.Join(out, "notes.safetensors")
	writeFile(t, bad, "hello")
	code, stdout, stderr = runCLI(t, "convert", "--to", "fp16", "--all", vae, bad, "--output-dir", out, "--json")
	if code != exitFailure || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "1 of 2 files failed") {
		t.Errorf("batch: exit %d, stderr %q", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || rep.Results[1].Error == "" || rep.Results[0].Error != "" {
		t.Errorf("batch report %s", stdout)
	}
	got := filepath.Join(out, "vae-fp16.safetensors")
	if rep.Results[0].Outputs[0].Path != got {
		t.Errorf("output %s, want %s", rep.Results[0].Outputs[0].Path, got)
	}
	checkConverted(t, vae, got)

	// Never overwritten.
	code, _, stderr = runCLI(t, "convert", "--to", "fp16", "--all", vae, "--output-dir", out)
	oneLineError(t, code, stderr, got, "exists")

	// fp8 of an I64 tensor: refused, naming file and key, nothing left.
	i64 := filepath.Join(out, "ids.safetensors")
	writeTensors(t, i64, map[string][]byte{"clip.position_ids": make([]byte, 77*8)}, "I64")
	before := listFiles(t, out)
	code, _, stderr = runCLI(t, "convert", "--to", "fp8", "--match", "position_ids", i64)
	oneLineError(t, code, stderr, i64, "clip.position_ids", "I64")
	if after := listFiles(t, out); len(after) != len(before) {
		t.Errorf("left behind: %v", after)
	}
}

// checkConverted compares every tensor of out with the F32→F16 conversion
// of the same tensor of in, computed here with float32 → float16 rounding
// through math/big-free float64 arithmetic (fixture.Float64ToF16).
func checkConverted(t *testing.T, in, out string) {
	t.Helper()
	read := func(path string) (*safetensors.Header, []byte) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		h, err := safetensors.ParseHeader(path, b[8:8+binary.LittleEndian.Uint64(b)], int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		return h, b
	}
	hi, bi := read(in)
	ho, bo := read(out)
	if len(hi.Tensors) != len(ho.Tensors) || len(ho.Metadata) != len(hi.Metadata) {
		t.Fatalf("%d tensors / %d metadata, want %d / %d", len(ho.Tensors), len(ho.Metadata), len(hi.Tensors), len(hi.Metadata))
	}
	for _, x := range hi.Tensors {
		y, ok := ho.Lookup(x.Name)
		if !ok || y.DType != "F16" {
			t.Fatalf("%s: missing or not F16", x.Name)
		}
		src := bi[hi.DataStart+x.Begin : hi.DataStart+x.End]
		dst := bo[ho.DataStart+y.Begin : ho.DataStart+y.End]
		for i := 0; i < len(src)/4; i++ {
			v := math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			if got, want := binary.LittleEndian.Uint16(dst[2*i:]), fixture.Float64ToF16(float64(v)); got != want {
				t.Fatalf("%s[%d] = %v: F16 %04x, want %04x", x.Name, i, v, got, want)
			}
		}
	}
}

// writeTensors writes a small safetensors file of 1-D tensors of dtype.
func writeTensors(t *testing.T, path string, tensors map[string][]byte, dtype safetensors.DType) {
	t.Helper()
	var ts []safetensors.Tensor
	for k, b := range tensors {
		ts = append(ts, safetensors.Tensor{Name: k, DType: dtype, Shape: []int64{int64(len(b)) * 8 / dtype.Bits()}})
	}
	safetensors.ReferenceOrder(ts)
	if _, err := safetensors.AssignOffsets(ts); err != nil {
		t.Fatal(err)
	}
	h, err := safetensors.EncodeHeader(nil, ts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.Write(h)
	for _, x := range ts {
		buf.Write(tensors[x.Name])
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPruneCLI: a file holding nothing but EMA shadows and a stray key is
// refused (its pruned copy would be empty), and nothing is written; with
// --keep-unused the stray key is kept and the EMA dropped. A real
// checkpoint plans a prune. Inspect reports those keys first.
func TestPruneCLI(t *testing.T) {
	out := scratchDir(t)
	in := filepath.Join(out, "tiny.safetensors")
	writeTensors(t, in, map[string][]byte{
		"model_ema.decay":       make([]byte, 4),
		"model_ema.num_updates": make([]byte, 4),
		"stray.alpha":           make([]byte, 4),
	}, "F32")
	code, stdout, stderr := runCLI(t, "inspect", in)
	if code != exitOK || !strings.Contains(stdout, "unused keys:") || !strings.Contains(stdout, "stray.alpha") || !strings.Contains(stdout, "EMA:") {
		t.Errorf("inspect: %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "prune", in)
	oneLineError(t, code, stderr, in, "prune recognises nothing in it", "3 tensors", "refusing to write an empty checkpoint")
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
	code, stdout, stderr = runCLI(t, "prune", in, "--json")
	var rep opReport
	if code != exitFailure || json.Unmarshal([]byte(stdout), &rep) != nil || rep.Failed != 1 || !strings.Contains(rep.Results[0].Error, "recognises nothing") {
		t.Errorf("prune --json: %d %s %s", code, stdout, stderr)
	}
	assertOnly(t, out, "tiny.safetensors")

	code, stdout, stderr = runCLI(t, "prune", in, "--keep-unused", "--json")
	if code != exitOK {
		t.Fatalf("prune --keep-unused: %d %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	p := rep.Results[0].Prune
	if p == nil || p.DroppedEMA != 2 || p.DroppedUnused != 0 || rep.Results[0].Outputs[0].Tensors != 1 {
		t.Errorf("prune report %s", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "tiny-pruned.safetensors")); err != nil {
		t.Error(err)
	}
	code, _, stderr = runCLI(t, "prune", "--ema", "promote", in)
	oneLineError(t, code, stderr, in, "no model_ema")

	ckpt := filepath.Join(sd15Checkpoint(t), "checkpoint.safetensors")
	code, stdout, stderr = runCLI(t, "prune", ckpt, "--dry-run", "--output-dir", out)
	if code != exitOK || !strings.Contains(stdout, "would write") {
		t.Errorf("prune of a checkpoint: %d %q %q", code, stdout, stderr)
	}
}
