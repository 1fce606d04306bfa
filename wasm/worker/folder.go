//go:build js && wasm

package main

import (
	"context"
	"fmt"
	"syscall/js"

	"github.com/ckptpack/ckptpack/internal/jsio"
	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	ckptinputs "github.com/ckptpack/ckptpack/pkg/inputs"
	"github.com/ckptpack/ckptpack/wasm/internal/job"
)

// Inputs that are not one File (PROTOCOL.md "Folders"): a slot item may be
// a folder item {files: [{path, file}], path}, the files of a picked or
// dropped folder with their relative paths, and the path inside them to
// open (a diffusers component folder, an *.index.json, a weights file).
// Every File of the item is numbered, in order, for the blob hand-off.

// isFolderItem reports whether v is a folder item rather than a File.
func isFolderItem(v js.Value) bool {
	return v.Type() == js.TypeObject && v.Get("slice").Type() != js.TypeFunction && !v.Get("files").IsUndefined()
}

// folderFS builds the engine's view of a folder item's files, registering
// each File (numbered) with add.
func folderFS(v js.Value, add func(f *jsio.File)) (ckptinputs.MapFS, error) {
	files := v.Get("files")
	if !js.Global().Get("Array").Call("isArray", files).Bool() {
		return nil, fmt.Errorf("folder item: files is not an array")
	}
	m := ckptinputs.MapFS{}
	for i := 0; i < files.Length(); i++ {
		e := files.Index(i)
		p := e.Get("path")
		if p.Type() != js.TypeString || p.String() == "" {
			return nil, fmt.Errorf("folder item: file %d has no path", i)
		}
		f, err := jsio.NewFile(e.Get("file"), p.String())
		if err != nil {
			return nil, err
		}
		f.Name = p.String() // errors name the file by its path in the folder
		add(f)
		m[p.String()] = checkpoint.Input{Name: f.Name, R: f, Size: f.Size}
	}
	return m, nil
}

// openItem opens one slot item: a File (wrapped when it is a torch
// checkpoint) or a folder item.
func openItem(ctx context.Context, v js.Value, slot string, mode jsio.ReadMode, add func(f *jsio.File)) (checkpoint.Input, *failure) {
	register := func(f *jsio.File) {
		f.Mode, f.Ctx = mode, ctx
		add(f)
	}
	if isFolderItem(v) {
		fs, err := folderFS(v, register)
		if err != nil {
			return checkpoint.Input{}, &failure{Slot: slot, Code: job.CodeInput, Err: err}
		}
		path := v.Get("path")
		if path.Type() != js.TypeString {
			return checkpoint.Input{}, &failure{Slot: slot, Code: job.CodeInput, Err: fmt.Errorf("folder item without a path")}
		}
		src, err := ckptinputs.Open(fs, path.String())
		if err != nil {
			return checkpoint.Input{}, &failure{Slot: slot, Code: job.CodeInput, Err: err}
		}
		if src.IsPipeline() {
			return checkpoint.Input{}, &failure{Slot: slot, Code: job.CodeInput, Err: fmt.Errorf("%s: a whole diffusers pipeline; post one component folder per slot (see the folder request)", path.String())}
		}
		return src.Input, nil
	}
	f, err := jsio.NewFile(v, slot)
	if err != nil {
		return checkpoint.Input{}, &failure{Slot: slot, Code: job.CodeInput, Err: err}
	}
	register(f)
	x, err := fileInput(f)
	if err != nil {
		return checkpoint.Input{}, &failure{File: f.Name, Slot: slot, Code: job.CodeInput, Err: err}
	}
	return x, nil
}

// folder answers {type:'folder', id, files:[{path, file}], path}: what the
// folder at path is, and for a diffusers pipeline which component goes to
// which slot, so the page can post one folder item per slot.
func (w *worker) folder(id, data js.Value) *failure {
	var opened []*jsio.File
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	fs, err := folderFS(data, func(f *jsio.File) { opened = append(opened, f) })
	if err != nil {
		return &failure{Code: job.CodeInput, Err: err}
	}
	root := data.Get("path")
	if root.Type() != js.TypeString {
		return &failure{Code: job.CodeInput, Err: fmt.Errorf("folder request without a path")}
	}
	src, err := ckptinputs.Open(fs, root.String())
	if err != nil {
		return &failure{File: root.String(), Code: job.CodeInput, Err: err}
	}
	type component struct {
		Name  string `json:"name"`
		Class string `json:"class"`
		Slot  string `json:"slot"`
		Path  string `json:"path"`
	}
	var comps []component
	addComp := func(c *ckptinputs.Component, slot string) {
		comps = append(comps, component{Name: c.Name, Class: c.Class, Slot: slot, Path: root.String() + "/" + c.Name})
	}
	if src.Model != nil {
		addComp(src.Model, "model")
	}
	for i := range src.Clip {
		addComp(&src.Clip[i], "clip")
	}
	if src.VAE != nil {
		addComp(src.VAE, "vae")
	}
	post(map[string]any{"type": "folderOpened", "id": id, "path": root.String(), "pipeline": src.Pipeline, "components": comps}, nil)
	return nil
}

// fileInput is the input a picked File gives every request: a torch
// checkpoint (.ckpt/.pt/.bin) becomes its virtual safetensors file, whose
// plans read the File itself (checkpoint.Lower); anything else is the File.
func fileInput(f *jsio.File) (checkpoint.Input, error) {
	return ckptinputs.Wrap(checkpoint.Input{Name: f.Name, R: f, Size: f.Size})
}
