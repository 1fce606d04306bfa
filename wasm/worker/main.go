//go:build js && wasm

// Command worker is ckptpack's browser engine: it runs in a dedicated Web
// Worker, takes File objects posted by the page, plans the checkpoint with
// pkg/checkpoint and streams it into the origin private file system, a file
// the user chose, or hands the page a list of Blob parts. The message
// protocol is in PROTOCOL.md; web/worker.js only boots this program.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall/js"
	"time"

	"github.com/ckptpack/ckptpack/internal/jsio"
	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
	"github.com/ckptpack/ckptpack/wasm/internal/job"
)

// version is set at build time (-ldflags -X main.version=…); otherwise it
// comes from the git revision Go stamps into the binary.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			v = rev
			if dirty {
				v += "+dirty"
			}
		}
	}
	return v
}

// progressInterval caps progress messages at about 10 per second. Each tick
// also yields to the event loop so a cancel message is delivered promptly
// while Go reads and writes synchronously.
const progressInterval = 100 * time.Millisecond

type worker struct {
	saveMu sync.Mutex // one save or delete at a time: counters and names stay consistent

	mu      sync.Mutex // guards running
	running map[string]context.CancelFunc

	buf []byte // the copy buffer, reused across saves so wasm memory stays flat
}

func main() {
	// web/worker.js's start-up times: Go's runtime and package init end here.
	boot := js.Global().Get("ckptpackBoot")
	if boot.Type() == js.TypeObject {
		boot.Set("mainAt", js.Global().Get("performance").Call("now"))
	}
	w := &worker{running: map[string]context.CancelFunc{}}
	onMessage := js.FuncOf(func(_ js.Value, args []js.Value) any {
		// A panic here would end the Go program, and with it the worker.
		defer func() {
			if r := recover(); r != nil {
				post(map[string]any{"type": "error", "id": nil, "file": "", "slot": "", "code": job.CodeInternal, "message": fmt.Sprintf("bad message: %v", r)}, nil)
			}
		}()
		data := args[0].Get("data")
		if data.Type() != js.TypeObject {
			post(map[string]any{"type": "error", "id": nil, "file": "", "slot": "", "code": job.CodeInternal, "message": "a message must be an object {type, id, …}"}, nil)
			return nil
		}
		// A cancel is handled right here, without blocking, so it takes
		// effect at the running job's next yield.
		if data.Get("type").Equal(js.ValueOf("cancel")) {
			w.cancel(data.Get("id"))
			return nil
		}
		go w.handle(data)
		return nil
	})
	js.Global().Set("onmessage", onMessage)
	if boot.Type() == js.TypeObject {
		boot.Set("readyAt", js.Global().Get("performance").Call("now"))
	}
	post(map[string]any{"type": "ready", "version": buildVersion(), "wasmMemoryBytes": jsio.MemoryBytes(), "io": ioCapabilities(), "boot": boot}, nil)
	select {}
}

// ioCapabilities is what web/worker-io.js found this browser's worker can
// do (its reads path, whether OPFS files can be written here), for the page
// to choose sinks by; null with helpers that do not say.
func ioCapabilities() js.Value {
	h, err := jsio.Helpers()
	if err != nil || h.Get("capabilities").Type() != js.TypeFunction {
		return js.Null()
	}
	return h.Call("capabilities")
}

func idKey(id js.Value) string { return js.Global().Call("String", id).String() }

func (w *worker) cancel(id js.Value) {
	w.mu.Lock()
	cancel := w.running[idKey(id)]
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (w *worker) track(id js.Value) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	key := idKey(id)
	w.mu.Lock()
	w.running[key] = cancel
	w.mu.Unlock()
	return ctx, func() {
		w.mu.Lock()
		delete(w.running, key)
		w.mu.Unlock()
		cancel()
	}
}

// beginWrite starts request id as the one write running: it is tracked for
// Cancel and holds saveMu (one output at a time) until end is called. A
// request cancelled while it waited for another write is refused.
func (w *worker) beginWrite(id js.Value) (ctx context.Context, end func(), fail *failure) {
	ctx, done := w.track(id)
	w.saveMu.Lock()
	end = func() {
		w.saveMu.Unlock()
		done()
	}
	if err := ctx.Err(); err != nil {
		end()
		return nil, nil, &failure{Code: job.CodeCancelled, Err: errors.New("cancelled before it started")}
	}
	return ctx, end, nil
}

// sinkOf is the sink a write request names ("opfs" when it names none; a
// value that is not a string is refused as an unknown sink).
func sinkOf(data js.Value) string {
	s := data.Get("sink")
	if s.IsUndefined() || s.IsNull() {
		return "opfs"
	}
	return js.Global().Call("String", s).String()
}

// reply is an error reply (PROTOCOL.md "error").
type failure struct {
	File, Slot, Code string
	Err              error
}

func (w *worker) handle(data js.Value) {
	id := data.Get("id")
	typ := data.Get("type").String()
	defer func() {
		if r := recover(); r != nil {
			postError(id, failure{Code: job.CodeInternal, Err: fmt.Errorf("internal error in %s: %v\n%s", typ, r, debug.Stack())})
		}
	}()
	var f *failure
	switch typ {
	case "inspect":
		f = w.inspect(id, data)
	case "plan":
		f = w.plan(id, data)
	case "save":
		f = w.save(id, data)
	case "list":
		f = w.list(id)
	case "delete":
		f = w.delete(id, data)
	case "copy":
		f = w.copy(id, data)
	case "folder":
		f = w.folder(id, data)
	case "opPlan":
		f = w.opPlan(id, data)
	case "opRun":
		f = w.opRun(id, data)
	case "editMetadata":
		f = w.editMetadata(id, data)
	default:
		f = &failure{Code: job.CodeInternal, Err: fmt.Errorf("unknown message type %q", typ)}
	}
	if f != nil {
		postError(id, *f)
	}
}

func postError(id js.Value, f failure) {
	code := f.Code
	if code == "" {
		code = job.Classify(f.Err)
	}
	file := f.File
	if file == "" {
		file = job.FileOf(f.Err)
	}
	post(map[string]any{"type": "error", "id": id, "file": file, "slot": f.Slot, "code": code, "message": f.Err.Error()}, nil)
}

// post sends msg to the page. msg goes through JSON (Go maps of strings,
// structs with json tags) and then gets raw JS values set on top (ids,
// Uint8Arrays), listed in extra.
func post(msg map[string]any, transfer []js.Value) {
	raw := map[string]js.Value{}
	plain := map[string]any{}
	for k, v := range msg {
		if jv, ok := v.(js.Value); ok {
			raw[k] = jv
		} else {
			plain[k] = v
		}
	}
	b, err := json.Marshal(plain)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"type": "error", "code": job.CodeInternal, "message": "encoding reply: " + err.Error()})
	}
	obj := js.Global().Get("JSON").Call("parse", string(b))
	for k, v := range raw {
		obj.Set(k, v)
	}
	if len(transfer) > 0 {
		list := make([]any, len(transfer))
		for i, t := range transfer {
			list[i] = t
		}
		js.Global().Call("postMessage", obj, list)
		return
	}
	js.Global().Call("postMessage", obj)
}

// inputs are the files of a plan or save request, numbered as the blob
// hand-off numbers them: model, clip[0] …, vae.
type inputs struct {
	model checkpoint.Input
	clip  []checkpoint.Input
	vae   checkpoint.Input
	files []*jsio.File // by page file number
	slots []string     // slot of each file number
}

func readInputs(ctx context.Context, data js.Value, mode jsio.ReadMode) (*inputs, *failure) {
	in := &inputs{}
	add := func(v js.Value, slot string) (checkpoint.Input, *failure) {
		if v.IsUndefined() || v.IsNull() {
			return checkpoint.Input{}, nil
		}
		return openItem(ctx, v, slot, mode, func(f *jsio.File) {
			in.files = append(in.files, f)
			in.slots = append(in.slots, slot)
		})
	}
	var fail *failure
	if in.model, fail = add(data.Get("model"), "model"); fail != nil {
		return nil, fail
	}
	if clip := data.Get("clip"); !clip.IsUndefined() && !clip.IsNull() {
		if !js.Global().Get("Array").Call("isArray", clip).Bool() {
			clip = js.Global().Get("Array").Call("of", clip)
		}
		for i := 0; i < clip.Length(); i++ {
			c, fail := add(clip.Index(i), "clip")
			if fail != nil {
				return nil, fail
			}
			if c.R != nil {
				in.clip = append(in.clip, c)
			}
		}
	}
	if in.vae, fail = add(data.Get("vae"), "vae"); fail != nil {
		return nil, fail
	}
	return in, nil
}

// close releases the open streams of the request's files.
func (in *inputs) close() {
	for _, f := range in.files {
		f.Close()
	}
}

// fileIndex maps a plan input back to the page's file number.
func (in *inputs) fileIndex(x checkpoint.Input) int {
	for i, f := range in.files {
		if r, ok := x.R.(*jsio.File); ok && r == f {
			return i
		}
	}
	return -1
}

// locate names the input file and slot an error is about. The planner's
// errors are *checkpoint.SlotError, which carry both (File is empty when the
// problem is a missing component rather than a file). Other errors (a read
// that failed during a save) name only the file; its slot is the one slot
// holding a file of that name, if just one does.
func (in *inputs) locate(err error) (file, slot string) {
	var se *checkpoint.SlotError
	if errors.As(err, &se) {
		return se.File, se.Slot
	}
	file = job.FileOf(err)
	for i, f := range in.files {
		if f.Name == file {
			if slot != "" && slot != in.slots[i] {
				return file, ""
			}
			slot = in.slots[i]
		}
	}
	return file, slot
}

func (w *worker) inspect(id, data js.Value) *failure {
	var opened []*jsio.File
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	x, fail := openItem(context.Background(), data.Get("file"), "", jsio.ReadSync, func(f *jsio.File) { opened = append(opened, f) })
	if fail != nil {
		return fail
	}
	report, err := checkpoint.Inspect(x)
	if err != nil {
		return &failure{File: x.Name, Code: job.CodeInput, Err: err}
	}
	post(map[string]any{"type": "inspected", "id": id, "name": x.Name, "report": report}, nil)
	return nil
}

// planned is everything plan and save both work out before writing.
type planned struct {
	opts  job.Options
	in    *inputs
	out   checkpoint.OutputName
	plan  *checkpoint.Plan
	quota quotaInfo
	root  js.Value
	// rootErr is why OPFS is unavailable, if it is.
	rootErr error
}

// readMode picks the input reader: BYOB by default, because it keeps the
// renderer's memory flat (one reused staging buffer) at the same speed,
// where FileReaderSync leaves a fresh ArrayBuffer per chunk for V8 to
// collect (renderer peak ~1.25 GiB vs ~0.3 GiB for a 1 GiB copy, measured
// by make bench-worker).
func readMode(o job.Options) jsio.ReadMode {
	if o.Reader == "sync" {
		return jsio.ReadSync
	}
	return jsio.ReadBYOB
}

func (w *worker) prepare(ctx context.Context, data js.Value) (*planned, *failure) {
	optsText := ""
	if o := data.Get("options"); !o.IsUndefined() && !o.IsNull() {
		optsText = js.Global().Get("JSON").Call("stringify", o).String()
	}
	opts, err := job.ParseOptions(optsText)
	if err != nil {
		return nil, &failure{Code: job.CodeInput, Err: err}
	}
	in, fail := readInputs(ctx, data, readMode(opts))
	if fail != nil {
		return nil, fail
	}
	ok := false
	defer func() {
		if !ok {
			in.close()
		}
	}()
	// Without OPFS (an old or locked-down browser) the file and blob sinks
	// still work: the counter then starts at 1, and only an OPFS save fails.
	root, rootErr := opfsRoot()
	out, err := job.ResolveOutput(opts.FilenamePrefix, time.Now(), job.WithTaken(func(sub string) ([]string, error) {
		if rootErr != nil {
			return nil, nil
		}
		return entryNames(root, sub)
	}, opts.TakenNames))
	if err != nil {
		return nil, &failure{Code: job.CodeInput, Err: fmt.Errorf("filename prefix %q: %w", opts.FilenamePrefix, err)}
	}
	plan, err := checkpoint.PlanCheckpoint(opts.Request(in.model, in.clip, in.vae, out.Title))
	if err != nil {
		file, slot := in.locate(err)
		return nil, &failure{File: file, Slot: slot, Code: job.CodeInput, Err: err}
	}
	// No estimate (no storage API): quota 0, so fits is false; only an
	// OPFS save needs it, and that fails on the missing OPFS anyway.
	q, _ := estimate()
	ok = true // the caller closes the inputs
	return &planned{opts: opts, in: in, out: out, plan: plan, quota: q, root: root, rootErr: rootErr}, nil
}

func (p *planned) summary() map[string]any {
	return map[string]any{
		"bytes":        p.plan.Size,
		"headerBytes":  len(p.plan.Header),
		"architecture": p.plan.Architecture,
		"fileName":     p.out.Name,
		"path":         p.out.Path(),
		"metadata":     p.plan.Metadata,
		"quota":        p.quota,
		"fits":         job.Fits(p.plan.Size, p.quota.Usage, p.quota.Quota),
		"blobInline":   job.InlineBytes(p.plan),
		"blobOK":       job.BlobFits(p.plan),
		"computed":     computed(p.plan),
	}
}

func (w *worker) plan(id, data js.Value) *failure {
	ctx, done := w.track(id)
	defer done()
	p, fail := w.prepare(ctx, data)
	if fail != nil {
		return fail
	}
	defer p.in.close()
	msg := p.summary()
	msg["type"], msg["id"] = "planned", id
	msg["predictionChoice"] = p.predictionChoice()
	post(msg, nil)
	return nil
}

// predictionChoice reports whether the prediction type is the user's choice
// for these inputs: the engine accepts both 'eps' and 'v' (e.g. a standalone
// SD2 or SDXL model, whose files may not say; in ComfyUI the loaded model's
// type is what CheckpointSave writes, and ModelSamplingDiscrete changes it).
// It is not when the model's class fixes the type (SD1.5, SD3, Flux), which
// the engine refuses with ErrPrediction. It plans again with each explicit
// type the request did not use: header reads only, milliseconds.
func (p *planned) predictionChoice() bool {
	for _, pred := range []checkpoint.Prediction{checkpoint.PredictionEps, checkpoint.PredictionV} {
		if checkpoint.Prediction(p.opts.Prediction) == pred {
			continue // the plan just made used it
		}
		o := p.opts
		o.Prediction = string(pred)
		if _, err := checkpoint.PlanCheckpoint(o.Request(p.in.model, p.in.clip, p.in.vae, p.out.Title)); err != nil {
			return false
		}
	}
	return true
}

func (w *worker) list(id js.Value) *failure {
	root, err := opfsRoot()
	if err != nil {
		return &failure{Code: job.CodeInternal, Err: err}
	}
	files, err := listFiles(root)
	if err != nil {
		return &failure{Code: job.CodeInternal, Err: err}
	}
	q, err := estimate()
	if err != nil {
		return &failure{Code: job.CodeInternal, Err: err}
	}
	if files == nil {
		files = []storedFile{}
	}
	post(map[string]any{"type": "listed", "id": id, "files": files, "usage": q.Usage, "quota": q.Quota, "persisted": q.Persisted}, nil)
	return nil
}

func (w *worker) delete(id, data js.Value) *failure {
	path := data.Get("path")
	if path.Type() != js.TypeString {
		return &failure{Code: job.CodeInput, Err: errors.New("delete: path must be a string")}
	}
	w.saveMu.Lock()
	defer w.saveMu.Unlock()
	root, err := opfsRoot()
	if err != nil {
		return &failure{Code: job.CodeInternal, Err: err}
	}
	if err := removePath(root, path.String()); err != nil {
		return &failure{Code: job.CodeInput, Err: err}
	}
	post(map[string]any{"type": "deleted", "id": id, "path": path.String()}, nil)
	return nil
}

func (w *worker) save(id, data js.Value) *failure {
	ctx, end, fail := w.beginWrite(id)
	if fail != nil {
		return fail
	}
	defer end()
	p, fail := w.prepare(ctx, data)
	if fail != nil {
		return fail
	}
	defer p.in.close()
	sinkKind := sinkOf(data)
	switch sinkKind {
	case "blob":
		extra, fail := w.blobSaveHash(ctx, id, p)
		if fail != nil {
			return fail
		}
		return w.saveBlobWith(ctx, id, p, extra)
	case "opfs", "file":
	default:
		return &failure{Code: job.CodeInput, Err: fmt.Errorf("unknown sink %q (opfs, file or blob)", sinkKind)}
	}

	if sinkKind == "opfs" {
		if fail := fitsQuota(p.plan.Size, p.quota, p.opts.IgnoreQuota); fail != nil {
			return fail
		}
	}
	sink, path, name, fail := openOutput(p.output(data), sinkKind)
	if fail != nil {
		return fail
	}
	var hasher *streamwriter.HashingSink
	if p.opts.SHA256 {
		hasher = streamwriter.NewHashingSink(sink)
		sink = hasher
	}

	w.ensureBuffer(p.opts)
	prog := newProgressPoster(id, p.plan.Size)
	var dataHash string // options.hash: patched into the header by Execute
	err := checkpoint.Execute(ctx, p.plan, sink, checkpoint.ExecuteOptions{Buffer: w.buf, Progress: prog.update, OnDataHash: func(s string) { dataHash = s }})
	if err != nil {
		return w.saveFailure(ctx, err, p)
	}
	prog.final()
	msg := map[string]any{
		"type": "done", "id": id, "sink": sinkKind, "path": path, "name": name,
		"bytes": p.plan.Size, "architecture": p.plan.Architecture,
		"seconds": prog.elapsed().Seconds(), "wasmMemoryBytes": jsio.MemoryBytes(),
	}
	if hasher != nil {
		msg["sha256"] = hasher.SHA256()
	}
	if dataHash != "" {
		msg["hashSha256"], msg["hashPatched"] = dataHash, true
	}
	post(msg, nil)
	return nil
}

func (w *worker) saveFailure(ctx context.Context, err error, p *planned) *failure {
	if ctx.Err() != nil {
		return &failure{Code: job.CodeCancelled, Err: errors.New("cancelled; nothing was kept")}
	}
	code := job.Classify(err)
	var full *streamwriter.StorageFullError
	if errors.As(err, &full) {
		return &failure{Code: job.CodeQuota, Err: errors.New(job.StorageFullMessage(full, full.Written))}
	}
	file, slot := p.in.locate(err)
	return &failure{File: file, Slot: slot, Code: code, Err: err}
}

// saveBlobWith hands p off as Blob parts; extra is added to the done message.
func (w *worker) saveBlobWith(ctx context.Context, id js.Value, p *planned, extra map[string]any) *failure {
	parts, err := job.BuildParts(ctx, p.plan, p.in.fileIndex)
	if err != nil {
		if ctx.Err() != nil {
			return &failure{Code: job.CodeCancelled, Err: errors.New("cancelled")}
		}
		return &failure{File: job.FileOf(err), Code: job.Classify(err), Err: err}
	}
	h, err := jsio.Helpers()
	if err != nil {
		return &failure{Code: job.CodeInternal, Err: err}
	}
	arr := js.Global().Get("Array").New()
	var transfer []js.Value
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
	msg := map[string]any{
		"type": "done", "id": id, "sink": "blob", "path": "", "name": p.out.Name,
		"bytes": p.plan.Size, "architecture": p.plan.Architecture,
		"parts": arr, "wasmMemoryBytes": jsio.MemoryBytes(),
	}
	for k, v := range extra {
		msg[k] = v
	}
	post(msg, transfer)
	return nil
}

// copy is a diagnostic: it streams one File unchanged into OPFS through the
// same reader, executor and sink a save uses (a plan of a single copy step),
// so the I/O path can be measured and tested without the planner.
func (w *worker) copy(id, data js.Value) *failure {
	ctx, end, fail := w.beginWrite(id)
	if fail != nil {
		return fail
	}
	defer end()
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
	pathV := data.Get("path")
	if pathV.Type() != js.TypeString {
		return &failure{Code: job.CodeInput, Err: errors.New("copy: path must be a string")}
	}
	dirs, name, err := splitPath(pathV.String())
	if err != nil {
		return &failure{Code: job.CodeInput, Err: err}
	}
	root, err := opfsRoot()
	if err != nil {
		return &failure{Code: job.CodeInternal, Err: err}
	}
	dir, _, err := openDir(root, dirs, true)
	if err != nil {
		return &failure{Code: job.CodeInternal, Err: err}
	}
	in := checkpoint.Input{Name: f.Name, R: f, Size: f.Size}
	plan := &checkpoint.Plan{
		Architecture: "copy",
		Steps:        []checkpoint.Step{{Tensor: f.Name, Input: 0, Offset: 0, Length: f.Size}},
		Inputs:       []checkpoint.Input{in},
		Size:         f.Size,
	}
	s, err := streamwriter.CreateOPFS(dir, name)
	if err != nil {
		return &failure{Code: job.CodeInput, Err: err}
	}
	var sink streamwriter.Sink = s
	var hasher *streamwriter.HashingSink
	if opts.SHA256 {
		hasher = streamwriter.NewHashingSink(sink)
		sink = hasher
	}
	w.ensureBuffer(opts)
	prog := newProgressPoster(id, plan.Size)
	err = checkpoint.Execute(ctx, plan, sink, checkpoint.ExecuteOptions{Buffer: w.buf, Progress: prog.update})
	if err != nil {
		return w.saveFailure(ctx, err, &planned{in: &inputs{files: []*jsio.File{f}, slots: []string{""}}})
	}
	prog.final()
	msg := map[string]any{
		"type": "done", "id": id, "sink": "opfs", "path": pathV.String(), "name": name,
		"bytes": plan.Size, "architecture": plan.Architecture,
		"seconds": prog.elapsed().Seconds(), "wasmMemoryBytes": jsio.MemoryBytes(),
	}
	if hasher != nil {
		msg["sha256"] = hasher.SHA256()
	}
	post(msg, nil)
	return nil
}

// ensureBuffer sizes the reused copy buffer for opts.
func (w *worker) ensureBuffer(opts job.Options) {
	size := checkpoint.DefaultBufferSize
	if opts.BufferMiB > 0 {
		size = opts.BufferMiB << 20
	}
	if len(w.buf) != size {
		// Collect the old buffer before allocating the new one, so the Go
		// heap (and the wasm memory, which never shrinks) can reuse its
		// space instead of growing by both.
		w.buf = nil
		runtime.GC()
		w.buf = make([]byte, size)
	}
}
