package comfy

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
const QuantizationMetadataKey = "_quantization_metadata"

// quantizationMetadata carries the _quantization_metadata of every input
// into the output, renaming each layer the way its weight was renamed
// (model.diffusion_model. prefixed, text_encoders.t5xxl.transformer. …).
// ComfyUI itself turns the entries into <layer>.comfy_quant tensors on load
// and never writes the metadata back; keeping it under the output names is
// what makes the quantized layers load the same from the checkpoint.
// Layers whose weight is not written are dropped. ok is false when no input
// has the entry.
func QuantizationMetadata(files []*FileContents, out StateDict) (string, bool, error) {
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
		raw, ok := fc.Header.Metadata[QuantizationMetadataKey]
		if !ok {
			continue
		}
		found = true
		var q struct {
			FormatVersion string                     `json:"format_version"`
			Layers        map[string]json.RawMessage `json:"layers"`
		}
		if err := json.Unmarshal([]byte(raw), &q); err != nil {
			return "", false, fmt.Errorf("%s: metadata %s: %w", fc.Name, QuantizationMetadataKey, err)
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
	s, err := EncodeQuantMetadata(version, layers)
	if err != nil {
		return "", false, err
	}
	return s, true, nil
}

// EncodeQuantMetadata writes a _quantization_metadata value the way
// Python's json.dumps does, layers sorted.
func EncodeQuantMetadata(version string, layers map[string]json.RawMessage) (string, error) {
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
		return "", fmt.Errorf("metadata %s: %w", QuantizationMetadataKey, err)
	}
	return s, nil
}
