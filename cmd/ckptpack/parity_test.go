//go:build linux || darwin

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	nlpst "github.com/nlpodyssey/safetensors"

	"github.com/ckptpack/ckptpack/internal/fixture"
	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Full data parity: the real CLI assembles full-size fixtures of each
// architecture and every byte of every output tensor is checked against the
// oracle manifest's source (copy / concat / transpose / arange / const) with
// internal/fixture's verifier. sd15 is also re-read whole by an independent
// safetensors implementation; the 7 GB sdxl output only by our header reader.
func TestSaveDataParity(t *testing.T) {
	cases := []struct {
		arch        string
		model       string
		clips       []string // deliberately not in checkpoint order
		sha256      bool     // buffered path with hashing; otherwise the kernel-copy path
		independent bool
	}{
		{arch: "sd15", model: "unet", clips: []string{"clip_l"}, sha256: true, independent: true},
		{arch: "sdxl_base", model: "unet", clips: []string{"clip_l", "clip_g"}},
	}
	for _, tc := range cases {
		t.Run(tc.arch, func(t *testing.T) {
			comps := append([]string{tc.model, "vae"}, tc.clips...)
			start := time.Now()
			dir := componentFixtures(t, tc.arch, false, comps...)
			t.Logf("fixtures ready in %v", time.Since(start).Round(time.Millisecond))

			out := scratchDir(t)
			args := []string{"save", "--model", filepath.Join(dir, tc.model+".safetensors"), "--vae", filepath.Join(dir, "vae.safetensors"),
				"--output-dir", out, "--json",
				"--prompt", `{"4": {"inputs": {"ckpt_name": "x"}, "class_type": "CheckpointLoaderSimple"}}`,
				"--metadata", "modelspec.author=ckptpack test"}
			for _, c := range tc.clips {
				args = append(args, "--clip", filepath.Join(dir, c+".safetensors"))
			}
			if tc.sha256 {
				args = append(args, "--sha256")
			}
			wantWorkflow := ""
			if tc.independent {
				wf := filepath.Join(out, "workflow.json")
				writeFile(t, wf, `{"last_node_id":4,"nodes":[{"id":4,"type":"CheckpointSave","widgets_values":["checkpoints/ComfyUI"]}],"extra":{"ds":{"scale":1.0}},"note":"café <b>"}`)
				args = append(args, "--workflow", wf)
				// json.dumps: ", " and ": " separators, ensure_ascii, no HTML escaping.
				wantWorkflow = `{"last_node_id": 4, "nodes": [{"id": 4, "type": "CheckpointSave", "widgets_values": ["checkpoints/ComfyUI"]}], "extra": {"ds": {"scale": 1.0}}, "note": "caf\u00e9 <b>"}`
			}
			start = time.Now()
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("save failed (%d): %s", code, stderr)
			}
			t.Logf("assembled in %v", time.Since(start).Round(time.Millisecond))
			var res saveResult
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("--json output %q: %v", stdout, err)
			}
			// The default prefix checkpoints/ComfyUI in a fresh output folder:
			// ComfyUI creates the subfolder and starts at 1.
			if want := filepath.Join(out, "checkpoints", "ComfyUI_00001_.safetensors"); res.Path != want {
				t.Errorf("path %q, want %q", res.Path, want)
			}
			fi, err := os.Stat(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != res.Bytes {
				t.Errorf("--json says %d bytes, file has %d", res.Bytes, fi.Size())
			}
			if entries, _ := os.ReadDir(filepath.Dir(res.Path)); len(entries) != 1 {
				t.Errorf("output folder holds %d entries, want only the checkpoint", len(entries))
			}

			start = time.Now()
			exp := filepath.Join(oracleDir(t, tc.arch), "expected_checkpoint.json")
			wantMeta := map[string]string{
				// Re-encoded the way Python's json.dumps does.
				"prompt":           `{"4": {"inputs": {"ckpt_name": "x"}, "class_type": "CheckpointLoaderSimple"}}`,
				"modelspec.author": "ckptpack test",
			}
			if wantWorkflow != "" {
				wantMeta["workflow"] = wantWorkflow
			}
			vr, err := fixture.Verify(res.Path, exp, fixture.VerifyOptions{Metadata: wantMeta})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("verified in %v: %s", time.Since(start).Round(time.Millisecond), vr.Summary())
			if !vr.OK() {
				for i, f := range vr.Failures {
					if i == 20 {
						t.Errorf("… and %d more", len(vr.Failures)-20)
						break
					}
					t.Error(f)
				}
			}

			if tc.sha256 {
				if got := fileSHA256(t, res.Path); res.SHA256 != got || res.AutoV2 != got[:10] {
					t.Errorf("--sha256 printed %s / %s, file hashes to %s", res.SHA256, res.AutoV2, got)
				}
			}

			f, err := os.Open(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := safetensors.ReadHeader(checkpoint.Input{Name: res.Path, R: f, Size: fi.Size()})
			if err != nil {
				t.Fatalf("our reader rejects the output: %v", err)
			}
			if h.Metadata["modelspec.author"] != "ckptpack test" {
				t.Errorf("metadata %v lacks modelspec.author", h.Metadata)
			}
			if tc.independent {
				independentRead(t, f, fi.Size(), h)
			}
			// inspect sees a complete checkpoint with the workflow in it.
			code, stdout, stderr = runCLI(t, "inspect", "--json", res.Path)
			var rep struct {
				Architecture string   `json:"architecture"`
				Missing      []string `json:"missing"`
				HasWorkflow  bool     `json:"has_workflow"`
			}
			if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil {
				t.Fatalf("inspect: status %d, %q, %s", code, stdout, stderr)
			}
			if rep.Architecture != res.Architecture || len(rep.Missing) != 0 || rep.HasWorkflow != (wantWorkflow != "") {
				t.Errorf("inspect of the output: %+v (saved as %s, workflow %v)", rep, res.Architecture, wantWorkflow != "")
			}
			// A second save counts on: ComfyUI_00002_. Only the first file's
			// name matters to the counter, so its data is dropped first to
			// keep the test's disk use at one output (CI disks are small).
			if tc.arch == "sd15" {
				if err := os.Truncate(res.Path, 0); err != nil {
					t.Fatal(err)
				}
				code, stdout, stderr = runCLI(t, "save", "--model", filepath.Join(dir, "unet.safetensors"), "--clip", filepath.Join(dir, "clip_l.safetensors"),
					"--vae", filepath.Join(dir, "vae.safetensors"), "--output-dir", out)
				if want := filepath.Join(out, "checkpoints", "ComfyUI_00002_.safetensors") + "\n"; code != 0 || stdout != want {
					t.Errorf("second save: status %d, printed %q (want %q), stderr %q", code, stdout, want, stderr)
				}
			}
		})
	}
}

// scratchDir is a temporary folder next to the fixtures, on the disk that
// holds them: a 7 GB output must not land in a RAM-backed /tmp.
func scratchDir(t *testing.T) string {
	t.Helper()
	root := filepath.Dir(fixturesRoot(t))
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(root, "parity-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func oracleDir(t *testing.T, arch string) string {
	t.Helper()
	d, err := fixture.ArchDir(arch)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// independentRead parses the whole output with github.com/nlpodyssey/safetensors
// (which validates offsets, sizes, gaps and trailing bytes only over a
// complete file) through a read-only mapping, and checks that it sees the
// same metadata, tensors and data ranges as our reader.
func independentRead(t *testing.T, f *os.File, size int64, ours *safetensors.Header) {
	t.Helper()
	buf, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	defer syscall.Munmap(buf)
	st, err := nlpst.Deserialize(buf)
	if err != nil {
		t.Fatalf("independent reader rejects the output: %v", err)
	}
	_, meta, err := nlpst.ReadMetadata(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(meta.Metadata(), ours.Metadata) {
		t.Errorf("metadata: independent reader %v, ours %v", meta.Metadata(), ours.Metadata)
	}
	if st.Len() != len(ours.Tensors) {
		t.Fatalf("independent reader sees %d tensors, ours %d", st.Len(), len(ours.Tensors))
	}
	for _, tt := range ours.Tensors {
		v, ok := st.Tensor(tt.Name)
		if !ok {
			t.Errorf("independent reader lacks %s", tt.Name)
			continue
		}
		shape := make([]int64, len(v.Shape()))
		for i, d := range v.Shape() {
			shape[i] = int64(d)
		}
		if v.DType().String() != string(tt.DType) || !slices.Equal(shape, tt.Shape) {
			t.Errorf("%s: independent reader %s %v, ours %s %v", tt.Name, v.DType(), shape, tt.DType, tt.Shape)
			continue
		}
		data := v.Data()
		want := buf[ours.DataStart+tt.Begin : ours.DataStart+tt.End]
		if len(data) != len(want) || (len(data) > 0 && &data[0] != &want[0]) {
			t.Errorf("%s: independent reader's data is not bytes [%d, %d) of the data section", tt.Name, tt.Begin, tt.End)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Ctrl-C during a save stops it, exits 130 and leaves nothing behind: the real binary,
// interrupted once its temporary file exists, on the 7 GB sdxl_base output.
func TestSaveInterrupted(t *testing.T) {
	dir := componentFixtures(t, "sdxl_base", false, "unet", "clip_l", "clip_g", "vae")
	bin := filepath.Join(t.TempDir(), "ckptpack")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := scratchDir(t)
	cmd := exec.Command(bin, "save", "--model", filepath.Join(dir, "unet.safetensors"), "--clip", filepath.Join(dir, "clip_l.safetensors"),
		"--clip", filepath.Join(dir, "clip_g.safetensors"), "--vae", filepath.Join(dir, "vae.safetensors"), "--output-dir", out)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	folder := filepath.Join(out, "checkpoints")
wait:
	for {
		select {
		case err := <-done:
			t.Fatalf("save ended (%v) before it could be interrupted: %s", err, stderr.String())
		default:
		}
		entries, _ := os.ReadDir(folder)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".part") {
				break wait
			}
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := <-done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want status 130 (SIGINT); stderr %q", err, stderr.String())
	}
	// On a loaded machine the clean cancel may take longer than the
	// grace, and the process then takes the exit-at-once path: either
	// message is right, as long as nothing is left behind.
	clean := "ckptpack: " + filepath.Join(folder, "ComfyUI_00001_.safetensors") + ": interrupted; nothing was written\n"
	hard := "ckptpack: interrupted (SIGINT): exiting at once; unfinished output removed"
	if got := stderr.String(); (got != clean && !strings.Contains(got, hard)) || stdout.String() != "" {
		t.Errorf("stderr %q (want %q or %q), stdout %q", got, clean, hard, stdout.String())
	}
	if entries, _ := os.ReadDir(folder); len(entries) != 0 {
		t.Errorf("left behind after Ctrl-C: %v", entries)
	}
}
