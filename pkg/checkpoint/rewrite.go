package checkpoint

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// A rewrite is a file's own tensors written again, some of them changed
// (another dtype, other bytes, renamed or left out): what convert and prune
// produce. The names stay the file's names and the metadata its metadata;
// the layout is the reference writer's, like every output of this package.

// rewriteTensor is one output tensor of a rewrite.
type rewriteTensor struct {
	DType   safetensors.DType
	Shape   []int64
	Input   int   // -1: Data
	Offset  int64 // absolute offset of the source bytes in the input
	Length  int64 // source bytes
	Convert *Convert
	Data    []byte
}

// layoutRewrite lays out tensors (by output name) as the reference writer
// does and turns each into one step.
func layoutRewrite(architecture string, tensors map[string]*rewriteTensor, meta map[string]string, inputs []Input) (*Plan, error) {
	ts := make([]safetensors.Tensor, 0, len(tensors))
	for _, k := range slices.Sorted(maps.Keys(tensors)) {
		v := tensors[k]
		ts = append(ts, safetensors.Tensor{Name: k, DType: v.DType, Shape: v.Shape})
	}
	safetensors.ReferenceOrder(ts)
	dataSize, err := safetensors.AssignOffsets(ts)
	if err != nil {
		return nil, err
	}
	header, err := safetensors.EncodeHeader(meta, ts)
	if err != nil {
		return nil, err
	}
	p := &Plan{Architecture: architecture, Header: header, Tensors: ts, Metadata: meta, Inputs: inputs, Size: int64(len(header)) + dataSize}
	for _, t := range ts {
		v := tensors[t.Name]
		if v.Input < 0 {
			if int64(len(v.Data)) != t.Size() {
				return nil, fmt.Errorf("%s: %d computed bytes for %s %v", t.Name, len(v.Data), t.DType, t.Shape)
			}
			if len(v.Data) > 0 {
				p.Steps = append(p.Steps, Step{Tensor: t.Name, Input: -1, Length: int64(len(v.Data)), Data: v.Data})
			}
			continue
		}
		if v.Length == 0 {
			continue
		}
		p.Steps = append(p.Steps, Step{Tensor: t.Name, Input: v.Input, Offset: v.Offset, Length: v.Length, Convert: v.Convert})
	}
	return p, nil
}

// copiedTensors is every tensor of h, unchanged.
func copiedTensors(h *safetensors.Header) map[string]*rewriteTensor {
	out := make(map[string]*rewriteTensor, len(h.Tensors))
	for _, t := range h.Tensors {
		out[t.Name] = &rewriteTensor{DType: t.DType, Shape: slices.Clone(t.Shape), Offset: h.DataStart + t.Begin, Length: t.Size()}
	}
	return out
}

// tensorSlots maps each tensor of a file to the component it belongs to
// (SlotModel, SlotClip, SlotVAE; absent for unused keys), following the
// byte ranges the detected parts read.
func tensorSlots(fc *comfy.FileContents) map[string]string {
	h := fc.Header
	byStart := slices.Clone(h.Tensors)
	sort.Slice(byStart, func(i, j int) bool { return byStart[i].Begin < byStart[j].Begin })
	slots := map[string]string{}
	mark := func(slot string, sd comfy.StateDict) {
		for _, src := range sd {
			for _, pc := range src.Pieces {
				if pc.Input < 0 {
					continue
				}
				rel := pc.Offset - h.DataStart
				i := sort.Search(len(byStart), func(i int) bool { return byStart[i].End > rel })
				if i < len(byStart) && byStart[i].Begin <= rel {
					slots[byStart[i].Name] = slot
				}
			}
		}
	}
	for _, p := range fc.Parts() {
		mark(p.Slot, p.SD)
	}
	mark(SlotModel, fc.Markers)
	mark(SlotModel, fc.ModelExtras)
	mark(SlotClip, fc.Tokenizers)
	return slots
}

// DTypeCount is one line of a dtype census.
type DTypeCount struct {
	DType   safetensors.DType `json:"dtype"`
	Tensors int               `json:"tensors"`
	Bytes   int64             `json:"bytes"`
}

// Census counts a tensor list by dtype, in the reference enum's order.
func Census(ts []safetensors.Tensor) []DTypeCount {
	m := map[safetensors.DType]*DTypeCount{}
	for _, t := range ts {
		c := m[t.DType]
		if c == nil {
			c = &DTypeCount{DType: t.DType}
			m[t.DType] = c
		}
		c.Tensors++
		c.Bytes += t.Size()
	}
	out := make([]DTypeCount, 0, len(m))
	for _, d := range safetensors.DTypes() {
		if c := m[d]; c != nil {
			out = append(out, *c)
		}
	}
	return out
}
