package comfy

import (
	"encoding/binary"
	"strings"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// sdxlPositionIDs is the clip_l position_ids buffer SDXL writes:
// torch.arange(77).expand((1, -1)), int64 (supported_models.py:237-253).
const sdxlPositionIDs = 77

// ClipForSaving is the class's process_clip_state_dict_for_saving over the
// internal CLIP state dict ("<name>.transformer.…", "<name>.logit_scale",
// tokenizer blobs).
func ClipForSaving(arch *Arch, sd StateDict) (StateDict, error) {
	switch arch.ClipSave {
	case clipSaveSD15:
		// supported_models.py:67-74.
		delete(sd, "clip_l.transformer.text_projection.weight")
		delete(sd, "clip_l.logit_scale")
		return prefixReplace(sd, "clip_l.", prefixCondStage), nil
	case clipSaveSD20:
		// supported_models.py:113-118.
		return openclipFromHF(prefixReplace(sd, "clip_h", "cond_stage_model.model"), "")
	case clipSaveSDXL:
		// supported_models.py:237-253.
		g, err := openclipFromHF(sd, "clip_g")
		if err != nil {
			return nil, err
		}
		for k, v := range sd {
			if strings.HasPrefix(k, "clip_l") {
				g[k] = v
			}
		}
		g["clip_l.transformer.text_model.embeddings.position_ids"] = positionIDs(sdxlPositionIDs)
		delete(g, "clip_l.transformer.text_projection.weight")
		delete(g, "clip_l.logit_scale")
		g = prefixReplace(g, "clip_g", "conditioner.embedders.1.model")
		return prefixReplace(g, "clip_l", "conditioner.embedders.0"), nil
	case clipSaveRefiner:
		// supported_models.py:174-181.
		g, err := openclipFromHF(sd, "clip_g")
		if err != nil {
			return nil, err
		}
		delete(g, "clip_g.transformer.text_model.embeddings.position_ids")
		return prefixReplace(g, "clip_g", "conditioner.embedders.0.model"), nil
	}
	// supported_models_base.py:100-103: replace_prefix {"": text_encoder_key_prefix[0]}.
	return sd.AddPrefix(arch.TEPrefix), nil
}

// prefixReplace is state_dict_prefix_replace(sd, {from: to}) with
// filter_keys=False: matching keys are renamed, the others stay.
func prefixReplace(sd StateDict, from, to string) StateDict {
	out := StateDict{}
	for k, v := range sd {
		if strings.HasPrefix(k, from) {
			k = to + k[len(from):]
		}
		out[k] = v
	}
	return out
}

// positionIDs is torch.arange(n).expand((1, -1)) as int64 [1, n].
func positionIDs(n int) *TensorSource {
	b := make([]byte, 0, 8*n)
	for i := 0; i < n; i++ {
		b = binary.LittleEndian.AppendUint64(b, uint64(i))
	}
	return InlineSource(safetensors.DTypeI64, []int64{1, int64(n)}, b)
}
