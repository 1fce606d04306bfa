package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// randomInput is a tiny in-memory safetensors file whose every tensor holds
// random bytes, with the bytes of each tensor by name.
func randomInput(t *testing.T, rng *rand.Rand, name string, ts []testTensor) (Input, map[string][]byte) {
	data := map[string][]byte{}
	for i := range ts {
		n, err := safetensors.ByteSize(ts[i].DType, ts[i].Shape)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		rng.Read(b)
		ts[i].Data, data[ts[i].Name] = b, b
	}
	return makeInput(t, name, ts, nil), data
}

// tinyCLIP is an HF CLIP text encoder with d-wide layers and a [proj, d]
// projection (detection only looks at the layer count).
func tinyCLIP(layers int, d, proj int64) []testTensor {
	ts := []testTensor{
		{Name: "text_model.embeddings.token_embedding.weight", DType: "F16", Shape: []int64{10, d}},
		{Name: "text_model.embeddings.position_embedding.weight", DType: "F16", Shape: []int64{7, d}},
		{Name: "text_model.embeddings.position_ids", DType: "I64", Shape: []int64{1, 7}},
		{Name: "text_model.final_layer_norm.weight", DType: "F16", Shape: []int64{d}},
		{Name: "text_projection.weight", DType: "F16", Shape: []int64{proj, d}},
		{Name: "logit_scale", DType: "F32", Shape: []int64{}},
	}
	for i := 0; i < layers; i++ {
		p := fmt.Sprintf("text_model.encoder.layers.%d.", i)
		for _, n := range []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj"} {
			ts = append(ts, testTensor{Name: p + n + ".weight", DType: "F16", Shape: []int64{d, d}}, testTensor{Name: p + n + ".bias", DType: "F16", Shape: []int64{d}})
		}
		ts = append(ts,
			testTensor{Name: p + "layer_norm1.weight", DType: "F16", Shape: []int64{d}},
			testTensor{Name: p + "mlp.fc1.weight", DType: "F16", Shape: []int64{2 * d, d}},
			testTensor{Name: p + "mlp.fc2.weight", DType: "F16", Shape: []int64{d, 2 * d}})
	}
	return ts
}

// transpose2D transposes a rows×cols matrix of elem-byte elements.
func transpose2D(b []byte, rows, cols, elem int) []byte {
	out := make([]byte, len(b))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			copy(out[(j*rows+i)*elem:(j*rows+i+1)*elem], b[(i*cols+j)*elem:(i*cols+j+1)*elem])
		}
	}
	return out
}

// tinySDXLUNet is an SDXL UNet's detection keys with every tensor but the
// first cut to one row: an SDXL plan small enough to run on random data.
func tinySDXLUNet() []testTensor {
	var unetTs []testTensor
	for k, s := range synthUNet(320, 4, 2048, 2816, true, false, levels(2, 0, 2, 10)) {
		shape := s.Shape
		if k != "input_blocks.0.0.weight" {
			shape = append([]int64{1}, s.Shape[1:]...)
		}
		unetTs = append(unetTs, testTensor{Name: k, DType: "F16", Shape: shape})
	}
	return unetTs
}

// TestPlanExecutesSDXL runs a plan through Execute on random data and
// checks every output byte against an independent computation of ComfyUI's
// SDXL save: copies, q‖k‖v fused into in_proj, the CLIP-G projection
// transposed, position_ids, logit_scale.
func TestPlanExecutesSDXL(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	unetTs := tinySDXLUNet()
	unet, unetData := randomInput(t, rng, "unet", unetTs)
	clipL, clipLData := randomInput(t, rng, "clip_l", tinyCLIP(12, 4, 4))
	clipG, clipGData := randomInput(t, rng, "clip_g", tinyCLIP(32, 4, 6))
	vae, vaeData := randomInput(t, rng, "vae", []testTensor{
		{Name: "decoder.conv_in.weight", DType: "F32", Shape: []int64{8, 4, 3, 3}},
		{Name: "encoder.conv_in.weight", DType: "F32", Shape: []int64{8, 3, 3, 3}},
	})
	p, err := PlanCheckpoint(SaveRequest{Model: unet, Clip: []Input{clipG, clipL}, VAE: vae, Title: "ComfyUI 1"})
	if err != nil {
		t.Fatal(err)
	}
	out, h := executeToMemory(t, p)
	if !bytes.Equal(out[:h.DataStart], p.Header) {
		t.Fatal("written header differs from the plan's")
	}
	want := func(name string) []byte {
		switch {
		case strings.HasPrefix(name, "model.diffusion_model."):
			return unetData[strings.TrimPrefix(name, "model.diffusion_model.")]
		case strings.HasPrefix(name, "first_stage_model."):
			return vaeData[strings.TrimPrefix(name, "first_stage_model.")]
		case name == "conditioner.embedders.0.transformer.text_model.embeddings.position_ids":
			var b []byte
			for i := 0; i < 77; i++ {
				b = binary.LittleEndian.AppendUint64(b, uint64(i))
			}
			return b
		case strings.HasPrefix(name, "conditioner.embedders.0.transformer."):
			return clipLData[strings.TrimPrefix(name, "conditioner.embedders.0.transformer.")]
		case name == "conditioner.embedders.1.model.logit_scale":
			return f32le(4.6055)
		case name == "conditioner.embedders.1.model.text_projection":
			return transpose2D(clipGData["text_projection.weight"], 6, 4, 2)
		case name == "conditioner.embedders.1.model.token_embedding.weight":
			return clipGData["text_model.embeddings.token_embedding.weight"]
		case name == "conditioner.embedders.1.model.positional_embedding":
			return clipGData["text_model.embeddings.position_embedding.weight"]
		case name == "conditioner.embedders.1.model.ln_final.weight":
			return clipGData["text_model.final_layer_norm.weight"]
		}
		var layer int
		var rest string
		if _, err := fmt.Sscanf(name, "conditioner.embedders.1.model.transformer.resblocks.%d.%s", &layer, &rest); err == nil {
			hf := fmt.Sprintf("text_model.encoder.layers.%d.", layer)
			switch rest {
			case "attn.in_proj_weight", "attn.in_proj_bias":
				end := "weight"
				if strings.HasSuffix(rest, "bias") {
					end = "bias"
				}
				var b []byte
				for _, x := range []string{"q", "k", "v"} {
					b = append(b, clipGData[hf+"self_attn."+x+"_proj."+end]...)
				}
				return b
			}
			for oc, h := range map[string]string{"attn.out_proj.": "self_attn.out_proj.", "ln_1.": "layer_norm1.", "mlp.c_fc.": "mlp.fc1.", "mlp.c_proj.": "mlp.fc2."} {
				if strings.HasPrefix(rest, oc) {
					return clipGData[hf+h+strings.TrimPrefix(rest, oc)]
				}
			}
		}
		return nil
	}
	for _, x := range h.Tensors {
		got := out[h.DataStart+x.Begin : h.DataStart+x.End]
		w := want(x.Name)
		if w == nil {
			t.Errorf("unexpected tensor %s", x.Name)
			continue
		}
		if !bytes.Equal(got, w) {
			t.Errorf("%s: bytes differ", x.Name)
		}
	}
	// Every input tensor ComfyUI keeps is somewhere in the output.
	// clip_l: position_ids, text_projection, logit_scale dropped, arange
	// position_ids added; clip_g: position_ids dropped, six q/k/v tensors
	// per layer fused into two, logit_scale replaced by ComfyUI's.
	kept := len(unetData) + (len(clipLData) - 3 + 1) + (len(clipGData) - 1 - 4*32) + len(vaeData)
	if len(h.Tensors) != kept {
		t.Errorf("%d output tensors, want %d", len(h.Tensors), kept)
	}
}

// TestPlanExecutesDiffusersFlux: a diffusers Flux transformer executes to
// fused qkv / linear1 tensors and the scale/shift-swapped final modulation.
func TestPlanExecutesDiffusersFlux(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	const h = 4
	ts := []testTensor{
		{Name: "x_embedder.weight", DType: "BF16", Shape: []int64{h, 64}},
		{Name: "x_embedder.bias", DType: "BF16", Shape: []int64{h}},
		{Name: "time_text_embed.guidance_embedder.linear_1.weight", DType: "BF16", Shape: []int64{h, 256}},
		{Name: "transformer_blocks.0.attn.norm_q.weight", DType: "BF16", Shape: []int64{2}},
		{Name: "transformer_blocks.0.attn.norm_k.weight", DType: "BF16", Shape: []int64{2}},
		{Name: "single_transformer_blocks.0.proj_mlp.weight", DType: "BF16", Shape: []int64{4 * h, h}},
		{Name: "norm_out.linear.weight", DType: "BF16", Shape: []int64{2 * h, h}},
		{Name: "proj_out.weight", DType: "BF16", Shape: []int64{64, h}},
	}
	for _, x := range []string{"q", "k", "v"} {
		ts = append(ts,
			testTensor{Name: "transformer_blocks.0.attn.to_" + x + ".weight", DType: "BF16", Shape: []int64{h, h}},
			testTensor{Name: "transformer_blocks.0.attn.add_" + x + "_proj.weight", DType: "BF16", Shape: []int64{h, h}},
			testTensor{Name: "single_transformer_blocks.0.attn.to_" + x + ".weight", DType: "BF16", Shape: []int64{h, h}})
	}
	model, md := randomInput(t, rng, "flux_diffusers", ts)
	clipL, _ := randomInput(t, rng, "clip_l", tinyCLIP(12, 4, 4))
	t5, _ := randomInput(t, rng, "t5xxl", []testTensor{
		{Name: "encoder.block.23.layer.1.DenseReluDense.wi_1.weight", DType: "F16", Shape: []int64{1, 4096}},
		{Name: "shared.weight", DType: "F16", Shape: []int64{2, 4096}},
	})
	vae, _ := randomInput(t, rng, "ae", []testTensor{{Name: "decoder.conv_in.weight", DType: "F32", Shape: []int64{4, 16, 3, 3}}})
	p, err := PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{clipL, t5}, VAE: vae})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "Flux" {
		t.Fatalf("architecture %s", p.Architecture)
	}
	out, hd := executeToMemory(t, p)
	get := func(name string) []byte {
		x, ok := hd.Lookup("model.diffusion_model." + name)
		if !ok {
			t.Fatalf("missing %s", name)
		}
		return out[hd.DataStart+x.Begin : hd.DataStart+x.End]
	}
	cat := func(keys ...string) []byte {
		var b []byte
		for _, k := range keys {
			b = append(b, md[k]...)
		}
		return b
	}
	half := len(md["norm_out.linear.weight"]) / 2
	for name, w := range map[string][]byte{
		"double_blocks.0.img_attn.qkv.weight": cat("transformer_blocks.0.attn.to_q.weight", "transformer_blocks.0.attn.to_k.weight", "transformer_blocks.0.attn.to_v.weight"),
		"double_blocks.0.txt_attn.qkv.weight": cat("transformer_blocks.0.attn.add_q_proj.weight", "transformer_blocks.0.attn.add_k_proj.weight", "transformer_blocks.0.attn.add_v_proj.weight"),
		"single_blocks.0.linear1.weight": cat("single_transformer_blocks.0.attn.to_q.weight", "single_transformer_blocks.0.attn.to_k.weight",
			"single_transformer_blocks.0.attn.to_v.weight", "single_transformer_blocks.0.proj_mlp.weight"),
		"final_layer.adaLN_modulation.1.weight":        append(append([]byte{}, md["norm_out.linear.weight"][half:]...), md["norm_out.linear.weight"][:half]...),
		"double_blocks.0.img_attn.norm.key_norm.scale": md["transformer_blocks.0.attn.norm_k.weight"],
		"img_in.weight":               md["x_embedder.weight"],
		"final_layer.linear.weight":   md["proj_out.weight"],
		"guidance_in.in_layer.weight": md["time_text_embed.guidance_embedder.linear_1.weight"],
	} {
		if !bytes.Equal(get(name), w) {
			t.Errorf("%s: bytes differ", name)
		}
	}
}
