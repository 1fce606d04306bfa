package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// smallDataBytes is the data section of smallSafetensors: 64 F32 + 15 F16.
const smallDataBytes = 64*4 + 15*2

// smallSafetensors writes a two-tensor file with distinct data bytes.
func smallSafetensors(t *testing.T, path string, meta map[string]string, seed byte) []byte {
	t.Helper()
	ts := []safetensors.Tensor{
		{Name: "a", DType: safetensors.DTypeF32, Shape: []int64{64}},
		{Name: "b", DType: safetensors.DTypeF16, Shape: []int64{3, 5}},
	}
	safetensors.ReferenceOrder(ts)
	n, err := safetensors.AssignOffsets(ts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := safetensors.EncodeHeader(meta, ts)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7) ^ seed
	}
	b := append(h, data...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func tinyPNG(t *testing.T, path string) {
	t.Helper()
	// 1×1 PNG (signature, IHDR, IDAT, IEND).
	b, _ := hex.DecodeString("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileMeta(t *testing.T, path string) (map[string]string, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	h, err := safetensors.ParseHeader(path, b[8:8+n], int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return h.Metadata, b[8+n:]
}

func TestMetaSetNewFilesAndShow(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	origA := smallSafetensors(t, a, map[string]string{"modelspec.title": "ComfyUI 1", "workflow": "{}"}, 1)
	smallSafetensors(t, b, nil, 2)
	cover := filepath.Join(dir, "cover.png")
	tinyPNG(t, cover)

	code, out, errs := runCLI(t, "meta", "set", "--title", "My model", "--author", "me", "--date", "2024-05-01",
		"--resolution", "512x512", "--tags", "x, y", "--trigger-phrase", "mycat", "--thumbnail", cover,
		"--unset", "workflow", "--hash", "--json", a, b)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res []metaSetResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 2 {
		t.Fatalf("json %q: %v", out, err)
	}
	for i, src := range []string{a, b} {
		want := strings.TrimSuffix(src, ".safetensors") + ".edited.safetensors"
		if res[i].Output != want {
			t.Errorf("output %q, want %q", res[i].Output, want)
		}
		meta, data := fileMeta(t, want)
		sum := sha256.Sum256(data)
		if h := "0x" + hex.EncodeToString(sum[:]); meta[checkpoint.DataHashKey] != h || res[i].HashSHA256 != h {
			t.Errorf("%s: hash %q / reported %q, data hashes to %s", want, meta[checkpoint.DataHashKey], res[i].HashSHA256, h)
		}
		for k, v := range map[string]string{"modelspec.title": "My model", "modelspec.author": "me", "modelspec.date": "2024-05-01",
			"modelspec.resolution": "512x512", "modelspec.tags": "x,y", "modelspec.trigger_phrase": "mycat", "modelspec.sai_model_spec": "1.0.1"} {
			if meta[k] != v {
				t.Errorf("%s: %s = %q, want %q", want, k, meta[k], v)
			}
		}
		if !strings.HasPrefix(meta["modelspec.thumbnail"], "data:image/png;base64,iVBOR") {
			t.Errorf("thumbnail %.40q", meta["modelspec.thumbnail"])
		}
		if _, ok := meta["workflow"]; ok {
			t.Error("workflow not removed")
		}
	}
	if now, _ := os.ReadFile(a); !bytes.Equal(now, origA) {
		t.Error("input modified")
	}
	code, out, errs = runCLI(t, "meta", "show", "--verify", strings.TrimSuffix(a, ".safetensors")+".edited.safetensors")
	if code != 0 || !strings.Contains(out, "title:") || !strings.Contains(out, "(verified)") || !strings.Contains(out, "image/png image") {
		t.Errorf("show: exit %d\n%s%s", code, out, errs)
	}
	// A second run would replace the outputs: refused, exit 1, per file.
	code, _, errs = runCLI(t, "meta", "set", "--title", "again", a, b)
	if code != exitFailure || strings.Count(errs, "already exists") != 2 || !strings.Contains(errs, "2 of 2 files failed") {
		t.Errorf("existing outputs: exit %d, %s", code, errs)
	}
}

func TestMetaSetErrors(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.safetensors")
	smallSafetensors(t, a, nil, 1)
	notImage := filepath.Join(dir, "cover.png")
	writeFile(t, notImage, "not an image at all")

	code, _, errs := runCLI(t, "meta", "set", "--thumbnail", notImage, a)
	oneLineError(t, code, errs, notImage, "not a PNG, JPEG or WebP", "modelspec.thumbnail")
	code, _, errs = runCLI(t, "meta", "set", "--date", "01/05/2024", a)
	oneLineError(t, code, errs, "modelspec.date", "ISO 8601")
	code, _, errs = runCLI(t, "meta", "set", "--resolution", "big", a)
	oneLineError(t, code, errs, "modelspec.resolution")
	code, _, errs = runCLI(t, "meta", "set", "--description", "@"+filepath.Join(dir, "missing.md"), a)
	oneLineError(t, code, errs, "missing.md")
	if code, _, _ := runCLI(t, "meta", "set", a); code != exitUsage {
		t.Errorf("nothing to change: exit %d", code)
	}
	if code, _, _ := runCLI(t, "meta", "set", "--title", "x", "-o", "o.safetensors", a, a); code != exitUsage {
		t.Errorf("-o with two files: exit %d", code)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	writeFile(t, bad, "\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
	code, _, errs = runCLI(t, "meta", "show", bad)
	if code != exitFailure || !strings.Contains(errs, bad) {
		t.Errorf("bad file: exit %d, %s", code, errs)
	}
	assertOnly(t, dir, "a.safetensors", "cover.png", "bad.safetensors")
}

func TestMetaSetInPlace(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.safetensors")
	orig := smallSafetensors(t, a, map[string]string{"modelspec.description": strings.Repeat("d", 300)}, 1)
	code, out, errs := runCLI(t, "meta", "set", "--in-place", "--title", "T", "--description", "short", "--hash", a)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "modelspec.hash_sha256 0x") {
		t.Errorf("output %q", out)
	}
	now, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(now) != len(orig) || !bytes.Equal(now[len(now)-smallDataBytes:], orig[len(orig)-smallDataBytes:]) {
		t.Error("data changed or moved")
	}
	meta, _ := fileMeta(t, a)
	if meta["modelspec.title"] != "T" || meta["modelspec.description"] != "short" {
		t.Errorf("metadata %v", meta)
	}
	code, _, errs = runCLI(t, "meta", "show", "--verify", a)
	if code != 0 {
		t.Errorf("verify after in-place: %s", errs)
	}
	// Too long for the header: refused, file unchanged.
	before, _ := os.ReadFile(a)
	code, _, errs = runCLI(t, "meta", "set", "--in-place", "--description", strings.Repeat("long ", 200), a)
	oneLineError(t, code, errs, a, "does not fit")
	if after, _ := os.ReadFile(a); !bytes.Equal(before, after) {
		t.Error("refused in-place edit changed the file")
	}
	assertOnly(t, dir, "a.safetensors")
}

// assertOnly checks that dir holds exactly names (no output, no .part).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(slices.Sorted(slices.Values(names)), ",") {
		t.Errorf("folder holds %v, want %v", got, names)
	}
}

func TestSaveModelSpecFlags(t *testing.T) {
	unet, clipL, vae := sparseSD15(t)
	dir := t.TempDir()
	cover := filepath.Join(dir, "cover.png")
	tinyPNG(t, cover)
	code, out, errs := runCLI(t, "save", "--model", unet, "--clip", clipL, "--vae", vae, "--output-dir", dir,
		"--title", "My SD", "--license", "CreativeML Open RAIL-M", "--thumbnail", cover, "--hash", "--dry-run", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res struct {
		Header struct {
			Metadata map[string]string `json:"__metadata__"`
		} `json:"header"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	m := res.Header.Metadata
	if m["modelspec.title"] != "My SD" || m["modelspec.license"] != "CreativeML Open RAIL-M" || m["modelspec.sai_model_spec"] != "1.0.1" ||
		m[checkpoint.DataHashKey] != "0x"+strings.Repeat("0", 64) || !strings.HasPrefix(m["modelspec.thumbnail"], "data:image/png;base64,") {
		t.Errorf("planned metadata %v", m)
	}
	code, _, errs = runCLI(t, "save", "--model", unet, "--clip", clipL, "--vae", vae, "--output-dir", dir, "--prediction-type", "v")
	oneLineError(t, code, errs, "modelspec.prediction_type", "epsilon")
	assertOnly(t, dir, "cover.png")
}

// TestSaveHashFullSize: a real sd15 save (~2.3 GB, files in and out) with
// --hash and --sha256: modelspec.hash_sha256 in the header equals an
// independent SHA-256 of the data section, and --sha256 is the finished
// file's (read back, as the header changed after the data).
func TestSaveHashFullSize(t *testing.T) {
	dir := componentFixtures(t, "sd15", false, "unet", "clip_l", "vae")
	out := scratchDir(t)
	code, stdout, errs := runCLI(t, "save", "--model", filepath.Join(dir, "unet.safetensors"), "--clip", filepath.Join(dir, "clip_l.safetensors"),
		"--vae", filepath.Join(dir, "vae.safetensors"), "--output-dir", out, "--title", "Hashed", "--hash", "--sha256", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res saveResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lenBuf [8]byte
	if _, err := f.ReadAt(lenBuf[:], 0); err != nil {
		t.Fatal(err)
	}
	n := int64(binary.LittleEndian.Uint64(lenBuf[:]))
	raw := make([]byte, n)
	if _, err := f.ReadAt(raw, 8); err != nil {
		t.Fatal(err)
	}
	var header struct {
		Metadata map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(raw, &header); err != nil {
		t.Fatal(err)
	}
	whole, data := sha256.New(), sha256.New()
	whole.Write(lenBuf[:])
	whole.Write(raw)
	if _, err := io.Copy(io.MultiWriter(whole, data), io.NewSectionReader(f, 8+n, res.Bytes-8-n)); err != nil {
		t.Fatal(err)
	}
	wantData := "0x" + hex.EncodeToString(data.Sum(nil))
	if header.Metadata[checkpoint.DataHashKey] != wantData || res.HashSHA256 != wantData || header.Metadata["modelspec.title"] != "Hashed" {
		t.Errorf("header hash %q, reported %q, data hashes to %s", header.Metadata[checkpoint.DataHashKey], res.HashSHA256, wantData)
	}
	if got := hex.EncodeToString(whole.Sum(nil)); res.SHA256 != got {
		t.Errorf("--sha256 %s, file hashes to %s", res.SHA256, got)
	}
}
