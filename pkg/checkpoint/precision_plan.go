package checkpoint

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/quant"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// ErrCannotConvert: a tensor selected for conversion has a dtype that does
// not convert to the target (an I64 position_ids to fp8, an F64 tensor).
var ErrCannotConvert = errors.New("tensor cannot be converted")

// Precision targets as the CLI and the page name them.
var precisionTargets = map[string]safetensors.DType{
	"fp16": safetensors.DTypeF16, "bf16": safetensors.DTypeBF16, "fp8": safetensors.DTypeF8E4M3, "fp8_e4m3fn": safetensors.DTypeF8E4M3, "fp8_e5m2": safetensors.DTypeF8E5M2,
}

// PrecisionTarget maps "fp16", "bf16", "fp8" (= fp8_e4m3fn) or "fp8_e5m2"
// to its dtype; "" means no conversion.
func PrecisionTarget(name string) (safetensors.DType, error) {
	if name == "" {
		return "", nil
	}
	if d, ok := precisionTargets[strings.ToLower(name)]; ok {
		return d, nil
	}
	return "", fmt.Errorf("unknown precision %q (want fp16, bf16, fp8 or fp8_e5m2)", name)
}

// ConvertRequest asks for a file's tensors in another precision.
type ConvertRequest struct {
	Input Input
	To    safetensors.DType // safetensors.DTypeF16, safetensors.DTypeBF16, safetensors.DTypeF8E4M3, safetensors.DTypeF8E5M2; "" copies every tensor unchanged

	// Scope. By default only the diffusion model's tensors convert (a file
	// with none is refused: say All). All widens it to every component
	// (text encoders, VAE) and to tensors of no component.
	All bool
	// Match, when set, selects exactly the tensors whose name it matches
	// (a Go regexp), whatever the scope; one that cannot be converted is then
	// an error rather than skipped.
	Match string

	// Quantize, instead of To, writes the selected Linear weights in a
	// ComfyUI quantization format (quantize_plan.go); Exclude (a Go regexp)
	// keeps matching weights in high precision.
	Quantize quant.Format
	Exclude  string

	// Dequantize, with To fp16 or bf16, writes the in-scope quantized
	// layers back in To: weight × scale as ComfyUI dequantizes them (only
	// per-tensor fp8 layers; other formats are refused), their scales and
	// markers dropped.
	Dequantize bool
}

// ConvertReport says what a conversion does, before it is written.
type ConvertReport struct {
	Converted    int          `json:"converted"`     // tensors whose dtype changes
	Kept         int          `json:"kept"`          // tensors copied unchanged
	InputCensus  []DTypeCount `json:"input_census"`  // dtype census of the input
	OutputCensus []DTypeCount `json:"output_census"` // of the output
	InputBytes   int64        `json:"input_bytes"`
	OutputBytes  int64        `json:"output_bytes"`
	Rule         string       `json:"rule"` // which tensors convert, in words
	// QuantizedKept counts the tensors of quantized layers (their weights,
	// scales and markers) written unchanged: converting any of them would
	// separate a weight from its scale.
	QuantizedKept int `json:"quantized_kept,omitempty"`
	Dequantized   int `json:"dequantized,omitempty"` // layers written back in high precision
	// Format is the quantization format written (Converted counts its
	// layers); HighPrecision counts the eligible weights the rule keeps.
	Format        string `json:"format,omitempty"`
	HighPrecision int    `json:"high_precision,omitempty"`
}

// fp8 rule: ComfyUI's fp8 checkpoints (and its fp8 weight dtypes, which
// only Linear and Conv layers take: comfy/ops.py casts weight and bias at
// run time but stores the weight in fp8) hold the diffusion model's
// Linear/Conv weights in fp8 and keep biases, norms and embedding tables in
// their original precision. Linear/Conv weights are the ".weight" tensors
// of two or more dimensions; embedding tables are 2-D ".weight" too, named
// as below.
var embeddingNames = []string{"token_embedding", "position_embedding", "embed_tokens", "shared.weight", "positional_embedding", "pos_embed", "wte.", "wpe."}

func isFP8Weight(name string, shape []int64) bool {
	if len(shape) < 2 || !strings.HasSuffix(name, ".weight") {
		return false
	}
	for _, e := range embeddingNames {
		if strings.Contains(name, e) {
			return false
		}
	}
	return true
}

// isFloat reports a dtype a precision conversion reads.
func isFloat(d safetensors.DType) bool {
	return d == safetensors.DTypeF32 || d == safetensors.DTypeF16 || d == safetensors.DTypeBF16
}

// PlanConvert plans req.Input rewritten with the selected tensors in
// req.To, streamed chunk by chunk (precision.go). Metadata and names are
// kept; the layout is the reference writer's.
func PlanConvert(req ConvertRequest) (*Plan, *ConvertReport, error) {
	in := req.Input
	h, err := safetensors.ReadHeader(in)
	if err != nil {
		return nil, nil, err
	}
	var match *regexp.Regexp
	if req.Match != "" {
		if match, err = regexp.Compile(req.Match); err != nil {
			return nil, nil, fmt.Errorf("--match %q: %v", req.Match, err)
		}
	}
	tensors := copiedTensors(h)
	meta := h.Metadata
	rep := &ConvertReport{InputCensus: Census(h.Tensors), InputBytes: in.Size}
	architecture := ""
	if req.Quantize != "" {
		if req.To != "" {
			return nil, nil, fmt.Errorf("convert: a precision (%s) and a quantization format (%s) at once", req.To, req.Quantize)
		}
		fc, err := comfy.AnalyzeFile(0, in.Name, h)
		if err != nil {
			return nil, nil, err
		}
		if fc.Model != nil {
			architecture = fc.Model.Arch.Class
		}
		if err := planQuantize(req, in, h, fc, tensors, rep); err != nil {
			return nil, nil, err
		}
		p, err := layoutRewrite(architecture, tensors, meta, []Input{in})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", in.Name, err)
		}
		if err := checkQuantDetection(in, fc, p); err != nil {
			return nil, nil, err
		}
		rep.Kept = len(h.Tensors) - rep.Converted
		rep.OutputCensus = Census(p.Tensors)
		rep.OutputBytes = p.Size
		return p, rep, nil
	}
	if req.To != "" {
		fc, err := comfy.AnalyzeFile(0, in.Name, h)
		if err != nil {
			return nil, nil, err
		}
		if fc.Model != nil {
			architecture = fc.Model.Arch.Class
		}
		slots := tensorSlots(fc)
		qs, err := comfy.SurveyQuant(in, h)
		if err != nil {
			return nil, nil, err
		}
		protected := func(name string) bool {
			if comfy.IsQuantKey(name) {
				return true
			}
			l, ok := strings.CutSuffix(name, ".weight")
			return ok && qs.Quantized(l)
		}
		// The default scope: the diffusion model of a file that has one,
		// else the one component a file holds (a VAE, or its text
		// encoders), which is what converting that file means.
		scope, scopeName := SlotModel, "the diffusion model"
		if match == nil && !req.All && fc.Model == nil {
			parts := fc.Parts()
			if len(parts) == 0 || slices.ContainsFunc(parts, func(p *comfy.Part) bool { return p.Slot != parts[0].Slot }) {
				return nil, nil, fmt.Errorf("%s holds %s, no diffusion model: only a diffusion model, or the one component of a file holding one, converts by default (choose every component: --all): %w",
					in.Name, describeContents(fc), ErrComponentNotFound)
			}
			scope, scopeName = parts[0].Slot, "the VAE"
			if scope == SlotClip {
				scopeName = "the text encoder"
				if len(parts) > 1 {
					scopeName += "s"
				}
			}
		}
		fp8 := req.To == safetensors.DTypeF8E4M3 || req.To == safetensors.DTypeF8E5M2
		switch {
		case match != nil:
			rep.Rule = fmt.Sprintf("tensors matching %q", req.Match)
		case fp8 && req.All:
			rep.Rule = "Linear/Conv weights of every component (biases, norms and embeddings keep their precision)"
		case fp8:
			rep.Rule = "Linear/Conv weights of " + scopeName + " (biases, norms and embeddings keep their precision)"
		case req.All:
			rep.Rule = "every F32 tensor"
		default:
			rep.Rule = "F32 tensors of " + scopeName
		}
		if req.Dequantize {
			if req.To != safetensors.DTypeF16 && req.To != safetensors.DTypeBF16 {
				return nil, nil, fmt.Errorf("convert: --dequantize writes fp16 or bf16, not %s", req.To)
			}
			if meta, err = planDequantize(req, in, h, qs, slots, scope, match, tensors, rep); err != nil {
				return nil, nil, err
			}
		}
		for _, t := range h.Tensors {
			v := tensors[t.Name]
			if v == nil || v.Convert != nil {
				continue // dequantized, or a scale gone with it
			}
			if protected(t.Name) {
				if match != nil && match.MatchString(t.Name) {
					return nil, nil, fmt.Errorf("%s: tensor %s belongs to a quantized layer (%s): converting it would separate the weight from its scale, which ComfyUI would then load wrong; leave it out of --match: %w",
						in.Name, t.Name, describeQuant(qs, t.Name), ErrCannotConvert)
				}
				rep.QuantizedKept++
				continue
			}
			if match != nil {
				if !match.MatchString(t.Name) || t.DType == req.To {
					continue
				}
				if !CanConvert(t.DType, req.To) {
					return nil, nil, fmt.Errorf("%s: tensor %s is %s, which does not convert to %s (only %s): %w",
						in.Name, t.Name, t.DType, req.To, convertibleFrom(req.To), ErrCannotConvert)
				}
			} else {
				if !req.All && slots[t.Name] != scope {
					continue
				}
				if fp8 {
					if !isFloat(t.DType) || !isFP8Weight(t.Name, t.Shape) {
						continue
					}
				} else if t.DType != safetensors.DTypeF32 {
					continue
				}
				if t.DType == req.To {
					continue
				}
			}
			v.Convert = &Convert{From: t.DType, To: req.To}
			v.DType = req.To
			rep.Converted++
		}
	}
	if rep.QuantizedKept > 0 {
		rep.Rule += fmt.Sprintf("; %d tensors of quantized layers (weights, scales, markers) stay as they are", rep.QuantizedKept)
	}
	rep.Kept = len(h.Tensors) - rep.Converted
	p, err := layoutRewrite(architecture, tensors, h.Metadata, []Input{in})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	rep.OutputCensus = Census(p.Tensors)
	rep.OutputBytes = p.Size
	return p, rep, nil
}

// convertibleFrom lists the dtypes that convert to d, for messages.
func convertibleFrom(d safetensors.DType) string {
	var from []string
	for _, s := range safetensors.DTypes() {
		if s != d && CanConvert(s, d) {
			from = append(from, string(s))
		}
	}
	return strings.Join(from, ", ")
}

// describeQuant names the quantization of the layer a tensor belongs to.
func describeQuant(qs *comfy.QuantSurvey, name string) string {
	l := comfy.QuantLayerOf(name)
	if l == "" {
		l = strings.TrimSuffix(name, ".weight")
	}
	if c, ok := qs.Layers[l]; ok {
		return c.Format + ", " + c.Convention
	}
	if _, ok := comfy.SentinelPrefix(name); ok {
		return "the legacy scaled_fp8 sentinel"
	}
	return "a quantization tensor"
}
