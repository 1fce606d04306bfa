package checkpoint

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Golden header tests for the classes of ComfyUI after 0.8.0: each file is
// built from the key signatures its detection and its text encoder's
// detection test, and the plan must hold exactly the keys ComfyUI's
// CheckpointSave writes for it (prefixes, encoder names, tokenizer blobs,
// pixel-space markers, dropped and split keys, kept metadata).

func tt(name string, dtype safetensors.DType, shape ...int64) testTensor {
	return testTensor{Name: name, DType: dtype, Shape: shape}
}

func bf16(name string, shape ...int64) testTensor { return tt(name, safetensors.DTypeBF16, shape...) }

// Text encoder files in the layouts they are published in.
func qwen25_7bFile(t *testing.T) Input {
	return makeInput(t, "qwen_2.5_vl_7b", []testTensor{
		bf16("model.layers.0.self_attn.k_proj.bias", 512), bf16("model.layers.0.post_attention_layernorm.weight", 3584),
		bf16("model.embed_tokens.weight", 152064, 3584), bf16("visual.blocks.0.attn.qkv.weight", 3840, 1280), bf16("lm_head.weight", 152064, 3584),
	}, nil)
}

func qwen3File(t *testing.T, name string, width int64) Input {
	return makeInput(t, name, []testTensor{
		bf16("model.layers.0.post_attention_layernorm.weight", width), bf16("model.layers.0.self_attn.q_norm.weight", 128),
		bf16("model.embed_tokens.weight", 151936, width),
	}, nil)
}

// qwen3vlHF is a Qwen3-VL text encoder as Hugging Face ships it
// (model.language_model.*, model.visual.*, lm_head).
func qwen3vlHF(t *testing.T, name string, width int64) Input {
	return makeInput(t, name, []testTensor{
		bf16("model.language_model.layers.0.post_attention_layernorm.weight", width),
		bf16("model.language_model.embed_tokens.weight", 151936, width),
		bf16("model.visual.deepstack_merger_list.0.norm.weight", 4608),
		bf16("model.visual.merger.linear_fc2.weight", width, 4608),
		bf16("lm_head.weight", 151936, width),
	}, nil)
}

func gemma2File(t *testing.T) Input {
	return makeInput(t, "gemma_2_2b", []testTensor{
		bf16("model.layers.0.post_feedforward_layernorm.weight", 2304), bf16("model.embed_tokens.weight", 256000, 2304),
		tt("spiece_model", safetensors.DTypeU8, 4241003),
	}, nil)
}

func kl32VAE(t *testing.T) Input {
	return makeInput(t, "flux2_vae", []testTensor{bf16("decoder.conv_in.weight", 512, 32, 3, 3), bf16("encoder.conv_in.weight", 128, 3, 3, 3)}, nil)
}

func wanVAE(t *testing.T) Input {
	return makeInput(t, "wan_2.1_vae", []testTensor{tt("decoder.middle.0.residual.0.gamma", safetensors.DTypeF32, 384, 1, 1, 1), tt("encoder.conv1.weight", safetensors.DTypeF32, 96, 3, 3, 3, 3)}, nil)
}

// newerCase plans one request and checks the architecture and keys.
type newerCase struct {
	name   string
	model  func(t *testing.T) Input
	clips  func(t *testing.T) []Input
	vae    func(t *testing.T) Input
	class  string
	want   []string // keys that must be written
	absent []string // key prefixes or names that must not be
}

func (c newerCase) run(t *testing.T) *Plan {
	t.Helper()
	req := SaveRequest{Model: c.model(t)}
	if c.clips != nil {
		req.Clip = c.clips(t)
	}
	if c.vae != nil {
		req.VAE = c.vae(t)
	}
	p, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != c.class {
		t.Fatalf("architecture %s, want %s", p.Architecture, c.class)
	}
	requireKeys(t, p, c.want...)
	have := tensorsOf(p)
	for _, a := range c.absent {
		for k := range have {
			if k == a || strings.HasSuffix(a, ".") && strings.HasPrefix(k, a) {
				t.Errorf("unexpected %s", k)
			}
		}
	}
	return p
}

func TestNewerClasses(t *testing.T) {
	cases := []newerCase{
		{
			name: "LongCat-Image with Qwen2.5-VL 7B",
			model: func(t *testing.T) Input {
				return makeInput(t, "longcat_image", []testTensor{bf16("double_blocks.0.img_attn.norm.key_norm.scale", 128), bf16("img_in.weight", 3072, 64), bf16("txt_in.weight", 3072, 3584)}, nil)
			},
			clips:  func(t *testing.T) []Input { return []Input{qwen25_7bFile(t)} },
			vae:    func(t *testing.T) Input { return manifestInput(t, "flux_dev", "vae") },
			class:  "LongCatImage",
			want:   []string{"model.diffusion_model.txt_in.weight", "text_encoders.qwen25_7b.transformer.model.layers.0.self_attn.k_proj.bias", "text_encoders.qwen25_7b.transformer.visual.blocks.0.attn.qkv.weight", "text_encoders.qwen25_7b.logit_scale", "vae.decoder.conv_in.weight"},
			absent: []string{"text_encoders.qwen25_7b.transformer.lm_head.weight", "text_encoders.clip_l."},
		},
		{
			name: "Mage-Flow with Qwen3-VL 4B (Hugging Face layout renamed as ComfyUI loads it)",
			model: func(t *testing.T) Input {
				return makeInput(t, "mage_flow", []testTensor{bf16("txt_norm.weight", 2560), bf16("proj_out.weight", 128, 3072), bf16("img_in.weight", 3072, 128)}, nil)
			},
			clips: func(t *testing.T) []Input { return []Input{qwen3vlHF(t, "qwen3_vl_4b", 2560)} },
			vae: func(t *testing.T) Input {
				return makeInput(t, "mage_vae", []testTensor{bf16("student.dconv_encoder.proj_out.weight", 128, 512), bf16("pipeline.blocks.0.w", 8), bf16("pipeline.y_embedder.encoder.conv.weight", 8)}, nil)
			},
			class: "MageFlow",
			want: []string{"text_encoders.qwen3vl_4b.transformer.model.layers.0.post_attention_layernorm.weight", "text_encoders.qwen3vl_4b.transformer.visual.deepstack_merger_list.0.norm.weight",
				"text_encoders.qwen3vl_4b.transformer.model.lm_head.weight", "vae.dconv_encoder.proj_out.weight", "vae.decoder_model.blocks.0.w"},
			absent: []string{"text_encoders.qwen3vl_4b.transformer.model.language_model.", "vae.decoder_model.y_embedder.encoder.", "vae.student."},
		},
		{
			name: "Lens with GPT-OSS 20B and its tokenizer.json",
			model: func(t *testing.T) Input {
				return makeInput(t, "lens", []testTensor{bf16("transformer_blocks.0.attn.norm_added_q.weight", 64), bf16("transformer_blocks.0.img_mlp.w1.weight", 8), bf16("txt_norm.weight", 2880), bf16("img_in.weight", 2560, 128)}, nil)
			},
			clips: func(t *testing.T) []Input {
				return []Input{makeInput(t, "gpt_oss_20b", []testTensor{bf16("layers.0.self_attn.sinks", 64), tt("layers.0.mlp.experts.gate_up_proj.weight", safetensors.DTypeU8, 32, 2880, 90), bf16("layers.0.self_attn.k_proj.bias", 512), bf16("lm_head.weight", 201088, 2880), tt("tokenizer_json", safetensors.DTypeU8, 27868174)}, nil)}
			},
			vae:    kl32VAE,
			class:  "Lens",
			want:   []string{"text_encoders.gpt_oss.transformer.layers.0.self_attn.sinks", "text_encoders.gpt_oss.transformer.layers.0.mlp.experts.gate_up_proj.weight", "text_encoders.gpt_oss.logit_scale", "text_encoders.tokenizer_json"},
			absent: []string{"text_encoders.gpt_oss.transformer.lm_head.weight", "text_encoders.qwen25_7b."},
		},
		{
			name: "Anima with Qwen3 0.6B under BASE's prefixes",
			model: func(t *testing.T) Input {
				return makeInput(t, "anima", []testTensor{bf16("blocks.0.mlp.layer1.weight", 8), bf16("x_embedder.proj.1.weight", 2048, 68), bf16("llm_adapter.blocks.0.cross_attn.q_proj.weight", 1024, 1024)}, nil)
			},
			clips:  func(t *testing.T) []Input { return []Input{qwen3File(t, "qwen_3_06b", 1024)} },
			vae:    wanVAE,
			class:  "Anima",
			want:   []string{"model.diffusion_model.llm_adapter.blocks.0.cross_attn.q_proj.weight", "cond_stage_model.qwen3_06b.transformer.model.layers.0.self_attn.q_norm.weight", "cond_stage_model.qwen3_06b.logit_scale", "first_stage_model.decoder.middle.0.residual.0.gamma"},
			absent: []string{"text_encoders.", "vae.", "cond_stage_model.t5xxl."},
		},
		{
			name: "Boogu with Qwen3-VL 8B",
			model: func(t *testing.T) Input {
				return makeInput(t, "boogu", []testTensor{bf16("double_stream_layers.0.img_instruct_attn.processor.img_to_q.weight", 8), bf16("time_caption_embed.timestep_embedder.linear_1.bias", 8), bf16("x_embedder.weight", 2520, 64)}, nil)
			},
			clips: func(t *testing.T) []Input { return []Input{qwen3vlHF(t, "qwen3_vl_8b", 4096)} },
			vae:   func(t *testing.T) Input { return manifestInput(t, "flux_dev", "vae") },
			class: "Boogu",
			want:  []string{"text_encoders.qwen3vl_8b.transformer.model.layers.0.post_attention_layernorm.weight", "text_encoders.qwen3vl_8b.logit_scale", "vae.decoder.conv_in.weight"},
		},
		{
			name: "JoyImage names its Qwen3-VL 8B qwen3vl",
			model: func(t *testing.T) Input {
				return makeInput(t, "joyimage", []testTensor{bf16("double_blocks.0.attn.img_attn_qkv.weight", 9216, 3072), bf16("double_blocks.0.attn.img_attn_q_norm.weight", 128), bf16("condition_embedder.time_embedder.linear_1.weight", 8), bf16("img_in.weight", 3072, 16, 1, 2, 2)}, nil)
			},
			clips: func(t *testing.T) []Input { return []Input{qwen3vlHF(t, "qwen3_vl_8b", 4096)} },
			vae:   wanVAE,
			class: "JoyImage",
			want:  []string{"text_encoders.qwen3vl.transformer.model.layers.0.post_attention_layernorm.weight", "text_encoders.qwen3vl.logit_scale"},
		},
		{
			name: "MiniMax-H3 with Qwen3-VL 32B, config metadata kept",
			model: func(t *testing.T) Input {
				return makeInput(t, "minimax_h3", []testTensor{bf16("video_patch_proj.weight", 3072, 96), bf16("audio_patch_proj.weight", 3072, 32)}, map[string]string{"config": `{"transformer": {"num_layers": 40}}`})
			},
			clips: func(t *testing.T) []Input {
				return []Input{makeInput(t, "qwen3_vl_32b_50l", []testTensor{bf16("visual.deepstack_merger_list.0.norm.weight", 4608), bf16("model.layers.49.self_attn.q_proj.weight", 8192, 5120), bf16("model.layers.0.post_attention_layernorm.weight", 5120)}, nil)}
			},
			vae: func(t *testing.T) Input {
				return makeInput(t, "minimax_h3_video_vae", []testTensor{bf16("decoder.transformer_blocks.0.scale1", 8), bf16("encoder.down.5.block.0.conv1.weight", 8)}, nil)
			},
			class: "MiniMaxH3",
			want:  []string{"text_encoders.qwen3vl_32b.transformer.visual.deepstack_merger_list.0.norm.weight", "text_encoders.qwen3vl_32b.transformer.model.layers.49.self_attn.q_proj.weight", "vae.decoder.transformer_blocks.0.scale1"},
		},
		{
			name: "ERNIE-Image with Ministral 3 3B and its tekken tokenizer",
			model: func(t *testing.T) Input {
				return makeInput(t, "ernie_image", []testTensor{bf16("layers.0.mlp.linear_fc2.weight", 8)}, nil)
			},
			clips: func(t *testing.T) []Input {
				return []Input{makeInput(t, "ministral_3_3b", []testTensor{bf16("model.layers.0.post_attention_layernorm.weight", 3072), bf16("model.embed_tokens.weight", 131072, 3072), tt("tekken_model", safetensors.DTypeU8, 14894206)}, nil)}
			},
			vae:   kl32VAE,
			class: "ErnieImage",
			want:  []string{"text_encoders.ministral3_3b.transformer.model.embed_tokens.weight", "text_encoders.tekken_model", "vae.decoder.conv_in.weight"},
		},
		{
			name: "CogVideoX: the CLIP is T5XXLModel itself, v-prediction",
			model: func(t *testing.T) Input {
				return makeInput(t, "cogvideox_5b", []testTensor{bf16("blocks.0.norm1.linear.weight", 18432, 512), bf16("patch_embed.proj.weight", 3072, 16, 2, 2)}, nil)
			},
			clips: func(t *testing.T) []Input { return []Input{manifestInput(t, "flux_dev", "t5xxl")} },
			vae: func(t *testing.T) Input {
				return makeInput(t, "cogvideox_vae", []testTensor{bf16("decoder.conv_in.conv.weight", 512, 16, 3, 3, 3), bf16("decoder.mid_block.resnets.0.norm1.norm_layer.weight", 512), bf16("encoder.conv_out.conv.weight", 32, 512, 3, 3, 3)}, nil)
			},
			class:  "CogVideoX_T2V",
			want:   []string{"text_encoders.transformer.shared.weight", "text_encoders.logit_scale", "vae.decoder.conv_in.conv.weight", "v_pred"},
			absent: []string{"text_encoders.t5xxl."},
		},
		{
			name: "ACE-Step 1.5 with the Qwen3 0.6B embedder and the Qwen3 2B language model",
			model: func(t *testing.T) Input {
				return makeInput(t, "ace_step_1.5", []testTensor{bf16("encoder.lyric_encoder.layers.0.input_layernorm.weight", 2048), bf16("decoder.layers.0.w", 8)}, nil)
			},
			clips: func(t *testing.T) []Input {
				return []Input{qwen3File(t, "qwen_0.6b_ace15", 1024), qwen3File(t, "qwen_1.7b_ace15", 2048)}
			},
			vae: func(t *testing.T) Input {
				return makeInput(t, "ace_15_vae", []testTensor{bf16("decoder.layers.1.layers.0.beta", 8)}, nil)
			},
			class: "ACEStep15",
			want:  []string{"text_encoders.qwen3_06b.transformer.model.embed_tokens.weight", "text_encoders.qwen3_2b.transformer.model.embed_tokens.weight"},
		},
		{
			name: "Wan Animate 2 named by config metadata, which is kept",
			model: func(t *testing.T) Input {
				return makeInput(t, "wan_animate2", []testTensor{tt("head.modulation", safetensors.DTypeF32, 1, 2, 5120), bf16("head.head.weight", 64, 5120), bf16("patch_embedding.weight", 5120, 16, 1, 2, 2)}, map[string]string{"config": `{"transformer": {"model_type": "animate2"}}`})
			},
			clips: func(t *testing.T) []Input { return []Input{umt5Input(t, true)} },
			vae:   wanVAE,
			class: "WAN_Animate2",
			want:  []string{"text_encoders.umt5xxl.transformer.shared.weight", "text_encoders.spiece_model"},
		},
		{
			name: "Trellis 2: no text encoder, is_512 kept",
			model: func(t *testing.T) Input {
				return makeInput(t, "trellis2_512", []testTensor{bf16("img2shape.t_embedder.mlp.0.weight", 1024, 256), bf16("structure_model.blocks.0.w", 8)}, map[string]string{"is_512": "true"})
			},
			vae: func(t *testing.T) Input {
				return makeInput(t, "trellis2_shape_vae", []testTensor{bf16("shape_dec.blocks.1.16.to_subdiv.weight", 8)}, nil)
			},
			class:  "Trellis2",
			want:   []string{"model.diffusion_model.img2shape.t_embedder.mlp.0.weight", "vae.shape_dec.blocks.1.16.to_subdiv.weight"},
			absent: []string{"text_encoders.", "cond_stage_model."},
		},
	}
	for _, c := range cases {
		t.Run(c.class, func(t *testing.T) { c.run(t) })
	}
}

// TestNewerClassMetadata: the metadata the loader reads is kept per class.
func TestNewerClassMetadata(t *testing.T) {
	wan := makeInput(t, "wan_animate2", []testTensor{tt("head.modulation", safetensors.DTypeF32, 1, 2, 5120), bf16("head.head.weight", 64, 5120), bf16("patch_embedding.weight", 5120, 16, 1, 2, 2)}, map[string]string{"config": `{"transformer": {"model_type": "animate2"}}`})
	p, err := PlanCheckpoint(SaveRequest{Model: wan, Clip: []Input{umt5Input(t, true)}, VAE: wanVAE(t)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Metadata["config"] != `{"transformer": {"model_type": "animate2"}}` {
		t.Errorf("Wan config metadata: %v", p.Metadata)
	}
	tr := makeInput(t, "trellis2_512", []testTensor{bf16("img2shape.t_embedder.mlp.0.weight", 1024, 256)}, map[string]string{"is_512": "true"})
	p, err = PlanCheckpoint(SaveRequest{Model: tr, VAE: makeInput(t, "shape_vae", []testTensor{bf16("shape_dec.blocks.1.16.to_subdiv.weight", 8)}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Metadata["is_512"] != "true" {
		t.Errorf("Trellis2 is_512: %v", p.Metadata)
	}
}

// TestWrongClassRefusals: the encoders of the class a model used to be
// mistaken for are refused with the class's own needs named.
func TestWrongClassRefusals(t *testing.T) {
	longcat := makeInput(t, "longcat_image", []testTensor{bf16("double_blocks.0.img_attn.norm.key_norm.scale", 128), bf16("img_in.weight", 3072, 64), bf16("txt_in.weight", 3072, 3584)}, nil)
	_, err := PlanCheckpoint(SaveRequest{Model: longcat, Clip: []Input{manifestInput(t, "flux_dev", "clip_l"), manifestInput(t, "flux_dev", "t5xxl")}, VAE: manifestInput(t, "flux_dev", "vae")})
	if !errors.Is(err, ErrArchMismatch) || !strings.Contains(err.Error(), "LongCatImage") || !strings.Contains(err.Error(), "Qwen2.5-VL 7B") {
		t.Errorf("LongCat with CLIP-L: %v", err)
	}
	anima := makeInput(t, "anima", []testTensor{bf16("blocks.0.mlp.layer1.weight", 8), bf16("x_embedder.proj.1.weight", 2048, 68), bf16("llm_adapter.blocks.0.cross_attn.q_proj.weight", 1024, 1024)}, nil)
	_, err = PlanCheckpoint(SaveRequest{Model: anima, Clip: []Input{manifestInput(t, "flux_dev", "t5xxl")}, VAE: wanVAE(t)})
	if !errors.Is(err, ErrArchMismatch) || !strings.Contains(err.Error(), "Qwen3 0.6B") {
		t.Errorf("Anima with T5-XXL: %v", err)
	}
	ace := makeInput(t, "ace_step_1.5", []testTensor{bf16("encoder.lyric_encoder.layers.0.input_layernorm.weight", 2048)}, nil)
	_, err = PlanCheckpoint(SaveRequest{Model: ace, Clip: []Input{qwen3File(t, "qwen_0.6b_ace15", 1024)}, VAE: makeInput(t, "v", []testTensor{bf16("decoder.layers.1.layers.0.beta", 8)}, nil)})
	if !errors.Is(err, ErrMissingComponent) || !strings.Contains(err.Error(), "Qwen3 2B (qwen3_2b) or Qwen3 4B (qwen3_4b)") {
		t.Errorf("ACE-Step 1.5 without its language model: %v", err)
	}
	sam := makeInput(t, "sam3", []testTensor{bf16("detector.backbone.vision_backbone.trunk.blocks.0.attn.qkv.weight", 3072, 1024), bf16("detector.transformer.decoder.query_embed.weight", 200, 256), bf16("tracker.maskmem_tpos_enc", 7, 1, 1, 64)}, nil)
	_, err = PlanCheckpoint(SaveRequest{Model: sam})
	if !errors.Is(err, ErrUnknownContent) || !strings.Contains(err.Error(), "sam3 holds SAM 3, a segmentation model (ComfyUI class SAM3), not a diffusion model ComfyUI can save as a checkpoint") {
		t.Errorf("SAM 3: %v", err)
	}
}

// TestPixelSpaceModels: no VAE is asked for; the checkpoint holds what
// ComfyUI's save writes, the PixelspaceConversionVAE's pixel_space_vae
// (F32 scalar 1.0) under the class's VAE prefix, and for the
// tokenizer-only classes no text encoder at all.
func TestPixelSpaceModels(t *testing.T) {
	cases := []newerCase{
		{
			name: "Chroma Radiance",
			model: func(t *testing.T) Input {
				return makeInput(t, "chroma_radiance", []testTensor{bf16("double_blocks.0.img_attn.norm.key_norm.scale", 128), bf16("distilled_guidance_layer.norms.0.scale", 5120), bf16("nerf_blocks.0.norm.scale", 64), bf16("img_in_patch.weight", 3072, 3, 16, 16)}, nil)
			},
			clips:  func(t *testing.T) []Input { return []Input{manifestInput(t, "flux_dev", "t5xxl")} },
			class:  "ChromaRadiance",
			want:   []string{"first_stage_model.pixel_space_vae", "cond_stage_model.t5xxl.transformer.shared.weight"},
			absent: []string{"vae."},
		},
		{
			name: "Z-Image pixel-space",
			model: func(t *testing.T) Input {
				return makeInput(t, "zeta", []testTensor{bf16("cap_embedder.1.weight", 3840, 2560), bf16("noise_refiner.0.attention.k_norm.weight", 128), bf16("dec_net.cond_embed.weight", 64, 3840), bf16("x_embedder.weight", 3840, 3072)}, nil)
			},
			clips: func(t *testing.T) []Input { return []Input{qwen3File(t, "qwen_3_4b", 2560)} },
			class: "ZImagePixelSpace",
			want:  []string{"vae.pixel_space_vae", "text_encoders.qwen3_4b.transformer.model.embed_tokens.weight"},
		},
		{
			name: "PixelDiT",
			model: func(t *testing.T) Input {
				return makeInput(t, "pixeldit", []testTensor{bf16("core.pixel_embedder.proj.weight", 16, 3)}, nil)
			},
			clips: func(t *testing.T) []Input { return []Input{gemma2File(t)} },
			class: "PixelDiTT2I",
			want:  []string{"vae.pixel_space_vae", "model.diffusion_model.core.pixel_embedder.proj.weight", "text_encoders.gemma2_2b.transformer.model.embed_tokens.weight", "text_encoders.spiece_model"},
		},
		{
			name: "PiD",
			model: func(t *testing.T) Input {
				return makeInput(t, "pid", []testTensor{bf16("lq_proj.latent_proj.0.weight", 1152, 16, 3, 3)}, nil)
			},
			clips: func(t *testing.T) []Input { return []Input{gemma2File(t)} },
			class: "PiD",
			want:  []string{"vae.pixel_space_vae", "text_encoders.gemma2_2b.logit_scale"},
		},
		{
			name: "HiDream-O1: tokenizer-only TE, deepstack mergers dropped",
			model: func(t *testing.T) Input {
				return makeInput(t, "hidream_o1", []testTensor{bf16("t_embedder1.mlp.0.weight", 4096, 256), bf16("x_embedder.proj1.weight", 4096, 3072), bf16("visual.deepstack_merger_list.0.norm.weight", 4608), bf16("visual.blocks.0.w", 8)}, nil)
			},
			class:  "HiDreamO1",
			want:   []string{"vae.pixel_space_vae", "model.diffusion_model.visual.blocks.0.w"},
			absent: []string{"model.diffusion_model.visual.deepstack_merger_list.0.norm.weight", "text_encoders."},
		},
		{
			name: "SenseNova U1.5: tokenizer-only TE, lm_head dropped",
			model: func(t *testing.T) Input {
				return makeInput(t, "sensenova_u15", []testTensor{bf16("fm_modules.vision_model_mot_gen.embeddings.patch_embedding.weight", 1024, 3, 16, 16), bf16("language_model.model.layers.0.self_attn.q_proj_mot_gen.weight", 4096, 4096), bf16("language_model.lm_head.weight", 151936, 4096)}, nil)
			},
			class:  "SenseNovaU15",
			want:   []string{"vae.pixel_space_vae", "model.diffusion_model.language_model.model.layers.0.self_attn.q_proj_mot_gen.weight"},
			absent: []string{"model.diffusion_model.language_model.lm_head.weight", "text_encoders."},
		},
	}
	for _, c := range cases {
		t.Run(c.class, func(t *testing.T) {
			p := c.run(t)
			for _, x := range p.Tensors {
				if strings.HasSuffix(x.Name, comfy.PixelSpaceVAEKey) && (x.DType != safetensors.DTypeF32 || len(x.Shape) != 0 || x.End-x.Begin != 4) {
					t.Errorf("%s: %s %v", x.Name, x.DType, x.Shape)
				}
			}
		})
	}
	// A real VAE for a pixel-space model is refused; ComfyUI's own
	// pixel_space_vae file is accepted.
	zeta := makeInput(t, "zeta", []testTensor{bf16("cap_embedder.1.weight", 3840, 2560), bf16("noise_refiner.0.attention.k_norm.weight", 128), bf16("dec_net.cond_embed.weight", 64, 3840), bf16("x_embedder.weight", 3840, 3072)}, nil)
	_, err := PlanCheckpoint(SaveRequest{Model: zeta, Clip: []Input{qwen3File(t, "qwen_3_4b", 2560)}, VAE: manifestInput(t, "flux_dev", "vae")})
	if !errors.Is(err, ErrArchMismatch) || !strings.Contains(err.Error(), "has no VAE") {
		t.Errorf("Z-Image pixel-space with a VAE: %v", err)
	}
	marker := makeInput(t, "pixel_space_vae", []testTensor{{Name: "pixel_space_vae", DType: safetensors.DTypeF32, Shape: []int64{}, Data: f32le(1)}}, nil)
	if _, err := PlanCheckpoint(SaveRequest{Model: zeta, Clip: []Input{qwen3File(t, "qwen_3_4b", 2560)}, VAE: marker}); err != nil {
		t.Errorf("pixel_space_vae file: %v", err)
	}
	hd := makeInput(t, "hidream_o1", []testTensor{bf16("t_embedder1.mlp.0.weight", 4096, 256), bf16("x_embedder.proj1.weight", 4096, 3072)}, nil)
	_, err = PlanCheckpoint(SaveRequest{Model: hd, Clip: []Input{qwen3File(t, "qwen_3_8b", 4096)}})
	if !errors.Is(err, ErrArchMismatch) || !strings.Contains(err.Error(), "only a tokenizer") {
		t.Errorf("HiDream-O1 with a text encoder: %v", err)
	}
	// Inspect: the page and the ComfyUI tab say "no VAE" from these fields.
	r, err := Inspect(zeta)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requires == nil || !r.Requires.NoVAE || r.Requires.Title != "Z-Image pixel-space" || fmt.Sprint(r.Missing) != "[clip]" {
		t.Errorf("report: missing %v, requires %+v", r.Missing, r.Requires)
	}
	if err := CheckSlot(&Report{File: "ae.safetensors", Components: []Component{{Slot: SlotVAE, Kind: "kl16", Detail: comfy.DisplayVAE("kl16")}}}, SlotVAE, r); !errors.Is(err, ErrArchMismatch) || !strings.Contains(err.Error(), "has no VAE") {
		t.Errorf("CheckSlot VAE for a pixel-space model: %v", err)
	}
}

// TestUnetSplits: fused in_proj weights are written as ComfyUI holds them,
// q, k, v as row ranges of the source (Stable Cascade, WanDancer).
func TestUnetSplits(t *testing.T) {
	cascade := makeInput(t, "stage_c", []testTensor{
		bf16("clf.1.weight", 8), bf16("clip_txt_mapper.weight", 2048, 1280),
		bf16("down_blocks.0.2.attention.attn.in_proj_weight", 3*2048, 2048), bf16("down_blocks.0.2.attention.attn.in_proj_bias", 3*2048),
	}, nil)
	clipG := manifestInput(t, "sdxl_base", "clip_g")
	vae := makeInput(t, "stage_a", []testTensor{bf16("vquantizer.codebook.weight", 8192, 4)}, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: cascade, Clip: []Input{clipG}, VAE: vae})
	if err != nil {
		t.Fatal(err)
	}
	in := headerOf(t, cascade)
	var src safetensors.Tensor
	for _, x := range in.Tensors {
		if x.Name == "down_blocks.0.2.attention.attn.in_proj_weight" {
			src = x
		}
	}
	base := in.DataStart + src.Begin
	rowBytes := int64(2048 * 2048 * 2)
	for i, n := range []string{"to_q", "to_k", "to_v"} {
		name := "model.diffusion_model.down_blocks.0.2.attention.attn." + n + ".weight"
		x, ok := tensorsOf(p)[name]
		if !ok || fmt.Sprint(x.Shape) != "[2048 2048]" {
			t.Fatalf("%s: %+v", name, x)
		}
		for _, s := range p.Steps {
			if s.Tensor == name && (s.Offset != base+int64(i)*rowBytes || s.Length != rowBytes) {
				t.Errorf("%s reads %d+%d, want %d+%d", name, s.Offset, s.Length, base+int64(i)*rowBytes, rowBytes)
			}
		}
		requireKeys(t, p, "model.diffusion_model.down_blocks.0.2.attention.attn."+n+".bias")
	}
	forbidPrefix(t, p, "model.diffusion_model.down_blocks.0.2.attention.attn.in_proj")

	dancer := makeInput(t, "wandancer", []testTensor{
		tt("head.modulation", safetensors.DTypeF32, 1, 2, 5120), bf16("head.head.weight", 64, 5120), bf16("patch_embedding.weight", 5120, 36, 1, 2, 2), bf16("patch_embedding_global.weight", 5120, 16, 1, 2, 2),
		bf16("music_encoder.layers.0.self_attn.in_proj_weight", 3*512, 512), bf16("blocks.0.self_attn.in_proj_weight", 9, 3),
	}, nil)
	p, err = PlanCheckpoint(SaveRequest{Model: dancer, Clip: []Input{umt5Input(t, true)}, VAE: wanVAE(t)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "WAN22_WanDancer" {
		t.Fatalf("architecture %s", p.Architecture)
	}
	requireKeys(t, p, "model.diffusion_model.music_encoder.layers.0.self_attn.q_proj.weight", "model.diffusion_model.music_encoder.layers.0.self_attn.v_proj.weight",
		"model.diffusion_model.blocks.0.self_attn.in_proj_weight") // only the music encoder is split
}

// TestStableAudio3: model.model. prefix, T5-Gemma with its SentencePiece
// model, the SA3 VAE, seconds_total and the learned padding embedding, the
// all-zero norm betas dropped.
func TestStableAudio3(t *testing.T) {
	ts := []testTensor{
		tt("model.model.transformer.rotary_pos_emb.inv_freq", safetensors.DTypeF32, 32), tt("model.model.transformer.global_cond_embedder.0.weight", safetensors.DTypeF32, 1024, 768),
		tt("model.model.transformer.layers.0.pre_norm.beta", safetensors.DTypeF32, 1024),
		tt("conditioner.conditioners.seconds_total.embedder.embedding.1.weight", safetensors.DTypeF32, 768, 257),
		tt("conditioner.conditioners.prompt.padding_embedding", safetensors.DTypeF32, 768),
		tt("pretransform.model.decoder.layers.3.transformers.0.pre_norm.alpha", safetensors.DTypeF32, 256),
	}
	for i := 0; i < 6; i++ {
		ts = append(ts, tt(fmt.Sprintf("model.model.transformer.layers.%d.w", i), safetensors.DTypeF32, 4))
	}
	ckpt := makeInput(t, "stable_audio_3", ts, nil)
	t5gemma := makeInput(t, "t5gemma_b", []testTensor{bf16("model.encoder.layers.0.pre_self_attn_layernorm.weight", 768), bf16("model.encoder.embed_tokens.weight", 256000, 768), tt("spiece_model", safetensors.DTypeU8, 4241003)}, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: ckpt, Clip: []Input{t5gemma}, VAE: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "StableAudio3" {
		t.Fatalf("architecture %s", p.Architecture)
	}
	requireKeys(t, p, "model.model.transformer.global_cond_embedder.0.weight", "conditioner.conditioners.seconds_total.embedder.embedding.1.weight",
		"conditioner.conditioners.prompt.padding_embedding", "pretransform.model.decoder.layers.3.transformers.0.pre_norm.alpha",
		"text_encoders.t5gemma.transformer.model.encoder.layers.0.pre_self_attn_layernorm.weight", "text_encoders.t5gemma.logit_scale", "text_encoders.spiece_model")
	forbidPrefix(t, p, "model.model.transformer.layers.0.pre_norm.beta", "conditioner.conditioners.seconds_start.")
	// Stable Audio Open's T5-base is not Stable Audio 3's encoder.
	_, err = PlanCheckpoint(SaveRequest{Model: ckpt, Clip: []Input{makeInput(t, "t5_base", []testTensor{bf16("encoder.block.0.layer.0.SelfAttention.k.weight", 768, 768), bf16("shared.weight", 32128, 768)}, nil)}, VAE: ckpt})
	if !errors.Is(err, ErrArchMismatch) || !strings.Contains(err.Error(), "T5-Gemma") {
		t.Errorf("SA3 with T5-base: %v", err)
	}
}

// TestNormScaleNames: a Flux or Chroma model saved by today's ComfyUI
// (RMSNorm ".weight") is written with the ".scale" names every ComfyUI
// version loads; ".scale" sources stay as they are.
func TestNormScaleNames(t *testing.T) {
	flux := makeInput(t, "flux_new_comfy", []testTensor{
		bf16("double_blocks.0.img_attn.norm.key_norm.weight", 128), bf16("double_blocks.0.img_attn.norm.query_norm.weight", 128),
		bf16("img_in.weight", 3072, 64), bf16("guidance_in.in_layer.weight", 256, 256), bf16("final_layer.norm_final.weight", 3072),
	}, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: flux, Clip: []Input{manifestInput(t, "flux_dev", "clip_l"), manifestInput(t, "flux_dev", "t5xxl")}, VAE: manifestInput(t, "flux_dev", "vae")})
	if err != nil {
		t.Fatal(err)
	}
	requireKeys(t, p, "model.diffusion_model.double_blocks.0.img_attn.norm.key_norm.scale", "model.diffusion_model.double_blocks.0.img_attn.norm.query_norm.scale",
		"model.diffusion_model.final_layer.norm_final.weight")
	forbidPrefix(t, p, "model.diffusion_model.double_blocks.0.img_attn.norm.key_norm.weight")

	chroma := makeInput(t, "chroma_new_comfy", []testTensor{
		bf16("double_blocks.0.img_attn.norm.key_norm.weight", 128), bf16("img_in.weight", 3072, 64),
		bf16("distilled_guidance_layer.norms.0.weight", 5120), bf16("distilled_guidance_layer.in_proj.weight", 5120, 64),
	}, nil)
	p, err = PlanCheckpoint(SaveRequest{Model: chroma, Clip: []Input{manifestInput(t, "flux_dev", "t5xxl")}, VAE: manifestInput(t, "flux_dev", "vae")})
	if err != nil {
		t.Fatal(err)
	}
	requireKeys(t, p, "model.diffusion_model.distilled_guidance_layer.norms.0.scale", "model.diffusion_model.double_blocks.0.img_attn.norm.key_norm.scale",
		"model.diffusion_model.distilled_guidance_layer.in_proj.weight")

	both := makeInput(t, "flux_both", []testTensor{
		bf16("double_blocks.0.img_attn.norm.key_norm.weight", 128), bf16("double_blocks.0.img_attn.norm.key_norm.scale", 128), bf16("img_in.weight", 3072, 64),
	}, nil)
	if _, err := PlanCheckpoint(SaveRequest{Model: both, Clip: []Input{manifestInput(t, "flux_dev", "clip_l"), manifestInput(t, "flux_dev", "t5xxl")}, VAE: manifestInput(t, "flux_dev", "vae")}); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("both names: %v", err)
	}
}

// TestCogVideoXCheckpoint: a CogVideoX checkpoint (its T5 at
// text_encoders.transformer.*) gives its parts back and re-plans to itself.
func TestCogVideoXCheckpoint(t *testing.T) {
	ckpt := makeInput(t, "cogvideox_ckpt", []testTensor{
		bf16("model.diffusion_model.blocks.0.norm1.linear.weight", 18432, 512), bf16("model.diffusion_model.patch_embed.proj.weight", 3072, 16, 2, 2),
		bf16("model.diffusion_model.blocks.0.w", 8), bf16("model.diffusion_model.blocks.1.w", 8), bf16("model.diffusion_model.blocks.2.w", 8),
		bf16("model.diffusion_model.blocks.3.w", 8), bf16("model.diffusion_model.blocks.4.w", 8),
		bf16("text_encoders.transformer.encoder.block.23.layer.1.DenseReluDense.wi_1.weight", 10240, 4096), bf16("text_encoders.transformer.shared.weight", 32128, 4096),
		tt("text_encoders.logit_scale", safetensors.DTypeF32),
		bf16("vae.decoder.conv_in.conv.weight", 512, 16, 3, 3, 3), bf16("vae.decoder.mid_block.resnets.0.norm1.norm_layer.weight", 512),
		tt("v_pred", safetensors.DTypeF32, 0),
	}, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "CogVideoX_T2V" {
		t.Fatalf("architecture %s", p.Architecture)
	}
	requireKeys(t, p, "text_encoders.transformer.shared.weight", "text_encoders.logit_scale", "vae.decoder.conv_in.conv.weight", "v_pred")
	if len(p.Tensors) != len(headerOf(t, ckpt).Tensors) {
		t.Errorf("%d tensors, the checkpoint has %d", len(p.Tensors), len(headerOf(t, ckpt).Tensors))
	}
}
