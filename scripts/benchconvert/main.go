//go:build linux

// Command benchconvert measures the CLI's precision conversion and prints
// "name: value" lines (make bench-ops):
//
//	convert_fp16_vs_copy_ratio   median wall time of `ckptpack convert --to fp16`
//	                             of an F32 sd15-sized diffusion model (3.4 GB)
//	                             ÷ median of `ckptpack convert` of the same file
//	                             with no target (a plain copy into a new
//	                             .safetensors); interleaved runs (target ≤ 1.5)
//	convert_fp16_vs_copy_cpu_ratio  the same with CPU time (user + system)
//	convert_fp16_mb_per_s        input MB read per second by the fp16 runs
//	convert_peak_rss_mib         peak RSS of the fp16 runs (flat: about the
//	                             1 MiB buffer plus the Go runtime)
//	quantize_fp8_scaled_mb_per_s input MB per second of `convert --to
//	                             fp8_scaled` of the same file (every
//	                             quantized weight is read twice)
//	quantize_fp8_scaled_vs_copy_ratio  its median wall time ÷ the plain copy's
//	quantize_nvfp4_mb_per_s      the same for `--to nvfp4` (SD1.5's cross-
//	                             attention to_k/to_v stay high precision by
//	                             default: their packed shape would change
//	                             detection)
//	quantize_peak_rss_mib        peak RSS of the quantize runs (flat: nothing
//	                             is held between a layer's parts)
//
// Both sides write through the CLI's FileSink (fsync, link), outputs are
// deleted before every run (untimed), and one untimed warm-up of each loads
// the input into the page cache.
//
//	go run ./scripts/benchconvert [-runs 3] [-work build/bench]
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/ckptpack/ckptpack/internal/fixture"
	"github.com/ckptpack/ckptpack/pkg/quant"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

func main() {
	runs := flag.Int("runs", 3, "timed runs of each command")
	work := flag.String("work", "build/bench", "scratch folder (on the disk to measure)")
	writeModel := flag.String("write-model", "", "only write the weight-like sd15 diffusion model to this `file` (if absent) and exit (the worker bench's input)")
	dtype := flag.String("dtype", "F32", "with -write-model: F32 or F16")
	flag.Parse()
	if *writeModel != "" {
		if err := makeModel(*writeModel, safetensors.DType(*dtype)); err != nil {
			fmt.Fprintln(os.Stderr, "benchconvert:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*runs, *work); err != nil {
		fmt.Fprintln(os.Stderr, "benchconvert:", err)
		os.Exit(1)
	}
}

func run(runs int, work string) error {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	bin, _ := filepath.Abs(filepath.Join(work, "ckptpack"))
	build := exec.Command("go", "build", "-o", bin, "./cmd/ckptpack")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building ckptpack: %w", err)
	}
	in := filepath.Join(work, "unet_f32.safetensors")
	if err := makeModel(in, safetensors.DTypeF32); err != nil {
		return err
	}
	fi, err := os.Stat(in)
	if err != nil {
		return err
	}
	outDir := filepath.Join(work, "convert-out")
	fp16 := []string{bin, "convert", "--to", "fp16", in, "--output-dir", outDir}
	plain := []string{bin, "convert", in, "--output-dir", outDir}
	clean := func() { os.RemoveAll(outDir) }
	var conv, cp []measurement
	for i := -1; i < runs; i++ {
		order := [][]string{fp16, plain}
		if i%2 == 1 {
			order = [][]string{plain, fp16}
		}
		for _, argv := range order {
			clean()
			m, err := measure(argv)
			if err != nil {
				return err
			}
			if i < 0 {
				continue // warm-up
			}
			if len(argv) == len(fp16) {
				conv = append(conv, m)
			} else {
				cp = append(cp, m)
			}
		}
	}
	clean()
	c, p := median(conv), median(cp)
	var rss int64
	for _, m := range conv {
		rss = max(rss, m.maxRSS)
	}
	fmt.Printf("convert_fp16_vs_copy_ratio: %.2f (%.2f s vs %.2f s, %d runs each, %.2f GB F32 input)\n", c.Seconds()/p.Seconds(), c.Seconds(), p.Seconds(), runs, float64(fi.Size())/1e9)
	cpu := func(m measurement) time.Duration { return m.cpu }
	cc, pc := medianOf(conv, cpu), medianOf(cp, cpu)
	// The wall-time ratio is disk-bound and swings with other load on a
	// shared machine; CPU time (user + system) says what the conversion costs.
	fmt.Printf("convert_fp16_vs_copy_cpu_ratio: %.2f (%.2f s vs %.2f s CPU)\n", cc.Seconds()/pc.Seconds(), cc.Seconds(), pc.Seconds())
	fmt.Printf("convert_fp16_mb_per_s: %.0f\n", float64(fi.Size())/1e6/c.Seconds())
	fmt.Printf("convert_peak_rss_mib: %.1f\n", float64(rss)/(1<<20))

	fp8 := []string{bin, "convert", "--to", "fp8_scaled", in, "--output-dir", outDir}
	nvfp4 := []string{bin, "convert", "--to", "nvfp4", in, "--output-dir", outDir}
	times := map[string][]measurement{}
	for i := 0; i < runs; i++ {
		for name, argv := range map[string][]string{"fp8_scaled": fp8, "copy": plain, "nvfp4": nvfp4} {
			clean()
			m, err := measure(argv)
			if err != nil {
				return err
			}
			times[name] = append(times[name], m)
		}
	}
	clean()
	q, qp, qn := median(times["fp8_scaled"]), median(times["copy"]), median(times["nvfp4"])
	rss = 0
	for _, m := range append(times["fp8_scaled"], times["nvfp4"]...) {
		rss = max(rss, m.maxRSS)
	}
	fmt.Printf("quantize_fp8_scaled_mb_per_s: %.0f (%.2f s, %.2f s CPU)\n", float64(fi.Size())/1e6/q.Seconds(), q.Seconds(), medianOf(times["fp8_scaled"], cpu).Seconds())
	fmt.Printf("quantize_fp8_scaled_vs_copy_ratio: %.2f (%.2f s vs %.2f s)\n", q.Seconds()/qp.Seconds(), q.Seconds(), qp.Seconds())
	fmt.Printf("quantize_nvfp4_mb_per_s: %.0f (%.2f s, %.2f s CPU)\n", float64(fi.Size())/1e6/qn.Seconds(), qn.Seconds(), medianOf(times["nvfp4"], cpu).Seconds())
	fmt.Printf("quantize_peak_rss_mib: %.1f\n", float64(rss)/(1<<20))
	return nil
}

// makeModel writes the sd15 diffusion model's keys and shapes in dtype
// (F32: 3.4 GB, F16: 1.7 GB) with weight-like values (a fixed-seed
// generator; about N(0, 0.05)), once.
func makeModel(path string, dtype safetensors.DType) error {
	if dtype != safetensors.DTypeF32 && dtype != safetensors.DTypeF16 {
		return fmt.Errorf("-dtype %s: want F32 or F16", dtype)
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	dir, err := fixture.ArchDir("sd15")
	if err != nil {
		return err
	}
	m, err := fixture.LoadManifest(filepath.Join(dir, "unet.json"))
	if err != nil {
		return err
	}
	ts := make([]safetensors.Tensor, len(m.Tensors))
	for i, e := range m.Tensors {
		ts[i] = safetensors.Tensor{Name: e.Key, DType: dtype, Shape: e.Shape}
	}
	safetensors.ReferenceOrder(ts)
	size, err := safetensors.AssignOffsets(ts)
	if err != nil {
		return err
	}
	h, err := safetensors.EncodeHeader(nil, ts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(h)
	var x uint64 = 0x9E3779B97F4A7C15
	var b [4]byte
	es := dtype.ElemSize()
	for n := int64(0); n < size; n += es {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		// Sum of two uniforms: a cheap bell shape around 0.
		u := float64(x>>40)/(1<<24) + float64(x&0xFFFFFF)/(1<<24) - 1
		v := float32(u * 0.05)
		if es == 2 {
			binary.LittleEndian.PutUint16(b[:], quant.F32ToF16(v))
		} else {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		}
		w.Write(b[:es])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

type measurement struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	maxRSS int64
}

func measure(argv []string) (measurement, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	m := measurement{wall: time.Since(start)}
	if err != nil {
		return m, fmt.Errorf("%v: %w: %s", argv, err, out)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss * 1024
	}
	m.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return m, nil
}

func median(ms []measurement) time.Duration {
	return medianOf(ms, func(m measurement) time.Duration { return m.wall })
}

func medianOf(ms []measurement, f func(measurement) time.Duration) time.Duration {
	d := make([]time.Duration, len(ms))
	for i, m := range ms {
		d[i] = f(m)
	}
	slices.Sort(d)
	if len(d) == 0 {
		return 0
	}
	return d[len(d)/2]
}
