package comfy

import (
	"encoding/binary"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// identityProjection is the text_projection.weight ComfyUI's CLIP text
// model holds when its file has none: comfy/clip_model.py CLIPTextModel
// creates text_projection as Linear(hidden, hidden, bias=False) and copies
// torch.eye(hidden) into it, and load_state_dict(strict=False) leaves it so
// (the "clip missing: ['text_projection.weight']" log line). A checkpoint
// saved from such a model therefore holds an identity matrix, in the text
// model's dtype. Diffusers folders ship CLIP-L as a CLIPTextModel without
// the projection (FLUX.1's text_encoder; SD3's is CLIPTextModelWithProjection).
//
// It returns nil when sd already has a projection, is not a CLIP text model,
// or is in a dtype ComfyUI would not build the identity in byte for byte.
func IdentityProjection(kind string, sd StateDict) *TensorSource {
	if kind != TEClipL && kind != TEClipG && kind != TEClipH {
		return nil
	}
	if _, ok := sd["text_projection.weight"]; ok {
		return nil
	}
	ref, ok := sd["text_model.final_layer_norm.weight"]
	if !ok || len(ref.Shape) != 1 {
		return nil
	}
	n := ref.Shape[0]
	var one []byte
	switch ref.DType {
	case safetensors.DTypeF16:
		one = binary.LittleEndian.AppendUint16(nil, 0x3c00)
	case safetensors.DTypeBF16:
		one = binary.LittleEndian.AppendUint16(nil, 0x3f80)
	case safetensors.DTypeF32:
		one = binary.LittleEndian.AppendUint32(nil, 0x3f800000)
	default:
		return nil
	}
	es := int64(len(one))
	data := make([]byte, n*n*es)
	for i := int64(0); i < n; i++ {
		copy(data[(i*n+i)*es:], one)
	}
	return InlineSource(ref.DType, []int64{n, n}, data)
}
