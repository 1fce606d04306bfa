package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/inputs"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

const metaUsage = `usage:
  ckptpack meta show FILE... [--json] [--verify]
  ckptpack meta set [fields] [--hash] [--in-place | -o FILE | --output-dir DIR] FILE...

show prints the ModelSpec metadata of each file (--verify also checks
modelspec.hash_sha256 against the data). set writes a copy of each file with
its metadata edited: the tensors are copied unchanged, and the input is never
touched unless --in-place is given (then only when the new header fits in
the old header's length; the data is not rewritten). By default the copy is
<name>.edited.safetensors next to the input. Any file failing makes the exit
status 1; the other files are still processed.

set options:
`

// modelSpecFlags are the ModelSpec fields as command-line flags, shared by
// "meta set" and "save".
type modelSpecFlags struct {
	values    map[string]*string
	thumbnail *string
}

func addModelSpecFlags(fl *flag.FlagSet) *modelSpecFlags {
	m := &modelSpecFlags{values: map[string]*string{}}
	help := map[string]string{
		"title":           "modelspec.title",
		"author":          "modelspec.author",
		"description":     "modelspec.description (@file reads a file)",
		"date":            "modelspec.date, ISO 8601 (2024-05-01, 2024-05-01T12:00:00Z) or \"now\"",
		"resolution":      "modelspec.resolution, WxH (1024x1024)",
		"license":         "modelspec.license (@file reads a file)",
		"tags":            "modelspec.tags, comma-separated",
		"trigger_phrase":  "modelspec.trigger_phrase",
		"prediction_type": "modelspec.prediction_type: epsilon or v",
		"usage_hint":      "modelspec.usage_hint",
		"merged_from":     "modelspec.merged_from, comma-separated source models",
	}
	for _, name := range checkpoint.ModelSpecFieldNames() {
		if name == "thumbnail" {
			continue
		}
		m.values[name] = fl.String(strings.ReplaceAll(name, "_", "-"), "", help[name])
	}
	m.thumbnail = fl.String("thumbnail", "", "image `file` (PNG, JPEG or WebP, 256×256 recommended) stored as modelspec.thumbnail")
	return m
}

// spec reads the flag values into a ModelSpec, validated.
func (m *modelSpecFlags) spec(now time.Time) (checkpoint.ModelSpec, error) {
	var ms checkpoint.ModelSpec
	for name, v := range m.values {
		val := *v
		if path, ok := strings.CutPrefix(val, "@"); ok && (name == "description" || name == "license") {
			b, err := readInputFile(path)
			if err != nil {
				return ms, err
			}
			val = string(b)
		}
		if name == "date" && val == "now" {
			val = now.UTC().Format(time.RFC3339)
		}
		if err := ms.Set(name, val); err != nil {
			return ms, err
		}
	}
	if *m.thumbnail != "" {
		b, err := readSmallFile(*m.thumbnail, checkpoint.MaxThumbnailBytes)
		if err != nil {
			return ms, err
		}
		if ms.Thumbnail, err = checkpoint.ThumbnailImage(*m.thumbnail, b); err != nil {
			return ms, fmt.Errorf("%w (--thumbnail, for modelspec.thumbnail)", err)
		}
		ms.ThumbnailName = *m.thumbnail
	}
	return ms.Normalize()
}

// readSmallFile reads a file of at most limit bytes (one more is read to
// tell a larger file apart, which ThumbnailImage then refuses by size).
func readSmallFile(path string, limit int64) ([]byte, error) {
	if _, err := inputs.StatRegular(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, pathError(path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, pathError(path, err)
	}
	return b, nil
}

func cmdMeta(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError(e.stderr, "meta: want \"show\" or \"set\"")
	}
	switch args[0] {
	case "show":
		return cmdMetaShow(ctx, e, args[1:])
	case "set":
		return cmdMetaSet(ctx, e, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, metaUsage)
		return nil
	}
	return usageError(e.stderr, "meta: unknown subcommand %q (show or set)", args[0])
}

// metaShowResult is one file of "meta show --json".
type metaShowResult struct {
	File        string            `json:"file"`
	HeaderBytes int64             `json:"header_bytes,omitempty"`
	ModelSpec   map[string]string `json:"modelspec,omitempty"` // every modelspec.* key
	HashStored  string            `json:"hash_sha256,omitempty"`
	HashActual  string            `json:"hash_sha256_actual,omitempty"` // --verify
	HashOK      *bool             `json:"hash_ok,omitempty"`
	Error       string            `json:"error,omitempty"`
}

func cmdMetaShow(ctx context.Context, e *env, args []string) error {
	fl := flag.NewFlagSet("meta show", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	asJSON := fl.Bool("json", false, "print the result as JSON (an array, one entry per file)")
	verify := fl.Bool("verify", false, "read the data and check modelspec.hash_sha256")
	files, err := parseInterspersed(fl, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError(e.stderr, "meta show: no file given")
	}
	var results []metaShowResult
	failed := 0
	for _, path := range files {
		r := showOne(ctx, path, *verify)
		if r.Error != "" && len(files) == 1 && !*asJSON {
			return errors.New(r.Error)
		}
		if r.Error != "" {
			failed++
			if !*asJSON {
				fmt.Fprintln(e.stderr, "ckptpack: "+oneLine(r.Error))
			}
		}
		results = append(results, r)
	}
	if *asJSON {
		if err := writeJSON(e, results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.Error == "" {
				printMeta(e, r, len(files) > 1)
			}
		}
	}
	return batchError(failed, len(files))
}

func showOne(ctx context.Context, path string, verify bool) metaShowResult {
	r := metaShowResult{File: path}
	var o opener
	defer o.close()
	in, err := o.one(path)
	if err == nil {
		var h *safetensors.Header
		if h, err = safetensors.ReadHeader(in); err == nil {
			r.HeaderBytes = h.DataStart
			r.ModelSpec = map[string]string{}
			for k, v := range h.Metadata {
				if strings.HasPrefix(k, "modelspec.") && k != checkpoint.DataHashKey {
					r.ModelSpec[k] = v
				}
			}
			r.HashStored = h.Metadata[checkpoint.DataHashKey]
			if verify {
				_, r.HashActual, err = checkpoint.VerifyDataHash(ctx, in, checkpoint.ExecuteOptions{BufferSize: 1 << 20})
				if err == nil {
					ok := r.HashStored == r.HashActual
					r.HashOK = &ok
					if r.HashStored == "" {
						err = fmt.Errorf("%s: no modelspec.hash_sha256 to verify (data hash %s)", path, r.HashActual)
					} else if !ok {
						err = fmt.Errorf("%s: modelspec.hash_sha256 is %s but the data hashes to %s (changed or damaged)", path, r.HashStored, r.HashActual)
					}
				}
			}
		}
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

func printMeta(e *env, r metaShowResult, named bool) {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if named {
		fmt.Fprintf(w, "%s:\n", r.File)
	}
	keys := slices.Sorted(maps.Keys(r.ModelSpec))
	if len(keys) == 0 {
		fmt.Fprintln(w, "modelspec:\tnone")
	}
	for _, k := range keys {
		v := r.ModelSpec[k]
		if k == "modelspec.thumbnail" {
			mime, _, _ := strings.Cut(strings.TrimPrefix(v, "data:"), ";")
			v = fmt.Sprintf("%s image, %s as a data URL", mime, streamwriter.FormatBytes(int64(len(v))))
		}
		fmt.Fprintf(w, "%s:\t%s\n", strings.TrimPrefix(k, "modelspec."), clip(v, 100))
	}
	if r.HashStored != "" {
		status := ""
		if r.HashOK != nil && *r.HashOK {
			status = " (verified)"
		}
		fmt.Fprintf(w, "hash_sha256:\t%s%s\n", r.HashStored, status)
	}
	fmt.Fprintf(w, "header:\t%s\n", streamwriter.FormatBytes(r.HeaderBytes))
	w.Flush()
}

// metaSetResult is one file of "meta set --json".
type metaSetResult struct {
	File       string `json:"file"`
	Output     string `json:"output,omitempty"`
	InPlace    bool   `json:"in_place,omitempty"`
	HashSHA256 string `json:"hash_sha256,omitempty"`
	Error      string `json:"error,omitempty"`
}

func cmdMetaSet(ctx context.Context, e *env, args []string) error {
	fl := flag.NewFlagSet("meta set", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	fl.Usage = func() {
		fmt.Fprint(e.stderr, metaUsage)
		fl.PrintDefaults()
	}
	fields := addModelSpecFlags(fl)
	var sets, unsets stringList
	fl.Var(&sets, "set", "other metadata `key=value` to set (repeatable)")
	fl.Var(&unsets, "unset", "metadata `key` to remove: a full key or a field name (thumbnail); repeatable")
	hash := fl.Bool("hash", false, "compute modelspec.hash_sha256 (SHA-256 of the tensor data) and store it")
	inPlace := fl.Bool("in-place", false, "rewrite the header of the input itself (only when the new header fits in the old one)")
	output := fl.String("o", "", "output `file` (one input only)")
	outputDir := fl.String("output-dir", "", "write each edited copy into `folder` under its own name")
	asJSON := fl.Bool("json", false, "print the result as JSON (an array, one entry per file)")
	files, err := parseInterspersed(fl, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError(e.stderr, "meta set: no file given")
	}
	if *output != "" && len(files) > 1 {
		return usageError(e.stderr, "meta set: -o names one output; use --output-dir for %d files", len(files))
	}
	if *inPlace && (*output != "" || *outputDir != "") {
		return usageError(e.stderr, "meta set: --in-place writes no new file; drop -o/--output-dir")
	}
	edit := checkpoint.MetadataEdit{Remove: unsets, HashSHA256: *hash}
	if edit.Set, err = metadataArgs(sets); err != nil {
		return err
	}
	if edit.ModelSpec, err = fields.spec(time.Now()); err != nil {
		return err
	}
	if edit.ModelSpec.IsZero() && len(edit.Set) == 0 && len(edit.Remove) == 0 && !edit.HashSHA256 {
		return usageError(e.stderr, "meta set: nothing to change (give a field such as --title, --set, --unset or --hash)")
	}
	var results []metaSetResult
	failed := 0
	for _, path := range files {
		if ctx.Err() != nil {
			results = append(results, metaSetResult{File: path, Error: path + ": interrupted; not edited"})
			failed++
			continue
		}
		r := metaSetResult{File: path}
		var err error
		if *inPlace {
			r.InPlace = true
			r.HashSHA256, err = editInPlace(ctx, path, edit)
			r.Output = path
		} else {
			r.Output = editedName(path, *output, *outputDir)
			r.HashSHA256, err = editToNewFile(ctx, e, path, r.Output, edit)
		}
		if err != nil {
			if len(files) == 1 && !*asJSON {
				return err // one file: its error is the one line printed
			}
			r.Output, r.Error = "", err.Error()
			failed++
			if !*asJSON {
				fmt.Fprintln(e.stderr, "ckptpack: "+oneLine(r.Error))
			}
		} else if !*asJSON {
			fmt.Fprintln(e.stdout, r.Output)
			if r.HashSHA256 != "" {
				fmt.Fprintf(e.stdout, "modelspec.hash_sha256 %s\n", r.HashSHA256)
			}
		}
		results = append(results, r)
	}
	if *asJSON {
		if err := writeJSON(e, results); err != nil {
			return err
		}
	}
	return batchError(failed, len(files))
}

// editedName is where an edited copy goes: -o, --output-dir/<name>, or
// <stem>.edited.safetensors next to the input.
func editedName(path, output, outputDir string) string {
	switch {
	case output != "":
		return output
	case outputDir != "":
		return filepath.Join(outputDir, filepath.Base(path))
	}
	// The copy is always safetensors, whatever the input was (a .ckpt, a
	// sharded index): "x.ckpt" -> "x.edited.safetensors".
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".edited.safetensors"
}

// editToNewFile writes the edited copy through a FileSink: a hidden .part
// file, fsynced and linked into place only when complete; never replacing
// a file.
func editToNewFile(ctx context.Context, e *env, path, out string, edit checkpoint.MetadataEdit) (string, error) {
	var o opener
	defer o.close()
	in, err := o.one(path)
	if err != nil {
		return "", err
	}
	if same, _ := sameFile(path, out); same {
		return "", fmt.Errorf("%s: the output would replace the input; use --in-place or another output", path)
	}
	plan, err := checkpoint.PlanMetadataEdit(in, edit)
	if err != nil {
		return "", err
	}
	sink, err := createOutput(e, out)
	if err != nil {
		return "", err
	}
	var sum string
	opt := checkpoint.ExecuteOptions{BufferSize: 1 << 20, OnDataHash: func(s string) { sum = s }}
	err = execute(ctx, e, plan, sink, opt, true)
	if errors.Is(err, context.Canceled) {
		return "", fmt.Errorf("%s: interrupted; nothing was written", out)
	}
	return sum, err
}

// editInPlace rewrites the header of path, then fsyncs it.
func editInPlace(ctx context.Context, path string, edit checkpoint.MetadataEdit) (string, error) {
	before, err := inputs.StatRegular(path)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", pathError(path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", pathError(path, err)
	}
	if !fi.Mode().IsRegular() || !os.SameFile(before, fi) {
		return "", fmt.Errorf("%s: changed while being opened", path)
	}
	in := checkpoint.Input{Name: path, R: f, Size: fi.Size()}
	meta, err := checkpoint.EditInPlace(ctx, in, f, edit, checkpoint.ExecuteOptions{BufferSize: 1 << 20})
	if err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", pathError(path, err)
	}
	if !edit.HashSHA256 {
		return "", nil
	}
	return meta[checkpoint.DataHashKey], nil
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// batchError is the error of a command over several files: nil when all
// succeeded. The failures were printed already.
func batchError(failed, total int) error {
	if failed == 0 {
		return nil
	}
	return errReported{fmt.Sprintf("%d of %d files failed", failed, total)}
}

// errReported is a failure whose details were already printed; run prints
// its summary line and exits 1.
type errReported struct{ msg string }

func (e errReported) Error() string { return e.msg }

// sha256OfFile hashes a finished file: with --hash the header is patched
// after the data, so the whole-file SHA-256 (--sha256) is only known by
// reading it back.
func sha256OfFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", pathError(path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return "", pathError(path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
