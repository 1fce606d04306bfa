package comfy

import (
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// TestByteRangeAlgebra covers the piece operations conversions use.
func TestByteRangeAlgebra(t *testing.T) {
	src := &TensorSource{DType: safetensors.DTypeF16, Shape: []int64{6, 4}, Pieces: []Piece{{Input: 0, Offset: 100, Length: 48}}}
	q, err := src.narrowRows(2, 2)
	if err != nil || len(q.Pieces) != 1 || q.Pieces[0].Offset != 116 || q.Pieces[0].Length != 16 || q.Shape[0] != 2 {
		t.Errorf("narrow: %+v %v", q, err)
	}
	c, err := concatRows(q, src)
	if err != nil || c.Shape[0] != 8 || c.Size() != 64 {
		t.Errorf("concat: %+v %v", c, err)
	}
	// narrow across pieces
	n, err := c.narrowRows(1, 3)
	if err != nil || len(n.Pieces) != 2 || n.Pieces[0].Offset != 124 || n.Pieces[0].Length != 8 || n.Pieces[1].Offset != 100 || n.Pieces[1].Length != 16 {
		t.Errorf("narrow across pieces: %+v %v", n, err)
	}
	s, err := src.swapScaleShift()
	if err != nil || s.Pieces[0].Offset != 124 || s.Pieces[1].Offset != 100 {
		t.Errorf("swap: %+v %v", s, err)
	}
	tr, err := src.transposed()
	if err != nil || tr.Pieces[0].Transpose == nil || tr.Shape[0] != 4 || tr.Pieces[0].Transpose.Rows != 6 || tr.Pieces[0].Transpose.ElemSize != 2 {
		t.Errorf("transpose: %+v %v", tr, err)
	}
	back, _ := tr.transposed()
	if back.Pieces[0].Transpose != nil || back.Shape[0] != 6 {
		t.Errorf("transpose twice: %+v", back)
	}
	if _, err := tr.narrowRows(0, 1); err == nil {
		t.Error("splitting a transposed tensor must fail")
	}
	if _, err := concatRows(src, &TensorSource{DType: safetensors.DTypeF32, Shape: []int64{1, 4}}); err == nil {
		t.Error("concatenating different dtypes must fail")
	}
	if _, err := src.reshaped([]int64{5, 5}); err == nil {
		t.Error("reshape changing the element count must fail")
	}
	odd := &TensorSource{DType: safetensors.DTypeF16, Shape: []int64{3}, Pieces: []Piece{{Input: 0, Offset: 0, Length: 6}}}
	if _, err := odd.swapScaleShift(); err == nil {
		t.Error("swapping halves of an odd dimension must fail")
	}
}

// TestOpenCLIPRelabel: the regex relabel is leftmost-first and does not
// rescan replaced text.
func TestOpenCLIPRelabel(t *testing.T) {
	for in, want := range map[string]string{
		"clip_g.transformer.text_model.encoder.layers.3.self_attn.out_proj.weight": "clip_g.transformer.resblocks.3.attn.out_proj.weight",
		"clip_g.transformer.text_model.encoder.layers.3.mlp.fc1.bias":              "clip_g.transformer.resblocks.3.mlp.c_fc.bias",
		"clip_g.transformer.text_model.encoder.layers.3.layer_norm2.weight":        "clip_g.transformer.resblocks.3.ln_2.weight",
		"clip_g.transformer.text_model.embeddings.position_embedding.weight":       "clip_g.positional_embedding",
		"clip_g.transformer.text_model.final_layer_norm.bias":                      "clip_g.ln_final.bias",
		"clip_g.logit_scale": "clip_g.logit_scale",
	} {
		if got := relabelTextenc(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
	// A missing v projection is ComfyUI's CORRUPTED MODEL error.
	sd := shapes(map[string][]int64{
		"clip_g.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight": {4, 4},
		"clip_g.transformer.text_model.encoder.layers.0.self_attn.k_proj.weight": {4, 4},
	})
	if _, err := openclipFromHF(sd, "clip_g"); err == nil || !strings.Contains(err.Error(), "layers.0.self_attn") {
		t.Errorf("missing v: %v", err)
	}
}
