package comfy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Diffusion-model families: the signature tests of detect_unet_config
// (comfy/model_detection.py at a9fc7512), in ComfyUI's order. Each yields a
// config whose items the Arch entries match against (BASE.matches).
const (
	familyMiniMaxMusic3  = "minimax_music3"
	familyMMDiT          = "mmdit"
	familyCascade        = "stable_cascade"
	familyTrellis2       = "trellis2"
	familyStableAudio    = "stable_audio"
	familyAuraFlow       = "auraflow"
	familyHunyuanDiT     = "hunyuan_dit"
	familyHunyuanVideo   = "hunyuan_video"
	familyFlux           = "flux"
	familyMochi          = "mochi"
	familyMiniMaxH3      = "minimax_h3"
	FamilyLTXV           = "ltxv"
	familyACE            = "ace"
	familyPixArt         = "pixart"
	familyCosmos1        = "cosmos"
	familyPiD            = "pid"
	familyPixelDiT       = "pixeldit"
	familyLumina2        = "lumina2"
	familyCogVideoX      = "cogvideox"
	familySeedVR2        = "seedvr2"
	familyWan            = "wan"
	familyHunyuan3D      = "hunyuan3d"
	familyHunyuan3D21    = "hunyuan3d2_1"
	familyTripoSplat     = "triposplat"
	familyHiDreamO1      = "hidream_o1"
	familySenseNova      = "sensenova_u15"
	familyHiDream        = "hidream"
	familyCosmos2        = "cosmos_predict2"
	familyBoogu          = "boogu"
	familyOmnigen2       = "omnigen2"
	familyLens           = "lens"
	familyMageFlow       = "mage_flow"
	familyQwenImage      = "qwen_image"
	familyIdeogram4      = "ideogram4"
	familyKrea2          = "krea2"
	familyKandinsky5     = "kandinsky5"
	familyACE15          = "ace1.5"
	familyRTDETR         = "rt_detr_v4"
	familyDepthAnything3 = "depth_anything3"
	familyErnie          = "ernie"
	familySAM3           = "sam3"
	familyJoyImage       = "joyimage"
	FamilyUNet           = "unet"
	// familyYuE2 has no row in modelFamilies: detect_unet_config (a9fc7512)
	// has no YuE2 signature.
	familyYuE2 = "yue2"
)

// unetConfig is the detected configuration: the family plus the items the
// class criteria compare (ints, bools, strings, nil for None; lists are
// comma-joined strings).
type unetConfig map[string]any

// modelFamily is one row of ComfyUI's signature table: plain data and
// functions without captured state, so the table is laid out at compile
// time. The branch's config comes from Derive, else Config, else Fixed;
// with none of them (or a nil result) it is detect_unet_config's None.
type modelFamily struct {
	Name string
	// Keys are the signature: the family matches when all are present.
	Keys []string
	// Test, when set, is the signature instead (shapes, alternatives).
	Test func(sd StateDict) bool
	// Fixed is a branch's one constant config item.
	Fixed ConfigItem
	// Config derives the config from the keys; it cannot fail.
	Config func(sd StateDict) unetConfig
	// Derive reads the file's metadata too, and may fail.
	Derive func(sd StateDict, meta map[string]string) (unetConfig, error)
	// MetadataConfig merges the "transformer" object of the file's
	// "config" metadata into the derived config (mergeMetadataConfig).
	MetadataConfig bool
}

// matches is the family's signature test.
func (f *modelFamily) matches(sd StateDict) bool {
	if f.Test != nil {
		return f.Test(sd)
	}
	for _, k := range f.Keys {
		if !sd.Has(k) {
			return false
		}
	}
	return true
}

// config is the family's branch of detect_unet_config; nil is None.
func (f *modelFamily) config(sd StateDict, meta map[string]string) (unetConfig, error) {
	var cfg unetConfig
	switch {
	case f.Derive != nil:
		var err error
		if cfg, err = f.Derive(sd, meta); err != nil {
			return nil, err
		}
	case f.Config != nil:
		cfg = f.Config(sd)
	case f.Fixed.Key != "":
		cfg = unetConfig{f.Fixed.Key: f.Fixed.Value}
	}
	if cfg == nil || !f.MetadataConfig {
		return cfg, nil
	}
	return mergeMetadataConfig(cfg, meta)
}

// hasNorm is any_suffix_in(…, ["weight", "scale"]): the BFL ".scale" names
// and the ".weight" names newer ComfyUI writes for the same RMSNorm
// parameters.
func hasNorm(sd StateDict, base string) bool {
	return sd.Has(base+".scale") || sd.Has(base+".weight")
}

// optDim is a dimension or None when the key is absent.
func optDim(sd StateDict, key string, i int) any {
	if !sd.Has(key) {
		return nil
	}
	return int(sd.dim(key, i))
}

// modelFamilies is the signature table of detect_unet_config, in order.
var modelFamilies = []modelFamily{
	{Name: familyMiniMaxMusic3, Keys: []string{"cond_layer_logits", "latent_conditioners.0.weight", "diffusion_transformer.transformer.layers.0.self_attn.to_qkv.weight"}, Fixed: ConfigItem{"audio_model", "minimax_music3"}},
	{Name: familyMMDiT, Keys: []string{"joint_blocks.0.context_block.attn.qkv.weight"}, Config: func(sd StateDict) unetConfig {
		return unetConfig{"in_channels": int(sd.dim("x_embedder.proj.weight", 1)), "depth": int(sd.dim("x_embedder.proj.weight", 0) / 64), "pos_embed_scaling_factor": nil}
	}},
	{Name: familyCascade, Keys: []string{"clf.1.weight"}, Config: func(sd StateDict) unetConfig {
		switch {
		case sd.Has("clip_txt_mapper.weight"):
			return unetConfig{"stable_cascade_stage": "c"}
		case sd.Has("clip_mapper.weight"):
			return unetConfig{"stable_cascade_stage": "b"}
		}
		return unetConfig{}
	}},
	{Name: familyTrellis2, Test: func(sd StateDict) bool {
		return sd.Has("img2shape.t_embedder.mlp.0.weight") || sd.Has("shape2txt.t_embedder.mlp.0.weight")
	}, Derive: func(sd StateDict, meta map[string]string) (unetConfig, error) {
		res := 64
		if meta["is_512"] != "" {
			res = 32
		}
		return unetConfig{"image_model": "trellis2", "resolution": res}, nil
	}},
	{Name: familyStableAudio, Keys: []string{"transformer.rotary_pos_emb.inv_freq"}, Config: func(sd StateDict) unetConfig {
		cfg := unetConfig{"audio_model": "dit1.0"}
		if sd.Has("transformer.global_cond_embedder.0.weight") {
			cfg["global_cond_shared_embed"] = true
		}
		return cfg
	}},
	{Name: familyAuraFlow, Keys: []string{"double_layers.0.attn.w1q.weight"}, Config: func(sd StateDict) unetConfig {
		return unetConfig{"cond_seq_dim": int(sd.dim("cond_seq_linear.weight", 1))}
	}},
	{Name: familyHunyuanDiT, Keys: []string{"mlp_t5.0.weight"}, Config: func(sd StateDict) unetConfig {
		if sd.dim("extra_embedder.0.weight", 1) == 3968 {
			return unetConfig{"image_model": "hydit1"}
		}
		return unetConfig{"image_model": "hydit"}
	}},
	{Name: familyHunyuanVideo, Keys: []string{"txt_in.individual_token_refiner.blocks.0.norm1.weight"}, Config: func(sd StateDict) unetConfig {
		s := sd.shape("img_in.proj.weight")
		patch := ""
		if len(s) > 2 {
			patch = joinInts(s[2:])
		}
		var vec any
		if sd.hasPrefix("vector_in.") {
			vec = 768
		}
		return unetConfig{
			"image_model":   "hunyuan_video",
			"in_channels":   int(sd.dim("img_in.proj.weight", 1)),
			"patch_size":    patch,
			"vec_in_dim":    vec,
			"vision_in_dim": optDim(sd, "vision_in.proj.0.weight", 0),
		}
	}},
	{Name: familyFlux, Test: func(sd StateDict) bool {
		return hasNorm(sd, "double_blocks.0.img_attn.norm.key_norm") &&
			(sd.Has("img_in.weight") || hasNorm(sd, "distilled_guidance_layer.norms.0"))
	}, Derive: deriveFlux},
	{Name: familyMochi, Keys: []string{"t5_yproj.weight"}, Fixed: ConfigItem{"image_model", "mochi_preview"}},
	// PixArt in diffusers layout: detect_unet_config returns None and the
	// diffusers conversion takes over.
	{Keys: []string{"adaln_single.emb.timestep_embedder.linear_1.bias", "pos_embed.proj.bias"}},
	{Name: familyMiniMaxH3, Keys: []string{"video_patch_proj.weight", "audio_patch_proj.weight"}, Fixed: ConfigItem{"image_model", "minimax_h3"}, MetadataConfig: true},
	{Name: FamilyLTXV, Keys: []string{"adaln_single.emb.timestep_embedder.linear_1.bias"}, MetadataConfig: true, Config: func(sd StateDict) unetConfig {
		if sd.Has("audio_adaln_single.linear.weight") {
			return unetConfig{"image_model": "ltxav"}
		}
		return unetConfig{"image_model": "ltxv"}
	}},
	{Name: familyACE, Keys: []string{"genre_embedder.weight"}, Fixed: ConfigItem{"audio_model", "ace"}},
	{Name: familyPixArt, Keys: []string{"t_block.1.weight"}, Config: func(sd StateDict) unetConfig {
		if sd.Has("ar_embedder.mlp.0.weight") {
			return unetConfig{"image_model": "pixart_alpha"}
		}
		return unetConfig{"image_model": "pixart_sigma"}
	}},
	{Name: familyCosmos1, Keys: []string{"blocks.block0.blocks.0.block.attn.to_q.0.weight"}, Config: func(sd StateDict) unetConfig {
		return unetConfig{"image_model": "cosmos", "in_channels": int(sd.dim("x_embedder.proj.1.weight", 1)/4 - 1)}
	}},
	// PiD before PixelDiT; a PiD v1.5 head over a latent ComfyUI has no
	// variant for is an error there (ValueError).
	{Name: familyPiD, Keys: []string{"lq_proj.latent_proj.0.weight"}, Derive: func(sd StateDict, _ map[string]string) (unetConfig, error) {
		if sd.Has("lq_proj.pit_head.weight") {
			if in := sd.dim("lq_proj.latent_proj.0.weight", 1); in != 16 && in != 32 {
				return nil, fmt.Errorf("a PiD v1.5 diffusion model whose latent projection takes %d channels, which ComfyUI does not support (16 or 32)", in)
			}
		}
		return unetConfig{"image_model": "pid"}, nil
	}},
	{Name: familyPixelDiT, Keys: []string{"core.pixel_embedder.proj.weight"}, Fixed: ConfigItem{"image_model", "pixeldit_t2i"}},
	{Name: familyLumina2, Keys: []string{"cap_embedder.1.weight", "noise_refiner.0.attention.k_norm.weight"}, Config: func(sd StateDict) unetConfig {
		dim := int(sd.dim("cap_embedder.1.weight", 0))
		cfg := unetConfig{"image_model": "lumina2", "dim": dim}
		if dim == 3840 && sd.Has("dec_net.cond_embed.weight") {
			cfg["image_model"] = "zimage_pixel"
		}
		return cfg
	}},
	{Name: familyCogVideoX, Keys: []string{"blocks.0.norm1.linear.weight"}, Config: func(sd StateDict) unetConfig {
		cfg := unetConfig{"image_model": "cogvideox", "num_attention_heads": int(sd.dim("blocks.0.norm1.linear.weight", 0) / 6 / 64)}
		switch s := sd.shape("patch_embed.proj.weight"); len(s) {
		case 4: // Conv2d: CogVideoX 1.0
			cfg["in_channels"] = int(s[1])
		case 2: // Linear over 2×2×2 patches: CogVideoX 1.5
			cfg["in_channels"] = int(s[1] / 8)
		}
		return cfg
	}},
	{Name: familySeedVR2, Test: func(sd StateDict) bool {
		return (sd.Has("blocks.35.mlp.vid.proj_out.weight") && sd.dim("blocks.35.mlp.vid.proj_out.weight", 0) == 3072) ||
			sd.Has("blocks.35.mlp.all.proj_in_gate.weight") || sd.Has("blocks.31.mlp.all.proj_in_gate.weight")
	}, Fixed: ConfigItem{"image_model", "seedvr2"}},
	{Name: familyWan, Keys: []string{"head.modulation"}, Config: deriveWan, MetadataConfig: true},
	{Name: familyHunyuan3D, Keys: []string{"latent_in.weight"}, Config: func(sd StateDict) unetConfig {
		return unetConfig{"image_model": "hunyuan3d2", "depth": sd.countBlocks("double_blocks.%d.")}
	}},
	{Name: familyHunyuan3D21, Keys: []string{"t_embedder.mlp.2.weight", "blocks.0.attn1.k_norm.weight"}, Fixed: ConfigItem{"image_model", "hunyuan3d2_1"}},
	{Name: familyTripoSplat, Keys: []string{"cam_out_layer.weight", "repo_layers.0.final_map.weight"}, Fixed: ConfigItem{"image_model", "triposplat"}},
	{Name: familyHiDreamO1, Keys: []string{"t_embedder1.mlp.0.weight", "x_embedder.proj1.weight"}, Fixed: ConfigItem{"image_model", "hidream_o1"}},
	{Name: familySenseNova, Test: func(sd StateDict) bool {
		v, q := "fm_modules.vision_model_mot_gen.embeddings.patch_embedding.weight", "language_model.model.layers.0.self_attn.q_proj_mot_gen.weight"
		return sd.Has(v) && sd.Has(q) && sd.dim(v, 0) == 1024 && sd.dim(q, 0) == 4096
	}, Fixed: ConfigItem{"image_model", "sensenova_u15"}},
	{Name: familyHiDream, Keys: []string{"caption_projection.0.linear.weight"}, Fixed: ConfigItem{"image_model", "hidream"}},
	{Name: familyCosmos2, Keys: []string{"blocks.0.mlp.layer1.weight"}, Config: func(sd StateDict) unetConfig {
		model := "cosmos_predict2"
		if sd.Has("llm_adapter.blocks.0.cross_attn.q_proj.weight") {
			model = "anima"
		}
		return unetConfig{"image_model": model, "in_channels": int(sd.dim("x_embedder.proj.1.weight", 1)/4 - 1)}
	}},
	{Name: familyBoogu, Keys: []string{"double_stream_layers.0.img_instruct_attn.processor.img_to_q.weight"}, Fixed: ConfigItem{"image_model", "boogu"}},
	{Name: familyOmnigen2, Keys: []string{"time_caption_embed.timestep_embedder.linear_1.bias"}, Fixed: ConfigItem{"image_model", "omnigen2"}},
	{Name: familyLens, Keys: []string{"transformer_blocks.0.attn.norm_added_q.weight", "transformer_blocks.0.img_mlp.w1.weight"}, Fixed: ConfigItem{"image_model", "lens"}},
	// Mage-Flow's txt_norm/proj_out are 2560/128 wide (Qwen-Image's 3584/64).
	{Name: familyMageFlow, Test: func(sd StateDict) bool {
		return sd.Has("txt_norm.weight") && sd.Has("proj_out.weight") && sd.dim("txt_norm.weight", 0) == 2560 && sd.dim("proj_out.weight", 0) == 128
	}, Fixed: ConfigItem{"image_model", "mage_flow"}},
	{Name: familyQwenImage, Keys: []string{"txt_norm.weight"}, Config: func(sd StateDict) unetConfig {
		return unetConfig{"image_model": "qwen_image", "in_channels": int(sd.dim("img_in.weight", 1))}
	}},
	{Name: familyIdeogram4, Keys: []string{"embed_image_indicator.weight"}, Fixed: ConfigItem{"image_model", "ideogram4"}},
	{Name: familyKrea2, Keys: []string{"txtfusion.projector.weight"}, Fixed: ConfigItem{"image_model", "krea2"}},
	{Name: familyKandinsky5, Keys: []string{"visual_transformer_blocks.0.cross_attention.key_norm.weight"}, Config: func(sd StateDict) unetConfig {
		return unetConfig{
			"image_model":      "kandinsky5",
			"model_dim":        int(sd.dim("visual_embeddings.in_layer.bias", 0)),
			"visual_embed_dim": int(sd.dim("visual_embeddings.in_layer.weight", 1)),
		}
	}},
	{Name: familyACE15, Keys: []string{"encoder.lyric_encoder.layers.0.input_layernorm.weight"}, Fixed: ConfigItem{"audio_model", "ace1.5"}},
	{Name: familyRTDETR, Keys: []string{"encoder.pan_blocks.1.cv4.conv.weight"}, Fixed: ConfigItem{"image_model", "RT_DETR_v4"}},
	// Depth Anything 3 with an embedding width of none of ViT-S/B/L/G:
	// detect_unet_config returns None.
	{Name: familyDepthAnything3, Keys: []string{"backbone.embeddings.patch_embeddings.projection.weight"}, Config: func(sd StateDict) unetConfig {
		switch sd.dim("backbone.embeddings.patch_embeddings.projection.weight", 0) {
		case 384, 768, 1024, 1536:
			return unetConfig{"image_model": "DepthAnything3"}
		}
		return nil
	}},
	{Name: familyErnie, Keys: []string{"layers.0.mlp.linear_fc2.weight"}, Fixed: ConfigItem{"image_model", "ernie"}},
	// SAM 3 without its decoder query embedding falls through, as in ComfyUI.
	{Name: familySAM3, Keys: []string{"detector.backbone.vision_backbone.trunk.blocks.0.attn.qkv.weight", "detector.transformer.decoder.query_embed.weight"}, Config: func(sd StateDict) unetConfig {
		if sd.Has("detector.backbone.vision_backbone.propagation_convs.0.conv_1x1.weight") {
			return unetConfig{"image_model": "SAM31"}
		}
		return unetConfig{"image_model": "SAM3"}
	}},
	{Name: familyJoyImage, Test: func(sd StateDict) bool {
		return sd.Has("double_blocks.0.attn.img_attn_qkv.weight") && sd.Has("double_blocks.0.attn.img_attn_q_norm.weight") &&
			sd.Has("condition_embedder.time_embedder.linear_1.weight") && len(sd.shape("img_in.weight")) == 5
	}, Fixed: ConfigItem{"image_model", "joyimage"}},
	{Name: FamilyUNet, Keys: []string{"input_blocks.0.0.weight"}, Config: deriveUNetConfig},
}

// deriveFlux is the Flux/Chroma/Flux.2 branch, with is_nvfp4_layer: an
// NVFP4 layer stores two values a byte, so its packed width is doubled
// before the channel counts are derived.
func deriveFlux(sd StateDict, meta map[string]string) (unetConfig, error) {
	nvfp4 := func(layer string) (bool, error) { return isNVFP4Layer(meta, layer) }
	width := func(key, layer string) (int64, error) {
		w := sd.dim(key, 1)
		packed, err := nvfp4(layer)
		if err != nil {
			return 0, err
		}
		if packed {
			w *= 2
		}
		return w, nil
	}
	model, patch := "flux", int64(2)
	if sd.Has("double_stream_modulation_img.lin.weight") {
		model, patch = "flux2", 1
	}
	cfg := unetConfig{"in_channels": 16, "context_in_dim": 4096}
	if sd.Has("img_in.weight") {
		w, err := width("img_in.weight", "img_in")
		if err != nil {
			return nil, err
		}
		cfg["in_channels"] = int(w / (patch * patch))
	}
	if sd.Has("txt_in.weight") {
		w, err := width("txt_in.weight", "txt_in")
		if err != nil {
			return nil, err
		}
		cfg["context_in_dim"] = int(w)
	}
	cfg["vec_in_dim"] = nil
	if sd.Has("vector_in.in_layer.weight") {
		w, err := width("vector_in.in_layer.weight", "vector_in.in_layer")
		if err != nil {
			return nil, err
		}
		cfg["vec_in_dim"] = int(w)
	}
	if hasNorm(sd, "distilled_guidance_layer.0.norms.0") || hasNorm(sd, "distilled_guidance_layer.norms.0") {
		cfg["image_model"], cfg["in_channels"] = "chroma", 64
		if hasNorm(sd, "nerf_blocks.0.norm") {
			cfg["image_model"], cfg["in_channels"] = "chroma_radiance", 3
		}
		return cfg, nil
	}
	cfg["image_model"] = model
	cfg["guidance_embed"] = sd.Has("guidance_in.in_layer.weight")
	yak := sd.Has("double_blocks.0.img_mlp.gate_proj.weight")
	txtNorm := hasNorm(sd, "txt_norm")
	if (yak && txtNorm) || (cfg["context_in_dim"] == 3584 && cfg["vec_in_dim"] == nil) {
		cfg["txt_ids_dims"] = "1,2" // Ovis, LongCat-Image
	}
	return cfg, nil
}

// isNVFP4Layer is model_detection.is_nvfp4_layer: whether
// _quantization_metadata stores layer as packed NVFP4. Malformed metadata is
// an error, as there, rather than wrong dimensions.
func isNVFP4Layer(meta map[string]string, layer string) (bool, error) {
	qm, ok := meta[QuantizationMetadataKey]
	if !ok {
		return false, nil
	}
	var parsed map[string]json.RawMessage
	if err := json.Unmarshal([]byte(qm), &parsed); err != nil {
		return false, fmt.Errorf("invalid %s metadata: %w", QuantizationMetadataKey, err)
	}
	var layers map[string]json.RawMessage
	if err := json.Unmarshal(parsed["layers"], &layers); err != nil || layers == nil {
		return false, fmt.Errorf("invalid %s metadata: expected an object with a \"layers\" object", QuantizationMetadataKey)
	}
	// Layer names carry the prefix the file stores the model under.
	var raw json.RawMessage
	for _, p := range append([]string{""}, unetPrefixCandidates...) {
		if r, ok := layers[p+layer]; ok {
			raw = r
			break
		}
	}
	if raw == nil {
		return false, nil
	}
	var conf map[string]any
	if err := json.Unmarshal(raw, &conf); err != nil || conf == nil {
		return false, fmt.Errorf("invalid %s metadata: layer %q is not an object", QuantizationMetadataKey, layer)
	}
	format, ok := conf["format"].(string)
	if !ok {
		return false, fmt.Errorf("invalid %s metadata: layer %q has no format", QuantizationMetadataKey, layer)
	}
	return format == "nvfp4", nil
}

func deriveWan(sd StateDict) unetConfig {
	cfg := unetConfig{
		"image_model": "wan2.1",
		"dim":         int(sd.dim("head.modulation", -1)),
		"out_dim":     int(sd.dim("head.head.weight", 0) / 4),
		"in_dim":      int(sd.dim("patch_embedding.weight", 1)),
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
	case sd.Has("casual_audio_encoder.encoder.final_linear.weight"):
		cfg["model_type"] = "s2v"
	case sd.Has("audio_proj.audio_proj_glob_1.layer.bias"):
		cfg["model_type"] = "humo"
	case sd.Has("face_adapter.fuser_blocks.0.k_norm.weight"):
		cfg["model_type"] = "animate"
	case sd.Has("patch_embedding_mask.weight"):
		cfg["model_type"] = "scail2"
	case sd.Has("patch_embedding_pose.weight"):
		cfg["model_type"] = "scail"
	case sd.Has("patch_embedding_global.weight"):
		cfg["model_type"] = "wandancer"
	case sd.Has("img_emb.proj.0.bias"):
		cfg["model_type"] = "i2v"
	default:
		cfg["model_type"] = "t2v"
	}
	return cfg
}

// mergeMetadataConfig merges the "transformer" object of the file's
// "config" metadata over the derived config, as model_detection does for
// Wan, MiniMax-H3 and LTXV (dit_config.update(...)).
func mergeMetadataConfig(cfg unetConfig, meta map[string]string) (unetConfig, error) {
	raw, ok := meta["config"]
	if !ok {
		return cfg, nil
	}
	var c struct {
		Transformer map[string]any `json:"transformer"`
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("the \"config\" metadata is not valid JSON: %w", err)
	}
	for k, v := range c.Transformer {
		cfg[k] = configValue(v)
	}
	return cfg, nil
}

// configValue turns a JSON value into the representation unetConfig uses.
func configValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int(f)
		}
		return f
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(configValue(e))
		}
		return strings.Join(parts, ",")
	}
	return v
}

// detectUnetConfig runs the signature table over sd (keys relative to the
// diffusion prefix). ok is false when no family matches or the family's
// branch returns None.
func detectUnetConfig(sd StateDict, meta map[string]string) (family string, cfg unetConfig, ok bool, err error) {
	for i := range modelFamilies {
		f := &modelFamilies[i]
		if f.matches(sd) {
			cfg, err := f.config(sd, meta)
			if err != nil {
				return f.Name, nil, false, err
			}
			return f.Name, cfg, cfg != nil, nil
		}
	}
	return "", nil, false, nil
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

func configMatches(cfg unetConfig, want []ConfigItem) bool {
	for _, w := range want {
		got, ok := cfg[w.Key]
		if !ok || !reflect.DeepEqual(got, w.Value) {
			return false
		}
	}
	return true
}

// errNotDiffusion is what detecting a class of ComfyUI's table that is no
// diffusion model (SAM 3, RT-DETR, Depth Anything 3) says.
var errNotDiffusion = errors.New("not a diffusion model ComfyUI can save as a checkpoint")

// detectModel detects the class of a diffusion model in native ComfyUI
// names (no prefix); meta is the file's __metadata__.
func detectModel(sd StateDict, meta map[string]string) (*Arch, unetConfig, error) {
	family, cfg, ok, err := detectUnetConfig(sd, meta)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, errNoSignature
	}
	a := matchArch(sd, family, cfg)
	if a == nil {
		return nil, cfg, fmt.Errorf("a %s diffusion model with an unsupported configuration %s", family, describeConfig(cfg))
	}
	if a.NotDiffusion != "" {
		return nil, cfg, fmt.Errorf("%s (ComfyUI class %s), %w", a.NotDiffusion, a.Class, errNotDiffusion)
	}
	return a, cfg, nil
}

var errNoSignature = errors.New("no diffusion-model signature key")

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
