package comfy

import (
	"strings"
)

// Text-encoder kinds: ComfyUI's internal encoder names (the attribute the
// encoder is stored under in its CLIP model, §4), which are also what
// detect_te_model (comfy/sd.py:1048-1096) tells apart, refined where one
// TEModel type covers encoders that ComfyUI names differently.
const (
	TEClipL       = "clip_l"
	TEClipG       = "clip_g"
	TEClipH       = "clip_h"
	TET5XXL       = "t5xxl"
	TEUMT5XXL     = "umt5xxl"
	TEPileT5XL    = "pile_t5xl"
	TEMT5XL       = "mt5xl"
	TET5Base      = "t5base"
	teUMT5Base    = "umt5base"
	teByT5Small   = "byt5_small"
	TEGemma2_2B   = "gemma2_2b"
	teGemma3_4B   = "gemma3_4b"
	teGemma3_12B  = "gemma3_12b"
	teQwen25_3B   = "qwen25_3b"
	teQwen25_7B   = "qwen25_7b"
	teQwen3_2B    = "qwen3_2b"
	teQwen3_4B    = "qwen3_4b"
	teQwen3_8B    = "qwen3_8b"
	teQwen3_06B   = "qwen3_06b"
	teQwen3VL4B   = "qwen3vl_4b"
	teQwen3VL8B   = "qwen3vl_8b"
	teQwen3VL32B  = "qwen3vl_32b"
	teMistral3    = "mistral3_24b"
	teMinistral3  = "ministral3_3b"
	teT5Gemma     = "t5gemma"
	teGPTOSS      = "gpt_oss"
	teYuE2        = "yue2_lm"
	teMiniMaxM3   = "minimax_music3_te"
	TELlama       = "llama"
	teJinaClip2   = "jina_clip_2"
	TEHyDiTClip   = "hydit_clip"
	TEFamilyCLIP  = "clip"
	teFamilyT5    = "t5"
	teFamilyLLM   = "llm"
	teFamilyVL    = "qwen3vl" // Qwen3-VL: language model plus vision tower
	teFamilyWhole = "whole"   // kept as the file holds it (GPT-OSS, YuE2, MiniMax Music 3, T5-Gemma)
	teFamilyOther = "other"
)

// TEFamily groups kinds by network layout, which decides the keys
// ComfyUI's module holds (§4.1).
func TEFamily(kind string) string {
	switch kind {
	case TEClipL, TEClipG, TEClipH:
		return TEFamilyCLIP
	case TET5XXL, TEUMT5XXL, TEPileT5XL, TEMT5XL, TET5Base, teUMT5Base, teByT5Small:
		return teFamilyT5
	case TEGemma2_2B, teGemma3_4B, teGemma3_12B, teQwen25_3B, teQwen25_7B, teQwen3_2B, teQwen3_4B, teQwen3_8B, teQwen3_06B, teMistral3, teMinistral3, TELlama:
		return teFamilyLLM
	case teQwen3VL4B, teQwen3VL8B, teQwen3VL32B:
		return teFamilyVL
	case teGPTOSS, teYuE2, teMiniMaxM3, teT5Gemma:
		return teFamilyWhole
	}
	return teFamilyOther
}

// knownTEKind says whether name is accepted as a "<name>.transformer."
// group ("qwen3vl" is JoyImage's name for its Qwen3-VL 8B). A switch, not a
// map: nothing to build at start-up.
func knownTEKind(name string) bool {
	switch name {
	case TEClipL, TEClipG, TEClipH, TET5XXL, TEUMT5XXL, TEPileT5XL, TEMT5XL, TET5Base, teUMT5Base, teByT5Small, TEGemma2_2B, teGemma3_4B, teGemma3_12B, teQwen25_3B, teQwen25_7B, teQwen3_2B, teQwen3_4B, teQwen3_8B, teMistral3, TELlama, teJinaClip2, TEHyDiTClip, teQwen3_06B, teQwen3VL4B, teQwen3VL8B, teQwen3VL32B, teMinistral3, teT5Gemma, teGPTOSS, "qwen3vl":
		return true
	}
	return false
}

// DisplayTE names a kind for messages.
func DisplayTE(kind string) string {
	switch kind {
	case TEClipL:
		return "CLIP-L"
	case TEClipG:
		return "CLIP-G"
	case TEClipH:
		return "CLIP-H (OpenCLIP ViT-H)"
	case TET5XXL:
		return "T5-XXL"
	case TEUMT5XXL:
		return "UMT5-XXL"
	case TEPileT5XL:
		return "Pile-T5-XL"
	case TEMT5XL:
		return "mT5-XL"
	case TET5Base:
		return "T5-base"
	case teUMT5Base:
		return "UMT5-base"
	case teByT5Small:
		return "ByT5-small"
	case TEGemma2_2B:
		return "Gemma 2 2B"
	case teGemma3_4B:
		return "Gemma 3 4B"
	case teGemma3_12B:
		return "Gemma 3 12B"
	case teQwen25_3B:
		return "Qwen2.5 3B"
	case teQwen25_7B:
		return "Qwen2.5-VL 7B"
	case teQwen3_2B:
		return "Qwen3 2B"
	case teQwen3_4B:
		return "Qwen3 4B"
	case teQwen3_8B:
		return "Qwen3 8B"
	case teMistral3:
		return "Mistral 3 24B"
	case TELlama:
		return "Llama 3 8B"
	case teJinaClip2:
		return "Jina CLIP v2"
	case TEHyDiTClip:
		return "HunyuanDiT BERT CLIP"
	case teQwen3_06B:
		return "Qwen3 0.6B"
	case teQwen3VL4B:
		return "Qwen3-VL 4B"
	case teQwen3VL8B:
		return "Qwen3-VL 8B"
	case teQwen3VL32B:
		return "Qwen3-VL 32B (MiniMax-H3, 50 layers)"
	case teMinistral3:
		return "Ministral 3 3B"
	case teT5Gemma:
		return "T5-Gemma"
	case teGPTOSS:
		return "GPT-OSS 20B"
	case teYuE2:
		return "YuE2 language model"
	case teMiniMaxM3:
		return "MiniMax Music 3 text encoder"
	}
	return kind
}

// tokenizerBlobs are the tokenizer state_dict entries text-encoder files
// carry (§4.1): serialized SentencePiece/tekken models stored as U8 tensors.
var tokenizerBlobs = []string{"spiece_model", "tekken_model", "tokenizer_json", "yue2_tokenizer_json"}

// detectTEKind is detect_te_model on the network keys of one encoder
// (after the open_clip pre-conversion), refined into ComfyUI's encoder
// names. "" means not a text encoder.
func detectTEKind(sd StateDict) string {
	switch {
	case sd.Has("text_model.encoder.layers.30.mlp.fc1.weight"):
		return TEClipG
	case sd.Has("text_model.encoder.layers.22.mlp.fc1.weight"):
		return TEClipH
	case sd.Has("text_model.encoder.layers.0.mlp.fc1.weight"):
		return TEClipL
	case sd.Has("model.encoder.layers.0.mixer.Wqkv.weight"):
		return teJinaClip2
	case sd.Has("encoder.block.23.layer.1.DenseReluDense.wi_1.weight"):
		umt5 := sd.Has("encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight")
		switch sd.dim("encoder.block.23.layer.1.DenseReluDense.wi_1.weight", -1) {
		case 4096:
			if umt5 {
				return TEUMT5XXL
			}
			return TET5XXL
		case 2048:
			// T5_XL: AuraFlow's Pile-T5 (32k vocabulary) or HunyuanDiT's mT5 (250k).
			if sd.dim("shared.weight", 0) > 200000 {
				return TEMT5XL
			}
			return TEPileT5XL
		}
		return ""
	case sd.Has("encoder.block.23.layer.1.DenseReluDense.wi.weight"):
		return TET5XXL // T5_XXL_OLD (Cosmos 1)
	case sd.Has("encoder.block.0.layer.0.SelfAttention.k.weight"):
		if sd.dim("encoder.block.0.layer.0.SelfAttention.k.weight", 0) == 384 {
			return teByT5Small
		}
		if sd.Has("encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight") {
			return teUMT5Base
		}
		return TET5Base
	case sd.Has("model.encoder.layers.0.pre_self_attn_layernorm.weight"):
		return teT5Gemma
	case sd.Has("model.layers.0.post_feedforward_layernorm.weight"):
		switch {
		case sd.Has("model.layers.47.self_attn.q_norm.weight"):
			return teGemma3_12B
		case sd.Has("model.layers.0.self_attn.q_norm.weight"):
			return teGemma3_4B
		}
		return TEGemma2_2B
	// Before the Qwen2.5 k_proj.bias test: GPT-OSS's is 512 wide too.
	case sd.Has("layers.0.self_attn.sinks") && sd.Has("layers.0.mlp.experts.gate_up_proj.weight"):
		return teGPTOSS
	case sd.Has("model.audio_decoder.projection.weight"):
		return teMiniMaxM3 // CLIPType.MINIMAX's merged text encoder (comfy/sd.py)
	case sd.Has("model.layers.0.self_attn.k_proj.bias"):
		switch sd.dim("model.layers.0.self_attn.k_proj.bias", 0) {
		case 256:
			return teQwen25_3B
		case 512:
			return teQwen25_7B
		}
		return ""
	// Qwen3-VL in Hugging Face layout (DeepStack mergers are unique to it).
	case sd.Has("model.visual.deepstack_merger_list.0.norm.weight"):
		if sd.dim("model.visual.merger.linear_fc2.weight", 0) == 2560 {
			return teQwen3VL4B
		}
		return teQwen3VL8B
	// Qwen3-VL in ComfyUI's layout (visual.*, model.layers.*): MiniMax-H3's
	// 50-layer 32B, else 4B/8B by width, where detect_te_model would say
	// Qwen3 4B/8B (the CLIP names them qwen3vl_*).
	case sd.Has("visual.deepstack_merger_list.0.norm.weight"):
		if sd.Has("model.layers.49.self_attn.q_proj.weight") {
			return teQwen3VL32B
		}
		if sd.dim("model.layers.0.post_attention_layernorm.weight", 0) == 2560 {
			return teQwen3VL4B
		}
		return teQwen3VL8B
	case sd.Has("model.layers.0.post_attention_layernorm.weight"):
		dim := sd.dim("model.layers.0.post_attention_layernorm.weight", 0)
		qnorm := sd.Has("model.layers.0.self_attn.q_norm.weight")
		switch {
		case qnorm && dim == 2560:
			return teQwen3_4B
		case qnorm && dim == 2048:
			return teQwen3_2B
		case qnorm && dim == 4096:
			return teQwen3_8B
		case qnorm && dim == 1024:
			return teQwen3_06B
		case dim == 5120:
			return teMistral3
		case dim == 3072:
			return teMinistral3
		}
		return TELlama
	case sd.Has("bert.embeddings.word_embeddings.weight"):
		return TEHyDiTClip
	}
	return ""
}

// teModuleKeys keeps the keys ComfyUI's encoder module has, dropping what
// HF exports carry besides (§11.2): CLIP position_ids, vision towers and
// projections, logit_scale (ComfyUI re-creates its own), T5
// encoder.embed_tokens.weight and the decoder, LLM lm_head.weight.
// Quantization markers (scaled_fp8, *.scale_weight, *.comfy_quant) travel
// with the layers they belong to.
func teModuleKeys(kind string, sd StateDict) StateDict {
	if TEFamily(kind) == teFamilyVL && sd.Has("model.visual.deepstack_merger_list.0.norm.weight") {
		// load_text_encoder_state_dicts' Qwen3-VL renames (comfy/sd.py).
		sd = prefixReplace(prefixReplace(prefixReplace(sd, "model.language_model.", "model."), "model.visual.", "visual."), "lm_head.", "model.lm_head.")
	}
	out := StateDict{}
	for k, v := range sd {
		if teModuleHas(kind, k) {
			out[k] = v
		}
	}
	return out
}

func teModuleHas(kind, k string) bool {
	if k == "scaled_fp8" {
		return true
	}
	switch TEFamily(kind) {
	case TEFamilyCLIP:
		if k == "text_model.embeddings.position_ids" {
			return false
		}
		return strings.HasPrefix(k, "text_model.") || strings.HasPrefix(k, "text_projection.")
	case teFamilyT5:
		if k == "encoder.embed_tokens.weight" {
			return false
		}
		return k == "shared.weight" || strings.HasPrefix(k, "encoder.")
	case teFamilyLLM:
		if strings.HasPrefix(k, "visual.") {
			return kind == teQwen25_7B // Qwen2.5-VL keeps its vision tower (§3.5 QwenImage)
		}
		return strings.HasPrefix(k, "model.")
	case teFamilyVL:
		return strings.HasPrefix(k, "model.") || strings.HasPrefix(k, "visual.")
	case teFamilyWhole:
		return k != "lm_head.weight" || kind == teYuE2 // YuE2TEModel samples with its lm_head
	}
	return k != "logit_scale" && !strings.HasSuffix(k, ".logit_scale")
}
