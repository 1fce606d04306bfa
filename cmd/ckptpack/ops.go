package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// The file operations beyond save: extract, convert and prune. Each takes
// several files, handles them one after another, keeps going after a file
// fails, and exits 1 when any did. Outputs are written through FileSink
// (hidden .part file, linked into place when complete), so nothing is ever
// overwritten and a failure leaves nothing behind.

const extractUsage = `usage: ckptpack extract --component model|clip|vae FILE... [options]

Writes one component of each FILE the way ComfyUI's ModelSave, CLIPSave and
VAESave nodes write it, named as they name it in the output folder:
  model  <output-dir>/diffusion_models/ComfyUI_00001_.safetensors
  clip   <output-dir>/clip/ComfyUI_clip_l_00001_.safetensors (one file per encoder)
  vae    <output-dir>/vae/ComfyUI_vae_00001_.safetensors

options:
`

const convertUsage = `usage: ckptpack convert [--to fp16|bf16|fp8|fp8_e5m2|fp8_scaled|fp8_e5m2_scaled|int8|mxfp8|nvfp4] FILE... [options]

Writes each FILE's tensors in another precision as <name>-<to>.safetensors
beside it (or in --output-dir), converting while streaming. By default only
the diffusion model converts (in a file of one component, a VAE or text
encoders, that component): fp16/bf16 convert its F32 tensors, fp8 its
Linear/Conv weights (biases, norms and embeddings keep their precision);
--all converts every component. fp8 saturates: torch's
x.clamp(-max, max).to(float8), a plain cast with no scale (what ComfyUI
saves from an fp8 weight dtype). Without --to, the tensors are written
unchanged as <name>.safetensors.

fp8_scaled (float8_e4m3fn), fp8_e5m2_scaled, int8 (int8_tensorwise), mxfp8
and nvfp4 quantize instead, the way ComfyUI's quantized models store layers:
<layer>.weight in the format, <layer>.weight_scale (and weight_scale_2 for
nvfp4) and a <layer>.comfy_quant marker, byte-exact with comfy_kitchen's
reference quantizers. By default the Linear weights of the diffusion model
quantize; its input/output projections and embeddings stay high precision
(--exclude adds to them, --match picks the weights instead). Each weight is
read twice (absmax, then the quantized write), three times for mxfp8/nvfp4
(their block scales come first in the file); nothing is held. Scales, markers and the layers of an already quantized
file are never converted; --dequantize (with --to fp16|bf16) writes its
per-tensor fp8 layers back as weight × scale instead, refusing other formats.

options:
`

const pruneUsage = `usage: ckptpack prune FILE... [options]

Writes each FILE without its EMA weights (model_ema.*) and without the
tensors no ComfyUI class reads, as <name>-pruned.safetensors beside it (or in
--output-dir). "ckptpack inspect" lists those unused keys first. A file in
which no diffusion model, text encoder or VAE is recognised is refused: its
pruned copy would be empty.

options:
`

// opOutput is one written (or, with --dry-run, planned) file.
type opOutput struct {
	Path         string                  `json:"path"`
	Bytes        int64                   `json:"bytes"`
	Tensors      int                     `json:"tensors"`
	Census       []checkpoint.DTypeCount `json:"census"`
	Component    string                  `json:"component,omitempty"`
	Encoder      string                  `json:"encoder,omitempty"`
	Architecture string                  `json:"architecture,omitempty"`
}

// opResult is one input's outcome in --json output.
type opResult struct {
	Input   string                    `json:"input"`
	Outputs []opOutput                `json:"outputs"`
	Convert *checkpoint.ConvertReport `json:"convert,omitempty"`
	Prune   *checkpoint.PruneReport   `json:"prune,omitempty"`
	Error   string                    `json:"error,omitempty"`
}

// opReport is what --json prints for a whole run.
type opReport struct {
	DryRun  bool       `json:"dry_run,omitempty"`
	Results []opResult `json:"results"`
	Failed  int        `json:"failed"`
}

// opCommon are the options every file operation takes.
type opCommon struct {
	asJSON, dryRun bool
	bufferMiB      int
	outputDir      string
}

func (c *opCommon) register(fl *flag.FlagSet, outputDirDefault, outputDirHelp string) {
	fl.BoolVar(&c.asJSON, "json", false, "print the results as JSON")
	fl.BoolVar(&c.dryRun, "dry-run", false, "write nothing; show what would be written (dtype census, size)")
	fl.IntVar(&c.bufferMiB, "buffer-mib", 1, "copy buffer size in MiB (memory use is about this)")
	fl.StringVar(&c.outputDir, "output-dir", outputDirDefault, outputDirHelp)
}

// runBatch plans and writes every input in turn. plan returns the files
// for one input; an error for one input is reported and the others go on.
func runBatch(ctx context.Context, e *env, c *opCommon, files []string, plan func(in checkpoint.Input, res *opResult) ([]plannedFile, error)) error {
	if c.bufferMiB <= 0 || c.bufferMiB > 1024 {
		return usageError(e.stderr, "--buffer-mib %d: want 1 to 1024", c.bufferMiB)
	}
	rep := opReport{DryRun: c.dryRun, Results: []opResult{}}
	for _, path := range files {
		res := opResult{Input: path, Outputs: []opOutput{}}
		err := func() error {
			var o opener
			defer o.close()
			in, err := o.one(path)
			if err != nil {
				return err
			}
			planned, err := plan(in, &res)
			if err != nil {
				return err
			}
			for _, pf := range planned {
				out := opOutput{Path: pf.path, Bytes: pf.plan.Size, Tensors: len(pf.plan.Tensors), Census: checkpoint.Census(pf.plan.Tensors),
					Component: pf.component, Encoder: pf.encoder, Architecture: pf.plan.Architecture}
				if !c.dryRun {
					if err := writePlan(ctx, e, c, pf); err != nil {
						return err
					}
				}
				res.Outputs = append(res.Outputs, out)
				if !c.asJSON {
					printOpOutput(e, c.dryRun, out)
				}
			}
			return nil
		}()
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: interrupted; nothing was written for it", path)
			}
			res.Error = oneLine(err.Error())
			rep.Failed++
			if len(files) == 1 && !c.asJSON {
				return err // the one error line
			}
			fmt.Fprintln(e.stderr, "ckptpack: "+res.Error)
		}
		rep.Results = append(rep.Results, res)
	}
	if c.asJSON {
		if err := writeJSON(e, rep); err != nil {
			return err
		}
	}
	if rep.Failed > 0 {
		// Each file's error is on stderr already; this is the summary line.
		return fmt.Errorf("%d of %d files failed", rep.Failed, len(files))
	}
	return nil
}

// plannedFile is one output to write.
type plannedFile struct {
	path               string
	plan               *checkpoint.Plan
	component, encoder string
}

func printOpOutput(e *env, dryRun bool, o opOutput) {
	verb := "wrote"
	if dryRun {
		verb = "would write"
	}
	var census []string
	for _, c := range o.Census {
		census = append(census, fmt.Sprintf("%s %d (%s)", c.DType, c.Tensors, streamwriter.FormatBytes(c.Bytes)))
	}
	fmt.Fprintf(e.stdout, "%s %s: %s (%d bytes), %d tensors: %s\n", verb, o.Path, streamwriter.FormatBytes(o.Bytes), o.Bytes, o.Tensors, strings.Join(census, ", "))
}

// writePlan streams one plan into its output file (.part, then linked).
func writePlan(ctx context.Context, e *env, c *opCommon, pf plannedFile) error {
	if err := os.MkdirAll(filepath.Dir(pf.path), 0o755); err != nil {
		return pathError(filepath.Dir(pf.path), err)
	}
	sink, err := createOutput(e, pf.path)
	if err != nil {
		return err
	}
	opt := checkpoint.ExecuteOptions{BufferSize: c.bufferMiB << 20}
	return execute(ctx, e, pf.plan, sink, opt, !c.asJSON)
}

// besideOutput is "<dir>/<stem><suffix>.safetensors" for an input: beside
// it, or in outputDir when given. An existing file is refused up front
// (FileSink would refuse it at the end).
func besideOutput(input, outputDir, suffix string) (string, error) {
	dir := filepath.Dir(input)
	if outputDir != "" {
		dir = outputDir
	}
	base := filepath.Base(input)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	path := filepath.Join(dir, stem+suffix+".safetensors")
	if _, err := os.Lstat(path); err == nil {
		return "", fmt.Errorf("%s: %w (choose another --output-dir or remove it)", path, streamwriter.ErrExists)
	}
	return path, nil
}

func cmdExtract(ctx context.Context, e *env, args []string) error {
	fl := flag.NewFlagSet("extract", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	fl.Usage = func() { fmt.Fprint(e.stderr, extractUsage); fl.PrintDefaults() }
	var c opCommon
	c.register(fl, "output", "output `folder` (ComfyUI's output directory)")
	component := fl.String("component", "", "what to extract: model, clip or vae")
	prefix := fl.String("filename-prefix", "", "ComfyUI filename_prefix (default: the node's, e.g. diffusion_models/ComfyUI)")
	prompt := fl.String("prompt", "", "API-format prompt `JSON` stored as metadata \"prompt\" (@file reads a file)")
	workflow := fl.String("workflow", "", "workflow JSON `file` stored as metadata \"workflow\"")
	noMetadata := fl.Bool("no-metadata", false, "leave out prompt and workflow metadata, like ComfyUI's --disable-metadata")
	prediction := fl.String("prediction", string(checkpoint.PredictionAuto), "model: prediction type for files that do not say it: auto, eps or v")
	files, err := parseInterspersed(fl, args)
	if err != nil {
		return err
	}
	switch *component {
	case checkpoint.SlotModel, checkpoint.SlotClip, checkpoint.SlotVAE:
	default:
		return usageError(e.stderr, "extract: --component %q: want model, clip or vae", *component)
	}
	if len(files) == 0 {
		return usageError(e.stderr, "extract: no FILE given")
	}
	pred := checkpoint.Prediction(*prediction)
	switch pred {
	case checkpoint.PredictionAuto, checkpoint.PredictionEps, checkpoint.PredictionV:
	default:
		return usageError(e.stderr, "extract: --prediction %q: want auto, eps or v", *prediction)
	}
	req := checkpoint.ExtractRequest{Component: *component, Prediction: pred, DisableMetadata: *noMetadata}
	if req.Prompt, err = jsonArg("--prompt", *prompt); err != nil {
		return err
	}
	if req.ExtraPNGInfo, err = extraPNGInfo("", *workflow); err != nil {
		return err
	}
	return runBatch(ctx, e, &c, files, func(in checkpoint.Input, res *opResult) ([]plannedFile, error) {
		r := req
		r.Input = in
		now := time.Now()
		if *component == checkpoint.SlotModel {
			// ModelSave's title comes from its output name.
			out, err := resolveOutput(c.outputDir, checkpoint.ExtractFilenamePrefix(checkpoint.SlotModel, *prefix, ""), now)
			if err != nil {
				return nil, err
			}
			r.Title = out.title
		}
		extracted, err := checkpoint.PlanExtract(r)
		if err != nil {
			return nil, err
		}
		var planned []plannedFile
		for _, x := range extracted {
			out, err := resolveOutput(c.outputDir, checkpoint.ExtractFilenamePrefix(x.Component, *prefix, x.Encoder), now)
			if err != nil {
				return nil, err
			}
			planned = append(planned, plannedFile{path: out.path, plan: x.Plan, component: x.Component, encoder: x.Encoder})
		}
		return planned, nil
	})
}

func cmdConvert(ctx context.Context, e *env, args []string) error {
	fl := flag.NewFlagSet("convert", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	fl.Usage = func() { fmt.Fprint(e.stderr, convertUsage); fl.PrintDefaults() }
	var c opCommon
	c.register(fl, "", "write outputs into this `folder` instead of beside each input")
	to := fl.String("to", "", "target precision: fp16, bf16, fp8 (float8_e4m3fn) or fp8_e5m2; or a quantization format: fp8_scaled, fp8_e5m2_scaled, int8, mxfp8, nvfp4; empty: unchanged")
	all := fl.Bool("all", false, "convert every component (text encoders, VAE), not only the diffusion model")
	match := fl.String("match", "", "convert exactly the tensors whose name matches this Go `regexp`")
	exclude := fl.String("exclude", "", "quantization: keep the weights whose name matches this Go `regexp` in high precision")
	dequantize := fl.Bool("dequantize", false, "with --to fp16|bf16: write per-tensor fp8 quantized layers back as weight × scale (other formats are refused); without it they stay as they are")
	files, err := parseInterspersed(fl, args)
	if err != nil {
		return err
	}
	format, quantize := checkpoint.QuantTarget(*to)
	var target safetensors.DType
	if !quantize {
		if target, err = checkpoint.PrecisionTarget(*to); err != nil {
			return usageError(e.stderr, "convert: --to: %v (or fp8_scaled, fp8_e5m2_scaled, int8, mxfp8, nvfp4)", err)
		}
		if *exclude != "" {
			return usageError(e.stderr, "convert: --exclude applies to a quantization format (--to fp8_scaled, int8, mxfp8, nvfp4)")
		}
	}
	if len(files) == 0 {
		return usageError(e.stderr, "convert: no FILE given")
	}
	suffix := ""
	if *to != "" {
		suffix = "-" + strings.ToLower(*to)
		if suffix == "-fp8" {
			suffix = "-fp8_e4m3fn"
		}
	}
	return runBatch(ctx, e, &c, files, func(in checkpoint.Input, res *opResult) ([]plannedFile, error) {
		p, rep, err := checkpoint.PlanConvert(checkpoint.ConvertRequest{Input: in, To: target, All: *all, Match: *match, Quantize: format, Exclude: *exclude, Dequantize: *dequantize})
		if err != nil {
			return nil, err
		}
		res.Convert = rep
		path, err := besideOutput(in.Name, c.outputDir, suffix)
		if err != nil {
			return nil, err
		}
		switch {
		case c.asJSON:
		case quantize:
			fmt.Fprintf(e.stdout, "%s: %d layers to %s (%s), %d eligible weights kept high precision\n", in.Name, rep.Converted, format, rep.Rule, rep.HighPrecision)
		case rep.Rule != "":
			fmt.Fprintf(e.stdout, "%s: %d tensors to %s (%s), %d kept\n", in.Name, rep.Converted, target, rep.Rule, rep.Kept)
			if rep.Dequantized > 0 {
				fmt.Fprintf(e.stdout, "%s: %d quantized layers dequantized to %s (weight × scale)\n", in.Name, rep.Dequantized, target)
			}
		}
		return []plannedFile{{path: path, plan: p}}, nil
	})
}

func cmdPrune(ctx context.Context, e *env, args []string) error {
	fl := flag.NewFlagSet("prune", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	fl.Usage = func() { fmt.Fprint(e.stderr, pruneUsage); fl.PrintDefaults() }
	var c opCommon
	c.register(fl, "", "write outputs into this `folder` instead of beside each input")
	ema := fl.String("ema", checkpoint.EMADrop, "EMA weights (model_ema.*): drop, promote (write them over the live weights) or keep")
	keepUnused := fl.Bool("keep-unused", false, "keep tensors no ComfyUI class reads")
	fixPos := fl.Bool("fix-position-ids", false, "rewrite broken CLIP position_ids as 0…n-1 in I64 (changes the text encoder's output for such files)")
	posI64 := fl.Bool("position-ids-i64", false, "store CLIP position_ids of another dtype as I64 (values truncated, not fixed)")
	files, err := parseInterspersed(fl, args)
	if err != nil {
		return err
	}
	switch *ema {
	case checkpoint.EMADrop, checkpoint.EMAPromote, checkpoint.EMAKeep:
	default:
		return usageError(e.stderr, "prune: --ema %q: want drop, promote or keep", *ema)
	}
	if len(files) == 0 {
		return usageError(e.stderr, "prune: no FILE given")
	}
	return runBatch(ctx, e, &c, files, func(in checkpoint.Input, res *opResult) ([]plannedFile, error) {
		p, rep, err := checkpoint.PlanPrune(checkpoint.PruneRequest{Input: in, EMA: *ema, KeepUnused: *keepUnused, FixPositionIDs: *fixPos, PositionIDsI64: *posI64})
		if err != nil {
			return nil, err
		}
		if err := pruneKeepsSomething(in, p, *keepUnused); err != nil {
			return nil, err
		}
		res.Prune = rep
		path, err := besideOutput(in.Name, c.outputDir, "-pruned")
		if err != nil {
			return nil, err
		}
		if !c.asJSON {
			fmt.Fprintf(e.stdout, "%s: %d EMA tensors dropped, %d promoted, %d unused keys dropped (of %d)\n",
				in.Name, rep.DroppedEMA, rep.PromotedEMA, rep.DroppedUnused, len(rep.Unused))
			for _, pid := range rep.PositionIDs {
				fmt.Fprintf(e.stdout, "%s: %s %s: %d broken values, %s\n", in.Name, pid.Key, pid.DType, len(pid.Broken), pid.Action)
			}
		}
		return []plannedFile{{path: path, plan: p}}, nil
	})
}

// errEmptyPrune: prune found nothing to keep in a file.
var errEmptyPrune = errors.New("refusing to write an empty checkpoint")

// pruneKeepsSomething refuses a prune that would write a checkpoint with no
// component: a file in which nothing is recognised (every tensor is EMA or
// a key no ComfyUI class reads), unless --keep-unused keeps some of its
// tensors, and any prune that would keep no tensor at all.
func pruneKeepsSomething(in checkpoint.Input, p *checkpoint.Plan, keepUnused bool) error {
	rep, err := checkpoint.Inspect(in)
	if err != nil {
		return err
	}
	what := "no diffusion model, text encoder or VAE ComfyUI loads"
	if rep.Problem != "" {
		what = rep.Problem
	}
	if len(p.Tensors) == 0 || (len(rep.Components) == 0 && !keepUnused) {
		return fmt.Errorf("%s: prune recognises nothing in it (%s; its %s are EMA or keys no ComfyUI class reads): %w",
			in.Name, what, plural(rep.Tensors, "tensor"), errEmptyPrune)
	}
	return nil
}

// plural is "1 tensor", "3 tensors".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
