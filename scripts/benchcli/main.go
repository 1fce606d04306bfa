//go:build linux

// Command benchcli measures the ckptpack CLI against cat and prints
// "name: value" lines (make bench):
//
//	cli_sdxl_vs_cat_ratio   median wall time of `ckptpack save` on the full
//	                        sdxl_base fixture ÷ median of `cat` of the same
//	                        component files into one file on the same disk
//	                        (interleaved runs; target ≤ 1.00)
//	cli_peak_rss_mib_sdxl   peak RSS of those ckptpack runs (target ≤ 64)
//	cli_peak_rss_mib_flux   peak RSS writing a flux_dev-sized checkpoint
//	                        (34 GB) from sparse inputs; skipped with a reason
//	                        when the disk lacks room
//	cli_peak_rss_mib        the larger of the two
//	plan_ms_flux            median time to open the flux_dev inputs, read
//	                        their headers and plan (target ≤ 50)
//
// Fairness: both sides end with an fsync of the output (ckptpack's FileSink
// always fsyncs; cat is followed by `sync FILE` in the same timed shell), the
// output is deleted before every run (untimed), one untimed warm-up of each
// loads the inputs into the page cache, and the runs alternate which side
// goes first. Peak RSS comes from wait4's rusage of the child process.
//
//	go run ./scripts/benchcli [-runs 5] [-work build/bench] [-fixtures build/fixtures] [-skip-sdxl] [-skip-flux] [-args "--no-fast-copy"]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ckptpack/ckptpack/internal/fixture"
	"github.com/ckptpack/ckptpack/pkg/checkpoint"
)

func main() {
	runs := flag.Int("runs", 5, "timed runs of each command")
	work := flag.String("work", "build/bench", "scratch folder for outputs (on the disk to measure)")
	fixtures := flag.String("fixtures", "", "fixture folder (default $CKPTPACK_FIXTURES or build/fixtures)")
	skipFlux := flag.Bool("skip-flux", false, "skip the 34 GB flux_dev-sized run")
	skipSDXL := flag.Bool("skip-sdxl", false, "skip the sdxl_base comparison with cat")
	extra := flag.String("args", "", "extra ckptpack save arguments, e.g. \"--no-fast-copy\" (space-separated)")
	flag.Parse()
	if *fixtures == "" {
		*fixtures = os.Getenv("CKPTPACK_FIXTURES")
	}
	if *fixtures == "" {
		*fixtures = "build/fixtures"
	}
	b := &bench{runs: *runs, work: *work, fixtures: *fixtures}
	if *extra != "" {
		b.extraArgs = strings.Fields(*extra)
	}
	if err := b.run(*skipSDXL, *skipFlux); err != nil {
		fmt.Fprintln(os.Stderr, "benchcli:", err)
		os.Exit(1)
	}
}

type bench struct {
	runs      int
	work      string
	fixtures  string
	bin       string
	extraArgs []string
}

// measurement of one child process.
type measurement struct {
	wall   time.Duration
	maxRSS int64 // bytes
}

func (b *bench) run(skipSDXL, skipFlux bool) error {
	if err := os.MkdirAll(b.work, 0o755); err != nil {
		return err
	}
	b.bin, _ = filepath.Abs(filepath.Join(b.work, "ckptpack"))
	build := exec.Command("go", "build", "-o", b.bin, "./cmd/ckptpack")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building ckptpack: %w", err)
	}

	sdxlRSS, fluxRSS := int64(-1), int64(-1)
	var err error
	if skipSDXL {
		fmt.Println("cli_sdxl_vs_cat_ratio: skipped (-skip-sdxl)")
	} else if sdxlRSS, err = b.sdxl(); err != nil {
		return err
	}
	if skipFlux {
		fmt.Println("cli_peak_rss_mib_flux: skipped (-skip-flux)")
	} else if fluxRSS, err = b.flux(); err != nil {
		return err
	}
	fmt.Printf("cli_peak_rss_mib: %.1f\n", mib(max(sdxlRSS, fluxRSS)))
	return b.planFlux()
}

// sdxl times ckptpack save against cat on the full sdxl_base components.
func (b *bench) sdxl() (int64, error) {
	dir, err := b.fixture("sdxl_base", false)
	if err != nil {
		return 0, err
	}
	files := []string{"unet", "clip_l", "clip_g", "vae"}
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(dir, f+".safetensors"))
	}
	outDir := filepath.Join(b.work, "sdxl-out")
	catOut := filepath.Join(b.work, "sdxl-cat.out")
	save := append([]string{b.bin, "save", "--model", paths[0], "--clip", paths[1], "--clip", paths[2], "--vae", paths[3], "--output-dir", outDir}, b.extraArgs...)
	cat := []string{"sh", "-c", `cat "$@" > "$0" && sync "$0"`, catOut}
	cat = append(cat, paths...)
	clean := func() {
		os.RemoveAll(outDir)
		os.Remove(catOut)
		// Writeback of the deleted file must not bleed into the next run.
		syscall.Sync()
	}

	var cli, catT []measurement
	for i := -1; i < b.runs; i++ { // i == -1: untimed warm-up
		order := []bool{true, false}
		if i%2 != 0 {
			order = []bool{false, true}
		}
		for _, isCLI := range order {
			clean()
			cmd := cat
			if isCLI {
				cmd = save
			}
			m, err := measure(cmd)
			if err != nil {
				return 0, err
			}
			if i < 0 {
				continue
			}
			if isCLI {
				cli = append(cli, m)
			} else {
				catT = append(catT, m)
			}
		}
	}
	clean()
	size := int64(0)
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		size += fi.Size()
	}
	mc, mt := median(cli), median(catT)
	var rss int64
	for _, m := range cli {
		rss = max(rss, m.maxRSS)
	}
	fmt.Printf("cli_sdxl_seconds: %.2f\n", mc.Seconds())
	fmt.Printf("cat_sdxl_seconds: %.2f\n", mt.Seconds())
	fmt.Printf("cli_sdxl_mb_per_s: %.0f\n", float64(size)/1e6/mc.Seconds())
	fmt.Printf("cli_sdxl_vs_cat_ratio: %.3f\n", mc.Seconds()/mt.Seconds())
	fmt.Printf("cli_peak_rss_mib_sdxl: %.1f\n", mib(rss))
	return rss, nil
}

// flux writes a flux_dev-sized checkpoint from sparse inputs (their data is
// holes, so they take no room, but the output is 34 GB of real blocks).
func (b *bench) flux() (int64, error) {
	dir, err := b.fixture("flux_dev", true)
	if err != nil {
		return 0, err
	}
	outDir := filepath.Join(b.work, "flux-out")
	os.RemoveAll(outDir)
	args := append([]string{"save", "--model", filepath.Join(dir, "unet.safetensors"), "--clip", filepath.Join(dir, "clip_l.safetensors"),
		"--clip", filepath.Join(dir, "t5xxl.safetensors"), "--vae", filepath.Join(dir, "vae.safetensors"), "--output-dir", outDir}, b.extraArgs...)
	dry, err := exec.Command(b.bin, append(args, "--dry-run", "--json")...).Output()
	if err != nil {
		return 0, fmt.Errorf("planning flux_dev: %w", exitErr(err))
	}
	var plan struct{ Bytes int64 }
	if err := json.Unmarshal(dry, &plan); err != nil {
		return 0, err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(b.work, &st); err != nil {
		return 0, err
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	const margin = 8 << 30 // leave room for everyone else on a shared disk
	if free < plan.Bytes+margin {
		fmt.Printf("cli_peak_rss_mib_flux: skipped (needs %.1f GB free in %s plus a %d GB margin, %.1f GB free)\n",
			float64(plan.Bytes)/1e9, b.work, margin>>30, float64(free)/1e9)
		return -1, nil
	}
	m, err := measure(append([]string{b.bin}, args...))
	os.RemoveAll(outDir)
	if err != nil {
		return 0, err
	}
	fmt.Printf("cli_flux_seconds: %.2f\n", m.wall.Seconds())
	fmt.Printf("cli_peak_rss_mib_flux: %.1f\n", mib(m.maxRSS))
	return m.maxRSS, nil
}

// planFlux times opening the flux_dev inputs, reading their headers and
// planning, in-process (no process start-up in the number).
func (b *bench) planFlux() error {
	dir, err := b.fixture("flux_dev", true)
	if err != nil {
		return err
	}
	var times []measurement
	for i := range 11 {
		start := time.Now()
		var files []*os.File
		open := func(name string) checkpoint.Input {
			p := filepath.Join(dir, name+".safetensors")
			f, err := os.Open(p)
			if err != nil {
				return checkpoint.Input{Name: p}
			}
			files = append(files, f)
			fi, _ := f.Stat()
			return checkpoint.Input{Name: p, R: f, Size: fi.Size()}
		}
		req := checkpoint.SaveRequest{Model: open("unet"), Clip: []checkpoint.Input{open("clip_l"), open("t5xxl")}, VAE: open("vae"), Title: "ComfyUI 1"}
		_, err := checkpoint.PlanCheckpoint(req)
		elapsed := time.Since(start)
		for _, f := range files {
			f.Close()
		}
		if err != nil {
			return fmt.Errorf("planning flux_dev: %w", err)
		}
		if i > 0 { // the first run warms the page cache
			times = append(times, measurement{wall: elapsed})
		}
	}
	fmt.Printf("plan_ms_flux: %.2f\n", float64(median(times).Microseconds())/1000)
	return nil
}

func (b *bench) fixture(arch string, sparse bool) (string, error) {
	dir := filepath.Join(b.fixtures, arch)
	comps := []string{"unet", "clip_l", "clip_g", "vae"}
	if arch == "flux_dev" {
		comps = []string{"unet", "clip_l", "t5xxl", "vae"}
	}
	if sparse {
		dir += "-sparse"
	}
	start := time.Now()
	res, err := fixture.Generate(arch, dir, fixture.GenerateOptions{WriteOptions: fixture.WriteOptions{Sparse: sparse}, Only: comps})
	if err != nil {
		return "", fmt.Errorf("fixtures %s: %w", arch, err)
	}
	for _, r := range res {
		if !r.Cached {
			fmt.Fprintf(os.Stderr, "benchcli: generated %s fixtures in %s (%.0fs)\n", arch, dir, time.Since(start).Seconds())
			break
		}
	}
	return dir, nil
}

// measure runs argv, failing on a non-zero exit, and returns its wall time
// and peak RSS.
func measure(argv []string) (measurement, error) {
	cmd := exec.CommandContext(context.Background(), argv[0], argv[1:]...)
	cmd.Stdout = nil
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return measurement{}, fmt.Errorf("%s: %w: %s", argv[0], err, stderr.b)
	}
	m := measurement{wall: wall}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = maxRSSBytes(ru)
	}
	return m, nil
}

func median(ms []measurement) time.Duration {
	if len(ms) == 0 {
		return 0
	}
	d := make([]time.Duration, len(ms))
	for i, m := range ms {
		d[i] = m.wall
	}
	slices.Sort(d)
	if len(d)%2 == 1 {
		return d[len(d)/2]
	}
	return (d[len(d)/2-1] + d[len(d)/2]) / 2
}

// maxRSSBytes reads ru_maxrss, which Linux reports in KiB.
func maxRSSBytes(ru *syscall.Rusage) int64 { return ru.Maxrss * 1024 }

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func exitErr(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, ee.Stderr)
	}
	return err
}

type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b) < 4096 {
		l.b = append(l.b, p[:min(len(p), 4096-len(l.b))]...)
	}
	return len(p), nil
}
