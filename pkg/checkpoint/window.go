package checkpoint

import (
	"context"
	"fmt"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// maxMaterialized bounds the output of one transpose or convert step that a
// window cuts through: such a step cannot start mid-way, so its whole output
// is computed in memory and the window keeps its slice. Transposes in
// checkpoints are text projections (a few MiB).
const maxMaterialized = 16 << 20

// Window returns a plan whose output is bytes [lo, hi) of p's output, so
// that a piece of a large output (one multipart part, or one invocation's
// share of a hash pass) can be produced on its own from the plan: the steps
// that overlap the window, copy steps trimmed to it, the header's bytes in
// it. A transpose or convert step that the window cuts through is computed
// whole (at most maxMaterialized bytes) and kept as inline data. The window
// plan has no HashSlot: p's header bytes are taken as they are.
func Window(ctx context.Context, p *Plan, lo, hi int64) (*Plan, error) {
	p, err := Lower(p)
	if err != nil {
		return nil, err
	}
	if err := validatePlan(p); err != nil {
		return nil, err
	}
	if lo < 0 || hi < lo || hi > p.Size {
		return nil, fmt.Errorf("%w: window %d–%d of a %d-byte output", ErrBadPlan, lo, hi, p.Size)
	}
	w := &Plan{Architecture: p.Architecture, Inputs: p.Inputs, Size: hi - lo}
	if hlen := int64(len(p.Header)); lo < hlen {
		w.Header = p.Header[lo:min(hi, hlen)]
	}
	pos := int64(len(p.Header))
	for i := range p.Steps {
		if pos >= hi {
			break
		}
		s := &p.Steps[i]
		n, err := stepOutputLen(s)
		if err != nil {
			return nil, err
		}
		start, end := pos, pos+n
		pos = end
		if end <= lo || n == 0 {
			continue
		}
		a, b := max(lo, start)-start, min(hi, end)-start
		switch {
		case a == 0 && b == n:
			w.Steps = append(w.Steps, *s)
		case s.Input == -1:
			w.Steps = append(w.Steps, Step{Tensor: s.Tensor, Input: -1, Data: s.Data[a:b]})
		case s.Transpose == nil && s.Convert == nil:
			w.Steps = append(w.Steps, Step{Tensor: s.Tensor, Input: s.Input, Offset: s.Offset + a, Length: b - a})
		default:
			out, err := materialize(ctx, p, s, n)
			if err != nil {
				return nil, err
			}
			w.Steps = append(w.Steps, Step{Tensor: s.Tensor, Input: -1, Data: out[a:b]})
		}
	}
	return w, nil
}

// stepOutputLen is the number of output bytes step s writes.
func stepOutputLen(s *Step) (int64, error) {
	switch {
	case s.Input == -1:
		return int64(len(s.Data)), nil
	case s.Convert != nil:
		return s.Convert.outputBytes(s.Length)
	default:
		return s.Length, nil
	}
}

// materialize runs step s of p (n output bytes) into memory.
func materialize(ctx context.Context, p *Plan, s *Step, n int64) ([]byte, error) {
	if n > maxMaterialized {
		return nil, fmt.Errorf("%w: tensor %s: a window boundary cuts a %d-byte transposed or converted tensor (at most %d bytes can be computed in memory); use a part size that does not cut it", ErrBadPlan, s.Tensor, n, maxMaterialized)
	}
	one := &Plan{Architecture: p.Architecture, Inputs: p.Inputs, Steps: []Step{*s}, Size: n}
	var sink streamwriter.MemorySink
	if err := Execute(ctx, one, &sink, ExecuteOptions{BufferSize: int(min(n, DefaultBufferSize))}); err != nil {
		return nil, err
	}
	return sink.Bytes(), nil
}
