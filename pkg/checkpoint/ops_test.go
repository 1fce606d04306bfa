package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// f32Data is n float32 values v(i).
func f32Data(n int, v func(i int) float32) []byte {
	b := make([]byte, 0, 4*n)
	for i := 0; i < n; i++ {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v(i)))
	}
	return b
}

// tensorOutput runs only the steps of one output tensor of p through the
// executor and returns the tensor's header entry and bytes.
func tensorOutput(t *testing.T, p *Plan, name string) (safetensors.Tensor, []byte) {
	t.Helper()
	var x *safetensors.Tensor
	for i := range p.Tensors {
		if p.Tensors[i].Name == name {
			x = &p.Tensors[i]
		}
	}
	if x == nil {
		t.Fatalf("output has no %s", name)
	}
	sub := &Plan{Inputs: p.Inputs, Size: x.Size()}
	for _, s := range p.Steps {
		if s.Tensor == name {
			sub.Steps = append(sub.Steps, s)
		}
	}
	var sink streamwriter.MemorySink
	if err := Execute(context.Background(), sub, &sink, ExecuteOptions{}); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return *x, sink.Bytes()
}

func hasTensor(p *Plan, name string) bool {
	for _, x := range p.Tensors {
		if x.Name == name {
			return true
		}
	}
	return false
}

// sd15Checkpoint is the sd15 golden checkpoint header (F16 model, F32
// VAE, zeros) with the tensors named in f32 made F32 holding that content
// (zeros for nil).
func sd15Checkpoint(t *testing.T, f32 map[string][]byte, extra ...testTensor) Input {
	m := oracleManifest(t, "sd15", "expected_checkpoint")
	ts := manifestTensors(t, m)
	for i := range ts {
		if b, ok := f32[ts[i].Name]; ok {
			ts[i].DType = safetensors.DTypeF32
			ts[i].Data = b
		}
	}
	return makeInput(t, "sd15.safetensors", append(ts, extra...), manifestMeta(m))
}

const (
	convWeight = "model.diffusion_model.input_blocks.0.0.weight" // [320 4 3 3]
	convBias   = "model.diffusion_model.input_blocks.0.0.bias"   // [320]
	normWeight = "model.diffusion_model.out.0.weight"            // GroupNorm [320]
	vaeWeight  = "first_stage_model.decoder.conv_in.weight"
	clipEmb    = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"
)

func TestConvertFP16DiffusionModel(t *testing.T) {
	vals := f32Data(320*4*3*3, func(i int) float32 { return float32(i)*0.37 - 500 })
	in := sd15Checkpoint(t, map[string][]byte{convWeight: vals, convBias: nil, normWeight: nil})
	p, rep, err := PlanConvert(ConvertRequest{Input: in, To: safetensors.DTypeF16})
	if err != nil {
		t.Fatal(err)
	}
	x, b := tensorOutput(t, p, convWeight)
	if x.DType != safetensors.DTypeF16 {
		t.Fatalf("%s is %s", convWeight, x.DType)
	}
	want := append([]byte(nil), vals...)
	want = want[:convertF32ToF16(want)]
	if !bytes.Equal(b, want) {
		t.Errorf("%s: converted bytes differ", convWeight)
	}
	for _, k := range []string{convBias, normWeight} {
		if x, b := tensorOutput(t, p, k); x.DType != safetensors.DTypeF16 || len(b) != 640 {
			t.Errorf("%s: %s, want F16 (fp16 converts every F32 tensor of the diffusion model)", k, x.DType)
		}
	}
	if x, _ := tensorOutput(t, p, vaeWeight); x.DType != safetensors.DTypeF32 {
		t.Errorf("%s: %s, want F32 kept (not the diffusion model)", vaeWeight, x.DType)
	}
	if rep.Converted != 3 || rep.OutputBytes != p.Size || rep.OutputBytes != rep.InputBytes-(320*4*3*3+320+320)*2 {
		t.Errorf("report %+v", rep)
	}
	if p.Metadata["modelspec.predict_key"] != "epsilon" {
		t.Errorf("metadata not kept: %v", p.Metadata)
	}
	census := 0
	for _, c := range rep.OutputCensus {
		census += c.Tensors
	}
	if census != len(p.Tensors) {
		t.Errorf("census counts %d tensors, output has %d", census, len(p.Tensors))
	}
}

func TestConvertFP8Rule(t *testing.T) {
	in := sd15Checkpoint(t, map[string][]byte{convBias: nil, normWeight: nil})
	p, _, err := PlanConvert(ConvertRequest{Input: in, To: safetensors.DTypeF8E4M3})
	if err != nil {
		t.Fatal(err)
	}
	dt := map[string]safetensors.DType{}
	for _, x := range p.Tensors {
		dt[x.Name] = x.DType
	}
	for k, want := range map[string]safetensors.DType{
		convWeight: safetensors.DTypeF8E4M3, convBias: safetensors.DTypeF32, normWeight: safetensors.DTypeF32, // F16 weights too
		"model.diffusion_model.time_embed.0.weight": safetensors.DTypeF8E4M3, // a Linear, despite its name
		vaeWeight: safetensors.DTypeF32, clipEmb: safetensors.DTypeF16,
	} {
		if dt[k] != want {
			t.Errorf("%s: %s, want %s", k, dt[k], want)
		}
	}
	p, _, err = PlanConvert(ConvertRequest{Input: in, To: safetensors.DTypeF8E5M2, All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range p.Tensors {
		if x.Name == vaeWeight && x.DType != safetensors.DTypeF8E5M2 {
			t.Errorf("--all: %s is %s", x.Name, x.DType)
		}
		if x.Name == clipEmb && x.DType != safetensors.DTypeF16 {
			t.Errorf("--all: embedding %s is %s, want kept", x.Name, x.DType)
		}
	}
}

func TestConvertRefusals(t *testing.T) {
	pos := testTensor{Name: "cond_stage_model.transformer.text_model.embeddings.position_ids", DType: safetensors.DTypeI64, Shape: []int64{1, 77}}
	in := sd15Checkpoint(t, nil, pos)
	_, _, err := PlanConvert(ConvertRequest{Input: in, To: safetensors.DTypeF8E4M3, Match: "position_ids"})
	if !errors.Is(err, ErrCannotConvert) || !strings.Contains(err.Error(), "sd15.safetensors: tensor "+pos.Name+" is I64") {
		t.Errorf("fp8 of I64: %v", err)
	}
	// A file of no diffusion model converts by default only when it holds
	// one component: a VAE converts; a VAE with a text encoder does not.
	vae := manifestInput(t, "sd15", "vae")
	if _, rep, err := PlanConvert(ConvertRequest{Input: vae, To: safetensors.DTypeF16}); err != nil || rep.Converted != 248 || rep.Rule != "F32 tensors of the VAE" {
		t.Errorf("VAE alone: %+v, %v", rep, err)
	}
	if _, _, err = PlanConvert(ConvertRequest{Input: vae, To: safetensors.DTypeF16, All: true}); err != nil {
		t.Errorf("VAE with --all: %v", err)
	}
	var ts []testTensor
	for _, x := range manifestTensors(t, oracleManifest(t, "sd15", "vae")) {
		x.Name = "first_stage_model." + x.Name
		ts = append(ts, x)
	}
	for _, x := range manifestTensors(t, oracleManifest(t, "sd15", "clip_l")) {
		x.Name = "cond_stage_model.transformer." + x.Name
		ts = append(ts, x)
	}
	var encs []testTensor
	for _, x := range ts[len(ts)-len(manifestTensors(t, oracleManifest(t, "sd15", "clip_l"))):] {
		x.Name = strings.TrimPrefix(x.Name, "cond_stage_model.transformer.")
		encs = append(encs, x)
	}
	if _, rep, err := PlanConvert(ConvertRequest{Input: makeInput(t, "clip_l.safetensors", encs, nil), To: safetensors.DTypeBF16}); err != nil || rep.Rule != "F32 tensors of the text encoder" {
		t.Errorf("text encoder alone: %+v, %v", rep, err)
	}
	_, _, err = PlanConvert(ConvertRequest{Input: makeInput(t, "clip_vae.safetensors", ts, nil), To: safetensors.DTypeF16})
	if !errors.Is(err, ErrComponentNotFound) || !strings.Contains(err.Error(), "--all") || !strings.Contains(err.Error(), "VAE") {
		t.Errorf("VAE and text encoder without --all: %v", err)
	}
	if _, err := PrecisionTarget("fp4"); err == nil {
		t.Error("fp4 accepted")
	}
}

// TestConvertUnchanged: no target copies every tensor as it is.
func TestConvertUnchanged(t *testing.T) {
	in := manifestInput(t, "sd15", "vae")
	p, rep, err := PlanConvert(ConvertRequest{Input: in})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Converted != 0 || p.Size != in.Size {
		t.Errorf("converted %d, size %d of %d", rep.Converted, p.Size, in.Size)
	}
	for _, s := range p.Steps {
		if s.Convert != nil {
			t.Fatalf("step %s converts", s.Tensor)
		}
	}
}

// TestExecuteConvertChunks: a conversion cut into many buffer-sized
// chunks (and an odd element count) gives the same bytes as one pass.
func TestExecuteConvertChunks(t *testing.T) {
	src := f32Data(1001, func(i int) float32 { return float32(i)*1.7e-3 - 0.8 })
	want := append([]byte(nil), src...)
	want = want[:convertF32ToF16(want)]
	in := Input{Name: "src", R: bytes.NewReader(src), Size: int64(len(src))}
	for _, buf := range []int{16, 20, 4000, 1 << 20} {
		p := &Plan{Inputs: []Input{in}, Steps: []Step{{Tensor: "t", Input: 0, Length: int64(len(src)), Convert: &Convert{From: safetensors.DTypeF32, To: safetensors.DTypeF16}}}, Size: int64(len(want))}
		var sink streamwriter.MemorySink
		if err := Execute(context.Background(), p, &sink, ExecuteOptions{BufferSize: buf}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sink.Bytes(), want) {
			t.Errorf("buffer %d: bytes differ", buf)
		}
	}
}

func TestValidatePlanConvert(t *testing.T) {
	in := Input{Name: "x", R: bytes.NewReader(make([]byte, 64)), Size: 64}
	for _, c := range []struct {
		step Step
		want string
	}{
		{Step{Tensor: "a", Input: 0, Length: 6, Convert: &Convert{From: safetensors.DTypeF32, To: safetensors.DTypeF16}}, "whole number"},
		{Step{Tensor: "a", Input: 0, Length: 8, Convert: &Convert{From: safetensors.DTypeI64, To: safetensors.DTypeF8E4M3}}, "no conversion"},
		{Step{Tensor: "a", Input: 0, Length: 8, Convert: &Convert{From: safetensors.DTypeF32, To: safetensors.DTypeF16}, Transpose: &Transpose{Rows: 1, Cols: 2, ElemSize: 4}}, "both"},
	} {
		p := &Plan{Inputs: []Input{in}, Steps: []Step{c.step}, Size: 4}
		err := validatePlan(p)
		if !errors.Is(err, ErrBadPlan) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.step, err)
		}
	}
}

func TestPrune(t *testing.T) {
	live := f32Data(320, func(i int) float32 { return 1 })
	shadow := f32Data(320, func(i int) float32 { return 2 })
	broken := f32Data(77, func(i int) float32 {
		if i == 76 {
			return 75.99
		}
		return float32(i)
	})
	posKey := "cond_stage_model.transformer.text_model.embeddings.position_ids"
	in := sd15Checkpoint(t, map[string][]byte{convBias: live},
		testTensor{Name: "model_ema.diffusion_modelinput_blocks00bias", DType: safetensors.DTypeF32, Shape: []int64{320}, Data: shadow},
		testTensor{Name: "model_ema.decay", DType: safetensors.DTypeF32, Shape: []int64{}},
		testTensor{Name: "model_ema.num_updates", DType: safetensors.DTypeI32, Shape: []int64{}},
		testTensor{Name: "lora_te_leftover.alpha", DType: safetensors.DTypeF32, Shape: []int64{}},
		testTensor{Name: posKey, DType: safetensors.DTypeF32, Shape: []int64{1, 77}, Data: broken},
	)
	// Report only: inspect lists the unused keys.
	r, err := Inspect(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.UnusedKeys, ","), "lora_te_leftover.alpha") || r.EMATensors != 3 {
		t.Errorf("inspect: unused %v, ema %d", r.UnusedKeys, r.EMATensors)
	}

	p, rep, err := PlanPrune(PruneRequest{Input: in, EMA: EMAPromote})
	if err != nil {
		t.Fatal(err)
	}
	if _, b := tensorOutput(t, p, convBias); !bytes.Equal(b, shadow) {
		t.Errorf("promote: %s does not hold the EMA weights", convBias)
	}
	for _, x := range p.Tensors {
		if strings.HasPrefix(x.Name, "model_ema.") || x.Name == "lora_te_leftover.alpha" {
			t.Errorf("%s left in", x.Name)
		}
	}
	if rep.PromotedEMA != 1 || rep.DroppedEMA != 3 || rep.DroppedUnused != 1 || len(rep.LiveWithoutEMA) != 685 {
		t.Errorf("report: promoted %d, dropped ema %d, unused %d, live without %d", rep.PromotedEMA, rep.DroppedEMA, rep.DroppedUnused, len(rep.LiveWithoutEMA))
	}
	// position_ids: reported broken, left as they are by default.
	if len(rep.PositionIDs) != 1 || rep.PositionIDs[0].Action != "kept" || len(rep.PositionIDs[0].Broken) != 1 || rep.PositionIDs[0].Broken[0] != 76 {
		t.Errorf("position_ids: %+v", rep.PositionIDs)
	}
	if x, b := tensorOutput(t, p, posKey); x.DType != safetensors.DTypeF32 || !bytes.Equal(b, broken) {
		t.Errorf("position_ids changed without the option")
	}

	// Keep EMA, keep unused, force I64 (truncating), then fix.
	p, _, err = PlanPrune(PruneRequest{Input: in, EMA: EMAKeep, KeepUnused: true, PositionIDsI64: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tensors) != 1130+5 || !hasTensor(p, "model_ema.decay") {
		t.Errorf("keep: %d tensors", len(p.Tensors))
	}
	x, b := tensorOutput(t, p, posKey)
	if x.DType != safetensors.DTypeI64 || len(b) != 77*8 || binary.LittleEndian.Uint64(b[76*8:]) != 75 {
		t.Errorf("to I64: %s %x", x.DType, b)
	}
	p, _, err = PlanPrune(PruneRequest{Input: in, FixPositionIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	x, b = tensorOutput(t, p, posKey)
	if x.DType != safetensors.DTypeI64 || len(b) != 77*8 || binary.LittleEndian.Uint64(b[76*8:]) != 76 {
		t.Errorf("fix: %s %x", x.DType, b)
	}
	// The whole pruned file executes.
	var sink countingSink
	if err := Execute(context.Background(), p, &sink, ExecuteOptions{}); err != nil || sink.n != p.Size {
		t.Errorf("execute: %v, %d of %d bytes", err, sink.n, p.Size)
	}

	// Promote without EMA is an error naming the file.
	_, _, err = PlanPrune(PruneRequest{Input: sd15Checkpoint(t, nil), EMA: EMAPromote})
	if !errors.Is(err, ErrNoEMA) || !strings.Contains(err.Error(), "sd15.safetensors") {
		t.Errorf("promote without EMA: %v", err)
	}
}

type countingSink struct{ n int64 }

func (c *countingSink) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
func (c *countingSink) Finish() error               { return nil }
func (c *countingSink) Abort() error                { return nil }
