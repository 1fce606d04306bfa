package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/quant"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// legacyFluxUNet is a standalone Flux diffusion model in the legacy
// scaled-fp8 convention, with one layer in the comfy_quant convention too.
func legacyFluxUNet(t *testing.T, meta map[string]string, scaleInput float32) Input {
	ts := manifestTensors(t, oracleManifest(t, "flux_dev", "unet"))
	for i := range ts {
		if ts[i].Name == "double_blocks.0.img_attn.qkv.weight" || ts[i].Name == "double_blocks.0.img_attn.proj.weight" {
			ts[i].DType = safetensors.DTypeF8E4M3
		}
	}
	ts = append(ts,
		testTensor{Name: "scaled_fp8", DType: safetensors.DTypeF8E4M3, Shape: []int64{0}},
		testTensor{Name: "double_blocks.0.img_attn.qkv.scale_weight", DType: safetensors.DTypeF32, Shape: []int64{}, Data: f32le(0.5)},
		testTensor{Name: "double_blocks.0.img_attn.qkv.scale_input", DType: safetensors.DTypeF32, Shape: []int64{}, Data: f32le(scaleInput)},
		testTensor{Name: "double_blocks.0.img_attn.proj.comfy_quant", DType: safetensors.DTypeU8, Shape: []int64{int64(len(fp8Marker))}, Data: []byte(fp8Marker)},
		testTensor{Name: "double_blocks.0.img_attn.proj.weight_scale", DType: safetensors.DTypeF32, Shape: []int64{}, Data: f32le(0.25)},
		testTensor{Name: "double_blocks.0.img_attn.proj.input_scale", DType: safetensors.DTypeF32, Shape: []int64{}, Data: f32le(1)})
	return makeInput(t, "flux_fp8_scaled.safetensors", ts, meta)
}

const fp8Marker = `{"format": "float8_e4m3fn"}`

var legacyQuantKeys = []string{
	"scaled_fp8", "double_blocks.0.img_attn.qkv.scale_weight", "double_blocks.0.img_attn.qkv.scale_input",
	"double_blocks.0.img_attn.proj.comfy_quant", "double_blocks.0.img_attn.proj.weight_scale", "double_blocks.0.img_attn.proj.input_scale",
}

// TestPruneKeepsQuantization: prune of a standalone scaled-fp8 model or
// T5 keeps the sentinel, every scale and every comfy_quant marker (the
// loader would otherwise read fp8 weights without their scales).
func TestPruneKeepsQuantization(t *testing.T) {
	p, rep, err := PlanPrune(PruneRequest{Input: legacyFluxUNet(t, nil, 1)})
	if err != nil {
		t.Fatal(err)
	}
	requireKeys(t, p, legacyQuantKeys...)
	for _, k := range rep.Unused {
		if comfy.IsQuantKey(k) {
			t.Errorf("quantization tensor %s reported unused", k)
		}
	}
	t5 := append(manifestTensors(t, oracleManifest(t, "flux_dev", "t5xxl")),
		testTensor{Name: "scaled_fp8", DType: safetensors.DTypeF8E4M3, Shape: []int64{2}},
		testTensor{Name: "encoder.block.0.layer.0.SelfAttention.k.scale_weight", DType: safetensors.DTypeF32, Shape: []int64{}},
		testTensor{Name: "encoder.block.0.layer.0.SelfAttention.k.scale_input", DType: safetensors.DTypeF32, Shape: []int64{}})
	p, _, err = PlanPrune(PruneRequest{Input: makeInput(t, "t5xxl_fp8_scaled", t5, nil)})
	if err != nil {
		t.Fatal(err)
	}
	requireKeys(t, p, "scaled_fp8", "encoder.block.0.layer.0.SelfAttention.k.scale_weight", "encoder.block.0.layer.0.SelfAttention.k.scale_input")
}

// TestConvertKeepsQuantizedLayers: convert --to fp16 converts the F32
// tensors of a quantized model but never its F32 scales; naming a scale
// with --match is refused.
func TestConvertKeepsQuantizedLayers(t *testing.T) {
	in := legacyFluxUNet(t, nil, 1)
	p, rep, err := PlanConvert(ConvertRequest{Input: in, To: safetensors.DTypeF16, All: true})
	if err != nil {
		t.Fatal(err)
	}
	have := tensorsOf(p)
	for _, k := range legacyQuantKeys {
		h := headerOf(t, in)
		src, _ := h.Lookup(k)
		if have[k].DType != src.DType {
			t.Errorf("%s: %s, was %s", k, have[k].DType, src.DType)
		}
	}
	if rep.QuantizedKept != len(legacyQuantKeys)+2 || !strings.Contains(rep.Rule, "quantized layers") {
		t.Errorf("quantized kept %d (want %d), rule %q", rep.QuantizedKept, len(legacyQuantKeys)+2, rep.Rule)
	}
	_, _, err = PlanConvert(ConvertRequest{Input: in, To: safetensors.DTypeF16, Match: `scale_weight$`})
	if !errors.Is(err, ErrCannotConvert) || !strings.Contains(err.Error(), "separate the weight from its scale") {
		t.Errorf("--match of a scale: %v", err)
	}
}

// TestSaveMixedQuantConventions: a legacy scaled-fp8 diffusion model saved
// with a T5 that has _quantization_metadata is rewritten into the
// metadata convention (the newest loader skips the legacy path when the
// entry exists): scale_weight -> weight_scale, scale_input -> input_scale
// unless 1.0, the sentinel gone, the layers in the entry.
func TestSaveMixedQuantConventions(t *testing.T) {
	for _, c := range []struct {
		scaleInput float32
		wantInput  bool
	}{{1, false}, {0.5, true}} {
		unet := legacyFluxUNet(t, nil, c.scaleInput)
		t5 := makeInput(t, "t5_fp8", manifestTensors(t, oracleManifest(t, "flux_dev", "t5xxl")), map[string]string{
			comfy.QuantizationMetadataKey: `{"format_version": "1.0", "layers": {"encoder.block.0.layer.0.SelfAttention.k": {"format": "float8_e4m3fn"}}}`,
		})
		req := componentRequest(t, "flux_dev", "clip_l")
		req.Model, req.Clip = unet, append(req.Clip, t5)
		p, err := PlanCheckpoint(req)
		if err != nil {
			t.Fatal(err)
		}
		const l = "model.diffusion_model.double_blocks.0.img_attn.qkv"
		have := tensorsOf(p)
		for _, k := range []string{"model.diffusion_model.scaled_fp8", l + ".scale_weight", l + ".scale_input"} {
			if _, ok := have[k]; ok {
				t.Errorf("legacy key %s still written", k)
			}
		}
		requireKeys(t, p, l+".weight_scale", "model.diffusion_model.double_blocks.0.img_attn.proj.comfy_quant")
		if _, ok := have[l+".input_scale"]; ok != c.wantInput {
			t.Errorf("scale_input %v: input_scale written %v", c.scaleInput, ok)
		}
		_, data := tensorOutput(t, p, l+".weight_scale")
		if string(data) != string(f32le(0.5)) {
			t.Errorf("weight_scale bytes %x", data)
		}
		want := `{"format_version": "1.0", "layers": {"model.diffusion_model.double_blocks.0.img_attn.qkv": {"format": "float8_e4m3fn"}, "text_encoders.t5xxl.transformer.encoder.block.0.layer.0.SelfAttention.k": {"format": "float8_e4m3fn"}}}`
		if got := p.Metadata[comfy.QuantizationMetadataKey]; got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "1 legacy scaled-fp8 layers") {
			t.Errorf("notes %q", p.Notes)
		}
	}
}

// TestInspectQuantization: inspect names each format, its convention and
// layer count.
func TestInspectQuantization(t *testing.T) {
	r, err := Inspect(legacyFluxUNet(t, nil, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := []comfy.QuantCount{{Format: "float8_e4m3fn", Convention: comfy.QuantPerLayer, Layers: 1}, {Format: "float8_e4m3fn", Convention: comfy.QuantLegacy, Layers: 1}}
	if len(r.Quantization) != len(want) {
		t.Fatalf("quantization %+v", r.Quantization)
	}
	for i := range want {
		if r.Quantization[i] != want[i] {
			t.Errorf("quantization[%d] = %+v, want %+v", i, r.Quantization[i], want[i])
		}
	}
	r, err = Inspect(legacyFluxUNet(t, map[string]string{comfy.QuantizationMetadataKey: `{"layers": {"x": {"format": "nvfp4"}}}`}, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, q := range r.Quantization {
		got[q.Format+"/"+q.Convention] = q.Layers
	}
	if got["nvfp4/"+comfy.QuantMetadata] != 1 || !strings.Contains(strings.Join(func() []string {
		var s []string
		for k := range got {
			s = append(s, k)
		}
		return s
	}(), " "), "ignored") {
		t.Errorf("quantization %+v", r.Quantization)
	}
}

// TestInspectBrokenMarker: a comfy_quant marker that is not JSON is
// reported as the file's problem; convert refuses the file naming it.
func TestInspectBrokenMarker(t *testing.T) {
	ts := manifestTensors(t, oracleManifest(t, "flux_dev", "unet"))
	ts = append(ts, testTensor{Name: "double_blocks.0.img_attn.proj.comfy_quant", DType: safetensors.DTypeU8, Shape: []int64{3}, Data: []byte("{no")})
	in := makeInput(t, "broken.safetensors", ts, nil)
	r, err := Inspect(in)
	if err != nil || !strings.Contains(r.Problem, "double_blocks.0.img_attn.proj.comfy_quant is not comfy_quant JSON") {
		t.Errorf("inspect: %v %q", err, r.Problem)
	}
	if _, _, err := PlanConvert(ConvertRequest{Input: in, To: safetensors.DTypeF16}); err == nil || !strings.Contains(err.Error(), "broken.safetensors") {
		t.Errorf("convert: %v", err)
	}
}

// TestDequantize: convert --to bf16 --dequantize writes per-tensor fp8
// layers (legacy and comfy_quant) back as weight × scale in BF16, drops
// their scales, markers and the sentinel, and refuses an nvfp4 layer.
func TestDequantize(t *testing.T) {
	bf := func(v ...float32) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint16(b, quant.F32ToBF16(x))
		}
		return b
	}
	marker := []byte(quant.Marker(quant.FP8E4M3))
	ts := []testTensor{
		{Name: "scaled_fp8", DType: safetensors.DTypeF8E4M3, Shape: []int64{0}},
		{Name: "a.weight", DType: safetensors.DTypeF8E4M3, Shape: []int64{2, 2}, Data: []byte{0x38, 0x7E, 0x30, 0xB8}},
		{Name: "a.scale_weight", DType: safetensors.DTypeF32, Shape: []int64{}, Data: f32le(0.5)},
		{Name: "a.scale_input", DType: safetensors.DTypeF32, Shape: []int64{}, Data: f32le(1)},
		{Name: "b.weight", DType: safetensors.DTypeF8E4M3, Shape: []int64{1, 2}, Data: []byte{0x38, 0x30}},
		{Name: "b.weight_scale", DType: safetensors.DTypeF32, Shape: []int64{}, Data: f32le(0.1)},
		{Name: "b.comfy_quant", DType: safetensors.DTypeU8, Shape: []int64{int64(len(marker))}, Data: marker},
		{Name: "b.bias", DType: safetensors.DTypeF32, Shape: []int64{1}, Data: f32le(3)},
	}
	in := makeInput(t, "fp8.safetensors", ts, nil)
	p, rep, err := PlanConvert(ConvertRequest{Input: in, To: safetensors.DTypeBF16, All: true, Dequantize: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dequantized != 2 {
		t.Errorf("dequantized %d", rep.Dequantized)
	}
	if got := sortedNames(p.Tensors); strings.Join(got, " ") != "a.weight b.bias b.weight" {
		t.Errorf("tensors %v", got)
	}
	// 0.1 is 0.10009765625 in BF16; 1 × it, 0.5 × it = 0.050048828125.
	for name, want := range map[string][]byte{"a.weight": bf(0.5, 224, 0.25, -0.5), "b.weight": bf(0.10009765625, 0.050048828125), "b.bias": bf(3)} {
		_, got := tensorOutput(t, p, name)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %x, want %x", name, got, want)
		}
	}
	nv := append(ts[:0:0], ts...)
	nvm := []byte(quant.Marker(quant.NVFP4))
	nv = append(nv, testTensor{Name: "c.weight", DType: safetensors.DTypeU8, Shape: []int64{16, 8}},
		testTensor{Name: "c.weight_scale", DType: safetensors.DTypeF8E4M3, Shape: []int64{128, 4}},
		testTensor{Name: "c.weight_scale_2", DType: safetensors.DTypeF32, Shape: []int64{}},
		testTensor{Name: "c.comfy_quant", DType: safetensors.DTypeU8, Shape: []int64{int64(len(nvm))}, Data: nvm})
	_, _, err = PlanConvert(ConvertRequest{Input: makeInput(t, "nv.safetensors", nv, nil), To: safetensors.DTypeF16, All: true, Dequantize: true})
	if !errors.Is(err, ErrCannotConvert) || !strings.Contains(err.Error(), "layer c is nvfp4") {
		t.Errorf("nvfp4: %v", err)
	}
}
