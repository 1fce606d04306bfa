package checkpoint

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/internal/fixture"
	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// checkpointInput is the golden assembled checkpoint of arch as an input.
func checkpointInput(t testing.TB, arch string) Input {
	m := oracleManifest(t, arch, "expected_checkpoint")
	return makeInput(t, "checkpoint", manifestTensors(t, m), manifestMeta(m))
}

// checkFromCheckpoint checks that every output tensor that is not computed
// is the whole same-named tensor of the checkpoint input, except those
// whose name starts with one of the prefixes in from, which must come
// whole from that input, from the tensor named without the prefix or, when
// keep is set, with it.
type fromFile struct {
	file string
	keep bool
}

func checkFromCheckpoint(t *testing.T, p *Plan, from map[string]fromFile) {
	t.Helper()
	segs, inline := provenance(t, p)
	for _, x := range p.Tensors {
		if _, ok := inline[x.Name]; ok || x.End == x.Begin {
			if len(segs[x.Name]) != 0 {
				t.Errorf("%s mixes computed and read bytes", x.Name)
			}
			continue
		}
		want := segment{File: "checkpoint", Tensor: x.Name, End: x.End - x.Begin}
		for prefix, f := range from {
			if strings.HasPrefix(x.Name, prefix) {
				want = segment{File: f.file, Tensor: strings.TrimPrefix(x.Name, prefix), End: x.End - x.Begin}
				if f.keep {
					want.Tensor = x.Name
				}
			}
		}
		if got := segs[x.Name]; len(got) != 1 || got[0] != want {
			t.Errorf("%s: segments %+v, want %+v", x.Name, got, want)
		}
	}
}

// TestBakeVAE: model and text encoders from a full checkpoint, the VAE from
// a separate file ("bake a VAE"). The result is the golden checkpoint; the
// VAE bytes come from the VAE file, everything else from the checkpoint
// (open_clip in_proj and text_projection round-trip to plain copies).
func TestBakeVAE(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.arch, func(t *testing.T) {
			req := SaveRequest{Model: checkpointInput(t, c.arch), VAE: manifestInput(t, c.arch, "vae"), Title: "ComfyUI 1"}
			p, err := PlanCheckpoint(req)
			if err != nil {
				t.Fatal(err)
			}
			checkHeader(t, p, oracleManifest(t, c.arch, "expected_checkpoint"))
			arch := comfy.ArchByClass(c.class)
			checkFromCheckpoint(t, p, map[string]fromFile{arch.VAEPrefix: {file: "vae"}})
		})
	}
}

// TestSlotsFromCheckpoint: every slot can point at the same full
// checkpoint, or at a checkpoint while other slots use separate files.
func TestSlotsFromCheckpoint(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.arch, func(t *testing.T) {
			want := oracleManifest(t, c.arch, "expected_checkpoint")
			ckpt := checkpointInput(t, c.arch)
			// All three slots from one file.
			p, err := PlanCheckpoint(SaveRequest{Model: ckpt, Clip: []Input{ckpt}, VAE: ckpt, Title: "ComfyUI 1"})
			if err != nil {
				t.Fatal(err)
			}
			checkHeader(t, p, want)
			checkFromCheckpoint(t, p, nil)
			// The ModelSave file as the model, text encoders and VAE from the checkpoint.
			p, err = PlanCheckpoint(SaveRequest{Model: manifestInput(t, c.arch, "unet_modelsave"), Clip: []Input{ckpt}, VAE: ckpt, Title: "ComfyUI 1"})
			if err != nil {
				t.Fatal(err)
			}
			checkHeader(t, p, want)
			checkFromCheckpoint(t, p, map[string]fromFile{comfy.PrefixDiffusion: {file: "unet_modelsave", keep: true}})
		})
	}
}

// openclipFromManifest rewrites an HF CLIP manifest into the OpenCLIP
// text-tower layout (what open_clip checkpoints such as
// laion/CLIP-ViT-bigG-14 hold): q, k, v fused into in_proj, the projection
// stored transposed. Written independently of the package's converters.
func openclipFromManifest(t *testing.T, m *fixture.Manifest) []testTensor {
	layer := regexp.MustCompile(`^text_model\.encoder\.layers\.(\d+)\.(.*)$`)
	rename := map[string]string{
		"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj", "self_attn.out_proj": "attn.out_proj",
	}
	var out []testTensor
	for _, e := range m.Tensors {
		name, shape := e.Key, e.Shape
		switch {
		case name == "text_model.embeddings.token_embedding.weight":
			name = "token_embedding.weight"
		case name == "text_model.embeddings.position_embedding.weight":
			name = "positional_embedding"
		case strings.HasPrefix(name, "text_model.final_layer_norm."):
			name = "ln_final." + strings.TrimPrefix(name, "text_model.final_layer_norm.")
		case name == "text_projection.weight":
			name, shape = "text_projection", []int64{shape[1], shape[0]}
		case layer.MatchString(name):
			g := layer.FindStringSubmatch(name)
			rest := g[2]
			if strings.HasPrefix(rest, "self_attn.q_proj.") {
				kind := strings.TrimPrefix(rest, "self_attn.q_proj.")
				s := append([]int64{3 * shape[0]}, shape[1:]...)
				out = append(out, testTensor{Name: "transformer.resblocks." + g[1] + ".attn.in_proj_" + kind, DType: safetensors.DType(e.DType), Shape: s})
				continue
			}
			if strings.HasPrefix(rest, "self_attn.k_proj.") || strings.HasPrefix(rest, "self_attn.v_proj.") {
				continue
			}
			for hf, oc := range rename {
				if strings.HasPrefix(rest, hf+".") {
					rest = oc + "." + strings.TrimPrefix(rest, hf+".")
				}
			}
			name = "transformer.resblocks." + g[1] + "." + rest
		}
		out = append(out, testTensor{Name: name, DType: safetensors.DType(e.DType), Shape: shape})
	}
	return out
}

// TestOpenCLIPClipG: an SDXL CLIP-G in OpenCLIP layout gives the golden
// checkpoint; its in_proj and text_projection are copied whole.
func TestOpenCLIPClipG(t *testing.T) {
	g := makeInput(t, "clip_g_openclip", openclipFromManifest(t, oracleManifest(t, "sdxl_base", "clip_g")), nil)
	req := SaveRequest{Model: manifestInput(t, "sdxl_base", "unet"), Clip: []Input{manifestInput(t, "sdxl_base", "clip_l"), g}, VAE: manifestInput(t, "sdxl_base", "vae"), Title: "ComfyUI 1"}
	p, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	want := oracleManifest(t, "sdxl_base", "expected_checkpoint")
	checkHeader(t, p, want)
	segs, _ := provenance(t, p)
	for _, e := range want.Tensors {
		if !strings.HasPrefix(e.Key, "conditioner.embedders.1.model.") || e.Source.Op == "const" {
			continue
		}
		name := strings.TrimPrefix(e.Key, "conditioner.embedders.1.model.")
		n, _ := e.NumBytes()
		w := segment{File: "clip_g_openclip", Tensor: name, End: n}
		if got := segs[e.Key]; len(got) != 1 || got[0] != w {
			t.Errorf("%s: %+v, want %+v", e.Key, got, w)
		}
	}
	// Inspect sees the layout.
	r, err := Inspect(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Components) != 1 || r.Components[0].Kind != "clip_g" || r.Components[0].Layout != comfy.LayoutOpenCLIP {
		t.Errorf("inspect: %+v", r.Components)
	}
}

// diffusersVAEName is the diffusers AutoencoderKL name of an ldm VAE key,
// written from the diffusers naming scheme (not from the package's map).
func diffusersVAEName(k string) string {
	subs := []struct{ re, to string }{
		{`^(encoder|decoder)\.mid\.block_(\d)\.`, "$1.mid_block.resnets.#$2."},
		{`^(encoder|decoder)\.mid\.attn_1\.norm\.`, "$1.mid_block.attentions.0.group_norm."},
		{`^(encoder|decoder)\.mid\.attn_1\.(q|k|v)\.`, "$1.mid_block.attentions.0.to_$2."},
		{`^(encoder|decoder)\.mid\.attn_1\.proj_out\.`, "$1.mid_block.attentions.0.to_out.0."},
		{`^encoder\.down\.(\d)\.block\.(\d)\.`, "encoder.down_blocks.$1.resnets.$2."},
		{`^encoder\.down\.(\d)\.downsample\.`, "encoder.down_blocks.$1.downsamplers.0."},
		{`^decoder\.up\.(\d)\.block\.(\d)\.`, "decoder.up_blocks.~$1.resnets.$2."},
		{`^decoder\.up\.(\d)\.upsample\.`, "decoder.up_blocks.~$1.upsamplers.0."},
		{`^(encoder|decoder)\.norm_out\.`, "$1.conv_norm_out."},
		{`\.nin_shortcut\.`, ".conv_shortcut."},
	}
	for _, s := range subs {
		k = regexp.MustCompile(s.re).ReplaceAllString(k, s.to)
	}
	// mid.block_1/2 are resnets 0/1; decoder up.N is up_blocks.3-N.
	k = regexp.MustCompile(`#(\d)`).ReplaceAllStringFunc(k, func(m string) string { return fmt.Sprint(int(m[1]-'0') - 1) })
	k = regexp.MustCompile(`~(\d)`).ReplaceAllStringFunc(k, func(m string) string { return fmt.Sprint(3 - int(m[1]-'0')) })
	return k
}

// TestDiffusersVAE: a diffusers-named VAE (with Linear [C,C] attention
// weights and training keys) converts to the ldm names and 4-D shapes.
func TestDiffusersVAE(t *testing.T) {
	for _, arch := range []string{"sd15", "flux_dev"} {
		t.Run(arch, func(t *testing.T) {
			ldm := oracleManifest(t, arch, "vae")
			var ts []testTensor
			names := map[string]string{}
			for _, e := range ldm.Tensors {
				name, shape := diffusersVAEName(e.Key), e.Shape
				if strings.Contains(e.Key, "mid.attn_1.") && strings.HasSuffix(e.Key, ".weight") && len(shape) == 4 {
					shape = shape[:2]
				}
				names[e.Key] = name
				ts = append(ts, testTensor{Name: name, DType: safetensors.DType(e.DType), Shape: shape})
			}
			ts = append(ts, testTensor{Name: "loss.logvar", DType: "F32", Shape: []int64{}})
			vae := makeInput(t, "vae_diffusers", ts, nil)
			r, err := Inspect(vae)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Components) != 1 || r.Components[0].Layout != comfy.LayoutDiffusers || r.Components[0].Slot != SlotVAE {
				t.Fatalf("inspect: %+v", r.Components)
			}
			c := goldenCases[0]
			for _, g := range goldenCases {
				if g.arch == arch {
					c = g
				}
			}
			req := componentRequest(t, arch, c.clips...)
			req.VAE = vae
			p, err := PlanCheckpoint(req)
			if err != nil {
				t.Fatal(err)
			}
			checkHeader(t, p, oracleManifest(t, arch, "expected_checkpoint"))
			segs, _ := provenance(t, p)
			prefix := comfy.ArchByClass(c.class).VAEPrefix
			for _, e := range ldm.Tensors {
				n, _ := e.NumBytes()
				w := segment{File: "vae_diffusers", Tensor: names[e.Key], End: n}
				if got := segs[prefix+e.Key]; len(got) != 1 || got[0] != w {
					t.Errorf("%s: %+v, want %+v", e.Key, got, w)
				}
			}
		})
	}
}

// sd2Inputs builds an SD2.x UNet (the SD1.5 manifest reshaped to SD2's
// 1024-dim context and linear projections), an OpenCLIP-H text encoder in
// HF layout, and the SD VAE. norm1 is the content of the tensor SD20's
// v-prediction test reads.
func sd2Inputs(t *testing.T, norm1 []byte) (unet, clipH, vae Input) {
	var ts []testTensor
	for _, e := range oracleManifest(t, "sd15", "unet").Tensors {
		x := testTensor{Name: e.Key, DType: safetensors.DType(e.DType), Shape: e.Shape}
		switch {
		case strings.HasSuffix(e.Key, "attn2.to_k.weight"), strings.HasSuffix(e.Key, "attn2.to_v.weight"):
			x.Shape = []int64{e.Shape[0], 1024}
		case strings.HasSuffix(e.Key, ".proj_in.weight"), strings.HasSuffix(e.Key, ".proj_out.weight"):
			x.Shape = e.Shape[:2]
		case e.Key == sd2VPredKey:
			x.Data = norm1
		}
		ts = append(ts, x)
	}
	unet = makeInput(t, "sd2_unet", ts, nil)
	const d, layers = 1024, 24
	te := []testTensor{
		{Name: "text_model.embeddings.token_embedding.weight", DType: "F16", Shape: []int64{49408, d}},
		{Name: "text_model.embeddings.position_embedding.weight", DType: "F16", Shape: []int64{77, d}},
		{Name: "text_model.embeddings.position_ids", DType: "I64", Shape: []int64{1, 77}},
		{Name: "text_model.final_layer_norm.weight", DType: "F16", Shape: []int64{d}},
		{Name: "text_model.final_layer_norm.bias", DType: "F16", Shape: []int64{d}},
		{Name: "text_projection.weight", DType: "F16", Shape: []int64{d, d}},
		{Name: "logit_scale", DType: "F32", Shape: []int64{}},
		{Name: "vision_model.embeddings.patch_embedding.weight", DType: "F16", Shape: []int64{1280, 3, 14, 14}},
	}
	for i := 0; i < layers; i++ {
		p := fmt.Sprintf("text_model.encoder.layers.%d.", i)
		for _, n := range []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj"} {
			te = append(te, testTensor{Name: p + n + ".weight", DType: "F16", Shape: []int64{d, d}}, testTensor{Name: p + n + ".bias", DType: "F16", Shape: []int64{d}})
		}
		for _, n := range []string{"layer_norm1", "layer_norm2"} {
			te = append(te, testTensor{Name: p + n + ".weight", DType: "F16", Shape: []int64{d}}, testTensor{Name: p + n + ".bias", DType: "F16", Shape: []int64{d}})
		}
		te = append(te,
			testTensor{Name: p + "mlp.fc1.weight", DType: "F16", Shape: []int64{4 * d, d}}, testTensor{Name: p + "mlp.fc1.bias", DType: "F16", Shape: []int64{4 * d}},
			testTensor{Name: p + "mlp.fc2.weight", DType: "F16", Shape: []int64{d, 4 * d}}, testTensor{Name: p + "mlp.fc2.bias", DType: "F16", Shape: []int64{d}})
	}
	return unet, makeInput(t, "clip_h", te, nil), manifestInput(t, "sd15", "vae")
}

// alternating returns n F16 values ±a (population std a).
func alternating(n int, a float64) []byte {
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = a
		if i%2 == 1 {
			vals[i] = -a
		}
	}
	return f16le(vals...)
}

// TestSD2Prediction: SD20's v detection reads the one tensor, and the
// request can override it; the CLIP-H encoder is saved in OpenCLIP layout.
func TestSD2Prediction(t *testing.T) {
	cases := []struct {
		name string
		std  float64
		pred Prediction
		v    bool
	}{
		{"v by std", 0.2, PredictionAuto, true},
		{"eps by std", 0.05, PredictionAuto, false},
		{"forced eps", 0.2, PredictionEps, false},
		{"forced v", 0.05, PredictionV, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			unet, clipH, vae := sd2Inputs(t, alternating(320, c.std))
			p, err := PlanCheckpoint(SaveRequest{Model: unet, Clip: []Input{clipH}, VAE: vae, Prediction: c.pred})
			if err != nil {
				t.Fatal(err)
			}
			if p.Architecture != "SD20" {
				t.Fatalf("architecture %s", p.Architecture)
			}
			byName := map[string]safetensors.Tensor{}
			for _, x := range p.Tensors {
				byName[x.Name] = x
			}
			v, hasV := byName["v_pred"]
			wantKey := "epsilon"
			if c.v {
				wantKey = "v"
				if !hasV || v.DType != "F32" || !slices.Equal(v.Shape, []int64{0}) {
					t.Errorf("v_pred: %+v", v)
				}
			} else if hasV {
				t.Errorf("unexpected v_pred")
			}
			if p.Metadata["modelspec.predict_key"] != wantKey {
				t.Errorf("predict_key %q, want %q", p.Metadata["modelspec.predict_key"], wantKey)
			}
			if _, ok := p.Metadata["modelspec.architecture"]; ok {
				t.Errorf("SD2 gets no modelspec architecture")
			}
			for name, shape := range map[string][]int64{
				"cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight": {3072, 1024},
				"cond_stage_model.model.transformer.resblocks.0.attn.in_proj_bias":    {3072},
				"cond_stage_model.model.text_projection":                              {1024, 1024},
				"cond_stage_model.model.positional_embedding":                         {77, 1024},
				"cond_stage_model.model.token_embedding.weight":                       {49408, 1024},
				"cond_stage_model.model.ln_final.weight":                              {1024},
				"cond_stage_model.model.logit_scale":                                  {},
				"cond_stage_model.model.transformer.resblocks.5.mlp.c_fc.weight":      {4096, 1024},
			} {
				if x, ok := byName[name]; !ok || !slices.Equal(x.Shape, shape) {
					t.Errorf("%s: %+v, want shape %v", name, x, shape)
				}
			}
			for name := range byName {
				if strings.Contains(name, "position_ids") || strings.Contains(name, "vision_model") {
					t.Errorf("%s should be dropped", name)
				}
			}
		})
	}
}

// TestPlanErrors: wrong, missing, duplicated and mismatched components give
// errors.Is-able sentinels whose message names the slot and the file.
func TestPlanErrors(t *testing.T) {
	in := func(arch, c string) Input { return manifestInput(t, arch, c) }
	junk := makeInput(t, "notes.safetensors", []testTensor{{Name: "foo.bar", DType: "F32", Shape: []int64{3}}}, nil)
	garbage := Input{Name: "garbage.bin", R: strings.NewReader("not a safetensors file at all"), Size: 29}
	cases := []struct {
		name    string
		req     SaveRequest
		want    error
		mention []string
	}{
		{"flux without t5xxl",
			SaveRequest{Model: in("flux_dev", "unet"), Clip: []Input{in("flux_dev", "clip_l")}, VAE: in("flux_dev", "vae")},
			ErrMissingComponent, []string{"clip slot", "T5-XXL", "t5xxl"}},
		{"no text encoder",
			SaveRequest{Model: in("sd15", "unet"), VAE: in("sd15", "vae")},
			ErrMissingComponent, []string{"clip slot", "unet", "CLIP-L"}},
		{"no vae",
			SaveRequest{Model: in("sd15", "unet"), Clip: []Input{in("sd15", "clip_l")}},
			ErrMissingComponent, []string{"vae slot", "unet"}},
		{"no model",
			SaveRequest{Clip: []Input{in("sd15", "clip_l")}, VAE: in("sd15", "vae")},
			ErrMissingComponent, []string{"model slot"}},
		{"vae as model",
			SaveRequest{Model: in("sd15", "vae"), Clip: []Input{in("sd15", "clip_l")}, VAE: in("sd15", "vae")},
			ErrWrongComponent, []string{"model slot", "vae", "VAE"}},
		{"second diffusion model as clip",
			SaveRequest{Model: in("sd15", "unet"), Clip: []Input{in("sd15", "clip_l"), in("sd15", "unet_modelsave")}, VAE: in("sd15", "vae")},
			ErrWrongComponent, []string{"clip slot", "unet_modelsave", "SD15 diffusion model"}},
		{"text encoder as vae",
			SaveRequest{Model: in("sd15", "unet"), Clip: []Input{in("sd15", "clip_l")}, VAE: in("sd15", "clip_l")},
			ErrWrongComponent, []string{"vae slot", "clip_l", "CLIP-L"}},
		{"duplicated encoder",
			SaveRequest{Model: in("sdxl_base", "unet"), Clip: []Input{in("sdxl_base", "clip_l"), in("sd15", "clip_l"), in("sdxl_base", "clip_g")}, VAE: in("sdxl_base", "vae")},
			ErrDuplicateComponent, []string{"clip slot", "clip_l", "CLIP-L"}},
		{"sd15 unet with sdxl encoders",
			SaveRequest{Model: in("sd15", "unet"), Clip: []Input{in("sdxl_base", "clip_l"), in("sdxl_base", "clip_g")}, VAE: in("sd15", "vae")},
			ErrArchMismatch, []string{"clip slot", "clip_g", "SD15", "CLIP-G"}},
		{"sdxl with flux vae",
			SaveRequest{Model: in("sdxl_base", "unet"), Clip: []Input{in("sdxl_base", "clip_l"), in("sdxl_base", "clip_g")}, VAE: in("flux_dev", "vae")},
			ErrArchMismatch, []string{"vae slot", "vae", "16-channel", "SDXL"}},
		{"flux with sdxl vae",
			SaveRequest{Model: in("flux_dev", "unet"), Clip: []Input{in("flux_dev", "clip_l"), in("flux_dev", "t5xxl")}, VAE: in("sdxl_base", "vae")},
			ErrArchMismatch, []string{"vae slot", "4-channel", "Flux"}},
		{"unknown content",
			SaveRequest{Model: junk, Clip: []Input{in("sd15", "clip_l")}, VAE: in("sd15", "vae")},
			ErrUnknownContent, []string{"model slot", "notes.safetensors"}},
		{"not safetensors",
			SaveRequest{Model: in("sd15", "unet"), Clip: []Input{garbage}, VAE: in("sd15", "vae")},
			safetensors.ErrHeaderTooLarge, []string{"clip slot", "garbage.bin"}},
		{"v for flux",
			SaveRequest{Model: in("flux_dev", "unet"), Clip: []Input{in("flux_dev", "clip_l"), in("flux_dev", "t5xxl")}, VAE: in("flux_dev", "vae"), Prediction: PredictionV},
			ErrPrediction, []string{"model slot", "Flux"}},
		{"bad prediction",
			SaveRequest{Model: in("sd15", "unet"), Clip: []Input{in("sd15", "clip_l")}, VAE: in("sd15", "vae"), Prediction: "x0"},
			ErrPrediction, []string{"x0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := PlanCheckpoint(c.req)
			if err == nil {
				t.Fatalf("no error; planned %s", p.Architecture)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %q is not %q", err, c.want)
			}
			for _, m := range c.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			var se *SlotError
			if !errors.As(err, &se) {
				t.Fatalf("%T is not a *SlotError", err)
			}
			if slot, ok := strings.CutSuffix(c.mention[0], " slot"); ok && se.Slot != slot {
				t.Errorf("slot %q, want %q", se.Slot, slot)
			}
			if se.File != "" && !strings.Contains(err.Error(), se.File) {
				t.Errorf("file %q not in %q", se.File, err)
			}
		})
	}
}

// TestMetadata: prompt and extra_pnginfo are re-encoded as Python's
// json.dumps does, --disable-metadata drops only them, user metadata comes
// last, and modelspec.title is the request's title.
func TestMetadata(t *testing.T) {
	base := componentRequest(t, "sdxl_base", "clip_g", "clip_l")
	base.Prompt = `{"3":{"inputs":{"text":"é <b>"},"class_type":"KSampler"}}`
	base.ExtraPNGInfo = `{"workflow":{"nodes":[1,2.50,1e16]},"extra":"x"}`
	base.Metadata = map[string]string{"modelspec.author": "me", "modelspec.title": "Mine"}
	p, err := PlanCheckpoint(base)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"modelspec.architecture":   "stable-diffusion-xl-v1-base",
		"modelspec.sai_model_spec": "1.0.0",
		"modelspec.implementation": "sgm",
		"modelspec.title":          "Mine",
		"modelspec.predict_key":    "epsilon",
		"modelspec.author":         "me",
		"prompt":                   `{"3": {"inputs": {"text": "\u00e9 <b>"}, "class_type": "KSampler"}}`,
		"workflow":                 `{"nodes": [1, 2.5, 1e+16]}`,
		"extra":                    `"x"`,
	}
	if fmt.Sprint(p.Metadata) != fmt.Sprint(want) {
		t.Errorf("metadata\n got %v\nwant %v", p.Metadata, want)
	}

	dis := componentRequest(t, "flux_dev", "clip_l", "t5xxl")
	dis.Prompt, dis.ExtraPNGInfo, dis.DisableMetadata = base.Prompt, base.ExtraPNGInfo, true
	p, err = PlanCheckpoint(dis)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Metadata) != 0 {
		t.Errorf("flux with disabled metadata: %v", p.Metadata)
	}
	h, err := safetensors.ParseHeader("plan", p.Header[8:], p.Size)
	if err != nil {
		t.Fatal(err)
	}
	if h.Metadata == nil || len(h.Metadata) != 0 {
		t.Errorf("header metadata %v, want {} (safetensors writes __metadata__ when metadata is not None)", h.Metadata)
	}

	bad := componentRequest(t, "sd15", "clip_l")
	bad.Prompt = `{"3": }`
	if _, err := PlanCheckpoint(bad); !errors.Is(err, ErrInvalidPromptJSON) || !strings.Contains(err.Error(), "prompt") {
		t.Errorf("bad prompt: %v", err)
	}
}

// TestSwapEncoder: a standalone encoder replaces the same kind from a
// checkpoint in the clip slot; encoders of a checkpoint the class does not
// use are left out; two sources of equal standing are an error.
func TestSwapEncoder(t *testing.T) {
	ckpt := checkpointInput(t, "sdxl_base")
	own := manifestInput(t, "sd15", "clip_l")
	own.Name = "my_clip_l"
	p, err := PlanCheckpoint(SaveRequest{Model: ckpt, Clip: []Input{ckpt, own}, VAE: ckpt, Title: "ComfyUI 1"})
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, p, oracleManifest(t, "sdxl_base", "expected_checkpoint"))
	segs, _ := provenance(t, p)
	for _, x := range p.Tensors {
		s := segs[x.Name]
		if len(s) == 0 {
			continue
		}
		wantFile := "checkpoint"
		if strings.HasPrefix(x.Name, "conditioner.embedders.0.") {
			wantFile = "my_clip_l"
		}
		if s[0].File != wantFile {
			t.Errorf("%s from %s, want %s", x.Name, s[0].File, wantFile)
		}
	}

	// Flux takes CLIP-L and T5-XXL out of an SD3 checkpoint, not its CLIP-G.
	sd3 := checkpointInput(t, "sd3_medium")
	p, err = PlanCheckpoint(SaveRequest{Model: manifestInput(t, "flux_dev", "unet"), Clip: []Input{sd3}, VAE: manifestInput(t, "flux_dev", "vae"), Title: "ComfyUI 1"})
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, p, oracleManifest(t, "flux_dev", "expected_checkpoint"))

	// Two checkpoints both offering CLIP-L.
	_, err = PlanCheckpoint(SaveRequest{Model: ckpt, Clip: []Input{ckpt, sd3}, VAE: ckpt})
	if !errors.Is(err, ErrDuplicateComponent) {
		t.Errorf("two checkpoints: %v", err)
	}
	// A checkpoint none of whose encoders the class uses.
	_, err = PlanCheckpoint(SaveRequest{Model: manifestInput(t, "sd15", "unet"), Clip: []Input{checkpointInput(t, "flux_dev")}, VAE: manifestInput(t, "sd15", "vae")})
	if err != nil {
		t.Errorf("SD1.5 takes CLIP-L from a Flux checkpoint: %v", err)
	}
	_, err = PlanCheckpoint(SaveRequest{Model: sd3, Clip: []Input{ckpt}, VAE: sd3})
	if err != nil {
		t.Errorf("SD3 takes CLIP-L/CLIP-G from an SDXL checkpoint: %v", err)
	}
	wan := makeInput(t, "wan", []testTensor{{Name: "head.modulation", DType: "F32", Shape: []int64{1}}, {Name: "head.head.weight", DType: "F32", Shape: []int64{64, 8}}, {Name: "patch_embedding.weight", DType: "F32", Shape: []int64{8, 16, 1, 2, 2}}}, nil)
	_, err = PlanCheckpoint(SaveRequest{Model: wan, Clip: []Input{ckpt}, VAE: ckpt})
	if !errors.Is(err, ErrArchMismatch) || !strings.Contains(err.Error(), "none of which WAN21_T2V uses") {
		t.Errorf("no usable encoder: %v", err)
	}
}

// TestCorruptedClipG: a CLIP-G without one of its v projections is
// ComfyUI's "CORRUPTED MODEL" error, naming the file.
func TestCorruptedClipG(t *testing.T) {
	var ts []testTensor
	for _, x := range manifestTensors(t, oracleManifest(t, "sdxl_base", "clip_g")) {
		if x.Name != "text_model.encoder.layers.7.self_attn.v_proj.weight" {
			ts = append(ts, x)
		}
	}
	req := componentRequest(t, "sdxl_base", "clip_l")
	req.Clip = append(req.Clip, makeInput(t, "broken_clip_g", ts, nil))
	_, err := PlanCheckpoint(req)
	var se *SlotError
	if !errors.Is(err, ErrCorruptedTextEncoder) || !errors.As(err, &se) || se.File != "broken_clip_g" || !strings.Contains(err.Error(), "layers.7") {
		t.Errorf("got %v", err)
	}
}
