// Package job holds the browser worker's logic that does not touch
// JavaScript: request options, output naming, the quota decision, error
// classification for the page, and the "blob" hand-off plan. Keeping it free
// of syscall/js lets it be tested natively with go test.
package job

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/quant"
)

// Options are the page's save options (PROTOCOL.md "options"). Field names
// are the wire names.
type Options struct {
	FilenamePrefix  string            `json:"filenamePrefix"`
	Prompt          string            `json:"prompt"`
	ExtraPNGInfo    string            `json:"extraPnginfo"`
	DisableMetadata bool              `json:"disableMetadata"`
	Metadata        map[string]string `json:"metadata"`
	Prediction      string            `json:"prediction"`
	SHA256          bool              `json:"sha256"`
	// IgnoreQuota skips the up-front check against navigator.storage
	// .estimate(). Chromium reports quota = usage + 10 GiB whatever the free
	// disk space (an anti-fingerprinting measure since Chrome 138), so a
	// bigger checkpoint can still fit; a write that runs out of space still
	// fails cleanly with code "quota" and leaves no file.
	IgnoreQuota bool `json:"ignoreQuota"`
	// BufferMiB overrides the copy buffer size (benchmarks); 0 = default.
	BufferMiB int `json:"bufferMiB"`
	// Reader selects how input bytes are read: "byob" (ReadableStream BYOB
	// reader, the default) or "sync" (FileReaderSync); "" = default.
	// Benchmarks only.
	Reader string `json:"reader"`
	// FileWriter selects how a "file" sink writes: "" (auto: a sync access
	// handle for OPFS handles, createWritable otherwise) or "writable"
	// (always createWritable; lets tests reach that path with an OPFS
	// handle, since showSaveFilePicker cannot run headless).
	FileWriter string `json:"fileWriter"`
	// ModelSpec fields to write (title, author, thumbnail as a data URL …),
	// validated by the engine; Hash stores modelspec.hash_sha256.
	ModelSpec checkpoint.ModelSpec `json:"modelspec"`
	Hash      bool                 `json:"hash"`
	// TakenNames are output paths ("checkpoints/ComfyUI_00001_.safetensors")
	// this page already handed out through a sink that leaves nothing in
	// OPFS (a direct download, a file on disk): they count as existing
	// entries, so the next save's counter moves on as it does after an OPFS
	// save.
	TakenNames []string `json:"takenNames"`
	// Quantize writes the diffusion model's Linear weights in a ComfyUI
	// quantization format while saving (fp8_scaled, fp8_e5m2_scaled, int8,
	// mxfp8, nvfp4); QuantizeExclude (a Go regexp) keeps more weights high
	// precision.
	Quantize        string `json:"quantize"`
	QuantizeExclude string `json:"quantizeExclude"`
}

// MaxBufferMiB bounds BufferMiB: the Go heap in the browser tops out near
// 4 GiB and WebAssembly memory never shrinks.
const MaxBufferMiB = 256

// ParseOptions decodes the options JSON (the page's options object passed
// through JSON.stringify; "" or "null" means all defaults) and validates it.
func ParseOptions(text string) (Options, error) {
	var o Options
	if text != "" && text != "null" && text != "undefined" {
		if err := json.Unmarshal([]byte(text), &o); err != nil {
			return o, fmt.Errorf("options: %v", err)
		}
	}
	if o.FilenamePrefix == "" {
		o.FilenamePrefix = checkpoint.DefaultFilenamePrefix
	}
	switch checkpoint.Prediction(o.Prediction) {
	case "":
		o.Prediction = string(checkpoint.PredictionAuto)
	case checkpoint.PredictionAuto, checkpoint.PredictionEps, checkpoint.PredictionV:
	default:
		return o, fmt.Errorf("options: prediction %q is not one of auto, eps, v", o.Prediction)
	}
	if o.Prompt != "" && !json.Valid([]byte(o.Prompt)) {
		return o, fmt.Errorf("options: prompt is not valid JSON")
	}
	if o.ExtraPNGInfo != "" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(o.ExtraPNGInfo), &obj); err != nil {
			return o, fmt.Errorf("options: extraPnginfo is not a JSON object: %v", err)
		}
	}
	if o.BufferMiB < 0 || o.BufferMiB > MaxBufferMiB {
		return o, fmt.Errorf("options: bufferMiB %d is outside 1..%d", o.BufferMiB, MaxBufferMiB)
	}
	switch o.Reader {
	case "", "sync", "byob":
	default:
		return o, fmt.Errorf("options: reader %q is not one of sync, byob", o.Reader)
	}
	switch o.FileWriter {
	case "", "writable":
	default:
		return o, fmt.Errorf("options: fileWriter %q is not one of \"\", writable", o.FileWriter)
	}
	if o.Quantize != "" {
		if _, ok := checkpoint.QuantTarget(o.Quantize); !ok {
			return o, fmt.Errorf("options: quantize %q is not one of fp8_scaled, fp8_e5m2_scaled, int8, mxfp8, nvfp4", o.Quantize)
		}
	} else if o.QuantizeExclude != "" {
		return o, fmt.Errorf("options: quantizeExclude needs quantize")
	}
	if o.Hash && o.SHA256 {
		// The header is rewritten after the data, so a whole-file hash
		// taken while writing would be of the placeholder.
		return o, fmt.Errorf("options: sha256 and hash cannot be combined; hash (modelspec.hash_sha256) identifies the tensor data")
	}
	return o, nil
}

// Request builds the engine's SaveRequest. title is modelspec.title,
// "<filename> <counter>" as CheckpointSave derives it.
func (o Options) Request(model checkpoint.Input, clip []checkpoint.Input, vae checkpoint.Input, title string) checkpoint.SaveRequest {
	return checkpoint.SaveRequest{
		Model:           model,
		Clip:            clip,
		VAE:             vae,
		Prediction:      checkpoint.Prediction(o.Prediction),
		Title:           title,
		Prompt:          o.Prompt,
		ExtraPNGInfo:    o.ExtraPNGInfo,
		DisableMetadata: o.DisableMetadata,
		Metadata:        o.Metadata,
		ModelSpec:       o.ModelSpec,
		HashSHA256:      o.Hash,
		Quantize:        quantFormat(o.Quantize),
		QuantizeExclude: o.QuantizeExclude,
	}
}

// quantFormat is the format a validated quantize option names ("" none).
func quantFormat(name string) quant.Format {
	f, _ := checkpoint.QuantTarget(name)
	return f
}

// ResolveOutput applies CheckpointSave's naming (folder_paths
// .get_save_image_path, then f"{filename}_{counter:05}_.safetensors") with
// OPFS as the output directory. entries lists the names already in the
// subfolder; it is called once the subfolder is known.
func ResolveOutput(prefix string, now time.Time, entries func(subfolder string) ([]string, error)) (checkpoint.OutputName, error) {
	sub, filename, err := checkpoint.ResolvePrefix(prefix, now)
	if err != nil {
		return checkpoint.OutputName{}, err
	}
	names, err := entries(sub)
	if err != nil {
		return checkpoint.OutputName{}, err
	}
	return checkpoint.NextOutputName(sub, filename, names), nil
}

// WithTaken adds the taken output paths that lie in a subfolder to what
// entries lists there (see Options.TakenNames).
func WithTaken(entries func(subfolder string) ([]string, error), taken []string) func(string) ([]string, error) {
	return func(sub string) ([]string, error) {
		names, err := entries(sub)
		if err != nil {
			return nil, err
		}
		for _, p := range taken {
			dir, name := "", p
			if cut := strings.LastIndex(p, "/"); cut >= 0 {
				dir, name = p[:cut], p[cut+1:]
			}
			if dir == sub && name != "" {
				names = append(names, name)
			}
		}
		return names, nil
	}
}
