package safetensors

import (
	"bytes"
	"unicode/utf8"
)

// looksLike names what a file whose first bytes are not a safetensors
// header seems to be, from those bytes ("" when nothing is recognised).
// A wrong file renamed .safetensors is the usual cause of an impossible
// header length; saying what the file is helps more than the length.
func looksLike(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return "a ZIP archive"
	case len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		return "a PyTorch checkpoint (a pickle)"
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return "a tar archive (an old PyTorch checkpoint?)"
	case bytes.HasPrefix(head, []byte("GGUF")):
		return "a GGUF model file"
	case bytes.HasPrefix(head, []byte("\x89PNG")):
		return "a PNG image"
	case bytes.HasPrefix(head, []byte("\xff\xd8\xff")):
		return "a JPEG image"
	case bytes.HasPrefix(head, []byte("\x89HDF")):
		return "an HDF5 file"
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return "a NumPy array file"
	case bytes.HasPrefix(head, []byte("\x1f\x8b")):
		return "a gzip archive"
	case bytes.HasPrefix(head, []byte("7z\xbc\xaf")):
		return "a 7-Zip archive"
	case bytes.HasPrefix(head, []byte("Rar!")):
		return "a RAR archive"
	}
	if isText(head) {
		t := bytes.ToLower(bytes.TrimSpace(head))
		if bytes.HasPrefix(t, []byte("<!doctype html")) || bytes.HasPrefix(t, []byte("<html")) {
			return "a web page (HTML), not a model download"
		}
		if bytes.HasPrefix(t, []byte("version https://git-lfs")) {
			return "a Git LFS pointer, not the model's data"
		}
		return "text"
	}
	return ""
}

// isText: valid UTF-8 (a rune cut at the end is fine) without control
// characters other than tab, newline and carriage return.
func isText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			return len(b) < utf8.UTFMax && !utf8.FullRune(b)
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
		b = b[size:]
	}
	return true
}
