//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package streamwriter

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// One temporary file per target, created exclusively: a second writer of
// the same output is refused at once instead of failing at the end.
func TestFileSinkClaimsTarget(t *testing.T) {
	target := filepath.Join(t.TempDir(), "ComfyUI_00001_.safetensors")
	s, err := CreateFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.TempPath(), TempName(target); got != want {
		t.Errorf("temporary file %s, want %s", got, want)
	}
	if _, err := CreateFile(target); !errors.Is(err, ErrBusy) {
		t.Errorf("second CreateFile of the same target: %v, want ErrBusy", err)
	}
	// Locked while written: not a leftover, even with data in it.
	s.Write([]byte("data"))
	if stale, err := FindStaleTemps(filepath.Dir(target)); err != nil || len(stale) != 0 {
		t.Errorf("a file being written reported stale: %v, %v", stale, err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateFile(target); !errors.Is(err, ErrExists) {
		t.Errorf("CreateFile after Finish: %v, want ErrExists", err)
	}
}

func TestTargetOfTemp(t *testing.T) {
	for name, want := range map[string]string{
		".ComfyUI_00001_.safetensors.ckptpack.part": "ComfyUI_00001_.safetensors",
		".ComfyUI_00001_.safetensors.k3j2h1.part":   "", // an older ckptpack's random name, unlocked by it
		"ComfyUI_00001_.safetensors.ckptpack.part":  "", // not hidden
		".ckptpack.part":      "",
		".x.safetensors.part": "",
	} {
		got, ok := TargetOfTemp(name)
		if got != want || ok != (want != "") {
			t.Errorf("TargetOfTemp(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

// Leftovers of killed runs (unlocked, named as a FileSink names them) are
// removed; files of runs still writing, young empty ones, and every other
// file are kept.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if age > 0 {
			old := time.Now().Add(-age)
			os.Chtimes(p, old, old)
		}
		return p
	}
	killed := write(".ComfyUI_00001_.safetensors.ckptpack.part", "partial data", 0)
	oldEmpty := write(".ComfyUI_00002_.safetensors.ckptpack.part", "", 2*staleEmptyAge)
	write(".ComfyUI_00003_.safetensors.ckptpack.part", "", 0) // just created, maybe not locked yet
	write(".other.safetensors.k3j2h1.part", "someone's", time.Hour)
	write("download.safetensors.part", "a browser's", time.Hour)
	write(".hidden", "x", time.Hour)
	os.Symlink(filepath.Join(dir, "download.safetensors.part"), filepath.Join(dir, ".link.safetensors.ckptpack.part"))
	live, err := CreateFile(filepath.Join(dir, "ComfyUI_00004_.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	live.Write([]byte("being written"))

	found, err := FindStaleTemps(dir)
	if err != nil {
		t.Fatal(err)
	}
	paths := func(l []StaleTemp) []string {
		var out []string
		for _, st := range l {
			out = append(out, st.Path)
		}
		slices.Sort(out)
		return out
	}
	want := []string{killed, oldEmpty}
	if got := paths(found); !slices.Equal(got, want) {
		t.Errorf("found %v, want %v", got, want)
	}
	before := dirNames(t, dir)
	removed, err := RemoveStaleTemps(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(removed); !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	if removed[0].Target != "ComfyUI_00001_.safetensors" || removed[0].Bytes != int64(len("partial data")) {
		t.Errorf("report %+v", removed[0])
	}
	after := dirNames(t, dir)
	if len(after) != len(before)-2 {
		t.Errorf("folder went from %v to %v", before, after)
	}
	for _, p := range want {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s still there", p)
		}
	}
	if _, err := os.Stat(live.TempPath()); err != nil {
		t.Errorf("a file being written was removed: %v", err)
	}
	if removed, _ := RemoveStaleTemps(filepath.Join(dir, "missing")); len(removed) != 0 {
		t.Error("a missing folder has leftovers")
	}
}

// A leftover of the very target being created is replaced.
func TestCreateFileOverLeftover(t *testing.T) {
	target := filepath.Join(t.TempDir(), "out.safetensors")
	os.WriteFile(TempName(target), []byte("partial"), 0o600)
	s, err := CreateFile(target)
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("new"))
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Errorf("target holds %q", b)
	}
}

// RemoveTemps removes the files of sinks still writing, for a process
// exiting at once; finished files stay.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	done, err := CreateFile(filepath.Join(dir, "done.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	done.Write([]byte("x"))
	if err := done.Finish(); err != nil {
		t.Fatal(err)
	}
	var sinks []*FileSink
	for _, n := range []string{"a.safetensors", "b.safetensors"} {
		s, err := CreateFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		s.Write([]byte("partial"))
		sinks = append(sinks, s)
	}
	aborted, _ := CreateFile(filepath.Join(dir, "c.safetensors"))
	aborted.Abort()
	removed := RemoveTemps()
	slices.Sort(removed)
	if want := []string{sinks[0].TempPath(), sinks[1].TempPath()}; !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"done.safetensors"}) {
		t.Errorf("folder holds %v", names)
	}
}

// Temporary files of older versions (no lock) are found, never removed.
func TestFindLegacyTemps(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".ComfyUI_00001_.safetensors.k3j2h1qz.part", ".a.safetensors.ckptpack.part", ".notes.txt.abc.part", "x.safetensors.abc.part", ".a.safetensors.ABC.part"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600)
	}
	got, err := FindLegacyTemps(dir)
	if want := []string{filepath.Join(dir, ".ComfyUI_00001_.safetensors.k3j2h1qz.part")}; err != nil || !slices.Equal(got, want) {
		t.Errorf("FindLegacyTemps = %v, %v; want %v", got, err, want)
	}
}
