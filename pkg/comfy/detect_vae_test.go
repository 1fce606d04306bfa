package comfy

import "testing"

// TestDetectVAE: VAE families by their marker keys.
func TestDetectVAE(t *testing.T) {
	cases := []struct {
		kind string
		kv   map[string][]int64
		has  []string
	}{
		{vaeKL4, map[string][]int64{"decoder.conv_in.weight": {512, 4, 3, 3}, "loss.logvar": {}}, []string{"decoder.conv_in.weight"}},
		{vaeKL16, map[string][]int64{"decoder.conv_in.weight": {512, 16, 3, 3}}, nil},
		{vaeKL32, map[string][]int64{"decoder.conv_in.weight": {512, 32, 3, 3}, "decoder.post_quant_conv.weight": {32, 32, 1, 1}, "encoder.quant_conv.weight": {64, 64, 1, 1}}, []string{"post_quant_conv.weight", "quant_conv.weight"}},
		{vaeSVD, map[string][]int64{"decoder.mid.block_1.mix_factor": {1}, "decoder.conv_in.weight": {512, 4, 3, 3}}, nil},
		{vaeWan21, map[string][]int64{"decoder.middle.0.residual.0.gamma": {1}}, nil},
		{vaeWan22, map[string][]int64{"decoder.middle.0.residual.0.gamma": {1}, "decoder.upsamples.0.upsamples.0.residual.2.weight": {1}}, nil},
		{vaeHunyuanVid, map[string][]int64{"decoder.conv_in.conv.weight": {512, 16, 3, 3, 3}}, nil},
		{vaeHunyuan15, map[string][]int64{"decoder.conv_in.conv.weight": {1024, 32, 3, 3, 3}}, nil},
		{vaeLTXV, map[string][]int64{"decoder.up_blocks.0.res_blocks.0.conv1.conv.weight": {1}}, nil},
		{vaeCosmos, map[string][]int64{"decoder.unpatcher3d.wavelets": {1}}, nil},
		{vaeAudio, map[string][]int64{"decoder.layers.1.layers.0.beta": {1}}, nil},
		{vaeCascade, map[string][]int64{"backbone.1.0.block.0.1.num_batches_tracked": {}}, []string{"encoder.backbone.1.0.block.0.1.num_batches_tracked"}},
	}
	for _, c := range cases {
		kind, _, out, ok, err := detectVAE(shapes(c.kv))
		if err != nil || !ok || kind != c.kind {
			t.Errorf("%v: kind %q ok %v err %v, want %s", c.kv, kind, ok, err, c.kind)
			continue
		}
		for _, k := range c.has {
			if !out.Has(k) {
				t.Errorf("%s: missing %s in %v", c.kind, k, out.SortedKeys())
			}
		}
		if out.hasPrefix("loss.") {
			t.Errorf("%s: loss keys kept", c.kind)
		}
	}
	if _, _, _, ok, _ := detectVAE(shapes(map[string][]int64{"encoder.block.0.x": {1}})); ok {
		t.Error("a T5 detected as a VAE")
	}
}
