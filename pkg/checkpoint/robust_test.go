package checkpoint

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// signatureKeys are keys detection and conversion look at; random files
// built from them (with random shapes) exercise every branch with
// malformed input.
var signatureKeys = []string{
	"input_blocks.0.0.weight", "label_emb.0.0.weight", "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
	"input_blocks.1.1.proj_in.weight", "input_blocks.1.0.in_layers.0.weight", "input_blocks.2.0.op.weight", "out.2.weight",
	"output_blocks.11.1.transformer_blocks.0.norm1.bias",
	"joint_blocks.0.context_block.attn.qkv.weight", "x_embedder.proj.weight", "double_blocks.0.img_attn.norm.key_norm.scale",
	"img_in.weight", "guidance_in.in_layer.weight", "head.modulation", "head.head.weight", "patch_embedding.weight",
	"cap_embedder.1.weight", "txt_in.individual_token_refiner.blocks.0.norm1.weight", "img_in.proj.weight",
	"x_embedder.weight", "x_embedder.bias", "transformer_blocks.0.attn.to_q.weight", "transformer_blocks.0.attn.add_q_proj.weight",
	"pos_embed.proj.weight", "single_transformer_blocks.0.proj_mlp.weight", "norm_out.linear.weight",
	"conv_in.weight", "down_blocks.0.resnets.0.conv1.weight", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
	"text_model.encoder.layers.0.mlp.fc1.weight", "text_model.encoder.layers.0.self_attn.q_proj.weight",
	"text_model.encoder.layers.30.mlp.fc1.weight", "text_model.encoder.layers.22.mlp.fc1.weight",
	"transformer.resblocks.0.ln_1.weight", "transformer.resblocks.0.attn.in_proj_weight", "text_projection",
	"encoder.block.23.layer.1.DenseReluDense.wi_1.weight", "encoder.block.0.layer.0.SelfAttention.k.weight", "shared.weight",
	"model.layers.0.self_attn.k_proj.bias", "model.layers.0.post_attention_layernorm.weight",
	"decoder.conv_in.weight", "decoder.up_blocks.0.resnets.0.norm1.weight", "decoder.mid_block.attentions.0.to_q.weight",
	"decoder.middle.0.residual.0.gamma", "spiece_model", "v_pred", "edm_vpred.sigma_max",
	"model.diffusion_model.input_blocks.0.0.weight", "conditioner.embedders.1.model.transformer.resblocks.0.ln_1.weight",
	"conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight", "conditioner.embedders.1.model.text_projection",
	"cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight", "text_encoders.t5xxl.transformer.shared.weight",
	"first_stage_model.decoder.conv_in.weight", "vae.decoder.conv_in.weight", "model.model.transformer.rotary_pos_emb.inv_freq",
}

// TestRandomHeadersDoNotPanic plans and inspects random combinations of
// signature keys with random shapes: every outcome must be a result or an
// error, never a panic.
func TestRandomHeadersDoNotPanic(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	dtypes := []safetensors.DType{"F16", "F32", "BF16", "U8", "I64", "F8_E4M3"}
	for i := 0; i < 400; i++ {
		var ts []testTensor
		seen := map[string]bool{}
		for j := rng.Intn(12) + 1; j > 0; j-- {
			k := signatureKeys[rng.Intn(len(signatureKeys))]
			if rng.Intn(4) == 0 {
				k = fmt.Sprintf("%s%d", k[:len(k)-1], rng.Intn(3))
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			shape := make([]int64, rng.Intn(5))
			for d := range shape {
				shape[d] = int64(rng.Intn(7))
			}
			ts = append(ts, testTensor{Name: k, DType: dtypes[rng.Intn(len(dtypes))], Shape: shape})
		}
		in := makeInput(t, fmt.Sprintf("random%d", i), ts, nil)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic on %v: %v", ts, r)
				}
			}()
			Inspect(in)
			PlanCheckpoint(SaveRequest{Model: in, Clip: []Input{in}, VAE: in})
		}()
	}
}
