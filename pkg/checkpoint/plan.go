package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ckptpack/ckptpack/internal/pyjson"
	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// logitScaleInit is SDClipModel's logit_scale parameter, created as
// torch.tensor(4.6055) (comfy/sd1_clip.py:131). Loaders ignore the file's
// value, so CheckpointSave always writes this one (see the oracle notes).
const logitScaleInit float32 = 4.6055

// sd2VPredKey and sd2VPredThreshold are SD20.model_type's test
// (supported_models.py:97-103): v-prediction when
// torch.std(output_blocks.11.1.transformer_blocks.0.norm1.bias,
// unbiased=False) > 0.09, checked only for 4 input channels.
const (
	sd2VPredKey       = "output_blocks.11.1.transformer_blocks.0.norm1.bias"
	sd2VPredThreshold = 0.09
	// maxStdTensorBytes bounds the one tensor planning reads.
	maxStdTensorBytes = 1 << 20
)

// PlanCheckpoint detects what each input holds and plans the checkpoint
// ComfyUI's CheckpointSave would write for those components.
//
// Slots: Model must hold a diffusion model (alone, prefixed, diffusers, or
// inside a full checkpoint). Clip inputs, in any number and order, provide
// text encoders; VAE provides the VAE. Any slot may point at a full
// checkpoint, whose part for that slot is used. An empty Clip list or VAE
// slot takes that part from the Model file when it holds one (so "model
// file A, VAE file B" bakes a VAE into A).
func PlanCheckpoint(req SaveRequest) (*Plan, error) {
	return planCheckpoint(req, safetensors.ReadHeader)
}

// planCheckpoint is PlanCheckpoint with the header reader as a parameter.
func planCheckpoint(req SaveRequest, readHeader func(Input) (*safetensors.Header, error)) (*Plan, error) {
	b := &planBuilder{req: req}
	read := func(in Input, slot string) (*comfy.FileContents, error) {
		h, err := readHeader(in)
		if err != nil {
			return nil, &SlotError{Slot: slot, File: in.Name, Err: fmt.Errorf("%s slot: %w", slot, err)}
		}
		idx := len(b.inputs)
		b.inputs = append(b.inputs, in)
		fc, err := comfy.AnalyzeFile(idx, in.Name, h)
		if err != nil {
			return nil, &SlotError{Slot: slot, File: in.Name, Err: fmt.Errorf("%s slot: %w", slot, err)}
		}
		return fc, nil
	}
	if req.Model.R == nil {
		return nil, slotErrorf(SlotModel, "", "no file given: %w", ErrMissingComponent)
	}
	var err error
	if b.model, err = read(req.Model, SlotModel); err != nil {
		return nil, err
	}
	for _, in := range req.Clip {
		fc, err := read(in, SlotClip)
		if err != nil {
			return nil, err
		}
		b.clips = append(b.clips, fc)
	}
	if req.VAE.R != nil {
		if b.vae, err = read(req.VAE, SlotVAE); err != nil {
			return nil, err
		}
	}
	return b.build()
}

// planBuilder holds the analysed inputs while a plan is assembled.
type planBuilder struct {
	req    SaveRequest
	inputs []Input
	model  *comfy.FileContents
	clips  []*comfy.FileContents
	vae    *comfy.FileContents
}

// SlotError is a planning error about one slot of the request. File names
// the input at fault, "" when the problem is a missing input. Err carries
// the message (which starts with "<slot> slot: ") and wraps one of the
// sentinels above, so errors.Is works through a *SlotError.
type SlotError struct {
	Slot string // SlotModel, SlotClip or SlotVAE
	File string
	Err  error
}

func (e *SlotError) Error() string { return e.Err.Error() }

func (e *SlotError) Unwrap() error { return e.Err }

// InputFile names the input at fault (for hosts that point at the file).
func (e *SlotError) InputFile() string { return e.File }

func slotErrorf(slot, file, format string, args ...any) error {
	return &SlotError{Slot: slot, File: file, Err: fmt.Errorf(slot+" slot: "+format, args...)}
}

// describeContents says what a file holds, for error messages.
func describeContents(fc *comfy.FileContents) string {
	var what []string
	if fc.Model != nil {
		what = append(what, "a "+fc.Model.Kind+" diffusion model")
	}
	for _, e := range fc.Encoders {
		what = append(what, "a "+comfy.DisplayTE(e.Kind)+" text encoder")
	}
	if fc.VAE != nil {
		what = append(what, "a "+comfy.DisplayVAE(fc.VAE.Kind))
	}
	if len(what) == 0 {
		if fc.Problem != "" {
			return fc.Problem
		}
		return "no diffusion model, text encoder or VAE this tool recognises"
	}
	return strings.Join(what, ", ")
}

// slotError is the error for a file that has nothing for its slot.
func slotError(slot string, fc *comfy.FileContents, want string) error {
	if len(fc.Parts()) == 0 {
		return slotErrorf(slot, fc.Name, "%s holds %s: %w", fc.Name, describeContents(fc), ErrUnknownContent)
	}
	return slotErrorf(slot, fc.Name, "%s holds %s, not %s: %w", fc.Name, describeContents(fc), want, ErrWrongComponent)
}

// encoderUse is one text encoder going into the checkpoint.
type encoderUse struct {
	spec comfy.EncoderSpec
	part *comfy.Part
	file *comfy.FileContents
}

func (b *planBuilder) build() (*Plan, error) {
	if b.model.Model == nil {
		return nil, slotError(SlotModel, b.model, "a diffusion model")
	}
	model := b.model.Model
	arch := model.Arch

	encoders, err := b.resolveEncoders(arch)
	if err != nil {
		return nil, err
	}
	vae, vaeFile, err := b.resolveVAE(arch)
	if err != nil {
		return nil, err
	}
	mt, zsnr, err := b.resolvePrediction(arch, model)
	if err != nil {
		return nil, err
	}

	// state_dict_for_saving: unet, then clip, then vae; then extra_keys.
	out := comfy.StateDict{}
	unet, err := comfy.UnetForSaving(arch, model.SD)
	if err != nil {
		return nil, slotErrorf(SlotModel, b.model.Name, "%s: %w", b.model.Name, err)
	}
	for k, v := range unet {
		out[arch.UnetPrefix+k] = v
	}
	for k, v := range b.model.ModelExtras {
		out[k] = v
	}
	if len(encoders) > 0 {
		clipSD := comfy.StateDict{}
		for _, e := range encoders {
			// Where the CLIP model holds this encoder (comfy.EncoderLayout).
			transformer, logitScale := e.spec.Attr()+".transformer.", e.spec.Attr()+".logit_scale"
			switch e.spec.Layout {
			case comfy.EncSDClip:
				transformer, logitScale = "transformer.", "logit_scale"
			case comfy.EncModule:
				transformer, logitScale = "", ""
			}
			for k, v := range e.part.SD {
				clipSD[transformer+k] = v
			}
			if logitScale != "" {
				clipSD[logitScale] = comfy.InlineSource(safetensors.DTypeF32, []int64{}, f32Bytes(logitScaleInit))
			}
			if eye := comfy.IdentityProjection(e.spec.Kind, e.part.SD); eye != nil {
				clipSD[transformer+"text_projection.weight"] = eye
			}
			if e.spec.Tokenizer != "" {
				blob, err := tokenizerBlob(e)
				if err != nil {
					return nil, err
				}
				if blob != nil {
					clipSD[e.spec.Tokenizer] = blob
				}
			}
		}
		saved, err := comfy.ClipForSaving(arch, clipSD)
		if err != nil {
			// Only the OpenCLIP conversion of CLIP-G/CLIP-H can fail.
			file := ""
			for _, e := range encoders {
				if e.spec.Kind == comfy.TEClipG || e.spec.Kind == comfy.TEClipH {
					file = e.file.Name
				}
			}
			return nil, slotErrorf(SlotClip, file, "%s: %w", file, err)
		}
		for k, v := range saved {
			out[k] = v
		}
	}
	if arch.PixelSpace {
		// PixelspaceConversionVAE's one parameter, torch.tensor(1.0).
		out[arch.VAEPrefix+comfy.PixelSpaceVAEKey] = comfy.InlineSource(safetensors.DTypeF32, []int64{}, f32Bytes(1))
	} else {
		for k, v := range vae.SD {
			out[arch.VAEPrefix+k] = v
		}
	}
	for k, v := range b.extraKeys(arch, mt, zsnr) {
		out[k] = v
	}

	meta, err := b.metadata(arch, mt, vaeFile)
	if err != nil {
		return nil, err
	}
	files := append([]*comfy.FileContents{b.model, vaeFile}, b.clips...)
	files = slices.DeleteFunc(files, func(fc *comfy.FileContents) bool { return fc == nil })
	if q, ok, err := comfy.QuantizationMetadata(files, out); err != nil {
		return nil, err
	} else if ok {
		if _, user := b.req.Metadata[comfy.QuantizationMetadataKey]; !user {
			meta[comfy.QuantizationMetadataKey] = q
		}
	}
	q, note, err := unifyLegacyQuant(out, meta[comfy.QuantizationMetadataKey], b.inputs)
	if err != nil {
		return nil, err
	}
	if q != "" {
		meta[comfy.QuantizationMetadataKey] = q
	}
	qrep, err := quantizeSaved(b, arch, out)
	if err != nil {
		return nil, err
	}
	p, err := layoutPlan(arch, out, meta, b.inputs)
	if p != nil && note != "" {
		p.Notes = append(p.Notes, note)
	}
	if p != nil && qrep != "" {
		if err := checkQuantDetection(Input{Name: b.model.Name}, b.model, p); err != nil {
			return nil, err
		}
		p.Notes = append(p.Notes, qrep)
	}
	return withHashSlot(p, err, "output", meta, b.req.HashSHA256)
}

// resolveEncoders picks the text encoders for arch from the clip inputs
// (or from the model file when no clip input is given) and checks them
// against the class's CLIP.
func (b *planBuilder) resolveEncoders(arch *comfy.Arch) ([]encoderUse, error) {
	sources := b.clips
	fromModel := false
	if len(sources) == 0 {
		if len(b.model.Encoders) == 0 {
			if arch.NoTextEncode {
				return nil, nil
			}
			return nil, slotErrorf(SlotClip, "", "no text encoder given and %s has none; %s needs %s: %w",
				b.model.Name, arch.Class, describeEncoders(arch), ErrMissingComponent)
		}
		sources, fromModel = []*comfy.FileContents{b.model}, true
	}
	if arch.NoTextEncode && !fromModel {
		return nil, slotErrorf(SlotClip, sources[0].Name, "%s takes no text encoder%s, but %s was given: %w", arch.Class, arch.NoTextEncodeNote(), sources[0].Name, ErrArchMismatch)
	}
	if arch.NoTextEncode {
		return nil, nil
	}
	// A file holding several components (a checkpoint, a CLIPSave file of
	// several encoders) offers its encoders; a single-encoder file insists
	// on its one. So a standalone encoder replaces the same kind from a
	// checkpoint ("swap a text encoder"), and encoders of a checkpoint the
	// class does not use are left out.
	type offer struct {
		use   encoderUse
		multi bool
	}
	found := map[string]offer{}
	for _, fc := range sources {
		if len(fc.Encoders) == 0 {
			return nil, slotError(SlotClip, fc, "a text encoder")
		}
		multi := len(fc.Parts()) > 1
		used := 0
		for _, e := range fc.Encoders {
			spec, ok := arch.Encoder(e.Kind)
			if !ok {
				if multi {
					continue
				}
				return nil, slotErrorf(SlotClip, fc.Name, "%s holds a %s text encoder, which %s does not use (it takes %s): %w",
					fc.Name, comfy.DisplayTE(e.Kind), arch.Class, describeEncoders(arch), ErrArchMismatch)
			}
			used++
			o := offer{use: encoderUse{spec: spec, part: e, file: fc}, multi: multi}
			prev, dup := found[e.Kind]
			switch {
			case !dup, prev.multi && !multi:
				found[e.Kind] = o
			case !prev.multi && multi:
				// keep the standalone encoder
			default:
				return nil, slotErrorf(SlotClip, fc.Name, "%s and %s both hold a %s text encoder: %w", prev.use.file.Name, fc.Name, comfy.DisplayTE(e.Kind), ErrDuplicateComponent)
			}
		}
		if used == 0 {
			return nil, slotErrorf(SlotClip, fc.Name, "%s holds %s, none of which %s uses (it takes %s): %w",
				fc.Name, describeContents(fc), arch.Class, describeEncoders(arch), ErrArchMismatch)
		}
	}
	var uses []encoderUse
	for _, o := range found {
		uses = append(uses, o.use)
	}
	var missing []string
	for _, s := range arch.Encoders {
		if _, ok := found[s.Kind]; !ok && !s.Optional {
			missing = append(missing, comfy.DisplayTE(s.Kind))
		}
	}
	if len(arch.OneOf) > 0 && !slices.ContainsFunc(arch.OneOf, func(k string) bool { _, ok := found[k]; return ok }) {
		var names []string
		for _, k := range arch.OneOf {
			names = append(names, comfy.DisplayTE(k)+" ("+k+")")
		}
		missing = append(missing, strings.Join(names, " or "))
	}
	if len(missing) > 0 {
		return nil, slotErrorf(SlotClip, "", "this %s model also needs %s (it takes %s): %w",
			arch.Class, strings.Join(missing, " and "), describeEncoders(arch), ErrMissingComponent)
	}
	if len(uses) == 0 {
		return nil, slotErrorf(SlotClip, "", "%s needs %s: %w", arch.Class, describeEncoders(arch), ErrMissingComponent)
	}
	// Keep the class's encoder order for deterministic messages.
	sort.SliceStable(uses, func(i, j int) bool {
		return arch.EncoderIndex(uses[i].spec.Kind) < arch.EncoderIndex(uses[j].spec.Kind)
	})

	return uses, nil
}

// tokenizerBlob finds the tokenizer blob an encoder's files carry: under
// its own key, or bare (a standalone file's "spiece_model").
func tokenizerBlob(u encoderUse) (*comfy.TensorSource, error) {
	key := u.spec.Tokenizer
	if t, ok := u.file.Tokenizers[key]; ok {
		return t, nil
	}
	if t, ok := u.file.Tokenizers[key[strings.LastIndex(key, ".")+1:]]; ok {
		return t, nil
	}
	if u.spec.TokenizerOptional {
		return nil, nil
	}
	return nil, slotErrorf(SlotClip, u.file.Name, "the %s text encoder needs its tokenizer %s, which %s does not carry: %w",
		comfy.DisplayTE(u.spec.Kind), key, u.file.Name, ErrMissingComponent)
}

// describeEncoders lists the encoders a class takes ("CLIP-L (clip_l) and
// T5-XXL (t5xxl)").
func describeEncoders(a *comfy.Arch) string {
	if len(a.Encoders) == 0 {
		return "no text encoder"
	}
	var names []string
	for _, s := range a.Encoders {
		n := comfy.DisplayTE(s.Kind) + " (" + s.Kind + ")"
		if s.Optional && !a.AnyEncoder {
			n += ", optional"
		}
		names = append(names, n)
	}
	join := " and "
	if a.AnyEncoder {
		join = " and/or "
	}
	return strings.Join(names, join)
}

// resolveVAE picks the VAE from the vae input, or from the model file when
// none is given, and checks its family.
func (b *planBuilder) resolveVAE(arch *comfy.Arch) (*comfy.Part, *comfy.FileContents, error) {
	fc := b.vae
	if arch.PixelSpace {
		// No VAE file: the checkpoint gets ComfyUI's pixel-space marker. A
		// VAE input is accepted only if it is that marker itself.
		if fc != nil && (fc.VAE == nil || fc.VAE.Kind != comfy.VAEPixelSpace) {
			return nil, nil, slotErrorf(SlotVAE, fc.Name, "%s works on pixels and has no VAE, but %s holds %s: %w",
				arch.Class, fc.Name, describeContents(fc), ErrArchMismatch)
		}
		return &comfy.Part{Slot: SlotVAE, Kind: comfy.VAEPixelSpace, SD: comfy.StateDict{}}, b.model, nil
	}
	if fc == nil {
		if b.model.VAE == nil {
			return nil, nil, slotErrorf(SlotVAE, "", "no VAE given and %s has none; %s needs a %s: %w",
				b.model.Name, arch.Class, describeVAEKinds(arch), ErrMissingComponent)
		}
		fc = b.model
	}
	if fc.VAE == nil {
		return nil, nil, slotError(SlotVAE, fc, "a VAE")
	}
	v := fc.VAE
	if arch.VAEKinds != nil && v.Kind != "" && !slices.Contains(arch.VAEKinds, v.Kind) {
		return nil, nil, slotErrorf(SlotVAE, fc.Name, "%s holds a %s; %s needs a %s: %w",
			fc.Name, comfy.DisplayVAE(v.Kind), arch.Class, describeVAEKinds(arch), ErrArchMismatch)
	}
	return v, fc, nil
}

func describeVAEKinds(a *comfy.Arch) string {
	if a.PixelSpace {
		return "no VAE (it works on pixels)"
	}
	if len(a.VAEKinds) == 0 {
		return "VAE"
	}
	var names []string
	for _, k := range a.VAEKinds {
		names = append(names, comfy.DisplayVAE(k))
	}
	return strings.Join(names, " or ")
}

// resolvePrediction decides the model type ComfyUI would give the model
// (and zsnr), honouring SaveRequest.Prediction where the class chooses
// between epsilon and v.
func (b *planBuilder) resolvePrediction(arch *comfy.Arch, model *comfy.Part) (comfy.ModelType, bool, error) {
	markers := b.model.Markers
	switch b.req.Prediction {
	case PredictionEps, PredictionV:
		want := comfy.ModelEPS
		if b.req.Prediction == PredictionV {
			want = comfy.ModelV
		}
		if arch.Prediction == comfy.PredictFixed && arch.ModelType != want {
			return "", false, slotErrorf(SlotModel, b.model.Name, "%s is a %s model; its prediction type is fixed (%s), %q does not apply: %w",
				b.model.Name, arch.Class, arch.ModelType, b.req.Prediction, ErrPrediction)
		}
		zsnr := want == comfy.ModelV && markers.Has("v_pred") && markers.Has("ztsnr")
		return want, zsnr, nil
	case PredictionAuto, "":
	default:
		return "", false, slotErrorf(SlotModel, "", "unknown prediction %q (want auto, eps or v): %w", b.req.Prediction, ErrPrediction)
	}
	switch arch.Prediction {
	case comfy.PredictMarkers:
		// SDXL.model_type (supported_models.py:200-218).
		switch {
		case markers.Has("edm_mean") && markers.Has("edm_std"):
			return comfy.ModelEDM, false, nil
		case markers.Has("edm_vpred.sigma_max"):
			return comfy.ModelVEDM, false, nil
		case markers.Has("v_pred"):
			return comfy.ModelV, markers.Has("ztsnr"), nil
		}
		return comfy.ModelEPS, false, nil
	case comfy.PredictStd:
		if model.Config["in_channels"] != 4 {
			return comfy.ModelEPS, false, nil
		}
		t, ok := model.SD[sd2VPredKey]
		if !ok {
			return comfy.ModelEPS, false, nil
		}
		std, err := b.tensorStd(t)
		if err != nil {
			return "", false, slotErrorf(SlotModel, b.model.Name, "%s: reading %s: %w", b.model.Name, sd2VPredKey, err)
		}
		if std > sd2VPredThreshold {
			return comfy.ModelV, false, nil
		}
		return comfy.ModelEPS, false, nil
	}
	return arch.ModelType, false, nil
}

// tensorStd reads one small float tensor and returns its population
// standard deviation (torch.std(unbiased=False)).
func (b *planBuilder) tensorStd(t *comfy.TensorSource) (float64, error) {
	if t.Size() > maxStdTensorBytes {
		return 0, fmt.Errorf("tensor of %d bytes is larger than expected", t.Size())
	}
	var raw []byte
	for _, p := range t.Pieces {
		if p.Transpose != nil || p.Input < 0 {
			return 0, fmt.Errorf("not a stored tensor")
		}
		buf := make([]byte, p.Length)
		if _, err := b.inputs[p.Input].R.ReadAt(buf, p.Offset); err != nil {
			return 0, err
		}
		raw = append(raw, buf...)
	}
	vals, err := decodeFloats(t.DType, raw)
	if err != nil {
		return 0, err
	}
	if len(vals) == 0 {
		return 0, nil
	}
	var mean float64
	for _, v := range vals {
		mean += v
	}
	mean /= float64(len(vals))
	var ss float64
	for _, v := range vals {
		ss += (v - mean) * (v - mean)
	}
	return math.Sqrt(ss / float64(len(vals))), nil
}

// decodeFloats decodes little-endian F16, BF16, F32 or F64 values.
func decodeFloats(dt safetensors.DType, raw []byte) ([]float64, error) {
	var out []float64
	switch dt {
	case safetensors.DTypeF16:
		for i := 0; i+2 <= len(raw); i += 2 {
			out = append(out, f16ToFloat(binary.LittleEndian.Uint16(raw[i:])))
		}
	case safetensors.DTypeBF16:
		for i := 0; i+2 <= len(raw); i += 2 {
			out = append(out, float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[i:]))<<16)))
		}
	case safetensors.DTypeF32:
		for i := 0; i+4 <= len(raw); i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))))
		}
	case safetensors.DTypeF64:
		for i := 0; i+8 <= len(raw); i += 8 {
			out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
		}
	default:
		return nil, fmt.Errorf("cannot read %s values", dt)
	}
	return out, nil
}

// f16ToFloat converts IEEE half precision bits.
func f16ToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1F
	mant := float64(h & 0x3FF)
	switch exp {
	case 0:
		return sign * mant * math.Pow(2, -24)
	case 0x1F:
		if mant == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * (1 + mant/1024) * math.Pow(2, float64(exp-15))
}

func f32Bytes(v float32) []byte {
	return binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))
}

// extraKeys are the tensors save_checkpoint and state_dict_for_saving add
// for the model type (§1.2 step 5, model_base.py:336-337), plus the
// Playground markers ComfyUI loses but this tool keeps.
func (b *planBuilder) extraKeys(arch *comfy.Arch, mt comfy.ModelType, zsnr bool) comfy.StateDict {
	out := comfy.StateDict{}
	empty := func() *comfy.TensorSource { return comfy.InlineSource(safetensors.DTypeF32, []int64{0}, nil) }
	switch mt {
	case comfy.ModelV:
		out["v_pred"] = empty()
		if zsnr {
			out["ztsnr"] = empty()
		}
	case comfy.ModelVEDM:
		if arch.Prediction == comfy.PredictMarkers {
			// CosXL-style: ComfyUI writes model_sampling.sigma_max/min,
			// which it read from these keys; the file's values are kept.
			out["edm_vpred.sigma_max"] = b.model.Markers["edm_vpred.sigma_max"]
			if t, ok := b.model.Markers["edm_vpred.sigma_min"]; ok {
				out["edm_vpred.sigma_min"] = t
			} else {
				out["edm_vpred.sigma_min"] = comfy.InlineSource(safetensors.DTypeF32, []int64{}, f32Bytes(edmSigma(0.002)))
			}
		} else if arch.Family == comfy.FamilyUNet {
			// SVD/SV3D: V_PREDICTION_EDM with the class's sigma range.
			out["edm_vpred.sigma_max"] = comfy.InlineSource(safetensors.DTypeF32, []int64{}, f32Bytes(edmSigma(comfy.SVDSigmaMax)))
			out["edm_vpred.sigma_min"] = comfy.InlineSource(safetensors.DTypeF32, []int64{}, f32Bytes(edmSigma(comfy.SVDSigmaMin)))
		}
	case comfy.ModelEDM:
		// Playground 2.5: ComfyUI's CheckpointSave drops edm_mean/edm_std
		// (they live on the model wrapper, §2.2), so its output reloads as
		// plain EPS SDXL. They are kept here so the checkpoint stays EDM.
		out["edm_mean"] = b.model.Markers["edm_mean"]
		out["edm_std"] = b.model.Markers["edm_std"]
	}
	return out
}

// edmSigma is a sigma as ModelSamplingContinuousEDM reports it: an end of
// torch.linspace(log(min), log(max), 1000).exp() in float32.
func edmSigma(x float64) float32 {
	return float32(math.Exp(float64(float32(math.Log(x)))))
}

// metadata builds __metadata__ as save_checkpoint does (§1.2), then adds
// what this tool keeps beyond ComfyUI, then the user's entries.
func (b *planBuilder) metadata(arch *comfy.Arch, mt comfy.ModelType, vaeFile *comfy.FileContents) (map[string]string, error) {
	meta := map[string]string{}
	if arch.ModelSpec != "" {
		meta["modelspec.architecture"] = arch.ModelSpec
		meta["modelspec.sai_model_spec"] = "1.0.0"
		meta["modelspec.implementation"] = "sgm"
		if b.req.Title != "" {
			meta["modelspec.title"] = b.req.Title
		}
	}
	switch mt {
	case comfy.ModelEPS:
		meta["modelspec.predict_key"] = "epsilon"
	case comfy.ModelV:
		meta["modelspec.predict_key"] = "v"
	}
	// Metadata the class's detection (and LTXV's VAE) reads from the file:
	// ComfyUI does not re-write it; this tool does so the checkpoint loads
	// as the same variant.
	for _, key := range arch.KeepMetadata {
		for _, fc := range []*comfy.FileContents{b.model, vaeFile} {
			if fc == nil {
				continue
			}
			if c, ok := fc.Header.Metadata[key]; ok {
				meta[key] = c
				break
			}
		}
	}
	if !b.req.DisableMetadata {
		prompt := ""
		if b.req.Prompt != "" {
			p, err := pyjson.Dumps(b.req.Prompt)
			if err != nil {
				return nil, fmt.Errorf("prompt: %w", err)
			}
			prompt = p
		}
		meta["prompt"] = prompt
		if b.req.ExtraPNGInfo != "" {
			extra, err := pyjson.DumpsMembers(b.req.ExtraPNGInfo)
			if err != nil {
				return nil, fmt.Errorf("extra_pnginfo: %w", err)
			}
			for _, m := range extra {
				meta[m.Key] = m.Value
			}
		}
	}
	for k, v := range b.req.Metadata {
		meta[k] = v
	}
	if err := applyModelSpec(meta, b.req.ModelSpec, b.req.HashSHA256); err != nil {
		return nil, err
	}
	return meta, nil
}

// layoutPlan orders the output tensors as Python safetensors writes them,
// encodes the header and turns every tensor's pieces into Steps.
func layoutPlan(arch *comfy.Arch, out comfy.StateDict, meta map[string]string, inputs []Input) (*Plan, error) {
	tensors := make([]safetensors.Tensor, 0, len(out))
	for k, v := range out {
		tensors = append(tensors, safetensors.Tensor{Name: k, DType: v.DType, Shape: v.Shape})
	}
	safetensors.ReferenceOrder(tensors)
	dataSize, err := safetensors.AssignOffsets(tensors)
	if err != nil {
		return nil, err
	}
	header, err := safetensors.EncodeHeader(meta, tensors)
	if err != nil {
		return nil, err
	}
	p := &Plan{
		Architecture: arch.Class,
		Header:       header,
		Tensors:      tensors,
		Metadata:     meta,
		Inputs:       inputs,
		Size:         int64(len(header)) + dataSize,
	}
	for _, t := range tensors {
		src := out[t.Name]
		if got := src.Size(); got != t.End-t.Begin {
			return nil, fmt.Errorf("%s: sources give %d bytes for %s %v (%d bytes)", t.Name, got, t.DType, t.Shape, t.End-t.Begin)
		}
		for _, pc := range src.Pieces {
			if pc.Length == 0 {
				continue
			}
			c, _ := pc.Compute.(*Convert) // set by quantizeSaved
			p.Steps = append(p.Steps, Step{Tensor: t.Name, Input: pc.Input, Offset: pc.Offset, Length: pc.Length, Transpose: pc.Transpose, Data: pc.Data, Convert: c})
		}
	}
	return p, nil
}
