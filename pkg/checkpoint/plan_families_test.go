package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// tensorsOf indexes a plan's tensors by name.
func tensorsOf(p *Plan) map[string]safetensors.Tensor {
	out := map[string]safetensors.Tensor{}
	for _, x := range p.Tensors {
		out[x.Name] = x
	}
	return out
}

func requireKeys(t *testing.T, p *Plan, keys ...string) {
	t.Helper()
	have := tensorsOf(p)
	for _, k := range keys {
		if _, ok := have[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
}

func forbidPrefix(t *testing.T, p *Plan, prefixes ...string) {
	t.Helper()
	for _, x := range p.Tensors {
		for _, pre := range prefixes {
			if strings.HasPrefix(x.Name, pre) {
				t.Errorf("unexpected %s", x.Name)
			}
		}
	}
}

// umt5Input is the flux_dev T5-XXL made into a UMT5-XXL (relative
// attention bias in every block), with or without the tokenizer blob.
func umt5Input(t *testing.T, withTokenizer bool) Input {
	ts := manifestTensors(t, oracleManifest(t, "flux_dev", "t5xxl"))
	ts = append(ts, testTensor{Name: "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight", DType: "F16", Shape: []int64{32, 64}})
	if withTokenizer {
		ts = append(ts, testTensor{Name: "spiece_model", DType: "U8", Shape: []int64{4096}})
	}
	return makeInput(t, "umt5_xxl", ts, nil)
}

func TestWan(t *testing.T) {
	model := makeInput(t, "wan_t2v", []testTensor{
		{Name: "head.modulation", DType: "F32", Shape: []int64{1, 2, 5120}},
		{Name: "head.head.weight", DType: "BF16", Shape: []int64{64, 5120}},
		{Name: "patch_embedding.weight", DType: "BF16", Shape: []int64{5120, 16, 1, 2, 2}},
		{Name: "blocks.0.self_attn.q.weight", DType: "BF16", Shape: []int64{5120, 5120}},
	}, nil)
	vae := makeInput(t, "wan_vae", []testTensor{
		{Name: "decoder.middle.0.residual.0.gamma", DType: "F32", Shape: []int64{384, 1, 1, 1}},
		{Name: "encoder.conv1.weight", DType: "F32", Shape: []int64{96, 3, 3, 3, 3}},
	}, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{umt5Input(t, true)}, VAE: vae, Title: "ComfyUI 1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "WAN21_T2V" {
		t.Errorf("architecture %s", p.Architecture)
	}
	requireKeys(t, p, "model.diffusion_model.head.modulation", "text_encoders.umt5xxl.transformer.shared.weight",
		"text_encoders.umt5xxl.logit_scale", "text_encoders.spiece_model", "vae.decoder.middle.0.residual.0.gamma")
	if x := tensorsOf(p)["text_encoders.spiece_model"]; x.DType != "U8" || x.End-x.Begin != 4096 {
		t.Errorf("spiece_model: %+v", x)
	}
	if len(p.Metadata) != 1 || p.Metadata["prompt"] != "" {
		t.Errorf("metadata %v (Wan: no modelspec, no predict_key)", p.Metadata)
	}
	// The tokenizer is required; a plain T5-XXL is not Wan's encoder.
	_, err = PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{umt5Input(t, false)}, VAE: vae})
	if !errors.Is(err, ErrMissingComponent) || !strings.Contains(err.Error(), "spiece_model") || !strings.Contains(err.Error(), "umt5_xxl") {
		t.Errorf("no tokenizer: %v", err)
	}
	_, err = PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{manifestInput(t, "flux_dev", "t5xxl")}, VAE: vae})
	if !errors.Is(err, ErrArchMismatch) || !strings.Contains(err.Error(), "UMT5-XXL") {
		t.Errorf("t5xxl for wan: %v", err)
	}
}

// TestChroma: Chroma keeps the class defaults cond_stage_model./first_stage_model.
func TestChroma(t *testing.T) {
	var ts []testTensor
	for _, x := range manifestTensors(t, oracleManifest(t, "flux_dev", "unet")) {
		if !strings.HasPrefix(x.Name, "guidance_in.") && !strings.HasPrefix(x.Name, "vector_in.") {
			ts = append(ts, x)
		}
	}
	ts = append(ts, testTensor{Name: "distilled_guidance_layer.norms.0.scale", DType: "BF16", Shape: []int64{5120}})
	model := makeInput(t, "chroma", ts, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{manifestInput(t, "flux_dev", "t5xxl")}, VAE: manifestInput(t, "flux_dev", "vae")})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "Chroma" {
		t.Errorf("architecture %s", p.Architecture)
	}
	requireKeys(t, p, "model.diffusion_model.distilled_guidance_layer.norms.0.scale", "cond_stage_model.t5xxl.transformer.shared.weight",
		"cond_stage_model.t5xxl.logit_scale", "first_stage_model.decoder.conv_in.weight")
	forbidPrefix(t, p, "text_encoders.", "vae.")
	_, err = PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{manifestInput(t, "flux_dev", "t5xxl"), manifestInput(t, "flux_dev", "clip_l")}, VAE: manifestInput(t, "flux_dev", "vae")})
	if !errors.Is(err, ErrArchMismatch) || !strings.Contains(err.Error(), "Chroma") {
		t.Errorf("clip_l for chroma: %v", err)
	}
}

// TestLTXVConfig: the source's "config" metadata, which LTXV detection
// reads and ComfyUI loses, is kept.
func TestLTXVConfig(t *testing.T) {
	config := `{"transformer": {"num_layers": 28}, "vae": {"timestep_conditioning": true}}`
	model := makeInput(t, "ltxv", []testTensor{
		{Name: "adaln_single.emb.timestep_embedder.linear_1.bias", DType: "BF16", Shape: []int64{2048}},
		{Name: "transformer_blocks.0.attn2.to_k.weight", DType: "BF16", Shape: []int64{2048, 4096}},
	}, map[string]string{"config": config})
	vae := makeInput(t, "ltxv_vae", []testTensor{{Name: "decoder.up_blocks.0.res_blocks.0.conv1.conv.weight", DType: "BF16", Shape: []int64{8, 8, 3, 3, 3}}}, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{manifestInput(t, "flux_dev", "t5xxl")}, VAE: vae})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "LTXV" || p.Metadata["config"] != config {
		t.Errorf("%s, metadata %v", p.Architecture, p.Metadata)
	}
	requireKeys(t, p, "text_encoders.t5xxl.transformer.shared.weight", "vae.decoder.up_blocks.0.res_blocks.0.conv1.conv.weight")
}

// TestPrefixedFamilies: Hunyuan3D (prefix "model.", no text encoder) and
// HunyuanVideo (prefix "model.model.") checkpoints re-plan to themselves.
func TestPrefixedFamilies(t *testing.T) {
	h3d := makeInput(t, "hunyuan3d", []testTensor{
		{Name: "model.latent_in.weight", DType: "F16", Shape: []int64{1024, 64}},
		{Name: "model.blocks.0.attn.qkv.weight", DType: "F16", Shape: []int64{3072, 1024}},
		{Name: "vae.decoder.x.weight", DType: "F16", Shape: []int64{8}},
	}, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: h3d})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "Hunyuan3Dv2" || len(p.Tensors) != 3 {
		t.Errorf("%s %v", p.Architecture, sortedNames(p.Tensors))
	}
	requireKeys(t, p, "model.latent_in.weight", "model.blocks.0.attn.qkv.weight", "vae.decoder.x.weight")
	if _, err := PlanCheckpoint(SaveRequest{Model: h3d, Clip: []Input{manifestInput(t, "flux_dev", "clip_l")}}); !errors.Is(err, ErrArchMismatch) {
		t.Errorf("text encoder for Hunyuan3D: %v", err)
	}

	var ts []testTensor
	for _, k := range []string{"txt_in.individual_token_refiner.blocks.0.norm1.weight", "vector_in.in_layer.weight", "double_blocks.0.img_attn_qkv.weight",
		"double_blocks.0.img_mod.linear.weight", "single_blocks.0.linear1.weight", "final_layer.linear.weight"} {
		ts = append(ts, testTensor{Name: "model.model." + k, DType: "BF16", Shape: []int64{16}})
	}
	ts = append(ts, testTensor{Name: "model.model.img_in.proj.weight", DType: "BF16", Shape: []int64{3072, 16, 1, 2, 2}})
	ts = append(ts, testTensor{Name: "vae.decoder.conv_in.conv.weight", DType: "BF16", Shape: []int64{512, 16, 3, 3, 3}})
	for _, x := range manifestTensors(t, oracleManifest(t, "flux_dev", "clip_l")) {
		if strings.HasPrefix(x.Name, "text_model.") {
			x.Name = "text_encoders.clip_l.transformer." + x.Name
			ts = append(ts, x)
		}
	}
	ts = append(ts, testTensor{Name: "text_encoders.llama.transformer.model.layers.0.post_attention_layernorm.weight", DType: "BF16", Shape: []int64{4096}})
	hv := makeInput(t, "hunyuan_video", ts, nil)
	p, err = PlanCheckpoint(SaveRequest{Model: hv, Clip: []Input{hv}, VAE: hv})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "HunyuanVideo" {
		t.Errorf("architecture %s", p.Architecture)
	}
	requireKeys(t, p, "model.model.img_in.proj.weight", "vae.decoder.conv_in.conv.weight", "text_encoders.llama.logit_scale",
		"text_encoders.llama.transformer.model.layers.0.post_attention_layernorm.weight", "text_encoders.clip_l.logit_scale")
}

// sdxlCheckpointWith is the golden SDXL checkpoint plus top-level markers.
func sdxlCheckpointWith(t *testing.T, markers ...testTensor) Input {
	m := oracleManifest(t, "sdxl_base", "expected_checkpoint")
	return makeInput(t, "checkpoint", append(manifestTensors(t, m), markers...), manifestMeta(m))
}

// TestSDXLMarkers: SDXL.model_type reads v_pred/ztsnr/edm_* from a full
// checkpoint; the request can override; Playground's edm_mean/edm_std are
// kept (ComfyUI loses them).
func TestSDXLMarkers(t *testing.T) {
	empty := func(name string) testTensor { return testTensor{Name: name, DType: "F32", Shape: []int64{0}} }
	scalar := func(name string, v float32) testTensor {
		return testTensor{Name: name, DType: "F32", Shape: []int64{}, Data: f32le(v)}
	}
	cases := []struct {
		name    string
		markers []testTensor
		pred    Prediction
		key     string
		has     []string
		hasNot  []string
	}{
		{"v zsnr", []testTensor{empty("v_pred"), empty("ztsnr")}, PredictionAuto, "v", []string{"v_pred", "ztsnr"}, nil},
		{"v forced eps", []testTensor{empty("v_pred"), empty("ztsnr")}, PredictionEps, "epsilon", nil, []string{"v_pred", "ztsnr"}},
		{"forced v", nil, PredictionV, "v", []string{"v_pred"}, []string{"ztsnr"}},
		{"playground", []testTensor{{Name: "edm_mean", DType: "F32", Shape: []int64{1, 4, 1, 1}}, {Name: "edm_std", DType: "F32", Shape: []int64{1, 4, 1, 1}}}, PredictionAuto, "", []string{"edm_mean", "edm_std"}, []string{"v_pred"}},
		{"cosxl", []testTensor{scalar("edm_vpred.sigma_max", 120), scalar("edm_vpred.sigma_min", 0.002)}, PredictionAuto, "", []string{"edm_vpred.sigma_max", "edm_vpred.sigma_min"}, []string{"v_pred"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ckpt := sdxlCheckpointWith(t, c.markers...)
			p, err := PlanCheckpoint(SaveRequest{Model: ckpt, Prediction: c.pred})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Metadata["modelspec.predict_key"]; got != c.key {
				t.Errorf("predict_key %q, want %q", got, c.key)
			}
			have := tensorsOf(p)
			for _, k := range c.has {
				if _, ok := have[k]; !ok {
					t.Errorf("missing %s", k)
				}
			}
			for _, k := range c.hasNot {
				if _, ok := have[k]; ok {
					t.Errorf("unexpected %s", k)
				}
			}
			segs, _ := provenance(t, p)
			for _, k := range []string{"edm_mean", "edm_vpred.sigma_max"} {
				if _, ok := have[k]; ok && (len(segs[k]) != 1 || segs[k][0].Tensor != k) {
					t.Errorf("%s not copied from the checkpoint: %+v", k, segs[k])
				}
			}
		})
	}
}

// TestQuantizationMetadata: _quantization_metadata layers are renamed to
// the output names; layers that are not written are dropped.
func TestQuantizationMetadata(t *testing.T) {
	m := oracleManifest(t, "flux_dev", "unet")
	unet := makeInput(t, "unet_fp8", manifestTensors(t, m), map[string]string{
		comfy.QuantizationMetadataKey: `{"format_version": "1.0", "layers": {"double_blocks.0.img_attn.qkv": {"format": "float8_e4m3fn"}, "gone": {"format": "float8_e4m3fn"}}}`,
	})
	tm := oracleManifest(t, "flux_dev", "t5xxl")
	t5 := makeInput(t, "t5_fp8", manifestTensors(t, tm), map[string]string{
		comfy.QuantizationMetadataKey: `{"format_version": "1.0", "layers": {"encoder.block.0.layer.0.SelfAttention.k": {"format": "float8_e4m3fn"}}}`,
	})
	req := componentRequest(t, "flux_dev", "clip_l")
	req.Model, req.Clip = unet, append(req.Clip, t5)
	p, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format_version": "1.0", "layers": {"model.diffusion_model.double_blocks.0.img_attn.qkv": {"format": "float8_e4m3fn"}, "text_encoders.t5xxl.transformer.encoder.block.0.layer.0.SelfAttention.k": {"format": "float8_e4m3fn"}}}`
	if got := p.Metadata[comfy.QuantizationMetadataKey]; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestScaledFP8: the old scaled-fp8 marker and per-layer scales travel
// with their component, where ComfyUI 0.3.64 writes them
// (model.diffusion_model.scaled_fp8, <te>.transformer.scaled_fp8).
func TestScaledFP8(t *testing.T) {
	unet := append(manifestTensors(t, oracleManifest(t, "flux_dev", "unet")),
		testTensor{Name: "scaled_fp8", DType: "F8_E4M3", Shape: []int64{0}},
		testTensor{Name: "double_blocks.0.img_attn.qkv.scale_weight", DType: "F32", Shape: []int64{}})
	t5 := append(manifestTensors(t, oracleManifest(t, "flux_dev", "t5xxl")),
		testTensor{Name: "scaled_fp8", DType: "F8_E4M3", Shape: []int64{0}},
		testTensor{Name: "encoder.block.0.layer.0.SelfAttention.k.scale_weight", DType: "F32", Shape: []int64{}})
	req := componentRequest(t, "flux_dev", "clip_l")
	req.Model = makeInput(t, "flux_fp8_scaled", unet, nil)
	req.Clip = append(req.Clip, makeInput(t, "t5xxl_fp8_scaled", t5, nil))
	p, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	requireKeys(t, p, "model.diffusion_model.scaled_fp8", "model.diffusion_model.double_blocks.0.img_attn.qkv.scale_weight",
		"text_encoders.t5xxl.transformer.scaled_fp8", "text_encoders.t5xxl.transformer.encoder.block.0.layer.0.SelfAttention.k.scale_weight")
}

// TestSVD: SVD has no text encoder; as V_PREDICTION_EDM it gets
// edm_vpred.sigma_max/min (F32 scalars) and no predict_key; its modelspec
// architecture is stable-video-diffusion-img2vid-v1.
func TestSVD(t *testing.T) {
	sd := synthUNet(320, 8, 1024, 768, true, true, levels(2, 1, 1, 1, 0))
	model := makeInput(t, "svd", stateDictTensors(sd, "F16"), nil)
	vae := makeInput(t, "svd_vae", []testTensor{
		{Name: "decoder.mid.block_1.mix_factor", DType: "F32", Shape: []int64{1}},
		{Name: "decoder.conv_in.weight", DType: "F32", Shape: []int64{512, 4, 3, 3}},
	}, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: model, VAE: vae, Title: "ComfyUI 1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "SVD_img2vid" {
		t.Fatalf("architecture %s", p.Architecture)
	}
	if p.Metadata["modelspec.architecture"] != "stable-video-diffusion-img2vid-v1" || p.Metadata["modelspec.title"] != "ComfyUI 1" {
		t.Errorf("metadata %v", p.Metadata)
	}
	if _, ok := p.Metadata["modelspec.predict_key"]; ok {
		t.Errorf("V_PREDICTION_EDM writes no predict_key")
	}
	_, inline := provenance(t, p)
	for k, want := range map[string]float32{"edm_vpred.sigma_max": 700, "edm_vpred.sigma_min": 0.002} {
		x := tensorsOf(p)[k]
		if x.DType != "F32" || len(x.Shape) != 0 {
			t.Errorf("%s: %+v", k, x)
		}
		got := math.Float32frombits(binary.LittleEndian.Uint32(inline[k]))
		if math.Abs(float64(got-want))/float64(want) > 1e-6 {
			t.Errorf("%s = %v, want about %v", k, got, want)
		}
	}
	forbidPrefix(t, p, "cond_stage_model.", "conditioner.", "v_pred")
	requireKeys(t, p, "first_stage_model.decoder.mid.block_1.mix_factor")
}

// TestStableAudio: model.model. prefix, pretransform.model. VAE, T5-base,
// and the seconds embedders StableAudio1.state_dict_for_saving writes.
func TestStableAudio(t *testing.T) {
	ts := []testTensor{
		{Name: "model.model.transformer.rotary_pos_emb.inv_freq", DType: "F32", Shape: []int64{32}},
		{Name: "conditioner.conditioners.seconds_start.embedder.embedding.1.weight", DType: "F32", Shape: []int64{768, 257}},
		{Name: "conditioner.conditioners.seconds_total.embedder.embedding.1.weight", DType: "F32", Shape: []int64{768, 257}},
		{Name: "pretransform.model.decoder.layers.1.layers.0.beta", DType: "F32", Shape: []int64{1, 1024, 1}},
		{Name: "text_encoders.t5base.transformer.encoder.block.0.layer.0.SelfAttention.k.weight", DType: "F32", Shape: []int64{768, 768}},
		{Name: "text_encoders.t5base.transformer.shared.weight", DType: "F32", Shape: []int64{32128, 768}},
	}
	for i := 0; i < 6; i++ {
		ts = append(ts, testTensor{Name: fmt.Sprintf("model.model.transformer.layers.%d.w", i), DType: "F32", Shape: []int64{4}})
	}
	ckpt := makeInput(t, "stable_audio_open", ts, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: ckpt, Clip: []Input{ckpt}, VAE: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "StableAudio" {
		t.Errorf("architecture %s", p.Architecture)
	}
	var want []string
	for _, x := range ts {
		want = append(want, x.Name)
	}
	want = append(want, "text_encoders.t5base.logit_scale")
	sort.Strings(want)
	if got := sortedNames(p.Tensors); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// TestHunyuanVideoRenames: a HunyuanVideo diffusion model in the original
// Tencent names is written under the names ComfyUI holds it in (its
// load-side renames), prefixed model.model.; already renamed keys stay.
func TestHunyuanVideoRenames(t *testing.T) {
	renames := map[string]string{
		"double_blocks.0.img_attn_qkv.weight":                         "double_blocks.0.img_attn.qkv.weight",
		"double_blocks.0.img_attn_proj.weight":                        "double_blocks.0.img_attn.proj.weight",
		"double_blocks.0.img_mlp.fc1.weight":                          "double_blocks.0.img_mlp.0.weight",
		"double_blocks.0.txt_mlp.fc2.bias":                            "double_blocks.0.txt_mlp.2.bias",
		"double_blocks.0.img_mod.linear.weight":                       "double_blocks.0.img_mod.lin.weight",
		"double_blocks.0.img_attn_q_norm.weight":                      "double_blocks.0.img_attn.norm.query_norm.scale",
		"double_blocks.0.txt_attn_k_norm.weight":                      "double_blocks.0.txt_attn.norm.key_norm.scale",
		"single_blocks.0.q_norm.weight":                               "single_blocks.0.norm.query_norm.scale",
		"single_blocks.0.modulation.linear.weight":                    "single_blocks.0.modulation.lin.weight",
		"time_in.mlp.0.weight":                                        "time_in.in_layer.weight",
		"time_in.mlp.2.bias":                                          "time_in.out_layer.bias",
		"txt_in.t_embedder.mlp.0.weight":                              "txt_in.t_embedder.in_layer.weight",
		"txt_in.c_embedder.linear_2.bias":                             "txt_in.c_embedder.out_layer.bias",
		"txt_in.individual_token_refiner.blocks.0.mlp.fc1.weight":     "txt_in.individual_token_refiner.blocks.0.mlp.0.weight",
		"txt_in.individual_token_refiner.blocks.0.norm1.weight":       "txt_in.individual_token_refiner.blocks.0.norm1.weight",
		"txt_in.individual_token_refiner.blocks.0.self_attn_qkv.bias": "txt_in.individual_token_refiner.blocks.0.self_attn.qkv.bias",
		"vector_in.in_layer.weight":                                   "vector_in.in_layer.weight",
		"img_in.proj.weight":                                          "img_in.proj.weight",
		"double_blocks.1.img_attn.qkv.weight":                         "double_blocks.1.img_attn.qkv.weight", // already ComfyUI's
	}
	var ts []testTensor
	for k := range renames {
		shape := []int64{8}
		if k == "img_in.proj.weight" {
			shape = []int64{3072, 16, 1, 2, 2}
		}
		ts = append(ts, testTensor{Name: k, DType: "BF16", Shape: shape})
	}
	model := makeInput(t, "hunyuan_video_t2v", ts, nil)
	ckpt := makeInput(t, "te_vae", []testTensor{
		{Name: "text_encoders.clip_l.transformer.text_model.encoder.layers.0.mlp.fc1.weight", DType: "F16", Shape: []int64{3072, 768}},
		{Name: "text_encoders.llama.transformer.model.layers.0.post_attention_layernorm.weight", DType: "BF16", Shape: []int64{4096}},
		{Name: "vae.decoder.conv_in.conv.weight", DType: "BF16", Shape: []int64{512, 16, 3, 3, 3}},
	}, nil)
	p, err := PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{ckpt}, VAE: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "HunyuanVideo" {
		t.Errorf("architecture %s", p.Architecture)
	}
	segs, _ := provenance(t, p)
	for from, to := range renames {
		if s := segs["model.model."+to]; len(s) != 1 || s[0].Tensor != from {
			t.Errorf("model.model.%s: %+v, want %s", to, s, from)
		}
	}
}

// TestSDXLRefiner: the refiner's CLIP-G goes to conditioner.embedders.0.model
// in OpenCLIP layout (SDXLRefiner.process_clip_state_dict_for_saving).
func TestSDXLRefiner(t *testing.T) {
	sd := synthUNet(384, 4, 1280, 2560, true, false, levels(2, 0, 4, 4, 0))
	model := makeInput(t, "refiner_unet", stateDictTensors(sd, "F16"), nil)
	p, err := PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{manifestInput(t, "sdxl_base", "clip_g")}, VAE: manifestInput(t, "sdxl_base", "vae"), Title: "ComfyUI 1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Architecture != "SDXLRefiner" || p.Metadata["modelspec.architecture"] != "stable-diffusion-xl-v1-refiner" || p.Metadata["modelspec.predict_key"] != "epsilon" {
		t.Errorf("%s %v", p.Architecture, p.Metadata)
	}
	// The CLIP-G keys are the SDXL golden ones moved from embedders.1 to embedders.0.
	var want []string
	for _, e := range oracleManifest(t, "sdxl_base", "expected_checkpoint").Tensors {
		if strings.HasPrefix(e.Key, "conditioner.embedders.1.model.") {
			want = append(want, "conditioner.embedders.0.model."+strings.TrimPrefix(e.Key, "conditioner.embedders.1.model."))
		}
	}
	var got []string
	for _, x := range p.Tensors {
		if strings.HasPrefix(x.Name, "conditioner.") {
			got = append(got, x.Name)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("refiner text encoder keys:\n got %d %v\nwant %d", len(got), got[:min(5, len(got))], len(want))
	}
}

// TestFlux2Encoders: Flux.2 takes Mistral 3 (whose tekken tokenizer blob
// must come along) or Qwen3 (no blob).
func TestFlux2Encoders(t *testing.T) {
	model := makeInput(t, "flux2", []testTensor{
		{Name: "double_blocks.0.img_attn.norm.key_norm.scale", DType: "BF16", Shape: []int64{128}},
		{Name: "img_in.weight", DType: "BF16", Shape: []int64{6144, 128}},
		{Name: "double_stream_modulation_img.lin.weight", DType: "BF16", Shape: []int64{36864, 6144}},
	}, nil)
	vae := makeInput(t, "flux2_vae", []testTensor{
		{Name: "decoder.conv_in.weight", DType: "F32", Shape: []int64{512, 32, 3, 3}},
		{Name: "decoder.post_quant_conv.weight", DType: "F32", Shape: []int64{32, 32, 1, 1}},
	}, nil)
	qwen := makeInput(t, "qwen3_4b", []testTensor{
		{Name: "model.layers.0.post_attention_layernorm.weight", DType: "BF16", Shape: []int64{2560}},
		{Name: "model.layers.0.self_attn.q_norm.weight", DType: "BF16", Shape: []int64{128}},
		{Name: "lm_head.weight", DType: "BF16", Shape: []int64{151936, 2560}},
	}, nil)
	mistral := func(blob bool) Input {
		ts := []testTensor{{Name: "model.layers.0.post_attention_layernorm.weight", DType: "BF16", Shape: []int64{5120}}}
		if blob {
			ts = append(ts, testTensor{Name: "tekken_model", DType: "U8", Shape: []int64{100}})
		}
		return makeInput(t, "mistral_3_small", ts, nil)
	}
	p, err := PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{qwen}, VAE: vae})
	if err != nil {
		t.Fatal(err)
	}
	requireKeys(t, p, "text_encoders.qwen3_4b.transformer.model.layers.0.post_attention_layernorm.weight", "vae.post_quant_conv.weight")
	forbidPrefix(t, p, "text_encoders.tekken_model", "text_encoders.qwen3_4b.transformer.lm_head")
	p, err = PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{mistral(true)}, VAE: vae})
	if err != nil {
		t.Fatal(err)
	}
	requireKeys(t, p, "text_encoders.mistral3_24b.logit_scale", "text_encoders.tekken_model")
	if _, err := PlanCheckpoint(SaveRequest{Model: model, Clip: []Input{mistral(false)}, VAE: vae}); !errors.Is(err, ErrMissingComponent) || !strings.Contains(err.Error(), "tekken_model") {
		t.Errorf("mistral without tekken: %v", err)
	}
}
