// Package synth builds synthetic tensor layouts for tests: key names and
// shapes only, no data. It holds no model knowledge of its own; the keys
// are the ones ComfyUI's detect_unet_config reads.
package synth

import "fmt"

// UNetLevel is one resolution level of a synthetic UNet: its res blocks
// and the transformer depth of each.
type UNetLevel struct{ Res, Depth int }

// Levels gives len(depths) levels of res blocks each.
func Levels(res int, depths ...int) []UNetLevel {
	out := make([]UNetLevel, len(depths))
	for i, d := range depths {
		out[i] = UNetLevel{res, d}
	}
	return out
}

// UNetShapes returns the keys and shapes detect_unet_config reads for an
// SD-family UNet with model channels mc, in input channels, context
// dimension ctx and (when adm > 0) a label embedding of adm inputs.
func UNetShapes(mc, in, ctx, adm int64, linear, temporal bool, levels []UNetLevel) map[string][]int64 {
	kv := map[string][]int64{"input_blocks.0.0.weight": {mc, in, 3, 3}, "out.2.weight": {4, mc, 3, 3}}
	if adm > 0 {
		kv["label_emb.0.0.weight"] = []int64{mc * 4, adm}
	}
	n := 1
	for l, lv := range levels {
		for r := 0; r < lv.Res; r++ {
			p := fmt.Sprintf("input_blocks.%d.", n)
			kv[p+"0.in_layers.0.weight"] = []int64{mc}
			kv[p+"0.out_layers.3.weight"] = []int64{mc, mc, 3, 3}
			if lv.Depth > 0 {
				if linear {
					kv[p+"1.proj_in.weight"] = []int64{mc, mc}
				} else {
					kv[p+"1.proj_in.weight"] = []int64{mc, mc, 1, 1}
				}
				for t := 0; t < lv.Depth; t++ {
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
	return kv
}
