package checkpoint

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// diffusersUNetKeys enumerates the keys of a diffusers
// UNet2DConditionModel (diffusion_pytorch_model.safetensors of
// runwayml/stable-diffusion-v1-5 or stabilityai/stable-diffusion-xl-base-1.0),
// written from diffusers' naming, not from the package's map: depth is the
// transformer depth per level (0: no attention), mid the mid block's;
// levels 1 and 2 change channels (conv_shortcut), every up resnet does.
func diffusersUNetKeys(depth []int, mid int, addEmbedding bool) []string {
	var keys []string
	wb := func(p string) { keys = append(keys, p+".weight", p+".bias") }
	resnet := func(p string, shortcut bool) {
		for _, n := range []string{"norm1", "conv1", "time_emb_proj", "norm2", "conv2"} {
			wb(p + "." + n)
		}
		if shortcut {
			wb(p + ".conv_shortcut")
		}
	}
	attention := func(p string, depth int) {
		for _, n := range []string{"norm", "proj_in", "proj_out"} {
			wb(p + "." + n)
		}
		for t := 0; t < depth; t++ {
			b := fmt.Sprintf("%s.transformer_blocks.%d.", p, t)
			for _, n := range []string{"norm1", "norm2", "norm3", "attn1.to_out.0", "attn2.to_out.0", "ff.net.0.proj", "ff.net.2"} {
				wb(b + n)
			}
			for _, n := range []string{"attn1.to_q", "attn1.to_k", "attn1.to_v", "attn2.to_q", "attn2.to_k", "attn2.to_v"} {
				keys = append(keys, b+n+".weight")
			}
		}
	}
	for _, n := range []string{"conv_in", "time_embedding.linear_1", "time_embedding.linear_2", "conv_norm_out", "conv_out"} {
		wb(n)
	}
	if addEmbedding {
		wb("add_embedding.linear_1")
		wb("add_embedding.linear_2")
	}
	levels := len(depth)
	for x := 0; x < levels; x++ {
		for i := 0; i < 2; i++ {
			resnet(fmt.Sprintf("down_blocks.%d.resnets.%d", x, i), i == 0 && (x == 1 || x == 2))
			if depth[x] > 0 {
				attention(fmt.Sprintf("down_blocks.%d.attentions.%d", x, i), depth[x])
			}
		}
		if x < levels-1 {
			wb(fmt.Sprintf("down_blocks.%d.downsamplers.0.conv", x))
		}
	}
	resnet("mid_block.resnets.0", false)
	resnet("mid_block.resnets.1", false)
	attention("mid_block.attentions.0", mid)
	for x := 0; x < levels; x++ {
		for i := 0; i < 3; i++ {
			resnet(fmt.Sprintf("up_blocks.%d.resnets.%d", x, i), true)
			if d := depth[levels-1-x]; d > 0 {
				attention(fmt.Sprintf("up_blocks.%d.attentions.%d", x, i), d)
			}
		}
		if x < levels-1 {
			wb(fmt.Sprintf("up_blocks.%d.upsamplers.0.conv", x))
		}
	}
	return keys
}

// TestDiffusersUNet: the diffusers UNets of SD 1.5 and SDXL convert to
// exactly the native keys (pairs checked against the diffusers conversion
// scripts), and checkpoints planned from them equal the golden ones.
func TestDiffusersUNet(t *testing.T) {
	cases := []struct {
		arch   string
		depth  []int
		mid    int
		addEmb bool
		clips  []string
		pairs  map[string]string
	}{
		{"sd15", []int{1, 1, 1, 0}, 1, false, []string{"clip_l"}, map[string]string{
			"down_blocks.0.attentions.1.transformer_blocks.0.attn1.to_q.weight": "input_blocks.2.1.transformer_blocks.0.attn1.to_q.weight",
			"down_blocks.2.downsamplers.0.conv.weight":                          "input_blocks.9.0.op.weight",
			"down_blocks.3.resnets.1.conv2.bias":                                "input_blocks.11.0.out_layers.3.bias",
			"up_blocks.0.resnets.2.conv_shortcut.weight":                        "output_blocks.2.0.skip_connection.weight",
			"up_blocks.0.upsamplers.0.conv.weight":                              "output_blocks.2.1.conv.weight",
			"up_blocks.1.upsamplers.0.conv.weight":                              "output_blocks.5.2.conv.weight",
			"up_blocks.3.attentions.2.proj_out.weight":                          "output_blocks.11.1.proj_out.weight",
			"mid_block.attentions.0.transformer_blocks.0.norm3.bias":            "middle_block.1.transformer_blocks.0.norm3.bias",
			"conv_out.weight": "out.2.weight",
		}},
		{"sdxl_base", []int{0, 2, 10}, 10, true, []string{"clip_g", "clip_l"}, map[string]string{
			"down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight": "input_blocks.4.1.transformer_blocks.1.attn2.to_k.weight",
			"down_blocks.0.downsamplers.0.conv.weight":                          "input_blocks.3.0.op.weight",
			"down_blocks.2.resnets.0.conv_shortcut.weight":                      "input_blocks.7.0.skip_connection.weight",
			"up_blocks.0.attentions.2.transformer_blocks.9.ff.net.2.weight":     "output_blocks.2.1.transformer_blocks.9.ff.net.2.weight",
			"up_blocks.0.upsamplers.0.conv.weight":                              "output_blocks.2.2.conv.weight",
			"up_blocks.1.upsamplers.0.conv.bias":                                "output_blocks.5.2.conv.bias",
			"up_blocks.2.resnets.2.conv1.weight":                                "output_blocks.8.0.in_layers.2.weight",
			"mid_block.resnets.1.norm2.weight":                                  "middle_block.2.out_layers.0.weight",
			"mid_block.attentions.0.proj_in.weight":                             "middle_block.1.proj_in.weight",
			"add_embedding.linear_1.weight":                                     "label_emb.0.0.weight",
			"conv_norm_out.weight":                                              "out.0.weight",
			"time_embedding.linear_2.bias":                                      "time_embed.2.bias",
		}},
	}
	for _, c := range cases {
		t.Run(c.arch, func(t *testing.T) {
			keys := diffusersUNetKeys(c.depth, c.mid, c.addEmb)
			sd := comfy.StateDict{}
			for _, k := range keys {
				sd[k] = &comfy.TensorSource{DType: safetensors.DTypeF16, Shape: []int64{1}}
			}
			conv, ok, err := comfy.NativeFromDiffusers(sd)
			if err != nil || !ok {
				t.Fatalf("conversion: ok=%v err=%v", ok, err)
			}
			toDiffusers := map[string]string{}
			for ldm, src := range conv {
				for k, v := range sd {
					if v == src {
						toDiffusers[ldm] = k
					}
				}
			}
			native := oracleManifest(t, c.arch, "unet")
			if len(conv) != len(native.Tensors) || len(keys) != len(native.Tensors) {
				t.Errorf("%d diffusers keys convert to %d, native model has %d", len(keys), len(conv), len(native.Tensors))
			}
			for _, e := range native.Tensors {
				if _, ok := toDiffusers[e.Key]; !ok {
					t.Errorf("no diffusers key converts to %s", e.Key)
				}
			}
			for diff, ldm := range c.pairs {
				if toDiffusers[ldm] != diff {
					t.Errorf("%s comes from %q, want %s", ldm, toDiffusers[ldm], diff)
				}
			}

			// The full plan from a diffusers UNet file.
			var ts []testTensor
			for _, e := range native.Tensors {
				ts = append(ts, testTensor{Name: toDiffusers[e.Key], DType: safetensors.DType(e.DType), Shape: e.Shape})
			}
			req := componentRequest(t, c.arch, c.clips...)
			req.Model = makeInput(t, "unet_diffusers", ts, nil)
			p, err := PlanCheckpoint(req)
			if err != nil {
				t.Fatal(err)
			}
			checkHeader(t, p, oracleManifest(t, c.arch, "expected_checkpoint"))
			segs, _ := provenance(t, p)
			for ldm, diff := range toDiffusers {
				if s := segs[comfy.PrefixDiffusion+ldm]; len(s) != 1 || s[0].File != "unet_diffusers" || s[0].Tensor != diff || s[0].Start != 0 {
					t.Errorf("%s: %+v", ldm, s)
				}
			}
			r, err := Inspect(req.Model)
			if err != nil {
				t.Fatal(err)
			}
			if r.Architecture != p.Architecture || len(r.Components) != 1 || r.Components[0].Layout != comfy.LayoutDiffusers {
				t.Errorf("inspect: %s %+v", r.Architecture, r.Components)
			}
		})
	}
}

// fluxDiffusers is the diffusers FluxTransformer2DModel layout of a native
// Flux key, as (diffusers key, row offset, rows) pieces; swap marks the
// final modulation, stored [shift, scale] in diffusers.
type fluxPiece struct {
	key    string
	offset int64
	rows   int64
}

func fluxDiffusersPieces(k string, shape []int64, h int64) (pieces []fluxPiece, swap bool) {
	end := k[strings.LastIndex(k, ".")+1:]
	var block, rest string
	for _, p := range []string{"double_blocks.", "single_blocks."} {
		if strings.HasPrefix(k, p) {
			i := strings.Index(k[len(p):], ".")
			block, rest = k[:len(p)+i], k[len(p)+i+1:]
		}
	}
	whole := func(name string) []fluxPiece { return []fluxPiece{{name, 0, shape[0]}} }
	split := func(prefix string, names ...string) []fluxPiece {
		var out []fluxPiece
		var off int64
		for _, n := range names {
			rows := h
			if strings.HasSuffix(n, "proj_mlp") {
				rows = 4 * h
			}
			out = append(out, fluxPiece{prefix + n + "." + end, off, rows})
			off += rows
		}
		return out
	}
	if strings.HasPrefix(block, "double_blocks.") {
		d := "transformer_blocks." + strings.TrimPrefix(block, "double_blocks.") + "."
		switch {
		case strings.HasPrefix(rest, "img_attn.qkv."):
			return split(d+"attn.", "to_q", "to_k", "to_v"), false
		case strings.HasPrefix(rest, "txt_attn.qkv."):
			return split(d+"attn.", "add_q_proj", "add_k_proj", "add_v_proj"), false
		}
		for native, diff := range map[string]string{
			"img_attn.proj.": "attn.to_out.0.", "txt_attn.proj.": "attn.to_add_out.", "img_mod.lin.": "norm1.linear.",
			"txt_mod.lin.": "norm1_context.linear.", "img_mlp.0.": "ff.net.0.proj.", "img_mlp.2.": "ff.net.2.",
			"txt_mlp.0.": "ff_context.net.0.proj.", "txt_mlp.2.": "ff_context.net.2.",
			"img_attn.norm.query_norm.": "attn.norm_q.", "img_attn.norm.key_norm.": "attn.norm_k.",
			"txt_attn.norm.query_norm.": "attn.norm_added_q.", "txt_attn.norm.key_norm.": "attn.norm_added_k.",
		} {
			if strings.HasPrefix(rest, native) {
				e := end
				if e == "scale" {
					e = "weight"
				}
				return whole(d + diff + e), false
			}
		}
	}
	if strings.HasPrefix(block, "single_blocks.") {
		d := "single_transformer_blocks." + strings.TrimPrefix(block, "single_blocks.") + "."
		if strings.HasPrefix(rest, "linear1.") {
			return split(d, "attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"), false
		}
		for native, diff := range map[string]string{
			"linear2.": "proj_out.", "modulation.lin.": "norm.linear.", "norm.query_norm.": "attn.norm_q.", "norm.key_norm.": "attn.norm_k.",
		} {
			if strings.HasPrefix(rest, native) {
				e := end
				if e == "scale" {
					e = "weight"
				}
				return whole(d + diff + e), false
			}
		}
	}
	for native, diff := range map[string]string{
		"img_in.": "x_embedder.", "txt_in.": "context_embedder.", "time_in.in_layer.": "time_text_embed.timestep_embedder.linear_1.",
		"time_in.out_layer.": "time_text_embed.timestep_embedder.linear_2.", "vector_in.in_layer.": "time_text_embed.text_embedder.linear_1.",
		"vector_in.out_layer.": "time_text_embed.text_embedder.linear_2.", "guidance_in.in_layer.": "time_text_embed.guidance_embedder.linear_1.",
		"guidance_in.out_layer.": "time_text_embed.guidance_embedder.linear_2.", "final_layer.linear.": "proj_out.",
		"final_layer.adaLN_modulation.1.": "norm_out.linear.",
	} {
		if strings.HasPrefix(k, native) {
			return whole(diff + end), native == "final_layer.adaLN_modulation.1."
		}
	}
	return nil, false
}

// TestDiffusersFlux: a diffusers FluxTransformer2DModel gives the golden
// checkpoint; fused qkv/linear1 are the q, k, v (and mlp) tensors one after
// another, the final modulation is the diffusers tensor's halves swapped.
func TestDiffusersFlux(t *testing.T) {
	native := oracleManifest(t, "flux_dev", "unet")
	h := int64(3072)
	var ts []testTensor
	want := map[string][]segment{}
	seen := map[string]bool{}
	for _, e := range native.Tensors {
		pieces, swap := fluxDiffusersPieces(e.Key, e.Shape, h)
		if pieces == nil {
			t.Fatalf("no diffusers name for %s", e.Key)
		}
		n, _ := e.NumBytes()
		rowBytes := n / e.Shape[0]
		for _, p := range pieces {
			if seen[p.key] {
				t.Fatalf("%s used twice", p.key)
			}
			seen[p.key] = true
			ts = append(ts, testTensor{Name: p.key, DType: safetensors.DType(e.DType), Shape: append([]int64{p.rows}, e.Shape[1:]...)})
			want[e.Key] = append(want[e.Key], segment{File: "flux_diffusers", Tensor: p.key, End: p.rows * rowBytes})
		}
		if swap {
			half := n / 2
			want[e.Key] = []segment{
				{File: "flux_diffusers", Tensor: pieces[0].key, Start: half, End: n},
				{File: "flux_diffusers", Tensor: pieces[0].key, Start: 0, End: half},
			}
		}
	}
	req := componentRequest(t, "flux_dev", "clip_l", "t5xxl")
	req.Model = makeInput(t, "flux_diffusers", ts, nil)
	p, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, p, oracleManifest(t, "flux_dev", "expected_checkpoint"))
	segs, _ := provenance(t, p)
	var bad []string
	for k, w := range want {
		got := segs[comfy.PrefixDiffusion+k]
		if fmt.Sprint(got) != fmt.Sprint(w) {
			bad = append(bad, fmt.Sprintf("%s: %+v, want %+v", k, got, w))
		}
	}
	sort.Strings(bad)
	for _, b := range bad[:min(len(bad), 10)] {
		t.Error(b)
	}
}

// sd3DiffusersPieces is the diffusers SD3Transformer2DModel layout of a
// native MMDiT key (see fluxDiffusersPieces).
func sd3DiffusersPieces(k string, shape []int64, h int64, lastBlock string) (pieces []fluxPiece, swap bool) {
	end := k[strings.LastIndex(k, ".")+1:]
	whole := func(name string) []fluxPiece { return []fluxPiece{{name, 0, shape[0]}} }
	if strings.HasPrefix(k, "joint_blocks.") {
		rest := strings.TrimPrefix(k, "joint_blocks.")
		i := rest[:strings.Index(rest, ".")]
		rest = rest[len(i)+1:]
		d := "transformer_blocks." + i + "."
		split := func(names ...string) []fluxPiece {
			var out []fluxPiece
			for j, n := range names {
				out = append(out, fluxPiece{d + "attn." + n + "." + end, int64(j) * h, h})
			}
			return out
		}
		switch {
		case strings.HasPrefix(rest, "x_block.attn.qkv."):
			return split("to_q", "to_k", "to_v"), false
		case strings.HasPrefix(rest, "context_block.attn.qkv."):
			return split("add_q_proj", "add_k_proj", "add_v_proj"), false
		}
		for native, diff := range map[string]string{
			"x_block.attn.proj.": "attn.to_out.0.", "context_block.attn.proj.": "attn.to_add_out.",
			"x_block.mlp.fc1.": "ff.net.0.proj.", "x_block.mlp.fc2.": "ff.net.2.",
			"context_block.mlp.fc1.": "ff_context.net.0.proj.", "context_block.mlp.fc2.": "ff_context.net.2.",
			"x_block.adaLN_modulation.1.": "norm1.linear.", "context_block.adaLN_modulation.1.": "norm1_context.linear.",
		} {
			if strings.HasPrefix(rest, native) {
				return whole(d + diff + end), i == lastBlock && native == "context_block.adaLN_modulation.1."
			}
		}
		return nil, false
	}
	if k == "pos_embed" {
		return whole("pos_embed.pos_embed"), false
	}
	for native, diff := range map[string]string{
		"x_embedder.proj.": "pos_embed.proj.", "t_embedder.mlp.0.": "time_text_embed.timestep_embedder.linear_1.",
		"t_embedder.mlp.2.": "time_text_embed.timestep_embedder.linear_2.", "y_embedder.mlp.0.": "time_text_embed.text_embedder.linear_1.",
		"y_embedder.mlp.2.": "time_text_embed.text_embedder.linear_2.", "context_embedder.": "context_embedder.",
		"final_layer.linear.": "proj_out.", "final_layer.adaLN_modulation.1.": "norm_out.linear.",
	} {
		if strings.HasPrefix(k, native) {
			return whole(diff + end), native == "final_layer.adaLN_modulation.1."
		}
	}
	return nil, false
}

// TestDiffusersSD3: a diffusers SD3 transformer gives the golden
// checkpoint (qkv fused from q, k, v; the last block's context modulation
// and the final modulation swapped).
func TestDiffusersSD3(t *testing.T) {
	native := oracleManifest(t, "sd3_medium", "unet")
	var ts []testTensor
	want := map[string][]segment{}
	for _, e := range native.Tensors {
		pieces, swap := sd3DiffusersPieces(e.Key, e.Shape, 1536, "23")
		if pieces == nil {
			t.Fatalf("no diffusers name for %s", e.Key)
		}
		n, _ := e.NumBytes()
		rowBytes := n / e.Shape[0]
		for _, p := range pieces {
			ts = append(ts, testTensor{Name: p.key, DType: safetensors.DType(e.DType), Shape: append([]int64{p.rows}, e.Shape[1:]...)})
			want[e.Key] = append(want[e.Key], segment{File: "sd3_diffusers", Tensor: p.key, End: p.rows * rowBytes})
		}
		if swap {
			want[e.Key] = []segment{{File: "sd3_diffusers", Tensor: pieces[0].key, Start: n / 2, End: n}, {File: "sd3_diffusers", Tensor: pieces[0].key, End: n / 2}}
		}
	}
	req := componentRequest(t, "sd3_medium", "clip_l", "clip_g", "t5xxl")
	req.Model = makeInput(t, "sd3_diffusers", ts, nil)
	p, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, p, oracleManifest(t, "sd3_medium", "expected_checkpoint"))
	segs, _ := provenance(t, p)
	var bad []string
	for k, w := range want {
		if got := segs[comfy.PrefixDiffusion+k]; fmt.Sprint(got) != fmt.Sprint(w) {
			bad = append(bad, fmt.Sprintf("%s: %+v, want %+v", k, got, w))
		}
	}
	sort.Strings(bad)
	for _, b := range bad[:min(len(bad), 10)] {
		t.Error(b)
	}
}
