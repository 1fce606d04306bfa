package checkpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

func TestModelSpecFieldValidation(t *testing.T) {
	cases := []struct {
		field, value, want, errPart string
	}{
		{"title", "  My model  ", "My model", ""},
		{"title", "two\nlines", "", "must be one line"},
		{"author", "bell\a", "", "control character"},
		{"description", "para 1\n\npara 2\twith tab", "para 1\n\npara 2\twith tab", ""},
		{"date", "2024-05-01", "2024-05-01", ""},
		{"date", "2024-05-01T12:30:00Z", "2024-05-01T12:30:00Z", ""},
		{"date", "2023-07-16T18:13:38+02:00", "2023-07-16T18:13:38+02:00", ""},
		{"date", "2024-02-30", "", "not a calendar date"},
		{"date", "2024-05-01T25:00", "", "not a valid time"},
		{"date", "May 1st", "", "ISO 8601"},
		{"resolution", "1024x1024", "1024x1024", ""},
		{"resolution", "1024", "", "(width)x(height)"},
		{"resolution", "0x512", "", "(width)x(height)"},
		{"resolution", "1024X1024", "", "(width)x(height)"},
		{"tags", " anime, style ,,anime, portrait ", "anime,style,portrait", ""},
		{"tags", " , ,", "", "no tag"},
		{"prediction_type", "v", "v", ""},
		{"prediction_type", "epsilon", "epsilon", ""},
		{"prediction_type", "v_prediction", "", "want epsilon or v"},
		{"trigger_phrase", "mypetcat", "mypetcat", ""},
		{"license", "CreativeML Open RAIL-M\nfull terms…", "CreativeML Open RAIL-M\nfull terms…", ""},
		{"thumbnail", "https://example.com/a.png", "", "not a data URL"},
		{"thumbnail", "data:image/png;base64,!!!", "", "bad base64"},
		{"thumbnail", "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("hello")), "", "not a PNG, JPEG or WebP"},
	}
	for _, c := range cases {
		var m ModelSpec
		if err := m.Set(c.field, c.value); err != nil {
			t.Fatal(err)
		}
		got, err := m.Normalize()
		if c.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.errPart) || !strings.Contains(err.Error(), "modelspec."+c.field) || !errors.Is(err, ErrModelSpec) {
				t.Errorf("%s=%q: error %v, want one naming modelspec.%s and %q", c.field, c.value, err, c.field, c.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s=%q: %v", c.field, c.value, err)
			continue
		}
		meta := map[string]string{}
		got.apply(meta, false)
		if meta["modelspec."+c.field] != c.want || meta["modelspec.sai_model_spec"] != "1.0.1" {
			t.Errorf("%s=%q: wrote %q", c.field, c.value, meta)
		}
	}
	var m ModelSpec
	if err := m.Set("colour", "x"); err == nil || !strings.Contains(err.Error(), "trigger_phrase") {
		t.Errorf("unknown field: %v", err)
	}
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{200, 10, 10, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpLossless is the header of a VP8L WebP of w×h (the sniffer reads only
// the header; the pixel stream is not decoded).
func webpLossless(w, h int) []byte {
	var b []byte
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, 4+8+10)
	b = append(b, "WEBPVP8L"...)
	b = binary.LittleEndian.AppendUint32(b, 10)
	b = append(b, 0x2f)
	b = binary.LittleEndian.AppendUint32(b, uint32(w-1)|uint32(h-1)<<14)
	return append(b, 0, 0, 0, 0, 0)
}

func TestThumbnailImage(t *testing.T) {
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, image.NewGray(image.Rect(0, 0, 300, 200)), nil); err != nil {
		t.Fatal(err)
	}
	good := []struct {
		name string
		data []byte
		mime string
	}{
		{"cover.png", pngBytes(t, 256, 256), "image/png"},
		{"cover.jpg", jb.Bytes(), "image/jpeg"},
		{"cover.webp", webpLossless(256, 128), "image/webp"},
		{"named-wrong.jpg", pngBytes(t, 8, 8), "image/png"}, // the bytes decide, not the name
	}
	for _, g := range good {
		url, err := ThumbnailImage(g.name, g.data)
		if err != nil {
			t.Errorf("%s: %v", g.name, err)
			continue
		}
		want := "data:" + g.mime + ";base64," + base64.StdEncoding.EncodeToString(g.data)
		if url != want {
			t.Errorf("%s: got %.40s…", g.name, url)
		}
		// A data URL from a page goes through the same check.
		if again, err := ThumbnailFromDataURL(g.name, "data:application/octet-stream;base64,"+base64.StdEncoding.EncodeToString(g.data)); err != nil || again != want {
			t.Errorf("%s as data URL: %v", g.name, err)
		}
	}
	full := pngBytes(t, 16, 16)
	bad := []struct {
		name    string
		data    []byte
		errPart string
	}{
		{"notes.txt", []byte("just text, not an image"), "not a PNG, JPEG or WebP"},
		{"empty.png", nil, "not a PNG, JPEG or WebP"},
		{"cut.png", full[:len(full)-20], "IEND"},
		{"cut.jpg", jb.Bytes()[:10], "JPEG"},
		{"huge.png", append(pngBytes(t, 8, 8), make([]byte, MaxThumbnailBytes)...), "more than"},
		{"wide.png", pngBytes(t, MaxThumbnailSide+1, 1), "pixels"},
		{"cut.webp", webpLossless(8, 8)[:20], "WebP"},
	}
	for _, b := range bad {
		_, err := ThumbnailImage(b.name, b.data)
		if err == nil || !strings.HasPrefix(err.Error(), b.name+": ") || !strings.Contains(err.Error(), b.errPart) || !errors.Is(err, ErrThumbnail) {
			t.Errorf("%s: error %v, want one naming the file and %q", b.name, err, b.errPart)
		}
	}
	// Through ModelSpec, the error names the key and the file.
	m := ModelSpec{Thumbnail: "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("GIF89a")), ThumbnailName: "anim.gif"}
	if _, err := m.Normalize(); err == nil || !strings.Contains(err.Error(), "modelspec.thumbnail") || !strings.Contains(err.Error(), "anim.gif") {
		t.Errorf("bad thumbnail through ModelSpec: %v", err)
	}
}

// TestSaveModelSpecDefaults: with nothing set, the metadata is exactly what
// ComfyUI writes; set fields are added and make the version 1.0.1.
func TestSaveModelSpecDefaults(t *testing.T) {
	req := componentRequest(t, "sdxl_base", "clip_l", "clip_g")
	plain, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Metadata["modelspec.sai_model_spec"] != "1.0.0" || plain.Metadata["modelspec.title"] != "ComfyUI 1" || plain.HashSlot != 0 {
		t.Fatalf("defaults changed: %v", plain.Metadata)
	}
	req.ModelSpec = ModelSpec{Title: "My SDXL", Author: "me", Tags: "a, b", Resolution: "1024x1024", PredictionType: "epsilon"}
	p, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"modelspec.sai_model_spec": "1.0.1", "modelspec.title": "My SDXL", "modelspec.author": "me",
		"modelspec.tags": "a,b", "modelspec.resolution": "1024x1024", "modelspec.architecture": "stable-diffusion-xl-v1-base", "modelspec.predict_key": "epsilon"} {
		if p.Metadata[k] != v {
			t.Errorf("%s = %q, want %q", k, p.Metadata[k], v)
		}
	}
	req.ModelSpec = ModelSpec{PredictionType: "v"}
	if _, err := PlanCheckpoint(req); err == nil || !strings.Contains(err.Error(), "modelspec.prediction_type") {
		t.Errorf("prediction_type v on an epsilon model: %v", err)
	}
	req.ModelSpec = ModelSpec{Date: "yesterday"}
	if _, err := PlanCheckpoint(req); !errors.Is(err, ErrModelSpec) {
		t.Errorf("bad date: %v", err)
	}
}

// checkDataHash asserts that out carries modelspec.hash_sha256 equal to an
// independent SHA-256 of everything after the 8+N header.
func checkDataHash(t *testing.T, out []byte) string {
	t.Helper()
	n := binary.LittleEndian.Uint64(out)
	h, err := safetensors.ParseHeader("out", out[8:8+n], int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out[8+n:])
	want := "0x" + hex.EncodeToString(sum[:])
	if got := h.Metadata[DataHashKey]; got != want {
		t.Fatalf("header hash %q, data hash %q", got, want)
	}
	return want
}

// smallModel is an in-memory file of three tensors with distinct bytes.
func smallModel(t *testing.T, meta map[string]string) Input {
	t.Helper()
	data := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*31) ^ seed
		}
		return b
	}
	return makeInput(t, "small.safetensors", []testTensor{
		{Name: "a.weight", DType: safetensors.DTypeF32, Shape: []int64{256, 256}, Data: data(256*256*4, 1)},
		{Name: "b.bias", DType: safetensors.DTypeF16, Shape: []int64{1000}, Data: data(2000, 2)},
		{Name: "c.ids", DType: safetensors.DTypeI64, Shape: []int64{1, 77}, Data: data(77*8, 3)},
	}, meta)
}

func TestSaveHashPlanned(t *testing.T) {
	req := componentRequest(t, "sd15", "clip_l")
	plain, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	req.HashSHA256 = true
	p, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	if p.HashSlot == 0 || string(p.Header[p.HashSlot:p.HashSlot+66]) != hashPlaceholder {
		t.Fatalf("no placeholder at slot %d", p.HashSlot)
	}
	if p.Size-int64(len(p.Header)) != plain.Size-int64(len(plain.Header)) || len(p.Steps) != len(plain.Steps) {
		t.Fatal("the hash changed the data section")
	}
	if p.Metadata["modelspec.sai_model_spec"] != "1.0.1" || p.Metadata["modelspec.predict_key"] != "epsilon" {
		t.Errorf("metadata %v", p.Metadata)
	}
}

// TestHashPatchedPerSink runs a plan with a hash slot (a metadata edit of a
// small file: the same Execute path as a save) into each Go sink.
func TestHashPatchedPerSink(t *testing.T) {
	p, err := PlanMetadataEdit(smallModel(t, map[string]string{"x": "y"}), MetadataEdit{HashSHA256: true, ModelSpec: ModelSpec{Title: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("memory", func(t *testing.T) {
		var sink streamwriter.MemorySink
		var reported string
		if err := Execute(context.Background(), p, &sink, ExecuteOptions{BufferSize: 4096, OnDataHash: func(s string) { reported = s }}); err != nil {
			t.Fatal(err)
		}
		if got := checkDataHash(t, sink.Bytes()); got != reported {
			t.Errorf("reported %s, wrote %s", reported, got)
		}
		sum, err := HashData(context.Background(), p, ExecuteOptions{})
		if err != nil || sum != reported {
			t.Errorf("HashData = %s, %v; want %s", sum, err, reported)
		}
	})
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "out.safetensors")
		sink, err := streamwriter.CreateFile(target)
		if err != nil {
			t.Fatal(err)
		}
		if err := Execute(context.Background(), p, sink, ExecuteOptions{BufferSize: 1 << 16}); err != nil {
			t.Fatal(err)
		}
		out, err := os.ReadFile(target)
		if err != nil {
			t.Fatal(err)
		}
		checkDataHash(t, out)
		assertNoOutput(t, dir, "out.safetensors")
	})
	t.Run("sink without patching", func(t *testing.T) {
		dir := t.TempDir()
		fs, err := streamwriter.CreateFile(filepath.Join(dir, "out.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		err = Execute(context.Background(), p, streamwriter.NewHashingSink(fs), ExecuteOptions{})
		if !errors.Is(err, ErrCannotPatch) {
			t.Fatalf("got %v, want ErrCannotPatch", err)
		}
		assertNoOutput(t, dir)
	})
	t.Run("disk full leaves nothing", func(t *testing.T) {
		dir := t.TempDir()
		fs, err := streamwriter.CreateFile(filepath.Join(dir, "out.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		err = Execute(context.Background(), p, &patchingFailingSink{failingSink{next: fs, limit: p.Size / 2}, fs}, ExecuteOptions{BufferSize: 4096})
		if err == nil {
			t.Fatal("no error")
		}
		assertNoOutput(t, dir)
	})
}

// patchingFailingSink is failingSink that still patches through to a file.
type patchingFailingSink struct {
	failingSink
	fs *streamwriter.FileSink
}

func (s *patchingFailingSink) PatchAt(off int64, p []byte) error { return s.fs.PatchAt(off, p) }

func TestHeaderTooLargeNamesKey(t *testing.T) {
	req := componentRequest(t, "sd15", "clip_l")
	req.ModelSpec = ModelSpec{Description: strings.Repeat("x", safetensors.MaxHeaderSize)}
	_, err := PlanCheckpoint(req)
	if !errors.Is(err, safetensors.ErrHeaderTooLarge) || !strings.Contains(err.Error(), "modelspec.description") {
		t.Fatalf("got %v", err)
	}
	in := makeInput(t, "small.safetensors", []testTensor{{Name: "w", DType: safetensors.DTypeF32, Shape: []int64{2}}}, nil)
	_, err = PlanMetadataEdit(in, MetadataEdit{ModelSpec: ModelSpec{Title: strings.Repeat("t", safetensors.MaxHeaderSize)}})
	if !errors.Is(err, safetensors.ErrHeaderTooLarge) || !strings.Contains(err.Error(), "small.safetensors") || !strings.Contains(err.Error(), "modelspec.title") {
		t.Fatalf("edit: got %v", err)
	}
}
