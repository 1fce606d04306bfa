package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/inputs"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

const saveUsage = `usage: ckptpack save --model FILE --clip FILE [--clip FILE]... --vae FILE [options]
       ckptpack save --model DIFFUSERS_FOLDER [options]

Writes <output-dir>/<prefix>_<counter:05>_.safetensors, numbered the way
ComfyUI's Save Checkpoint numbers its files (saves running at once take
different counters), and prints its path. Any slot
may be given a full checkpoint; the slot decides which part of it is used.
Every slot also takes a torch checkpoint (.ckpt/.pt/.bin, read without
running its pickle), a sharded checkpoint's *.index.json or a diffusers
component folder; a diffusers pipeline folder as --model fills every slot.

options:
`

// saveResult is what "save --json" prints.
type saveResult struct {
	Path         string          `json:"path"`
	Bytes        int64           `json:"bytes"`
	Architecture string          `json:"architecture"`
	SHA256       string          `json:"sha256,omitempty"`
	AutoV2       string          `json:"autov2,omitempty"`
	HashSHA256   string          `json:"hash_sha256,omitempty"` // modelspec.hash_sha256 (--hash)
	DryRun       bool            `json:"dry_run,omitempty"`
	Header       json.RawMessage `json:"header,omitempty"` // dry run: the planned header, byte for byte
	// RemovedTemps are temporary files of saves that were killed, removed
	// from the output folder before writing.
	RemovedTemps []streamwriter.StaleTemp `json:"removed_temps,omitempty"`
}

// maxClaimAttempts bounds the retries for a free output name.
const maxClaimAttempts = 100

// createSink starts an output file; tests wrap it to race a save.
var createSink = streamwriter.CreateFile

func cmdSave(ctx context.Context, e *env, args []string) error {
	fl := flag.NewFlagSet("save", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	fl.Usage = func() {
		fmt.Fprint(e.stderr, saveUsage)
		fl.PrintDefaults()
	}
	var clips, metadata stringList
	model := fl.String("model", "", "diffusion model `file` (standalone, a full checkpoint, .ckpt, *.index.json, or a diffusers folder, which also fills --clip and --vae)")
	fl.Var(&clips, "clip", "text encoder `file`; repeat for each encoder (any order)")
	vae := fl.String("vae", "", "VAE `file`")
	prefix := fl.String("filename-prefix", checkpoint.DefaultFilenamePrefix, "ComfyUI filename_prefix: subfolder/name inside the output folder (%year% … expanded)")
	outputDir := fl.String("output-dir", "output", "output `folder` (ComfyUI's output directory)")
	prompt := fl.String("prompt", "", "API-format prompt `JSON` stored as metadata \"prompt\" (@file reads a file)")
	extra := fl.String("extra-pnginfo", "", "`JSON` object; each key becomes a metadata entry, like ComfyUI's extra_pnginfo (@file reads a file)")
	workflow := fl.String("workflow", "", "workflow JSON `file` stored as metadata \"workflow\"")
	fl.Var(&metadata, "metadata", "extra metadata `key=value` (modelspec.author=…); repeatable")
	noMetadata := fl.Bool("no-metadata", false, "leave out prompt and workflow metadata, like ComfyUI's --disable-metadata")
	prediction := fl.String("prediction", string(checkpoint.PredictionAuto), "prediction type for models whose files do not say it: auto, eps or v")
	withHash := fl.Bool("sha256", false, "compute the SHA-256 (and AutoV2) of the output while writing it")
	specFlags := addModelSpecFlags(fl)
	dataHash := fl.Bool("hash", false, "store modelspec.hash_sha256 (SHA-256 of the tensor data), computed while writing")
	asJSON := fl.Bool("json", false, "print the result as JSON")
	dryRun := fl.Bool("dry-run", false, "write nothing; print the planned output (with --json: the exact header)")
	// 1 MiB rather than the engine's 16 MiB default: on a local disk a
	// buffer that stays in the CPU cache copied sdxl_base ~2x faster in the
	// buffered path (make bench-cli with --no-fast-copy), while hosts that
	// read over HTTP keep the larger default for fewer requests.
	bufferMiB := fl.Int("buffer-mib", 1, "copy buffer size in MiB (memory use is about this)")
	noFastCopy := fl.Bool("no-fast-copy", false, "always copy through the buffer, never with the kernel's file-to-file copy")
	quantize := fl.String("quantize", "", "quantize the diffusion model's Linear weights while saving: fp8_scaled, fp8_e5m2_scaled, int8, mxfp8 or nvfp4 (as convert --to)")
	quantizeExclude := fl.String("quantize-exclude", "", "with --quantize: keep the weights whose name matches this Go `regexp` in high precision")
	pos, err := parseInterspersed(fl, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError(e.stderr, "save: unexpected argument %q (inputs are given with --model, --clip and --vae)", pos[0])
	}
	// A diffusers pipeline folder given as --model also fills the clip
	// and vae slots not given; whether it is one is known once it is open.
	var missing []string
	if *model == "" {
		missing = append(missing, "--model")
	}
	if fi, err := os.Stat(*model); *model != "" && (err != nil || !fi.IsDir()) {
		// Not a folder, so not a pipeline: every slot must be given.
		if len(clips) == 0 {
			missing = append(missing, "--clip")
		}
		if *vae == "" {
			missing = append(missing, "--vae")
		}
	}
	if len(missing) > 0 {
		return usageError(e.stderr, "save: missing %s (Save Checkpoint needs a model, a clip and a vae)", strings.Join(missing, ", "))
	}
	pred := checkpoint.Prediction(*prediction)
	switch pred {
	case checkpoint.PredictionAuto, checkpoint.PredictionEps, checkpoint.PredictionV:
	default:
		return usageError(e.stderr, "save: --prediction %q: want auto, eps or v", *prediction)
	}
	if *bufferMiB <= 0 || *bufferMiB > 1024 {
		return usageError(e.stderr, "save: --buffer-mib %d: want 1 to 1024", *bufferMiB)
	}

	req := checkpoint.SaveRequest{Prediction: pred, DisableMetadata: *noMetadata}
	if req.Prompt, err = jsonArg("--prompt", *prompt); err != nil {
		return err
	}
	if req.ExtraPNGInfo, err = extraPNGInfo(*extra, *workflow); err != nil {
		return err
	}
	if req.Metadata, err = metadataArgs(metadata); err != nil {
		return err
	}
	if req.ModelSpec, err = specFlags.spec(time.Now()); err != nil {
		return err
	}
	req.HashSHA256 = *dataHash
	if *quantize != "" {
		f, ok := checkpoint.QuantTarget(*quantize)
		if !ok {
			return usageError(e.stderr, "save: --quantize %q: want fp8_scaled, fp8_e5m2_scaled, int8, mxfp8 or nvfp4", *quantize)
		}
		req.Quantize, req.QuantizeExclude = f, *quantizeExclude
	} else if *quantizeExclude != "" {
		return usageError(e.stderr, "save: --quantize-exclude needs --quantize")
	}

	// Inputs: opened read-only and closed when done; never written.
	op := &opener{}
	defer op.close()
	modelSrc, err := op.source(*model)
	if err != nil {
		return err
	}
	modelIn, err := slotInputs(modelSrc, "model")
	if err != nil {
		return err
	}
	req.Model = modelIn[0]
	if modelSrc.IsPipeline() && len(clips) == 0 {
		req.Clip, _ = slotInputs(modelSrc, "clip")
	}
	if modelSrc.IsPipeline() && *vae == "" {
		if vin, err := slotInputs(modelSrc, "vae"); err == nil {
			req.VAE = vin[0]
		}
	}
	for _, c := range clips {
		in, err := op.slot(c, "clip")
		if err != nil {
			return err
		}
		req.Clip = append(req.Clip, in...)
	}
	if *vae != "" {
		in, err := op.slot(*vae, "vae")
		if err != nil {
			return err
		}
		req.VAE = in[0]
	}
	if len(req.Clip) == 0 {
		missing = append(missing, "--clip")
	}
	if req.VAE.R == nil {
		missing = append(missing, "--vae")
	}
	if len(missing) > 0 { // a pipeline folder without text encoders or VAE
		return usageError(e.stderr, "save: missing %s (Save Checkpoint needs a model, a clip and a vae)", strings.Join(missing, ", "))
	}

	// Output name: ComfyUI's get_save_image_path over the output folder.
	out, err := resolveOutput(*outputDir, *prefix, time.Now())
	if err != nil {
		return err
	}
	req.Title = out.title

	plan, err := checkpoint.PlanCheckpoint(req)
	if err != nil {
		return err
	}
	for _, n := range plan.Notes {
		fmt.Fprintln(e.stderr, "ckptpack: note: "+n)
	}

	if *dryRun {
		noteStaleTemps(e, out.folder)
		return printDryRun(e, out.path, plan, *asJSON)
	}

	// The folder is created only now that the plan is sound, so a failed
	// save leaves no trace (ComfyUI creates it while naming the file).
	if err := os.MkdirAll(out.folder, 0o755); err != nil {
		return pathError(out.folder, err)
	}
	// What killed runs left is removed (their counters were free already:
	// resolveOutput skips them). Then the name is claimed: another save (or
	// ComfyUI) may have taken it since it was chosen, and the next free
	// counter is taken instead, as a batch of saves started together
	// expects, the plan made again with its title.
	replan := func() error {
		var err error
		if out, err = resolveOutput(*outputDir, *prefix, time.Now()); err != nil {
			return err
		}
		req.Title = out.title
		plan, err = checkpoint.PlanCheckpoint(req)
		return err
	}
	removed := removeStaleTemps(e, out.folder)
	fileSink, err := createSink(out.path)
	for attempt := 1; attempt < maxClaimAttempts && (errors.Is(err, streamwriter.ErrBusy) || errors.Is(err, streamwriter.ErrExists)); attempt++ {
		if err := replan(); err != nil {
			return err
		}
		fileSink, err = createSink(out.path)
	}
	if err != nil {
		return err
	}
	fileSink.NoFastCopy = *noFastCopy
	var sink streamwriter.Sink = fileSink
	var hasher *streamwriter.HashingSink
	if *withHash && !*dataHash { // with --hash the header changes at the end: hashed after (sha256OfFile)
		hasher = streamwriter.NewHashingSink(fileSink)
		sink = hasher
	}
	var dataSum string
	opt := checkpoint.ExecuteOptions{BufferSize: *bufferMiB << 20, OnDataHash: func(s string) { dataSum = s }}
	err = execute(ctx, e, plan, sink, opt, true)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s: interrupted; nothing was written", out.path)
		}
		return err
	}

	res := saveResult{Path: out.path, Bytes: plan.Size, Architecture: plan.Architecture, HashSHA256: dataSum, RemovedTemps: removed}
	if hasher != nil {
		res.SHA256, res.AutoV2 = hasher.SHA256(), hasher.AutoV2()
	} else if *withHash {
		if res.SHA256, err = sha256OfFile(out.path); err != nil {
			return err
		}
		res.AutoV2 = streamwriter.AutoV2(res.SHA256)
	}
	if *asJSON {
		return writeJSON(e, res)
	}
	fmt.Fprintln(e.stdout, res.Path)
	if res.SHA256 != "" {
		fmt.Fprintf(e.stdout, "sha256 %s (AutoV2 %s)\n", res.SHA256, res.AutoV2)
	}
	if res.HashSHA256 != "" {
		fmt.Fprintf(e.stdout, "modelspec.hash_sha256 %s\n", res.HashSHA256)
	}
	return nil
}

// pathError turns *fs.PathError's "open x: no such file" into the
// "x: no such file" form every other message has.
func pathError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

type outputName struct {
	path   string // output file
	folder string // its folder
	title  string // modelspec.title, "<filename> <counter>"
}

// resolveOutput mirrors folder_paths.get_save_image_path: expand and split
// the prefix, refuse a folder outside the output directory, then take the
// next counter over every entry of the folder (files and folders, any
// extension; a missing folder counts from 1, as ComfyUI's FileNotFoundError
// branch does). An output another ckptpack is writing counts too (its
// hidden temporary file stands for it), so saves started together take
// different counters; the leftover of a killed run does not. Nothing is
// created here.
func resolveOutput(outputDir, prefix string, now time.Time) (outputName, error) {
	if outputDir == "" {
		outputDir = "."
	}
	subfolder, filename, err := checkpoint.ResolvePrefix(prefix, now)
	if err != nil {
		return outputName{}, fmt.Errorf("--filename-prefix %q: %w", prefix, err)
	}
	folder := filepath.Join(outputDir, filepath.FromSlash(subfolder))
	// Defense in depth: ResolvePrefix already refuses this (ComfyUI's
	// commonpath check), and a name must never escape --output-dir.
	if rel, err := filepath.Rel(outputDir, folder); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(subfolder) {
		return outputName{}, fmt.Errorf("--filename-prefix %q: saving outside the output folder %s is not allowed", prefix, outputDir)
	}
	entries, err := os.ReadDir(folder)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return outputName{}, pathError(folder, err)
	}
	stale := map[string]bool{}
	leftovers, _ := streamwriter.FindStaleTemps(folder) // a failure only means none are skipped
	for _, st := range leftovers {
		stale[filepath.Base(st.Path)] = true
	}
	var names []string
	for _, ent := range entries {
		name := ent.Name()
		if target, ok := streamwriter.TargetOfTemp(name); ok {
			if stale[name] {
				continue
			}
			name = target
		}
		names = append(names, name)
	}
	next := checkpoint.NextOutputName(subfolder, filename, names)
	return outputName{path: filepath.Join(folder, next.Name), folder: folder, title: next.Title}, nil
}

// removeStaleTemps removes from folder the temporary files of ckptpack runs
// that were killed (SIGKILL, a crash: every other ending removes its own),
// saying so on stderr. Files other programs left, and those of runs still
// writing, are never touched (streamwriter.RemoveStaleTemps).
// A failure to look is only noted: it must not stop the save.
func removeStaleTemps(e *env, folder string) []streamwriter.StaleTemp {
	removed, err := streamwriter.RemoveStaleTemps(folder)
	for _, st := range removed {
		fmt.Fprintf(e.stderr, "ckptpack: removed %s (%s), the unfinished output of a run that was killed\n", st.Path, streamwriter.FormatBytes(st.Bytes))
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ckptpack: note: %s: looking for unfinished outputs of killed runs: %s\n", folder, oneLine(err.Error()))
	}
	noteLegacyTemps(e, folder)
	return removed
}

// noteLegacyTemps mentions the temporary files older ckptpack versions
// left in folder: they cannot be told from a file such a version is still
// writing, so they are left to the user.
func noteLegacyTemps(e *env, folder string) {
	legacy, _ := streamwriter.FindLegacyTemps(folder)
	for _, p := range legacy {
		fmt.Fprintf(e.stderr, "ckptpack: note: %s looks like the unfinished output of an older ckptpack; remove it if no save is running\n", p)
	}
}

// createOutput starts writing path through a FileSink (hidden temporary
// file, linked into place when complete), first removing what killed runs
// left in its folder.
func createOutput(e *env, path string) (*streamwriter.FileSink, error) {
	removeStaleTemps(e, filepath.Dir(path))
	return streamwriter.CreateFile(path)
}

// noteStaleTemps mentions on stderr the temporary files of killed runs in
// folder, for commands that write nothing there (inspect, --dry-run).
func noteStaleTemps(e *env, folder string) {
	stale, _ := streamwriter.FindStaleTemps(folder)
	for _, st := range stale {
		fmt.Fprintf(e.stderr, "ckptpack: note: %s (%s) is the unfinished output of a run that was killed; the next save into %s removes it\n", st.Path, streamwriter.FormatBytes(st.Bytes), folder)
	}
	noteLegacyTemps(e, folder)
}

// readInputFile reads a small input file (a prompt or workflow JSON) whole,
// refusing a pipe or device before opening it.
func readInputFile(path string) ([]byte, error) {
	if _, err := inputs.StatRegular(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, pathError(path, err)
	}
	return b, nil
}

// jsonArg returns a JSON flag value, reading it from a file for "@path",
// and checks that it parses.
func jsonArg(flagName, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	text := v
	if path, ok := strings.CutPrefix(v, "@"); ok {
		b, err := readInputFile(path)
		if err != nil {
			return "", err
		}
		text = string(b)
	}
	if !json.Valid([]byte(text)) {
		if path, ok := strings.CutPrefix(v, "@"); ok {
			return "", fmt.Errorf("%s: %s: not valid JSON", path, flagName)
		}
		return "", fmt.Errorf("%s: not valid JSON", flagName)
	}
	return strings.TrimSpace(text), nil
}

// extraPNGInfo builds the extra_pnginfo object from --extra-pnginfo and
// --workflow (which adds a "workflow" key, as ComfyUI's frontend sends it).
// The JSON texts are spliced, not re-encoded, so key order is kept for the
// planner's Python-style json.dumps.
func extraPNGInfo(extraArg, workflowFile string) (string, error) {
	extra, err := jsonArg("--extra-pnginfo", extraArg)
	if err != nil {
		return "", err
	}
	var keys map[string]json.RawMessage
	if extra != "" {
		if err := json.Unmarshal([]byte(extra), &keys); err != nil {
			return "", fmt.Errorf("--extra-pnginfo: want a JSON object: %v", err)
		}
	}
	if workflowFile == "" {
		return extra, nil
	}
	wf, err := readInputFile(workflowFile)
	if err != nil {
		return "", err
	}
	wf = bytes.TrimSpace(wf)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(wf, &obj); err != nil {
		return "", fmt.Errorf("%s: not a workflow JSON object: %v", workflowFile, err)
	}
	if _, dup := keys["workflow"]; dup {
		return "", fmt.Errorf("--workflow %s: --extra-pnginfo already has a \"workflow\" key", workflowFile)
	}
	if extra == "" || len(keys) == 0 {
		return `{"workflow": ` + string(wf) + `}`, nil
	}
	// Append to the object: drop its closing brace.
	body := strings.TrimSuffix(strings.TrimSpace(extra), "}")
	return body + `, "workflow": ` + string(wf) + `}`, nil
}

func metadataArgs(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--metadata %q: want key=value", kv)
		}
		if k == "__metadata__" {
			return nil, fmt.Errorf("--metadata %q: reserved key", kv)
		}
		m[k] = v
	}
	return m, nil
}

func printDryRun(e *env, path string, p *checkpoint.Plan, asJSON bool) error {
	if asJSON {
		header, err := headerJSON(p.Header)
		if err != nil {
			return err
		}
		return writeJSON(e, saveResult{Path: path, Bytes: p.Size, Architecture: p.Architecture, DryRun: true, Header: header})
	}
	fmt.Fprintf(e.stdout, "would write %s\n", path)
	fmt.Fprintf(e.stdout, "architecture: %s\n", p.Architecture)
	fmt.Fprintf(e.stdout, "size: %s (%d bytes), %d tensors\n", streamwriter.FormatBytes(p.Size), p.Size, len(p.Tensors))
	keys := slices.Sorted(maps.Keys(p.Metadata))
	if len(keys) == 0 {
		fmt.Fprintln(e.stdout, "metadata: none")
	}
	for _, k := range keys {
		fmt.Fprintf(e.stdout, "metadata %s: %s\n", k, clip(p.Metadata[k], 100))
	}
	return nil
}

// headerJSON extracts the JSON of an 8+N header (without the space padding)
// so --dry-run --json shows exactly what will be written.
func headerJSON(h []byte) (json.RawMessage, error) {
	if len(h) < 8 {
		return nil, errors.New("planned header is shorter than 8 bytes")
	}
	raw := bytes.TrimRight(h[8:], " ")
	if !json.Valid(raw) {
		return nil, errors.New("planned header is not valid JSON")
	}
	return json.RawMessage(raw), nil
}

func writeJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func clip(s string, n int) string {
	if s == "" {
		return `""`
	}
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d bytes)", len(s))
}
