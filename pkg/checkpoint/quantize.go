package checkpoint

import (
	"errors"
	"fmt"

	"github.com/ckptpack/ckptpack/pkg/quant"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Quantization while streaming. A quantized layer <L> is written as
// <L>.weight in the format's storage dtype, its scales (<L>.weight_scale,
// for nvfp4 also <L>.weight_scale_2) and a <L>.comfy_quant marker, the way
// ComfyUI's mixed-precision Linear state_dict writes them. Each output
// tensor of the layer is one step carrying a Convert with Quant set; all
// of them read the whole source weight and share one QuantLayer, the job
// the executor computes once per layer.
//
// The reference writer's order puts every scale before its weight (F32 and
// the F8 scale dtypes rank above F8_E4M3 and U8), so the first step of a
// layer computes: a pass over the source for the absolute maximum; for
// fp8 and int8 that is all the scale needs, and the weight step streams a
// second pass straight to the output. mxfp8 and nvfp4 block scales depend
// on every block: their step is one more quantizing pass whose values are
// dropped (holding the quantized weight until its step instead would hold
// every layer's, since all scales come before all weights).

// QuantLayer is one layer's quantization job, shared by its steps.
type QuantLayer struct {
	Format quant.Format
	Source safetensors.DType // F32, F16 or BF16
	Shape  []int64           // the source weight's shape
}

// QuantPart is the part of a quantized layer one step writes.
type QuantPart struct {
	Layer  *QuantLayer
	Suffix string // "" (the weight), "_scale" or "_scale_2", as quant.Outputs names them
}

var quantSources = map[safetensors.DType]quant.Source{safetensors.DTypeF32: quant.F32, safetensors.DTypeF16: quant.F16, safetensors.DTypeBF16: quant.BF16}

// outputBytes is the size of the part this step writes.
func (q *QuantPart) outputBytes(length int64) (int64, error) {
	l := q.Layer
	src, ok := quantSources[l.Source]
	if !ok {
		return 0, fmt.Errorf("cannot quantize a %s tensor", l.Source)
	}
	if err := quant.Check(l.Format, l.Shape); err != nil {
		return 0, err
	}
	if want := numElements(l.Shape) * int64(src.Size()); length != want {
		return 0, fmt.Errorf("%d source bytes for a %s %v weight (want %d)", length, l.Source, l.Shape, want)
	}
	for _, o := range quant.Outputs(l.Format, l.Shape) {
		if o.Suffix == q.Suffix {
			es := int64(1)
			if o.DType == "F32" {
				es = 4
			}
			return numElements(o.Shape) * es, nil
		}
	}
	return 0, fmt.Errorf("%s has no part %q", l.Format, q.Suffix)
}

// quantState is a layer's job while the executor writes its parts: the
// prepared tensor (its absmax and scale; a few words), kept from the first
// part to the last. The reference order puts every layer's scales before
// every weight, so states of many layers are alive at once: they must stay
// this small.
type quantState struct {
	t     *quant.Tensor
	parts int // parts still to write
}

// quantize writes one part of a quantized layer. The first part of a layer
// reads its source once for the absolute maximum. A tensor scale (fp8,
// int8, nvfp4's weight_scale_2) then needs no more reading; block scales
// (mxfp8, nvfp4) are a quantizing pass whose values are discarded; the
// weight is a quantizing pass written straight to the output. So fp8 and
// int8 read a weight twice, mxfp8 and nvfp4 three times, and nothing is
// held but one layer's block scales while they are written.
func (x *executor) quantize(s *Step) error {
	qp := s.Convert.Quant
	l := qp.Layer
	if x.quant == nil {
		x.quant = map[*QuantLayer]*quantState{}
	}
	st := x.quant[l]
	if st == nil {
		src := quantSources[l.Source]
		t, err := quant.NewTensor(l.Format, src, l.Shape)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", s.Tensor, err)
		}
		st = &quantState{t: t, parts: len(quant.Outputs(l.Format, l.Shape))}
		x.quant[l] = st
		if err := x.quantPass(s, func(chunk []byte) error { t.Observe(chunk); return nil }); err != nil {
			return err
		}
		if err := t.Prepare(); err != nil {
			switch {
			case errors.Is(err, quant.ErrNonFinite):
				return fmt.Errorf("tensor %s: %w: it cannot be quantized (leave it out with --exclude)", s.Tensor, err)
			case errors.Is(err, quant.ErrZeroScale):
				return fmt.Errorf("tensor %s: %w (its largest magnitude %g over %s's range leaves nothing in %s; leave it out with --exclude)", s.Tensor, err, t.AbsMax(), l.Format, l.Source)
			}
			return fmt.Errorf("tensor %s: %w", s.Tensor, err)
		}
	}
	switch {
	case qp.Suffix == "":
		// The weight: a quantizing pass, in place in the buffer, to the output.
		w := st.t.Restart()
		if err := x.quantPass(s, func(chunk []byte) error {
			return x.write(chunk[:w.Quantize(chunk, chunk)])
		}); err != nil {
			return err
		}
	case l.Format == quant.MXFP8 || (l.Format == quant.NVFP4 && qp.Suffix == "_scale"):
		// Block scales: a quantizing pass whose values are dropped.
		w := st.t.Restart()
		if err := x.quantPass(s, func(chunk []byte) error { w.Quantize(chunk, chunk); return nil }); err != nil {
			return err
		}
		sc, err := w.Scales()
		if err != nil {
			return err
		}
		if err := x.write(sc[0]); err != nil {
			return err
		}
	default:
		// A tensor scale, known since the first pass.
		if err := x.write(quant.ScaleBytes(st.t.Scale())); err != nil {
			return err
		}
	}
	if st.parts--; st.parts == 0 {
		delete(x.quant, l)
	}
	return nil
}

// quantPass reads the step's source tensor in buffer-sized chunks of whole
// blocks and hands each to fn.
func (x *executor) quantPass(s *Step, fn func([]byte) error) error {
	es := int64(quantSources[s.Convert.Quant.Layer.Source].Size())
	unit := es * quant.MXFP8Block // a multiple of every block size
	buf := x.buf
	if int64(len(buf)) < unit {
		// A buffer sized for a tiny plan: one block's worth is enough.
		buf = make([]byte, unit)
	}
	chunkMax := int64(len(buf)) / unit * unit
	off, left := s.Offset, s.Length
	for left > 0 {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		n := min(chunkMax, left)
		chunk := buf[:n]
		if err := x.readAt(s.Input, s.Tensor, chunk, off); err != nil {
			return err
		}
		if err := fn(chunk); err != nil {
			return err
		}
		off += n
		left -= n
	}
	return nil
}

// Dequant is a per-tensor fp8 layer written back in high precision:
// weight × scale as comfy_kitchen's dequantize_per_tensor_fp8 computes it
// in the target dtype.
type Dequant struct {
	Scale float32
}

// dequantize streams a Dequant step: fp8 bytes in, wider values out. The
// output is larger than the input, so the buffer is split: reads land in
// its tail, results are written from its head.
func (x *executor) dequantize(s *Step) error {
	c := s.Convert
	os := c.To.ElemSize()
	chunkMax := int64(len(x.buf)) / (1 + os)
	buf := x.buf
	if chunkMax == 0 {
		buf, chunkMax = make([]byte, 1+os), 1
	}
	to := quantSources[c.To]
	off, left := s.Offset, s.Length
	for left > 0 {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		n := min(chunkMax, left)
		in := buf[int64(len(buf))-n:]
		if err := x.readAt(s.Input, s.Tensor, in, off); err != nil {
			return err
		}
		out := buf[:n*os]
		quant.DequantizeFP8(in, c.From == safetensors.DTypeF8E5M2, c.Dequant.Scale, to, out)
		if err := x.write(out); err != nil {
			return err
		}
		off += n
		left -= n
	}
	return nil
}

// numElements is the product of shape.
func numElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}
