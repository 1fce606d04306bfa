package checkpoint

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ckptpack/ckptpack/internal/pyjson"
	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Extraction: one component of a file written the way ComfyUI's reverse
// nodes write it (comfy_extras/nodes_model_merging.py):
//
//   - ModelSave: save_checkpoint with clip=None, vae=None — the diffusion
//     model under its class's save prefix, the v_pred/ztsnr/edm markers and
//     the same metadata as CheckpointSave (modelspec.*, predict_key, prompt).
//   - CLIPSave: one file per encoder, "<prefix>_<encoder>": the encoder's
//     keys without "<encoder>." and "transformer.", plus logit_scale (the
//     4.6055 SDClipModel creates) and, for CLIP encoders whose file lacks
//     it, text_projection.weight as ComfyUI initialises it (an identity
//     matrix, comfy/clip_model.py); metadata format="pt" and prompt.
//   - VAESave: vae.get_sd() in ldm names, metadata prompt.
//
// Where ckptpack differs from CLIPSave, and why: CLIPSave writes the
// tokenizer blob (spiece_model …) and encoders outside its fixed name list
// (qwen25_7b, mistral3_24b …) into one extra "<prefix>_00001_" file that
// keeps their "<name>.transformer." prefix and that no ComfyUI loader reads
// back. Here every encoder gets its own file named "<prefix>_<encoder>" with
// its tokenizer blob under the bare key standalone encoder files use, so each
// file loads in CLIPLoader.

// Default filename prefixes of the three nodes.
const (
	DefaultModelSavePrefix = "diffusion_models/ComfyUI"
	DefaultCLIPSavePrefix  = "clip/ComfyUI"
	DefaultVAESavePrefix   = "vae/ComfyUI_vae"
)

// ErrComponentNotFound: the file has no component of the kind asked for.
var ErrComponentNotFound = errors.New("no such component in the file")

// ExtractRequest asks for one component of one file.
type ExtractRequest struct {
	Input     Input
	Component string // SlotModel, SlotClip or SlotVAE

	// Model only: the prediction type for files that do not say it, and
	// modelspec.title ("ComfyUI 1", from the output name) where the class
	// writes modelspec keys.
	Prediction Prediction
	Title      string

	// As in SaveRequest: prompt and extra_pnginfo (JSON text), the
	// --disable-metadata switch, and user metadata added last.
	Prompt          string
	ExtraPNGInfo    string
	DisableMetadata bool
	Metadata        map[string]string
}

// Extracted is one output file of an extraction.
type Extracted struct {
	Component string // SlotModel, SlotClip or SlotVAE
	Encoder   string // clip: ComfyUI's encoder name ("clip_l", "t5xxl"); "" otherwise
	Plan      *Plan
}

// ExtractFilenamePrefix is the filename_prefix an extracted file is saved
// under: the node's default (or the user's prefix), with CLIPSave's
// "_<encoder>" suffix for text encoders.
func ExtractFilenamePrefix(component, userPrefix, encoder string) string {
	prefix := userPrefix
	if prefix == "" {
		switch component {
		case SlotModel:
			prefix = DefaultModelSavePrefix
		case SlotClip:
			prefix = DefaultCLIPSavePrefix
		default:
			prefix = DefaultVAESavePrefix
		}
	}
	if component == SlotClip && encoder != "" {
		prefix += "_" + encoder
	}
	return prefix
}

// clipSaveOrder is CLIPSave's prefix list (nodes_model_merging.py): the
// order its files are written in.
var clipSaveOrder = []string{comfy.TEClipL, comfy.TEClipG, comfy.TEClipH, comfy.TET5XXL, comfy.TEPileT5XL, comfy.TEMT5XL, comfy.TEUMT5XXL, comfy.TET5Base, comfy.TEGemma2_2B, comfy.TELlama, comfy.TEHyDiTClip}

// PlanExtract plans the file(s) ComfyUI's ModelSave, CLIPSave or VAESave
// would write for that component of req.Input: one plan, or one per text
// encoder for SlotClip.
func PlanExtract(req ExtractRequest) ([]Extracted, error) {
	in := req.Input
	h, err := safetensors.ReadHeader(in)
	if err != nil {
		return nil, err
	}
	fc, err := comfy.AnalyzeFile(0, in.Name, h)
	if err != nil {
		return nil, err
	}
	inputs := []Input{in}
	switch req.Component {
	case SlotModel:
		if fc.Model == nil {
			return nil, notFound(fc, "a diffusion model")
		}
		p, err := planModelSave(req, fc, inputs)
		if err != nil {
			return nil, err
		}
		return []Extracted{{Component: SlotModel, Plan: p}}, nil
	case SlotClip:
		if len(fc.Encoders) == 0 {
			return nil, notFound(fc, "a text encoder")
		}
		return planCLIPSave(req, fc, inputs)
	case SlotVAE:
		if fc.VAE == nil {
			return nil, notFound(fc, "a VAE")
		}
		meta, err := nodeMetadata(req, false)
		if err != nil {
			return nil, err
		}
		p, err := layoutPlan(&comfy.Arch{Class: ""}, fc.VAE.SD, meta, inputs)
		if err != nil {
			return nil, err
		}
		return []Extracted{{Component: SlotVAE, Plan: p}}, nil
	}
	return nil, fmt.Errorf("unknown component %q (want model, clip or vae)", req.Component)
}

func notFound(fc *comfy.FileContents, want string) error {
	return fmt.Errorf("%s holds %s, not %s: %w", fc.Name, describeContents(fc), want, ErrComponentNotFound)
}

// planModelSave is ModelSave: save_checkpoint(model) with no clip or vae.
func planModelSave(req ExtractRequest, fc *comfy.FileContents, inputs []Input) (*Plan, error) {
	b := &planBuilder{
		req: SaveRequest{
			Model: req.Input, Prediction: req.Prediction, Title: req.Title, Prompt: req.Prompt,
			ExtraPNGInfo: req.ExtraPNGInfo, DisableMetadata: req.DisableMetadata, Metadata: req.Metadata,
		},
		inputs: inputs,
		model:  fc,
	}
	model := fc.Model
	arch := model.Arch
	mt, zsnr, err := b.resolvePrediction(arch, model)
	if err != nil {
		return nil, err
	}
	out := comfy.StateDict{}
	for k, v := range model.SD {
		for _, r := range arch.UnetRenames {
			k = strings.ReplaceAll(k, r[0], r[1])
		}
		out[arch.UnetPrefix+k] = v
	}
	for k, v := range fc.ModelExtras {
		out[k] = v
	}
	for k, v := range b.extraKeys(arch, mt, zsnr) {
		out[k] = v
	}
	meta, err := b.metadata(arch, mt, fc)
	if err != nil {
		return nil, err
	}
	if q, ok, err := comfy.QuantizationMetadata([]*comfy.FileContents{fc}, out); err != nil {
		return nil, err
	} else if ok {
		if _, user := req.Metadata[comfy.QuantizationMetadataKey]; !user {
			meta[comfy.QuantizationMetadataKey] = q
		}
	}
	return layoutPlan(arch, out, meta, inputs)
}

// planCLIPSave writes one file per encoder, in CLIPSave's order.
func planCLIPSave(req ExtractRequest, fc *comfy.FileContents, inputs []Input) ([]Extracted, error) {
	meta, err := nodeMetadata(req, true)
	if err != nil {
		return nil, err
	}
	encoders := slices.Clone(fc.Encoders)
	rank := func(kind string) int {
		if i := slices.Index(clipSaveOrder, kind); i >= 0 {
			return i
		}
		return len(clipSaveOrder)
	}
	slices.SortStableFunc(encoders, func(a, b *comfy.Part) int {
		if d := rank(a.Kind) - rank(b.Kind); d != 0 {
			return d
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	var out []Extracted
	for _, e := range encoders {
		sd := comfy.StateDict{}
		for k, v := range e.SD {
			sd[k] = v
		}
		sd["logit_scale"] = comfy.InlineSource(safetensors.DTypeF32, []int64{}, f32Bytes(logitScaleInit))
		if comfy.TEFamily(e.Kind) == comfy.TEFamilyCLIP && !sd.Has("text_projection.weight") {
			eye := comfy.IdentityProjection(e.Kind, sd)
			if eye == nil {
				return nil, fmt.Errorf("%s: %s text encoder: no text_projection.weight, and no F16/BF16/F32 final_layer_norm to build ComfyUI's identity projection from", fc.Name, comfy.DisplayTE(e.Kind))
			}
			sd["text_projection.weight"] = eye
		}
		for _, spec := range tokenizerSpecs(e.Kind) {
			if t, ok := fc.Tokenizers[spec]; ok {
				sd[spec[strings.LastIndex(spec, ".")+1:]] = t
			}
		}
		p, err := layoutPlan(&comfy.Arch{Class: ""}, sd, meta, inputs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fc.Name, err)
		}
		out = append(out, Extracted{Component: SlotClip, Encoder: e.Kind, Plan: p})
	}
	return out, nil
}

// tokenizerSpecs are the keys (as fileContents.Tokenizers holds them) of
// the tokenizer blob an encoder kind needs, from the architecture table.
func tokenizerSpecs(kind string) []string {
	var keys []string
	for _, a := range comfy.Architectures {
		for _, s := range a.Encoders {
			if s.Kind == kind && s.Tokenizer != "" && !slices.Contains(keys, s.Tokenizer) {
				keys = append(keys, s.Tokenizer, s.Tokenizer[strings.LastIndex(s.Tokenizer, ".")+1:])
			}
		}
	}
	return keys
}

// nodeMetadata is the metadata CLIPSave (withFormat) and VAESave write:
// format="pt" (CLIPSave only), prompt and the extra_pnginfo keys, or nothing
// with --disable-metadata; then the user's entries.
func nodeMetadata(req ExtractRequest, withFormat bool) (map[string]string, error) {
	meta := map[string]string{}
	if !req.DisableMetadata {
		if withFormat {
			meta["format"] = "pt"
		}
		prompt := ""
		if req.Prompt != "" {
			p, err := pyjson.Dumps(req.Prompt)
			if err != nil {
				return nil, fmt.Errorf("prompt: %w", err)
			}
			prompt = p
		}
		meta["prompt"] = prompt
		if req.ExtraPNGInfo != "" {
			extra, err := pyjson.DumpsMembers(req.ExtraPNGInfo)
			if err != nil {
				return nil, fmt.Errorf("extra_pnginfo: %w", err)
			}
			for _, m := range extra {
				meta[m.Key] = m.Value
			}
		}
	}
	for k, v := range req.Metadata {
		meta[k] = v
	}
	return meta, nil
}
