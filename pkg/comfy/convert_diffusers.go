package comfy

import (
	"fmt"
	"sort"
)

// nativeFromDiffusers converts a diffusers-layout diffusion model into
// ComfyUI's native names, as load_diffusion_model_state_dict does when
// native detection fails (§5.2 steps 4-5): the DiT formats of
// convert_diffusers_mmdit (Flux, SD3), else a diffusers UNet. ok is false
// when sd is neither. Keys the conversion maps nowhere are dropped, as in
// ComfyUI.
func NativeFromDiffusers(sd StateDict) (StateDict, bool, error) {
	switch {
	case sd.Has("x_embedder.weight"):
		out, err := fluxFromDiffusers(sd)
		return out, err == nil, err
	case sd.Has("transformer_blocks.0.attn.add_q_proj.weight") && sd.Has("pos_embed.proj.weight"):
		out, err := mmditFromDiffusers(sd)
		return out, err == nil, err
	case sd.Has("conv_in.weight") && sd.hasPrefix("down_blocks."):
		out, err := unetFromDiffusers(sd)
		return out, err == nil, err
	}
	return nil, false, nil
}

// narrowTarget is a map entry (target, (dim 0, offset, length)[, fn]) of
// comfy.utils' diffusers maps: the source fills rows [offset,
// offset+length) of target.
type narrowTarget struct {
	target         string
	offset, length int64
	swap           bool // swap_scale_shift
}

// diffusersMap holds plain renames and narrow/fn entries.
type diffusersMap struct {
	rename map[string]string
	narrow map[string]narrowTarget
}

func newDiffusersMap() *diffusersMap {
	return &diffusersMap{rename: map[string]string{}, narrow: map[string]narrowTarget{}}
}

// apply is the loop of convert_diffusers_mmdit: renamed tensors are moved;
// narrowed pieces are assembled along dim 0 by offset and must tile their
// target exactly.
func (m *diffusersMap) apply(sd StateDict) (StateDict, error) {
	out := StateDict{}
	type slice struct {
		offset int64
		src    *TensorSource
	}
	pieces := map[string][]slice{}
	for _, k := range sd.SortedKeys() {
		v := sd[k]
		if to, ok := m.rename[k]; ok {
			out[to] = v
			continue
		}
		if n, ok := m.narrow[k]; ok {
			if n.swap {
				s, err := v.swapScaleShift()
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				out[n.target] = s
				continue
			}
			if len(v.Shape) == 0 || v.Shape[0] != n.length {
				return nil, fmt.Errorf("%s: shape %v does not fill %d rows of %s", k, v.Shape, n.length, n.target)
			}
			pieces[n.target] = append(pieces[n.target], slice{n.offset, v})
		}
	}
	for target, ps := range pieces {
		sort.Slice(ps, func(i, j int) bool { return ps[i].offset < ps[j].offset })
		var next int64
		parts := make([]*TensorSource, 0, len(ps))
		for _, p := range ps {
			if p.offset != next {
				return nil, fmt.Errorf("%s: rows [%d,%d) missing in the diffusers model", target, next, p.offset)
			}
			next += p.src.Shape[0]
			parts = append(parts, p.src)
		}
		t, err := concatRows(parts...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", target, err)
		}
		out[target] = t
	}
	return out, nil
}

// fluxFromDiffusers is comfy.utils.flux_to_diffusers inverted, applied
// with convert_diffusers_mmdit (model_detection.py:1013-1068, utils.py:573-677).
func fluxFromDiffusers(sd StateDict) (StateDict, error) {
	depth := sd.countBlocks("transformer_blocks.%d.")
	single := sd.countBlocks("single_transformer_blocks.%d.")
	h := sd.dim("x_embedder.bias", 0)
	if h <= 0 {
		return nil, fmt.Errorf("diffusers Flux model without x_embedder.bias")
	}
	m := newDiffusersMap()
	for i := 0; i < depth; i++ {
		from := fmt.Sprintf("transformer_blocks.%d.", i)
		to := fmt.Sprintf("double_blocks.%d.", i)
		for _, end := range []string{"weight", "bias"} {
			for j, x := range []string{"q", "k", "v"} {
				m.narrow[from+"attn.to_"+x+"."+end] = narrowTarget{target: to + "img_attn.qkv." + end, offset: int64(j) * h, length: h}
				m.narrow[from+"attn.add_"+x+"_proj."+end] = narrowTarget{target: to + "txt_attn.qkv." + end, offset: int64(j) * h, length: h}
			}
		}
		for k, v := range map[string]string{
			"attn.to_out.0.weight":         "img_attn.proj.weight",
			"attn.to_out.0.bias":           "img_attn.proj.bias",
			"norm1.linear.weight":          "img_mod.lin.weight",
			"norm1.linear.bias":            "img_mod.lin.bias",
			"norm1_context.linear.weight":  "txt_mod.lin.weight",
			"norm1_context.linear.bias":    "txt_mod.lin.bias",
			"attn.to_add_out.weight":       "txt_attn.proj.weight",
			"attn.to_add_out.bias":         "txt_attn.proj.bias",
			"ff.net.0.proj.weight":         "img_mlp.0.weight",
			"ff.net.0.proj.bias":           "img_mlp.0.bias",
			"ff.net.2.weight":              "img_mlp.2.weight",
			"ff.net.2.bias":                "img_mlp.2.bias",
			"ff_context.net.0.proj.weight": "txt_mlp.0.weight",
			"ff_context.net.0.proj.bias":   "txt_mlp.0.bias",
			"ff_context.net.2.weight":      "txt_mlp.2.weight",
			"ff_context.net.2.bias":        "txt_mlp.2.bias",
			"attn.norm_q.weight":           "img_attn.norm.query_norm.scale",
			"attn.norm_k.weight":           "img_attn.norm.key_norm.scale",
			"attn.norm_added_q.weight":     "txt_attn.norm.query_norm.scale",
			"attn.norm_added_k.weight":     "txt_attn.norm.key_norm.scale",
		} {
			m.rename[from+k] = to + v
		}
	}
	for i := 0; i < single; i++ {
		from := fmt.Sprintf("single_transformer_blocks.%d.", i)
		to := fmt.Sprintf("single_blocks.%d.", i)
		for _, end := range []string{"weight", "bias"} {
			for j, x := range []string{"q", "k", "v"} {
				m.narrow[from+"attn.to_"+x+"."+end] = narrowTarget{target: to + "linear1." + end, offset: int64(j) * h, length: h}
			}
			m.narrow[from+"proj_mlp."+end] = narrowTarget{target: to + "linear1." + end, offset: 3 * h, length: 4 * h}
		}
		for k, v := range map[string]string{
			"norm.linear.weight": "modulation.lin.weight",
			"norm.linear.bias":   "modulation.lin.bias",
			"proj_out.weight":    "linear2.weight",
			"proj_out.bias":      "linear2.bias",
			"attn.norm_q.weight": "norm.query_norm.scale",
			"attn.norm_k.weight": "norm.key_norm.scale",
		} {
			m.rename[from+k] = to + v
		}
	}
	for to, from := range map[string]string{
		"final_layer.linear.bias":      "proj_out.bias",
		"final_layer.linear.weight":    "proj_out.weight",
		"img_in.bias":                  "x_embedder.bias",
		"img_in.weight":                "x_embedder.weight",
		"time_in.in_layer.bias":        "time_text_embed.timestep_embedder.linear_1.bias",
		"time_in.in_layer.weight":      "time_text_embed.timestep_embedder.linear_1.weight",
		"time_in.out_layer.bias":       "time_text_embed.timestep_embedder.linear_2.bias",
		"time_in.out_layer.weight":     "time_text_embed.timestep_embedder.linear_2.weight",
		"txt_in.bias":                  "context_embedder.bias",
		"txt_in.weight":                "context_embedder.weight",
		"vector_in.in_layer.bias":      "time_text_embed.text_embedder.linear_1.bias",
		"vector_in.in_layer.weight":    "time_text_embed.text_embedder.linear_1.weight",
		"vector_in.out_layer.bias":     "time_text_embed.text_embedder.linear_2.bias",
		"vector_in.out_layer.weight":   "time_text_embed.text_embedder.linear_2.weight",
		"guidance_in.in_layer.bias":    "time_text_embed.guidance_embedder.linear_1.bias",
		"guidance_in.in_layer.weight":  "time_text_embed.guidance_embedder.linear_1.weight",
		"guidance_in.out_layer.bias":   "time_text_embed.guidance_embedder.linear_2.bias",
		"guidance_in.out_layer.weight": "time_text_embed.guidance_embedder.linear_2.weight",
		"pos_embed_input.bias":         "controlnet_x_embedder.bias",
		"pos_embed_input.weight":       "controlnet_x_embedder.weight",
	} {
		m.rename[from] = to
	}
	for _, end := range []string{"weight", "bias"} {
		m.narrow["norm_out.linear."+end] = narrowTarget{target: "final_layer.adaLN_modulation.1." + end, swap: true}
	}
	return m.apply(sd)
}

// mmditFromDiffusers is comfy.utils.mmdit_to_diffusers inverted (SD3/SD3.5
// diffusers transformers, utils.py:388-469).
func mmditFromDiffusers(sd StateDict) (StateDict, error) {
	blocks := sd.countBlocks("transformer_blocks.%d.")
	// convert_diffusers_mmdit: depth = pos_embed.proj.weight.shape[0] // 64,
	// and each q/k/v projection fills depth*64 rows of its qkv tensor.
	depth := sd.dim("pos_embed.proj.weight", 0) / 64
	if depth <= 0 {
		return nil, fmt.Errorf("diffusers SD3 model without a usable pos_embed.proj.weight")
	}
	h := depth * 64
	m := newDiffusersMap()
	for i := 0; i < blocks; i++ {
		from := fmt.Sprintf("transformer_blocks.%d.", i)
		to := fmt.Sprintf("joint_blocks.%d.", i)
		for _, end := range []string{"weight", "bias"} {
			for j, x := range []string{"q", "k", "v"} {
				m.narrow[from+"attn.to_"+x+"."+end] = narrowTarget{target: to + "x_block.attn.qkv." + end, offset: int64(j) * h, length: h}
				m.narrow[from+"attn.add_"+x+"_proj."+end] = narrowTarget{target: to + "context_block.attn.qkv." + end, offset: int64(j) * h, length: h}
				m.narrow[from+"attn2.to_"+x+"."+end] = narrowTarget{target: to + "x_block.attn2.qkv." + end, offset: int64(j) * h, length: h}
			}
		}
		block := map[string]string{
			"x_block.mlp.fc1":            "ff.net.0.proj",
			"x_block.mlp.fc2":            "ff.net.2",
			"context_block.mlp.fc1":      "ff_context.net.0.proj",
			"context_block.mlp.fc2":      "ff_context.net.2",
			"x_block.attn.proj":          "attn.to_out.0",
			"context_block.attn.proj":    "attn.to_add_out",
			"x_block.adaLN_modulation.1": "norm1.linear",
			"x_block.attn2.proj":         "attn2.to_out.0",
		}
		for to2, from2 := range block {
			for _, end := range []string{"weight", "bias"} {
				m.rename[from+from2+"."+end] = to + to2 + "." + end
			}
		}
		for _, end := range []string{"weight", "bias"} {
			if int64(i) == depth-1 {
				m.narrow[from+"norm1_context.linear."+end] = narrowTarget{target: to + "context_block.adaLN_modulation.1." + end, swap: true}
			} else {
				m.rename[from+"norm1_context.linear."+end] = to + "context_block.adaLN_modulation.1." + end
			}
		}
		for to2, from2 := range map[string]string{
			"x_block.attn.ln_q.weight":       "attn.norm_q.weight",
			"x_block.attn.ln_k.weight":       "attn.norm_k.weight",
			"context_block.attn.ln_q.weight": "attn.norm_added_q.weight",
			"context_block.attn.ln_k.weight": "attn.norm_added_k.weight",
			"x_block.attn2.ln_q.weight":      "attn2.norm_q.weight",
			"x_block.attn2.ln_k.weight":      "attn2.norm_k.weight",
		} {
			m.rename[from+from2] = to + to2
		}
	}
	for to, from := range map[string]string{
		"pos_embed":                 "pos_embed.pos_embed",
		"x_embedder.proj.weight":    "pos_embed.proj.weight",
		"x_embedder.proj.bias":      "pos_embed.proj.bias",
		"t_embedder.mlp.0.weight":   "time_text_embed.timestep_embedder.linear_1.weight",
		"t_embedder.mlp.0.bias":     "time_text_embed.timestep_embedder.linear_1.bias",
		"t_embedder.mlp.2.weight":   "time_text_embed.timestep_embedder.linear_2.weight",
		"t_embedder.mlp.2.bias":     "time_text_embed.timestep_embedder.linear_2.bias",
		"y_embedder.mlp.0.weight":   "time_text_embed.text_embedder.linear_1.weight",
		"y_embedder.mlp.0.bias":     "time_text_embed.text_embedder.linear_1.bias",
		"y_embedder.mlp.2.weight":   "time_text_embed.text_embedder.linear_2.weight",
		"y_embedder.mlp.2.bias":     "time_text_embed.text_embedder.linear_2.bias",
		"context_embedder.weight":   "context_embedder.weight",
		"context_embedder.bias":     "context_embedder.bias",
		"final_layer.linear.weight": "proj_out.weight",
		"final_layer.linear.bias":   "proj_out.bias",
	} {
		m.rename[from] = to
	}
	for _, end := range []string{"weight", "bias"} {
		m.narrow["norm_out.linear."+end] = narrowTarget{target: "final_layer.adaLN_modulation.1." + end, swap: true}
	}
	return m.apply(sd)
}

// UNet block maps of comfy/utils.py:200-268.
var (
	unetMapAttentions = []string{"proj_in.weight", "proj_in.bias", "proj_out.weight", "proj_out.bias", "norm.weight", "norm.bias"}
	transformerBlocks = []string{
		"norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias",
		"attn1.to_q.weight", "attn1.to_k.weight", "attn1.to_v.weight", "attn1.to_out.0.weight", "attn1.to_out.0.bias",
		"attn2.to_q.weight", "attn2.to_k.weight", "attn2.to_v.weight", "attn2.to_out.0.weight", "attn2.to_out.0.bias",
		"ff.net.0.proj.weight", "ff.net.0.proj.bias", "ff.net.2.weight", "ff.net.2.bias",
	}
	unetMapResnet = [][2]string{ // ldm, diffusers
		{"in_layers.2.weight", "conv1.weight"}, {"in_layers.2.bias", "conv1.bias"},
		{"emb_layers.1.weight", "time_emb_proj.weight"}, {"emb_layers.1.bias", "time_emb_proj.bias"},
		{"out_layers.3.weight", "conv2.weight"}, {"out_layers.3.bias", "conv2.bias"},
		{"skip_connection.weight", "conv_shortcut.weight"}, {"skip_connection.bias", "conv_shortcut.bias"},
		{"in_layers.0.weight", "norm1.weight"}, {"in_layers.0.bias", "norm1.bias"},
		{"out_layers.0.weight", "norm2.weight"}, {"out_layers.0.bias", "norm2.bias"},
	}
	unetMapBasic = [][2]string{ // ldm, diffusers
		{"label_emb.0.0.weight", "class_embedding.linear_1.weight"}, {"label_emb.0.0.bias", "class_embedding.linear_1.bias"},
		{"label_emb.0.2.weight", "class_embedding.linear_2.weight"}, {"label_emb.0.2.bias", "class_embedding.linear_2.bias"},
		{"label_emb.0.0.weight", "add_embedding.linear_1.weight"}, {"label_emb.0.0.bias", "add_embedding.linear_1.bias"},
		{"label_emb.0.2.weight", "add_embedding.linear_2.weight"}, {"label_emb.0.2.bias", "add_embedding.linear_2.bias"},
		{"input_blocks.0.0.weight", "conv_in.weight"}, {"input_blocks.0.0.bias", "conv_in.bias"},
		{"out.0.weight", "conv_norm_out.weight"}, {"out.0.bias", "conv_norm_out.bias"},
		{"out.2.weight", "conv_out.weight"}, {"out.2.bias", "conv_out.bias"},
		{"time_embed.0.weight", "time_embedding.linear_1.weight"}, {"time_embed.0.bias", "time_embedding.linear_1.bias"},
		{"time_embed.2.weight", "time_embedding.linear_2.weight"}, {"time_embed.2.bias", "time_embedding.linear_2.bias"},
	}
)

// unetFromDiffusers is comfy.utils.unet_to_diffusers applied in reverse.
// ComfyUI derives the block structure by matching one of its fixed
// diffusers configs; here it is read off the keys (resnets per level,
// transformer depth per attention), which gives the same map for every
// config ComfyUI knows.
func unetFromDiffusers(sd StateDict) (StateDict, error) {
	levels := sd.countBlocks("down_blocks.%d.")
	if levels == 0 {
		return nil, fmt.Errorf("diffusers UNet without down_blocks")
	}
	numRes := make([]int, levels)
	for x := range numRes {
		numRes[x] = sd.countBlocks(fmt.Sprintf("down_blocks.%d.resnets.", x) + "%d.")
	}
	depth := func(format string, args ...any) int {
		return sd.countBlocks(fmt.Sprintf(format, args...) + "%d.")
	}
	m := map[string]string{} // diffusers -> ldm
	for x := 0; x < levels; x++ {
		n := 1 + (numRes[x]+1)*x
		for i := 0; i < numRes[x]; i++ {
			for _, r := range unetMapResnet {
				m[fmt.Sprintf("down_blocks.%d.resnets.%d.%s", x, i, r[1])] = fmt.Sprintf("input_blocks.%d.0.%s", n, r[0])
			}
			if d := depth("down_blocks.%d.attentions.%d.transformer_blocks.", x, i); d > 0 {
				for _, b := range unetMapAttentions {
					m[fmt.Sprintf("down_blocks.%d.attentions.%d.%s", x, i, b)] = fmt.Sprintf("input_blocks.%d.1.%s", n, b)
				}
				for t := 0; t < d; t++ {
					for _, b := range transformerBlocks {
						m[fmt.Sprintf("down_blocks.%d.attentions.%d.transformer_blocks.%d.%s", x, i, t, b)] = fmt.Sprintf("input_blocks.%d.1.transformer_blocks.%d.%s", n, t, b)
					}
				}
			}
			n++
		}
		for _, k := range []string{"weight", "bias"} {
			m[fmt.Sprintf("down_blocks.%d.downsamplers.0.conv.%s", x, k)] = fmt.Sprintf("input_blocks.%d.0.op.%s", n, k)
		}
	}
	for _, b := range unetMapAttentions {
		m["mid_block.attentions.0."+b] = "middle_block.1." + b
	}
	for t := 0; t < depth("mid_block.attentions.0.transformer_blocks."); t++ {
		for _, b := range transformerBlocks {
			m[fmt.Sprintf("mid_block.attentions.0.transformer_blocks.%d.%s", t, b)] = fmt.Sprintf("middle_block.1.transformer_blocks.%d.%s", t, b)
		}
	}
	for i, n := range []int{0, 2} {
		for _, r := range unetMapResnet {
			m[fmt.Sprintf("mid_block.resnets.%d.%s", i, r[1])] = fmt.Sprintf("middle_block.%d.%s", n, r[0])
		}
	}
	for x := 0; x < levels; x++ {
		nr := numRes[levels-1-x]
		n := (nr + 1) * x
		l := nr + 1
		for i := 0; i < l; i++ {
			c := 0
			for _, r := range unetMapResnet {
				m[fmt.Sprintf("up_blocks.%d.resnets.%d.%s", x, i, r[1])] = fmt.Sprintf("output_blocks.%d.0.%s", n, r[0])
			}
			c++
			if d := depth("up_blocks.%d.attentions.%d.transformer_blocks.", x, i); d > 0 {
				c++
				for _, b := range unetMapAttentions {
					m[fmt.Sprintf("up_blocks.%d.attentions.%d.%s", x, i, b)] = fmt.Sprintf("output_blocks.%d.1.%s", n, b)
				}
				for t := 0; t < d; t++ {
					for _, b := range transformerBlocks {
						m[fmt.Sprintf("up_blocks.%d.attentions.%d.transformer_blocks.%d.%s", x, i, t, b)] = fmt.Sprintf("output_blocks.%d.1.transformer_blocks.%d.%s", n, t, b)
					}
				}
			}
			if i == l-1 {
				for _, k := range []string{"weight", "bias"} {
					m[fmt.Sprintf("up_blocks.%d.upsamplers.0.conv.%s", x, k)] = fmt.Sprintf("output_blocks.%d.%d.conv.%s", n, c, k)
				}
			}
			n++
		}
	}
	for _, b := range unetMapBasic {
		m[b[1]] = b[0]
	}
	out := StateDict{}
	for from, to := range m {
		if v, ok := sd[from]; ok {
			out[to] = v
		}
	}
	return out, nil
}
