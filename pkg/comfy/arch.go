package comfy

import "strings"

// Architectures are data: one entry per ComfyUI model class (the list
// comfy/supported_models.py `models` of ComfyUI at commit e3c35527, 103
// classes, in its matching order), holding everything the planner needs to
// detect the class and to mirror that class's CheckpointSave transforms.
//
// The table is written once, in arch_source.go (shorthands per family,
// comments citing ComfyUI), and `go generate` turns it into
// arch_table.go: the same entries as plain composite literals of resolved
// values, which the compiler lays out as static data, so the engine's
// start-up builds nothing (no maps, no regexps, no calls at init).
// TestArchTableGenerated (go test -tags archsource) fails when the two
// differ. Adding an architecture is adding an entry to arch_source.go
// (and, if it has a new signature key, a family in modelFamilies), running
// go generate ./pkg/comfy, plus a golden test.
//
//go:generate env CKPTPACK_UPDATE_ARCH_TABLE=1 go test -tags archsource -run ^TestArchTableGenerated$ .

// ModelType is comfy.model_base.ModelType as far as saving cares.
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

// PredictionRule says how ComfyUI decides a class's model type.
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

// EncoderSpec is one text encoder a class's CLIP holds.
type EncoderSpec struct {
	Kind     string // detected encoder kind ("clip_l", "t5xxl" …)
	Name     string // attribute name in ComfyUI's CLIP model; "" means Kind
	Optional bool
	// Tokenizer is the key of the blob the encoder's SentencePiece/tekken
	// tokenizer keeps in the CLIP state dict ("spiece_model",
	// "mt5xl.spiece_model"); its files must carry it (§4.1) unless
	// TokenizerOptional.
	Tokenizer         string
	TokenizerOptional bool
	// Layout is how the class's CLIP model holds the encoder.
	Layout EncoderLayout
}

// EncoderLayout is where an encoder's weights sit in the CLIP model's
// state dict (what CLIP.state_dict_for_saving returns).
type EncoderLayout int

const (
	// EncNamed: an SD1ClipModel-style wrapper, "<name>.transformer.*" and
	// "<name>.logit_scale".
	EncNamed EncoderLayout = iota
	// EncSDClip: the CLIP model is one SDClipModel (CogVideoX's
	// T5XXLModel): "transformer.*" and "logit_scale".
	EncSDClip
	// EncModule: the CLIP model is the network itself (YuE2TEModel,
	// MiniMaxMusic3TEModel): its keys as they are, no logit_scale.
	EncModule
)

// Attr is the encoder's attribute name in the class's CLIP model.
func (e EncoderSpec) Attr() string {
	if e.Name != "" {
		return e.Name
	}
	return e.Kind
}

// Arch is one ComfyUI model class.
type Arch struct {
	Class string // ComfyUI supported_models class name
	// Name is the class in plain words, for messages, the page and the
	// ComfyUI tab (Title).
	Name string

	// Detection: the family detectUnetConfig reports and the unet_config
	// items that must match (BASE.matches), plus required keys relative to
	// the diffusion prefix.
	Family       string
	Config       []ConfigItem
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
	NoTextEncode bool // clip_target is None on load (SVD, Hunyuan3D), or a tokenizer-only TE (HiDream-O1): no text encoder file
	// NoTextEncodeWhy says in plain words why no text encoder is taken.
	NoTextEncodeWhy string
	// OneOf lists encoder kinds of which at least one must be given
	// (ACE-Step 1.5's language model is Qwen3 2B or Qwen3 4B).
	OneOf []string

	VAEPrefix string   // vae_key_prefix[0]
	VAEKinds  []string // VAE families the class decodes with; nil: not checked
	// PixelSpace: the model works on pixels and has no VAE. ComfyUI's
	// checkpoint holds the PixelspaceConversionVAE's one parameter,
	// "<VAEPrefix>pixel_space_vae" = 1.0 (comfy/pixel_space_convert.py),
	// which is what its loader builds the pass-through VAE from.
	PixelSpace bool

	// UnetDrop are substrings of diffusion-model keys the class's
	// process_unet_state_dict drops on load, so its save does not write them.
	UnetDrop []string
	// UnetSplit is the class's load-side split of fused in_proj weights.
	UnetSplit SplitRule
	// NormScale names RMSNorm parameters the class writes as ".scale":
	// today's ComfyUI renames them to ".weight" on load (and saves those),
	// older versions only load ".scale"; ".scale" loads in both, so a
	// ".weight" source is written back as ".scale" (see README).
	NormScale NormScaleRule

	// KeepMetadata are __metadata__ entries the class's detection reads from
	// the file (model_detection merges "config"→"transformer" for Wan,
	// MiniMax-H3 and LTXV; Trellis2 reads "is_512"). ComfyUI's save does not
	// re-write them; this tool carries them so the checkpoint loads the same.
	KeepMetadata []string

	// NotDiffusion names what a class of ComfyUI's table is when it is not
	// a diffusion model a checkpoint can hold (SAM 3, RT-DETR, Depth
	// Anything 3): detecting it is an error, never a checkpoint.
	NotDiffusion string

	ModelSpec  string // modelspec.architecture, "" when ComfyUI writes none
	ModelType  ModelType
	Prediction PredictionRule
}

// ConfigItem is one unet_config item a class requires: Value is an int,
// bool, string (lists comma-joined) or nil for None, as detection reports
// it. A slice of these, not a map, so the table is static data.
type ConfigItem struct {
	Key   string
	Value any
}

// SplitRule names a load-side split of fused attention projections
// (ComfyUI holds q, k, v separately, so its save writes them split).
type SplitRule int

const (
	SplitNone SplitRule = iota
	// SplitCascade: Stable Cascade's "<p>.in_proj_weight|bias" →
	// "<p>.to_q|to_k|to_v.weight|bias" (Stable_Cascade_C.process_unet_state_dict).
	SplitCascade
	// SplitWanDancer: WanDancer's music_encoder "<p>self_attn.in_proj_weight|bias"
	// → "<p>self_attn.q_proj|k_proj|v_proj.weight|bias".
	SplitWanDancer
)

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
	vaeQwenImage  = vaeWan21      // Qwen-Image decodes with the Wan 2.1 VAE
	VAEPixelSpace = "pixel_space" // ComfyUI's pass-through "VAE" of pixel-space models (VAELoader "pixel_space")
	vaeAudio3     = "stable_audio3"
	vaeACE        = "ace_audio"
	vaeCogVideoX  = "cogvideox"
	vaeSeedVR2    = "seedvr2"
	vaeMage       = "mage"
	vaeMiniMaxH3V = "minimax_h3_video"
	vaeMiniMaxH3A = "minimax_h3_audio"
	vaeMiniMaxM3  = "minimax_music3"
	vaeTripoSplat = "triposplat"
	vaeTrellis2S  = "trellis2_shape"
	vaeTrellis2T  = "trellis2_texture"
	vaeHunyuan3D  = "hunyuan3d"
)

// SVDSigmaMax and SVDSigmaMin are SVD's EDM sampling range
// (supported_models.py SVD_img2vid sampling_settings), written as
// edm_vpred.sigma_max/min because its model type is V_PREDICTION_EDM.
const (
	SVDSigmaMax = 700.0
	SVDSigmaMin = 0.002
)

// ArchByClass returns the entry for a ComfyUI class name.
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

// Title is the class in plain words (its class name when unnamed).
func (a *Arch) Title() string {
	if a.Name != "" {
		return a.Name
	}
	return a.Class
}

// NormScaleRule names the RMSNorm parameters a class writes as ".scale":
// the names ComfyUI ≤ 0.8 (BFL layout) gives them.
type NormScaleRule int

const (
	NormScaleNone NormScaleRule = iota
	// NormScaleQK: keys ending in ".query_norm.weight" or ".key_norm.weight",
	// the QK norms of Flux, Flux.2, HunyuanVideo and Hunyuan3D 2.0.
	NormScaleQK
	// NormScaleChroma: the QK norms and Chroma's guidance-layer and NeRF
	// norms, "distilled_guidance_layer.[N.]norms.N.weight",
	// "nerf_blocks.N.norm.weight" and "nerf_final_layer_conv.norm.weight".
	NormScaleChroma
)

// Matches says whether key is one of the rule's ".weight" parameters.
// Plain string tests, not regexps: the engine links no regexp package and
// compiles none at start-up.
func (r NormScaleRule) Matches(key string) bool {
	switch r {
	case NormScaleQK:
		return qkNorm(key)
	case NormScaleChroma:
		return qkNorm(key) || chromaNorm(key)
	}
	return false
}

func qkNorm(key string) bool {
	return strings.HasSuffix(key, ".query_norm.weight") || strings.HasSuffix(key, ".key_norm.weight")
}

func chromaNorm(key string) bool {
	base, ok := strings.CutSuffix(key, ".weight")
	if !ok {
		return false
	}
	if rest, ok := strings.CutPrefix(base, "distilled_guidance_layer."); ok {
		if n := leadingDigits(rest); n > 0 && strings.HasPrefix(rest[n:], ".norms.") {
			rest = rest[n+1:]
		}
		n, ok := strings.CutPrefix(rest, "norms.")
		return ok && allDigits(n)
	}
	if rest, ok := strings.CutPrefix(base, "nerf_blocks."); ok {
		n, ok := strings.CutSuffix(rest, ".norm")
		return ok && allDigits(n)
	}
	return base == "nerf_final_layer_conv.norm"
}

// leadingDigits is the length of s's leading run of ASCII digits.
func leadingDigits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// allDigits: s is one or more ASCII digits (a regexp's \d+).
func allDigits(s string) bool { return s != "" && leadingDigits(s) == len(s) }
