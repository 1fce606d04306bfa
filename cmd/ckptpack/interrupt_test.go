//go:build unix

package main

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
)

// The interrupt tests run the CLI as a real process: the test binary itself,
// started with asCLIEnv set, runs main instead of the tests. There the
// test hooks below can make the reads of tensor data slow or never return;
// they live in this _test.go file, so no ckptpack build has them.
const (
	asCLIEnv     = "CKPTPACK_TEST_AS_CLI"
	readsEnv     = "CKPTPACK_TEST_READS"      // "slow" or "stall"
	stallMarkEnv = "CKPTPACK_TEST_STALL_MARK" // file created when a read stalls
	graceEnv     = "CKPTPACK_TEST_GRACE"      // interruptGrace
)

func TestMain(m *testing.M) {
	if os.Getenv(asCLIEnv) == "1" {
		installTestHooks()
		main()
		return
	}
	os.Exit(m.Run())
}

func installTestHooks() {
	if g, err := time.ParseDuration(os.Getenv(graceEnv)); err == nil {
		interruptGrace = g
	}
	mode := os.Getenv(readsEnv)
	if mode == "" {
		return
	}
	testInputHook = func(in checkpoint.Input) checkpoint.Input {
		var n [8]byte
		if _, err := in.R.ReadAt(n[:], 0); err != nil {
			return in
		}
		in.R = &hookedReader{r: in.R, dataStart: 8 + int64(binary.LittleEndian.Uint64(n[:])), mode: mode, mark: os.Getenv(stallMarkEnv)}
		return in
	}
}

// hookedReader passes header reads through and makes data reads slow
// ("slow": a pause before each) or never return ("stall": blocked in a
// read(2) of a pipe nobody writes to, as on a stalled network mount). Not
// being an *os.File, it also keeps the kernel copy out of the way.
type hookedReader struct {
	r         io.ReaderAt
	dataStart int64
	mode      string
	mark      string
}

func (h *hookedReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > h.dataStart {
		switch h.mode {
		case "slow":
			time.Sleep(20 * time.Millisecond)
		case "stall":
			stallInSyscall(h.mark)
		}
	}
	return h.r.ReadAt(p, off)
}

var stallPipe struct {
	sync.Once
	r, w int
}

// stallInSyscall blocks the calling thread in read(2) forever.
func stallInSyscall(mark string) {
	stallPipe.Do(func() {
		var fds [2]int
		if err := syscall.Pipe(fds[:]); err != nil {
			panic(err)
		}
		stallPipe.r, stallPipe.w = fds[0], fds[1]
	})
	if mark != "" {
		os.WriteFile(mark, nil, 0o600)
	}
	var b [1]byte
	for {
		syscall.Read(stallPipe.r, b[:])
	}
}

// cliProcess is the CLI running as a process.
type cliProcess struct {
	cmd            *exec.Cmd
	stdout, stderr strings.Builder
	done           chan error
}

func startCLI(t *testing.T, env []string, args ...string) *cliProcess {
	t.Helper()
	p := &cliProcess{cmd: exec.Command(os.Args[0], args...), done: make(chan error, 1)}
	p.cmd.Env = append(append(os.Environ(), asCLIEnv+"=1"), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// hangCeiling bounds waits that only a hang would reach.
const hangCeiling = 2 * time.Second

// waitFor polls until cond holds; the process ending first, or a minute
// passing, fails the test (a hang, not a measurement).
func (p *cliProcess) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("the CLI ended (%v) before %s: stderr %q", err, what, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after a minute", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exitAfter waits for the process to end (at most hangCeiling after the
// signal was sent, resending it every 100 ms when resend is set) and
// returns its exit status.
func (p *cliProcess) exitAfter(t *testing.T, sig os.Signal, resend bool) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	ceiling := time.After(hangCeiling)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-p.done:
			p.done <- err
			var ee *exec.ExitError
			if err == nil {
				return 0
			}
			if !errors.As(err, &ee) {
				t.Fatalf("wait: %v", err)
			}
			return ee.ExitCode()
		case <-tick.C:
			if resend {
				p.cmd.Process.Signal(sig)
			}
		case <-ceiling:
			t.Fatalf("still running %v after %v; stderr %q", sig, hangCeiling, p.stderr.String())
		}
	}
}

// saveArgs is a save of the sparse sd15 components into out.
func saveArgs(t *testing.T, out string) []string {
	unet, clipL, vae := sparseSD15(t)
	return []string{"save", "--model", unet, "--clip", clipL, "--vae", vae, "--output-dir", out}
}

// assertNoOutput checks that the save's folder holds neither the
// checkpoint nor a temporary file.
func assertNoOutput(t *testing.T, out string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(out, "checkpoints"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}

func tempExists(out string) func() bool {
	return func() bool {
		_, err := os.Stat(filepath.Join(out, "checkpoints", ".ComfyUI_00001_.safetensors.ckptpack.part"))
		return err == nil
	}
}

// One SIGINT or SIGTERM while the save is stuck in a read that never
// returns: the context is cancelled but nothing looks at it, so the process
// exits on its own after the grace, removing its temporary file.
func TestInterruptStalledSave(t *testing.T) {
	for _, tc := range []struct {
		sig    syscall.Signal
		status int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			out := t.TempDir()
			mark := filepath.Join(t.TempDir(), "stalled")
			p := startCLI(t, []string{readsEnv + "=stall", stallMarkEnv + "=" + mark}, saveArgs(t, out)...)
			p.waitFor(t, "stalled read", func() bool { _, err := os.Stat(mark); return err == nil })
			if !tempExists(out)() {
				t.Fatal("no temporary file while writing")
			}
			if code := p.exitAfter(t, tc.sig, false); code != tc.status {
				t.Errorf("exit status %d, want %d", code, tc.status)
			}
			if !strings.Contains(p.stderr.String(), "exiting at once") {
				t.Errorf("stderr %q does not say it exited at once", p.stderr.String())
			}
			assertNoOutput(t, out)
		})
	}
}

// A second Ctrl-C exits at once even when the grace is long: with an hour
// of grace, only the second signal can end this stalled save.
func TestSecondInterruptExitsAtOnce(t *testing.T) {
	out := t.TempDir()
	mark := filepath.Join(t.TempDir(), "stalled")
	p := startCLI(t, []string{readsEnv + "=stall", stallMarkEnv + "=" + mark, graceEnv + "=1h"}, saveArgs(t, out)...)
	p.waitFor(t, "stalled read", func() bool { _, err := os.Stat(mark); return err == nil })
	if code := p.exitAfter(t, syscall.SIGINT, true); code != 130 {
		t.Errorf("exit status %d, want 130", code)
	}
	if !strings.Contains(p.stderr.String(), "exiting at once") {
		t.Errorf("stderr %q", p.stderr.String())
	}
	assertNoOutput(t, out)
}

// Ctrl-C twice during a save that is making progress (slow reads): it
// ends, by whichever path, with status 130 and nothing left behind.
func TestDoubleInterruptDuringSave(t *testing.T) {
	out := t.TempDir()
	p := startCLI(t, []string{readsEnv + "=slow", graceEnv + "=1h"}, saveArgs(t, out)...)
	p.waitFor(t, "temporary file", tempExists(out))
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.exitAfter(t, syscall.SIGINT, false); code != 130 {
		t.Errorf("exit status %d, want 130", code)
	}
	// The clean path's line, the at-once path's, or (the second signal
	// arriving as the work returns) both.
	stderr := p.stderr.String()
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.HasPrefix(line, "ckptpack: ") {
			t.Errorf("stderr line %q", line)
		}
	}
	if !strings.Contains(stderr, "interrupted; nothing was written") && !strings.Contains(stderr, "exiting at once") || p.stdout.String() != "" {
		t.Errorf("stderr %q, stdout %q", stderr, p.stdout.String())
	}
	assertNoOutput(t, out)
}

// One Ctrl-C during a save making progress cancels it cleanly: the work
// returns, says so, and the process exits 130.
func TestInterruptSaveCleanly(t *testing.T) {
	out := t.TempDir()
	p := startCLI(t, []string{readsEnv + "=slow", graceEnv + "=1h"}, saveArgs(t, out)...)
	p.waitFor(t, "temporary file", tempExists(out))
	if code := p.exitAfter(t, syscall.SIGINT, false); code != 130 {
		t.Errorf("exit status %d, want 130", code)
	}
	want := "ckptpack: " + filepath.Join(out, "checkpoints", "ComfyUI_00001_.safetensors") + ": interrupted; nothing was written\n"
	if p.stderr.String() != want {
		t.Errorf("stderr %q, want %q", p.stderr.String(), want)
	}
	assertNoOutput(t, out)
}
