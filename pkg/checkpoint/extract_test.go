package checkpoint

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/internal/fixture"
)

// goldenExtractCases: the oracle's reverse-node outputs per architecture.
var goldenExtractCases = []struct {
	arch  string
	clips []string // CLIPSave files, in CLIPSave's order
}{
	{"sd15", []string{"clip_l"}},
	{"sdxl_base", []string{"clip_l", "clip_g"}},
	{"sd3_medium", []string{"clip_l", "clip_g", "t5xxl"}},
	{"flux_dev", []string{"clip_l", "t5xxl"}},
}

// seedOf resolves where an extracted tensor's bytes come from, through the
// checkpoint's recorded sources when the input is the checkpoint: the
// component key whose data-rule stream it holds. transposed counts the
// transposes on the way (two cancel out).
func seedOf(t *testing.T, seg segment, ckpt *fixture.Manifest, comps map[string]*fixture.Manifest) (component, key string, transposed bool) {
	t.Helper()
	if ckpt == nil {
		return seg.File, seg.Tensor, seg.Transpose
	}
	e, ok := ckpt.Lookup(seg.Tensor)
	if !ok || e.Source == nil {
		t.Fatalf("checkpoint has no source for %s", seg.Tensor)
	}
	var off int64
	for _, ref := range e.Source.From {
		m := comps[ref.Component]
		if m == nil {
			m = oracleManifest(t, strings.TrimSuffix(baseDir(ckpt.Path), "/"), strings.TrimSuffix(ckpt.Components[ref.Component], ".json"))
			comps[ref.Component] = m
		}
		ce, ok := m.Lookup(ref.Key)
		if !ok {
			t.Fatalf("component %s has no %s", ref.Component, ref.Key)
		}
		n, _ := ce.NumBytes()
		if seg.Start == off && seg.End == off+n {
			return ref.Component, ce.Seed(), (e.Source.Op == "transpose") != seg.Transpose
		}
		off += n
	}
	t.Fatalf("segment %+v of %s matches no source piece %+v", seg, seg.Tensor, e.Source)
	return
}

func baseDir(p string) string {
	p = p[:strings.LastIndex(p, "/")]
	return p[strings.LastIndex(p, "/")+1:]
}

// checkExtracted compares one extracted plan with the oracle manifest of
// that node's output: header (keys, dtypes, shapes, metadata, reference
// layout) and, for every tensor, that its bytes are the whole data-rule
// stream the manifest names, untransposed, from the right component.
func checkExtracted(t *testing.T, p *Plan, want *fixture.Manifest, wantComponent string, ckpt *fixture.Manifest) {
	t.Helper()
	checkHeader(t, p, want)
	segs, inline := provenance(t, p)
	comps := map[string]*fixture.Manifest{}
	for _, e := range want.Tensors {
		if e.Value != nil {
			b, err := fixture.EncodeValues(e.Value, e.DType)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(inline[e.Key], b) {
				t.Errorf("%s: inline %x, want %x", e.Key, inline[e.Key], b)
			}
			continue
		}
		got := segs[e.Key]
		if len(got) != 1 {
			if e.Key == "text_projection.weight" && ckpt != nil && len(inline[e.Key]) > 0 {
				// Not in the checkpoint: ComfyUI's identity (checked below).
				checkIdentity(t, inline[e.Key], e)
				continue
			}
			t.Errorf("%s: %d source segments %+v, want one whole tensor", e.Key, len(got), got)
			continue
		}
		comp, key, tr := seedOf(t, got[0], ckpt, comps)
		if comp != wantComponent || key != e.Seed() || tr {
			t.Errorf("%s: bytes of %s:%s (transposed %v), want %s:%s", e.Key, comp, key, tr, wantComponent, e.Seed())
		}
		n, _ := e.NumBytes()
		if got[0].End-got[0].Start != n && ckpt == nil {
			t.Errorf("%s: %d bytes, want %d", e.Key, got[0].End-got[0].Start, n)
		}
	}
}

func checkIdentity(t *testing.T, b []byte, e fixture.Entry) {
	t.Helper()
	if e.DType != "F16" || len(e.Shape) != 2 || e.Shape[0] != e.Shape[1] {
		t.Fatalf("%s: unexpected %s %v", e.Key, e.DType, e.Shape)
	}
	n := int(e.Shape[0])
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := uint16(b[2*(i*n+j)]) | uint16(b[2*(i*n+j)+1])<<8
			want := uint16(0)
			if i == j {
				want = 0x3C00
			}
			if v != want {
				t.Fatalf("%s[%d,%d] = %04x, want %04x (identity)", e.Key, i, j, v, want)
			}
		}
	}
}

// TestGoldenExtract extracts each component from the oracle's component
// files and from its golden checkpoint, and compares with what ComfyUI's
// ModelSave (unet_modelsave.json), CLIPSave (clip_*.json, t5xxl.json) and
// VAESave (vae.json) wrote.
func TestGoldenExtract(t *testing.T) {
	for _, c := range goldenExtractCases {
		t.Run(c.arch, func(t *testing.T) {
			ckptIn, ckpt := checkpointInput(t, c.arch), oracleManifest(t, c.arch, "expected_checkpoint")
			for _, fromCkpt := range []bool{false, true} {
				src := func(component string) (Input, *fixture.Manifest) {
					if fromCkpt {
						return ckptIn, ckpt
					}
					return manifestInput(t, c.arch, component), nil
				}
				// ModelSave.
				in, ck := src("unet")
				out, err := PlanExtract(ExtractRequest{Input: in, Component: SlotModel, Title: "ComfyUI 1"})
				if err != nil {
					t.Fatalf("model (checkpoint %v): %v", fromCkpt, err)
				}
				if len(out) != 1 {
					t.Fatalf("model: %d outputs", len(out))
				}
				checkExtracted(t, out[0].Plan, oracleManifest(t, c.arch, "unet_modelsave"), "unet", ck)
				// VAESave.
				in, ck = src("vae")
				out, err = PlanExtract(ExtractRequest{Input: in, Component: SlotVAE})
				if err != nil {
					t.Fatalf("vae (checkpoint %v): %v", fromCkpt, err)
				}
				checkExtracted(t, out[0].Plan, oracleManifest(t, c.arch, "vae"), "vae", ck)
				// CLIPSave: one file per encoder.
				var files []string
				for _, enc := range c.clips {
					in, ck = src(enc)
					out, err = PlanExtract(ExtractRequest{Input: in, Component: SlotClip})
					if err != nil {
						t.Fatalf("clip %s (checkpoint %v): %v", enc, fromCkpt, err)
					}
					for _, x := range out {
						if x.Encoder == enc {
							checkExtracted(t, x.Plan, oracleManifest(t, c.arch, enc), enc, ck)
						}
					}
					if fromCkpt {
						files = nil
						for _, x := range out {
							files = append(files, x.Encoder)
						}
					}
				}
				if fromCkpt && strings.Join(files, ",") != strings.Join(c.clips, ",") {
					t.Errorf("CLIPSave files from the checkpoint: %v, want %v", files, c.clips)
				}
			}
		})
	}
}

func TestExtractNaming(t *testing.T) {
	cases := []struct{ component, user, enc, want string }{
		{SlotModel, "", "", "diffusion_models/ComfyUI"},
		{SlotClip, "", "clip_l", "clip/ComfyUI_clip_l"},
		{SlotVAE, "", "", "vae/ComfyUI_vae"},
		{SlotClip, "te/mine", "t5xxl", "te/mine_t5xxl"},
	}
	for _, c := range cases {
		if got := ExtractFilenamePrefix(c.component, c.user, c.enc); got != c.want {
			t.Errorf("%v: %q, want %q", c, got, c.want)
		}
	}
}

// TestExtractMissingComponent: a VAE asked of a file without one is an
// error naming the file and what it holds.
func TestExtractMissingComponent(t *testing.T) {
	in := manifestInput(t, "sd15", "unet")
	_, err := PlanExtract(ExtractRequest{Input: in, Component: SlotVAE})
	if !errors.Is(err, ErrComponentNotFound) || !strings.Contains(err.Error(), "unet holds a SD15 diffusion model, not a VAE") {
		t.Fatalf("err = %v", err)
	}
	_, err = PlanExtract(ExtractRequest{Input: in, Component: "lora"})
	if err == nil || !strings.Contains(err.Error(), `"lora"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestExtractMetadata: CLIPSave's format/prompt and the disable switch.
func TestExtractMetadata(t *testing.T) {
	in := manifestInput(t, "sd15", "clip_l")
	out, err := PlanExtract(ExtractRequest{Input: in, Component: SlotClip, Prompt: `{"a": 1}`, ExtraPNGInfo: `{"workflow": {"b": [1, 2]}}`})
	if err != nil {
		t.Fatal(err)
	}
	m := out[0].Plan.Metadata
	if m["format"] != "pt" || m["prompt"] != `{"a": 1}` || m["workflow"] != `{"b": [1, 2]}` {
		t.Errorf("metadata %v", m)
	}
	out, err = PlanExtract(ExtractRequest{Input: in, Component: SlotClip, DisableMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(out[0].Plan.Metadata) != 0 {
		t.Errorf("metadata with DisableMetadata: %v", out[0].Plan.Metadata)
	}
}

// TestExtractFromMultiEncoderFile: a file holding several encoders under
// "<name>.transformer." (an old CLIPSave "" file, a DualCLIP bundle) gives
// one CLIPSave file per encoder.
func TestExtractFromMultiEncoderFile(t *testing.T) {
	var ts []testTensor
	for _, enc := range []string{"clip_l", "t5xxl"} {
		for _, x := range manifestTensors(t, oracleManifest(t, "flux_dev", enc)) {
			if x.Name == "logit_scale" {
				x.Name = enc + ".logit_scale"
			} else {
				x.Name = enc + ".transformer." + x.Name
			}
			ts = append(ts, x)
		}
	}
	in := makeInput(t, "encoders.safetensors", ts, nil)
	out, err := PlanExtract(ExtractRequest{Input: in, Component: SlotClip})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Encoder != "clip_l" || out[1].Encoder != "t5xxl" {
		t.Fatalf("outputs %+v", out)
	}
	for _, x := range out {
		checkHeader(t, x.Plan, oracleManifest(t, "flux_dev", x.Encoder))
		segs, _ := provenance(t, x.Plan)
		for name, s := range segs {
			if len(s) != 1 || s[0].Tensor != x.Encoder+".transformer."+name || s[0].Start != 0 {
				t.Errorf("%s %s: from %+v", x.Encoder, name, s)
			}
		}
	}
}
