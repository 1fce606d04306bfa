package checkpoint

import (
	"slices"
	"sort"
	"strings"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Report is what Inspect finds in one file, from its header alone.
type Report struct {
	File         string                    `json:"file"`
	Bytes        int64                     `json:"bytes"`
	Architecture string                    `json:"architecture,omitempty"` // ComfyUI class of the diffusion model or of the components
	Components   []Component               `json:"components"`
	Missing      []string                  `json:"missing,omitempty"` // slots ("model", "clip", "vae") a full checkpoint of Architecture would also need
	DTypes       map[safetensors.DType]int `json:"dtypes"`            // tensor count per dtype
	Tensors      int                       `json:"tensors"`
	Metadata     map[string]string         `json:"metadata,omitempty"`
	HasWorkflow  bool                      `json:"has_workflow"`

	// Slots are the slots this file can fill ("model", "clip", "vae"), in
	// that order: what a UI routes a dropped file to.
	Slots []string `json:"slots"`
	// Prediction is the model type ComfyUI would load the diffusion model
	// with ("eps", "v", "edm", "v_edm", "flow", "flux", "other"); empty
	// without a diffusion model.
	Prediction string `json:"prediction,omitempty"`
	// Requires is what a checkpoint of Architecture needs, when the file
	// holds a diffusion model: a UI checks other files against it.
	Requires *Requirements `json:"requires,omitempty"`
	// MissingEncoders are the required text encoders (kinds) the file
	// lacks, when it holds a diffusion model.
	MissingEncoders []string `json:"missing_encoders,omitempty"`
	// Unused counts tensors that belong to no component (they are not
	// written); UnusedSample names up to ten of them.
	Unused       int      `json:"unused,omitempty"`
	UnusedSample []string `json:"unused_sample,omitempty"`
	// UnusedKeys lists every such tensor: what "ckptpack prune" drops.
	UnusedKeys []string `json:"unused_keys,omitempty"`
	// EMATensors counts model_ema.* tensors (ldm EMA weights and counters).
	EMATensors int `json:"ema_tensors,omitempty"`
	// Quantization names each quantization format of the file's layers,
	// the convention it is stored in and its layer count (empty for a file
	// without quantized or fp8 layers).
	Quantization []comfy.QuantCount `json:"quantization,omitempty"`
	// Problem says why nothing (or not everything) was recognised.
	Problem string `json:"problem,omitempty"`
}

// Component is one part found in a file.
type Component struct {
	Slot    string `json:"slot"`   // "model", "clip" or "vae"
	Kind    string `json:"kind"`   // model: ComfyUI class ("SDXL"); clip: encoder ("clip_l", "t5xxl"); vae: family ("kl4", "kl16" …)
	Layout  string `json:"layout"` // "bare", "prefixed", "diffusers", "hf", "open_clip", "ldm", "checkpoint"
	Tensors int    `json:"tensors"`
	Bytes   int64  `json:"bytes"`

	// Detail is a human-readable description ("CLIP-G text encoder").
	Detail string `json:"detail"`
	// Architectures are the ComfyUI classes this text encoder or VAE can
	// go with (empty for a diffusion model: see Report.Requires).
	Architectures []string `json:"architectures,omitempty"`
}

// Requirements are the components a class's checkpoint holds.
type Requirements struct {
	Encoders     []EncoderRequirement `json:"encoders"`
	AnyEncoder   bool                 `json:"any_encoder,omitempty"` // any non-empty subset of Encoders will do
	VAEKinds     []string             `json:"vae_kinds,omitempty"`   // empty: any VAE
	VAEDetail    string               `json:"vae_detail"`
	ModelSpec    string               `json:"modelspec_architecture,omitempty"`
	NoTextEncode bool                 `json:"no_text_encoder,omitempty"`
	// NoTextEncodeWhy says in plain words why (when NoTextEncode).
	NoTextEncodeWhy string `json:"no_text_encoder_why,omitempty"`
	// NoVAE: a pixel-space model; it takes no VAE file (the checkpoint gets
	// ComfyUI's pixel-space marker instead).
	NoVAE bool `json:"no_vae,omitempty"`
	// Title is the model in plain words ("FLUX.1 Fill", "Z-Image pixel-space").
	Title string `json:"title,omitempty"`
	// VAENote and TextEncoderNote are what a host shows on a slot the model
	// does not need ("This model has no VAE: …"); "" when needed.
	VAENote         string `json:"vae_note,omitempty"`
	TextEncoderNote string `json:"text_encoder_note,omitempty"`
}

// EncoderRequirement is one text encoder a class takes.
type EncoderRequirement struct {
	Kind      string `json:"kind"`
	Detail    string `json:"detail"`
	Optional  bool   `json:"optional,omitempty"`
	Tokenizer string `json:"tokenizer,omitempty"` // tokenizer blob the encoder's file must carry
}

// maxUnusedSample bounds Report.UnusedSample.
const maxUnusedSample = 10

// Inspect reports what in holds: architecture, components found and
// missing, dtype census, sizes and metadata. It reads the header and, for
// an SD2.x model, the one tensor ComfyUI's v-prediction test reads.
func Inspect(in Input) (*Report, error) {
	h, err := safetensors.ReadHeader(in)
	if err != nil {
		return nil, err
	}
	fc, err := comfy.AnalyzeFile(0, in.Name, h)
	if err != nil {
		return nil, err
	}
	r := &Report{
		File:     in.Name,
		Bytes:    in.Size,
		DTypes:   map[safetensors.DType]int{},
		Tensors:  len(h.Tensors),
		Metadata: h.Metadata,
		Problem:  fc.Problem,
		Unused:   len(fc.Unused),
	}
	if w, ok := h.Metadata["workflow"]; ok && w != "" {
		r.HasWorkflow = true
	}
	// A broken quantization marker is reported, not fatal: inspect is how
	// a user finds out what is wrong with a file.
	if qs, err := comfy.SurveyQuant(in, h); err != nil {
		r.Problem = strings.TrimPrefix(strings.TrimSpace(r.Problem+"; "+err.Error()), "; ")
	} else if c := qs.Counts(); len(c) > 0 {
		r.Quantization = c
	}
	for _, t := range h.Tensors {
		r.DTypes[t.DType]++
	}
	if len(fc.Unused) > 0 {
		r.UnusedSample = fc.Unused[:min(len(fc.Unused), maxUnusedSample)]
		r.UnusedKeys = fc.Unused
	}
	for _, t := range h.Tensors {
		if strings.HasPrefix(t.Name, emaPrefix) {
			r.EMATensors++
		}
	}
	for _, p := range fc.Parts() {
		r.Components = append(r.Components, describePart(p))
		if !slices.Contains(r.Slots, p.Slot) {
			r.Slots = append(r.Slots, p.Slot)
		}
	}
	if r.Components == nil {
		r.Components = []Component{}
	}
	if fc.Model != nil {
		a := fc.Model.Arch
		r.Architecture = a.Class
		r.Requires = requirementsOf(a)
		b := &planBuilder{inputs: []Input{in}, model: fc}
		if mt, _, err := b.resolvePrediction(a, fc.Model); err == nil {
			r.Prediction = string(mt)
		}
		have := map[string]bool{}
		for _, e := range fc.Encoders {
			have[e.Kind] = true
		}
		if !a.NoTextEncode {
			for _, s := range a.Encoders {
				if !s.Optional && !have[s.Kind] {
					r.MissingEncoders = append(r.MissingEncoders, s.Kind)
				}
			}
			if len(fc.Encoders) == 0 || len(r.MissingEncoders) > 0 {
				r.Missing = append(r.Missing, SlotClip)
			}
		}
		if fc.VAE == nil && !a.PixelSpace {
			r.Missing = append(r.Missing, SlotVAE)
		}
	} else if len(fc.Encoders) > 0 || fc.VAE != nil {
		// Components without a model: a full checkpoint would need one.
		r.Missing = append(r.Missing, SlotModel)
		if cands := commonArchitectures(fc); len(cands) == 1 {
			r.Architecture = cands[0]
		}
	}
	return r, nil
}

// describePart turns a part into a Component.
func describePart(p *comfy.Part) Component {
	c := Component{Slot: p.Slot, Kind: p.Kind, Layout: p.Layout, Tensors: len(p.SD), Bytes: p.SD.Bytes()}
	switch p.Slot {
	case SlotModel:
		c.Detail = p.Kind + " diffusion model"
	case SlotClip:
		c.Detail = comfy.DisplayTE(p.Kind) + " text encoder"
		for _, a := range comfy.Architectures {
			if _, ok := a.Encoder(p.Kind); ok && !a.NoTextEncode {
				c.Architectures = append(c.Architectures, a.Class)
			}
		}
	case SlotVAE:
		c.Detail = comfy.DisplayVAE(p.Kind)
		for _, a := range comfy.Architectures {
			if p.Kind != "" && slices.Contains(a.VAEKinds, p.Kind) || p.Kind == comfy.VAEPixelSpace && a.PixelSpace {
				c.Architectures = append(c.Architectures, a.Class)
			}
		}
	}
	return c
}

// commonArchitectures are the classes that take every component of fc.
func commonArchitectures(fc *comfy.FileContents) []string {
	var out []string
	for _, a := range comfy.Architectures {
		ok := true
		for _, e := range fc.Encoders {
			if _, has := a.Encoder(e.Kind); !has {
				ok = false
			}
		}
		if fc.VAE != nil && (fc.VAE.Kind == "" || !slices.Contains(a.VAEKinds, fc.VAE.Kind)) {
			ok = false
		}
		if ok {
			out = append(out, a.Class)
		}
	}
	sort.Strings(out)
	return out
}

// requirementsOf describes what a class's checkpoint holds.
func requirementsOf(a *comfy.Arch) *Requirements {
	r := &Requirements{
		AnyEncoder: a.AnyEncoder, VAEKinds: a.VAEKinds,
		VAEDetail: describeVAEKinds(a), ModelSpec: a.ModelSpec, NoTextEncode: a.NoTextEncode,
		NoTextEncodeWhy: a.NoTextEncodeWhy, NoVAE: a.PixelSpace, Title: a.Title(),
		Encoders: []EncoderRequirement{},
	}
	if a.PixelSpace {
		r.VAENote = "This model has no VAE: " + a.Title() + " works on pixels, so none is needed."
	}
	if a.NoTextEncode {
		r.TextEncoderNote = "This model takes no text encoder"
		if a.NoTextEncodeWhy != "" {
			r.TextEncoderNote += ": " + a.NoTextEncodeWhy
		}
		r.TextEncoderNote += ", so none is needed."
	}
	if !a.NoTextEncode {
		for _, s := range a.Encoders {
			r.Encoders = append(r.Encoders, EncoderRequirement{Kind: s.Kind, Detail: comfy.DisplayTE(s.Kind), Optional: s.Optional, Tokenizer: s.Tokenizer})
		}
	}
	return r
}

// ArchitectureRequirements returns what a checkpoint of a ComfyUI class
// holds, or nil for an unknown class name.
func ArchitectureRequirements(class string) *Requirements {
	a := comfy.ArchByClass(class)
	if a == nil {
		return nil
	}
	return requirementsOf(a)
}

// CheckSlot says whether the file f describes (its Inspect report) can fill
// slot of a checkpoint whose model file is model (nil while no model is
// chosen). nil means it fits; otherwise the *SlotError wraps
// ErrUnknownContent, ErrWrongComponent or ErrArchMismatch, and its message,
// naming the file, says why: what a UI shows when a file is dropped on a
// slot. It applies PlanCheckpoint's rules; missing components are not its
// concern (PlanCheckpoint reports those once every slot is filled).
func CheckSlot(f *Report, slot string, model *Report) error {
	var offered []Component
	for _, c := range f.Components {
		if c.Slot == slot {
			offered = append(offered, c)
		}
	}
	var what []string
	for _, c := range f.Components {
		what = append(what, "a "+c.Detail)
	}
	holds := strings.Join(what, ", ")
	if len(offered) == 0 {
		if len(f.Components) == 0 {
			why := f.Problem
			if why == "" {
				why = "no diffusion model, text encoder or VAE this tool recognises"
			}
			return slotErrorf(slot, f.File, "%s holds %s: %w", f.File, why, ErrUnknownContent)
		}
		want := map[string]string{SlotModel: "a diffusion model", SlotClip: "a text encoder", SlotVAE: "a VAE"}[slot]
		return slotErrorf(slot, f.File, "%s holds %s, not %s: %w", f.File, holds, want, ErrWrongComponent)
	}
	if model == nil || slot == SlotModel {
		return nil
	}
	a := comfy.ArchByClass(model.Architecture)
	if a == nil {
		return nil
	}
	switch slot {
	case SlotClip:
		if a.NoTextEncode {
			return slotErrorf(slot, f.File, "%s takes no text encoder%s, but %s holds %s: %w", a.Class, a.NoTextEncodeNote(), f.File, holds, ErrArchMismatch)
		}
		usable := 0
		for _, c := range offered {
			if _, ok := a.Encoder(c.Kind); ok {
				usable++
			} else if len(f.Components) == 1 {
				return slotErrorf(slot, f.File, "%s holds a %s text encoder, which %s does not use (it takes %s): %w",
					f.File, comfy.DisplayTE(c.Kind), a.Class, describeEncoders(a), ErrArchMismatch)
			}
		}
		if usable == 0 {
			return slotErrorf(slot, f.File, "%s holds %s, none of which %s uses (it takes %s): %w",
				f.File, holds, a.Class, describeEncoders(a), ErrArchMismatch)
		}
	case SlotVAE:
		k := offered[0].Kind
		if a.PixelSpace && k != comfy.VAEPixelSpace {
			return slotErrorf(slot, f.File, "%s works on pixels and has no VAE, but %s holds %s: %w", a.Class, f.File, holds, ErrArchMismatch)
		}
		if a.VAEKinds != nil && k != "" && !slices.Contains(a.VAEKinds, k) {
			return slotErrorf(slot, f.File, "%s holds a %s; %s needs a %s: %w", f.File, comfy.DisplayVAE(k), a.Class, describeVAEKinds(a), ErrArchMismatch)
		}
	}
	return nil
}
