package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// readAll returns the bytes of an input.
func readAll(t *testing.T, in Input) []byte {
	t.Helper()
	b := make([]byte, in.Size)
	if _, err := in.R.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

func parseOut(t *testing.T, out []byte) *safetensors.Header {
	t.Helper()
	n := binary.LittleEndian.Uint64(out)
	h, err := safetensors.ParseHeader("out", out[8:8+n], int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestMetadataEditNewFile(t *testing.T) {
	in := smallModel(t, map[string]string{"workflow": "{}", "modelspec.title": "old", "keep": "me"})
	orig := readAll(t, in)
	oldH := parseOut(t, orig)
	p, err := PlanMetadataEdit(in, MetadataEdit{
		ModelSpec: ModelSpec{Title: "New title", Tags: "x, y", Thumbnail: "data:image/png;base64,"},
		Remove:    []string{"workflow"},
		Set:       map[string]string{"extra": "1"},
	})
	if err == nil || !strings.Contains(err.Error(), "modelspec.thumbnail") {
		t.Fatalf("empty thumbnail bytes: %v", err)
	}
	p, err = PlanMetadataEdit(in, MetadataEdit{
		ModelSpec: ModelSpec{Title: "New title", Tags: "x, y"},
		Remove:    []string{"workflow", "title"}, // field names work too; the set title wins
		Set:       map[string]string{"extra": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sink streamwriter.MemorySink
	if err := Execute(context.Background(), p, &sink, ExecuteOptions{BufferSize: 1000}); err != nil {
		t.Fatal(err)
	}
	out := sink.Bytes()
	h := parseOut(t, out)
	want := map[string]string{"modelspec.title": "New title", "modelspec.tags": "x,y", "modelspec.sai_model_spec": "1.0.1", "keep": "me", "extra": "1"}
	if len(h.Metadata) != len(want) {
		t.Errorf("metadata %v", h.Metadata)
	}
	for k, v := range want {
		if h.Metadata[k] != v {
			t.Errorf("%s = %q, want %q", k, h.Metadata[k], v)
		}
	}
	if !bytes.Equal(out[h.DataStart:], orig[oldH.DataStart:]) {
		t.Error("data section changed")
	}
	for i, tn := range h.Tensors {
		o := oldH.Tensors[i]
		if tn.Name != o.Name || tn.DType != o.DType || tn.Begin != o.Begin || tn.End != o.End {
			t.Errorf("tensor %d: %+v, was %+v", i, tn, o)
		}
	}
	if h.DataStart%8 != 0 {
		t.Errorf("data starts at %d, not a multiple of 8", h.DataStart)
	}
	if !bytes.Equal(readAll(t, in), orig) {
		t.Error("input modified")
	}
}

// writeFile puts an input's bytes in a real file for in-place edits.
func writeFile(t *testing.T, dir string, in Input) (string, []byte) {
	t.Helper()
	b := readAll(t, in)
	path := filepath.Join(dir, in.Name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b
}

func openRW(t *testing.T, path string) (Input, *os.File) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	return Input{Name: path, R: f, Size: fi.Size()}, f
}

func TestEditInPlace(t *testing.T) {
	dir := t.TempDir()
	// A file whose header has room: a long description to replace.
	path, orig := writeFile(t, dir, smallModel(t, map[string]string{"modelspec.description": strings.Repeat("d", 400)}))
	oldH := parseOut(t, orig)

	t.Run("fits", func(t *testing.T) {
		in, f := openRW(t, path)
		meta, err := EditInPlace(context.Background(), in, f, MetadataEdit{
			ModelSpec: ModelSpec{Title: "Short", Description: "shorter"}, HashSHA256: true}, ExecuteOptions{BufferSize: 4096})
		if err != nil {
			t.Fatal(err)
		}
		out, _ := os.ReadFile(path)
		if len(out) != len(orig) {
			t.Fatalf("size %d, was %d", len(out), len(orig))
		}
		h := parseOut(t, out)
		if h.DataStart != oldH.DataStart || !bytes.Equal(out[h.DataStart:], orig[oldH.DataStart:]) {
			t.Error("data moved or changed")
		}
		if h.Metadata["modelspec.title"] != "Short" || meta["modelspec.title"] != "Short" {
			t.Errorf("metadata %v", h.Metadata)
		}
		checkDataHash(t, out)
		// The padding is spaces after the JSON.
		raw := out[8:h.DataStart]
		if trimmed := bytes.TrimRight(raw, " "); trimmed[len(trimmed)-1] != '}' {
			t.Error("header does not end in } then spaces")
		}
	})
	t.Run("does not fit", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		in, f := openRW(t, path)
		_, err := EditInPlace(context.Background(), in, f, MetadataEdit{ModelSpec: ModelSpec{Description: strings.Repeat("long ", 500)}}, ExecuteOptions{})
		if !errors.Is(err, ErrHeaderDoesNotFit) || !strings.Contains(err.Error(), path) {
			t.Fatalf("got %v", err)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Error("file changed by a refused edit")
		}
	})
}

// TestMetadataEditFaultsLeaveNothing: a failing disk or an input that
// shrinks during the copy leaves no output and an untouched input.
func TestMetadataEditFaultsLeaveNothing(t *testing.T) {
	src := t.TempDir()
	path, orig := writeFile(t, src, smallModel(t, nil))
	for _, hash := range []bool{false, true} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		in := Input{Name: path, R: f, Size: int64(len(orig))}
		p, err := PlanMetadataEdit(in, MetadataEdit{ModelSpec: ModelSpec{Title: "x"}, HashSHA256: hash})
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		fs, err := streamwriter.CreateFile(filepath.Join(out, "edited.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if err := Execute(context.Background(), p, &patchingFailingSink{failingSink{next: fs, limit: p.Size - 100}, fs}, ExecuteOptions{BufferSize: 4096}); err == nil {
			t.Error("disk full: no error")
		}
		assertNoOutput(t, out)

		// The input is truncated after planning.
		short := Input{Name: path, R: io.NewSectionReader(f, 0, int64(len(orig))-10), Size: in.Size}
		p.Inputs[0] = short
		fs, err = streamwriter.CreateFile(filepath.Join(out, "edited.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		err = Execute(context.Background(), p, fs, ExecuteOptions{BufferSize: 4096})
		if !errors.Is(err, ErrInputChanged) || !strings.Contains(err.Error(), path) {
			t.Errorf("truncated input: %v", err)
		}
		assertNoOutput(t, out)
		f.Close()
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, orig) {
		t.Error("input modified")
	}
}
