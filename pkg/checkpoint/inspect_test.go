package checkpoint

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestInspect reports components, layouts, slots and what is missing.
func TestInspect(t *testing.T) {
	type want struct {
		arch       string
		components string // slot/kind/layout, in order
		slots      string
		missing    string
		prediction string
	}
	cases := []struct {
		name string
		in   Input
		want want
	}{
		{"sdxl checkpoint", checkpointInput(t, "sdxl_base"), want{"SDXL", "[model/SDXL/checkpoint clip/clip_g/checkpoint clip/clip_l/checkpoint vae/kl4/checkpoint]", "[model clip vae]", "[]", "eps"}},
		{"flux unet", manifestInput(t, "flux_dev", "unet"), want{"Flux", "[model/Flux/bare]", "[model]", "[clip vae]", "flux"}},
		{"modelsave", manifestInput(t, "sd3_medium", "unet_modelsave"), want{"SD3", "[model/SD3/prefixed]", "[model]", "[clip vae]", "flow"}},
		{"t5", manifestInput(t, "flux_dev", "t5xxl"), want{"", "[clip/t5xxl/hf]", "[clip]", "[model]", ""}},
		{"vae", manifestInput(t, "sd15", "vae"), want{"", "[vae/kl4/ldm]", "[vae]", "[model]", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Inspect(c.in)
			if err != nil {
				t.Fatal(err)
			}
			var comps []string
			for _, x := range r.Components {
				comps = append(comps, x.Slot+"/"+x.Kind+"/"+x.Layout)
				if x.Tensors == 0 || x.Bytes == 0 || x.Detail == "" {
					t.Errorf("component %+v", x)
				}
			}
			got := want{r.Architecture, fmt.Sprint(comps), fmt.Sprint(r.Slots), fmt.Sprint(append([]string{}, r.Missing...)), r.Prediction}
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			if r.Tensors != len(headerOf(t, c.in).Tensors) || r.Bytes != c.in.Size {
				t.Errorf("tensors %d bytes %d", r.Tensors, r.Bytes)
			}
			n := 0
			for _, v := range r.DTypes {
				n += v
			}
			if n != r.Tensors {
				t.Errorf("dtype census %v covers %d of %d tensors", r.DTypes, n, r.Tensors)
			}
		})
	}

	// Requirements and what fits: Flux needs CLIP-L and T5-XXL and a
	// 16-channel VAE; the T5-XXL file lists Flux among its architectures.
	r, _ := Inspect(manifestInput(t, "flux_dev", "unet"))
	if fmt.Sprint(r.MissingEncoders) != "[clip_l t5xxl]" || r.Requires == nil || fmt.Sprint(r.Requires.VAEKinds) != "[kl16]" || len(r.Requires.Encoders) != 2 {
		t.Errorf("flux requirements: %+v missing %v", r.Requires, r.MissingEncoders)
	}
	t5, _ := Inspect(manifestInput(t, "flux_dev", "t5xxl"))
	found := false
	for _, a := range t5.Components[0].Architectures {
		found = found || a == "Flux"
	}
	if !found {
		t.Errorf("t5xxl architectures %v lack Flux", t5.Components[0].Architectures)
	}

	// Workflow metadata, unused keys, unrecognised content.
	m := oracleManifest(t, "sd15", "clip_l")
	ts := append(manifestTensors(t, m), testTensor{Name: "model_ema.decay", DType: "F32", Shape: []int64{}})
	r, err := Inspect(makeInput(t, "with_workflow", ts, map[string]string{"workflow": `{"nodes": []}`}))
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasWorkflow || r.Unused != 2 || fmt.Sprint(r.UnusedSample) != "[logit_scale model_ema.decay]" { // ComfyUI ignores a CLIP file's logit_scale
		t.Errorf("workflow %v unused %d %v", r.HasWorkflow, r.Unused, r.UnusedSample)
	}
	r, err = Inspect(makeInput(t, "junk", []testTensor{{Name: "a", DType: "F32", Shape: []int64{1}}}, nil))
	if err != nil || len(r.Components) != 0 || len(r.Slots) != 0 || r.Unused != 1 {
		t.Errorf("junk: %+v %v", r, err)
	}
	unsupported := synthUNet(320, 4, 512, 0, true, false, levels(2, 1, 1, 1, 0))
	var us []testTensor
	for _, k := range unsupported.SortedKeys() {
		us = append(us, testTensor{Name: k, DType: "F16", Shape: unsupported[k].Shape})
	}
	r, err = Inspect(makeInput(t, "odd_unet", us, nil))
	if err != nil || len(r.Components) != 0 || r.Problem == "" {
		t.Errorf("unsupported unet: %+v %v", r, err)
	}
}

// TestCheckSlot: what a UI is told when a file is dropped on a slot.
func TestCheckSlot(t *testing.T) {
	report := func(in Input) *Report {
		r, err := Inspect(in)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	sdxl := report(manifestInput(t, "sdxl_base", "unet"))
	flux := report(manifestInput(t, "flux_dev", "unet"))
	sdxlCkpt := report(checkpointInput(t, "sdxl_base"))
	clipG := report(manifestInput(t, "sdxl_base", "clip_g"))
	t5 := report(manifestInput(t, "flux_dev", "t5xxl"))
	vae4 := report(manifestInput(t, "sdxl_base", "vae"))
	vae16 := report(manifestInput(t, "flux_dev", "vae"))
	junk := report(makeInput(t, "junk", []testTensor{{Name: "a", DType: "F32", Shape: []int64{1}}}, nil))
	cases := []struct {
		name  string
		file  *Report
		slot  string
		model *Report
		want  error
	}{
		{"clip_g for sdxl", clipG, SlotClip, sdxl, nil},
		{"clip_g before a model", clipG, SlotClip, nil, nil},
		{"clip_g for flux", clipG, SlotClip, flux, ErrArchMismatch},
		{"t5 for flux", t5, SlotClip, flux, nil},
		{"t5 for sdxl", t5, SlotClip, sdxl, ErrArchMismatch},
		{"sdxl checkpoint as flux clip", sdxlCkpt, SlotClip, flux, nil},
		{"sdxl checkpoint as vae for flux", sdxlCkpt, SlotVAE, flux, ErrArchMismatch},
		{"4-channel vae for sdxl", vae4, SlotVAE, sdxl, nil},
		{"16-channel vae for sdxl", vae16, SlotVAE, sdxl, ErrArchMismatch},
		{"vae as model", vae4, SlotModel, nil, ErrWrongComponent},
		{"unet as clip", sdxl, SlotClip, sdxl, ErrWrongComponent},
		{"checkpoint as model", sdxlCkpt, SlotModel, nil, nil},
		{"junk", junk, SlotVAE, sdxl, ErrUnknownContent},
	}
	for _, c := range cases {
		err := CheckSlot(c.file, c.slot, c.model)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var se *SlotError
		if !errors.Is(err, c.want) || !errors.As(err, &se) || se.Slot != c.slot || !strings.Contains(err.Error(), c.file.File) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
