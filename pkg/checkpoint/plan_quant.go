package checkpoint

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ckptpack/ckptpack/internal/pyjson"
)

// quantizationMetadataKey is the safetensors metadata entry ComfyUI 0.8.0
// reads quantized layers from (comfy.utils.convert_old_quants): JSON
// {"format_version": …, "layers": {"<layer>": {"format": …}, …}} where a
// layer is a tensor name without ".weight", relative to the file's keys.
const quantizationMetadataKey = "_quantization_metadata"

// quantizationMetadata carries the _quantization_metadata of every input
// into the output, renaming each layer the way its weight was renamed
// (model.diffusion_model. prefixed, text_encoders.t5xxl.transformer. …).
// ComfyUI itself turns the entries into <layer>.comfy_quant tensors on load
// and never writes the metadata back; keeping it under the output names is
// what makes the quantized layers load the same from the checkpoint.
// Layers whose weight is not written are dropped. ok is false when no input
// has the entry.
func quantizationMetadata(files []*fileContents, out stateDict) (string, bool, error) {
	type loc struct {
		in     int
		offset int64
	}
	written := map[loc]string{}
	for k, t := range out {
		if len(t.Pieces) == 1 && t.Pieces[0].Input >= 0 && t.Pieces[0].Transpose == nil {
			written[loc{t.Pieces[0].Input, t.Pieces[0].Offset}] = k
		}
	}
	version := ""
	layers := map[string]json.RawMessage{}
	found := false
	done := map[int]bool{}
	for _, fc := range files {
		if fc == nil || done[fc.Input] {
			continue
		}
		done[fc.Input] = true
		raw, ok := fc.Header.Metadata[quantizationMetadataKey]
		if !ok {
			continue
		}
		found = true
		var q struct {
			FormatVersion string                     `json:"format_version"`
			Layers        map[string]json.RawMessage `json:"layers"`
		}
		if err := json.Unmarshal([]byte(raw), &q); err != nil {
			return "", false, fmt.Errorf("%s: metadata %s: %w", fc.Name, quantizationMetadataKey, err)
		}
		if version == "" {
			version = q.FormatVersion
		}
		for layer, spec := range q.Layers {
			t, ok := fc.Header.Lookup(layer + ".weight")
			if !ok {
				continue
			}
			outKey, ok := written[loc{fc.Input, fc.Header.DataStart + t.Begin}]
			if !ok || !strings.HasSuffix(outKey, ".weight") {
				continue
			}
			layers[strings.TrimSuffix(outKey, ".weight")] = spec
		}
	}
	if !found {
		return "", false, nil
	}
	s, err := encodeQuantMetadata(version, layers)
	if err != nil {
		return "", false, err
	}
	return s, true, nil
}

// encodeQuantMetadata writes a _quantization_metadata value the way
// Python's json.dumps does, layers sorted.
func encodeQuantMetadata(version string, layers map[string]json.RawMessage) (string, error) {
	names := slices.Sorted(maps.Keys(layers))
	var b strings.Builder
	b.WriteString(`{"format_version":`)
	v, _ := json.Marshal(version)
	b.Write(v)
	b.WriteString(`,"layers":{`)
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n)
		b.Write(k)
		b.WriteByte(':')
		b.Write(layers[n])
	}
	b.WriteString("}}")
	s, err := pyjson.Dumps(b.String())
	if err != nil {
		return "", fmt.Errorf("metadata %s: %w", quantizationMetadataKey, err)
	}
	return s, nil
}

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
func unifyLegacyQuant(out stateDict, meta string, inputs []Input) (string, string, error) {
	var sentinels []string
	for k := range out {
		if _, ok := sentinelPrefix(k); ok {
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
		return "", "", fmt.Errorf("metadata %s: %w", quantizationMetadataKey, err)
	}
	if q.Layers == nil {
		q.Layers = map[string]json.RawMessage{}
	}
	converted := 0
	for _, sk := range sentinels {
		prefix, _ := sentinelPrefix(sk)
		conf := `{"format":"float8_e4m3fn"}`
		if numElements(out[sk].Shape) == 2 {
			conf = `{"format":"float8_e4m3fn","full_precision_matrix_mult":true}`
		}
		delete(out, sk)
		for _, k := range out.sortedKeys() {
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
	s, err := encodeQuantMetadata(q.FormatVersion, q.Layers)
	if err != nil {
		return "", "", err
	}
	note := fmt.Sprintf("%d legacy scaled-fp8 layers (%s) rewritten as %s layers: the newest ComfyUI reads only that convention when a file has it",
		converted, strings.Join(sentinels, ", "), quantizationMetadataKey)
	return s, note, nil
}

// scalarValue reads a one-element float tensor (a legacy scale).
func scalarValue(t *tensorSource, inputs []Input) (float64, error) {
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
