//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// Two saves with the same prefix started together both run, on the next
// free counters: each claims its name before writing (its temporary file),
// and a save counts the names others have claimed.
func TestConcurrentSavesTakeNextCounter(t *testing.T) {
	out := t.TempDir()
	args := saveArgs(t, out)
	env := []string{readsEnv + "=slow", graceEnv + "=1h"}
	a, b := startCLI(t, env, args...), startCLI(t, env, args...)
	folder := filepath.Join(out, "checkpoints")
	claimed := func(counter string) func() bool {
		return func() bool {
			_, err := os.Stat(filepath.Join(folder, ".ComfyUI_"+counter+"_.safetensors.ckptpack.part"))
			return err == nil
		}
	}
	a.waitFor(t, "the first claim", claimed("00001"))
	a.waitFor(t, "the second claim", claimed("00002"))
	b.waitFor(t, "the second claim", claimed("00002")) // and b still runs
	for _, p := range []*cliProcess{a, b} {
		if code := p.exitAfter(t, syscall.SIGINT, false); code != 130 {
			t.Errorf("exit status %d, want 130; stderr %q", code, p.stderr.String())
		}
		if strings.Contains(p.stderr.String(), "exists") {
			t.Errorf("stderr %q", p.stderr.String())
		}
	}
	assertNoOutput(t, out)
}

// runCancelledAtClaim runs a command in-process, with createSink wrapped:
// before the first claim, race(path) runs (another process taking the name
// first), and once a name is claimed the command is cancelled, so the save
// stops before writing its gigabytes. It returns the status and stderr.
func runCancelledAtClaim(t *testing.T, race func(path string), args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	real := createSink
	t.Cleanup(func() { createSink = real })
	first := true
	createSink = func(path string) (*streamwriter.FileSink, error) {
		if first && race != nil {
			race(path)
		}
		first = false
		s, err := real(path)
		if err == nil {
			cancel()
		}
		return s, err
	}
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stderr.String()
}

// A save whose chosen name is taken between choosing and claiming it (by
// another save's claim, or by a finished file appearing) takes the next
// counter instead of failing.
func TestSaveRetriesTakenName(t *testing.T) {
	for _, how := range []string{"claimed", "written"} {
		t.Run(how, func(t *testing.T) {
			out := t.TempDir()
			folder := filepath.Join(out, "checkpoints")
			var other *streamwriter.FileSink
			code, stderr := runCancelledAtClaim(t, func(path string) {
				if filepath.Base(path) != "ComfyUI_00001_.safetensors" {
					t.Errorf("first choice %s", path)
				}
				if how == "written" {
					writeFile(t, path, "ComfyUI's")
					return
				}
				var err error
				if other, err = streamwriter.CreateFile(path); err != nil {
					t.Fatal(err)
				}
			}, saveArgs(t, out)...)
			want := filepath.Join(folder, "ComfyUI_00002_.safetensors") + ": interrupted; nothing was written"
			if code != exitFailure || !strings.Contains(stderr, want) {
				t.Errorf("status %d, stderr %q; want %q", code, stderr, want)
			}
			wantLeft := []string{"ComfyUI_00001_.safetensors"}
			if other != nil {
				wantLeft = []string{".ComfyUI_00001_.safetensors.ckptpack.part"}
				defer other.Abort()
			}
			if got := listNames(t, folder); !slices.Equal(got, wantLeft) {
				t.Errorf("folder holds %v, want %v", got, wantLeft)
			}
		})
	}
	// A name claimed by a running save is skipped from the start.
	out := t.TempDir()
	os.MkdirAll(filepath.Join(out, "checkpoints"), 0o755)
	other, err := streamwriter.CreateFile(filepath.Join(out, "checkpoints", "ComfyUI_00001_.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Abort()
	code, stdout, stderr := runCLI(t, append(saveArgs(t, out), "--dry-run")...)
	if code != exitOK || !strings.Contains(stdout, "ComfyUI_00002_.safetensors") {
		t.Errorf("dry run beside a running save: %d %q %q", code, stdout, stderr)
	}
}

func listNames(t *testing.T, dir string) []string {
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

// A save killed outright (SIGKILL) leaves its temporary file; inspect and
// --dry-run mention it, and the next run writing into that folder removes
// it (only it: other programs' files stay) and says so. Its counter is
// free again.
func TestKilledSaveLeftoverRemoved(t *testing.T) {
	out := t.TempDir()
	folder := filepath.Join(out, "checkpoints")
	p := startCLI(t, []string{readsEnv + "=slow"}, saveArgs(t, out)...)
	temp := filepath.Join(folder, ".ComfyUI_00001_.safetensors.ckptpack.part")
	p.waitFor(t, "data in the temporary file", func() bool {
		fi, err := os.Stat(temp)
		return err == nil && fi.Size() > 0
	})
	p.cmd.Process.Kill()
	if err := <-p.done; err == nil {
		t.Fatal("killed save exited 0")
	}
	p.done <- nil
	if _, err := os.Stat(temp); err != nil {
		t.Fatalf("SIGKILL left no temporary file to clean up: %v", err)
	}
	others := []string{".other.safetensors.k3j2h1.part", "download.safetensors.part"}
	for _, n := range others {
		writeFile(t, filepath.Join(folder, n), "not ckptpack's")
	}
	small := filepath.Join(folder, "small.safetensors")
	writeTensors(t, small, map[string][]byte{"a": make([]byte, 8)}, "F32")

	code, _, stderr := runCLI(t, "inspect", small)
	if code != exitOK || !strings.Contains(stderr, "note: "+temp) || !strings.Contains(stderr, "killed") {
		t.Errorf("inspect: %d, stderr %q", code, stderr)
	}
	code, stdout, stderr := runCLI(t, append(saveArgs(t, out), "--dry-run")...)
	if code != exitOK || !strings.Contains(stdout, "ComfyUI_00001_.safetensors") || !strings.Contains(stderr, "note: "+temp) {
		t.Errorf("dry run: %d %q %q", code, stdout, stderr)
	}
	if _, err := os.Stat(temp); err != nil {
		t.Fatal("inspect or --dry-run removed the leftover")
	}

	code, stderr = runCancelledAtClaim(t, nil, saveArgs(t, out)...)
	if !strings.Contains(stderr, "ckptpack: removed "+temp) || !strings.Contains(stderr, filepath.Join(folder, "ComfyUI_00001_.safetensors")+": interrupted") {
		t.Errorf("next save: %d, stderr %q", code, stderr)
	}
	// An older ckptpack's temporary file (no lock) is only mentioned.
	if !strings.Contains(stderr, "note: "+filepath.Join(folder, others[0])+" looks like the unfinished output of an older ckptpack") {
		t.Errorf("next save did not mention %s: %q", others[0], stderr)
	}
	want := append(slices.Clone(others), "small.safetensors")
	slices.Sort(want)
	if got := listNames(t, folder); !slices.Equal(got, want) {
		t.Errorf("folder holds %v, want %v", got, want)
	}
}

// The other writing commands clean their output folder the same way.
func TestConvertRemovesLeftover(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.safetensors")
	writeTensors(t, small, map[string][]byte{"a": make([]byte, 8)}, "F32")
	out := t.TempDir()
	leftover := filepath.Join(out, ".old-fp16.safetensors.ckptpack.part")
	writeFile(t, leftover, "partial")
	code, stdout, stderr := runCLI(t, "convert", small, "--output-dir", out)
	if code != exitOK || !strings.Contains(stderr, "removed "+leftover) || !strings.Contains(stdout, "wrote") {
		t.Errorf("convert: %d %q %q", code, stdout, stderr)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover still there: %v", err)
	}
}
