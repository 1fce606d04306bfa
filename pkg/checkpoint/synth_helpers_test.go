package checkpoint

import (
	"fmt"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Synthetic UNet state dicts for the planning tests; the same builders as
// package comfy's detection tests (test helpers cannot cross packages).

// shapes builds a state dict of shape-only tensors.
func shapes(kv map[string][]int64) comfy.StateDict {
	sd := comfy.StateDict{}
	for k, s := range kv {
		sd[k] = &comfy.TensorSource{DType: safetensors.DTypeF16, Shape: s}
	}
	return sd
}

// unetLevel is one resolution level of a synthetic UNet: res blocks and
// the transformer depth of each.
type unetLevel struct{ res, depth int }

// synthUNet builds the keys detect_unet_config reads for an SD-family UNet.
func synthUNet(mc, in, ctx, adm int64, linear, temporal bool, levels []unetLevel) comfy.StateDict {
	kv := map[string][]int64{"input_blocks.0.0.weight": {mc, in, 3, 3}, "out.2.weight": {4, mc, 3, 3}}
	if adm > 0 {
		kv["label_emb.0.0.weight"] = []int64{mc * 4, adm}
	}
	n := 1
	for l, lv := range levels {
		for r := 0; r < lv.res; r++ {
			p := fmt.Sprintf("input_blocks.%d.", n)
			kv[p+"0.in_layers.0.weight"] = []int64{mc}
			kv[p+"0.out_layers.3.weight"] = []int64{mc, mc, 3, 3}
			if lv.depth > 0 {
				if linear {
					kv[p+"1.proj_in.weight"] = []int64{mc, mc}
				} else {
					kv[p+"1.proj_in.weight"] = []int64{mc, mc, 1, 1}
				}
				for t := 0; t < lv.depth; t++ {
					kv[fmt.Sprintf("%s1.transformer_blocks.%d.attn2.to_k.weight", p, t)] = []int64{mc, ctx}
				}
				if temporal {
					kv[p+"1.time_stack.0.attn1.to_q.weight"] = []int64{mc, mc}
				}
			}
			n++
		}
		if l < len(levels)-1 {
			kv[fmt.Sprintf("input_blocks.%d.0.op.weight", n)] = []int64{mc, mc, 3, 3}
			n++
		}
	}
	return shapes(kv)
}

func levels(res int, depths ...int) []unetLevel {
	out := make([]unetLevel, len(depths))
	for i, d := range depths {
		out[i] = unetLevel{res, d}
	}
	return out
}

// TestDetectArchitectures runs the signature table over minimal key sets,
// one per class the signature keys can tell apart.
