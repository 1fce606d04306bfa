package comfy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// This file holds the byte-range algebra every key conversion is built on.
// ComfyUI converts layouts with tensor operations (torch.cat, narrow,
// transpose, reshape); all of them that occur on the save path are, for a
// C-ordered tensor, either a rearrangement of contiguous byte ranges or a
// header-only change:
//
//	cat(dim 0)            -> the pieces one after another
//	narrow/chunk(dim 0)   -> a sub-range of the bytes
//	reshape               -> same bytes, new shape
//	transpose(0, 1) of 2D -> one Transpose step
//
// So a converted tensor is described by its pieces, and planning never
// touches tensor data.

// Piece is one run of bytes of an output tensor.
type Piece struct {
	Input     int   // index into the plan's inputs; -1: Data holds the bytes
	Offset    int64 // absolute offset in the input file
	Length    int64 // bytes this piece contributes
	Transpose *Transpose
	Data      []byte
	// Compute, when set, is the planner's transform of the piece's bytes
	// (a quantized layer's part; opaque here): Length is then the bytes it
	// reads and OutLength the bytes it writes.
	Compute   any
	OutLength int64
}

// Transpose describes a 2-D transpose of a source tensor (ComfyUI's
// text_projection.weight -> text_projection).
type Transpose struct {
	Rows, Cols int64
	ElemSize   int64
}

// tensorSource is a tensor under construction: its dtype and shape and the
// pieces its bytes come from, in order.
type TensorSource struct {
	DType  safetensors.DType
	Shape  []int64
	Pieces []Piece
}

// stateDict maps tensor names to their sources, like a torch state dict.
type StateDict map[string]*TensorSource

// numElements is the product of shape.
func numElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// sourceFromTensor is a whole tensor of input file index in, copied as is.
func sourceFromTensor(in int, h *safetensors.Header, t safetensors.Tensor) *TensorSource {
	return &TensorSource{
		DType:  t.DType,
		Shape:  slices.Clone(t.Shape),
		Pieces: []Piece{{Input: in, Offset: h.DataStart + t.Begin, Length: t.End - t.Begin}},
	}
}

// inlineSource is a tensor ComfyUI creates itself (position_ids,
// logit_scale, v_pred), with its bytes.
func InlineSource(dtype safetensors.DType, shape []int64, data []byte) *TensorSource {
	return &TensorSource{DType: dtype, Shape: shape, Pieces: []Piece{{Input: -1, Length: int64(len(data)), Data: data}}}
}

// size is the tensor's byte size.
func (s *TensorSource) Size() int64 {
	var n int64
	for _, p := range s.Pieces {
		if p.Compute != nil {
			n += p.OutLength
			continue
		}
		n += p.Length
	}
	return n
}

// rowBytes is the byte size of one dim-0 slice.
func (s *TensorSource) rowBytes() (int64, error) {
	es := s.DType.ElemSize()
	if es == 0 {
		return 0, fmt.Errorf("cannot split a %s tensor", s.DType)
	}
	if len(s.Shape) == 0 {
		return 0, fmt.Errorf("cannot split a scalar")
	}
	return es * numElements(s.Shape[1:]), nil
}

// narrowRows is torch.narrow(0, start, length): rows [start, start+length)
// of the tensor, a byte sub-range of its pieces.
func (s *TensorSource) narrowRows(start, length int64) (*TensorSource, error) {
	if len(s.Shape) == 0 {
		return nil, fmt.Errorf("cannot split a scalar")
	}
	if start < 0 || length < 0 || start+length > s.Shape[0] {
		return nil, fmt.Errorf("rows [%d,%d) outside a tensor of %d rows", start, start+length, s.Shape[0])
	}
	rb, err := s.rowBytes()
	if err != nil {
		return nil, err
	}
	from, to := start*rb, (start+length)*rb
	out := &TensorSource{DType: s.DType, Shape: append([]int64{length}, s.Shape[1:]...)}
	var pos int64
	for _, p := range s.Pieces {
		lo, hi := max(from, pos), min(to, pos+p.Length)
		if lo < hi {
			if p.Transpose != nil {
				return nil, fmt.Errorf("cannot split a transposed tensor")
			}
			q := Piece{Input: p.Input, Offset: p.Offset + (lo - pos), Length: hi - lo}
			if p.Input < 0 {
				q.Data = p.Data[lo-pos : hi-pos]
			}
			out.Pieces = append(out.Pieces, q)
		}
		pos += p.Length
	}
	return out, nil
}

// concatRows is torch.cat(parts, dim=0).
func concatRows(parts ...*TensorSource) (*TensorSource, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("nothing to concatenate")
	}
	first := parts[0]
	if len(first.Shape) == 0 {
		return nil, fmt.Errorf("cannot concatenate scalars")
	}
	out := &TensorSource{DType: first.DType, Shape: slices.Clone(first.Shape)}
	out.Shape[0] = 0
	for _, p := range parts {
		if p.DType != first.DType || len(p.Shape) != len(first.Shape) || !slices.Equal(p.Shape[1:], first.Shape[1:]) {
			return nil, fmt.Errorf("cannot concatenate %s %v with %s %v", first.DType, first.Shape, p.DType, p.Shape)
		}
		out.Shape[0] += p.Shape[0]
		out.Pieces = append(out.Pieces, p.Pieces...)
	}
	return out, nil
}

// transposed is t.transpose(0, 1).contiguous() of a 2-D tensor. A tensor
// that is itself a transpose turns back into a plain copy, so converting
// open_clip -> HF -> open_clip gives the original bytes.
func (s *TensorSource) transposed() (*TensorSource, error) {
	if len(s.Shape) != 2 {
		return nil, fmt.Errorf("cannot transpose a %d-D tensor", len(s.Shape))
	}
	if len(s.Pieces) != 1 || s.Pieces[0].Input < 0 {
		return nil, fmt.Errorf("can only transpose a tensor read from one input")
	}
	es := s.DType.ElemSize()
	if es == 0 {
		return nil, fmt.Errorf("cannot transpose a %s tensor", s.DType)
	}
	p := s.Pieces[0]
	if p.Transpose != nil {
		p.Transpose = nil
	} else {
		p.Transpose = &Transpose{Rows: s.Shape[0], Cols: s.Shape[1], ElemSize: es}
	}
	return &TensorSource{DType: s.DType, Shape: []int64{s.Shape[1], s.Shape[0]}, Pieces: []Piece{p}}, nil
}

// reshaped is the same bytes under a new shape with the same element count
// (the VAE's [C,C] -> [C,C,1,1] attention weights).
func (s *TensorSource) reshaped(shape []int64) (*TensorSource, error) {
	if numElements(shape) != numElements(s.Shape) {
		return nil, fmt.Errorf("cannot reshape %v into %v", s.Shape, shape)
	}
	return &TensorSource{DType: s.DType, Shape: shape, Pieces: s.Pieces}, nil
}

// swapScaleShift is comfy.utils.swap_scale_shift: chunk dim 0 into
// [shift, scale] halves and write cat([scale, shift]).
func (s *TensorSource) swapScaleShift() (*TensorSource, error) {
	if len(s.Shape) == 0 || s.Shape[0]%2 != 0 {
		return nil, fmt.Errorf("cannot swap the halves of a tensor of shape %v", s.Shape)
	}
	h := s.Shape[0] / 2
	shift, err := s.narrowRows(0, h)
	if err != nil {
		return nil, err
	}
	scale, err := s.narrowRows(h, h)
	if err != nil {
		return nil, err
	}
	return concatRows(scale, shift)
}

// sortedKeys returns the names of sd in ascending order.
func (sd StateDict) SortedKeys() []string {
	return slices.Sorted(maps.Keys(sd))
}

// withPrefix returns the tensors whose names start with prefix, stripped of
// it (comfy.utils.state_dict_prefix_replace(sd, {prefix: ""}, filter_keys=True)).
func (sd StateDict) withPrefix(prefix string) StateDict {
	out := StateDict{}
	for k, v := range sd {
		if strings.HasPrefix(k, prefix) {
			out[k[len(prefix):]] = v
		}
	}
	return out
}

// addPrefix returns sd with prefix prepended to every name.
func (sd StateDict) AddPrefix(prefix string) StateDict {
	out := make(StateDict, len(sd))
	for k, v := range sd {
		out[prefix+k] = v
	}
	return out
}

// has reports whether name is in sd.
func (sd StateDict) Has(name string) bool {
	_, ok := sd[name]
	return ok
}

// shape returns the shape of name, or nil when absent.
func (sd StateDict) shape(name string) []int64 {
	if t, ok := sd[name]; ok {
		return t.Shape
	}
	return nil
}

// dim returns dimension i of name's shape, or -1 when the tensor is absent
// or has fewer dimensions.
func (sd StateDict) dim(name string, i int) int64 {
	s := sd.shape(name)
	if i < 0 {
		i += len(s)
	}
	if i < 0 || i >= len(s) {
		return -1
	}
	return s[i]
}

// hasPrefix reports whether any name starts with prefix.
func (sd StateDict) hasPrefix(prefix string) bool {
	for k := range sd {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// countBlocks is comfy's count_blocks: the number of consecutive indices n
// from 0 for which some name starts with fmt.Sprintf(format, n).
func (sd StateDict) countBlocks(format string) int {
	n := 0
	for {
		p := fmt.Sprintf(format, n)
		if !sd.hasPrefix(p) {
			return n
		}
		n++
	}
}

// bytes is the total data size of sd.
func (sd StateDict) Bytes() int64 {
	var n int64
	for _, t := range sd {
		n += t.Size()
	}
	return n
}
