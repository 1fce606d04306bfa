package comfy

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Diffusion-model families: the signature tests of detect_unet_config
// (comfy/model_detection.py:37-771), in ComfyUI's order. Each yields a
// config whose items the Arch entries match against.
const (
	familyMMDiT        = "mmdit"
	familyCascade      = "stable_cascade"
	familyStableAudio  = "stable_audio"
	familyAuraFlow     = "auraflow"
	familyHunyuanDiT   = "hunyuan_dit"
	familyHunyuanVideo = "hunyuan_video"
	familyFlux         = "flux"
	familyMochi        = "mochi"
	FamilyLTXV         = "ltxv"
	familyACE          = "ace"
	familyPixArt       = "pixart"
	familyCosmos1      = "cosmos"
	familyLumina2      = "lumina2"
	familyWan          = "wan"
	familyHunyuan3D    = "hunyuan3d"
	familyHunyuan3D21  = "hunyuan3d2_1"
	familyHiDream      = "hidream"
	familyCosmos2      = "cosmos_predict2"
	familyOmnigen2     = "omnigen2"
	familyQwenImage    = "qwen_image"
	familyKandinsky5   = "kandinsky5"
	FamilyUNet         = "unet"
)

// unetConfig is the detected configuration: the family plus the items the
// class criteria compare (ints, bools, strings, nil for None; lists are
// comma-joined strings).
type unetConfig map[string]any

// modelFamily is one row of ComfyUI's signature table.
type modelFamily struct {
	Name      string
	Signature func(sd StateDict) bool
	Derive    func(sd StateDict) unetConfig
}

func hasAll(keys ...string) func(sd StateDict) bool {
	return func(sd StateDict) bool {
		for _, k := range keys {
			if !sd.Has(k) {
				return false
			}
		}
		return true
	}
}

func noConfig(sd StateDict) unetConfig { return unetConfig{} }

// normSuffix accepts the BFL ".scale" names and the ".weight" names newer
// ComfyUI writes for the same RMSNorm parameters (Appendix B).
func hasNorm(sd StateDict, base string) bool {
	return sd.Has(base+".scale") || sd.Has(base+".weight")
}

// modelFamilies is the signature table of detect_unet_config, in order.
var modelFamilies = []modelFamily{
	{familyMMDiT, hasAll("joint_blocks.0.context_block.attn.qkv.weight"), func(sd StateDict) unetConfig {
		return unetConfig{"in_channels": int(sd.dim("x_embedder.proj.weight", 1)), "depth": int(sd.dim("x_embedder.proj.weight", 0) / 64)}
	}},
	{familyCascade, hasAll("clf.1.weight"), func(sd StateDict) unetConfig {
		switch {
		case sd.Has("clip_txt_mapper.weight"):
			return unetConfig{"stable_cascade_stage": "c"}
		case sd.Has("clip_mapper.weight"):
			return unetConfig{"stable_cascade_stage": "b"}
		}
		return unetConfig{}
	}},
	{familyStableAudio, hasAll("transformer.rotary_pos_emb.inv_freq"), noConfig},
	{familyAuraFlow, hasAll("double_layers.0.attn.w1q.weight"), func(sd StateDict) unetConfig {
		return unetConfig{"cond_seq_dim": int(sd.dim("cond_seq_linear.weight", 1))}
	}},
	{familyHunyuanDiT, hasAll("mlp_t5.0.weight"), func(sd StateDict) unetConfig {
		if sd.dim("extra_embedder.0.weight", 1) == 3968 {
			return unetConfig{"image_model": "hydit1"}
		}
		return unetConfig{"image_model": "hydit"}
	}},
	{familyHunyuanVideo, hasAll("txt_in.individual_token_refiner.blocks.0.norm1.weight"), func(sd StateDict) unetConfig {
		s := sd.shape("img_in.proj.weight")
		patch := ""
		if len(s) > 2 {
			patch = joinInts(s[2:])
		}
		return unetConfig{
			"in_channels": int(sd.dim("img_in.proj.weight", 1)),
			"patch_size":  patch,
			"vec_in":      sd.Has("vector_in.in_layer.weight"),
			"vision_in":   sd.Has("vision_in.proj.0.weight"),
		}
	}},
	{familyFlux, func(sd StateDict) bool {
		return hasNorm(sd, "double_blocks.0.img_attn.norm.key_norm") &&
			(sd.Has("img_in.weight") || hasNorm(sd, "distilled_guidance_layer.norms.0"))
	}, func(sd StateDict) unetConfig {
		patch := int64(2)
		model := "flux"
		switch {
		case sd.Has("double_stream_modulation_img.lin.weight"):
			model, patch = "flux2", 1
		case sd.hasPrefix("distilled_guidance_layer."):
			model = "chroma"
			if sd.hasPrefix("nerf_blocks.0.norm.") {
				model = "chroma_radiance"
			}
		}
		cfg := unetConfig{"image_model": model, "guidance_embed": sd.Has("guidance_in.in_layer.weight")}
		if in := sd.dim("img_in.weight", 1); in > 0 {
			cfg["in_channels"] = int(in / (patch * patch))
		}
		return cfg
	}},
	{familyMochi, hasAll("t5_yproj.weight"), noConfig},
	// PixArt in diffusers layout: detect_unet_config returns None and the
	// diffusers conversion takes over (model_detection.py:302).
	{"", hasAll("adaln_single.emb.timestep_embedder.linear_1.bias", "pos_embed.proj.bias"), nil},
	{FamilyLTXV, hasAll("adaln_single.emb.timestep_embedder.linear_1.bias"), func(sd StateDict) unetConfig {
		if sd.Has("audio_adaln_single.linear.weight") {
			return unetConfig{"image_model": "ltxav"}
		}
		return unetConfig{"image_model": "ltxv"}
	}},
	{familyACE, hasAll("genre_embedder.weight"), noConfig},
	{familyPixArt, hasAll("t_block.1.weight"), func(sd StateDict) unetConfig {
		if sd.Has("ar_embedder.mlp.0.weight") {
			return unetConfig{"pixart_variant": "alpha"}
		}
		return unetConfig{"pixart_variant": "sigma"}
	}},
	{familyCosmos1, hasAll("blocks.block0.blocks.0.block.attn.to_q.0.weight"), func(sd StateDict) unetConfig {
		return unetConfig{"in_channels": int(sd.dim("x_embedder.proj.1.weight", 1)/4 - 1)}
	}},
	{familyLumina2, hasAll("cap_embedder.1.weight"), func(sd StateDict) unetConfig {
		return unetConfig{"dim": int(sd.dim("cap_embedder.1.weight", 0))}
	}},
	{familyWan, hasAll("head.modulation"), func(sd StateDict) unetConfig {
		cfg := unetConfig{
			"out_dim": int(sd.dim("head.head.weight", 0) / 4),
			"in_dim":  int(sd.dim("patch_embedding.weight", 1)),
		}
		switch {
		case sd.Has("vace_patch_embedding.weight"):
			cfg["model_type"] = "vace"
		case sd.Has("control_adapter.conv.weight"):
			if sd.Has("img_emb.proj.0.bias") {
				cfg["model_type"] = "camera"
			} else {
				cfg["model_type"] = "camera_2.2"
			}
		case sd.hasPrefix("casual_audio_encoder."):
			cfg["model_type"] = "s2v"
		case sd.hasPrefix("audio_proj."):
			cfg["model_type"] = "humo"
		case sd.hasPrefix("face_adapter."):
			cfg["model_type"] = "animate"
		case sd.Has("img_emb.proj.0.bias"):
			cfg["model_type"] = "i2v"
		default:
			cfg["model_type"] = "t2v"
		}
		return cfg
	}},
	{familyHunyuan3D, hasAll("latent_in.weight"), func(sd StateDict) unetConfig {
		return unetConfig{"image_model": "hunyuan3d2"}
	}},
	{familyHunyuan3D21, hasAll("t_embedder.mlp.2.weight"), noConfig},
	{familyHiDream, hasAll("caption_projection.0.linear.weight"), noConfig},
	{familyCosmos2, hasAll("blocks.0.mlp.layer1.weight"), func(sd StateDict) unetConfig {
		return unetConfig{"in_channels": int(sd.dim("x_embedder.proj.1.weight", 1)/4 - 1)}
	}},
	{familyOmnigen2, hasAll("time_caption_embed.timestep_embedder.linear_1.bias"), noConfig},
	{familyQwenImage, hasAll("txt_norm.weight"), func(sd StateDict) unetConfig {
		return unetConfig{"in_channels": int(sd.dim("img_in.weight", 1))}
	}},
	{familyKandinsky5, hasAll("visual_transformer_blocks.0.cross_attention.key_norm.weight"), func(sd StateDict) unetConfig {
		return unetConfig{"image": sd.dim("visual_embeddings.in_layer.bias", 0) == 2560}
	}},
	{FamilyUNet, hasAll("input_blocks.0.0.weight"), deriveUNetConfig},
}

// detectUnetConfig runs the signature table over sd (keys relative to the
// diffusion prefix). ok is false when no family matches.
func detectUnetConfig(sd StateDict) (family string, cfg unetConfig, ok bool) {
	for _, f := range modelFamilies {
		if f.Signature(sd) {
			if f.Name == "" {
				return "", nil, false
			}
			return f.Name, f.Derive(sd), true
		}
	}
	return "", nil, false
}

// matchArch is model_config_from_unet_config: the first class of the
// family whose criteria all equal the detected config and whose required
// keys exist.
func matchArch(sd StateDict, family string, cfg unetConfig) *Arch {
	for _, a := range Architectures {
		if a.Family != family {
			continue
		}
		if !configMatches(cfg, a.Config) {
			continue
		}
		ok := true
		for _, k := range a.RequiredKeys {
			if !sd.Has(k) {
				ok = false
			}
		}
		if ok {
			return a
		}
	}
	return nil
}

func configMatches(cfg unetConfig, want map[string]any) bool {
	for k, v := range want {
		got, ok := cfg[k]
		if !ok || !reflect.DeepEqual(got, v) {
			return false
		}
	}
	return true
}

// detectModel detects the class of a diffusion model in native ComfyUI
// names (no prefix).
func detectModel(sd StateDict) (*Arch, unetConfig, error) {
	family, cfg, ok := detectUnetConfig(sd)
	if !ok {
		return nil, nil, errNoSignature
	}
	a := matchArch(sd, family, cfg)
	if a == nil {
		return nil, cfg, fmt.Errorf("a %s diffusion model with an unsupported configuration %s", family, describeConfig(cfg))
	}
	return a, cfg, nil
}

var errNoSignature = fmt.Errorf("no diffusion-model signature key")

func describeConfig(cfg unetConfig) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, cfg[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(s, ",")
}

// deriveUNetConfig is the UNet branch of detect_unet_config
// (model_detection.py:647-771), reduced to the items class criteria use.
func deriveUNetConfig(sd StateDict) unetConfig {
	cfg := unetConfig{}
	if sd.Has("label_emb.0.0.weight") {
		cfg["adm_in_channels"] = int(sd.dim("label_emb.0.0.weight", 1))
	} else {
		cfg["adm_in_channels"] = nil
	}
	modelChannels := sd.dim("input_blocks.0.0.weight", 0)
	cfg["model_channels"] = int(modelChannels)
	cfg["in_channels"] = int(sd.dim("input_blocks.0.0.weight", 1))
	cfg["out_channels"] = 4
	if sd.Has("out.2.weight") {
		cfg["out_channels"] = int(sd.dim("out.2.weight", 0))
	}

	var transformerDepth []int64
	var contextDim any
	useLinear := false
	video := false
	inputBlocks := sd.countBlocks("input_blocks.%d.")
	for count := 0; count < inputBlocks; count++ {
		prefix := fmt.Sprintf("input_blocks.%d.", count)
		if !sd.hasPrefix(prefix) {
			break
		}
		if sd.Has(prefix + "0.op.weight") {
			continue
		}
		if sd.Has(prefix + "0.in_layers.0.weight") {
			depth, ctx, linear, temporal, found := transformerDepthAt(sd, prefix)
			transformerDepth = append(transformerDepth, depth)
			if found && contextDim == nil {
				contextDim, useLinear, video = int(ctx), linear, temporal
			}
		}
	}
	cfg["transformer_depth"] = joinInts(transformerDepth)
	cfg["context_dim"] = contextDim
	cfg["use_linear_in_transformer"] = useLinear
	cfg["use_temporal_attention"] = video
	cfg["use_temporal_resblock"] = video
	return cfg
}

// transformerDepthAt is calculate_transformer_depth for one block prefix.
func transformerDepthAt(sd StateDict, prefix string) (depth int64, contextDim int64, linear, temporal, found bool) {
	tp := prefix + "1.transformer_blocks."
	if !sd.hasPrefix(tp) {
		return 0, 0, false, false, false
	}
	depth = int64(sd.countBlocks(tp + "%d"))
	contextDim = sd.dim(tp+"0.attn2.to_k.weight", 1)
	linear = len(sd.shape(prefix+"1.proj_in.weight")) == 2
	temporal = sd.Has(prefix+"1.time_stack.0.attn1.to_q.weight") || sd.Has(prefix+"1.time_mix_blocks.0.attn1.to_q.weight")
	return depth, contextDim, linear, temporal, true
}
