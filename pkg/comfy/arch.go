package comfy

// Architectures are data: one entry per ComfyUI model class (the list
// comfy/supported_models.py `models` at ComfyUI 0.8.0, in its matching
// order), holding everything the planner needs to detect the class and to
// mirror that class's CheckpointSave transforms. Adding an architecture is
// adding an entry here (and, if it has a new signature key, a family in
// modelFamilies) plus a golden test.

// modelType is comfy.model_base.ModelType as far as saving cares.
type ModelType string

const (
	ModelEPS     ModelType = "eps"     // modelspec.predict_key "epsilon"
	ModelV       ModelType = "v"       // predict_key "v", tensor v_pred
	ModelEDM     ModelType = "edm"     // Playground 2.5 (edm_mean/edm_std)
	ModelVEDM    ModelType = "v_edm"   // CosXL, SVD: edm_vpred.sigma_max/min
	modelFlow    ModelType = "flow"    // SD3, AuraFlow, Wan …: nothing written
	modelFlux    ModelType = "flux"    // Flux family: nothing written
	modelOther   ModelType = "other"   // Cascade, Audio, LTXV …: nothing written
	modelUnknown ModelType = "unknown" // not decided yet
)

// predictionRule says how ComfyUI decides a class's model type.
type PredictionRule int

const (
	PredictFixed   PredictionRule = iota // the class's ModelType
	PredictMarkers                       // SDXL.model_type: v_pred/ztsnr/edm_* top-level keys (supported_models.py:200-218)
	PredictStd                           // SD20.model_type: std of one tensor > 0.09 → v (supported_models.py:97-103)
)

// clipSave is the class's process_clip_state_dict_for_saving.
type clipSave int

const (
	clipSavePrefix  clipSave = iota // default: TEPrefix + internal keys (supported_models_base.py:100-103)
	clipSaveSD15                    // SD15: drop clip_l text_projection/logit_scale, clip_l. -> cond_stage_model. (:67-74)
	clipSaveSD20                    // SD20: clip_h -> cond_stage_model.model, HF -> open_clip (:113-118)
	clipSaveSDXL                    // SDXL: clip_g open_clip, clip_l HF + position_ids (:237-253)
	clipSaveRefiner                 // SDXLRefiner: clip_g open_clip under conditioner.embedders.0.model (:174-181)
)

// encoderSpec is one text encoder a class's CLIP holds.
type EncoderSpec struct {
	Kind     string // detected encoder kind ("clip_l", "t5xxl" …)
	Name     string // attribute name in ComfyUI's CLIP model; "" means Kind
	Optional bool
	// Tokenizer is the key of the blob the encoder's SentencePiece/tekken
	// tokenizer keeps in the CLIP state dict ("spiece_model",
	// "mt5xl.spiece_model"); its files must carry it (§4.1).
	Tokenizer string
}

func (e EncoderSpec) Attr() string {
	if e.Name != "" {
		return e.Name
	}
	return e.Kind
}

// Arch is one ComfyUI model class.
type Arch struct {
	Class string // ComfyUI supported_models class name

	// Detection: the family detectUnetConfig reports and the unet_config
	// items that must match (BASE.matches), plus required keys relative to
	// the diffusion prefix.
	Family       string
	Config       map[string]any
	RequiredKeys []string

	UnetPrefix string // process_unet_state_dict_for_saving prefix
	// UnetRenames are the class's load-side renames
	// (process_unet_state_dict), successive str.replace(from, to) over
	// every diffusion-model key: ComfyUI holds the model under the renamed
	// keys, so CheckpointSave writes those.
	UnetRenames [][2]string
	// ModelExtras are key prefixes of tensors that live on the model
	// wrapper, outside diffusion_model, and that state_dict_for_saving
	// writes back under the same names (StableAudio1's seconds
	// embedders, model_base.py:778-785). They come from a checkpoint input.
	ModelExtras []string

	TEPrefix     string // text_encoder_key_prefix[0]
	ClipSave     clipSave
	Encoders     []EncoderSpec
	AnyEncoder   bool // the class's CLIP takes any non-empty subset of Encoders (SD3, HiDream)
	NoTextEncode bool // clip_target is None on load (SVD, Hunyuan3D): a text encoder is not needed

	VAEPrefix string   // vae_key_prefix[0]
	VAEKinds  []string // VAE families the class decodes with; nil: not checked

	ModelSpec  string // modelspec.architecture, "" when ComfyUI writes none
	ModelType  ModelType
	Prediction PredictionRule
}

// Prefixes shared by many classes (comfy/supported_models_base.py:45-46
// defaults and the common overrides).
const (
	PrefixDiffusion   = "model.diffusion_model."
	prefixModelModel  = "model.model."
	prefixCondStage   = "cond_stage_model."
	prefixTextEncs    = "text_encoders."
	prefixFirstStage  = "first_stage_model."
	prefixVAE         = "vae."
	modelspecSDXLBase = "stable-diffusion-xl-v1-base"
)

// VAE families, by the markers of comfy.sd.VAE (comfy/sd.py:310-660).
const (
	vaeKL4        = "kl4"  // AutoencoderKL with 4 latent channels: SD1.x, SD2.x, SDXL
	vaeKL16       = "kl16" // 16 latent channels: SD3, Flux, Chroma, Lumina2, HiDream …
	vaeKL32       = "kl32" // Flux.2
	vaeKL64       = "kl64" // HunyuanImage 2.1
	vaeWan21      = "wan2.1"
	vaeWan22      = "wan2.2"
	vaeHunyuanVid = "hunyuan_video"
	vaeHunyuan15  = "hunyuan_video1.5"
	vaeLTXV       = "ltxv"
	vaeCosmos     = "cosmos"
	vaeAudio      = "stable_audio"
	vaeSVD        = "svd_temporal"
	vaeCascade    = "stable_cascade"
	vaeQwenImage  = vaeWan21 // Qwen-Image decodes with the Wan 2.1 VAE
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
		Class: class, Family: FamilyUNet, Config: cfg, UnetPrefix: PrefixDiffusion,
		TEPrefix: prefixCondStage, ClipSave: save, Encoders: te,
		VAEPrefix: prefixFirstStage, VAEKinds: []string{vaeKL4},
		ModelType: mt, Prediction: pred,
	}
	return a
}

// dit is the shorthand for the text_encoders./vae. families.
func ditArch(class, family string, cfg map[string]any, te []EncoderSpec, vae []string, mt ModelType) *Arch {
	return &Arch{
		Class: class, Family: family, Config: cfg, UnetPrefix: PrefixDiffusion,
		TEPrefix: prefixTextEncs, Encoders: te, VAEPrefix: prefixVAE, VAEKinds: vae, ModelType: mt,
	}
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

// architectures is comfy.supported_models.models (0.8.0) in matching order.
var Architectures = []*Arch{
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
		a.TEPrefix = "text_encoder."
	}),
	with(ditArch("Stable_Cascade_B", familyCascade, map[string]any{"stable_cascade_stage": "b"}, []EncoderSpec{{Kind: "clip_g", Optional: true}}, []string{vaeCascade}, modelOther), func(a *Arch) {
		a.TEPrefix = "text_encoder."
	}),
	with(unetArch("SV3D_u", map[string]any{"model_channels": 320, "in_channels": 8, "use_linear_in_transformer": true, "transformer_depth": "1,1,1,1,1,1,0,0", "context_dim": 1024, "adm_in_channels": 256, "use_temporal_attention": true, "use_temporal_resblock": true}, nil, clipSavePrefix, PredictFixed, ModelVEDM), func(a *Arch) {
		a.ModelSpec, a.NoTextEncode, a.VAEKinds = "stable-video-diffusion-img2vid-v1", true, nil
		a.VAEPrefix = "conditioner.embedders.1.encoder."
	}),
	with(unetArch("SV3D_p", map[string]any{"model_channels": 320, "in_channels": 8, "use_linear_in_transformer": true, "transformer_depth": "1,1,1,1,1,1,0,0", "context_dim": 1024, "adm_in_channels": 1280, "use_temporal_attention": true, "use_temporal_resblock": true}, nil, clipSavePrefix, PredictFixed, ModelVEDM), func(a *Arch) {
		a.ModelSpec, a.NoTextEncode, a.VAEKinds = "stable-video-diffusion-img2vid-v1", true, nil
		a.VAEPrefix = "conditioner.embedders.1.encoder."
	}),
	with(ditArch("SD3", familyMMDiT, map[string]any{"in_channels": 16}, sd3Encoders, []string{vaeKL16}, modelFlow), func(a *Arch) {
		a.AnyEncoder, a.VAEPrefix, a.ModelSpec = true, prefixFirstStage, "stable-diffusion-v3-medium"
	}),
	with(ditArch("StableAudio", familyStableAudio, nil, []EncoderSpec{{Kind: "t5base"}}, []string{vaeAudio}, modelOther), func(a *Arch) {
		a.UnetPrefix, a.VAEPrefix = prefixModelModel, "pretransform.model."
		a.ModelExtras = []string{"conditioner.conditioners.seconds_start.", "conditioner.conditioners.seconds_total."}
	}),
	ditArch("AuraFlow", familyAuraFlow, map[string]any{"cond_seq_dim": 2048}, []EncoderSpec{{Kind: "pile_t5xl"}}, []string{vaeKL4}, modelFlow),
	ditArch("PixArtAlpha", familyPixArt, map[string]any{"pixart_variant": "alpha"}, []EncoderSpec{encT5XXL}, []string{vaeKL4}, ModelEPS),
	ditArch("PixArtSigma", familyPixArt, map[string]any{"pixart_variant": "sigma"}, []EncoderSpec{encT5XXL}, []string{vaeKL4}, ModelEPS),
	ditArch("HunyuanDiT", familyHunyuanDiT, map[string]any{"image_model": "hydit"}, hyditEncoders, []string{vaeKL4}, ModelV),
	ditArch("HunyuanDiT1", familyHunyuanDiT, map[string]any{"image_model": "hydit1"}, hyditEncoders, []string{vaeKL4}, ModelV),
	ditArch("FluxInpaint", familyFlux, map[string]any{"image_model": "flux", "guidance_embed": true, "in_channels": 96}, fluxEncoders, []string{vaeKL16}, modelFlux),
	ditArch("Flux", familyFlux, map[string]any{"image_model": "flux", "guidance_embed": true}, fluxEncoders, []string{vaeKL16}, modelFlux),
	ditArch("FluxSchnell", familyFlux, map[string]any{"image_model": "flux", "guidance_embed": false}, fluxEncoders, []string{vaeKL16}, modelFlow),
	ditArch("GenmoMochi", familyMochi, nil, []EncoderSpec{encT5XXL}, nil, modelFlow),
	ditArch("LTXV", FamilyLTXV, map[string]any{"image_model": "ltxv"}, []EncoderSpec{encT5XXL}, []string{vaeLTXV}, modelFlux),
	ditArch("LTXAV", FamilyLTXV, map[string]any{"image_model": "ltxav"}, []EncoderSpec{{Kind: "gemma3_12b", Tokenizer: "spiece_model"}}, []string{vaeLTXV}, modelFlux),
	with(ditArch("HunyuanVideo15_SR_Distilled", familyHunyuanVideo, map[string]any{"in_channels": 98, "vision_in": true}, []EncoderSpec{{Kind: "qwen25_7b"}, {Kind: "byt5_small", Optional: true}}, []string{vaeHunyuan15}, modelFlow), hunyuanVideoSave),
	with(ditArch("HunyuanVideoSkyreelsI2V", familyHunyuanVideo, map[string]any{"in_channels": 32}, []EncoderSpec{encClipL, {Kind: "llama"}}, []string{vaeHunyuanVid}, modelFlow), hunyuanVideoSave),
	with(ditArch("HunyuanVideoI2V", familyHunyuanVideo, map[string]any{"in_channels": 33}, []EncoderSpec{encClipL, {Kind: "llama"}}, []string{vaeHunyuanVid}, modelFlow), hunyuanVideoSave),
	with(ditArch("HunyuanImage21Refiner", familyHunyuanVideo, map[string]any{"patch_size": "1,1,1", "vision_in": false}, []EncoderSpec{{Kind: "qwen25_7b"}, {Kind: "byt5_small", Optional: true}}, []string{vaeKL64}, modelFlow), func(a *Arch) {
		hunyuanVideoSave(a)
		a.VAEKinds = nil
	}),
	with(ditArch("HunyuanImage21", familyHunyuanVideo, map[string]any{"vec_in": false, "vision_in": false}, []EncoderSpec{{Kind: "qwen25_7b"}, {Kind: "byt5_small", Optional: true}}, []string{vaeKL64}, modelFlow), hunyuanVideoSave),
	with(ditArch("HunyuanVideo15", familyHunyuanVideo, map[string]any{"vision_in": true}, []EncoderSpec{{Kind: "qwen25_7b"}, {Kind: "byt5_small", Optional: true}}, []string{vaeHunyuan15}, modelFlow), hunyuanVideoSave),
	with(ditArch("HunyuanVideo", familyHunyuanVideo, map[string]any{"vec_in": true}, []EncoderSpec{encClipL, {Kind: "llama"}}, []string{vaeHunyuanVid}, modelFlow), hunyuanVideoSave),
	ditArch("CosmosT2V", familyCosmos1, map[string]any{"in_channels": 16}, []EncoderSpec{encT5XXL}, []string{vaeCosmos}, ModelEDM),
	ditArch("CosmosI2V", familyCosmos1, map[string]any{"in_channels": 17}, []EncoderSpec{encT5XXL}, []string{vaeCosmos}, ModelEDM),
	with(ditArch("CosmosT2IPredict2", familyCosmos2, map[string]any{"in_channels": 16}, []EncoderSpec{encT5XXL}, []string{vaeWan21}, modelFlow), func(a *Arch) {
		a.TEPrefix, a.VAEPrefix = prefixCondStage, prefixFirstStage
	}),
	with(ditArch("CosmosI2VPredict2", familyCosmos2, map[string]any{"in_channels": 17}, []EncoderSpec{encT5XXL}, []string{vaeWan21}, modelFlow), func(a *Arch) {
		a.TEPrefix, a.VAEPrefix = prefixCondStage, prefixFirstStage
	}),
	ditArch("ZImage", familyLumina2, map[string]any{"dim": 3840}, []EncoderSpec{{Kind: "qwen3_4b"}}, []string{vaeKL16}, modelFlow),
	// Lumina2 takes Gemma 2 2B or, lumina2.te(model_type="gemma3_4b"), Gemma 3 4B.
	with(ditArch("Lumina2", familyLumina2, map[string]any{"dim": 2304}, []EncoderSpec{
		{Kind: "gemma2_2b", Optional: true, Tokenizer: "spiece_model"}, {Kind: "gemma3_4b", Optional: true, Tokenizer: "spiece_model"},
	}, []string{vaeKL16}, modelFlow), func(a *Arch) { a.AnyEncoder = true }),
	wanArch("WAN22_T2V", map[string]any{"model_type": "t2v", "out_dim": 48}, []string{vaeWan22}),
	wanArch("WAN21_T2V", map[string]any{"model_type": "t2v"}, nil),
	wanArch("WAN21_I2V", map[string]any{"model_type": "i2v", "in_dim": 36}, nil),
	wanArch("WAN21_FunControl2V", map[string]any{"model_type": "i2v", "in_dim": 48}, nil),
	wanArch("WAN21_Vace", map[string]any{"model_type": "vace"}, nil),
	wanArch("WAN21_Camera", map[string]any{"model_type": "camera"}, nil),
	wanArch("WAN22_Camera", map[string]any{"model_type": "camera_2.2"}, nil),
	wanArch("WAN22_S2V", map[string]any{"model_type": "s2v"}, nil),
	wanArch("WAN21_HuMo", map[string]any{"model_type": "humo"}, nil),
	wanArch("WAN22_Animate", map[string]any{"model_type": "animate"}, nil),
	with(ditArch("Hunyuan3Dv2", familyHunyuan3D, map[string]any{"image_model": "hunyuan3d2"}, nil, nil, modelFlow), func(a *Arch) {
		a.UnetPrefix, a.NoTextEncode = "model.", true
	}),
	with(ditArch("Hunyuan3Dv2_1", familyHunyuan3D21, nil, nil, nil, modelFlow), func(a *Arch) {
		a.UnetPrefix, a.NoTextEncode = "model.", true
	}),
	with(ditArch("HiDream", familyHiDream, nil, []EncoderSpec{
		{Kind: "clip_l", Optional: true}, {Kind: "clip_g", Optional: true}, {Kind: "t5xxl", Optional: true}, {Kind: "llama", Optional: true},
	}, []string{vaeKL16}, modelFlow), func(a *Arch) { a.AnyEncoder = true }),
	with(ditArch("Chroma", familyFlux, map[string]any{"image_model": "chroma"}, []EncoderSpec{encT5XXL}, []string{vaeKL16}, modelFlux), func(a *Arch) {
		a.TEPrefix, a.VAEPrefix = prefixCondStage, prefixFirstStage
	}),
	with(ditArch("ChromaRadiance", familyFlux, map[string]any{"image_model": "chroma_radiance"}, []EncoderSpec{encT5XXL}, nil, modelFlux), func(a *Arch) {
		a.TEPrefix, a.VAEPrefix = prefixCondStage, prefixFirstStage
	}),
	ditArch("ACEStep", familyACE, nil, []EncoderSpec{{Kind: "umt5base", Tokenizer: "spiece_model"}}, nil, modelFlow),
	ditArch("Omnigen2", familyOmnigen2, nil, []EncoderSpec{{Kind: "qwen25_3b"}}, []string{vaeKL16}, modelFlow),
	ditArch("QwenImage", familyQwenImage, nil, []EncoderSpec{{Kind: "qwen25_7b"}}, []string{vaeQwenImage}, modelFlow),
	with(ditArch("Flux2", familyFlux, map[string]any{"image_model": "flux2"}, []EncoderSpec{
		{Kind: "mistral3_24b", Optional: true, Tokenizer: "tekken_model"}, {Kind: "qwen3_4b", Optional: true}, {Kind: "qwen3_8b", Optional: true},
	}, []string{vaeKL32}, modelFlux), func(a *Arch) { a.AnyEncoder = true }),
	ditArch("Kandinsky5Image", familyKandinsky5, map[string]any{"image": true}, []EncoderSpec{{Kind: "qwen25_7b"}, encClipL}, []string{vaeKL16}, modelFlow),
	ditArch("Kandinsky5", familyKandinsky5, map[string]any{"image": false}, []EncoderSpec{{Kind: "qwen25_7b"}, encClipL}, []string{vaeHunyuanVid}, modelFlow),
	// models += [SVD_img2vid]: matched last.
	with(unetArch("SVD_img2vid", map[string]any{"model_channels": 320, "in_channels": 8, "use_linear_in_transformer": true, "transformer_depth": "1,1,1,1,1,1,0,0", "context_dim": 1024, "adm_in_channels": 768, "use_temporal_attention": true, "use_temporal_resblock": true}, nil, clipSavePrefix, PredictFixed, ModelVEDM), func(a *Arch) {
		a.ModelSpec, a.NoTextEncode, a.VAEKinds = "stable-video-diffusion-img2vid-v1", true, []string{vaeSVD, vaeKL4}
	}),
}

// hunyuanVideoSave is the HunyuanVideo family's saving: prefix
// model.model. (supported_models.py:893-895) after the load-side renames of
// original Tencent names (supported_models.py:877-891).
func hunyuanVideoSave(a *Arch) {
	a.UnetPrefix = prefixModelModel
	a.UnetRenames = hunyuanVideoRenames
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
	return ditArch(class, familyWan, cfg, wanEncoders, vae, modelFlow)
}

// svdSigmaMax and svdSigmaMin are SVD's EDM sampling range
// (supported_models.py SVD_img2vid sampling_settings), written as
// edm_vpred.sigma_max/min because its model type is V_PREDICTION_EDM.
const (
	SVDSigmaMax = 700.0
	SVDSigmaMin = 0.002
)

// archByClass returns the entry for a ComfyUI class name.
func ArchByClass(class string) *Arch {
	for _, a := range Architectures {
		if a.Class == class {
			return a
		}
	}
	return nil
}

// Encoder is the class's encoder of kind, if it takes one.
func (a *Arch) Encoder(kind string) (EncoderSpec, bool) {
	for _, s := range a.Encoders {
		if s.Kind == kind {
			return s, true
		}
	}
	return EncoderSpec{}, false
}

// EncoderIndex is the position of kind in the class's Encoders
// (len(Encoders) when it takes none of that kind).
func (a *Arch) EncoderIndex(kind string) int {
	for i, s := range a.Encoders {
		if s.Kind == kind {
			return i
		}
	}
	return len(a.Encoders)
}
