package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Pruning rewrites a checkpoint without what ComfyUI never reads, or with
// its EMA weights in place of the live ones.
//
// EMA naming is ldm's LitEma (A1111 checkpoints): every parameter
// "model.<name>" of the LatentDiffusion wrapper has a shadow
// "model_ema.<name with the dots removed>", e.g.
// model.diffusion_model.input_blocks.0.0.weight ↔
// model_ema.diffusion_modelinput_blocks00weight, plus the counters
// model_ema.decay and model_ema.num_updates.

// EMA modes of PruneRequest.
const (
	EMAKeep    = "keep"    // leave model_ema.* alone
	EMADrop    = "drop"    // remove model_ema.*
	EMAPromote = "promote" // write each EMA weight under its live name, then remove model_ema.*
)

const emaPrefix = "model_ema."

// ErrNoEMA: promoting EMA weights of a file that has none.
var ErrNoEMA = errors.New("no EMA weights")

// PruneRequest says what to prune from one file.
type PruneRequest struct {
	Input Input
	EMA   string // EMAKeep, EMADrop (default "") or EMAPromote

	// KeepUnused keeps tensors no ComfyUI class reads (Inspect's unused
	// keys); by default they are dropped.
	KeepUnused bool

	// FixPositionIDs rewrites CLIP position_ids that are not 0…n−1 (merges
	// and fp16 round trips leave values like 76.99) as torch.arange in I64.
	// Off by default: it changes the text encoder's output for such files.
	FixPositionIDs bool
	// PositionIDsI64 stores position_ids of another dtype as I64 (values
	// truncated toward zero, like torch's .long()) without fixing them.
	PositionIDsI64 bool
}

// PruneReport says what a prune does, before it is written.
type PruneReport struct {
	DroppedEMA     int                 `json:"dropped_ema"`                // model_ema.* tensors removed
	PromotedEMA    int                 `json:"promoted_ema"`               // live tensors replaced by their EMA
	LiveWithoutEMA []string            `json:"live_without_ema,omitempty"` // promote: live model tensors that had no EMA shadow (kept)
	Unused         []string            `json:"unused"`                     // tensors no ComfyUI class reads (dropped unless KeepUnused)
	DroppedUnused  int                 `json:"dropped_unused"`
	PositionIDs    []PositionIDsChange `json:"position_ids,omitempty"`
	InputCensus    []DTypeCount        `json:"input_census"`
	OutputCensus   []DTypeCount        `json:"output_census"`
	InputBytes     int64               `json:"input_bytes"`
	OutputBytes    int64               `json:"output_bytes"`
}

// PositionIDsChange reports one position_ids tensor.
type PositionIDsChange struct {
	Key    string            `json:"key"`
	DType  safetensors.DType `json:"dtype"`
	Broken []int             `json:"broken,omitempty"` // indices whose value is not the index
	Action string            `json:"action"`           // "fixed", "to_i64", "kept"
}

// maxPositionIDsBytes bounds the position_ids read at planning time.
const maxPositionIDsBytes = 1 << 16

// PlanPrune plans the pruned file.
func PlanPrune(req PruneRequest) (*Plan, *PruneReport, error) {
	in := req.Input
	h, err := safetensors.ReadHeader(in)
	if err != nil {
		return nil, nil, err
	}
	fc, err := comfy.AnalyzeFile(0, in.Name, h)
	if err != nil {
		return nil, nil, err
	}
	tensors := copiedTensors(h)
	rep := &PruneReport{InputCensus: Census(h.Tensors), InputBytes: in.Size, Unused: slices.Clone(fc.Unused)}
	if rep.Unused == nil {
		rep.Unused = []string{}
	}
	ema := req.EMA
	if ema == "" {
		ema = EMADrop
	}
	var emaKeys []string
	for _, t := range h.Tensors {
		if strings.HasPrefix(t.Name, emaPrefix) {
			emaKeys = append(emaKeys, t.Name)
		}
	}
	switch ema {
	case EMAKeep:
	case EMADrop, EMAPromote:
		if ema == EMAPromote {
			if err := promoteEMA(in.Name, h, tensors, rep); err != nil {
				return nil, nil, err
			}
		}
		for _, k := range emaKeys {
			delete(tensors, k)
		}
		rep.DroppedEMA = len(emaKeys)
	default:
		return nil, nil, fmt.Errorf("unknown EMA mode %q (want keep, drop or promote)", req.EMA)
	}
	if !req.KeepUnused {
		for _, k := range fc.Unused {
			if ema == EMAKeep && strings.HasPrefix(k, emaPrefix) {
				continue
			}
			if _, ok := tensors[k]; ok {
				delete(tensors, k)
				rep.DroppedUnused++
			}
		}
	}
	// CLIP position_ids: ComfyUI's loader skips them (it has no such
	// buffer), but other tools read them; any that belong to a text encoder
	// of the file (not unused) are checked.
	for _, t := range h.Tensors {
		if !strings.HasSuffix(t.Name, "position_ids") || slices.Contains(fc.Unused, t.Name) {
			continue
		}
		v, ok := tensors[t.Name]
		if !ok {
			continue
		}
		ch, err := prunePositionIDs(in, h, t, req, v)
		if err != nil {
			return nil, nil, err
		}
		rep.PositionIDs = append(rep.PositionIDs, ch)
	}
	architecture := ""
	if fc.Model != nil {
		architecture = fc.Model.Arch.Class
	}
	p, err := layoutRewrite(architecture, tensors, h.Metadata, []Input{in})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	rep.OutputCensus = Census(p.Tensors)
	rep.OutputBytes = p.Size
	return p, rep, nil
}

// promoteEMA points every live "model.*" tensor that has an EMA shadow at
// the shadow's bytes. Shadows must match the live tensor's dtype and shape.
func promoteEMA(file string, h *safetensors.Header, tensors map[string]*rewriteTensor, rep *PruneReport) error {
	byName := map[string]safetensors.Tensor{}
	for _, t := range h.Tensors {
		byName[t.Name] = t
	}
	shadows := 0
	for _, t := range h.Tensors {
		if strings.HasPrefix(t.Name, emaPrefix) && t.Name != emaPrefix+"decay" && t.Name != emaPrefix+"num_updates" {
			shadows++
		}
	}
	if shadows == 0 {
		return fmt.Errorf("%s: cannot promote EMA weights: the file has no model_ema.* weights: %w", file, ErrNoEMA)
	}
	for _, t := range h.Tensors {
		name, ok := strings.CutPrefix(t.Name, "model.")
		if !ok {
			continue
		}
		shadow, ok := byName[emaPrefix+strings.ReplaceAll(name, ".", "")]
		if !ok {
			rep.LiveWithoutEMA = append(rep.LiveWithoutEMA, t.Name)
			continue
		}
		if shadow.DType != t.DType || !slices.Equal(shadow.Shape, t.Shape) {
			return fmt.Errorf("%s: EMA weight %s is %s %v but %s is %s %v: %w",
				file, shadow.Name, shadow.DType, shadow.Shape, t.Name, t.DType, t.Shape, ErrCannotConvert)
		}
		v := tensors[t.Name]
		v.Offset, v.Length = h.DataStart+shadow.Begin, shadow.Size()
		rep.PromotedEMA++
	}
	return nil
}

// prunePositionIDs reads one position_ids tensor, reports whether it is
// 0…n−1, and fixes or retypes it as asked.
func prunePositionIDs(in Input, h *safetensors.Header, t safetensors.Tensor, req PruneRequest, v *rewriteTensor) (PositionIDsChange, error) {
	ch := PositionIDsChange{Key: t.Name, DType: t.DType, Action: "kept"}
	if t.Size() > maxPositionIDsBytes {
		return ch, fmt.Errorf("%s: tensor %s: %d bytes is too large for position_ids", in.Name, t.Name, t.Size())
	}
	raw := make([]byte, t.Size())
	if err := readFullAt(in.R, raw, h.DataStart+t.Begin); err != nil {
		return ch, fmt.Errorf("%s: tensor %s: %w", in.Name, t.Name, err)
	}
	var vals []float64
	switch t.DType {
	case safetensors.DTypeI64:
		for i := 0; i+8 <= len(raw); i += 8 {
			vals = append(vals, float64(int64(binary.LittleEndian.Uint64(raw[i:]))))
		}
	case safetensors.DTypeI32:
		for i := 0; i+4 <= len(raw); i += 4 {
			vals = append(vals, float64(int32(binary.LittleEndian.Uint32(raw[i:]))))
		}
	default:
		f, err := decodeFloats(t.DType, raw)
		if err != nil {
			return ch, fmt.Errorf("%s: tensor %s: position_ids of dtype %s: %w", in.Name, t.Name, t.DType, ErrCannotConvert)
		}
		vals = f
	}
	for i, x := range vals {
		if x != float64(i) {
			ch.Broken = append(ch.Broken, i)
		}
	}
	switch {
	case req.FixPositionIDs && (len(ch.Broken) > 0 || t.DType != safetensors.DTypeI64):
		data := make([]byte, 0, 8*len(vals))
		for i := range vals {
			data = binary.LittleEndian.AppendUint64(data, uint64(i))
		}
		*v = rewriteTensor{DType: safetensors.DTypeI64, Shape: slices.Clone(t.Shape), Input: -1, Data: data}
		ch.Action = "fixed"
	case req.PositionIDsI64 && t.DType != safetensors.DTypeI64:
		data := make([]byte, 0, 8*len(vals))
		for _, x := range vals {
			data = binary.LittleEndian.AppendUint64(data, uint64(int64(math.Trunc(x))))
		}
		*v = rewriteTensor{DType: safetensors.DTypeI64, Shape: slices.Clone(t.Shape), Input: -1, Data: data}
		ch.Action = "to_i64"
	}
	return ch, nil
}
