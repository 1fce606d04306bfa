// Package inputs opens what people hold as engine inputs: a .safetensors
// file, a torch checkpoint (.ckpt/.pt/.pth/.bin, read through pkg/torchzip
// without running its pickle), a sharded checkpoint (*.index.json with a
// weight_map), a diffusers component folder (unet/, vae/ …) or a whole
// diffusers pipeline folder (model_index.json), whose components fill the
// model, text-encoder and VAE slots.
//
// Every kind comes out as ordinary checkpoint.Input values — a torch or
// sharded file as a safetensors.VirtualFile — so every operation accepts them
// unchanged. Hosts give access to their files through FS: the CLI the
// operating system's, the browser worker the File objects the page posted.
package inputs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/torchzip"
)

// FS is a host's read-only view of files, by slash-separated path.
type FS interface {
	// Open opens the file name for reading.
	Open(name string) (checkpoint.Input, error)
	// IsDir reports whether name is a folder (false for a file; an error
	// for nothing at all).
	IsDir(name string) (bool, error)
	// ReadDir lists the names (not paths) of the entries of folder name.
	ReadDir(name string) ([]string, error)
}

// ErrNoWeights: a folder holds no weights file this package knows.
var ErrNoWeights = errors.New("no weights file found")

// Source is what one path opened to. A file, an index or a component folder
// is one input (Input); a diffusers pipeline folder fills slots.
type Source struct {
	Path string
	// Input is the whole source as one input (a single file, a sharded
	// checkpoint, a component folder); zero for a pipeline folder.
	Input checkpoint.Input
	// Pipeline is model_index.json's _class_name for a pipeline folder
	// ("StableDiffusionXLPipeline"), and the slots its components fill.
	Pipeline string
	Model    *Component
	Clip     []Component
	VAE      *Component
}

// Component is one diffusers component of a pipeline folder.
type Component struct {
	Name  string // "unet", "text_encoder_2" …
	Class string // model_index.json's class ("CLIPTextModelWithProjection")
	Input checkpoint.Input
}

// IsPipeline reports whether s is a diffusers pipeline folder.
func (s *Source) IsPipeline() bool { return s.Pipeline != "" }

// Inputs lists every input of s: the one input, or the pipeline's
// components in slot order (model, text encoders, VAE).
func (s *Source) Inputs() []checkpoint.Input {
	if !s.IsPipeline() {
		return []checkpoint.Input{s.Input}
	}
	var out []checkpoint.Input
	if s.Model != nil {
		out = append(out, s.Model.Input)
	}
	for _, c := range s.Clip {
		out = append(out, c.Input)
	}
	if s.VAE != nil {
		out = append(out, s.VAE.Input)
	}
	return out
}

// Open opens name, whatever kind of input it is (see the package comment).
func Open(fsys FS, name string) (*Source, error) {
	dir, err := fsys.IsDir(name)
	if err != nil {
		return nil, err
	}
	if !dir {
		in, err := OpenFile(fsys, name)
		if err != nil {
			return nil, err
		}
		return &Source{Path: name, Input: in}, nil
	}
	entries, err := fsys.ReadDir(name)
	if err != nil {
		return nil, err
	}
	if slices.Contains(entries, "model_index.json") {
		return openPipeline(fsys, name)
	}
	in, err := openComponentFolder(fsys, name, entries)
	if err != nil {
		return nil, err
	}
	return &Source{Path: name, Input: in}, nil
}

// OpenFile opens one file: a sharded checkpoint's index (*.index.json), a
// torch zip checkpoint (recognised by its content, whatever its extension)
// or anything else as it is (a .safetensors file, checked by the engine's
// header reader when it is used).
func OpenFile(fsys FS, name string) (checkpoint.Input, error) {
	if strings.HasSuffix(name, ".index.json") {
		return OpenIndex(fsys, name)
	}
	in, err := fsys.Open(name)
	if err != nil {
		return checkpoint.Input{}, err
	}
	return Wrap(in)
}

// Wrap turns a torch checkpoint into its virtual safetensors file and
// returns any other input unchanged. A legacy (pre-zip) torch file is an
// error that says so.
func Wrap(in checkpoint.Input) (checkpoint.Input, error) {
	if in.Size < 8 {
		return in, nil
	}
	format, err := torchzip.Sniff(in)
	if err != nil {
		return checkpoint.Input{}, err
	}
	if format == torchzip.FormatOther {
		return in, nil
	}
	v, err := torchzip.Open(in)
	if err != nil {
		return checkpoint.Input{}, err
	}
	return v.Input(), nil
}

// maxJSONSize bounds the small JSON files read whole (indexes, model_index).
// SDXL's UNet index is about 100 KB.
const maxJSONSize = 64 << 20

func readJSON(fsys FS, name string, v any) error {
	in, err := fsys.Open(name)
	if err != nil {
		return err
	}
	if in.Size > maxJSONSize {
		return fmt.Errorf("%s: %d bytes, more than the %d a JSON file here may have", name, in.Size, maxJSONSize)
	}
	b := make([]byte, in.Size)
	if n, err := in.R.ReadAt(b, 0); n != len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: not valid JSON: %v", name, err)
	}
	return nil
}

// componentFiles are the weight files a diffusers component folder may
// hold, in the order diffusers' from_pretrained prefers them: safetensors
// before torch .bin, the default variant before fp16/bf16, an index (a
// sharded file) before a single file of the same name.
var componentFiles = func() []string {
	var out []string
	for _, ext := range []string{".safetensors", ".bin"} {
		for _, variant := range []string{"", ".fp16", ".bf16"} {
			for _, stem := range []string{"diffusion_pytorch_model", "model", "pytorch_model"} {
				if ext == ".safetensors" && stem == "pytorch_model" {
					continue
				}
				f := stem + variant + ext
				out = append(out, f+".index.json", f)
			}
		}
	}
	return out
}()

// openComponentFolder opens the weights of a diffusers component folder
// (or any folder holding one weights file).
func openComponentFolder(fsys FS, dir string, entries []string) (checkpoint.Input, error) {
	for _, f := range componentFiles {
		if slices.Contains(entries, f) {
			return OpenFile(fsys, path.Join(dir, f))
		}
	}
	// A folder with one weights file of any name.
	var weights []string
	for _, e := range entries {
		switch path.Ext(e) {
		case ".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin":
			weights = append(weights, e)
		case ".json":
			if strings.HasSuffix(e, ".index.json") {
				weights = append(weights, e)
			}
		}
	}
	if len(weights) == 1 {
		return OpenFile(fsys, path.Join(dir, weights[0]))
	}
	if len(weights) > 1 {
		return checkpoint.Input{}, fmt.Errorf("%s: %w: the folder holds %d weight files (%s) and no diffusers model file; give one of them", dir, ErrNoWeights, len(weights), strings.Join(weights, ", "))
	}
	return checkpoint.Input{}, fmt.Errorf("%s: %w (looked for diffusion_pytorch_model.safetensors, model.safetensors, their .index.json and .bin forms)", dir, ErrNoWeights)
}

// Slots of a diffusers pipeline's components, as ComfyUI's diffusers
// loader (comfy/diffusers_load.py) takes them: the denoiser from unet/ or
// transformer/, the text encoders in order, the VAE from vae/. Other
// components (tokenizers, scheduler, safety checker, image encoder) hold no
// weights a checkpoint keeps.
var (
	modelComponents = []string{"unet", "transformer"}
	clipComponents  = []string{"text_encoder", "text_encoder_2", "text_encoder_3"}
)

func openPipeline(fsys FS, dir string) (*Source, error) {
	indexPath := path.Join(dir, "model_index.json")
	var index map[string]json.RawMessage
	if err := readJSON(fsys, indexPath, &index); err != nil {
		return nil, err
	}
	s := &Source{Path: dir}
	if err := json.Unmarshal(index["_class_name"], &s.Pipeline); err != nil || s.Pipeline == "" {
		return nil, fmt.Errorf("%s: no _class_name: not a diffusers model_index.json", indexPath)
	}
	// component returns the class of a listed component, "" when the
	// pipeline lists it as absent ([null, null]) or not at all.
	component := func(name string) (string, error) {
		raw, ok := index[name]
		if !ok {
			return "", nil
		}
		var lib []*string
		if err := json.Unmarshal(raw, &lib); err != nil || len(lib) != 2 {
			return "", fmt.Errorf("%s: %s is %s, not [library, class]", indexPath, name, raw)
		}
		if lib[1] == nil {
			return "", nil
		}
		return *lib[1], nil
	}
	open := func(name, class string) (*Component, error) {
		sub := path.Join(dir, name)
		isDir, err := fsys.IsDir(sub)
		if err != nil || !isDir {
			return nil, fmt.Errorf("%s: model_index.json lists %s (%s) but the folder has no %s/ folder", dir, name, class, name)
		}
		entries, err := fsys.ReadDir(sub)
		if err != nil {
			return nil, err
		}
		in, err := openComponentFolder(fsys, sub, entries)
		if err != nil {
			return nil, err
		}
		return &Component{Name: name, Class: class, Input: in}, nil
	}
	for _, name := range modelComponents {
		class, err := component(name)
		if err != nil {
			return nil, err
		}
		if class == "" {
			continue
		}
		if s.Model != nil {
			return nil, fmt.Errorf("%s: model_index.json lists both %s and %s", dir, s.Model.Name, name)
		}
		if s.Model, err = open(name, class); err != nil {
			return nil, err
		}
	}
	for _, name := range clipComponents {
		class, err := component(name)
		if err != nil {
			return nil, err
		}
		if class == "" {
			continue
		}
		c, err := open(name, class)
		if err != nil {
			return nil, err
		}
		s.Clip = append(s.Clip, *c)
	}
	class, err := component("vae")
	if err != nil {
		return nil, err
	}
	if class != "" {
		if s.VAE, err = open("vae", class); err != nil {
			return nil, err
		}
	}
	if s.Model == nil && len(s.Clip) == 0 && s.VAE == nil {
		return nil, fmt.Errorf("%s: %w: model_index.json (%s) lists no unet, transformer, text encoder or vae", dir, ErrNoWeights, s.Pipeline)
	}
	return s, nil
}
