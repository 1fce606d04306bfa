package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/quant"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

func randomTensor(rng *rand.Rand, dtype safetensors.DType, n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		v := float32(rng.NormFloat64() * 0.02)
		switch dtype {
		case safetensors.DTypeF32:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		case safetensors.DTypeF16:
			b = binary.LittleEndian.AppendUint16(b, quant.F32ToF16(v))
		default:
			b = binary.LittleEndian.AppendUint16(b, quant.F32ToBF16(v))
		}
	}
	return b
}

// referenceQuant quantizes a whole tensor with pkg/quant directly.
func referenceQuant(t *testing.T, f quant.Format, src quant.Source, shape []int64, data []byte) ([]byte, [][]byte) {
	q, err := quant.NewTensor(f, src, shape)
	if err != nil {
		t.Fatal(err)
	}
	q.Observe(data)
	if err := q.Prepare(); err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(data)
	w := b[:q.Quantize(b, b)]
	sc, err := q.Scales()
	if err != nil {
		t.Fatal(err)
	}
	return w, sc
}

// TestQuantizeExecute: every format, through the planner and the streaming
// executor at several buffer sizes, writes exactly pkg/quant's bytes for
// each layer, its scales in the reference order (before the weight) and
// its comfy_quant marker, and copies everything else.
func TestQuantizeExecute(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	layers := []struct {
		name  string
		dtype safetensors.DType
		shape []int64
	}{{"blocks.0.attn.qkv", safetensors.DTypeF32, []int64{96, 64}}, {"blocks.0.mlp.fc1", safetensors.DTypeBF16, []int64{64, 128}}, {"blocks.1.mlp.fc2", safetensors.DTypeF16, []int64{128, 64}}}
	var ts []testTensor
	data := map[string][]byte{}
	for _, l := range layers {
		d := randomTensor(rng, l.dtype, int(numElements(l.shape)))
		data[l.name] = d
		ts = append(ts, testTensor{Name: l.name + ".weight", DType: l.dtype, Shape: l.shape, Data: d},
			testTensor{Name: l.name + ".bias", DType: safetensors.DTypeF32, Shape: []int64{l.shape[0]}, Data: randomTensor(rng, safetensors.DTypeF32, int(l.shape[0]))})
	}
	in := makeInput(t, "layers.safetensors", ts, map[string]string{"note": "kept"})
	for _, f := range quant.Formats {
		p, rep, err := PlanConvert(ConvertRequest{Input: in, Quantize: f, Match: `\.weight$`})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if rep.Converted != len(layers) || rep.Format != string(f) {
			t.Errorf("%s: report %+v", f, rep)
		}
		var want []byte
		for _, buf := range []int{256, 1000, 1 << 20} {
			var sink streamwriter.MemorySink
			if err := Execute(context.Background(), p, &sink, ExecuteOptions{BufferSize: buf}); err != nil {
				t.Fatalf("%s buffer %d: %v", f, buf, err)
			}
			if want == nil {
				want = sink.Bytes()
			} else if !bytes.Equal(sink.Bytes(), want) {
				t.Errorf("%s: buffer %d writes other bytes", f, buf)
			}
		}
		h, err := safetensors.ParseHeader("out", want[8:binary.LittleEndian.Uint64(want)+8], int64(len(want)))
		if err != nil {
			t.Fatal(err)
		}
		if h.Metadata["note"] != "kept" {
			t.Errorf("%s: metadata %v", f, h.Metadata)
		}
		get := func(name string) (safetensors.Tensor, []byte) {
			x, ok := h.Lookup(name)
			if !ok {
				t.Fatalf("%s: no %s in the output", f, name)
			}
			return *x, want[h.DataStart+x.Begin : h.DataStart+x.End]
		}
		for _, l := range layers {
			src := quantSources[l.dtype]
			w, sc := referenceQuant(t, f, src, l.shape, data[l.name])
			outs := quant.Outputs(f, l.shape)
			wt, wb := get(l.name + ".weight")
			if wt.DType != safetensors.DType(outs[0].DType) || !slices.Equal(wt.Shape, outs[0].Shape) || !bytes.Equal(wb, w) {
				t.Errorf("%s %s: weight %s %v, bytes equal %v", f, l.name, wt.DType, wt.Shape, bytes.Equal(wb, w))
			}
			for i, o := range outs[1:] {
				st, sb := get(l.name + ".weight" + o.Suffix)
				if st.DType != safetensors.DType(o.DType) || !slices.Equal(st.Shape, o.Shape) || !bytes.Equal(sb, sc[i]) {
					t.Errorf("%s %s%s: %s %v, bytes equal %v", f, l.name, o.Suffix, st.DType, st.Shape, bytes.Equal(sb, sc[i]))
				}
				if st.Begin > wt.Begin {
					t.Errorf("%s %s: scale after weight (reference order puts it first)", f, l.name)
				}
			}
			if _, mb := get(l.name + ".comfy_quant"); string(mb) != quant.Marker(f) {
				t.Errorf("%s %s: marker %q", f, l.name, mb)
			}
			if _, bb := get(l.name + ".bias"); len(bb) != 4*int(l.shape[0]) {
				t.Errorf("%s: bias size %d", f, len(bb))
			}
		}
		// Read back: the output names the format for every layer.
		qs, err := comfy.SurveyQuant(Input{Name: "out", R: bytes.NewReader(want), Size: int64(len(want))}, h)
		if err != nil {
			t.Fatal(err)
		}
		if c := qs.Counts(); len(c) != 1 || c[0] != (comfy.QuantCount{Format: string(f), Convention: comfy.QuantPerLayer, Layers: len(layers)}) {
			t.Errorf("%s: read back %+v", f, c)
		}
	}
}

// sd15UNet is a small SD1.5 diffusion model (the detection signature's
// keys) with a time embedding, F16, its to_k weights holding data.
func sd15UNet(t *testing.T) Input {
	sd := synthUNet(320, 4, 768, 0, false, false, levels(2, 1, 1, 1, 0))
	ts := stateDictTensors(sd, safetensors.DTypeF16)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range ts {
		if strings.HasSuffix(ts[i].Name, "to_k.weight") {
			ts[i].Data = randomTensor(rng, safetensors.DTypeF16, int(numElements(ts[i].Shape)))
		}
	}
	ts = append(ts, testTensor{Name: "time_embed.0.weight", DType: safetensors.DTypeF16, Shape: []int64{1280, 320}})
	return makeInput(t, "sd15_unet.safetensors", ts, nil)
}

// TestQuantizeDefaultRule: by default the diffusion model's Linear weights
// quantize and its time embedding stays high precision; the output is
// still detected as the same model (ComfyUI's detection rules on the
// written header), and nvfp4, which halves to_k's second dimension that
// SD detection reads as the context dimension, is refused.
func TestQuantizeDefaultRule(t *testing.T) {
	in := sd15UNet(t)
	p, rep, err := PlanConvert(ConvertRequest{Input: in, Quantize: quant.FP8E4M3})
	if err != nil {
		t.Fatal(err)
	}
	toK := 0
	for _, x := range headerOf(t, in).Tensors {
		if strings.HasSuffix(x.Name, "to_k.weight") {
			toK++
		}
	}
	if rep.Converted != toK || rep.HighPrecision != 1 {
		t.Errorf("converted %d (want %d), high precision %d (want 1: time_embed)", rep.Converted, toK, rep.HighPrecision)
	}
	have := tensorsOf(p)
	if have["time_embed.0.weight"].DType != safetensors.DTypeF16 || have["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].DType != safetensors.DTypeF8E4M3 {
		t.Errorf("dtypes: time_embed %s, to_k %s", have["time_embed.0.weight"].DType, have["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].DType)
	}
	requireKeys(t, p, "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight_scale", "input_blocks.1.1.transformer_blocks.0.attn2.to_k.comfy_quant")
	_, data := tensorOutput(t, p, "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight_scale")
	if s := math.Float32frombits(binary.LittleEndian.Uint32(data)); s <= 0 || s > 1 {
		t.Errorf("scale %g", s)
	}
	// --exclude keeps more layers high precision.
	_, rep, err = PlanConvert(ConvertRequest{Input: in, Quantize: quant.Int8, Exclude: `input_blocks\.1\.`})
	if err != nil || rep.Converted != toK-1 || rep.HighPrecision != 2 {
		t.Errorf("--exclude: %v %+v", err, rep)
	}
	// nvfp4 keeps the cross-attention keys and values high precision by
	// default; quantizing them anyway is refused.
	_, rep, err = PlanConvert(ConvertRequest{Input: in, Quantize: quant.NVFP4})
	if !errors.Is(err, ErrCannotConvert) || !strings.Contains(err.Error(), "no tensor to quantize") {
		t.Errorf("nvfp4 of SD1.5 (only to_k layers): %v %+v", err, rep)
	}
	_, _, err = PlanConvert(ConvertRequest{Input: in, Quantize: quant.NVFP4, Match: `to_k\.weight$`})
	if !errors.Is(err, ErrCannotConvert) || !strings.Contains(err.Error(), "ComfyUI's detection would") {
		t.Errorf("nvfp4 of SD1.5 to_k: %v", err)
	}
}

// TestQuantizeRefusals: an already quantized file, a --match naming a
// tensor that is no Linear weight, a file without a diffusion model.
func TestQuantizeRefusals(t *testing.T) {
	_, _, err := PlanConvert(ConvertRequest{Input: legacyFluxUNet(t, nil, 1), Quantize: quant.FP8E4M3})
	if !errors.Is(err, ErrCannotConvert) || !strings.Contains(err.Error(), "already quantized") {
		t.Errorf("quantized input: %v", err)
	}
	in := sd15UNet(t)
	_, _, err = PlanConvert(ConvertRequest{Input: in, Quantize: quant.FP8E4M3, Match: `in_layers`})
	if !errors.Is(err, ErrCannotConvert) || !strings.Contains(err.Error(), "not a Linear weight") {
		t.Errorf("--match of a norm: %v", err)
	}
	_, _, err = PlanConvert(ConvertRequest{Input: in, Quantize: quant.MXFP8, Match: `time_embed`})
	if err != nil {
		t.Errorf("mxfp8 of [1280 320]: %v", err)
	}
	_, _, err = PlanConvert(ConvertRequest{Input: in, Quantize: quant.MXFP8, Match: `to_k`})
	if err != nil {
		t.Errorf("mxfp8 of to_k [320 768]: %v", err)
	}
	vae := makeInput(t, "vae", []testTensor{{Name: "decoder.conv_in.weight", DType: safetensors.DTypeF32, Shape: []int64{512, 4, 3, 3}}, {Name: "decoder.mid.block_1.norm1.weight", DType: safetensors.DTypeF32, Shape: []int64{512}}}, nil)
	if _, _, err := PlanConvert(ConvertRequest{Input: vae, Quantize: quant.FP8E4M3}); !errors.Is(err, ErrComponentNotFound) {
		t.Errorf("VAE: %v", err)
	}
}

// TestQuantizeNonFinite: a weight holding Inf fails at execution with the
// tensor named, and nothing is left behind.
func TestQuantizeNonFinite(t *testing.T) {
	d := f32Data(64, func(i int) float32 { return float32(i) })
	copy(d[8:], f32le(float32(math.Inf(1))))
	in := makeInput(t, "inf", []testTensor{{Name: "l.weight", DType: safetensors.DTypeF32, Shape: []int64{8, 8}, Data: d}}, nil)
	p, _, err := PlanConvert(ConvertRequest{Input: in, Quantize: quant.FP8E4M3, Match: `weight`})
	if err != nil {
		t.Fatal(err)
	}
	var sink streamwriter.MemorySink
	err = Execute(context.Background(), p, &sink, ExecuteOptions{})
	if !errors.Is(err, quant.ErrNonFinite) || !strings.Contains(err.Error(), "l.weight") {
		t.Errorf("Inf: %v", err)
	}
}

// TestSaveQuantize: save quantizes the diffusion model's Linear weights
// while assembling; its projections, the text encoders and the VAE are
// copied; the written header still detects as the same model.
func TestSaveQuantize(t *testing.T) {
	for _, f := range []quant.Format{quant.FP8E4M3, quant.NVFP4} {
		req := componentRequest(t, "flux_dev", "clip_l", "t5xxl")
		req.Quantize = f
		p, err := PlanCheckpoint(req)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		have := tensorsOf(p)
		const l = "model.diffusion_model.double_blocks.0.img_attn.qkv"
		outs := quant.Outputs(f, []int64{9216, 3072})
		if have[l+".weight"].DType != safetensors.DType(outs[0].DType) || !slices.Equal(have[l+".weight"].Shape, outs[0].Shape) {
			t.Errorf("%s: %s.weight %s %v", f, l, have[l+".weight"].DType, have[l+".weight"].Shape)
		}
		requireKeys(t, p, l+".weight_scale", l+".comfy_quant")
		if d := have["model.diffusion_model.img_in.weight"].DType; d != safetensors.DTypeBF16 {
			t.Errorf("%s: img_in %s", f, d)
		}
		for k, x := range have {
			if strings.HasPrefix(k, "text_encoders.") && strings.HasSuffix(k, ".comfy_quant") {
				t.Errorf("%s: text encoder layer %s quantized (%s)", f, k, x.DType)
			}
		}
		if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "quantized to "+string(f)+" while saving") {
			t.Errorf("%s: notes %q", f, p.Notes)
		}
		_, data := tensorOutput(t, p, "model.diffusion_model.final_layer.adaLN_modulation.1.weight")
		if len(data) == 0 {
			t.Errorf("%s: final layer not copied", f)
		}
	}
}
