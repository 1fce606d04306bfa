//go:build !js

package streamwriter

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFileSinkFinish(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "ComfyUI_00001_.safetensors")
	s, err := CreateFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("target visible before Finish")
	}
	if tmp := filepath.Base(s.TempPath()); !strings.HasPrefix(tmp, ".ComfyUI_00001_.safetensors.") || !strings.HasSuffix(tmp, ".part") {
		t.Errorf("temporary file %q is not a hidden .part next to the target", tmp)
	}
	s.Write([]byte("hello "))
	s.Write([]byte("world"))
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "hello world" {
		t.Fatalf("target holds %q, %v", b, err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("folder holds %v, want only the target", names)
	}
	// Permissions follow the umask like any saved file (os.Create), not
	// CreateTemp's 0600.
	plain := filepath.Join(t.TempDir(), "plain")
	pf, err := os.Create(plain)
	if err != nil {
		t.Fatal(err)
	}
	pf.Close()
	want, _ := os.Stat(plain)
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != want.Mode().Perm() {
		t.Errorf("finished file mode %v, os.Create makes %v", fi.Mode(), want.Mode())
	}
	if err := s.Abort(); err != nil {
		t.Errorf("Abort after Finish: %v", err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Error("Abort after Finish removed the finished file")
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Finish: %v", err)
	}
}

func TestFileSinkAbort(t *testing.T) {
	dir := t.TempDir()
	s, err := CreateFile(filepath.Join(dir, "out.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	s.Write(make([]byte, 1<<20))
	if err := s.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := s.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("Abort left %v", names)
	}
}

func TestFileSinkNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.safetensors")
	os.WriteFile(target, []byte("old"), 0o600)
	if _, err := CreateFile(target); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), target) {
		t.Fatalf("CreateFile over an existing file: %v", err)
	}
	// The same when the file appears during the write.
	other := filepath.Join(dir, "late.safetensors")
	s, err := CreateFile(other)
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("new"))
	os.WriteFile(other, []byte("first"), 0o600)
	if err := s.Finish(); !errors.Is(err, ErrExists) {
		t.Fatalf("Finish over a file that appeared: %v", err)
	}
	if err := s.Abort(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(other); string(b) != "first" {
		t.Errorf("existing file changed to %q", b)
	}
	if names := dirNames(t, dir); len(names) != 2 {
		t.Errorf("folder holds %v", names)
	}
}

func TestFileSinkMissingFolder(t *testing.T) {
	target := filepath.Join(t.TempDir(), "nope", "out.safetensors")
	if _, err := CreateFile(target); err == nil || !strings.Contains(err.Error(), target) {
		t.Fatalf("got %v, want an error naming %s", err, target)
	}
}

func TestFileSinkCopyRange(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	os.WriteFile(src, []byte("0123456789"), 0o600)
	f, _ := os.Open(src)
	defer f.Close()
	target := filepath.Join(dir, "out.bin")
	s, _ := CreateFile(target)
	s.Write([]byte("<"))
	if n, err := s.CopyRange(f, 2, 5); n != 5 || err != nil {
		t.Fatalf("CopyRange = %d, %v", n, err)
	}
	if _, err := s.CopyRange(bytes.NewReader(nil), 0, 1); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("CopyRange from memory: %v, want ErrUnsupported", err)
	}
	n, err := s.CopyRange(f, 8, 5)
	var se *SourceError
	if n != 2 || !errors.As(err, &se) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("CopyRange past the end = %d, %v; want 2 and a SourceError", n, err)
	}
	s.Write([]byte(">"))
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "<2345689>" {
		t.Fatalf("target holds %q", b)
	}
}

func TestMemorySink(t *testing.T) {
	var m MemorySink
	m.Write([]byte("ab"))
	if m.Bytes() != nil || m.Len() != 2 {
		t.Fatal("Bytes before Finish")
	}
	m.Finish()
	if string(m.Bytes()) != "ab" {
		t.Fatalf("Bytes = %q", m.Bytes())
	}
	if _, err := m.Write([]byte("c")); !errors.Is(err, ErrClosed) {
		t.Fatal("Write after Finish accepted")
	}
	m.Abort()
	if m.Bytes() != nil {
		t.Fatal("Abort kept the output")
	}
}

func TestHashingSink(t *testing.T) {
	var m MemorySink
	h := NewHashingSink(&m)
	h.Write([]byte("hello "))
	h.Write([]byte("world"))
	if err := h.Finish(); err != nil {
		t.Fatal(err)
	}
	// sha256("hello world")
	const want = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
	if h.SHA256() != want || h.AutoV2() != "b94d27b993" || h.Written() != 11 || string(m.Bytes()) != "hello world" {
		t.Fatalf("sha256 %s autov2 %s written %d", h.SHA256(), h.AutoV2(), h.Written())
	}
}

func TestPatchAt(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.bin")
	fs, err := CreateFile(target)
	if err != nil {
		t.Fatal(err)
	}
	var mem MemorySink
	for _, s := range []interface {
		Sink
		HeaderPatcher
	}{fs, &mem} {
		if _, err := s.Write([]byte("header:0000;data")); err != nil {
			t.Fatal(err)
		}
		if err := s.PatchAt(7, []byte("beef")); err != nil {
			t.Fatal(err)
		}
		if err := s.PatchAt(14, []byte("xyz")); err == nil {
			t.Errorf("%T: patch past the bytes written accepted", s)
		}
		if err := s.PatchAt(-1, []byte("x")); err == nil {
			t.Errorf("%T: negative offset accepted", s)
		}
		if err := s.Finish(); err != nil {
			t.Fatal(err)
		}
		if err := s.PatchAt(0, []byte("x")); err == nil {
			t.Errorf("%T: patch after Finish accepted", s)
		}
	}
	got, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "header:beef;data" || string(mem.Bytes()) != "header:beef;data" {
		t.Errorf("file %q, memory %q", got, mem.Bytes())
	}
}

// The sink starts the disk write of what it appended in writebackStep
// stretches, in order and without gaps, whether the bytes came from Write
// or CopyRange; NoSync turns it off.
func TestFileSinkStartsWriteback(t *testing.T) {
	type span struct{ off, n int64 }
	var got []span
	orig := startWriteback
	startWriteback = func(fd uintptr, off, n int64) { got = append(got, span{off, n}) }
	t.Cleanup(func() { startWriteback = orig })

	srcPath := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(srcPath, bytes.Repeat([]byte{7}, 3*writebackStep), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	write := func(noSync bool) int64 {
		got = nil
		s, err := CreateFile(filepath.Join(t.TempDir(), "out.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		s.NoSync = noSync
		defer s.Abort()
		s.Write(make([]byte, 1000)) // a header
		for _, n := range []int64{writebackStep / 2, writebackStep, writebackStep + 5} {
			if _, err := s.CopyRange(src, 0, n); err != nil {
				t.Fatal(err)
			}
			s.Write(make([]byte, 3)) // a small computed tensor
		}
		return s.at
	}

	total := write(false)
	if len(got) == 0 {
		t.Fatalf("no writeback started for %d bytes", total)
	}
	var next int64
	for _, g := range got {
		if g.off != next || g.n < writebackStep {
			t.Fatalf("writeback spans %v: want contiguous spans from 0, each at least %d bytes", got, writebackStep)
		}
		next += g.n
	}
	if total-next >= writebackStep {
		t.Errorf("writeback stops at %d of %d bytes", next, total)
	}
	if write(true); len(got) != 0 {
		t.Errorf("NoSync sink started writeback: %v", got)
	}
}
