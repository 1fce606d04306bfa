package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ckptpack/ckptpack/internal/pyjson"
)

// logitScaleInit is SDClipModel's logit_scale parameter, created as
// torch.tensor(4.6055) (comfy/sd1_clip.py:131). Loaders ignore the file's
// value, so CheckpointSave always writes this one (see the oracle notes).
const logitScaleInit float32 = 4.6055

// sdxlPositionIDs is the clip_l position_ids buffer SDXL writes:
// torch.arange(77).expand((1, -1)), int64 (supported_models.py:237-253).
const sdxlPositionIDs = 77

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
	return planCheckpoint(req, ReadHeader)
}

// planCheckpoint is PlanCheckpoint with the header reader as a parameter.
func planCheckpoint(req SaveRequest, readHeader func(Input) (*Header, error)) (*Plan, error) {
	b := &planBuilder{req: req}
	read := func(in Input, slot string) (*fileContents, error) {
		h, err := readHeader(in)
		if err != nil {
			return nil, &SlotError{Slot: slot, File: in.Name, Err: fmt.Errorf("%s slot: %w", slot, err)}
		}
		idx := len(b.inputs)
		b.inputs = append(b.inputs, in)
		fc, err := analyzeFile(idx, in.Name, h)
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
	model  *fileContents
	clips  []*fileContents
	vae    *fileContents
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
func describeContents(fc *fileContents) string {
	var what []string
	if fc.Model != nil {
		what = append(what, "a "+fc.Model.Kind+" diffusion model")
	}
	for _, e := range fc.Encoders {
		what = append(what, "a "+displayTE(e.Kind)+" text encoder")
	}
	if fc.VAE != nil {
		what = append(what, "a "+displayVAE(fc.VAE.Kind))
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
func slotError(slot string, fc *fileContents, want string) error {
	if len(fc.parts()) == 0 {
		return slotErrorf(slot, fc.Name, "%s holds %s: %w", fc.Name, describeContents(fc), ErrUnknownContent)
	}
	return slotErrorf(slot, fc.Name, "%s holds %s, not %s: %w", fc.Name, describeContents(fc), want, ErrWrongComponent)
}

// encoderUse is one text encoder going into the checkpoint.
type encoderUse struct {
	spec encoderSpec
	part *part
	file *fileContents
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
	out := stateDict{}
	for k, v := range model.SD {
		for _, r := range arch.UnetRenames {
			k = strings.ReplaceAll(k, r[0], r[1])
		}
		out[arch.UnetPrefix+k] = v
	}
	for k, v := range b.model.ModelExtras {
		out[k] = v
	}
	if len(encoders) > 0 {
		clipSD := stateDict{}
		for _, e := range encoders {
			name := e.spec.name()
			for k, v := range e.part.SD {
				clipSD[name+".transformer."+k] = v
			}
			clipSD[name+".logit_scale"] = inlineSource(DTypeF32, []int64{}, f32Bytes(logitScaleInit))
			if eye := identityProjection(e.spec.Kind, e.part.SD); eye != nil {
				clipSD[name+".transformer.text_projection.weight"] = eye
			}
			if e.spec.Tokenizer != "" {
				blob, err := tokenizerBlob(e)
				if err != nil {
					return nil, err
				}
				clipSD[e.spec.Tokenizer] = blob
			}
		}
		saved, err := clipForSaving(arch, clipSD)
		if err != nil {
			// Only the OpenCLIP conversion of CLIP-G/CLIP-H can fail.
			file := ""
			for _, e := range encoders {
				if e.spec.Kind == teClipG || e.spec.Kind == teClipH {
					file = e.file.Name
				}
			}
			return nil, slotErrorf(SlotClip, file, "%s: %w", file, err)
		}
		for k, v := range saved {
			out[k] = v
		}
	}
	for k, v := range vae.SD {
		out[arch.VAEPrefix+k] = v
	}
	for k, v := range b.extraKeys(arch, mt, zsnr) {
		out[k] = v
	}

	meta, err := b.metadata(arch, mt, vaeFile)
	if err != nil {
		return nil, err
	}
	files := append([]*fileContents{b.model, vaeFile}, b.clips...)
	if q, ok, err := quantizationMetadata(files, out); err != nil {
		return nil, err
	} else if ok {
		if _, user := b.req.Metadata[quantizationMetadataKey]; !user {
			meta[quantizationMetadataKey] = q
		}
	}
	q, note, err := unifyLegacyQuant(out, meta[quantizationMetadataKey], b.inputs)
	if err != nil {
		return nil, err
	}
	if q != "" {
		meta[quantizationMetadataKey] = q
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
func (b *planBuilder) resolveEncoders(arch *Arch) ([]encoderUse, error) {
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
		sources, fromModel = []*fileContents{b.model}, true
	}
	if arch.NoTextEncode && !fromModel {
		return nil, slotErrorf(SlotClip, sources[0].Name, "%s has no text encoder, but %s was given: %w", arch.Class, sources[0].Name, ErrArchMismatch)
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
		multi := len(fc.parts()) > 1
		used := 0
		for _, e := range fc.Encoders {
			spec, ok := arch.encoder(e.Kind)
			if !ok {
				if multi {
					continue
				}
				return nil, slotErrorf(SlotClip, fc.Name, "%s holds a %s text encoder, which %s does not use (it takes %s): %w",
					fc.Name, displayTE(e.Kind), arch.Class, describeEncoders(arch), ErrArchMismatch)
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
				return nil, slotErrorf(SlotClip, fc.Name, "%s and %s both hold a %s text encoder: %w", prev.use.file.Name, fc.Name, displayTE(e.Kind), ErrDuplicateComponent)
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
			missing = append(missing, displayTE(s.Kind)+" ("+s.Kind+")")
		}
	}
	if len(missing) > 0 {
		return nil, slotErrorf(SlotClip, "", "%s needs %s; no input holds %s: %w",
			arch.Class, describeEncoders(arch), strings.Join(missing, " or "), ErrMissingComponent)
	}
	if len(uses) == 0 {
		return nil, slotErrorf(SlotClip, "", "%s needs %s: %w", arch.Class, describeEncoders(arch), ErrMissingComponent)
	}
	// Keep the class's encoder order for deterministic messages.
	sort.SliceStable(uses, func(i, j int) bool {
		return arch.encoderIndex(uses[i].spec.Kind) < arch.encoderIndex(uses[j].spec.Kind)
	})

	return uses, nil
}

// tokenizerBlob finds the tokenizer blob an encoder's files carry: under
// its own key, or bare (a standalone file's "spiece_model").
func tokenizerBlob(u encoderUse) (*tensorSource, error) {
	key := u.spec.Tokenizer
	if t, ok := u.file.Tokenizers[key]; ok {
		return t, nil
	}
	if t, ok := u.file.Tokenizers[key[strings.LastIndex(key, ".")+1:]]; ok {
		return t, nil
	}
	return nil, slotErrorf(SlotClip, u.file.Name, "the %s text encoder needs its tokenizer %s, which %s does not carry: %w",
		displayTE(u.spec.Kind), key, u.file.Name, ErrMissingComponent)
}

func (a *Arch) encoder(kind string) (encoderSpec, bool) {
	for _, s := range a.Encoders {
		if s.Kind == kind {
			return s, true
		}
	}
	return encoderSpec{}, false
}

func (a *Arch) encoderIndex(kind string) int {
	for i, s := range a.Encoders {
		if s.Kind == kind {
			return i
		}
	}
	return len(a.Encoders)
}

// describeEncoders lists the encoders a class takes ("CLIP-L (clip_l) and
// T5-XXL (t5xxl)").
func describeEncoders(a *Arch) string {
	if len(a.Encoders) == 0 {
		return "no text encoder"
	}
	var names []string
	for _, s := range a.Encoders {
		n := displayTE(s.Kind) + " (" + s.Kind + ")"
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
func (b *planBuilder) resolveVAE(arch *Arch) (*part, *fileContents, error) {
	fc := b.vae
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
			fc.Name, displayVAE(v.Kind), arch.Class, describeVAEKinds(arch), ErrArchMismatch)
	}
	return v, fc, nil
}

func describeVAEKinds(a *Arch) string {
	if len(a.VAEKinds) == 0 {
		return "VAE"
	}
	var names []string
	for _, k := range a.VAEKinds {
		names = append(names, displayVAE(k))
	}
	return strings.Join(names, " or ")
}

// resolvePrediction decides the model type ComfyUI would give the model
// (and zsnr), honouring SaveRequest.Prediction where the class chooses
// between epsilon and v.
func (b *planBuilder) resolvePrediction(arch *Arch, model *part) (modelType, bool, error) {
	markers := b.model.Markers
	switch b.req.Prediction {
	case PredictionEps, PredictionV:
		want := modelEPS
		if b.req.Prediction == PredictionV {
			want = modelV
		}
		if arch.Prediction == predictFixed && arch.ModelType != want {
			return "", false, slotErrorf(SlotModel, b.model.Name, "%s is a %s model; its prediction type is fixed (%s), %q does not apply: %w",
				b.model.Name, arch.Class, arch.ModelType, b.req.Prediction, ErrPrediction)
		}
		zsnr := want == modelV && markers.has("v_pred") && markers.has("ztsnr")
		return want, zsnr, nil
	case PredictionAuto, "":
	default:
		return "", false, slotErrorf(SlotModel, "", "unknown prediction %q (want auto, eps or v): %w", b.req.Prediction, ErrPrediction)
	}
	switch arch.Prediction {
	case predictMarkers:
		// SDXL.model_type (supported_models.py:200-218).
		switch {
		case markers.has("edm_mean") && markers.has("edm_std"):
			return modelEDM, false, nil
		case markers.has("edm_vpred.sigma_max"):
			return modelVEDM, false, nil
		case markers.has("v_pred"):
			return modelV, markers.has("ztsnr"), nil
		}
		return modelEPS, false, nil
	case predictStd:
		if model.Config["in_channels"] != 4 {
			return modelEPS, false, nil
		}
		t, ok := model.SD[sd2VPredKey]
		if !ok {
			return modelEPS, false, nil
		}
		std, err := b.tensorStd(t)
		if err != nil {
			return "", false, slotErrorf(SlotModel, b.model.Name, "%s: reading %s: %w", b.model.Name, sd2VPredKey, err)
		}
		if std > sd2VPredThreshold {
			return modelV, false, nil
		}
		return modelEPS, false, nil
	}
	return arch.ModelType, false, nil
}

// tensorStd reads one small float tensor and returns its population
// standard deviation (torch.std(unbiased=False)).
func (b *planBuilder) tensorStd(t *tensorSource) (float64, error) {
	if t.size() > maxStdTensorBytes {
		return 0, fmt.Errorf("tensor of %d bytes is larger than expected", t.size())
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
func decodeFloats(dt DType, raw []byte) ([]float64, error) {
	var out []float64
	switch dt {
	case DTypeF16:
		for i := 0; i+2 <= len(raw); i += 2 {
			out = append(out, f16ToFloat(binary.LittleEndian.Uint16(raw[i:])))
		}
	case DTypeBF16:
		for i := 0; i+2 <= len(raw); i += 2 {
			out = append(out, float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[i:]))<<16)))
		}
	case DTypeF32:
		for i := 0; i+4 <= len(raw); i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))))
		}
	case DTypeF64:
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

// clipForSaving is the class's process_clip_state_dict_for_saving over the
// internal CLIP state dict ("<name>.transformer.…", "<name>.logit_scale",
// tokenizer blobs).
func clipForSaving(arch *Arch, sd stateDict) (stateDict, error) {
	switch arch.ClipSave {
	case clipSaveSD15:
		// supported_models.py:67-74.
		delete(sd, "clip_l.transformer.text_projection.weight")
		delete(sd, "clip_l.logit_scale")
		return prefixReplace(sd, "clip_l.", prefixCondStage), nil
	case clipSaveSD20:
		// supported_models.py:113-118.
		return openclipFromHF(prefixReplace(sd, "clip_h", "cond_stage_model.model"), "")
	case clipSaveSDXL:
		// supported_models.py:237-253.
		g, err := openclipFromHF(sd, "clip_g")
		if err != nil {
			return nil, err
		}
		for k, v := range sd {
			if strings.HasPrefix(k, "clip_l") {
				g[k] = v
			}
		}
		g["clip_l.transformer.text_model.embeddings.position_ids"] = positionIDs(sdxlPositionIDs)
		delete(g, "clip_l.transformer.text_projection.weight")
		delete(g, "clip_l.logit_scale")
		g = prefixReplace(g, "clip_g", "conditioner.embedders.1.model")
		return prefixReplace(g, "clip_l", "conditioner.embedders.0"), nil
	case clipSaveRefiner:
		// supported_models.py:174-181.
		g, err := openclipFromHF(sd, "clip_g")
		if err != nil {
			return nil, err
		}
		delete(g, "clip_g.transformer.text_model.embeddings.position_ids")
		return prefixReplace(g, "clip_g", "conditioner.embedders.0.model"), nil
	}
	// supported_models_base.py:100-103: replace_prefix {"": text_encoder_key_prefix[0]}.
	return sd.addPrefix(arch.TEPrefix), nil
}

// prefixReplace is state_dict_prefix_replace(sd, {from: to}) with
// filter_keys=False: matching keys are renamed, the others stay.
func prefixReplace(sd stateDict, from, to string) stateDict {
	out := stateDict{}
	for k, v := range sd {
		if strings.HasPrefix(k, from) {
			k = to + k[len(from):]
		}
		out[k] = v
	}
	return out
}

// positionIDs is torch.arange(n).expand((1, -1)) as int64 [1, n].
func positionIDs(n int) *tensorSource {
	b := make([]byte, 0, 8*n)
	for i := 0; i < n; i++ {
		b = binary.LittleEndian.AppendUint64(b, uint64(i))
	}
	return inlineSource(DTypeI64, []int64{1, int64(n)}, b)
}

// extraKeys are the tensors save_checkpoint and state_dict_for_saving add
// for the model type (§1.2 step 5, model_base.py:336-337), plus the
// Playground markers ComfyUI loses but this tool keeps.
func (b *planBuilder) extraKeys(arch *Arch, mt modelType, zsnr bool) stateDict {
	out := stateDict{}
	empty := func() *tensorSource { return inlineSource(DTypeF32, []int64{0}, nil) }
	switch mt {
	case modelV:
		out["v_pred"] = empty()
		if zsnr {
			out["ztsnr"] = empty()
		}
	case modelVEDM:
		if arch.Prediction == predictMarkers {
			// CosXL-style: ComfyUI writes model_sampling.sigma_max/min,
			// which it read from these keys; the file's values are kept.
			out["edm_vpred.sigma_max"] = b.model.Markers["edm_vpred.sigma_max"]
			if t, ok := b.model.Markers["edm_vpred.sigma_min"]; ok {
				out["edm_vpred.sigma_min"] = t
			} else {
				out["edm_vpred.sigma_min"] = inlineSource(DTypeF32, []int64{}, f32Bytes(edmSigma(0.002)))
			}
		} else if arch.Family == familyUNet {
			// SVD/SV3D: V_PREDICTION_EDM with the class's sigma range.
			out["edm_vpred.sigma_max"] = inlineSource(DTypeF32, []int64{}, f32Bytes(edmSigma(svdSigmaMax)))
			out["edm_vpred.sigma_min"] = inlineSource(DTypeF32, []int64{}, f32Bytes(edmSigma(svdSigmaMin)))
		}
	case modelEDM:
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
func (b *planBuilder) metadata(arch *Arch, mt modelType, vaeFile *fileContents) (map[string]string, error) {
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
	case modelEPS:
		meta["modelspec.predict_key"] = "epsilon"
	case modelV:
		meta["modelspec.predict_key"] = "v"
	}
	// LTXV reads its transformer/VAE configuration from the source file's
	// "config" metadata (model_detection.py:313-314); ComfyUI does not
	// re-write it, which this tool does so the checkpoint loads the same.
	if arch.Family == familyLTXV {
		for _, fc := range []*fileContents{b.model, vaeFile} {
			if c, ok := fc.Header.Metadata["config"]; ok {
				meta["config"] = c
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
func layoutPlan(arch *Arch, out stateDict, meta map[string]string, inputs []Input) (*Plan, error) {
	tensors := make([]Tensor, 0, len(out))
	for k, v := range out {
		tensors = append(tensors, Tensor{Name: k, DType: v.DType, Shape: v.Shape})
	}
	ReferenceOrder(tensors)
	dataSize, err := AssignOffsets(tensors)
	if err != nil {
		return nil, err
	}
	header, err := EncodeHeader(meta, tensors)
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
		if got := src.size(); got != t.End-t.Begin {
			return nil, fmt.Errorf("%s: sources give %d bytes for %s %v (%d bytes)", t.Name, got, t.DType, t.Shape, t.End-t.Begin)
		}
		for _, pc := range src.Pieces {
			if pc.Length == 0 {
				continue
			}
			p.Steps = append(p.Steps, Step{Tensor: t.Name, Input: pc.Input, Offset: pc.Offset, Length: pc.Length, Transpose: pc.Transpose, Data: pc.Data, Convert: pc.Convert})
		}
	}
	return p, nil
}
