package comfy

import (
	"fmt"
	"strings"
)

// detectVAE recognises a VAE state dict (keys without prefix) by the marker
// keys comfy.sd.VAE tests (comfy/sd.py:310-660), in its order, and returns
// it in the names vae.get_sd() would return: diffusers AutoencoderKL files
// are converted to ldm names (§5.1), Flux.2's decoder.post_quant_conv and
// encoder.quant_conv move to the top level, Stable Cascade's effnet and
// previewer files get their encoder./previewer. prefixes, training-only keys
// are dropped. ok is false when no marker matches.
func detectVAE(sd StateDict) (kind, layout string, out StateDict, ok bool, err error) {
	layout = "ldm"
	// SeedVR2's VAE has diffusers-like names ComfyUI does not convert.
	seedvr2 := sd.Has("decoder.up_blocks.2.upsamplers.0.upscale_conv.weight")
	if sd.Has(vaeDiffusersMarker) && !seedvr2 {
		sd, err = ldmVAEFromDiffusers(sd)
		if err != nil {
			return "", "", nil, false, err
		}
		layout = "diffusers"
	}
	sd = dropVAETrainingKeys(sd)
	switch {
	case sd.Has(PixelSpaceVAEKey):
		return VAEPixelSpace, layout, sd, true, nil
	case sd.Has("dec_in_proj.weight") && sd.Has("decoder.model.0.weight_g"):
		return vaeMiniMaxM3, layout, sd, true, nil
	case sd.Has("decoder.mid.block_1.mix_factor"):
		return vaeSVD, layout, sd, true, nil
	case sd.Has("vquantizer.codebook.weight"):
		return vaeCascade, layout, sd, true, nil
	case sd.Has("backbone.1.0.block.0.1.num_batches_tracked"):
		return vaeCascade, layout, sd.AddPrefix("encoder."), true, nil
	case sd.Has("blocks.11.num_batches_tracked"):
		return vaeCascade, layout, sd.AddPrefix("previewer."), true, nil
	case sd.Has("shape_dec.blocks.1.16.to_subdiv.weight"):
		return vaeTrellis2S, layout, sd, true, nil
	case sd.Has("txt_dec.blocks.3.4.conv2.weight"):
		return vaeTrellis2T, layout, sd, true, nil
	case seedvr2:
		return vaeSeedVR2, layout, sd, true, nil
	case sd.Has("student.dconv_encoder.proj_out.weight"):
		// comfy.sd.VAE renames Mage-VAE's parts and drops the Flux.2 anchor
		// encoder it carries; get_sd() returns the result.
		out := StateDict{}
		for k, v := range prefixReplace(prefixReplace(sd, "student.dconv_encoder.", "dconv_encoder."), "pipeline.", "decoder_model.") {
			if strings.HasPrefix(k, "decoder_model.y_embedder.encoder.") || strings.HasPrefix(k, "decoder_model.y_embedder.bottleneck.") {
				continue
			}
			out[k] = v
		}
		return vaeMage, layout, out, true, nil
	case sd.Has("dconv_encoder.proj_out.weight") && sd.hasPrefix("decoder_model."):
		return vaeMage, layout, sd, true, nil
	case sd.Has("decoder.conv_in_x_t.weight"):
		return vaeLTXV, layout, sd, true, nil // LTX 2.4 diffusion decoder
	case sd.Has("decoder.conv_in.weight"):
		s := sd.shape("decoder.conv_in.weight")
		if len(s) < 2 {
			return "", "", nil, false, fmt.Errorf("decoder.conv_in.weight has shape %v", s)
		}
		// Flux.2 keeps its quant convs inside encoder/decoder (comfy/sd.py:379-434).
		for _, mv := range [][2]string{{"decoder.post_quant_conv.", "post_quant_conv."}, {"encoder.quant_conv.", "quant_conv."}} {
			for _, k := range sd.SortedKeys() {
				if strings.HasPrefix(k, mv[0]) {
					sd[mv[1]+k[len(mv[0]):]] = sd[k]
					delete(sd, k)
				}
			}
		}
		switch s[1] {
		case 4:
			return vaeKL4, layout, sd, true, nil
		case 16:
			return vaeKL16, layout, sd, true, nil
		case 32:
			return vaeKL32, layout, sd, true, nil
		case 64:
			return vaeKL64, layout, sd, true, nil
		}
		return fmt.Sprintf("kl%d", s[1]), layout, sd, true, nil
	case sd.Has("decoder.layers.1.layers.0.beta"):
		return vaeAudio, layout, sd, true, nil
	case sd.Has("decoder.up_blocks.0.res_blocks.0.conv1.conv.weight"):
		return vaeLTXV, layout, sd, true, nil
	case sd.Has("decoder.conv_in.conv.weight"):
		switch {
		case sd.dim("decoder.conv_in.conv.weight", 1) == 32:
			return vaeHunyuan15, layout, sd, true, nil
		case sd.Has("decoder.mid_block.resnets.0.norm1.norm_layer.weight"):
			return vaeCogVideoX, layout, sd, true, nil
		}
		return vaeHunyuanVid, layout, sd, true, nil
	case sd.Has("decoder.unpatcher3d.wavelets"):
		return vaeCosmos, layout, sd, true, nil
	case sd.Has("decoder.middle.0.residual.0.gamma"):
		if sd.Has("decoder.upsamples.0.upsamples.0.residual.2.weight") {
			return vaeWan22, layout, sd, true, nil
		}
		return vaeWan21, layout, sd, true, nil
	case sd.Has("geo_decoder.cross_attn_decoder.ln_1.bias"):
		return vaeHunyuan3D, layout, sd, true, nil
	case sd.Has("vocoder.backbone.channel_layers.0.0.bias"):
		return vaeACE, layout, sd, true, nil
	case sd.Has("decoder.layers.3.transformers.0.pre_norm.alpha"):
		return vaeAudio3, layout, sd, true, nil
	case sd.Has("decoder.transformer_blocks.0.scale1") && sd.Has("encoder.down.5.block.0.conv1.weight"):
		return vaeMiniMaxH3V, layout, sd, true, nil
	case sd.Has("pre_block.attn.zero_k_bias"):
		return vaeMiniMaxH3A, layout, sd, true, nil
	case sd.Has("gs.base_offset_scale") && sd.Has("octree.out_proj.weight"):
		return vaeTripoSplat, layout, sd, true, nil
	}
	return "", "", nil, false, nil
}

// DisplayVAE describes a VAE family for messages and the UI.
func DisplayVAE(kind string) string {
	switch kind {
	case vaeKL4:
		return "4-channel KL VAE (SD 1.x/2.x/XL)"
	case vaeKL16:
		return "16-channel VAE (SD3, Flux, Chroma, HiDream …)"
	case vaeKL32:
		return "32-channel VAE (Flux.2)"
	case vaeKL64:
		return "64-channel VAE (HunyuanImage 2.1)"
	case vaeWan21:
		return "Wan 2.1 VAE"
	case vaeWan22:
		return "Wan 2.2 VAE"
	case vaeHunyuanVid:
		return "HunyuanVideo VAE"
	case vaeHunyuan15:
		return "HunyuanVideo 1.5 VAE"
	case vaeLTXV:
		return "LTX-Video VAE"
	case vaeCosmos:
		return "Cosmos VAE"
	case vaeAudio:
		return "Stable Audio VAE"
	case vaeSVD:
		return "SVD temporal VAE"
	case vaeCascade:
		return "Stable Cascade stage A/effnet/previewer"
	case VAEPixelSpace:
		return "pixel-space pass-through (no VAE)"
	case vaeAudio3:
		return "Stable Audio 3 VAE"
	case vaeACE:
		return "ACE-Step audio VAE"
	case vaeCogVideoX:
		return "CogVideoX VAE"
	case vaeSeedVR2:
		return "SeedVR2 VAE"
	case vaeMage:
		return "Mage VAE (Mage-Flow)"
	case vaeMiniMaxH3V:
		return "MiniMax-H3 video VAE"
	case vaeMiniMaxH3A:
		return "MiniMax-H3 audio VAE"
	case vaeMiniMaxM3:
		return "MiniMax Music 3 DAV decoder"
	case vaeTripoSplat:
		return "TripoSplat Gaussian decoder"
	case vaeTrellis2S:
		return "Trellis 2 shape VAE"
	case vaeTrellis2T:
		return "Trellis 2 texture VAE"
	case vaeHunyuan3D:
		return "Hunyuan3D shape VAE"
	case "":
		return "VAE"
	}
	return kind + " VAE"
}
