package comfy

import (
	"fmt"
	"strings"
)

// PixelSpaceVAEKey is the parameter of ComfyUI's PixelspaceConversionVAE
// (comfy/pixel_space_convert.py), the VAE pixel-space models load: the key
// comfy.sd.VAE recognises it by.
const PixelSpaceVAEKey = "pixel_space_vae"

// UnetForSaving is the diffusion model as the class's model holds it after
// ComfyUI's load (process_unet_state_dict), which is what its save writes:
// keys the class drops are left out, fused in_proj weights split into q, k,
// v (plain row ranges of the source), and the class's renames applied.
func UnetForSaving(arch *Arch, sd StateDict) (StateDict, error) {
	out := StateDict{}
	for _, src := range sd.SortedKeys() {
		k, v := src, sd[src]
		if dropped(arch, k) {
			continue
		}
		if names := splitNames(arch.UnetSplit, k); names != nil {
			if len(v.Shape) == 0 || v.Shape[0]%3 != 0 {
				return nil, fmt.Errorf("%s has shape %v, not three stacked projections", k, v.Shape)
			}
			d := v.Shape[0] / 3
			for i, n := range names {
				part, err := v.narrowRows(int64(i)*d, d)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				out[n] = part
			}
			continue
		}
		for _, r := range arch.UnetRenames {
			k = strings.ReplaceAll(k, r[0], r[1])
		}
		if arch.NormScale.Matches(k) {
			k = strings.TrimSuffix(k, ".weight") + ".scale"
		}
		if _, dup := sd[k]; dup && k != src {
			return nil, fmt.Errorf("%s is in the file under both its .weight and its .scale name", k)
		}
		out[k] = v
	}
	return out, nil
}

func dropped(arch *Arch, k string) bool {
	for _, d := range arch.UnetDrop {
		if strings.HasPrefix(d, ".") && strings.HasSuffix(k, d) || !strings.HasPrefix(d, ".") && strings.Contains(k, d) {
			return true
		}
	}
	return false
}

// splitNames returns the q, k, v names a fused key becomes, nil when the
// class does not split it.
func splitNames(rule SplitRule, k string) []string {
	for _, suffix := range []string{"weight", "bias"} {
		fused := "in_proj_" + suffix
		if !strings.HasSuffix(k, fused) {
			continue
		}
		switch rule {
		case SplitCascade:
			// "<p>.in_proj_weight" → "<p>.to_q.weight" (Stable_Cascade_C).
			p := strings.TrimSuffix(strings.TrimSuffix(k, fused), ".")
			return []string{p + ".to_q." + suffix, p + ".to_k." + suffix, p + ".to_v." + suffix}
		case SplitWanDancer:
			// music_encoder "<p>self_attn.in_proj_weight" → "<p>self_attn.q_proj.weight".
			if !strings.Contains(k, "music_encoder") || !strings.Contains(k, "self_attn.in_proj") {
				return nil
			}
			p := strings.TrimSuffix(k, fused)
			return []string{p + "q_proj." + suffix, p + "k_proj." + suffix, p + "v_proj." + suffix}
		}
	}
	return nil
}

// NoTextEncodeWhy is " (why)" for messages about a class that takes no
// text encoder, "" when there is nothing to add.
func (a *Arch) NoTextEncodeNote() string {
	if a.NoTextEncodeWhy == "" {
		return ""
	}
	return " (" + a.NoTextEncodeWhy + ")"
}
