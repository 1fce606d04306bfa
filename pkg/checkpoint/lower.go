package checkpoint

import (
	"fmt"
	"reflect"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Lower returns p with every step that reads a VirtualFile rewritten to read
// its backing inputs, so that hosts copy from real files (a kernel
// file-to-file copy, a JS Blob slice) rather than through the virtual
// reader. A copy becomes one step per piece, merged where pieces continue
// each other; a transpose moves to the backing input when its source is one
// piece (otherwise it keeps reading through the virtual file, which is
// correct, only not a direct copy). A plan without virtual inputs is
// returned as it is; p itself is never modified.
func Lower(p *Plan) (*Plan, error) {
	if p == nil {
		return nil, nil
	}
	virtual := false
	for _, in := range p.Inputs {
		if _, ok := in.R.(*safetensors.VirtualFile); ok {
			virtual = true
			break
		}
	}
	if !virtual {
		return p, nil
	}
	out := *p
	out.Inputs = nil
	out.Steps = make([]Step, 0, len(p.Steps))
	index := func(in Input) int {
		for i, x := range out.Inputs {
			if sameInput(x, in) {
				return i
			}
		}
		out.Inputs = append(out.Inputs, in)
		return len(out.Inputs) - 1
	}
	add := func(s Step) {
		if n := len(out.Steps); n > 0 && copyable(&s) {
			last := &out.Steps[n-1]
			if copyable(last) && last.Input == s.Input && last.Tensor == s.Tensor && last.Offset+last.Length == s.Offset {
				last.Length += s.Length
				return
			}
		}
		out.Steps = append(out.Steps, s)
	}
	for i, s := range p.Steps {
		if s.Input < 0 {
			add(s)
			continue
		}
		if s.Input >= len(p.Inputs) {
			return nil, fmt.Errorf("%w: step %d (%s): input %d does not exist (%d inputs)", ErrBadPlan, i, s.Tensor, s.Input, len(p.Inputs))
		}
		in := p.Inputs[s.Input]
		v, ok := in.R.(*safetensors.VirtualFile)
		if !ok {
			s.Input = index(in)
			add(s)
			continue
		}
		if s.Length == 0 {
			continue
		}
		pieces, err := v.Pieces(s.Offset, s.Length)
		if err != nil {
			return nil, fmt.Errorf("%w: step %d (%s): %w", ErrBadPlan, i, s.Tensor, err)
		}
		if !copyable(&s) { // a transpose or a dtype conversion reads its source as a whole
			if len(pieces) == 1 {
				s.Input, s.Offset = index(pieces[0].Input), pieces[0].Offset
			} else {
				s.Input = index(in)
			}
			add(s)
			continue
		}
		for _, pc := range pieces {
			add(Step{Tensor: s.Tensor, Input: index(pc.Input), Offset: pc.Offset, Length: pc.Length})
		}
	}
	return &out, nil
}

// sameInput reports whether a and b are the same input: the same reader
// (compared only where the reader's type allows ==) and size.
func sameInput(a, b Input) bool {
	if a.R == nil || b.R == nil || a.Size != b.Size || a.Name != b.Name {
		return false
	}
	ta, tb := reflect.TypeOf(a.R), reflect.TypeOf(b.R)
	return ta == tb && ta.Comparable() && a.R == b.R
}
