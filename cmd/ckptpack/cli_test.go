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

// sparseSD15 returns full-size sd15 component files whose data is a hole:
// planning reads only headers, so they serve every test that stops before
// (or does not look at) the data.
func sparseSD15(t *testing.T) (unet, clipL, vae string) {
	dir := componentFixtures(t, "sd15", true, "unet", "clip_l", "vae")
	return filepath.Join(dir, "unet.safetensors"), filepath.Join(dir, "clip_l.safetensors"), filepath.Join(dir, "vae.safetensors")
}

func TestUsageErrors(t *testing.T) {
	cases := [][]string{
		{},
		{"frobnicate"},
		{"save"},
		{"save", "--model", "a", "--clip", "b"},
		{"save", "--model", "a", "--clip", "b", "--vae", "c", "--prediction", "x"},
		{"save", "--model", "a", "--clip", "b", "--vae", "c", "stray"},
		{"save", "--bogus"},
		{"inspect"},
		{"inspect", "a", "b"},
	}
	for _, args := range cases {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitUsage || stdout != "" || stderr == "" {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want status 2 and a message", args, code, stdout, stderr)
		}
	}
	if code, stdout, _ := runCLI(t, "save", "-h"); code != 0 {
		t.Errorf("save -h: status %d", code)
	} else if stdout != "" {
		t.Errorf("save -h printed to stdout: %q", stdout)
	}
}

func TestSaveBadInputs(t *testing.T) {
	unet, clipL, vae := sparseSD15(t)
	sdxl := componentFixtures(t, "sdxl_base", true, "clip_l", "clip_g", "vae")
	tmp := t.TempDir()

	// A component file cut short: its header promises more data than the
	// file holds.
	truncated := filepath.Join(tmp, "unet-truncated.safetensors")
	copySparse(t, unet, truncated, -1000)
	notSafetensors := filepath.Join(tmp, "notes.safetensors")
	os.WriteFile(notSafetensors, []byte("these are not tensors at all"), 0o600)

	cases := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"missing file", []string{"--model", filepath.Join(tmp, "nope.safetensors"), "--clip", clipL, "--vae", vae}, []string{"nope.safetensors", "no such file"}},
		{"folder as input", []string{"--model", tmp, "--clip", clipL, "--vae", vae}, []string{tmp, "folder"}},
		{"truncated model", []string{"--model", truncated, "--clip", clipL, "--vae", vae}, []string{truncated}},
		{"not safetensors", []string{"--model", unet, "--clip", clipL, "--vae", notSafetensors}, []string{notSafetensors}},
		{"vae in the model slot", []string{"--model", vae, "--clip", clipL, "--vae", vae}, []string{vae}},
		{"unet in the clip slot", []string{"--model", unet, "--clip", unet, "--vae", vae}, []string{unet}},
		{"sd15 model with sdxl encoders", []string{"--model", unet, "--clip", filepath.Join(sdxl, "clip_l.safetensors"), "--clip", filepath.Join(sdxl, "clip_g.safetensors"), "--vae", filepath.Join(sdxl, "vae.safetensors")}, nil},
		{"prefix escaping the output folder", []string{"--model", unet, "--clip", clipL, "--vae", vae, "--filename-prefix", "../escape/ComfyUI"}, []string{"../escape/ComfyUI"}},
		{"absolute prefix", []string{"--model", unet, "--clip", clipL, "--vae", vae, "--filename-prefix", filepath.Join(tmp, "abs", "ComfyUI")}, []string{"abs"}},
		{"bad prompt JSON", []string{"--model", unet, "--clip", clipL, "--vae", vae, "--prompt", "{nope"}, []string{"--prompt", "JSON"}},
		{"bad metadata", []string{"--model", unet, "--clip", clipL, "--vae", vae, "--metadata", "novalue"}, []string{"novalue", "key=value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "output")
			args := append([]string{"save", "--output-dir", out}, tc.args...)
			code, stdout, stderr := runCLI(t, args...)
			oneLineError(t, code, stderr, tc.wants...)
			if stdout != "" {
				t.Errorf("stdout %q on failure", stdout)
			}
			// Nothing may be written anywhere on failure: no checkpoint, no
			// temporary file, not even the output folder.
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
			if _, err := os.Stat(filepath.Join(tmp, "escape")); err == nil {
				t.Error("a folder outside the output folder was created")
			}
		})
	}
	if fi, err := os.Stat(unet); err != nil || fi.Size() == 0 {
		t.Error("input changed")
	}
}

// copySparse copies src to dst keeping holes (the data of a sparse fixture is
// zeros) and changes its length by delta bytes.
func copySparse(t *testing.T, src, dst string, delta int64) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	fi, _ := in.Stat()
	head := make([]byte, min(fi.Size(), 16<<20))
	if _, err := in.ReadAt(head, 0); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := out.Write(head); err != nil {
		t.Fatal(err)
	}
	if err := out.Truncate(fi.Size() + delta); err != nil {
		t.Fatal(err)
	}
}

// ComfyUI's counter: every entry of the folder whose name is the filename,
// "_", digits counts (any extension, folders too); the next is max + 1.
func TestSaveCounterOverExistingFiles(t *testing.T) {
	unet, clipL, vae := sparseSD15(t)
	out := t.TempDir()
	ckpts := filepath.Join(out, "checkpoints")
	os.MkdirAll(filepath.Join(ckpts, "ComfyUI_00009_"), 0o755)
	for _, name := range []string{"ComfyUI_00007_.png", "ComfyUI_00002_.safetensors", "ComfyUIx_00050_.safetensors", "other_00099_.safetensors"} {
		os.WriteFile(filepath.Join(ckpts, name), nil, 0o600)
	}
	code, stdout, stderr := runCLI(t, "save", "--dry-run", "--model", unet, "--clip", clipL, "--vae", vae, "--output-dir", out)
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	if want := filepath.Join(ckpts, "ComfyUI_00010_.safetensors"); !strings.Contains(stdout, want) {
		t.Errorf("dry run printed %q, want the path %s", stdout, want)
	}
	// Another prefix and subfolder: the folder does not exist yet, so the
	// counter starts at 1, and a dry run does not create it.
	code, stdout, stderr = runCLI(t, "save", "--dry-run", "--json", "--model", unet, "--clip", clipL, "--vae", vae, "--output-dir", out, "--filename-prefix", "merges/sd15/mine")
	var res saveResult
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil {
		t.Fatalf("status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if want := filepath.Join(out, "merges", "sd15", "mine_00001_.safetensors"); res.Path != want {
		t.Errorf("path %q, want %q", res.Path, want)
	}
	if _, err := os.Stat(filepath.Join(out, "merges")); err == nil {
		t.Error("--dry-run created the output subfolder")
	}
}

// --dry-run --json prints the exact planned header: every key of the
// oracle's expected checkpoint with its dtype and shape, offsets tiling the
// data section, and the __metadata__ ComfyUI would write.
func TestSaveDryRunJSON(t *testing.T) {
	unet, clipL, vae := sparseSD15(t)
	exp, err := fixture.LoadManifest(filepath.Join(oracleDir(t, "sd15"), "expected_checkpoint.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, noMeta := range []bool{false, true} {
		out := t.TempDir()
		args := []string{"save", "--dry-run", "--json", "--model", unet, "--clip", clipL, "--vae", vae, "--output-dir", out,
			"--prompt", `{"1":{"inputs":{}}}`, "--extra-pnginfo", `{"workflow":{"nodes":[]}}`}
		if noMeta {
			args = append(args, "--no-metadata")
		}
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("status %d: %s", code, stderr)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("--dry-run wrote %d entries", len(entries))
		}
		var res struct {
			Path         string                     `json:"path"`
			Bytes        int64                      `json:"bytes"`
			Architecture string                     `json:"architecture"`
			DryRun       bool                       `json:"dry_run"`
			Header       map[string]json.RawMessage `json:"header"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("output %q: %v", stdout, err)
		}
		if !res.DryRun || res.Architecture != "SD15" {
			t.Errorf("dry_run %v architecture %q", res.DryRun, res.Architecture)
		}
		var meta map[string]string
		if err := json.Unmarshal(res.Header["__metadata__"], &meta); err != nil {
			t.Fatalf("__metadata__: %v", err)
		}
		want := map[string]string{"modelspec.predict_key": "epsilon", "prompt": `{"1": {"inputs": {}}}`, "workflow": `{"nodes": []}`}
		if noMeta {
			// --disable-metadata drops prompt and extra_pnginfo only.
			want = map[string]string{"modelspec.predict_key": "epsilon"}
		}
		if !mapsEqual(meta, want) {
			t.Errorf("no-metadata=%v: __metadata__ %v, want %v", noMeta, meta, want)
		}
		if len(res.Header)-1 != len(exp.Tensors) {
			t.Errorf("header has %d tensors, oracle %d", len(res.Header)-1, len(exp.Tensors))
		}
		type info struct {
			DType   string   `json:"dtype"`
			Shape   []int64  `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		var spans [][2]int64
		for _, e := range exp.Tensors {
			var got info
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
		// Offsets tile the data section from 0 to its end, no gaps.
		slices.SortFunc(spans, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
		end := int64(0)
		for _, s := range spans {
			if s[0] != end {
				t.Fatalf("gap or overlap at %d: next tensor begins at %d", end, s[0])
			}
			end = s[1]
		}
		if res.Bytes <= end || res.Bytes-end > 100<<20 {
			t.Errorf("size %d for a data section of %d bytes", res.Bytes, end)
		}
	}
}

func TestInspect(t *testing.T) {
	unet, _, _ := sparseSD15(t)
	code, stdout, stderr := runCLI(t, "inspect", unet, "--json")
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	var rep struct {
		File         string         `json:"file"`
		Bytes        int64          `json:"bytes"`
		Architecture string         `json:"architecture"`
		Missing      []string       `json:"missing"`
		DTypes       map[string]int `json:"dtypes"`
		Tensors      int            `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%q: %v", stdout, err)
	}
	fi, _ := os.Stat(unet)
	if rep.File != unet || rep.Bytes != fi.Size() || rep.Architecture != "SD15" || rep.Tensors == 0 || rep.DTypes["F16"] == 0 {
		t.Errorf("report %+v", rep)
	}
	if !slices.Contains(rep.Missing, "clip") || !slices.Contains(rep.Missing, "vae") {
		t.Errorf("a bare unet should miss clip and vae: %v", rep.Missing)
	}
	code, stdout, stderr = runCLI(t, "inspect", unet)
	if code != 0 || !strings.Contains(stdout, "SD15") || !strings.Contains(stdout, "missing:") || !strings.Contains(stdout, "F16") {
		t.Errorf("human report (status %d, %s):\n%s", code, stderr, stdout)
	}
	tmp := filepath.Join(t.TempDir(), "short.safetensors")
	copySparse(t, unet, tmp, -8)
	code, _, stderr = runCLI(t, "inspect", tmp)
	oneLineError(t, code, stderr, tmp)
}
