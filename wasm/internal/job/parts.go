package job

import (
	"context"
	"errors"
	"fmt"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// The "blob" hand-off: when a checkpoint is mostly byte copies of its inputs,
// the page can build it as new Blob([header, file.slice(a, b), …]) and
// download that — the browser streams the slices from disk and nothing is
// copied. Steps that are not copies become inline bytes: small computed
// tensors (Step.Data) and transposes (SDXL/SD3 clip_g text_projection,
// 1280×1280 F16 = 3.3 MB), which are read and transposed here. A plan whose
// inline bytes exceed MaxBlobInlineBytes is refused for this sink.

// MaxBlobInlineBytes bounds the bytes a blob hand-off carries itself
// (header included). Real plans need a few MB (one transpose, a few small
// tensors); past this the OPFS or file sink is the right tool.
const MaxBlobInlineBytes = 64 << 20

// ErrBlobTooBig refuses a blob hand-off that would carry too many bytes.
var ErrBlobTooBig = errors.New("too much computed data for a download hand-off")

// Part is one piece of a blob hand-off: either Data, or the byte range
// [Start, End) of the page's file number File (PROTOCOL.md: files are
// numbered model, clip[0] …, vae).
type Part struct {
	Inline     bool // Data holds the bytes; otherwise File, Start, End
	Data       []byte
	File       int
	Start, End int64
}

// InlineBytes is how many bytes a blob hand-off of p would carry inline.
func InlineBytes(p *checkpoint.Plan) int64 {
	n := int64(len(p.Header))
	for _, s := range p.Steps {
		if s.Input < 0 {
			n += int64(len(s.Data))
		} else if s.Transpose != nil {
			n += s.Length
		}
	}
	return n
}

// BlobFits reports whether p can be handed off as a blob: its computed
// bytes fit in memory, and it converts or quantizes nothing (those bytes
// are computed over whole tensors, which slices of the input cannot carry).
func BlobFits(p *checkpoint.Plan) bool {
	for _, s := range p.Steps {
		if s.Convert != nil {
			return false
		}
	}
	return InlineBytes(p) <= MaxBlobInlineBytes
}

// BuildParts turns p into blob parts. fileIndex maps a plan input to the
// page's file number (-1 if it is none of them). Transposed steps are
// computed by running the engine on a one-step plan, so the bytes are
// exactly what Execute writes. Adjacent ranges of one file are merged.
func BuildParts(ctx context.Context, p *checkpoint.Plan, fileIndex func(checkpoint.Input) int) ([]Part, error) {
	// Steps on virtual inputs (a .ckpt) become slices of the real File.
	p, err := checkpoint.Lower(p)
	if err != nil {
		return nil, err
	}
	if inl := InlineBytes(p); inl > MaxBlobInlineBytes {
		return nil, fmt.Errorf("%w: this checkpoint needs %s of computed data, more than the download hand-off carries (%s); save it to browser storage or to a file instead",
			ErrBlobTooBig, formatBytes(inl), formatBytes(MaxBlobInlineBytes))
	}
	parts := []Part{{Inline: true, Data: p.Header}}
	addData := func(b []byte) {
		last := &parts[len(parts)-1]
		if last.Inline {
			last.Data = append(last.Data[:len(last.Data):len(last.Data)], b...)
			return
		}
		parts = append(parts, Part{Inline: true, Data: b})
	}
	for i, s := range p.Steps {
		switch {
		case s.Input < 0:
			addData(s.Data)
		case s.Convert != nil:
			// Converted bytes are computed over the whole tensor: the page
			// offers OPFS or a file for conversions, never the Blob.
			return nil, fmt.Errorf("%w: %s is converted to %s, which a download of file slices cannot carry; save to browser storage or to a file", ErrBlobTooBig, s.Tensor, s.Convert.To)
		case s.Transpose != nil:
			b, err := computeStep(ctx, p, i)
			if err != nil {
				return nil, err
			}
			addData(b)
		default:
			if s.Input >= len(p.Inputs) {
				return nil, fmt.Errorf("%w: step %d (%s) names input %d of %d", checkpoint.ErrBadPlan, i, s.Tensor, s.Input, len(p.Inputs))
			}
			f := fileIndex(p.Inputs[s.Input])
			if f < 0 {
				return nil, fmt.Errorf("%w: step %d (%s) reads %s, which is none of the posted files", checkpoint.ErrBadPlan, i, s.Tensor, p.Inputs[s.Input].Name)
			}
			if s.Length == 0 {
				continue
			}
			last := &parts[len(parts)-1]
			if !last.Inline && last.File == f && last.End == s.Offset {
				last.End += s.Length
				continue
			}
			parts = append(parts, Part{File: f, Start: s.Offset, End: s.Offset + s.Length})
		}
	}
	return parts, nil
}

// computeStep returns the output bytes of step i by executing a plan made of
// that step alone into memory.
func computeStep(ctx context.Context, p *checkpoint.Plan, i int) ([]byte, error) {
	s := p.Steps[i]
	sub := &checkpoint.Plan{Architecture: p.Architecture, Steps: []checkpoint.Step{s}, Inputs: p.Inputs, Size: s.Length}
	var mem streamwriter.MemorySink
	if err := checkpoint.Execute(ctx, sub, &mem, checkpoint.ExecuteOptions{}); err != nil {
		return nil, fmt.Errorf("computing %s: %w", s.Tensor, err)
	}
	return mem.Bytes(), nil
}

// PartsSize is the total size the parts describe.
func PartsSize(parts []Part) int64 {
	var n int64
	for _, p := range parts {
		if p.Inline {
			n += int64(len(p.Data))
		} else {
			n += p.End - p.Start
		}
	}
	return n
}
