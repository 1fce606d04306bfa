package safetensors

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestWrongFileSaysWhatItLooksLike(t *testing.T) {
	for _, c := range []struct{ content, looks string }{
		{"# Stable Diffusion\nThis is a readme, renamed.\n", "text"},
		{"<!DOCTYPE html><html><body>404</body></html>", "a web page (HTML), not a model download"},
		{"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n", "a Git LFS pointer, not the model's data"},
		{"PK\x03\x04\x14\x00\x00\x00\x08\x00rest of a zip", "a ZIP archive"},
		{"\x80\x02}q\x00(X\x05\x00\x00\x00stateq", "a PyTorch checkpoint (a pickle)"},
		{"GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00", "a GGUF model file"},
	} {
		in := Input{Name: "m.safetensors", R: bytes.NewReader([]byte(c.content)), Size: int64(len(c.content))}
		_, err := ReadHeader(in)
		var he *HeaderError
		if !errors.As(err, &he) || he.Looks != c.looks {
			t.Errorf("%q: err %v, want it to look like %q", c.content[:8], err, c.looks)
			continue
		}
		want := "m.safetensors: not a safetensors model file — it looks like " + c.looks + " ("
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("message %q, want it to start %q", err, want)
		}
	}
	// Random bytes: no guess, the rule alone.
	junk := []byte{0xff, 0xfe, 0x01, 0x00, 0x13, 0x37, 0x00, 0x42, 0x01}
	_, err := ReadHeader(Input{Name: "j", R: bytes.NewReader(junk), Size: int64(len(junk))})
	if err == nil || strings.Contains(err.Error(), "looks like") || !errors.Is(err, ErrHeaderTooLarge) && !errors.Is(err, ErrInvalidHeaderLength) {
		t.Errorf("junk: %v", err)
	}
}
