package main

import (
	"fmt"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/inputs"
)

// opener is the one way every command opens the paths it is given: a
// .safetensors file, a torch checkpoint (.ckpt/.pt/.bin, read without
// running its pickle), a sharded checkpoint's *.index.json, a diffusers
// component folder, or a diffusers pipeline folder (model_index.json),
// whose components fill slots. Files are opened read-only and stay open
// until close.
type opener struct{ fs inputs.OSFS }

// source opens path whatever it is.
func (o *opener) source(path string) (*inputs.Source, error) {
	s, err := inputs.Open(&o.fs, path)
	if err == nil && testInputHook != nil && !s.IsPipeline() {
		s.Input = testInputHook(s.Input)
	}
	return s, err
}

// testInputHook, when set, wraps every input opened. Only this package's
// tests set it (to make reads slow or never return, for the interrupt
// tests); a built ckptpack never does.
var testInputHook func(checkpoint.Input) checkpoint.Input

// slot opens path for one slot ("model", "clip" or "vae"): the file itself,
// or, for a pipeline folder, the components that fill that slot.
func (o *opener) slot(path, slot string) ([]checkpoint.Input, error) {
	s, err := o.source(path)
	if err != nil {
		return nil, err
	}
	return slotInputs(s, slot)
}

// slotInputs is what source s gives to slot.
func slotInputs(s *inputs.Source, slot string) ([]checkpoint.Input, error) {
	if !s.IsPipeline() {
		return []checkpoint.Input{s.Input}, nil
	}
	var out []checkpoint.Input
	switch slot {
	case "model":
		if s.Model != nil {
			out = append(out, s.Model.Input)
		}
	case "clip":
		for _, c := range s.Clip {
			out = append(out, c.Input)
		}
	case "vae":
		if s.VAE != nil {
			out = append(out, s.VAE.Input)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: the %s pipeline has no component for the %s slot", s.Path, s.Pipeline, slot)
	}
	return out, nil
}

// one opens path as the single input of a one-file command (convert,
// prune, extract, meta). A pipeline folder holds several components, so
// those commands are given one of its component folders instead.
func (o *opener) one(path string) (checkpoint.Input, error) {
	s, err := o.source(path)
	if err != nil {
		return checkpoint.Input{}, err
	}
	if s.IsPipeline() {
		return checkpoint.Input{}, fmt.Errorf("%s: a diffusers pipeline folder (%s) holds several components: give one of its component folders (unet/, transformer/, text_encoder/, vae/ …)", path, s.Pipeline)
	}
	return s.Input, nil
}

func (o *opener) close() { o.fs.Close() }

// pipelineReport is what "inspect --json" prints for a diffusers folder.
type pipelineReport struct {
	Pipeline   string            `json:"pipeline"`
	Components []componentReport `json:"components"`
}

type componentReport struct {
	Name   string             `json:"name"`
	Class  string             `json:"class"`
	Report *checkpoint.Report `json:"report"`
}

// inspectPipeline reports each component of a diffusers pipeline folder.
func inspectPipeline(e *env, s *inputs.Source, asJSON bool) error {
	var comps []inputs.Component
	if s.Model != nil {
		comps = append(comps, *s.Model)
	}
	comps = append(comps, s.Clip...)
	if s.VAE != nil {
		comps = append(comps, *s.VAE)
	}
	out := pipelineReport{Pipeline: s.Pipeline}
	for _, c := range comps {
		rep, err := checkpoint.Inspect(c.Input)
		if err != nil {
			return err
		}
		out.Components = append(out.Components, componentReport{Name: c.Name, Class: c.Class, Report: rep})
	}
	if asJSON {
		return writeJSON(e, out)
	}
	fmt.Fprintf(e.stdout, "pipeline: %s (%s)\n", s.Pipeline, s.Path)
	for _, c := range out.Components {
		fmt.Fprintf(e.stdout, "\n[%s] %s\n", c.Name, c.Class)
		printReport(e, c.Report)
	}
	return nil
}
