package comfy

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Quantized layers, as ComfyUI stores them (comfy/utils.py
// convert_old_quants, comfy/quant_ops.py QUANT_ALGOS, comfy/ops.py
// _load_quantized_module). A quantized layer <L> is <L>.weight in its
// storage dtype plus some of these tensors beside it; a legacy scaled-fp8
// file marks its model with a "<prefix>scaled_fp8" sentinel and keeps
// <L>.scale_weight / <L>.scale_input. None of them means anything without
// its weight, and a weight without them loads silently wrong, so they are
// never dropped, converted or separated from their layer.
var QuantSuffixes = []string{
	".comfy_quant", ".weight_scale", ".weight_scale_2", ".input_scale", ".pre_quant_scale",
	".scale_weight", ".scale_input",
	".weight_s_rel", ".weight_s_channel", ".weight_codebook", ".weight_zeros",
}

// ScaledFP8Sentinel is the legacy marker key (after the model's prefix).
const ScaledFP8Sentinel = "scaled_fp8"

// QuantLayerOf returns the layer a quantization tensor belongs to ("" for
// other keys).
func QuantLayerOf(key string) string {
	for _, s := range QuantSuffixes {
		if l, ok := strings.CutSuffix(key, s); ok && l != "" {
			return l
		}
	}
	return ""
}

// IsQuantKey reports a quantization tensor: a scale, a marker or the
// legacy sentinel.
func IsQuantKey(key string) bool {
	return QuantLayerOf(key) != "" || key == ScaledFP8Sentinel || strings.HasSuffix(key, "."+ScaledFP8Sentinel)
}

// SentinelPrefix is the model prefix a sentinel key marks ("" or
// "model.diffusion_model.").
func SentinelPrefix(key string) (string, bool) {
	if key == ScaledFP8Sentinel {
		return "", true
	}
	p, ok := strings.CutSuffix(key, ScaledFP8Sentinel)
	return p, ok && strings.HasSuffix(p, ".")
}

// claimQuantKeys claims the quantization tensors of every claimed layer
// (and a sentinel when any tensor under its prefix is claimed), so they
// stay with the weights they describe whatever the component detection
// kept.
func claimQuantKeys(all StateDict, claimed map[string]bool) {
	for k := range all {
		if claimed[k] {
			continue
		}
		if l := QuantLayerOf(k); l != "" {
			if claimed[l+".weight"] {
				claimed[k] = true
			}
			continue
		}
		if p, ok := SentinelPrefix(k); ok {
			for c := range claimed {
				if claimed[c] && strings.HasPrefix(c, p) && c != k {
					claimed[k] = true
					break
				}
			}
		}
	}
}

// Quantization conventions as Inspect reports them.
const (
	QuantPerLayer = "comfy_quant"           // <layer>.comfy_quant U8 JSON tensors
	QuantMetadata = QuantizationMetadataKey // a _quantization_metadata metadata entry
	QuantLegacy   = "scaled_fp8"            // the legacy sentinel with scale_weight
	QuantUnscaled = "unscaled"              // fp8 weights no scale describes (a plain cast)
)

// QuantCount is one quantization format found in a file.
type QuantCount struct {
	Format     string `json:"format"`     // "float8_e4m3fn", "nvfp4", "mxfp8", "int8_tensorwise", "fp8 (F8_E4M3)" …
	Convention string `json:"convention"` // QuantPerLayer, QuantMetadata, QuantLegacy, QuantUnscaled
	Layers     int    `json:"layers"`
}

// maxComfyQuantBytes bounds one comfy_quant tensor read at planning time.
const maxComfyQuantBytes = 4096

// comfyQuantFormat reads one <layer>.comfy_quant tensor's JSON format.
func comfyQuantFormat(in safetensors.Input, h *safetensors.Header, t safetensors.Tensor) (map[string]any, error) {
	if t.Size() > maxComfyQuantBytes {
		return nil, fmt.Errorf("%s: tensor %s: %d bytes is too large for a comfy_quant marker", in.Name, t.Name, t.Size())
	}
	raw := make([]byte, t.Size())
	if n, err := in.R.ReadAt(raw, h.DataStart+t.Begin); n < len(raw) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%s: tensor %s: %w", in.Name, t.Name, err)
	}
	var conf map[string]any
	if err := json.Unmarshal(raw, &conf); err != nil {
		return nil, fmt.Errorf("%s: tensor %s is not comfy_quant JSON: %v", in.Name, t.Name, err)
	}
	return conf, nil
}

// QuantSurvey is what a file holds of quantized layers.
type QuantSurvey struct {
	// Layers maps each quantized layer (file names, no ".weight") to its
	// format and convention.
	Layers map[string]QuantCount
	// Sentinels are the legacy scaled_fp8 keys.
	Sentinels []string
}

// SurveyQuant finds every quantized layer of a file: per-layer comfy_quant
// markers (read: a few bytes each), the _quantization_metadata entry, the
// legacy sentinel's scale_weight layers, and fp8 weights nothing scales.
func SurveyQuant(in safetensors.Input, h *safetensors.Header) (*QuantSurvey, error) {
	s := &QuantSurvey{Layers: map[string]QuantCount{}}
	names := map[string]safetensors.Tensor{}
	for _, t := range h.Tensors {
		names[t.Name] = t
	}
	if raw, ok := h.Metadata[QuantizationMetadataKey]; ok {
		var q struct {
			Layers map[string]map[string]any `json:"layers"`
		}
		if err := json.Unmarshal([]byte(raw), &q); err != nil {
			return nil, fmt.Errorf("%s: metadata %s: %w", in.Name, QuantizationMetadataKey, err)
		}
		for l, conf := range q.Layers {
			f, _ := conf["format"].(string)
			s.Layers[l] = QuantCount{Format: f, Convention: QuantMetadata}
		}
	}
	for _, t := range h.Tensors {
		if l, ok := strings.CutSuffix(t.Name, ".comfy_quant"); ok {
			conf, err := comfyQuantFormat(in, h, t)
			if err != nil {
				return nil, err
			}
			f, _ := conf["format"].(string)
			s.Layers[l] = QuantCount{Format: f, Convention: QuantPerLayer}
		}
	}
	_, hasMeta := h.Metadata[QuantizationMetadataKey]
	for _, t := range h.Tensors {
		p, ok := SentinelPrefix(t.Name)
		if !ok {
			continue
		}
		s.Sentinels = append(s.Sentinels, t.Name)
		for _, u := range h.Tensors {
			l, ok := strings.CutSuffix(u.Name, ".scale_weight")
			if !ok || !strings.HasPrefix(u.Name, p) {
				continue
			}
			if _, done := s.Layers[l]; done {
				continue
			}
			format := "float8_e4m3fn"
			if w, ok := names[l+".weight"]; ok && w.DType == safetensors.DTypeF8E5M2 {
				format = "float8_e5m2"
			}
			conv := QuantLegacy
			if hasMeta {
				// The newest loader reads _quantization_metadata and skips the
				// legacy path for the whole file: these layers load unscaled.
				conv = QuantLegacy + " (ignored: the file also has " + QuantizationMetadataKey + ")"
			}
			s.Layers[l] = QuantCount{Format: format, Convention: conv}
		}
	}
	slices.Sort(s.Sentinels)
	for _, t := range h.Tensors {
		l, ok := strings.CutSuffix(t.Name, ".weight")
		if !ok || (t.DType != safetensors.DTypeF8E4M3 && t.DType != safetensors.DTypeF8E5M2) {
			continue
		}
		if _, ok := s.Layers[l]; ok {
			continue
		}
		if _, ok := names[l+".scale_weight"]; ok {
			continue // a scale_weight without a sentinel: counted below
		}
		s.Layers[l] = QuantCount{Format: "fp8 (" + string(t.DType) + ")", Convention: QuantUnscaled}
	}
	return s, nil
}

// Counts is the survey by format and convention, sorted.
func (s *QuantSurvey) Counts() []QuantCount {
	m := map[[2]string]int{}
	for _, c := range s.Layers {
		m[[2]string{c.Format, c.Convention}]++
	}
	out := []QuantCount{}
	for _, k := range slices.SortedFunc(maps.Keys(m), func(a, b [2]string) int {
		return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1])
	}) {
		out = append(out, QuantCount{Format: k[0], Convention: k[1], Layers: m[k]})
	}
	return out
}

// Quantized reports whether layer (file name, no ".weight") is quantized:
// scaled in any convention (an unscaled fp8 cast is not).
func (s *QuantSurvey) Quantized(layer string) bool {
	c, ok := s.Layers[layer]
	return ok && c.Convention != QuantUnscaled
}

// Any reports a file with scaled quantized layers.
func (s *QuantSurvey) Any() bool {
	for _, c := range s.Layers {
		if c.Convention != QuantUnscaled {
			return true
		}
	}
	return false
}
