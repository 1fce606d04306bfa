//go:build unix

package main

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runCLIUnhung runs the command in-process like runCLI, but a command that
// blocks (opening a named pipe waits for a writer) fails the test instead
// of hanging it: after the ceiling, fifo is opened for writing to let the
// stuck open return.
func runCLIUnhung(t *testing.T, fifo string, args ...string) (int, string, string) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := runCLI(t, args...)
		done <- result{code, stdout, stderr}
	}()
	select {
	case r := <-done:
		return r.code, r.stdout, r.stderr
	case <-time.After(10 * time.Second):
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			defer f.Close()
		}
		t.Fatalf("%q blocked on the named pipe %s", args, fifo)
	}
	return 0, "", ""
}

// Every verb refuses a named pipe as any of its inputs at once, without
// opening it (an open would wait for a writer forever), and writes nothing.
func TestNamedPipeInputs(t *testing.T) {
	unet, clipL, vae := sparseSD15(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ff.safetensors")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	cases := [][]string{
		{"inspect", fifo},
		{"save", "--model", fifo, "--clip", clipL, "--vae", vae},
		{"save", "--model", unet, "--clip", fifo, "--vae", vae},
		{"save", "--model", unet, "--clip", clipL, "--vae", fifo},
		{"save", "--model", unet, "--clip", clipL, "--vae", vae, "--prompt", "@" + fifo},
		{"save", "--model", unet, "--clip", clipL, "--vae", vae, "--workflow", fifo},
		{"save", "--model", unet, "--clip", clipL, "--vae", vae, "--thumbnail", fifo},
		{"save", "--model", unet, "--clip", clipL, "--vae", vae, "--description", "@" + fifo},
		{"extract", "--component", "vae", fifo},
		{"convert", "--to", "fp16", fifo},
		{"prune", fifo},
		{"meta", "show", fifo},
		{"meta", "set", "--title", "x", fifo},
		{"meta", "set", "--in-place", "--title", "x", fifo},
		{"meta", "set", "--title", "x", "--thumbnail", fifo, unet},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			writes := args[0] != "inspect" && !(args[0] == "meta" && args[1] == "show") && !slices.Contains(args, "--in-place")
			if writes {
				args = append(args, "--output-dir", out)
			}
			code, stdout, stderr := runCLIUnhung(t, fifo, args...)
			oneLineError(t, code, stderr, fifo+" is not a regular file (named pipe)")
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// Devices and sockets are refused by what they are; a symlink to a regular
// file is followed.
func TestSpecialFileInputs(t *testing.T) {
	code, _, stderr := runCLI(t, "inspect", "/dev/null")
	oneLineError(t, code, stderr, "/dev/null is not a regular file (character device)")
	code, _, stderr = runCLI(t, "convert", "--to", "fp16", "/dev/zero")
	oneLineError(t, code, stderr, "/dev/zero is not a regular file (character device)")

	dir := t.TempDir()
	sock := filepath.Join(dir, "s.safetensors")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, _, stderr = runCLI(t, "inspect", sock)
	oneLineError(t, code, stderr, sock+" is not a regular file (socket)")

	unet, _, _ := sparseSD15(t)
	link := filepath.Join(dir, "link.safetensors")
	if err := os.Symlink(unet, link); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runCLI(t, "inspect", link); code != 0 || !strings.Contains(stdout, "SD15") {
		t.Errorf("inspect through a symlink: status %d, %s%s", code, stdout, stderr)
	}
	dangling := filepath.Join(dir, "dangling.safetensors")
	os.Symlink(filepath.Join(dir, "gone"), dangling)
	code, _, stderr = runCLI(t, "inspect", dangling)
	oneLineError(t, code, stderr, dangling, "no such file")
}
