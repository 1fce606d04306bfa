package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ckptpack/ckptpack/internal/fixture"
)

// runCLI runs the command in-process, exactly as main does minus os.Exit.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// fixturesRoot is where generated fixtures live: $CKPTPACK_FIXTURES, else
// <module root>/build/fixtures (the Makefile's FIXTURES). Fixtures there are
// reused by every test run and by the benchmark.
func fixturesRoot(t testing.TB) string {
	if d := os.Getenv("CKPTPACK_FIXTURES"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "build", "fixtures")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

var fixtureMu sync.Mutex

// componentFixtures makes sure the full-size component files of arch exist
// (generating them once, ~2 GB for sd15, ~7 GB for sdxl_base) and returns
// their folder. With sparse, the files are full-size but their data is a
// hole: enough for anything that reads only headers.
func componentFixtures(t testing.TB, arch string, sparse bool, components ...string) string {
	t.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	dir := filepath.Join(fixturesRoot(t), arch)
	if sparse {
		dir = filepath.Join(fixturesRoot(t), arch+"-sparse") // the format area's make fixtures-ARCH-sparse folder
	}
	res, err := fixture.Generate(arch, dir, fixture.GenerateOptions{
		WriteOptions: fixture.WriteOptions{Sparse: sparse},
		Only:         components,
	})
	if err != nil {
		t.Fatalf("generating %s fixtures: %v", arch, err)
	}
	for _, r := range res {
		if !r.Cached {
			t.Logf("generated %s (%d bytes)", r.Path, r.Size)
		}
	}
	return dir
}

// oneLineError checks the CLI's failure contract: exit status 1 and one
// line "ckptpack: …" on stderr mentioning every want.
func oneLineError(t *testing.T, code int, stderr string, want ...string) {
	t.Helper()
	if code != exitFailure {
		t.Errorf("exit status %d, want %d (stderr %q)", code, exitFailure, stderr)
	}
	line := strings.TrimSuffix(stderr, "\n")
	if !strings.HasPrefix(line, "ckptpack: ") || strings.Contains(line, "\n") {
		t.Errorf("stderr is not one \"ckptpack: …\" line: %q", stderr)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("error %q does not mention %q", line, w)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
