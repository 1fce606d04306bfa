package comfy

import (
	"encoding/binary"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// TestIdentityProjection: a CLIP text model without text_projection.weight
// gets ComfyUI's torch.eye(hidden) in its own dtype; one with a projection,
// or another encoder, gets nothing.
func TestIdentityProjection(t *testing.T) {
	sd := StateDict{"text_model.final_layer_norm.weight": &TensorSource{DType: safetensors.DTypeF16, Shape: []int64{3}}}
	eye := IdentityProjection(TEClipL, sd)
	if eye == nil || eye.DType != safetensors.DTypeF16 || len(eye.Shape) != 2 || eye.Shape[0] != 3 || eye.Shape[1] != 3 {
		t.Fatalf("got %+v", eye)
	}
	data := eye.Pieces[0].Data
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			want := uint16(0)
			if i == j {
				want = 0x3c00 // 1.0 in IEEE half
			}
			if got := binary.LittleEndian.Uint16(data[(i*3+j)*2:]); got != want {
				t.Errorf("[%d,%d] = %#04x, want %#04x", i, j, got, want)
			}
		}
	}
	sd["text_projection.weight"] = &TensorSource{DType: safetensors.DTypeF16, Shape: []int64{3, 3}}
	if IdentityProjection(TEClipL, sd) != nil {
		t.Error("a file's own projection was replaced")
	}
	if IdentityProjection(TET5XXL, StateDict{"text_model.final_layer_norm.weight": &TensorSource{DType: safetensors.DTypeF16, Shape: []int64{3}}}) != nil {
		t.Error("T5 got a CLIP projection")
	}
}
