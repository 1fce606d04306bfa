package main

import (
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/internal/fixture"
)

// Inputs other than single .safetensors files, through the CLI: torch
// checkpoints (testdata/torch, written by scripts/torchfixtures with a real
// torch), sharded checkpoints and diffusers folders (generated from the
// published diffusers configs by internal/fixture).

const torchFixtures = "../../testdata/torch"

type dryRun struct {
	Path         string                     `json:"path"`
	Bytes        int64                      `json:"bytes"`
	Architecture string                     `json:"architecture"`
	Header       map[string]json.RawMessage `json:"header"`
}

type headerInfo struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

func saveDryRun(t *testing.T, args ...string) dryRun {
	t.Helper()
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, append([]string{"save", "--dry-run", "--json", "--output-dir", out}, args...)...)
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	var res dryRun
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("output %q: %v", stdout, err)
	}
	return res
}

// checkAgainstOracle compares a planned header with the oracle's
// expected_checkpoint.json: the same keys, dtypes and shapes, data offsets
// tiling the data section.
func checkAgainstOracle(t *testing.T, arch string, res dryRun) {
	t.Helper()
	exp, err := fixture.LoadManifest(filepath.Join(oracleDir(t, arch), "expected_checkpoint.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Header)-1 != len(exp.Tensors) {
		t.Errorf("header has %d tensors, oracle %d", len(res.Header)-1, len(exp.Tensors))
	}
	var spans [][2]int64
	for _, e := range exp.Tensors {
		var got headerInfo
		if err := json.Unmarshal(res.Header[e.Key], &got); err != nil {
			t.Errorf("%s: %v", e.Key, err)
			continue
		}
		n, _ := e.NumBytes()
		if got.DType != e.DType || !slices.Equal(got.Shape, e.Shape) || got.Offsets[1]-got.Offsets[0] != n {
			t.Errorf("%s: %s %v %v, oracle %s %v (%d bytes)", e.Key, got.DType, got.Shape, got.Offsets, e.DType, e.Shape, n)
		}
		spans = append(spans, got.Offsets)
	}
	slices.SortFunc(spans, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	end := int64(0)
	for _, s := range spans {
		if s[0] != end {
			t.Fatalf("gap or overlap at %d: next tensor begins at %d", end, s[0])
		}
		end = s[1]
	}
}

// TestDiffusersFolderSDXL: a diffusers SDXL folder given as --model fills
// every slot (unet, text_encoder, sharded text_encoder_2, vae) and plans
// exactly the oracle's sdxl_base checkpoint.
func TestDiffusersFolderSDXL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stable-diffusion-xl-base-1.0")
	if err := fixture.WriteSDXLDiffusers(dir); err != nil {
		t.Fatal(err)
	}
	res := saveDryRun(t, "--model", dir)
	if res.Architecture != "SDXL" {
		t.Errorf("architecture %q", res.Architecture)
	}
	checkAgainstOracle(t, "sdxl_base", res)

	// The same components given slot by slot, the sharded encoder by its
	// index and by its folder, plan the same header.
	bySlot := saveDryRun(t, "--model", filepath.Join(dir, "unet"),
		"--clip", filepath.Join(dir, "text_encoder", "model.safetensors"),
		"--clip", filepath.Join(dir, "text_encoder_2", "model.safetensors.index.json"),
		"--vae", filepath.Join(dir, "vae"))
	if !mapsEqualJSON(bySlot.Header, res.Header) {
		t.Error("slot-by-slot inputs planned another header than the folder")
	}
	// A pipeline folder given to --clip or --vae gives that slot its components.
	viaSlots := saveDryRun(t, "--model", filepath.Join(dir, "unet"), "--clip", dir, "--vae", dir)
	if !mapsEqualJSON(viaSlots.Header, res.Header) {
		t.Error("the folder as --clip and --vae planned another header")
	}
	// An explicit --vae replaces the folder's VAE (the same one here).
	withVAE := saveDryRun(t, "--model", dir, "--vae", filepath.Join(dir, "vae", "diffusion_pytorch_model.safetensors"))
	if !mapsEqualJSON(withVAE.Header, res.Header) {
		t.Error("folder plus --vae planned another header")
	}
	code, stdout, stderr := runCLI(t, "inspect", dir)
	if code != 0 || !strings.Contains(stdout, "pipeline: StableDiffusionXLPipeline") || !strings.Contains(stdout, "[text_encoder_2] CLIPTextModelWithProjection") {
		t.Errorf("inspect folder: %d %q %q", code, stdout, stderr)
	}
}

func mapsEqualJSON(a, b map[string]json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if string(b[k]) != string(v) {
			return false
		}
	}
	return true
}

// TestDiffusersFolderErrors: what a broken folder says.
func TestDiffusersFolderErrors(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "sdxl")
	if err := fixture.WriteSDXLDiffusers(dir); err != nil {
		t.Fatal(err)
	}
	// A listed component whose folder is missing.
	if err := os.RemoveAll(filepath.Join(dir, "vae")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "save", "--dry-run", "--output-dir", t.TempDir(), "--model", dir)
	oneLineError(t, code, stderr, dir, "vae (AutoencoderKL)", "no vae/ folder")

	// A shard missing, and a weight map that disagrees with the shards.
	te2 := filepath.Join(dir, "text_encoder_2")
	idx := filepath.Join(te2, "model.safetensors.index.json")
	raw, _ := os.ReadFile(idx)
	os.WriteFile(idx, []byte(strings.Replace(string(raw), `"text_projection.weight": "model-00002-of-00002.safetensors"`, `"text_projection.weight": "model-00001-of-00002.safetensors"`, 1)), 0o644)
	code, _, stderr = runCLI(t, "inspect", idx)
	oneLineError(t, code, stderr, idx, "text_projection.weight")
	os.WriteFile(idx, raw, 0o644)
	os.Remove(filepath.Join(te2, "model-00002-of-00002.safetensors"))
	code, _, stderr = runCLI(t, "inspect", idx)
	oneLineError(t, code, stderr, "model-00002-of-00002.safetensors", "no such file")
}

// TestTorchCheckpoints: .ckpt/.pt files are read without running their
// pickle, wherever a file is taken.
func TestTorchCheckpoints(t *testing.T) {
	code, stdout, stderr := runCLI(t, "inspect", filepath.Join(torchFixtures, "state_dict.ckpt"), "--json")
	if code != 0 {
		t.Fatalf("inspect: %d %s", code, stderr)
	}
	var rep struct {
		Tensors int `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Tensors != 11 {
		t.Errorf("inspect state_dict.ckpt: %v %s", err, stdout)
	}
	os.Remove("/tmp/ckptpack-pwned")
	for _, tc := range []struct{ file, says string }{
		{"malicious.ckpt", "pickle wants posix.system: refused (not a tensor state dict)"},
		{"size_bomb.ckpt", "declares 1000000000000 F32 elements"},
		{"legacy.pt", "legacy torch format"},
		{"noncontiguous.pt", "tensor weight_t"},
	} {
		path := filepath.Join(torchFixtures, tc.file)
		code, _, stderr := runCLI(t, "inspect", path)
		oneLineError(t, code, stderr, path, tc.says)
		// In a save slot too, before anything is planned or written.
		_, clipL, vae := sparseSD15(t)
		out := filepath.Join(t.TempDir(), "output")
		code, _, stderr = runCLI(t, "save", "--output-dir", out, "--model", path, "--clip", clipL, "--vae", vae)
		oneLineError(t, code, stderr, path, tc.says)
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: the output folder was created", tc.file)
		}
	}
	if _, err := os.Stat("/tmp/ckptpack-pwned"); err == nil {
		t.Fatal("the malicious pickle's command ran")
	}
}

// TestTorchCheckpointInASlot: the sd15 VAE as a torch zip .ckpt (wrapped in
// {"state_dict": …}) plans the same checkpoint as the .safetensors VAE
// (bytes are checked in pkg/inputs and the page test).
func TestTorchCheckpointInASlot(t *testing.T) {
	unet, clipL, vae := sparseSD15(t)
	ckpt := filepath.Join(t.TempDir(), "vae.ckpt")
	if err := fixture.WriteTorchZip(vae, ckpt, true); err != nil {
		t.Fatal(err)
	}
	want := saveDryRun(t, "--model", unet, "--clip", clipL, "--vae", vae)
	got := saveDryRun(t, "--model", unet, "--clip", clipL, "--vae", ckpt)
	if !mapsEqualJSON(got.Header, want.Header) || got.Bytes != want.Bytes {
		t.Fatal("a .ckpt VAE planned another checkpoint than its .safetensors")
	}
}

// TestDiffusersFolderFlux: a diffusers FLUX.1-dev folder (sharded
// transformer and T5) plans the oracle's flux_dev checkpoint.
func TestDiffusersFolderFlux(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "FLUX.1-dev")
	if err := fixture.WriteFluxDiffusers(dir); err != nil {
		t.Fatal(err)
	}
	res := saveDryRun(t, "--model", dir)
	if res.Architecture != "Flux" {
		t.Errorf("architecture %q", res.Architecture)
	}
	checkAgainstOracle(t, "flux_dev", res)
}

// TestDiffusersFolderSD3: a diffusers SD3 medium folder (three text
// encoders, T5 sharded) plans the sd3_medium oracle.
func TestDiffusersFolderSD3(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stable-diffusion-3-medium-diffusers")
	if err := fixture.WriteSD3Diffusers(dir); err != nil {
		t.Fatal(err)
	}
	res := saveDryRun(t, "--model", dir)
	if res.Architecture != "SD3" {
		t.Errorf("architecture %q", res.Architecture)
	}
	checkAgainstOracle(t, "sd3_medium", res)
}

// TestDiffusersFolderSD15: a diffusers SD 1.5 folder (with a safety checker
// listed) plans the sd15 oracle.
func TestDiffusersFolderSD15(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stable-diffusion-v1-5")
	if err := fixture.WriteSD15Diffusers(dir); err != nil {
		t.Fatal(err)
	}
	res := saveDryRun(t, "--model", dir)
	if res.Architecture != "SD15" {
		t.Errorf("architecture %q", res.Architecture)
	}
	checkAgainstOracle(t, "sd15", res)
}

// TestTorchCheckpointSaveData: sd15 saved with its VAE as a .ckpt is the
// oracle's checkpoint byte for byte (the .ckpt's ranges copied by the
// kernel from the .ckpt file).
func TestTorchCheckpointSaveData(t *testing.T) {
	dir := componentFixtures(t, "sd15", false, "unet", "clip_l", "vae")
	out := scratchDir(t)
	ckpt := filepath.Join(out, "vae.ckpt")
	if err := fixture.WriteTorchZip(filepath.Join(dir, "vae.safetensors"), ckpt, true); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "save", "--output-dir", out, "--no-metadata",
		"--model", filepath.Join(dir, "unet.safetensors"), "--clip", filepath.Join(dir, "clip_l.safetensors"), "--vae", ckpt)
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	res, err := fixture.VerifyFile(strings.TrimSpace(stdout), "sd15")
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		var b strings.Builder
		res.Report(&b, 20)
		t.Fatalf("verify: %s\n%s", res.Summary(), b.String())
	}
}
