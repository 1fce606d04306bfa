package comfy

import (
	"fmt"
	"strings"
	"sync"
)

// vaeDiffusersMarker is the key by which comfy.sd.VAE recognises a
// diffusers AutoencoderKL (comfy/sd.py:311-312).
const vaeDiffusersMarker = "decoder.up_blocks.0.resnets.0.norm1.weight"

// vaeConversionMap is comfy/diffusers_convert.py vae_conversion_map as
// (ldm, diffusers) pairs, applied to every key as successive
// str.replace(diffusers, ldm) in this order. Built on first use (a
// diffusers VAE), not at start-up.
var vaeConversionMap = sync.OnceValue(func() [][2]string {
	m := [][2]string{
		{"nin_shortcut", "conv_shortcut"},
		{"norm_out", "conv_norm_out"},
		{"mid.attn_1.", "mid_block.attentions.0."},
	}
	for i := 0; i < 4; i++ {
		for j := 0; j < 2; j++ {
			m = append(m, [2]string{fmt.Sprintf("encoder.down.%d.block.%d.", i, j), fmt.Sprintf("encoder.down_blocks.%d.resnets.%d.", i, j)})
		}
		if i < 3 {
			m = append(m, [2]string{fmt.Sprintf("down.%d.downsample.", i), fmt.Sprintf("down_blocks.%d.downsamplers.0.", i)})
			m = append(m, [2]string{fmt.Sprintf("up.%d.upsample.", 3-i), fmt.Sprintf("up_blocks.%d.upsamplers.0.", i)})
		}
		for j := 0; j < 3; j++ {
			m = append(m, [2]string{fmt.Sprintf("decoder.up.%d.block.%d.", 3-i, j), fmt.Sprintf("decoder.up_blocks.%d.resnets.%d.", i, j)})
		}
	}
	for i := 0; i < 2; i++ {
		m = append(m, [2]string{fmt.Sprintf("mid.block_%d.", i+1), fmt.Sprintf("mid_block.resnets.%d.", i)})
	}
	return m
})

// vaeConversionMapAttn is vae_conversion_map_attn, applied in addition to
// keys whose original name contains "attentions".
var vaeConversionMapAttn = [][2]string{
	{"norm.", "group_norm."},
	{"q.", "query."},
	{"k.", "key."},
	{"v.", "value."},
	{"q.", "to_q."},
	{"k.", "to_k."},
	{"v.", "to_v."},
	{"proj_out.", "to_out.0."},
	{"proj_out.", "proj_attn."},
}

// ldmVAEFromDiffusers is convert_vae_state_dict: diffusers AutoencoderKL
// names become ldm names, and the mid-block attention's q, k, v and
// proj_out weights, Linear [C,C] in diffusers, are reshaped to the ldm 1×1
// convolution [C,C,1,1] ([C,C,1,1,1] when the VAE's convolutions are 3-D) —
// a header-only change.
func ldmVAEFromDiffusers(sd StateDict) (StateDict, error) {
	mapping := map[string]string{}
	conv3d := false
	for k, t := range sd {
		v := k
		for _, r := range vaeConversionMap() {
			v = strings.ReplaceAll(v, r[1], r[0])
		}
		if strings.HasSuffix(v, ".conv.weight") && len(t.Shape) == 5 {
			conv3d = true
		}
		mapping[k] = v
	}
	out := StateDict{}
	for k, v := range mapping {
		if strings.Contains(k, "attentions") {
			for _, r := range vaeConversionMapAttn {
				v = strings.ReplaceAll(v, r[1], r[0])
			}
		}
		if _, dup := out[v]; dup {
			return nil, fmt.Errorf("diffusers VAE: two tensors map to %s", v)
		}
		out[v] = sd[k]
	}
	for k, t := range out {
		for _, w := range []string{"q", "k", "v", "proj_out"} {
			if !strings.Contains(k, "mid.attn_1."+w+".weight") || len(t.Shape) != 2 {
				continue
			}
			shape := append(append([]int64{}, t.Shape...), 1, 1)
			if conv3d {
				shape = append(shape, 1)
			}
			r, err := t.reshaped(shape)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
	}
	return out, nil
}

// vaeTrainingPrefixes are keys some VAE files carry that ComfyUI's VAE
// module does not have, so load_state_dict(strict=False) drops them and
// vae.get_sd() never returns them.
var vaeTrainingPrefixes = []string{"loss.", "model_ema."}

// dropVAETrainingKeys removes loss.* and model_ema.* keys.
func dropVAETrainingKeys(sd StateDict) StateDict {
	out := StateDict{}
	for k, v := range sd {
		drop := false
		for _, p := range vaeTrainingPrefixes {
			if strings.HasPrefix(k, p) {
				drop = true
			}
		}
		if !drop {
			out[k] = v
		}
	}
	return out
}
