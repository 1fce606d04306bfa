package checkpoint

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ckptpack/ckptpack/pkg/comfy"
)

// unifyLegacyQuant rewrites the legacy scaled-fp8 layers of out into the
// _quantization_metadata convention when the output carries that entry:
// the newest loader (comfy.utils.convert_old_quants) reads the entry and
// then skips the legacy path for the whole file, so a legacy model saved
// beside a text encoder with the entry would load unscaled. It does what
// convert_old_quants does on load: <L>.scale_weight becomes
// <L>.weight_scale with layer L {"format": "float8_e4m3fn"} (plus
// "full_precision_matrix_mult": true for a two-element sentinel),
// <L>.scale_input becomes <L>.input_scale unless it is 1.0 (then dropped),
// and the sentinel goes. Tensors keep their bytes; only names change. It
// returns the new entry and a note for the user; meta "" means nothing to do.
func unifyLegacyQuant(out comfy.StateDict, meta string, inputs []Input) (string, string, error) {
	var sentinels []string
	for k := range out {
		if _, ok := comfy.SentinelPrefix(k); ok {
			sentinels = append(sentinels, k)
		}
	}
	if meta == "" || len(sentinels) == 0 {
		return "", "", nil
	}
	slices.Sort(sentinels)
	var q struct {
		FormatVersion string                     `json:"format_version"`
		Layers        map[string]json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal([]byte(meta), &q); err != nil {
		return "", "", fmt.Errorf("metadata %s: %w", comfy.QuantizationMetadataKey, err)
	}
	if q.Layers == nil {
		q.Layers = map[string]json.RawMessage{}
	}
	converted := 0
	for _, sk := range sentinels {
		prefix, _ := comfy.SentinelPrefix(sk)
		conf := `{"format":"float8_e4m3fn"}`
		if numElements(out[sk].Shape) == 2 {
			conf = `{"format":"float8_e4m3fn","full_precision_matrix_mult":true}`
		}
		delete(out, sk)
		for _, k := range out.SortedKeys() {
			if !strings.HasPrefix(k, prefix) {
				continue
			}
			if l, ok := strings.CutSuffix(k, ".scale_weight"); ok {
				if _, taken := out[l+".weight_scale"]; taken {
					return "", "", fmt.Errorf("layer %s has both scale_weight and weight_scale: cannot convert its legacy scaled-fp8 convention", l)
				}
				out[l+".weight_scale"] = out[k]
				delete(out, k)
				if _, ok := q.Layers[l]; !ok {
					q.Layers[l] = json.RawMessage(conf)
				}
				converted++
			}
			if l, ok := strings.CutSuffix(k, ".scale_input"); ok {
				v, err := scalarValue(out[k], inputs)
				if err != nil {
					return "", "", fmt.Errorf("%s: %w", k, err)
				}
				if v != 1.0 {
					out[l+".input_scale"] = out[k]
				}
				delete(out, k)
			}
		}
	}
	s, err := comfy.EncodeQuantMetadata(q.FormatVersion, q.Layers)
	if err != nil {
		return "", "", err
	}
	note := fmt.Sprintf("%d legacy scaled-fp8 layers (%s) rewritten as %s layers: the newest ComfyUI reads only that convention when a file has it",
		converted, strings.Join(sentinels, ", "), comfy.QuantizationMetadataKey)
	return s, note, nil
}

// scalarValue reads a one-element float tensor (a legacy scale).
func scalarValue(t *comfy.TensorSource, inputs []Input) (float64, error) {
	if numElements(t.Shape) != 1 {
		return 0, fmt.Errorf("a scale of shape %v, want one element", t.Shape)
	}
	raw := make([]byte, 0, 8)
	for _, p := range t.Pieces {
		if p.Input < 0 {
			raw = append(raw, p.Data...)
			continue
		}
		if p.Length > 8 || p.Input >= len(inputs) {
			return 0, fmt.Errorf("a scale of %d bytes", p.Length)
		}
		b := make([]byte, p.Length)
		if err := readFullAt(inputs[p.Input].R, b, p.Offset); err != nil {
			return 0, err
		}
		raw = append(raw, b...)
	}
	vals, err := decodeFloats(t.DType, raw)
	if err != nil || len(vals) != 1 {
		return 0, fmt.Errorf("a %s scale: %w", t.DType, ErrCannotConvert)
	}
	return vals[0], nil
}
