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

// metadataEdit is the "edit" object of an editMetadata request
// (PROTOCOL.md).
type metadataEdit struct {
	ModelSpec checkpoint.ModelSpec `json:"modelspec"`
	Set       map[string]string    `json:"set"`
	Remove    []string             `json:"remove"`
	Hash      bool                 `json:"hash"`
}

// editedPrefix is the OPFS filename prefix of an edited copy of name:
// "edited/<stem>", numbered like a checkpoint ("edited/<stem>_00001_…").
func editedPrefix(name string) string {
	stem := strings.TrimSuffix(path.Base(name), path.Ext(name))
	stem = strings.NewReplacer("%", "_", "/", "_", "\\", "_").Replace(stem)
	if stem == "" || stem == "." || stem == ".." {
		stem = "model"
	}
	return "edited/" + stem
}

// editMetadata writes a copy of one File with its metadata edited: a new
// header, then the file's data section unchanged. The page's File is only
// read. Sinks as for save; with "blob" the copy is the new header plus one
// slice of the file, and the hash (which a Blob cannot carry) is reported.
func (w *worker) editMetadata(id, data js.Value) *failure {
	ctx, end, fail := w.beginWrite(id)
	if fail != nil {
		return fail
	}
	defer end()

	var edit metadataEdit
	if e := data.Get("edit"); !e.IsUndefined() && !e.IsNull() {
		text := js.Global().Get("JSON").Call("stringify", e).String()
		if err := json.Unmarshal([]byte(text), &edit); err != nil {
			return &failure{Code: job.CodeInput, Err: fmt.Errorf("edit: %v", err)}
		}
	}
	opts, err := job.ParseOptions(jsonOf(data.Get("options")))
	if err != nil {
		return &failure{Code: job.CodeInput, Err: err}
	}
	f, err := jsio.NewFile(data.Get("file"), "file")
	if err != nil {
		return &failure{Code: job.CodeInput, Err: err}
	}
	f.Mode, f.Ctx = readMode(opts), ctx
	defer f.Close()
	in, err := fileInput(f)
	if err != nil {
		return &failure{File: f.Name, Code: job.CodeInput, Err: err}
	}
	sinkKind := sinkOf(data)
	ce := checkpoint.MetadataEdit{ModelSpec: edit.ModelSpec, Set: edit.Set, Remove: edit.Remove, HashSHA256: edit.Hash && sinkKind != "blob"}
	plan, err := checkpoint.PlanMetadataEdit(in, ce)
	if err != nil {
		return &failure{File: f.Name, Code: job.CodeInput, Err: err}
	}
	p := &planned{opts: opts, in: &inputs{files: []*jsio.File{f}, slots: []string{"file"}}, plan: plan}
	p.root, p.rootErr = opfsRoot()
	p.out, err = job.ResolveOutput(editedPrefix(f.Name), time.Now(), func(sub string) ([]string, error) {
		if p.rootErr != nil {
			return nil, nil
		}
		return entryNames(p.root, sub)
	})
	if err != nil {
		return &failure{Code: job.CodeInput, Err: err}
	}
	w.ensureBuffer(opts)
	switch sinkKind {
	case "blob":
		if edit.Hash {
			sum, fail := w.reportDataHash(ctx, id, p)
			if fail != nil {
				return fail
			}
			return w.saveBlobWith(ctx, id, p, map[string]any{"hashSha256": sum, "hashPatched": false, "metadata": plan.Metadata})
		}
		return w.saveBlobWith(ctx, id, p, map[string]any{"metadata": plan.Metadata})
	case "opfs", "file":
	default:
		return &failure{Code: job.CodeInput, Err: fmt.Errorf("unknown sink %q (opfs, file or blob)", sinkKind)}
	}
	if sinkKind == "opfs" {
		q, _ := estimate()
		if fail := fitsQuota(plan.Size, q, opts.IgnoreQuota); fail != nil {
			return fail
		}
	}
	sink, outPath, name, fail := openOutput(p.output(data), sinkKind)
	if fail != nil {
		return fail
	}
	var sum string
	prog := newProgressPoster(id, plan.Size)
	err = checkpoint.Execute(ctx, plan, sink, checkpoint.ExecuteOptions{Buffer: w.buf, Progress: prog.update, OnDataHash: func(s string) { sum = s }})
	if err != nil {
		return w.saveFailure(ctx, err, p)
	}
	prog.final()
	msg := map[string]any{
		"type": "done", "id": id, "sink": sinkKind, "path": outPath, "name": name,
		"bytes": plan.Size, "architecture": plan.Architecture, "metadata": plan.Metadata,
		"seconds": prog.elapsed().Seconds(), "wasmMemoryBytes": jsio.MemoryBytes(),
	}
	if sum != "" {
		msg["hashSha256"], msg["hashPatched"] = sum, true
	}
	post(msg, nil)
	return nil
}

// output is where one file a request writes goes: subfolder/name under the
// OPFS root, or a FileSystemFileHandle the page picked (sink "file").
type output struct {
	root       js.Value
	rootErr    error // why OPFS is unavailable, if it is
	subfolder  string
	name       string
	fileHandle js.Value
	writable   bool // write the file handle through createWritable (job.Options.FileWriter)
}

// output is where p's single file goes; data is the request.
func (p *planned) output(data js.Value) output {
	return output{root: p.root, rootErr: p.rootErr, subfolder: p.out.Subfolder, name: p.out.Name,
		fileHandle: data.Get("fileHandle"), writable: p.opts.FileWriter == "writable"}
}

// fitsQuota refuses an OPFS write of size bytes that the quota reported
// before it (q) cannot hold, unless the page asked to try anyway.
func fitsQuota(size int64, q quotaInfo, ignore bool) *failure {
	if ignore || job.Fits(size, q.Usage, q.Quota) {
		return nil
	}
	return &failure{Code: job.CodeQuota, Err: &job.QuotaError{Bytes: size, Usage: q.Usage, Quota: q.Quota}}
}

// openOutput opens the "opfs" or "file" sink for o. outPath is the OPFS
// path ("" for a picked file), name the file's name.
func openOutput(o output, sinkKind string) (sink streamwriter.Sink, outPath, name string, fail *failure) {
	if sinkKind == "opfs" {
		if o.rootErr != nil {
			return nil, "", "", &failure{Code: job.CodeInternal, Err: fmt.Errorf("%w; save to a file on disk instead", o.rootErr)}
		}
		dir, made, _, err := walkDirs(o.root, subfolderDirs(o.subfolder), true)
		if err != nil {
			return nil, "", "", &failure{Code: job.CodeInternal, Err: err}
		}
		s, err := streamwriter.CreateOPFS(dir, o.name)
		if err != nil {
			made.removeIfEmpty()
			return nil, "", "", &failure{Code: job.CodeInput, Err: err}
		}
		s.AfterAbort(made.removeIfEmpty)
		return s, path.Join(o.subfolder, o.name), o.name, nil
	}
	if o.fileHandle.Type() != js.TypeObject {
		return nil, "", "", &failure{Code: job.CodeInput, Err: errors.New(`sink "file" needs a FileSystemFileHandle (from showSaveFilePicker)`)}
	}
	s, err := streamwriter.OpenFileHandleSink(o.fileHandle, o.writable)
	if err != nil {
		return nil, "", "", &failure{Code: job.CodeInput, Err: err}
	}
	return s, "", o.fileHandle.Get("name").String(), nil
}

// reportDataHash computes modelspec.hash_sha256 of p's data by reading it
// (progress is posted as for a save): the Blob hand-off cannot have its
// header rewritten after the data, so the hash is reported instead of
// stored. p.plan must have no hash slot.
func (w *worker) reportDataHash(ctx context.Context, id js.Value, p *planned) (string, *failure) {
	prog := newProgressPoster(id, p.plan.Size)
	sum, err := checkpoint.HashData(ctx, p.plan, checkpoint.ExecuteOptions{Buffer: w.buf, Progress: prog.update})
	if err != nil {
		return "", w.saveFailure(ctx, err, p)
	}
	return sum, nil
}

// blobSaveHash handles options.hash for a save to the Blob hand-off: it
// plans again without the placeholder (header reads only) and reports the
// hash of the data. extra is added to the done message.
func (w *worker) blobSaveHash(ctx context.Context, id js.Value, p *planned) (map[string]any, *failure) {
	if !p.opts.Hash {
		return nil, nil
	}
	o := p.opts
	o.Hash = false
	plan, err := checkpoint.PlanCheckpoint(o.Request(p.in.model, p.in.clip, p.in.vae, p.out.Title))
	if err != nil {
		file, slot := p.in.locate(err)
		return nil, &failure{File: file, Slot: slot, Code: job.CodeInput, Err: err}
	}
	p.plan = plan
	w.ensureBuffer(p.opts)
	sum, fail := w.reportDataHash(ctx, id, p)
	if fail != nil {
		return nil, fail
	}
	return map[string]any{"hashSha256": sum, "hashPatched": false}, nil
}

func jsonOf(v js.Value) string {
	if v.IsUndefined() || v.IsNull() {
		return ""
	}
	return js.Global().Get("JSON").Call("stringify", v).String()
}
