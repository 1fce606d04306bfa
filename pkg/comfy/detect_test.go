package comfy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/internal/synth"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// shapes builds a state dict of shape-only tensors.
func shapes(kv map[string][]int64) StateDict {
	sd := StateDict{}
	for k, s := range kv {
		sd[k] = &TensorSource{DType: safetensors.DTypeF16, Shape: s}
	}
	return sd
}

// The synthetic SD-family UNets of internal/synth, as state dicts.
type unetLevel = synth.UNetLevel

var levels = synth.Levels

func synthUNet(mc, in, ctx, adm int64, linear, temporal bool, levels []unetLevel) StateDict {
	return shapes(synth.UNetShapes(mc, in, ctx, adm, linear, temporal, levels))
}

// TestDetectArchitectures runs the signature table over minimal key sets,
// one per class the signature keys can tell apart.
func TestDetectArchitectures(t *testing.T) {
	sd4 := levels(2, 1, 1, 1, 0)
	cases := []struct {
		want string
		sd   StateDict
	}{
		{"SD15", synthUNet(320, 4, 768, 0, false, false, sd4)},
		{"SD15", synthUNet(320, 9, 768, 0, false, false, sd4)}, // inpainting
		{"SD15_instructpix2pix", synthUNet(320, 8, 768, 0, false, false, sd4)},
		{"SD20", synthUNet(320, 4, 1024, 0, true, false, sd4)},
		{"SD21UnclipL", synthUNet(320, 4, 1024, 1536, true, false, sd4)},
		{"SD21UnclipH", synthUNet(320, 4, 1024, 2048, true, false, sd4)},
		{"SD_X4Upscaler", synthUNet(256, 7, 1024, 0, true, false, sd4)},
		{"LotusD", synthUNet(320, 4, 1024, 4, true, false, sd4)},
		{"SDXL", synthUNet(320, 4, 2048, 2816, true, false, levels(2, 0, 2, 10))},
		{"SDXL_instructpix2pix", synthUNet(320, 8, 2048, 2816, true, false, levels(2, 0, 2, 10))},
		{"SSD1B", synthUNet(320, 4, 2048, 2816, true, false, levels(2, 0, 2, 4))},
		{"Segmind_Vega", synthUNet(320, 4, 2048, 2816, true, false, levels(2, 0, 1, 2))},
		{"KOALA_700M", synthUNet(320, 4, 2048, 2816, true, false, levels(1, 0, 2, 5))},
		{"KOALA_1B", synthUNet(320, 4, 2048, 2816, true, false, levels(1, 0, 2, 6))},
		{"SDXLRefiner", synthUNet(384, 4, 1280, 2560, true, false, levels(2, 0, 4, 4, 0))},
		{"SVD_img2vid", synthUNet(320, 8, 1024, 768, true, true, sd4)},
		{"SV3D_u", synthUNet(320, 8, 1024, 256, true, true, sd4)},
		{"SV3D_p", synthUNet(320, 8, 1024, 1280, true, true, sd4)},
		{"SD3", shapes(map[string][]int64{"joint_blocks.0.context_block.attn.qkv.weight": {4608, 1536}, "x_embedder.proj.weight": {1536, 16, 2, 2}})},
		{"Stable_Cascade_C", shapes(map[string][]int64{"clf.1.weight": {1}, "clip_txt_mapper.weight": {2048, 1280}})},
		{"Stable_Cascade_B", shapes(map[string][]int64{"clf.1.weight": {1}, "clip_mapper.weight": {1}})},
		{"StableAudio", shapes(map[string][]int64{"transformer.rotary_pos_emb.inv_freq": {32}})},
		{"AuraFlow", shapes(map[string][]int64{"double_layers.0.attn.w1q.weight": {1}, "cond_seq_linear.weight": {3072, 2048}})},
		{"HunyuanDiT", shapes(map[string][]int64{"mlp_t5.0.weight": {1}, "extra_embedder.0.weight": {1, 3968 + 1}})},
		{"HunyuanDiT1", shapes(map[string][]int64{"mlp_t5.0.weight": {1}, "extra_embedder.0.weight": {1, 3968}})},
		{"HunyuanVideo", shapes(map[string][]int64{"txt_in.individual_token_refiner.blocks.0.norm1.weight": {1}, "img_in.proj.weight": {3072, 16, 1, 2, 2}, "vector_in.in_layer.weight": {1}})},
		{"HunyuanVideoI2V", shapes(map[string][]int64{"txt_in.individual_token_refiner.blocks.0.norm1.weight": {1}, "img_in.proj.weight": {3072, 33, 1, 2, 2}, "vector_in.in_layer.weight": {1}})},
		{"HunyuanVideoSkyreelsI2V", shapes(map[string][]int64{"txt_in.individual_token_refiner.blocks.0.norm1.weight": {1}, "img_in.proj.weight": {3072, 32, 1, 2, 2}, "vector_in.in_layer.weight": {1}})},
		{"HunyuanImage21", shapes(map[string][]int64{"txt_in.individual_token_refiner.blocks.0.norm1.weight": {1}, "img_in.proj.weight": {3072, 64, 1, 1}})},
		{"HunyuanVideo15", shapes(map[string][]int64{"txt_in.individual_token_refiner.blocks.0.norm1.weight": {1}, "img_in.proj.weight": {2048, 65, 1, 1, 1}, "vision_in.proj.0.weight": {1152, 1152}})},
		{"HunyuanVideo15_SR_Distilled", shapes(map[string][]int64{"txt_in.individual_token_refiner.blocks.0.norm1.weight": {1}, "img_in.proj.weight": {2048, 98, 1, 1, 1}, "vision_in.proj.0.weight": {1152, 1152}})},
		{"HunyuanImage21Refiner", shapes(map[string][]int64{"txt_in.individual_token_refiner.blocks.0.norm1.weight": {1}, "img_in.proj.weight": {3072, 128, 1, 1, 1}})},
		{"Flux", shapes(map[string][]int64{"double_blocks.0.img_attn.norm.key_norm.scale": {128}, "img_in.weight": {3072, 64}, "guidance_in.in_layer.weight": {1}})},
		{"Flux", shapes(map[string][]int64{"double_blocks.0.img_attn.norm.key_norm.weight": {128}, "img_in.weight": {3072, 64}, "guidance_in.in_layer.weight": {1}})},
		{"FluxSchnell", shapes(map[string][]int64{"double_blocks.0.img_attn.norm.key_norm.scale": {128}, "img_in.weight": {3072, 64}})},
		{"FluxInpaint", shapes(map[string][]int64{"double_blocks.0.img_attn.norm.key_norm.scale": {128}, "img_in.weight": {3072, 384}, "guidance_in.in_layer.weight": {1}})},
		{"Chroma", shapes(map[string][]int64{"double_blocks.0.img_attn.norm.key_norm.scale": {128}, "img_in.weight": {3072, 64}, "distilled_guidance_layer.norms.0.scale": {1}})},
		{"ChromaRadiance", shapes(map[string][]int64{"double_blocks.0.img_attn.norm.key_norm.scale": {128}, "distilled_guidance_layer.norms.0.scale": {1}, "nerf_blocks.0.norm.scale": {1}})},
		{"Flux2", shapes(map[string][]int64{"double_blocks.0.img_attn.norm.key_norm.scale": {128}, "img_in.weight": {6144, 128}, "double_stream_modulation_img.lin.weight": {1}})},
		{"GenmoMochi", shapes(map[string][]int64{"t5_yproj.weight": {1}})},
		{"LTXV", shapes(map[string][]int64{"adaln_single.emb.timestep_embedder.linear_1.bias": {1}})},
		{"LTXAV", shapes(map[string][]int64{"adaln_single.emb.timestep_embedder.linear_1.bias": {1}, "audio_adaln_single.linear.weight": {1}})},
		{"ACEStep", shapes(map[string][]int64{"genre_embedder.weight": {1}})},
		{"PixArtAlpha", shapes(map[string][]int64{"t_block.1.weight": {1}, "ar_embedder.mlp.0.weight": {1}})},
		{"PixArtSigma", shapes(map[string][]int64{"t_block.1.weight": {1}})},
		{"CosmosT2V", shapes(map[string][]int64{"blocks.block0.blocks.0.block.attn.to_q.0.weight": {1}, "x_embedder.proj.1.weight": {4096, 68}})},
		{"CosmosI2V", shapes(map[string][]int64{"blocks.block0.blocks.0.block.attn.to_q.0.weight": {1}, "x_embedder.proj.1.weight": {4096, 72}})},
		{"Lumina2", shapes(map[string][]int64{"cap_embedder.1.weight": {2304, 2304}, "noise_refiner.0.attention.k_norm.weight": {96}})},
		{"ZImage", shapes(map[string][]int64{"cap_embedder.1.weight": {3840, 2560}, "noise_refiner.0.attention.k_norm.weight": {128}})},
		{"ZImagePixelSpace", shapes(map[string][]int64{"cap_embedder.1.weight": {3840, 2560}, "noise_refiner.0.attention.k_norm.weight": {128}, "dec_net.cond_embed.weight": {64, 3840}, "x_embedder.weight": {3840, 3072}})},
		{"WAN21_T2V", shapes(map[string][]int64{"head.modulation": {1}, "head.head.weight": {64, 5120}, "patch_embedding.weight": {5120, 16, 1, 2, 2}})},
		{"WAN21_I2V", shapes(map[string][]int64{"head.modulation": {1}, "head.head.weight": {64, 5120}, "patch_embedding.weight": {5120, 36, 1, 2, 2}, "img_emb.proj.0.bias": {1}})},
		{"WAN21_FunControl2V", shapes(map[string][]int64{"head.modulation": {1}, "head.head.weight": {64, 5120}, "patch_embedding.weight": {5120, 48, 1, 2, 2}, "img_emb.proj.0.bias": {1}})},
		{"WAN22_T2V", shapes(map[string][]int64{"head.modulation": {1}, "head.head.weight": {192, 3072}, "patch_embedding.weight": {3072, 48, 1, 2, 2}})},
		{"WAN21_Vace", shapes(map[string][]int64{"head.modulation": {1}, "head.head.weight": {64, 5120}, "patch_embedding.weight": {5120, 16, 1, 2, 2}, "vace_patch_embedding.weight": {1}})},
		{"WAN21_Camera", shapes(map[string][]int64{"head.modulation": {1}, "head.head.weight": {64, 5120}, "patch_embedding.weight": {5120, 32, 1, 2, 2}, "control_adapter.conv.weight": {1}, "img_emb.proj.0.bias": {1}})},
		{"WAN22_Camera", shapes(map[string][]int64{"head.modulation": {1}, "head.head.weight": {64, 5120}, "patch_embedding.weight": {5120, 36, 1, 2, 2}, "control_adapter.conv.weight": {1}})},
		{"WAN22_S2V", shapes(map[string][]int64{"head.modulation": {1}, "head.head.weight": {64, 5120}, "patch_embedding.weight": {5120, 16, 1, 2, 2}, "casual_audio_encoder.encoder.final_linear.weight": {1}})},
		{"WAN21_HuMo", shapes(map[string][]int64{"head.modulation": {1}, "head.head.weight": {64, 5120}, "patch_embedding.weight": {5120, 16, 1, 2, 2}, "audio_proj.audio_proj_glob_1.layer.bias": {1}})},
		{"WAN22_Animate", shapes(map[string][]int64{"head.modulation": {1}, "head.head.weight": {64, 5120}, "patch_embedding.weight": {5120, 36, 1, 2, 2}, "face_adapter.fuser_blocks.0.k_norm.weight": {1}, "img_emb.proj.0.bias": {1}})},
		{"Hunyuan3Dv2", shapes(map[string][]int64{"latent_in.weight": {1}, "double_blocks.0.x.weight": {1}})},
		{"Hunyuan3Dv2mini", wanBlocks(shapes(map[string][]int64{"latent_in.weight": {1}}), "double_blocks.%d.x.weight", 8)},
		{"Hunyuan3Dv2_1", shapes(map[string][]int64{"t_embedder.mlp.2.weight": {1}, "blocks.0.attn1.k_norm.weight": {1}})},
		{"HiDream", shapes(map[string][]int64{"caption_projection.0.linear.weight": {1}})},
		{"CosmosT2IPredict2", shapes(map[string][]int64{"blocks.0.mlp.layer1.weight": {1}, "x_embedder.proj.1.weight": {2048, 68}})},
		{"CosmosI2VPredict2", shapes(map[string][]int64{"blocks.0.mlp.layer1.weight": {1}, "x_embedder.proj.1.weight": {2048, 72}})},
		{"Omnigen2", shapes(map[string][]int64{"time_caption_embed.timestep_embedder.linear_1.bias": {1}})},
		{"QwenImage", shapes(map[string][]int64{"txt_norm.weight": {1}, "img_in.weight": {3072, 64}})},
		{"Kandinsky5Image", shapes(map[string][]int64{"visual_transformer_blocks.0.cross_attention.key_norm.weight": {1}, "visual_embeddings.in_layer.bias": {2560}, "visual_embeddings.in_layer.weight": {2560, 64}})},
		{"Kandinsky5", shapes(map[string][]int64{"visual_transformer_blocks.0.cross_attention.key_norm.weight": {1}, "visual_embeddings.in_layer.bias": {1792}})},
	}
	cases = append(cases, newerClassCases...)
	seen := map[string]bool{}
	for _, c := range cases {
		a, cfg, err := detectModel(c.sd, nil)
		if err != nil {
			t.Errorf("%s: %v", c.want, err)
			continue
		}
		if a.Class != c.want {
			t.Errorf("detected %s (config %s), want %s", a.Class, describeConfig(cfg), c.want)
		}
		seen[c.want] = true
	}
	// Every class in the table is detectable from some key set, except
	// Stable_Zero123 (its required cc_projection keys sit outside the
	// diffusion model: ComfyUI's own re-load finds SD15_instructpix2pix),
	// YuE2 (detect_unet_config has no signature for it) and the classes
	// that are no diffusion model (TestNotDiffusion).
	for _, a := range Architectures {
		byMetadata := a.Class == "WAN21_CausalAR_T2V" || a.Class == "WAN_Animate2" || a.Class == "WAN21_FlowRVS" // TestWanMetadataConfig
		if !seen[a.Class] && a.Class != "Stable_Zero123" && a.Class != "YuE2" && a.NotDiffusion == "" && !byMetadata {
			t.Errorf("no detection case for %s", a.Class)
		}
	}

	// Signatures ComfyUI rejects or no class matches.
	for name, sd := range map[string]StateDict{
		"pixart diffusers": shapes(map[string][]int64{"adaln_single.emb.timestep_embedder.linear_1.bias": {1}, "pos_embed.proj.bias": {1}}),
		"nothing":          shapes(map[string][]int64{"foo.weight": {1}}),
	} {
		if _, _, err := detectModel(sd, nil); err != errNoSignature {
			t.Errorf("%s: %v, want no signature", name, err)
		}
	}
	if _, _, err := detectModel(synthUNet(320, 4, 512, 0, true, false, sd4), nil); err == nil || err == errNoSignature {
		t.Errorf("a UNet with context 512 matches no class, got %v", err)
	}
}

// TestDetectTextEncoders covers detect_te_model and the kind refinements.
func TestDetectTextEncoders(t *testing.T) {
	clip := func(layers int) map[string][]int64 {
		kv := map[string][]int64{}
		for i := 0; i < layers; i++ {
			kv[fmt.Sprintf("text_model.encoder.layers.%d.mlp.fc1.weight", i)] = []int64{1}
		}
		return kv
	}
	t5 := func(dModel int64, vocab int64, umt5 bool) map[string][]int64 {
		kv := map[string][]int64{"encoder.block.23.layer.1.DenseReluDense.wi_1.weight": {1, dModel}, "shared.weight": {vocab, dModel}}
		if umt5 {
			kv["encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"] = []int64{32, 64}
		}
		return kv
	}
	cases := map[string]map[string][]int64{
		TEClipL:      clip(12),
		TEClipH:      clip(24),
		TEClipG:      clip(32),
		TET5XXL:      t5(4096, 32128, false),
		TEUMT5XXL:    t5(4096, 256384, true),
		TEPileT5XL:   t5(2048, 32128, false),
		TEMT5XL:      t5(2048, 250112, false),
		TET5Base:     {"encoder.block.0.layer.0.SelfAttention.k.weight": {768, 768}},
		teUMT5Base:   {"encoder.block.0.layer.0.SelfAttention.k.weight": {768, 768}, "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight": {1}},
		teByT5Small:  {"encoder.block.0.layer.0.SelfAttention.k.weight": {384, 1472}},
		TEGemma2_2B:  {"model.layers.0.post_feedforward_layernorm.weight": {1}},
		teGemma3_4B:  {"model.layers.0.post_feedforward_layernorm.weight": {1}, "model.layers.0.self_attn.q_norm.weight": {1}},
		teGemma3_12B: {"model.layers.0.post_feedforward_layernorm.weight": {1}, "model.layers.47.self_attn.q_norm.weight": {1}},
		teQwen25_3B:  {"model.layers.0.self_attn.k_proj.bias": {256}},
		teQwen25_7B:  {"model.layers.0.self_attn.k_proj.bias": {512}},
		teQwen3_4B:   {"model.layers.0.post_attention_layernorm.weight": {2560}, "model.layers.0.self_attn.q_norm.weight": {1}},
		teQwen3_2B:   {"model.layers.0.post_attention_layernorm.weight": {2048}, "model.layers.0.self_attn.q_norm.weight": {1}},
		teMistral3:   {"model.layers.0.post_attention_layernorm.weight": {5120}},
		TELlama:      {"model.layers.0.post_attention_layernorm.weight": {4096}},
		teQwen3_8B:   {"model.layers.0.post_attention_layernorm.weight": {4096}, "model.layers.0.self_attn.q_norm.weight": {1}},
		teQwen3_06B:  {"model.layers.0.post_attention_layernorm.weight": {1024}, "model.layers.0.self_attn.q_norm.weight": {1}},
		teMinistral3: {"model.layers.0.post_attention_layernorm.weight": {3072}},
		teT5Gemma:    {"model.encoder.layers.0.pre_self_attn_layernorm.weight": {768}},
		teGPTOSS:     {"layers.0.self_attn.sinks": {64}, "layers.0.mlp.experts.gate_up_proj.weight": {1}, "layers.0.self_attn.k_proj.bias": {512}},
		teMiniMaxM3:  {"model.audio_decoder.projection.weight": {1}, "model.layers.0.post_attention_layernorm.weight": {2048}},
		// Qwen3-VL in Hugging Face layout, then in ComfyUI's.
		teQwen3VL4B:  {"model.visual.deepstack_merger_list.0.norm.weight": {1}, "model.visual.merger.linear_fc2.weight": {2560, 4608}},
		teQwen3VL8B:  {"model.visual.deepstack_merger_list.0.norm.weight": {1}, "model.visual.merger.linear_fc2.weight": {4096, 4608}},
		teQwen3VL32B: {"visual.deepstack_merger_list.0.norm.weight": {1}, "model.layers.49.self_attn.q_proj.weight": {1}},
	}
	comfyVL := shapes(map[string][]int64{"visual.deepstack_merger_list.0.norm.weight": {1}, "model.layers.0.post_attention_layernorm.weight": {2560}, "model.layers.0.self_attn.q_norm.weight": {1}})
	if got := detectTEKind(comfyVL); got != teQwen3VL4B {
		t.Errorf("ComfyUI-layout Qwen3-VL 4B detected as %q", got)
	}
	for want, kv := range cases {
		if got := detectTEKind(shapes(kv)); got != want {
			t.Errorf("detected %q, want %q", got, want)
		}
	}
	if got := detectTEKind(shapes(map[string][]int64{"decoder.conv_in.weight": {1}})); got != "" {
		t.Errorf("a VAE detected as %q", got)
	}
}

// TestTEModuleKeys: what ComfyUI's modules do not have is dropped.
func TestTEModuleKeys(t *testing.T) {
	sd := shapes(map[string][]int64{
		"text_model.embeddings.position_ids": {1, 77}, "text_model.final_layer_norm.weight": {1},
		"text_projection.weight": {1}, "vision_model.x": {1}, "visual_projection.weight": {1}, "logit_scale": {},
	})
	got := teModuleKeys(TEClipL, sd)
	if len(got) != 2 || !got.Has("text_model.final_layer_norm.weight") || !got.Has("text_projection.weight") {
		t.Errorf("clip: %v", got.SortedKeys())
	}
	sd = shapes(map[string][]int64{"shared.weight": {1}, "encoder.embed_tokens.weight": {1}, "encoder.block.0.x": {1}, "decoder.block.0.x": {1}, "lm_head.weight": {1}, "scaled_fp8": {0}})
	got = teModuleKeys(TET5XXL, sd)
	if fmt.Sprint(got.SortedKeys()) != "[encoder.block.0.x scaled_fp8 shared.weight]" {
		t.Errorf("t5: %v", got.SortedKeys())
	}
	sd = shapes(map[string][]int64{"model.layers.0.x": {1}, "lm_head.weight": {1}, "visual.blocks.0.x": {1}})
	if got := teModuleKeys(teQwen25_7B, sd); len(got) != 2 || got.Has("lm_head.weight") {
		t.Errorf("qwen25_7b: %v", got.SortedKeys())
	}
	if got := teModuleKeys(teQwen3_4B, sd); len(got) != 1 {
		t.Errorf("qwen3_4b: %v", got.SortedKeys())
	}
}

// wanBlocks adds n numbered keys (format with one %d) to sd.
func wanBlocks(sd StateDict, format string, n int) StateDict {
	for i := 0; i < n; i++ {
		sd[fmt.Sprintf(format, i)] = &TensorSource{DType: safetensors.DTypeF16, Shape: []int64{1}}
	}
	return sd
}

// wanKeys is a Wan 2.1 14B diffusion model's signature keys plus extra.
func wanKeys(in int64, extra ...string) StateDict {
	kv := map[string][]int64{"head.modulation": {1, 2, 5120}, "head.head.weight": {64, 5120}, "patch_embedding.weight": {5120, in, 1, 2, 2}}
	for _, k := range extra {
		kv[k] = []int64{1}
	}
	return shapes(kv)
}

// newerClassCases are the classes of ComfyUI after 0.8.0, each from the
// keys (and shapes) its branch of detect_unet_config tests.
var newerClassCases = []struct {
	want string
	sd   StateDict
}{
	{"StableAudio3", shapes(map[string][]int64{"transformer.rotary_pos_emb.inv_freq": {32}, "transformer.global_cond_embedder.0.weight": {1024, 768}})},
	{"LongCatImage", shapes(map[string][]int64{"double_blocks.0.img_attn.norm.key_norm.scale": {128}, "img_in.weight": {3072, 64}, "txt_in.weight": {3072, 3584}})},
	{"MiniMaxH3", shapes(map[string][]int64{"video_patch_proj.weight": {3072, 96}, "audio_patch_proj.weight": {3072, 32}})},
	{"PiD", shapes(map[string][]int64{"lq_proj.latent_proj.0.weight": {1152, 16, 3, 3}, "lq_proj.pit_head.weight": {1}})},
	{"PixelDiTT2I", shapes(map[string][]int64{"core.pixel_embedder.proj.weight": {16, 3}})},
	{"WAN21_SCAIL2", wanKeys(36, "patch_embedding_mask.weight", "patch_embedding_pose.weight")},
	{"WAN21_SCAIL", wanKeys(36, "patch_embedding_pose.weight")},
	{"WAN22_WanDancer", wanKeys(36, "patch_embedding_global.weight")},
	{"TripoSplat", shapes(map[string][]int64{"cam_out_layer.weight": {1}, "repo_layers.0.final_map.weight": {1}})},
	{"HiDreamO1", shapes(map[string][]int64{"t_embedder1.mlp.0.weight": {1}, "x_embedder.proj1.weight": {1}})},
	{"SenseNovaU15", shapes(map[string][]int64{"fm_modules.vision_model_mot_gen.embeddings.patch_embedding.weight": {1024, 3, 16, 16}, "language_model.model.layers.0.self_attn.q_proj_mot_gen.weight": {4096, 4096}})},
	{"SeedVR2", shapes(map[string][]int64{"blocks.31.mlp.all.proj_in_gate.weight": {1}, "positive_conditioning": {58, 5120}, "negative_conditioning": {64, 5120}})},
	{"SeedVR2", shapes(map[string][]int64{"blocks.35.mlp.vid.proj_out.weight": {3072, 12288}, "positive_conditioning": {58, 5120}, "negative_conditioning": {64, 5120}})},
	{"ACEStep15", shapes(map[string][]int64{"encoder.lyric_encoder.layers.0.input_layernorm.weight": {2048}})},
	{"MiniMaxMusic3", shapes(map[string][]int64{"cond_layer_logits": {1}, "latent_conditioners.0.weight": {1}, "diffusion_transformer.transformer.layers.0.self_attn.to_qkv.weight": {1}})},
	{"Boogu", shapes(map[string][]int64{"double_stream_layers.0.img_instruct_attn.processor.img_to_q.weight": {1}, "time_caption_embed.timestep_embedder.linear_1.bias": {1}})},
	{"MageFlow", shapes(map[string][]int64{"txt_norm.weight": {2560}, "proj_out.weight": {128, 3072}, "img_in.weight": {3072, 128}})},
	{"Lens", shapes(map[string][]int64{"transformer_blocks.0.attn.norm_added_q.weight": {64}, "transformer_blocks.0.img_mlp.w1.weight": {1}, "txt_norm.weight": {2880}, "img_in.weight": {2560, 128}})},
	{"JoyImage", shapes(map[string][]int64{"double_blocks.0.attn.img_attn_qkv.weight": {1}, "double_blocks.0.attn.img_attn_q_norm.weight": {128}, "condition_embedder.time_embedder.linear_1.weight": {1}, "img_in.weight": {3072, 16, 1, 2, 2}})},
	{"Ideogram4", shapes(map[string][]int64{"embed_image_indicator.weight": {1}, "input_proj.weight": {4608, 128}})},
	{"Krea2", shapes(map[string][]int64{"txtfusion.projector.weight": {1}})},
	{"Anima", shapes(map[string][]int64{"blocks.0.mlp.layer1.weight": {1}, "x_embedder.proj.1.weight": {2048, 68}, "llm_adapter.blocks.0.cross_attn.q_proj.weight": {1}})},
	{"ErnieImage", shapes(map[string][]int64{"layers.0.mlp.linear_fc2.weight": {1}})},
	{"CogVideoX_T2V", shapes(map[string][]int64{"blocks.0.norm1.linear.weight": {11520, 512}, "patch_embed.proj.weight": {1920, 16, 2, 2}})},
	{"CogVideoX_I2V", shapes(map[string][]int64{"blocks.0.norm1.linear.weight": {18432, 512}, "patch_embed.proj.weight": {3072, 32, 2, 2}})},
	{"CogVideoX_Inpaint", shapes(map[string][]int64{"blocks.0.norm1.linear.weight": {18432, 512}, "patch_embed.proj.weight": {3072, 384}})},
	{"Trellis2", shapes(map[string][]int64{"img2shape.t_embedder.mlp.0.weight": {1}})},
}

// TestWanMetadataConfig: Wan variants without a signature key of their own
// are named by the file's "config" metadata, merged as model_detection does.
func TestWanMetadataConfig(t *testing.T) {
	for want, config := range map[string]string{
		"WAN21_CausalAR_T2V": `{"transformer": {"causal_ar": true}}`,
		"WAN_Animate2":       `{"transformer": {"model_type": "animate2"}}`,
		"WAN21_FlowRVS":      `{"transformer": {"model_type": "flow_rvs", "num_layers": 40}}`,
		"WAN21_T2V":          `{"vae": {}}`,
	} {
		a, cfg, err := detectModel(wanKeys(16), map[string]string{"config": config})
		if err != nil || a.Class != want {
			t.Errorf("%s: got %v %v (%s)", config, a, err, describeConfig(cfg))
		}
	}
	if _, _, err := detectModel(wanKeys(16), map[string]string{"config": "{not json"}); err == nil {
		t.Error("broken config metadata accepted")
	}
}

// TestNotDiffusion: the classes of ComfyUI's table that are no diffusion
// model are named and refused, never taken for another class.
func TestNotDiffusion(t *testing.T) {
	for name, sd := range map[string]StateDict{
		"SAM 3":            shapes(map[string][]int64{"detector.backbone.vision_backbone.trunk.blocks.0.attn.qkv.weight": {1}, "detector.transformer.decoder.query_embed.weight": {1}}),
		"SAM 3.1":          shapes(map[string][]int64{"detector.backbone.vision_backbone.trunk.blocks.0.attn.qkv.weight": {1}, "detector.transformer.decoder.query_embed.weight": {1}, "detector.backbone.vision_backbone.propagation_convs.0.conv_1x1.weight": {1}}),
		"RT-DETR v4":       shapes(map[string][]int64{"encoder.pan_blocks.1.cv4.conv.weight": {256}}),
		"Depth Anything 3": shapes(map[string][]int64{"backbone.embeddings.patch_embeddings.projection.weight": {1024, 3, 14, 14}}),
	} {
		_, _, err := detectModel(sd, nil)
		if err == nil || !strings.Contains(err.Error(), name+",") || !strings.Contains(err.Error(), "not a diffusion model ComfyUI can save as a checkpoint") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Depth Anything 3 of an unknown width: None, as in ComfyUI.
	if _, _, err := detectModel(shapes(map[string][]int64{"backbone.embeddings.patch_embeddings.projection.weight": {999, 3, 14, 14}}), nil); err != errNoSignature {
		t.Errorf("unknown DA3 width: %v", err)
	}
}

// TestFluxNVFP4: an NVFP4 img_in stores half its width; detection doubles
// it as is_nvfp4_layer does, so a packed FLUX.1 Fill is FluxInpaint.
func TestFluxNVFP4(t *testing.T) {
	fill := func() StateDict {
		return shapes(map[string][]int64{"double_blocks.0.img_attn.norm.key_norm.scale": {128}, "img_in.weight": {3072, 192}, "guidance_in.in_layer.weight": {1}})
	}
	for prefix, want := range map[string]string{"": "FluxInpaint", "model.diffusion_model.": "FluxInpaint", "other.": "Flux"} {
		meta := map[string]string{QuantizationMetadataKey: `{"format_version": "1.0", "layers": {"` + prefix + `img_in": {"format": "nvfp4"}}}`}
		a, _, err := detectModel(fill(), meta)
		if err != nil || a.Class != want {
			t.Errorf("prefix %q: %v %v, want %s", prefix, a, err, want)
		}
	}
	if a, _, _ := detectModel(fill(), nil); a == nil || a.Class != "Flux" {
		t.Errorf("unquantized 192-wide img_in: %v", a)
	}
	for _, bad := range []string{`{`, `{"layers": 3}`, `{"layers": {"img_in": null}}`, `{"layers": {"img_in": {"format": 1}}}`} {
		if _, _, err := detectModel(fill(), map[string]string{QuantizationMetadataKey: bad}); err == nil || !strings.Contains(err.Error(), QuantizationMetadataKey) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// TestArchitectureTable: one entry per class of ComfyUI's models list.
func TestArchitectureTable(t *testing.T) {
	if len(Architectures) != 103 {
		t.Errorf("%d classes, want 103", len(Architectures))
	}
	seen := map[string]bool{}
	for _, a := range Architectures {
		if seen[a.Class] {
			t.Errorf("%s twice", a.Class)
		}
		seen[a.Class] = true
		if a.Name == "" {
			t.Errorf("%s has no title", a.Class)
		}
	}
}
