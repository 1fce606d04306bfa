//go:build archsource

package comfy

// The architecture table's source: the one place its entries are written.
// `go generate ./pkg/comfy` (go test -tags archsource -run
// TestArchTableGenerated with CKPTPACK_UPDATE_ARCH_TABLE=1) evaluates it
// and writes arch_table.go, the same entries as plain data, which is what
// every build without the archsource tag compiles; TestArchTableGenerated
// fails when arch_table.go is not what this file produces. See arch.go.

import (
	"maps"
	"slices"
	"strings"
)

var (
	encClipL = EncoderSpec{Kind: "clip_l"}
	encClipG = EncoderSpec{Kind: "clip_g"}
	encT5XXL = EncoderSpec{Kind: "t5xxl"}

	sd15Encoders = []EncoderSpec{encClipL}
	sd20Encoders = []EncoderSpec{{Kind: "clip_h"}}
	sdxlEncoders = []EncoderSpec{encClipL, encClipG}
	fluxEncoders = []EncoderSpec{encClipL, encT5XXL}
	wanEncoders  = []EncoderSpec{{Kind: "umt5xxl", Tokenizer: "spiece_model"}}
	// HunyuanDiT's tokenizer state_dict names its blob mt5xl.spiece_model
	// (comfy/text_encoders/hydit.py:51-52).
	hyditEncoders = []EncoderSpec{{Kind: "hydit_clip"}, {Kind: "mt5xl", Tokenizer: "mt5xl.spiece_model"}}
	sd3Encoders   = []EncoderSpec{
		{Kind: "clip_l", Optional: true}, {Kind: "clip_g", Optional: true}, {Kind: "t5xxl", Optional: true},
	}
)

// unet is the shorthand for the SD-family entries.
func unetArch(class string, cfg map[string]any, te []EncoderSpec, save clipSave, pred PredictionRule, mt ModelType) *Arch {
	a := &Arch{
		Class: class, Family: FamilyUNet, Config: configItems(cfg), UnetPrefix: PrefixDiffusion,
		TEPrefix: prefixCondStage, ClipSave: save, Encoders: te,
		VAEPrefix: prefixFirstStage, VAEKinds: []string{vaeKL4},
		ModelType: mt, Prediction: pred,
	}
	return a
}

// dit is the shorthand for the text_encoders./vae. families.
func ditArch(class, family string, cfg map[string]any, te []EncoderSpec, vae []string, mt ModelType) *Arch {
	a := &Arch{
		Class: class, Family: family, Config: configItems(cfg), UnetPrefix: PrefixDiffusion,
		TEPrefix: prefixTextEncs, Encoders: te, VAEPrefix: prefixVAE, VAEKinds: vae, ModelType: mt,
	}
	if family == familyFlux {
		a.NormScale = NormScaleQK
		if image, _ := cfg["image_model"].(string); strings.HasPrefix(image, "chroma") {
			a.NormScale = NormScaleChroma
		}
	}
	return a
}

func with(a *Arch, f func(a *Arch)) *Arch { f(a); return a }

// none is the unet_config value None.
var none any = nil

var (
	sd15Config = map[string]any{"context_dim": 768, "model_channels": 320, "use_linear_in_transformer": false, "adm_in_channels": none, "use_temporal_attention": false}
	sd20Config = map[string]any{"context_dim": 1024, "model_channels": 320, "use_linear_in_transformer": true, "adm_in_channels": none, "use_temporal_attention": false}
	sdxlConfig = func(depth string) map[string]any {
		return map[string]any{"model_channels": 320, "use_linear_in_transformer": true, "transformer_depth": depth, "context_dim": 2048, "adm_in_channels": 2816, "use_temporal_attention": false}
	}
)

func merge(a map[string]any, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// configItems is cfg as the table holds it: its items sorted by key.
func configItems(cfg map[string]any) []ConfigItem {
	items := make([]ConfigItem, 0, len(cfg))
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		items = append(items, ConfigItem{k, cfg[k]})
	}
	return items
}

// Encoders of the newer classes, named as their CLIP models name them
// (the "<name>.transformer." prefixes their clip_target detects).
var (
	encQwen25_7B = EncoderSpec{Kind: "qwen25_7b"}
	encQwen3_06B = EncoderSpec{Kind: "qwen3_06b"}
	encQwen3_4B  = EncoderSpec{Kind: "qwen3_4b"}
	encQwen3VL4B = EncoderSpec{Kind: "qwen3vl_4b"}
	encQwen3VL8B = EncoderSpec{Kind: "qwen3vl_8b"}
	// PixelDiT/PiD and Lumina 2 keep Gemma 2's SentencePiece model.
	encGemma2_2B = EncoderSpec{Kind: "gemma2_2b", Tokenizer: "spiece_model"}
)

// tokenizerOnlyTE is why HiDream-O1 and SenseNova-U1.5 take no text
// encoder: their TE is a zero-parameter tokenizer wrapper and the language
// model lives inside the diffusion model (its CheckpointSave writes no
// text_encoders.* keys; the loader injects a "_*_te_sentinel" itself).
const tokenizerOnlyTE = "its text encoder is only a tokenizer: the language model is part of the diffusion model"

// Architectures is comfy.supported_models.models (e3c35527) in matching order.
var Architectures = withTitles([]*Arch{
	// LotusD.get_model builds model_base.Lotus(self, device) with
	// BaseModel's default EPS, not SD20's epsilon/v test.
	unetArch("LotusD", map[string]any{"model_channels": 320, "use_linear_in_transformer": true, "use_temporal_attention": false, "adm_in_channels": 4, "in_channels": 4}, sd20Encoders, clipSaveSD20, PredictFixed, ModelEPS),
	with(unetArch("Stable_Zero123", merge(sd15Config, map[string]any{"in_channels": 8}), sd15Encoders, clipSavePrefix, PredictFixed, ModelEPS), func(a *Arch) {
		a.RequiredKeys = []string{"cc_projection.weight", "cc_projection.bias"}
		a.Encoders, a.NoTextEncode = nil, true
	}),
	unetArch("SD15_instructpix2pix", merge(sd15Config, map[string]any{"in_channels": 8}), sd15Encoders, clipSaveSD15, PredictFixed, ModelEPS),
	unetArch("SD15", sd15Config, sd15Encoders, clipSaveSD15, PredictFixed, ModelEPS),
	unetArch("SD20", sd20Config, sd20Encoders, clipSaveSD20, PredictStd, ModelEPS),
	unetArch("SD21UnclipL", merge(sd20Config, map[string]any{"adm_in_channels": 1536}), sd20Encoders, clipSaveSD20, PredictStd, ModelEPS),
	unetArch("SD21UnclipH", merge(sd20Config, map[string]any{"adm_in_channels": 2048}), sd20Encoders, clipSaveSD20, PredictStd, ModelEPS),
	with(unetArch("SDXL_instructpix2pix", merge(sdxlConfig("0,0,2,2,10,10"), map[string]any{"in_channels": 8}), sdxlEncoders, clipSaveSDXL, PredictMarkers, ModelEPS), func(a *Arch) {
		a.ModelSpec = "stable-diffusion-xl-v1-edit"
	}),
	with(unetArch("SDXLRefiner", map[string]any{"model_channels": 384, "use_linear_in_transformer": true, "context_dim": 1280, "adm_in_channels": 2560, "transformer_depth": "0,0,4,4,4,4,0,0", "use_temporal_attention": false}, []EncoderSpec{encClipG}, clipSaveRefiner, PredictFixed, ModelEPS), func(a *Arch) {
		a.ModelSpec = "stable-diffusion-xl-v1-refiner"
	}),
	with(unetArch("SDXL", sdxlConfig("0,0,2,2,10,10"), sdxlEncoders, clipSaveSDXL, PredictMarkers, ModelEPS), func(a *Arch) { a.ModelSpec = modelspecSDXLBase }),
	with(unetArch("SSD1B", sdxlConfig("0,0,2,2,4,4"), sdxlEncoders, clipSaveSDXL, PredictMarkers, ModelEPS), func(a *Arch) { a.ModelSpec = modelspecSDXLBase }),
	with(unetArch("KOALA_700M", sdxlConfig("0,2,5"), sdxlEncoders, clipSaveSDXL, PredictMarkers, ModelEPS), func(a *Arch) { a.ModelSpec = modelspecSDXLBase }),
	with(unetArch("KOALA_1B", sdxlConfig("0,2,6"), sdxlEncoders, clipSaveSDXL, PredictMarkers, ModelEPS), func(a *Arch) { a.ModelSpec = modelspecSDXLBase }),
	with(unetArch("Segmind_Vega", sdxlConfig("0,0,1,1,2,2"), sdxlEncoders, clipSaveSDXL, PredictMarkers, ModelEPS), func(a *Arch) { a.ModelSpec = modelspecSDXLBase }),
	unetArch("SD_X4Upscaler", map[string]any{"context_dim": 1024, "model_channels": 256, "in_channels": 7, "use_linear_in_transformer": true, "adm_in_channels": none, "use_temporal_attention": false}, sd20Encoders, clipSaveSD20, PredictFixed, ModelV),
	with(ditArch("Stable_Cascade_C", familyCascade, map[string]any{"stable_cascade_stage": "c"}, []EncoderSpec{encClipG}, []string{vaeCascade}, modelOther), func(a *Arch) {
		a.TEPrefix, a.UnetSplit = "text_encoder.", SplitCascade
	}),
	with(ditArch("Stable_Cascade_B", familyCascade, map[string]any{"stable_cascade_stage": "b"}, []EncoderSpec{{Kind: "clip_g", Optional: true}}, []string{vaeCascade}, modelOther), func(a *Arch) {
		a.TEPrefix, a.UnetSplit = "text_encoder.", SplitCascade
	}),
	with(unetArch("SV3D_u", map[string]any{"model_channels": 320, "in_channels": 8, "use_linear_in_transformer": true, "transformer_depth": "1,1,1,1,1,1,0,0", "context_dim": 1024, "adm_in_channels": 256, "use_temporal_attention": true, "use_temporal_resblock": true}, nil, clipSavePrefix, PredictFixed, ModelVEDM), func(a *Arch) {
		a.ModelSpec, a.NoTextEncode, a.VAEKinds = "stable-video-diffusion-img2vid-v1", true, nil
		a.VAEPrefix = "conditioner.embedders.1.encoder."
	}),
	with(unetArch("SV3D_p", map[string]any{"model_channels": 320, "in_channels": 8, "use_linear_in_transformer": true, "transformer_depth": "1,1,1,1,1,1,0,0", "context_dim": 1024, "adm_in_channels": 1280, "use_temporal_attention": true, "use_temporal_resblock": true}, nil, clipSavePrefix, PredictFixed, ModelVEDM), func(a *Arch) {
		a.ModelSpec, a.NoTextEncode, a.VAEKinds = "stable-video-diffusion-img2vid-v1", true, nil
		a.VAEPrefix = "conditioner.embedders.1.encoder."
	}),
	with(ditArch("SD3", familyMMDiT, map[string]any{"in_channels": 16, "pos_embed_scaling_factor": none}, sd3Encoders, []string{vaeKL16}, modelFlow), func(a *Arch) {
		a.AnyEncoder, a.VAEPrefix, a.ModelSpec = true, prefixFirstStage, "stable-diffusion-v3-medium"
	}),
	// StableAudio3 subclasses StableAudio: model.model. prefix, its zero
	// norm betas dropped; the wrapper writes seconds_total and the learned
	// prompt padding embedding (model_base.StableAudio3.state_dict_for_saving).
	with(ditArch("StableAudio3", familyStableAudio, map[string]any{"audio_model": "dit1.0", "global_cond_shared_embed": true}, []EncoderSpec{{Kind: "t5gemma", Tokenizer: "spiece_model"}}, []string{vaeAudio3}, modelFlow), func(a *Arch) {
		a.UnetPrefix, a.VAEPrefix = prefixModelModel, "pretransform.model."
		a.ModelExtras = []string{"conditioner.conditioners.seconds_total.", "conditioner.conditioners.prompt.padding_embedding"}
		a.UnetDrop = stableAudioZeroBetas
	}),
	with(ditArch("StableAudio", familyStableAudio, map[string]any{"audio_model": "dit1.0"}, []EncoderSpec{{Kind: "t5base"}}, []string{vaeAudio}, modelOther), func(a *Arch) {
		a.UnetPrefix, a.VAEPrefix = prefixModelModel, "pretransform.model."
		a.ModelExtras = []string{"conditioner.conditioners.seconds_start.", "conditioner.conditioners.seconds_total."}
		a.UnetDrop = stableAudioZeroBetas
	}),
	ditArch("AuraFlow", familyAuraFlow, map[string]any{"cond_seq_dim": 2048}, []EncoderSpec{{Kind: "pile_t5xl"}}, []string{vaeKL4}, modelFlow),
	ditArch("PixArtAlpha", familyPixArt, map[string]any{"image_model": "pixart_alpha"}, []EncoderSpec{encT5XXL}, []string{vaeKL4}, ModelEPS),
	ditArch("PixArtSigma", familyPixArt, map[string]any{"image_model": "pixart_sigma"}, []EncoderSpec{encT5XXL}, []string{vaeKL4}, ModelEPS),
	ditArch("HunyuanDiT", familyHunyuanDiT, map[string]any{"image_model": "hydit"}, hyditEncoders, []string{vaeKL4}, ModelV),
	ditArch("HunyuanDiT1", familyHunyuanDiT, map[string]any{"image_model": "hydit1"}, hyditEncoders, []string{vaeKL4}, ModelV),
	ditArch("FluxInpaint", familyFlux, map[string]any{"image_model": "flux", "guidance_embed": true, "in_channels": 96}, fluxEncoders, []string{vaeKL16}, modelFlux),
	ditArch("Flux", familyFlux, map[string]any{"image_model": "flux", "guidance_embed": true}, fluxEncoders, []string{vaeKL16}, modelFlux),
	// LongCat-Image is a Flux-layout model fed by Qwen2.5-VL 7B: no guidance,
	// no pooled vector, 3584-wide text input, 2-D text ids.
	ditArch("LongCatImage", familyFlux, map[string]any{"image_model": "flux", "guidance_embed": false, "vec_in_dim": none, "context_in_dim": 3584, "txt_ids_dims": "1,2"}, []EncoderSpec{encQwen25_7B}, []string{vaeKL16}, modelFlux),
	ditArch("FluxSchnell", familyFlux, map[string]any{"image_model": "flux", "guidance_embed": false}, fluxEncoders, []string{vaeKL16}, modelFlow),
	ditArch("GenmoMochi", familyMochi, map[string]any{"image_model": "mochi_preview"}, []EncoderSpec{encT5XXL}, nil, modelFlow),
	with(ditArch("LTXV", FamilyLTXV, map[string]any{"image_model": "ltxv"}, []EncoderSpec{encT5XXL}, []string{vaeLTXV}, modelFlux), keepConfig),
	with(ditArch("LTXAV", FamilyLTXV, map[string]any{"image_model": "ltxav"}, []EncoderSpec{{Kind: "gemma3_12b", Tokenizer: "spiece_model"}}, []string{vaeLTXV}, modelFlux), keepConfig),
	with(ditArch("MiniMaxH3", familyMiniMaxH3, map[string]any{"image_model": "minimax_h3"}, []EncoderSpec{{Kind: "qwen3vl_32b"}}, []string{vaeMiniMaxH3V, vaeMiniMaxH3A}, modelFlow), keepConfig),
	with(ditArch("HunyuanVideo15_SR_Distilled", familyHunyuanVideo, map[string]any{"image_model": "hunyuan_video", "vision_in_dim": 1152, "in_channels": 98}, []EncoderSpec{encQwen25_7B, {Kind: "byt5_small", Optional: true}}, []string{vaeHunyuan15}, modelFlow), hunyuanVideoSave),
	with(ditArch("HunyuanVideo15", familyHunyuanVideo, map[string]any{"image_model": "hunyuan_video", "vision_in_dim": 1152}, []EncoderSpec{encQwen25_7B, {Kind: "byt5_small", Optional: true}}, []string{vaeHunyuan15}, modelFlow), hunyuanVideoSave),
	with(ditArch("HunyuanImage21Refiner", familyHunyuanVideo, map[string]any{"image_model": "hunyuan_video", "patch_size": "1,1,1", "vec_in_dim": none}, []EncoderSpec{encQwen25_7B, {Kind: "byt5_small", Optional: true}}, []string{vaeKL64}, modelFlow), func(a *Arch) {
		hunyuanVideoSave(a)
		a.VAEKinds = nil
	}),
	with(ditArch("HunyuanImage21", familyHunyuanVideo, map[string]any{"image_model": "hunyuan_video", "vec_in_dim": none}, []EncoderSpec{encQwen25_7B, {Kind: "byt5_small", Optional: true}}, []string{vaeKL64}, modelFlow), hunyuanVideoSave),
	with(ditArch("HunyuanVideoSkyreelsI2V", familyHunyuanVideo, map[string]any{"image_model": "hunyuan_video", "in_channels": 32}, []EncoderSpec{encClipL, {Kind: "llama"}}, []string{vaeHunyuanVid}, modelFlow), hunyuanVideoSave),
	with(ditArch("HunyuanVideoI2V", familyHunyuanVideo, map[string]any{"image_model": "hunyuan_video", "in_channels": 33}, []EncoderSpec{encClipL, {Kind: "llama"}}, []string{vaeHunyuanVid}, modelFlow), hunyuanVideoSave),
	with(ditArch("HunyuanVideo", familyHunyuanVideo, map[string]any{"image_model": "hunyuan_video"}, []EncoderSpec{encClipL, {Kind: "llama"}}, []string{vaeHunyuanVid}, modelFlow), hunyuanVideoSave),
	ditArch("CosmosT2V", familyCosmos1, map[string]any{"image_model": "cosmos", "in_channels": 16}, []EncoderSpec{encT5XXL}, []string{vaeCosmos}, ModelEDM),
	ditArch("CosmosI2V", familyCosmos1, map[string]any{"image_model": "cosmos", "in_channels": 17}, []EncoderSpec{encT5XXL}, []string{vaeCosmos}, ModelEDM),
	with(ditArch("CosmosT2IPredict2", familyCosmos2, map[string]any{"image_model": "cosmos_predict2", "in_channels": 16}, []EncoderSpec{encT5XXL}, []string{vaeWan21}, modelFlow), classDefaultPrefixes),
	with(ditArch("CosmosI2VPredict2", familyCosmos2, map[string]any{"image_model": "cosmos_predict2", "in_channels": 17}, []EncoderSpec{encT5XXL}, []string{vaeWan21}, modelFlow), classDefaultPrefixes),
	// Z-Image pixel-space ("Zeta"): the ZImage class's Qwen3 4B, no VAE.
	with(ditArch("ZImagePixelSpace", familyLumina2, map[string]any{"image_model": "zimage_pixel"}, []EncoderSpec{encQwen3_4B}, nil, modelFlow), pixelSpace),
	ditArch("ZImage", familyLumina2, map[string]any{"image_model": "lumina2", "dim": 3840}, []EncoderSpec{encQwen3_4B}, []string{vaeKL16}, modelFlow),
	// PiD (pixel diffusion decoder) and PixelDiT: Gemma 2 2B, no VAE.
	with(ditArch("PiD", familyPiD, map[string]any{"image_model": "pid"}, []EncoderSpec{encGemma2_2B}, nil, modelFlow), pixelSpace),
	with(ditArch("PixelDiTT2I", familyPixelDiT, map[string]any{"image_model": "pixeldit_t2i"}, []EncoderSpec{encGemma2_2B}, nil, modelFlow), pixelSpace),
	// Lumina2 takes Gemma 2 2B or, lumina2.te(model_type="gemma3_4b"), Gemma 3 4B.
	with(ditArch("Lumina2", familyLumina2, map[string]any{"image_model": "lumina2"}, []EncoderSpec{
		{Kind: "gemma2_2b", Optional: true, Tokenizer: "spiece_model"}, {Kind: "gemma3_4b", Optional: true, Tokenizer: "spiece_model"},
	}, []string{vaeKL16}, modelFlow), func(a *Arch) { a.AnyEncoder = true }),
	wanArch("WAN22_T2V", map[string]any{"model_type": "t2v", "out_dim": 48}, []string{vaeWan22}),
	// Causal-AR, FlowRVS and Animate 2 have no signature key of their own:
	// the file's "config" metadata names them (model_detection merges its
	// "transformer" object), which is why Wan keeps "config".
	wanArch("WAN21_CausalAR_T2V", map[string]any{"model_type": "t2v", "causal_ar": true}, nil),
	wanArch("WAN21_T2V", map[string]any{"model_type": "t2v"}, nil),
	wanArch("WAN21_I2V", map[string]any{"model_type": "i2v", "in_dim": 36}, nil),
	wanArch("WAN21_FunControl2V", map[string]any{"model_type": "i2v", "in_dim": 48}, nil),
	wanArch("WAN21_Vace", map[string]any{"model_type": "vace"}, nil),
	wanArch("WAN21_Camera", map[string]any{"model_type": "camera", "in_dim": 32}, nil),
	wanArch("WAN22_Camera", map[string]any{"model_type": "camera_2.2", "in_dim": 36}, nil),
	wanArch("WAN22_S2V", map[string]any{"model_type": "s2v"}, nil),
	wanArch("WAN21_HuMo", map[string]any{"model_type": "humo"}, nil),
	wanArch("WAN22_Animate", map[string]any{"model_type": "animate"}, nil),
	wanArch("WAN_Animate2", map[string]any{"model_type": "animate2"}, nil),
	wanArch("WAN21_FlowRVS", map[string]any{"model_type": "flow_rvs"}, nil),
	wanArch("WAN21_SCAIL", map[string]any{"model_type": "scail"}, nil),
	wanArch("WAN21_SCAIL2", map[string]any{"model_type": "scail2"}, nil),
	with(wanArch("WAN22_WanDancer", map[string]any{"model_type": "wandancer", "in_dim": 36}, nil), func(a *Arch) { a.UnetSplit = SplitWanDancer }),
	with(ditArch("Hunyuan3Dv2mini", familyHunyuan3D, map[string]any{"image_model": "hunyuan3d2", "depth": 8}, nil, []string{vaeHunyuan3D}, modelFlow), hunyuan3DSave),
	with(ditArch("Hunyuan3Dv2", familyHunyuan3D, map[string]any{"image_model": "hunyuan3d2"}, nil, []string{vaeHunyuan3D}, modelFlow), hunyuan3DSave),
	with(ditArch("Hunyuan3Dv2_1", familyHunyuan3D21, map[string]any{"image_model": "hunyuan3d2_1"}, nil, []string{vaeHunyuan3D}, modelFlow), hunyuan3DSave),
	with(ditArch("TripoSplat", familyTripoSplat, map[string]any{"image_model": "triposplat"}, nil, []string{vaeTripoSplat}, modelFlow), func(a *Arch) {
		classDefaultPrefixes(a)
		a.NoTextEncode, a.NoTextEncodeWhy = true, "it is conditioned on an image, not on text"
	}),
	with(ditArch("HiDream", familyHiDream, map[string]any{"image_model": "hidream"}, []EncoderSpec{
		{Kind: "clip_l", Optional: true}, {Kind: "clip_g", Optional: true}, {Kind: "t5xxl", Optional: true}, {Kind: "llama", Optional: true},
	}, []string{vaeKL16}, modelFlow), func(a *Arch) { a.AnyEncoder = true }),
	with(ditArch("HiDreamO1", familyHiDreamO1, map[string]any{"image_model": "hidream_o1"}, nil, nil, modelFlow), func(a *Arch) {
		pixelSpace(a)
		a.NoTextEncode, a.NoTextEncodeWhy = true, tokenizerOnlyTE
		a.UnetDrop = []string{"visual.deepstack_merger_list"}
	}),
	with(ditArch("SenseNovaU15", familySenseNova, map[string]any{"image_model": "sensenova_u15"}, nil, nil, modelFlow), func(a *Arch) {
		pixelSpace(a)
		a.NoTextEncode, a.NoTextEncodeWhy = true, tokenizerOnlyTE
		a.UnetDrop = []string{"language_model.lm_head.weight"}
	}),
	with(ditArch("Chroma", familyFlux, map[string]any{"image_model": "chroma"}, []EncoderSpec{encT5XXL}, []string{vaeKL16}, modelFlux), classDefaultPrefixes),
	with(ditArch("SeedVR2", familySeedVR2, map[string]any{"image_model": "seedvr2"}, nil, []string{vaeSeedVR2}, modelFlow), func(a *Arch) {
		a.RequiredKeys = []string{"positive_conditioning", "negative_conditioning"}
		a.NoTextEncode, a.NoTextEncodeWhy = true, "it restores video and carries its own conditioning"
	}),
	with(ditArch("ChromaRadiance", familyFlux, map[string]any{"image_model": "chroma_radiance"}, []EncoderSpec{encT5XXL}, nil, modelFlux), func(a *Arch) {
		classDefaultPrefixes(a)
		pixelSpace(a)
	}),
	ditArch("ACEStep", familyACE, map[string]any{"audio_model": "ace"}, []EncoderSpec{{Kind: "umt5base", Tokenizer: "spiece_model"}}, []string{vaeACE}, modelFlow),
	// ACE-Step 1.5: the Qwen3 0.6B text embedder plus a Qwen3 2B or 4B
	// language model (ACE15TEModel's qwen3_06b and lm_model attributes).
	with(ditArch("ACEStep15", familyACE15, map[string]any{"audio_model": "ace1.5"}, []EncoderSpec{encQwen3_06B, {Kind: "qwen3_2b", Optional: true}, {Kind: "qwen3_4b", Optional: true}}, nil, modelFlow), func(a *Arch) {
		a.OneOf = []string{"qwen3_2b", "qwen3_4b"}
	}),
	// MiniMax Music 3 keeps BASE's prefixes; its TE is the whole merged
	// module with its tokenizer.json.
	with(ditArch("MiniMaxMusic3", familyMiniMaxMusic3, map[string]any{"audio_model": "minimax_music3"}, []EncoderSpec{{Kind: "minimax_music3_te", Layout: EncModule, Tokenizer: "tokenizer_json", TokenizerOptional: true}}, []string{vaeMiniMaxM3}, modelFlow), classDefaultPrefixes),
	// YuE2: ComfyUI's detect_unet_config (a9fc7512) has no YuE2 signature,
	// so no file is detected as it; the entry keeps the table complete.
	ditArch("YuE2", familyYuE2, map[string]any{"audio_model": "yue2"}, []EncoderSpec{{Kind: "yue2_lm", Layout: EncModule, Tokenizer: "yue2_tokenizer_json"}}, nil, modelFlow),
	ditArch("Omnigen2", familyOmnigen2, map[string]any{"image_model": "omnigen2"}, []EncoderSpec{{Kind: "qwen25_3b"}}, []string{vaeKL16}, modelFlow),
	ditArch("Boogu", familyBoogu, map[string]any{"image_model": "boogu"}, []EncoderSpec{encQwen3VL8B}, []string{vaeKL16}, modelFlow),
	ditArch("MageFlow", familyMageFlow, map[string]any{"image_model": "mage_flow"}, []EncoderSpec{encQwen3VL4B}, []string{vaeMage, vaeKL32}, modelFlow),
	ditArch("QwenImage", familyQwenImage, map[string]any{"image_model": "qwen_image"}, []EncoderSpec{encQwen25_7B}, []string{vaeQwenImage}, modelFlow),
	// JoyImage's CLIP names its Qwen3-VL 8B "qwen3vl".
	ditArch("JoyImage", familyJoyImage, map[string]any{"image_model": "joyimage"}, []EncoderSpec{{Kind: "qwen3vl_8b", Name: "qwen3vl"}}, []string{vaeWan21}, modelFlow),
	ditArch("Ideogram4", familyIdeogram4, map[string]any{"image_model": "ideogram4"}, []EncoderSpec{encQwen3VL8B}, []string{vaeKL32}, modelFlow),
	ditArch("Krea2", familyKrea2, map[string]any{"image_model": "krea2"}, []EncoderSpec{encQwen3VL4B}, []string{vaeWan21}, modelFlow),
	with(ditArch("Flux2", familyFlux, map[string]any{"image_model": "flux2"}, []EncoderSpec{
		{Kind: "mistral3_24b", Optional: true, Tokenizer: "tekken_model"}, {Kind: "qwen3_4b", Optional: true}, {Kind: "qwen3_8b", Optional: true},
	}, []string{vaeKL32}, modelFlux), func(a *Arch) { a.AnyEncoder = true }),
	ditArch("Lens", familyLens, map[string]any{"image_model": "lens"}, []EncoderSpec{{Kind: "gpt_oss", Tokenizer: "tokenizer_json", TokenizerOptional: true}}, []string{vaeKL32}, modelFlux),
	ditArch("Kandinsky5Image", familyKandinsky5, map[string]any{"image_model": "kandinsky5", "model_dim": 2560, "visual_embed_dim": 64}, []EncoderSpec{encQwen25_7B, encClipL}, []string{vaeKL16}, modelFlow),
	ditArch("Kandinsky5", familyKandinsky5, map[string]any{"image_model": "kandinsky5"}, []EncoderSpec{encQwen25_7B, encClipL}, []string{vaeHunyuanVid}, modelFlow),
	// Anima: a Cosmos-Predict2 network with an LLM adapter, Qwen3 0.6B,
	// BASE's prefixes (cond_stage_model./first_stage_model.).
	with(ditArch("Anima", familyCosmos2, map[string]any{"image_model": "anima"}, []EncoderSpec{encQwen3_06B}, []string{vaeWan21}, modelFlow), classDefaultPrefixes),
	notDiffusion("RT_DETR_v4", familyRTDETR, "RT-DETR v4, an object detector"),
	ditArch("ErnieImage", familyErnie, map[string]any{"image_model": "ernie"}, []EncoderSpec{{Kind: "ministral3_3b", Tokenizer: "tekken_model"}}, []string{vaeKL32}, modelFlow),
	notDiffusion("SAM3", familySAM3, "SAM 3, a segmentation model"),
	notDiffusion("SAM31", familySAM3, "SAM 3.1, a segmentation model"),
	cogVideoXArch("CogVideoX_Inpaint", map[string]any{"image_model": "cogvideox", "in_channels": 48}),
	cogVideoXArch("CogVideoX_I2V", map[string]any{"image_model": "cogvideox", "in_channels": 32}),
	cogVideoXArch("CogVideoX_T2V", map[string]any{"image_model": "cogvideox"}),
	with(unetArch("SVD_img2vid", map[string]any{"model_channels": 320, "in_channels": 8, "use_linear_in_transformer": true, "transformer_depth": "1,1,1,1,1,1,0,0", "context_dim": 1024, "adm_in_channels": 768, "use_temporal_attention": true, "use_temporal_resblock": true}, nil, clipSavePrefix, PredictFixed, ModelVEDM), func(a *Arch) {
		a.ModelSpec, a.NoTextEncode, a.VAEKinds = "stable-video-diffusion-img2vid-v1", true, []string{vaeSVD, vaeKL4}
	}),
	with(ditArch("Trellis2", familyTrellis2, map[string]any{"image_model": "trellis2"}, nil, []string{vaeTrellis2S, vaeTrellis2T}, modelFlow), func(a *Arch) {
		a.TEPrefix = prefixCondStage
		a.NoTextEncode, a.NoTextEncodeWhy = true, "it is conditioned on an image, not on text"
		a.KeepMetadata = []string{"is_512"}
	}),
	notDiffusion("DepthAnything3", familyDepthAnything3, "Depth Anything 3, a depth estimator"),
})

// archTitles name each ComfyUI class in plain words, for messages, the
// page and the ComfyUI tab.
var archTitles = map[string]string{
	"LotusD": "Lotus depth", "Stable_Zero123": "Stable Zero123",
	"SD15_instructpix2pix": "Stable Diffusion 1.5 InstructPix2Pix", "SD15": "Stable Diffusion 1.5", "SD20": "Stable Diffusion 2.x",
	"SD21UnclipL": "Stable Diffusion 2.1 unCLIP (L)", "SD21UnclipH": "Stable Diffusion 2.1 unCLIP (H)", "SDXL_instructpix2pix": "Stable Diffusion XL InstructPix2Pix",
	"SDXLRefiner": "Stable Diffusion XL refiner", "SDXL": "Stable Diffusion XL", "SSD1B": "SSD-1B (distilled SDXL)", "KOALA_700M": "KOALA 700M (distilled SDXL)",
	"KOALA_1B": "KOALA 1B (distilled SDXL)", "Segmind_Vega": "Segmind Vega (distilled SDXL)", "SD_X4Upscaler": "Stable Diffusion x4 upscaler",
	"Stable_Cascade_C": "Stable Cascade stage C", "Stable_Cascade_B": "Stable Cascade stage B",
	"SV3D_u": "SV3D (u)", "SV3D_p": "SV3D (p)", "SD3": "Stable Diffusion 3", "StableAudio3": "Stable Audio 3",
	"StableAudio": "Stable Audio", "AuraFlow": "AuraFlow", "PixArtAlpha": "PixArt-α", "PixArtSigma": "PixArt-Σ",
	"HunyuanDiT": "Hunyuan-DiT", "HunyuanDiT1": "Hunyuan-DiT 1.0", "FluxInpaint": "FLUX.1 Fill", "Flux": "FLUX.1 [dev]",
	"LongCatImage": "LongCat-Image", "FluxSchnell": "FLUX.1 [schnell]", "GenmoMochi": "Mochi", "LTXV": "LTX-Video",
	"LTXAV": "LTX-Video (audio-video)", "MiniMaxH3": "MiniMax-H3 (audio+video)",
	"HunyuanVideo15_SR_Distilled": "HunyuanVideo 1.5 super-resolution", "HunyuanVideo15": "HunyuanVideo 1.5",
	"HunyuanImage21Refiner": "HunyuanImage 2.1 refiner", "HunyuanImage21": "HunyuanImage 2.1",
	"HunyuanVideoSkyreelsI2V": "SkyReels (HunyuanVideo) image-to-video", "HunyuanVideoI2V": "HunyuanVideo image-to-video",
	"HunyuanVideo": "HunyuanVideo", "CosmosT2V": "Cosmos text-to-video", "CosmosI2V": "Cosmos image-to-video",
	"CosmosT2IPredict2": "Cosmos Predict2 text-to-image", "CosmosI2VPredict2": "Cosmos Predict2 image-to-video",
	"ZImagePixelSpace": "Z-Image pixel-space", "ZImage": "Z-Image", "PiD": "PiD pixel diffusion decoder",
	"PixelDiTT2I": "PixelDiT text-to-image", "Lumina2": "Lumina Image 2.0", "WAN22_T2V": "Wan 2.2",
	"WAN21_CausalAR_T2V": "Wan 2.1 causal autoregressive", "WAN21_T2V": "Wan 2.1 text-to-video",
	"WAN21_I2V": "Wan 2.1 image-to-video", "WAN21_FunControl2V": "Wan 2.1 Fun Control", "WAN21_Vace": "Wan 2.1 VACE",
	"WAN21_Camera": "Wan 2.1 camera control", "WAN22_Camera": "Wan 2.2 camera control", "WAN22_S2V": "Wan 2.2 speech-to-video",
	"WAN21_HuMo": "Wan 2.1 HuMo", "WAN22_Animate": "Wan 2.2 Animate", "WAN_Animate2": "Wan Animate 2",
	"WAN21_FlowRVS": "FlowRVS (Wan 2.1)", "WAN21_SCAIL": "SCAIL (Wan 2.1)", "WAN21_SCAIL2": "SCAIL 2 (Wan 2.1)",
	"WAN22_WanDancer": "WanDancer (Wan 2.2)", "Hunyuan3Dv2mini": "Hunyuan3D 2 mini", "Hunyuan3Dv2": "Hunyuan3D 2.0",
	"Hunyuan3Dv2_1": "Hunyuan3D 2.1", "TripoSplat": "TripoSplat (image to 3D Gaussians)", "HiDream": "HiDream",
	"HiDreamO1": "HiDream-O1 (pixel-space)", "SenseNovaU15": "SenseNova U1.5 (pixel-space)", "Chroma": "Chroma",
	"SeedVR2": "SeedVR2 video restoration", "ChromaRadiance": "Chroma Radiance", "ACEStep": "ACE-Step",
	"ACEStep15": "ACE-Step 1.5", "MiniMaxMusic3": "MiniMax Music 3", "YuE2": "YuE2", "Omnigen2": "OmniGen2",
	"Boogu": "Boogu-Image", "MageFlow": "Mage-Flow", "QwenImage": "Qwen-Image", "JoyImage": "JoyImage",
	"Ideogram4": "Ideogram 4", "Krea2": "Krea 2", "Flux2": "FLUX.2", "Lens": "Microsoft Lens",
	"Kandinsky5Image": "Kandinsky 5 image", "Kandinsky5": "Kandinsky 5 video", "Anima": "Anima",
	"RT_DETR_v4": "RT-DETR v4 (object detector)", "ErnieImage": "ERNIE-Image", "SAM3": "SAM 3 (segmentation)",
	"SAM31": "SAM 3.1 (segmentation)", "CogVideoX_Inpaint": "CogVideoX inpainting", "CogVideoX_I2V": "CogVideoX image-to-video",
	"CogVideoX_T2V": "CogVideoX text-to-video", "SVD_img2vid": "Stable Video Diffusion", "Trellis2": "TRELLIS 2 (image to 3D)",
	"DepthAnything3": "Depth Anything 3 (depth estimator)",
}

// withTitles fills each entry's Name from archTitles.
func withTitles(table []*Arch) []*Arch {
	for _, a := range table {
		a.Name = archTitles[a.Class]
	}
	return table
}

// stableAudioZeroBetas are the all-zero LayerNorm betas
// StableAudio.process_unet_state_dict drops on load.
var stableAudioZeroBetas = []string{".cross_attend_norm.beta", ".ff_norm.beta", ".pre_norm.beta"}

// classDefaultPrefixes is BASE's text_encoder_key_prefix and vae_key_prefix
// (cond_stage_model., first_stage_model.), for classes that do not set them.
func classDefaultPrefixes(a *Arch) {
	a.TEPrefix, a.VAEPrefix = prefixCondStage, prefixFirstStage
}

func keepConfig(a *Arch) { a.KeepMetadata = []string{"config"} }

// pixelSpace marks a model that needs no VAE file.
func pixelSpace(a *Arch) { a.PixelSpace, a.VAEKinds = true, nil }

// hunyuan3DSave is Hunyuan3Dv2's saving: prefix "model." (and BASE's
// TE prefix, unused: clip_target is None).
func hunyuan3DSave(a *Arch) {
	a.UnetPrefix, a.TEPrefix, a.NoTextEncode = "model.", prefixCondStage, true
	if a.Family == familyHunyuan3D {
		a.NormScale = NormScaleQK // 2.1's k_norm.weight is a real LayerNorm weight
	}
	a.NoTextEncodeWhy = "it is conditioned on an image, not on text"
}

// cogVideoXArch: CogVideoX's CLIP is sd3_clip.T5XXLModel itself, so its T5
// sits at text_encoders.transformer.* with text_encoders.logit_scale.
func cogVideoXArch(class string, cfg map[string]any) *Arch {
	return ditArch(class, familyCogVideoX, cfg, []EncoderSpec{{Kind: "t5xxl", Layout: EncSDClip}}, []string{vaeCogVideoX}, ModelV)
}

// notDiffusion is a class of ComfyUI's table that is no diffusion model.
func notDiffusion(class, family, what string) *Arch {
	a := ditArch(class, family, map[string]any{"image_model": class}, nil, nil, modelOther)
	a.NotDiffusion, a.NoTextEncode = what, true
	return a
}

// hunyuanVideoSave is the HunyuanVideo family's saving: prefix
// model.model. (supported_models.py:893-895) after the load-side renames of
// original Tencent names (supported_models.py:877-891).
func hunyuanVideoSave(a *Arch) {
	a.UnetPrefix = prefixModelModel
	a.UnetRenames = hunyuanVideoRenames
	a.NormScale = NormScaleQK
}

var hunyuanVideoRenames = [][2]string{
	{"txt_in.t_embedder.mlp.0.", "txt_in.t_embedder.in_layer."}, {"txt_in.t_embedder.mlp.2.", "txt_in.t_embedder.out_layer."},
	{"txt_in.c_embedder.linear_1.", "txt_in.c_embedder.in_layer."}, {"txt_in.c_embedder.linear_2.", "txt_in.c_embedder.out_layer."},
	{"_mod.linear.", "_mod.lin."}, {"_attn_qkv.", "_attn.qkv."},
	{"mlp.fc1.", "mlp.0."}, {"mlp.fc2.", "mlp.2."},
	{"_attn_q_norm.weight", "_attn.norm.query_norm.scale"}, {"_attn_k_norm.weight", "_attn.norm.key_norm.scale"},
	{".q_norm.weight", ".norm.query_norm.scale"}, {".k_norm.weight", ".norm.key_norm.scale"},
	{"_attn_proj.", "_attn.proj."},
	{".modulation.linear.", ".modulation.lin."},
	{"_in.mlp.2.", "_in.out_layer."}, {"_in.mlp.0.", "_in.in_layer."},
}

func wanArch(class string, cfg map[string]any, vae []string) *Arch {
	if vae == nil {
		vae = []string{vaeWan21}
	}
	a := ditArch(class, familyWan, merge(map[string]any{"image_model": "wan2.1"}, cfg), wanEncoders, vae, modelFlow)
	keepConfig(a)
	return a
}
