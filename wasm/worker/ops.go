//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"syscall/js"
	"time"

	"github.com/ckptpack/ckptpack/internal/jsio"
	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
	"github.com/ckptpack/ckptpack/wasm/internal/job"
)

// File operations on one file (PROTOCOL.md "opPlan" / "opRun"): extract a
// component as ComfyUI's ModelSave/CLIPSave/VAESave write it, convert its
// precision, prune it. opPlan reports what would be written (names, sizes,
// dtype census); opRun writes it.

// opOptions are the options of an operation (wire names).
type opOptions struct {
	Component       string `json:"component"`      // extract: model | clip | vae
	FilenamePrefix  string `json:"filenamePrefix"` // extract: "" = the node's default
	Prompt          string `json:"prompt"`
	ExtraPNGInfo    string `json:"extraPnginfo"`
	DisableMetadata bool   `json:"disableMetadata"`
	Prediction      string `json:"prediction"`
	To              string `json:"to"` // convert: fp16 | bf16 | fp8 | fp8_e5m2 | fp8_scaled | fp8_e5m2_scaled | int8 | mxfp8 | nvfp4 | "" (unchanged)
	All             bool   `json:"all"`
	Match           string `json:"match"`
	Exclude         string `json:"exclude"` // convert to a quantization format: weights kept high precision
	EMA             string `json:"ema"`     // prune: drop | promote | keep
	KeepUnused      bool   `json:"keepUnused"`
	FixPositionIDs  bool   `json:"fixPositionIds"`
	PositionIDsI64  bool   `json:"positionIdsI64"`
	IgnoreQuota     bool   `json:"ignoreQuota"`
	BufferMiB       int    `json:"bufferMiB"`
}

// opOutput is one file an operation writes.
type opOutput struct {
	plan      *checkpoint.Plan
	subfolder string
	name      string
	component string
	encoder   string
}

func (o *opOutput) path() string { return path.Join(o.subfolder, o.name) }

// opPlanned is an operation planned over one input.
type opPlanned struct {
	op      string
	opts    opOptions
	file    *jsio.File
	outputs []opOutput
	convert *checkpoint.ConvertReport
	prune   *checkpoint.PruneReport
	root    js.Value
	rootErr error
}

func (w *worker) opPrepare(ctx context.Context, data js.Value) (*opPlanned, *failure) {
	p := &opPlanned{op: data.Get("op").String()}
	if o := data.Get("options"); !o.IsUndefined() && !o.IsNull() {
		text := js.Global().Get("JSON").Call("stringify", o).String()
		if err := json.Unmarshal([]byte(text), &p.opts); err != nil {
			return nil, &failure{Code: job.CodeInput, Err: fmt.Errorf("options: %v", err)}
		}
	}
	if p.opts.BufferMiB < 0 || p.opts.BufferMiB > job.MaxBufferMiB {
		return nil, &failure{Code: job.CodeInput, Err: fmt.Errorf("options: bufferMiB %d: want 0 to %d", p.opts.BufferMiB, job.MaxBufferMiB)}
	}
	f, err := jsio.NewFile(data.Get("file"), "file")
	if err != nil {
		return nil, &failure{Code: job.CodeInput, Err: err}
	}
	f.Mode, f.Ctx = jsio.ReadBYOB, ctx
	p.file = f
	in, err := fileInput(f)
	if err != nil {
		f.Close()
		return nil, &failure{File: f.Name, Code: job.CodeInput, Err: err}
	}
	p.root, p.rootErr = opfsRoot()
	entries := func(sub string) ([]string, error) {
		if p.rootErr != nil {
			return nil, nil
		}
		return entryNames(p.root, sub)
	}
	fail := func(err error) (*opPlanned, *failure) {
		f.Close()
		return nil, &failure{File: f.Name, Code: job.CodeInput, Err: err}
	}
	now := time.Now()
	switch p.op {
	case "extract":
		req := checkpoint.ExtractRequest{Input: in, Component: p.opts.Component, Prediction: checkpoint.Prediction(p.opts.Prediction),
			Prompt: p.opts.Prompt, ExtraPNGInfo: p.opts.ExtraPNGInfo, DisableMetadata: p.opts.DisableMetadata}
		if req.Prediction == "" {
			req.Prediction = checkpoint.PredictionAuto
		}
		if req.Component == checkpoint.SlotModel {
			out, err := job.ResolveOutput(checkpoint.ExtractFilenamePrefix(checkpoint.SlotModel, p.opts.FilenamePrefix, ""), now, entries)
			if err != nil {
				return fail(err)
			}
			req.Title = out.Title
		}
		extracted, err := checkpoint.PlanExtract(req)
		if err != nil {
			return fail(err)
		}
		for _, x := range extracted {
			out, err := job.ResolveOutput(checkpoint.ExtractFilenamePrefix(x.Component, p.opts.FilenamePrefix, x.Encoder), now, entries)
			if err != nil {
				return fail(err)
			}
			p.outputs = append(p.outputs, opOutput{plan: x.Plan, subfolder: out.Subfolder, name: out.Name, component: x.Component, encoder: x.Encoder})
		}
	case "convert":
		req := checkpoint.ConvertRequest{Input: in, All: p.opts.All, Match: p.opts.Match, Exclude: p.opts.Exclude}
		if format, ok := checkpoint.QuantTarget(p.opts.To); ok {
			req.Quantize = format
		} else if req.To, err = checkpoint.PrecisionTarget(p.opts.To); err != nil {
			return fail(err)
		}
		plan, rep, err := checkpoint.PlanConvert(req)
		if err != nil {
			return fail(err)
		}
		suffix := ""
		if p.opts.To != "" {
			suffix = "-" + strings.ToLower(p.opts.To)
			if suffix == "-fp8" {
				suffix = "-fp8_e4m3fn"
			}
		}
		p.convert = rep
		p.outputs = []opOutput{{plan: plan, name: stem(f.Name) + suffix + ".safetensors"}}
	case "prune":
		plan, rep, err := checkpoint.PlanPrune(checkpoint.PruneRequest{Input: in, EMA: p.opts.EMA, KeepUnused: p.opts.KeepUnused,
			FixPositionIDs: p.opts.FixPositionIDs, PositionIDsI64: p.opts.PositionIDsI64})
		if err != nil {
			return fail(err)
		}
		p.prune = rep
		p.outputs = []opOutput{{plan: plan, name: stem(f.Name) + "-pruned.safetensors"}}
	default:
		f.Close()
		return nil, &failure{Code: job.CodeInput, Err: fmt.Errorf("unknown op %q (extract, convert or prune)", p.op)}
	}
	return p, nil
}

func stem(name string) string {
	name = path.Base(name)
	if i := strings.LastIndex(name, "."); i > 0 {
		return name[:i]
	}
	return name
}

// computed reports whether a plan has converted bytes, which the Blob hand-off
// (slices of the input plus small inline parts) cannot carry.
func computed(p *checkpoint.Plan) bool {
	for _, s := range p.Steps {
		if s.Convert != nil {
			return true
		}
	}
	return false
}

func (p *opPlanned) summary(q quotaInfo) map[string]any {
	var outs []map[string]any
	var total int64
	blobOK := true
	for _, o := range p.outputs {
		total += o.plan.Size
		ok := !computed(o.plan) && job.BlobFits(o.plan)
		blobOK = blobOK && ok
		outs = append(outs, map[string]any{
			"name": o.name, "path": o.path(), "bytes": o.plan.Size, "headerBytes": len(o.plan.Header),
			"tensors": len(o.plan.Tensors), "census": checkpoint.Census(o.plan.Tensors), "component": o.component,
			"encoder": o.encoder, "architecture": o.plan.Architecture, "metadata": o.plan.Metadata, "blobOK": ok,
		})
	}
	msg := map[string]any{
		"op": p.op, "input": p.file.Name, "inputBytes": p.file.Size, "outputs": outs, "bytes": total,
		"blobOK": blobOK, "quota": q, "fits": job.Fits(total, q.Usage, q.Quota),
	}
	if p.convert != nil {
		msg["convert"] = p.convert
		msg["inputCensus"] = p.convert.InputCensus
	}
	if p.prune != nil {
		msg["prune"] = p.prune
		msg["inputCensus"] = p.prune.InputCensus
	}
	return msg
}

func (w *worker) opPlan(id, data js.Value) *failure {
	ctx, done := w.track(id)
	defer done()
	p, fail := w.opPrepare(ctx, data)
	if fail != nil {
		return fail
	}
	defer p.file.Close()
	q, _ := estimate()
	msg := p.summary(q)
	msg["type"], msg["id"] = "opPlanned", id
	post(msg, nil)
	return nil
}

func (w *worker) opRun(id, data js.Value) *failure {
	ctx, end, fail := w.beginWrite(id)
	if fail != nil {
		return fail
	}
	defer end()
	p, fail := w.opPrepare(ctx, data)
	if fail != nil {
		return fail
	}
	defer p.file.Close()
	sinkKind := sinkOf(data)
	var total int64
	for _, o := range p.outputs {
		total += o.plan.Size
	}
	switch sinkKind {
	case "blob":
		return w.opBlob(ctx, id, p)
	case "opfs":
		q, _ := estimate()
		if fail := fitsQuota(total, q, p.opts.IgnoreQuota); fail != nil {
			return fail
		}
	case "file":
		if n := data.Get("fileHandles"); n.Type() != js.TypeObject || n.Length() != len(p.outputs) {
			return &failure{Code: job.CodeInput, Err: fmt.Errorf(`sink "file" needs fileHandles: one FileSystemFileHandle per output (%d)`, len(p.outputs))}
		}
	default:
		return &failure{Code: job.CodeInput, Err: fmt.Errorf("unknown sink %q (opfs, file or blob)", sinkKind)}
	}
	w.ensureBuffer(job.Options{BufferMiB: p.opts.BufferMiB})
	prog := newProgressPoster(id, total)
	var offset int64
	var written []map[string]any
	for i, o := range p.outputs {
		target := output{root: p.root, rootErr: p.rootErr, subfolder: o.subfolder, name: o.name}
		if sinkKind == "file" {
			target.fileHandle = data.Get("fileHandles").Index(i)
		}
		sink, outPath, name, fail := openOutput(target, sinkKind)
		if fail != nil {
			return fail
		}
		base := offset
		err := checkpoint.Execute(ctx, o.plan, sink, checkpoint.ExecuteOptions{Buffer: w.buf, Progress: func(pr checkpoint.Progress) {
			pr.Done += base
			pr.Total = total
			prog.update(pr)
		}})
		if err != nil {
			// Outputs already finished stay (each is complete); this one
			// was removed by the executor.
			if ctx.Err() != nil {
				return &failure{Code: job.CodeCancelled, Err: errors.New("cancelled; the file being written was not kept")}
			}
			var full *streamwriter.StorageFullError
			if errors.As(err, &full) {
				return &failure{Code: job.CodeQuota, Err: errors.New(job.StorageFullMessage(full, full.Written))}
			}
			return &failure{File: job.FileOf(err), Code: job.Classify(err), Err: err}
		}
		offset += o.plan.Size
		written = append(written, map[string]any{"path": outPath, "name": name, "bytes": o.plan.Size, "census": checkpoint.Census(o.plan.Tensors)})
	}
	prog.final()
	post(map[string]any{
		"type": "opDone", "id": id, "op": p.op, "sink": sinkKind, "outputs": written, "bytes": total,
		"seconds": prog.elapsed().Seconds(), "wasmMemoryBytes": jsio.MemoryBytes(),
	}, nil)
	return nil
}

// opBlob hands each output to the page as Blob parts (extract and prune:
// byte ranges of the input plus small inline bytes). Converted outputs are
// computed, so they are refused here.
func (w *worker) opBlob(ctx context.Context, id js.Value, p *opPlanned) *failure {
	h, err := jsio.Helpers()
	if err != nil {
		return &failure{Code: job.CodeInternal, Err: err}
	}
	outs := js.Global().Get("Array").New()
	var transfer []js.Value
	for _, o := range p.outputs {
		if computed(o.plan) {
			return &failure{Code: job.CodeInput, Err: errors.New("converted tensors are computed bytes, which a direct download of file slices cannot carry: save to browser storage or to a file on disk")}
		}
		parts, err := job.BuildParts(ctx, o.plan, func(checkpoint.Input) int { return 0 })
		if err != nil {
			if ctx.Err() != nil {
				return &failure{Code: job.CodeCancelled, Err: errors.New("cancelled")}
			}
			return &failure{File: job.FileOf(err), Code: job.Classify(err), Err: err}
		}
		arr := js.Global().Get("Array").New()
		for _, part := range parts {
			obj := js.Global().Get("Object").New()
			if part.Inline {
				u8, err := jsio.Call(h, "copyOut", jsio.Addr(part.Data), len(part.Data))
				if err != nil {
					return &failure{Code: job.CodeInternal, Err: err}
				}
				obj.Set("bytes", u8)
				transfer = append(transfer, u8.Get("buffer"))
			} else {
				obj.Set("file", part.File)
				obj.Set("start", part.Start)
				obj.Set("end", part.End)
			}
			arr.Call("push", obj)
		}
		out := js.Global().Get("Object").New()
		out.Set("name", o.name)
		out.Set("bytes", o.plan.Size)
		out.Set("parts", arr)
		outs.Call("push", out)
	}
	post(map[string]any{"type": "opDone", "id": id, "op": p.op, "sink": "blob", "blobOutputs": outs, "wasmMemoryBytes": jsio.MemoryBytes()}, transfer)
	return nil
}
