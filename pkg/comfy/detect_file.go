package comfy

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Slots of a SaveRequest (and of Component.Slot).
const (
	SlotModel = "model"
	SlotClip  = "clip"
	SlotVAE   = "vae"
)

// Layouts reported in Component.Layout.
const (
	LayoutBare       = "bare"       // diffusion model without prefix (UNETLoader files)
	LayoutPrefixed   = "prefixed"   // one component under a class prefix (ModelSave output, model.diffusion_model.*)
	LayoutDiffusers  = "diffusers"  // diffusers names, converted
	LayoutHF         = "hf"         // HF transformers text encoder
	LayoutOpenCLIP   = "open_clip"  // OpenCLIP text tower, converted
	LayoutLDM        = "ldm"        // ldm/original VAE names
	LayoutCheckpoint = "checkpoint" // one part of a file holding several under class prefixes
)

// part is one component found in a file, in the names ComfyUI holds it in
// memory: a diffusion model in native names without prefix, a text encoder
// as its network keys (what "<name>.transformer." precedes), a VAE in ldm
// names without prefix.
type Part struct {
	Slot   string
	Kind   string // model: ComfyUI class; clip: encoder kind; vae: VAE family ("" unknown)
	Layout string
	Arch   *Arch // model only
	Config unetConfig
	SD     StateDict
}

// fileContents is everything found in one input.
type FileContents struct {
	Input    int // index into the plan's inputs
	Name     string
	Header   *safetensors.Header
	Model    *Part
	Encoders []*Part // sorted by kind
	VAE      *Part
	// Tokenizers are tokenizer blobs by their key in CLIP.get_sd()
	// ("spiece_model", "mt5xl.spiece_model").
	Tokenizers StateDict
	// Markers are the top-level keys that carry the model type
	// (v_pred, ztsnr, edm_mean, edm_std, edm_vpred.sigma_max/min).
	Markers StateDict
	// ModelExtras are the model wrapper's tensors of Model.Arch.ModelExtras.
	ModelExtras StateDict
	// Unused are keys that belong to no component (reported, not written).
	Unused []string
	// Problem says why a component could not be read (e.g. an unsupported
	// diffusion-model configuration); "" when none.
	Problem string

	vaePrefix string
}

func (fc *FileContents) Parts() []*Part {
	var out []*Part
	if fc.Model != nil {
		out = append(out, fc.Model)
	}
	out = append(out, fc.Encoders...)
	if fc.VAE != nil {
		out = append(out, fc.VAE)
	}
	return out
}

// markerKeys are the top-level tensors ComfyUI reads the model type from
// (supported_models.py:200-218).
var markerKeys = []string{"v_pred", "ztsnr", "edm_mean", "edm_std", "edm_vpred.sigma_max", "edm_vpred.sigma_min"}

// Checkpoint prefixes (§3.5). A file with keys under these is read as a
// (possibly partial) checkpoint.
var (
	unetPrefixCandidates = []string{PrefixDiffusion, prefixModelModel, "net."}                                              // unet_prefix_from_state_dict
	vaePrefixes          = []string{prefixFirstStage, prefixVAE, "pretransform.model.", "conditioner.embedders.1.encoder."} // the last: SV3D
	tePrefixes           = []string{"cond_stage_model.", "conditioner.embedders.", prefixTextEncs, "text_encoder."}
	// checkpointPrefixes are the prefixes of a file holding several components.
	checkpointPrefixes = [][]string{tePrefixes, unetPrefixCandidates, vaePrefixes}
)

// namedEncoderGroup finds a "<te prefix><name>.transformer." group at the
// start of key, as ^(text_encoders\.|text_encoder\.|cond_stage_model\.|)([a-z0-9_]+)\.transformer\.
// would (prefixes tried in that order, the name a maximal run of
// [a-z0-9_]), without a regexp to compile at start-up.
func namedEncoderGroup(key string) (prefix, name string, ok bool) {
	for _, p := range [...]string{"text_encoders.", "text_encoder.", "cond_stage_model.", ""} {
		rest, found := strings.CutPrefix(key, p)
		if !found {
			continue
		}
		n := 0
		for n < len(rest) && (rest[n] >= 'a' && rest[n] <= 'z' || rest[n] >= '0' && rest[n] <= '9' || rest[n] == '_') {
			n++
		}
		if n > 0 && strings.HasPrefix(rest[n:], ".transformer.") {
			return p, rest[:n], true
		}
	}
	return "", "", false
}

// analyzeFile finds the components of one input from its header.
func AnalyzeFile(index int, name string, h *safetensors.Header) (*FileContents, error) {
	all := StateDict{}
	for _, t := range h.Tensors {
		all[t.Name] = sourceFromTensor(index, h, t)
	}
	fc := &FileContents{Input: index, Name: name, Header: h, Tokenizers: StateDict{}, Markers: StateDict{}, ModelExtras: StateDict{}}
	claimed := map[string]bool{}
	for _, k := range markerKeys {
		if t, ok := all[k]; ok {
			fc.Markers[k] = t
			claimed[k] = true
		}
	}
	prefixed := false
	for k := range all {
		for _, group := range checkpointPrefixes {
			for _, p := range group {
				if strings.HasPrefix(k, p) {
					prefixed = true
				}
			}
		}
	}
	var err error
	if prefixed {
		err = fc.analyzePrefixed(all, claimed)
	} else {
		err = fc.analyzeBare(all, claimed)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if fc.Model != nil {
		for _, p := range fc.Model.Arch.ModelExtras {
			for k, t := range all.withPrefix(p) {
				fc.ModelExtras[p+k] = t
				claimed[p+k] = true
			}
		}
	}
	claimQuantKeys(all, claimed)
	for k := range all {
		if !claimed[k] {
			fc.Unused = append(fc.Unused, k)
		}
	}
	sort.Strings(fc.Unused)
	sort.Slice(fc.Encoders, func(i, j int) bool { return fc.Encoders[i].Kind < fc.Encoders[j].Kind })
	return fc, nil
}

func claim(claimed map[string]bool, prefix string, sd StateDict) {
	for k := range sd {
		claimed[prefix+k] = true
	}
}

// unetPrefix is unet_prefix_from_state_dict (comfy/model_detection.py:797-813):
// the candidate most keys start with if more than 5 do, else "model.".
func unetPrefix(all StateDict) string {
	counts := make([]int, len(unetPrefixCandidates))
	for k := range all {
		for i, c := range unetPrefixCandidates {
			if strings.HasPrefix(k, c) {
				counts[i]++
				break
			}
		}
	}
	best := 0
	for i := range counts {
		if counts[i] > counts[best] {
			best = i
		}
	}
	if counts[best] > 5 {
		return unetPrefixCandidates[best]
	}
	return "model."
}

// analyzePrefixed splits a file whose keys carry class prefixes into its
// parts, undoing each class's save transform (§6.3).
func (fc *FileContents) analyzePrefixed(all StateDict, claimed map[string]bool) error {
	nparts := 0
	// Diffusion model.
	prefix := unetPrefix(all)
	if sd := all.withPrefix(prefix); len(sd) > 0 {
		if prefix == "model." {
			// "model." also starts model.diffusion_model./model.model. keys
			// of a file with fewer than 6 of them; those are not the model.
			for k := range sd {
				if strings.HasPrefix(k, "diffusion_model.") || strings.HasPrefix(k, "model.") {
					delete(sd, k)
				}
			}
		}
		if m, problem, err := modelPart(sd, fc.Header.Metadata); err != nil {
			return err
		} else if m != nil {
			if m.Layout == LayoutBare {
				m.Layout = LayoutCheckpoint
			}
			fc.Model = m
			claim(claimed, prefix, sd)
			nparts++
		} else if problem != "" {
			fc.Problem = problem
		}
	}
	// VAE.
	for _, p := range vaePrefixes {
		sd := all.withPrefix(p)
		if len(sd) == 0 {
			continue
		}
		// The VAE family is checked when known; a checkpoint's VAE of a
		// family without a marker here is still its VAE.
		kind, _, conv, ok, err := detectVAE(sd)
		if err != nil {
			return fmt.Errorf("VAE under %s: %w", p, err)
		}
		if !ok {
			conv = dropVAETrainingKeys(sd)
		}
		if fc.VAE != nil {
			return fmt.Errorf("two VAEs (under %s and %s): %w", fc.vaePrefix, p, ErrDuplicateComponent)
		}
		fc.vaePrefix = p
		fc.VAE = &Part{Slot: SlotVAE, Kind: kind, Layout: LayoutCheckpoint, SD: conv}
		claim(claimed, p, sd)
		nparts++
	}
	// Text encoders.
	n, err := fc.extractEncoders(all, claimed)
	if err != nil {
		return err
	}
	nparts += n
	if nparts == 1 {
		for _, p := range fc.Parts() {
			if p.Layout == LayoutCheckpoint {
				p.Layout = LayoutPrefixed
			}
		}
	}
	return nil
}

// modelPart detects a diffusion model in sd (keys without prefix), in
// native names or in a diffusers layout it converts. A nil part with a
// problem means the file has a diffusion-model signature ComfyUI's classes
// do not match.
func modelPart(sd StateDict, meta map[string]string) (*Part, string, error) {
	a, cfg, err := detectModel(sd, meta)
	if err == nil {
		return &Part{Slot: SlotModel, Kind: a.Class, Layout: LayoutBare, Arch: a, Config: cfg, SD: sd}, "", nil
	}
	if err != errNoSignature {
		return nil, err.Error(), nil
	}
	conv, ok, cerr := NativeFromDiffusers(sd)
	if cerr != nil {
		return nil, "", cerr
	}
	if !ok {
		return nil, "", nil
	}
	a, cfg, err = detectModel(conv, meta)
	if err != nil {
		return nil, "diffusers model: " + err.Error(), nil
	}
	return &Part{Slot: SlotModel, Kind: a.Class, Layout: LayoutDiffusers, Arch: a, Config: cfg, SD: conv}, "", nil
}

// extractEncoders finds the text encoders of a prefixed file, undoing the
// save transforms of §3 (the load-side rules of §6.3 step 8).
func (fc *FileContents) extractEncoders(all StateDict, claimed map[string]bool) (int, error) {
	found := 0
	add := func(kindHint, layout string, net StateDict, prefix string, raw StateDict) error {
		kind := detectTEKind(net)
		if kind == "" {
			kind = kindHint
		}
		if kind == "" {
			return nil
		}
		for _, e := range fc.Encoders {
			if e.Kind == kind {
				return fmt.Errorf("two %s text encoders: %w", DisplayTE(kind), ErrDuplicateComponent)
			}
		}
		fc.Encoders = append(fc.Encoders, &Part{Slot: SlotClip, Kind: kind, Layout: layout, SD: teModuleKeys(kind, net)})
		claim(claimed, prefix, raw)
		found++
		return nil
	}
	// open_clip towers: SDXL clip_g, refiner clip_g / sgm SD2 clip_h, SD2 clip_h.
	for _, p := range []string{"conditioner.embedders.1.model.", "conditioner.embedders.0.model.", "cond_stage_model.model."} {
		raw := all.withPrefix(p)
		if len(raw) == 0 || !raw.Has("transformer.resblocks.0.ln_1.weight") {
			continue
		}
		net, err := hfFromOpenclip(raw, "", "")
		if err != nil {
			return found, fmt.Errorf("text encoder under %s: %w", p, err)
		}
		if err := add("", LayoutCheckpoint, net, p, raw); err != nil {
			return found, err
		}
	}
	// HF CLIP-L: SDXL conditioner.embedders.0.transformer., SD1 cond_stage_model.transformer.
	for _, p := range []string{"conditioner.embedders.0.transformer.", "cond_stage_model.transformer."} {
		raw := all.withPrefix(p)
		if len(raw) == 0 {
			continue
		}
		net := StateDict{}
		for k, v := range raw {
			// SD15.process_clip_state_dict: old files lack "text_model.".
			if !strings.HasPrefix(k, "text_model.") && !strings.HasPrefix(k, "text_projection") {
				k = "text_model." + k
			}
			net[k] = v
		}
		if err := add("", LayoutCheckpoint, net, p, raw); err != nil {
			return found, err
		}
	}
	// CogVideoX's CLIP is one SDClipModel: text_encoders.transformer.*.
	if raw := all.withPrefix("text_encoders.transformer."); len(raw) > 0 {
		if err := add("", LayoutCheckpoint, raw, "text_encoders.transformer.", raw); err != nil {
			return found, err
		}
		if _, ok := all["text_encoders.logit_scale"]; ok {
			claimed["text_encoders.logit_scale"] = true
		}
	}
	// Named groups: text_encoders.<name>.transformer. (and text_encoder.,
	// cond_stage_model.), plus their logit_scale and tokenizer blobs.
	groups := map[string]string{} // name -> te prefix
	for k := range all {
		prefix, name, ok := namedEncoderGroup(k)
		if !ok || claimed[k] {
			continue
		}
		if prefix == "" && !knownTEKind(name) {
			continue
		}
		if prefix == "cond_stage_model." && name == "model" {
			continue
		}
		groups[name] = prefix
	}
	names := slices.Sorted(maps.Keys(groups))
	for _, n := range names {
		p := groups[n] + n + ".transformer."
		raw := all.withPrefix(p)
		if err := add(n, LayoutCheckpoint, raw, p, raw); err != nil {
			return found, err
		}
		if _, ok := all[groups[n]+n+".logit_scale"]; ok {
			claimed[groups[n]+n+".logit_scale"] = true
		}
	}
	// Tokenizer blobs next to the encoders (text_encoders.spiece_model,
	// text_encoders.mt5xl.spiece_model, or bare in a CLIPSave file).
	for _, p := range []string{prefixTextEncs, "text_encoder.", "cond_stage_model.", ""} {
		for _, b := range tokenizerBlobs {
			for _, key := range []string{p + b, p + TEMT5XL + "." + b} {
				if t, ok := all[key]; ok && !claimed[key] {
					fc.Tokenizers[key[len(p):]] = t
					claimed[key] = true
				}
			}
		}
	}
	return found, nil
}

// analyzeBare reads a file without class prefixes: one text encoder (HF or
// open_clip), a CLIPSave file of "<name>.transformer." groups, a VAE, or a
// diffusion model (bare or diffusers).
func (fc *FileContents) analyzeBare(all StateDict, claimed map[string]bool) error {
	for _, b := range tokenizerBlobs {
		if t, ok := all[b]; ok {
			fc.Tokenizers[b] = t
			claimed[b] = true
		}
	}
	// Text encoder: the two per-file pre-conversions of
	// load_text_encoder_state_dicts (comfy/sd.py:1124-1129), then detect_te_model.
	net, layout := all, LayoutHF
	if all.Has("transformer.resblocks.0.ln_1.weight") {
		conv, err := hfFromOpenclip(all, "", "")
		if err != nil {
			return err
		}
		net, layout = conv, LayoutOpenCLIP
	} else if all.Has("text_projection") {
		// Old CLIPSave output: text_projection stored transposed.
		net = StateDict{}
		for k, v := range all {
			net[k] = v
		}
		t, err := all["text_projection"].transposed()
		if err != nil {
			return fmt.Errorf("text_projection: %w", err)
		}
		delete(net, "text_projection")
		net["text_projection.weight"] = t
	}
	// A diffusion model with a language model inside (HiDream-O1's
	// Qwen3-VL) is a diffusion model, not a text encoder.
	if family, _, _, _ := detectUnetConfig(all, fc.Header.Metadata); family != "" {
		net = nil
	}
	if kind := detectTEKind(net); kind != "" {
		keep := teModuleKeys(kind, net)
		fc.Encoders = append(fc.Encoders, &Part{Slot: SlotClip, Kind: kind, Layout: layout, SD: keep})
		// Claim by source bytes: converted keys have other names.
		claimSources(claimed, all, keep)
		return nil
	}
	// A CLIPSave "" file: "<name>.transformer.*" groups.
	if n, err := fc.extractEncoders(all, claimed); err != nil {
		return err
	} else if n > 0 {
		for _, e := range fc.Encoders {
			e.Layout = LayoutHF
		}
		return nil
	}
	// VAE.
	kind, layout, conv, ok, err := detectVAE(all)
	if err != nil {
		return err
	}
	if ok {
		fc.VAE = &Part{Slot: SlotVAE, Kind: kind, Layout: layout, SD: conv}
		claimSources(claimed, all, conv)
		return nil
	}
	// Diffusion model: UNETLoader's prefix strip (§5.2 step 1) keeps the
	// "model." keys if there are any.
	sd, prefix := all, ""
	if p := unetPrefix(all); len(all.withPrefix(p)) > 0 {
		sd, prefix = all.withPrefix(p), p
	}
	m, problem, err := modelPart(sd, fc.Header.Metadata)
	if err != nil {
		return err
	}
	if m != nil {
		if prefix != "" {
			m.Layout = LayoutPrefixed
		}
		fc.Model = m
		claimSources(claimed, all, m.SD)
		return nil
	}
	fc.Problem = problem
	return nil
}

// claimSources marks the keys of all whose bytes are used by kept.
func claimSources(claimed map[string]bool, all StateDict, kept StateDict) {
	type span struct {
		key        string
		in         int
		begin, end int64
	}
	spans := make([]span, 0, len(all))
	for k, t := range all {
		for _, p := range t.Pieces {
			spans = append(spans, span{k, p.Input, p.Offset, p.Offset + p.Length})
		}
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].in != spans[j].in {
			return spans[i].in < spans[j].in
		}
		return spans[i].begin < spans[j].begin
	})
	for _, t := range kept {
		for _, p := range t.Pieces {
			if p.Input < 0 {
				continue
			}
			// A tensor read whole is the span of exactly its bytes; a
			// zero-length tensor (the scaled_fp8 sentinel) shares its offset
			// with the next tensor, so containment alone could pick either.
			exact := false
			j := sort.Search(len(spans), func(i int) bool {
				s := spans[i]
				return s.in > p.Input || (s.in == p.Input && s.begin >= p.Offset)
			})
			for ; j < len(spans) && spans[j].in == p.Input && spans[j].begin == p.Offset; j++ {
				if spans[j].end == p.Offset+p.Length {
					claimed[spans[j].key] = true
					exact = true
				}
			}
			if exact {
				continue
			}
			// The last span starting at or before p.Offset holds it.
			i := sort.Search(len(spans), func(i int) bool {
				s := spans[i]
				return s.in > p.Input || (s.in == p.Input && s.begin > p.Offset)
			}) - 1
			for ; i >= 0 && spans[i].in == p.Input && spans[i].begin <= p.Offset; i-- {
				if p.Offset < spans[i].end || spans[i].begin == spans[i].end {
					claimed[spans[i].key] = true
					break
				}
			}
		}
	}
}
