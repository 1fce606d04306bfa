package checkpoint

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/quant"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Quantization targets as the CLI and the page name them.
var quantTargets = map[string]quant.Format{
	"fp8_scaled": quant.FP8E4M3, "fp8_e4m3fn_scaled": quant.FP8E4M3, "float8_e4m3fn": quant.FP8E4M3,
	"fp8_e5m2_scaled": quant.FP8E5M2, "float8_e5m2": quant.FP8E5M2,
	"int8": quant.Int8, "int8_tensorwise": quant.Int8,
	"mxfp8": quant.MXFP8, "nvfp4": quant.NVFP4,
}

// QuantTarget maps a --to name (fp8_scaled, fp8_e5m2_scaled, int8, mxfp8,
// nvfp4, or a comfy_quant format name) to its format; ok is false for a
// name that is not a quantization format.
func QuantTarget(name string) (quant.Format, bool) {
	f, ok := quantTargets[strings.ToLower(name)]
	return f, ok
}

// highPrecisionLayers are the diffusion-model layers ComfyUI's quantized
// releases keep in high precision: the input and output projections and
// the time, text and position embeddings (a few small layers that carry
// most of the sensitivity), plus adaLN modulation of the final layer.
// Compiled on first use, not at start-up: most runs never quantize.
var highPrecisionLayers = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(^|\.)(img_in|txt_in|time_in|vector_in|guidance_in|final_layer|norm_out|proj_out|x_embedder|context_embedder|t_embedder|y_embedder|time_text_embed|time_embed|label_emb|patch_embedding|text_embedding|time_embedding|time_projection|head|pos_embed|patch_embed|cap_embedder|t_block|adaln_single|caption_projection)\.`)
})

// nvfp4HighPrecision are the layers nvfp4 also keeps: it packs two values
// per byte, halving a weight's second dimension, and ComfyUI's UNet
// detection reads the context dimension from the cross-attention key and
// value weights' second dimension.
var nvfp4HighPrecision = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(^|\.)attn2\.to_[kv]$`) })

// keepsHighPrecision reports whether format f's default layer choice, or
// the user's exclude pattern, keeps the weight named name unquantized.
func keepsHighPrecision(f quant.Format, name string, exclude *regexp.Regexp) bool {
	layer := strings.TrimSuffix(name, ".weight")
	return highPrecisionLayers().MatchString(layer+".") || (f == quant.NVFP4 && nvfp4HighPrecision().MatchString(layer)) ||
		(exclude != nil && exclude.MatchString(name))
}

// quantEligible reports why a tensor cannot be a quantized Linear weight
// ("" when it can).
func quantEligible(f quant.Format, t safetensors.Tensor) string {
	switch {
	case !strings.HasSuffix(t.Name, ".weight"):
		return "not a weight"
	case len(t.Shape) != 2:
		return fmt.Sprintf("not a Linear weight (%d-D)", len(t.Shape))
	case !isFloat(t.DType):
		return fmt.Sprintf("a %s tensor (only F32, F16 and BF16 quantize)", t.DType)
	}
	if err := quant.Check(f, t.Shape); err != nil {
		return err.Error()
	}
	return ""
}

// planQuantize turns the selected weights of tensors into quantized
// layers: weight, scales and comfy_quant marker per layer.
func planQuantize(req ConvertRequest, in Input, h *safetensors.Header, fc *comfy.FileContents, tensors map[string]*rewriteTensor, rep *ConvertReport) error {
	f := req.Quantize
	qs, err := comfy.SurveyQuant(in, h)
	if err != nil {
		return err
	}
	if qs.Any() {
		return fmt.Errorf("%s is already quantized (%s): quantizing it again would mix scales; start from its high-precision original: %w",
			in.Name, describeCounts(qs.Counts()), ErrCannotConvert)
	}
	var match, exclude *regexp.Regexp
	if req.Match != "" {
		if match, err = regexp.Compile(req.Match); err != nil {
			return fmt.Errorf("--match %q: %v", req.Match, err)
		}
	}
	if req.Exclude != "" {
		if exclude, err = regexp.Compile(req.Exclude); err != nil {
			return fmt.Errorf("--exclude %q: %v", req.Exclude, err)
		}
	}
	slots := tensorSlots(fc)
	if match == nil && !req.All && fc.Model == nil {
		return fmt.Errorf("%s holds %s, no diffusion model: only a diffusion model quantizes by default (choose every component: --all, or tensors: --match): %w",
			in.Name, describeContents(fc), ErrComponentNotFound)
	}
	switch {
	case match != nil:
		rep.Rule = fmt.Sprintf("weights matching %q", req.Match)
	case req.All:
		rep.Rule = "Linear weights of every component"
	default:
		rep.Rule = "Linear weights of the diffusion model"
	}
	if match == nil {
		rep.Rule += " (input/output projections and embeddings stay high precision)"
	}
	if exclude != nil {
		rep.Rule += fmt.Sprintf(", except %q", req.Exclude)
	}
	rep.Format = string(f)
	for _, t := range h.Tensors {
		if match != nil {
			if !match.MatchString(t.Name) || (exclude != nil && exclude.MatchString(t.Name)) {
				continue
			}
			if why := quantEligible(f, t); why != "" {
				return fmt.Errorf("%s: tensor %s matches --match but cannot be quantized to %s: %s: %w", in.Name, t.Name, f, why, ErrCannotConvert)
			}
		} else {
			if !req.All && slots[t.Name] != SlotModel {
				continue
			}
			if quantEligible(f, t) != "" || !isFP8Weight(t.Name, t.Shape) {
				continue
			}
			if keepsHighPrecision(f, t.Name, exclude) {
				rep.HighPrecision++
				continue
			}
		}
		layer := strings.TrimSuffix(t.Name, ".weight")
		for _, o := range quant.Outputs(f, t.Shape) {
			if _, taken := tensors[layer+".weight"+o.Suffix]; taken && o.Suffix != "" {
				return fmt.Errorf("%s: layer %s already has %s: %w", in.Name, layer, layer+".weight"+o.Suffix, ErrCannotConvert)
			}
		}
		if _, taken := tensors[layer+".comfy_quant"]; taken {
			return fmt.Errorf("%s: layer %s already has a comfy_quant marker: %w", in.Name, layer, ErrCannotConvert)
		}
		src := tensors[t.Name]
		ql := &QuantLayer{Format: f, Source: t.DType, Shape: slices.Clone(t.Shape)}
		for _, o := range quant.Outputs(f, t.Shape) {
			tensors[layer+".weight"+o.Suffix] = &rewriteTensor{
				DType: safetensors.DType(o.DType), Shape: o.Shape, Input: src.Input, Offset: src.Offset, Length: src.Length,
				Convert: &Convert{From: t.DType, To: safetensors.DType(o.DType), Quant: &QuantPart{Layer: ql, Suffix: o.Suffix}},
			}
		}
		marker := []byte(quant.Marker(f))
		tensors[layer+".comfy_quant"] = &rewriteTensor{DType: safetensors.DTypeU8, Shape: []int64{int64(len(marker))}, Input: -1, Data: marker}
		rep.Converted++
	}
	if rep.Converted == 0 {
		return fmt.Errorf("%s: no tensor to quantize to %s (%s): %w", in.Name, f, rep.Rule, ErrCannotConvert)
	}
	return nil
}

// checkQuantDetection reads the planned header the way ComfyUI detects a
// model and refuses an output whose diffusion model would be detected as
// another class or configuration (nvfp4 halves a weight's second
// dimension, which some detection rules read).
func checkQuantDetection(in Input, before *comfy.FileContents, p *Plan) error {
	if before.Model == nil {
		return nil
	}
	h, err := safetensors.ParseHeader(in.Name, p.Header[8:], p.Size)
	if err != nil {
		return err
	}
	after, err := comfy.AnalyzeFile(0, in.Name, h)
	if err != nil {
		return fmt.Errorf("%s: the quantized file would not be read back: %w", in.Name, err)
	}
	want := before.Model.Arch.Class + " " + fmt.Sprint(before.Model.Config)
	if after.Model == nil {
		return fmt.Errorf("%s: ComfyUI's detection would not find the %s diffusion model in the quantized file (%s); keep the layers it reads in high precision with --exclude: %w", in.Name, before.Model.Arch.Class, after.Problem, ErrCannotConvert)
	}
	if got := after.Model.Arch.Class + " " + fmt.Sprint(after.Model.Config); got != want {
		return fmt.Errorf("%s: ComfyUI's detection would read the quantized file as %s, not %s; keep the layers it reads in high precision with --exclude: %w", in.Name, got, want, ErrCannotConvert)
	}
	return nil
}

func describeCounts(cs []comfy.QuantCount) string {
	var s []string
	for _, c := range cs {
		s = append(s, fmt.Sprintf("%s %d layers (%s)", c.Format, c.Layers, c.Convention))
	}
	return strings.Join(s, ", ")
}

// quantizeSaved quantizes the diffusion model's Linear weights of a
// checkpoint being assembled (SaveRequest.Quantize), by the default rule of
// planQuantize, and returns a note for the user ("" when not asked).
func quantizeSaved(b *planBuilder, arch *comfy.Arch, out comfy.StateDict) (string, error) {
	f := b.req.Quantize
	if f == "" {
		return "", nil
	}
	if err := quant.Check(f, []int64{quant.MXFP8Block, quant.MXFP8Block}); err != nil {
		return "", err
	}
	model := b.model
	qs, err := comfy.SurveyQuant(b.inputs[model.Input], model.Header)
	if err != nil {
		return "", err
	}
	if qs.Any() {
		return "", fmt.Errorf("%s is already quantized (%s): quantizing it again would mix scales; start from its high-precision original: %w",
			model.Name, describeCounts(qs.Counts()), ErrCannotConvert)
	}
	var exclude *regexp.Regexp
	if b.req.QuantizeExclude != "" {
		if exclude, err = regexp.Compile(b.req.QuantizeExclude); err != nil {
			return "", fmt.Errorf("quantize exclude %q: %v", b.req.QuantizeExclude, err)
		}
	}
	n, kept := 0, 0
	for _, k := range out.SortedKeys() {
		if !strings.HasPrefix(k, arch.UnetPrefix) {
			continue
		}
		src := out[k]
		if len(src.Pieces) != 1 || src.Pieces[0].Input < 0 || src.Pieces[0].Transpose != nil || src.Pieces[0].Compute != nil {
			continue
		}
		t := safetensors.Tensor{Name: k, DType: src.DType, Shape: src.Shape}
		if quantEligible(f, t) != "" || !isFP8Weight(k, t.Shape) {
			continue
		}
		if keepsHighPrecision(f, k, exclude) {
			kept++
			continue
		}
		pc := src.Pieces[0]
		ql := &QuantLayer{Format: f, Source: t.DType, Shape: slices.Clone(t.Shape)}
		for _, o := range quant.Outputs(f, t.Shape) {
			c := &Convert{From: t.DType, To: safetensors.DType(o.DType), Quant: &QuantPart{Layer: ql, Suffix: o.Suffix}}
			size, err := c.outputBytes(pc.Length)
			if err != nil {
				return "", fmt.Errorf("%s: %s: %w", model.Name, k, err)
			}
			out[k+o.Suffix] = &comfy.TensorSource{DType: safetensors.DType(o.DType), Shape: o.Shape, Pieces: []comfy.Piece{{
				Input: pc.Input, Offset: pc.Offset, Length: pc.Length, Compute: c, OutLength: size,
			}}}
		}
		out[strings.TrimSuffix(k, ".weight")+".comfy_quant"] = comfy.InlineSource(safetensors.DTypeU8, []int64{int64(len(quant.Marker(f)))}, []byte(quant.Marker(f)))
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("%s: no Linear weight of the diffusion model to quantize to %s: %w", model.Name, f, ErrCannotConvert)
	}
	return fmt.Sprintf("%d diffusion-model layers quantized to %s while saving (%d eligible weights kept high precision)", n, f, kept), nil
}

// planDequantize turns the in-scope per-tensor fp8 layers of a file back
// into To weights (ConvertRequest.Dequantize) and returns the metadata
// without them.
func planDequantize(req ConvertRequest, in Input, h *safetensors.Header, qs *comfy.QuantSurvey, slots map[string]string, scope string, match *regexp.Regexp,
	tensors map[string]*rewriteTensor, rep *ConvertReport) (map[string]string, error) {
	done := map[string]bool{}
	for _, layer := range slices.Sorted(maps.Keys(qs.Layers)) {
		c := qs.Layers[layer]
		w := layer + ".weight"
		if c.Convention == comfy.QuantUnscaled {
			continue
		}
		switch {
		case match != nil:
			if !match.MatchString(w) {
				continue
			}
		case !req.All && slots[w] != scope:
			continue
		}
		wt, ok := h.Lookup(w)
		if !ok {
			return nil, fmt.Errorf("%s: quantized layer %s has no weight: %w", in.Name, layer, ErrCannotConvert)
		}
		var scale *safetensors.Tensor
		for _, k := range []string{layer + ".weight_scale", layer + ".scale_weight"} {
			if t, ok := h.Lookup(k); ok {
				scale = t
			}
		}
		if (c.Format != string(quant.FP8E4M3) && c.Format != string(quant.FP8E5M2)) || (wt.DType != safetensors.DTypeF8E4M3 && wt.DType != safetensors.DTypeF8E5M2) ||
			scale == nil || numElements(scale.Shape) != 1 {
			return nil, fmt.Errorf("%s: layer %s is %s (%s, %s weight), which convert cannot dequantize: only float8_e4m3fn/float8_e5m2 layers with one scale (leave it out with --match, or convert without --dequantize to keep it as it is): %w",
				in.Name, layer, c.Format, c.Convention, wt.DType, ErrCannotConvert)
		}
		s, err := scalarValue(&comfy.TensorSource{DType: scale.DType, Shape: scale.Shape,
			Pieces: []comfy.Piece{{Input: 0, Offset: h.DataStart + scale.Begin, Length: scale.Size()}}}, []Input{in})
		if err == nil && (math.IsNaN(s) || math.IsInf(s, 0)) {
			err = fmt.Errorf("scale %g", s)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", in.Name, scale.Name, err)
		}
		v := tensors[w]
		v.DType = req.To
		v.Convert = &Convert{From: wt.DType, To: req.To, Dequant: &Dequant{Scale: float32(s)}}
		for _, suf := range comfy.QuantSuffixes {
			delete(tensors, layer+suf)
		}
		done[layer] = true
		rep.Dequantized++
	}
	// Sentinels whose legacy layers are all gone go too.
	for _, sk := range qs.Sentinels {
		prefix, _ := comfy.SentinelPrefix(sk)
		left := false
		for k := range tensors {
			if strings.HasPrefix(k, prefix) && strings.HasSuffix(k, ".scale_weight") {
				left = true
				break
			}
		}
		if !left {
			delete(tensors, sk)
		}
	}
	meta := h.Metadata
	if raw, ok := meta[comfy.QuantizationMetadataKey]; ok && len(done) > 0 {
		var q struct {
			FormatVersion string                     `json:"format_version"`
			Layers        map[string]json.RawMessage `json:"layers"`
		}
		if err := json.Unmarshal([]byte(raw), &q); err != nil {
			return nil, fmt.Errorf("%s: metadata %s: %w", in.Name, comfy.QuantizationMetadataKey, err)
		}
		for l := range done {
			delete(q.Layers, l)
		}
		meta = maps.Clone(meta)
		if len(q.Layers) == 0 {
			delete(meta, comfy.QuantizationMetadataKey)
		} else {
			s, err := comfy.EncodeQuantMetadata(q.FormatVersion, q.Layers)
			if err != nil {
				return nil, err
			}
			meta[comfy.QuantizationMetadataKey] = s
		}
	}
	return meta, nil
}
