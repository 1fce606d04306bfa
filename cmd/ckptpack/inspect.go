package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

const inspectUsage = `usage: ckptpack inspect FILE [--json]

Reads only the header of FILE and reports what it holds: architecture,
components found and missing for a full checkpoint, dtypes, sizes, metadata
and whether a ComfyUI workflow is embedded. FILE may also be a torch
checkpoint, a sharded checkpoint's *.index.json or a diffusers folder (each
component of a pipeline is reported).

options:
`

func cmdInspect(e *env, args []string) error {
	fl := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	fl.Usage = func() {
		fmt.Fprint(e.stderr, inspectUsage)
		fl.PrintDefaults()
	}
	asJSON := fl.Bool("json", false, "print the report as JSON")
	pos, err := parseInterspersed(fl, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(e.stderr, "inspect: want one FILE, got %d arguments", len(pos))
	}
	op := &opener{}
	defer op.close()
	src, err := op.source(pos[0])
	if err != nil {
		return err
	}
	if fi, err := os.Stat(pos[0]); err == nil && fi.IsDir() {
		noteStaleTemps(e, pos[0])
	} else {
		noteStaleTemps(e, filepath.Dir(pos[0]))
	}
	if src.IsPipeline() {
		return inspectPipeline(e, src, *asJSON)
	}
	rep, err := checkpoint.Inspect(src.Input)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e, rep)
	}
	printReport(e, rep)
	return nil
}

func printReport(e *env, r *checkpoint.Report) {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "file:\t%s\n", r.File)
	fmt.Fprintf(w, "size:\t%s (%d bytes), %d tensors\n", streamwriter.FormatBytes(r.Bytes), r.Bytes, r.Tensors)
	arch := r.Architecture
	if arch == "" {
		arch = "unknown"
	}
	fmt.Fprintf(w, "architecture:\t%s\n", arch)
	if len(r.Components) == 0 {
		fmt.Fprintf(w, "components:\tnone recognised\n")
	}
	for i, c := range r.Components {
		label := ""
		if i == 0 {
			label = "components:"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d tensors\t%s\n", label, c.Slot, c.Kind, c.Layout, c.Tensors, streamwriter.FormatBytes(c.Bytes))
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(w, "missing:\t%s (a full checkpoint also needs these)\n", strings.Join(r.Missing, ", "))
	} else if len(r.Components) > 0 {
		fmt.Fprintf(w, "missing:\tnothing\n")
	}
	fmt.Fprintf(w, "dtypes:\t%s\n", dtypeCensus(r.DTypes))
	for i, q := range r.Quantization {
		label := ""
		if i == 0 {
			label = "quantization:"
		}
		fmt.Fprintf(w, "%s\t%s\t%d layers\t(%s)\n", label, q.Format, q.Layers, q.Convention)
	}
	if r.Unused > 0 {
		more := ""
		if r.Unused > len(r.UnusedSample) {
			more = fmt.Sprintf(" … (%d more; --json lists all)", r.Unused-len(r.UnusedSample))
		}
		fmt.Fprintf(w, "unused keys:\t%d, read by no ComfyUI class (ckptpack prune drops them): %s%s\n", r.Unused, strings.Join(r.UnusedSample, ", "), more)
	}
	if r.EMATensors > 0 {
		fmt.Fprintf(w, "EMA:\t%d model_ema.* tensors (ckptpack prune drops or promotes them)\n", r.EMATensors)
	}
	wf := "no"
	if r.HasWorkflow {
		wf = fmt.Sprintf("yes (%s)", streamwriter.FormatBytes(int64(len(r.Metadata["workflow"]))))
	}
	fmt.Fprintf(w, "workflow embedded:\t%s\n", wf)
	keys := slices.Sorted(maps.Keys(r.Metadata))
	if len(keys) == 0 {
		fmt.Fprintf(w, "metadata:\tnone\n")
	}
	for i, k := range keys {
		label := ""
		if i == 0 {
			label = "metadata:"
		}
		fmt.Fprintf(w, "%s\t%s = %s\n", label, k, clip(r.Metadata[k], 80))
	}
	w.Flush()
}

// dtypeCensus is "F16 1100, F32 31", most common first.
func dtypeCensus(m map[safetensors.DType]int) string {
	if len(m) == 0 {
		return "none"
	}
	type kv struct {
		d safetensors.DType
		n int
	}
	var l []kv
	for d, n := range m {
		l = append(l, kv{d, n})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].n != l[j].n {
			return l[i].n > l[j].n
		}
		return l[i].d < l[j].d
	})
	parts := make([]string, len(l))
	for i, x := range l {
		parts[i] = fmt.Sprintf("%s %d", x.d, x.n)
	}
	return strings.Join(parts, ", ")
}
