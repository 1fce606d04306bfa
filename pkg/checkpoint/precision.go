package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ckptpack/ckptpack/pkg/quant"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Precision conversion while streaming. A convert step reads Length bytes of
// From elements and writes them as To elements; the executor converts chunk
// by chunk in its one buffer (every supported conversion narrows, so it runs
// in place: element i of the output never lies past element i of the input).
//
// The rounding rules, bit for bit:
//
//   - F32→F16 and F32→BF16: round to nearest, ties to even, as torch's
//     tensor.to(torch.float16 / torch.bfloat16). ±Inf stays ±Inf; F16
//     overflow (|x| ≥ 65520) becomes ±Inf; BF16 overflow likewise. Subnormal
//     results are produced (no flush to zero). A NaN stays a NaN, quieted,
//     keeping its sign and the top bits of its payload (what the hardware
//     conversion torch's vectorised CPU path uses does; the canonical NaN
//     0x7FC00000 becomes 0x7E00 / 0x7FC0).
//   - F16/BF16/F32→F8_E4M3 (torch.float8_e4m3fn) and →F8_E5M2: torch's own
//     x.to(float8) is NOT saturating (c10 fp8e4m3fn_from_fp32_value maps
//     |x| ≥ 464 to the NaN code 0x7F; fp8e5m2_from_fp32_value maps overflow
//     to ±Inf). ComfyUI's fp8 quantisation clamps first, and so do we: the
//     result is exactly torch's x.clamp(-max, max).to(float8) with max 448
//     (E4M3FN) or 57344 (E5M2). So finite values beyond the range and ±Inf
//     saturate to ±max, NaN stays NaN (0x7F with the input's sign), and
//     everything else rounds to nearest even once, from the exact float32
//     value (F16 and BF16 widen to F32 exactly first, as c10 does).
type Convert struct {
	From, To safetensors.DType
	// Quant, when set, makes the step one part of a quantized layer
	// (quantize.go): From is the source weight's dtype, To the part's.
	Quant *QuantPart
	// Dequant, when set, widens fp8 weights (From F8_E4M3/F8_E5M2) to To
	// multiplied by their per-tensor scale (quantize.go).
	Dequant *Dequant
}

// conversionKey names a supported (From, To) pair.
type conversionKey struct{ from, to safetensors.DType }

// converter is the supported conversion from one dtype to another, nil
// when there is none; it converts n source elements of buf in place and
// returns the output bytes written at buf[0:]. A switch, not a map of
// method values: nothing to build at start-up.
func converter(from, to safetensors.DType) func(buf []byte) int {
	switch (conversionKey{from, to}) {
	case conversionKey{safetensors.DTypeF32, safetensors.DTypeF16}:
		return convertF32ToF16
	case conversionKey{safetensors.DTypeF32, safetensors.DTypeBF16}:
		return convertF32ToBF16
	case conversionKey{safetensors.DTypeF32, safetensors.DTypeF8E4M3}:
		return f32ToE4M3Table.convert
	case conversionKey{safetensors.DTypeF32, safetensors.DTypeF8E5M2}:
		return f32ToE5M2Table.convert
	case conversionKey{safetensors.DTypeF16, safetensors.DTypeF8E4M3}:
		return f16ToE4M3.convert
	case conversionKey{safetensors.DTypeF16, safetensors.DTypeF8E5M2}:
		return f16ToE5M2.convert
	case conversionKey{safetensors.DTypeBF16, safetensors.DTypeF8E4M3}:
		return bf16ToE4M3.convert
	case conversionKey{safetensors.DTypeBF16, safetensors.DTypeF8E5M2}:
		return bf16ToE5M2.convert
	}
	return nil
}

// CanConvert reports whether a tensor of dtype from can be written as to.
// Converting a dtype to itself is a plain copy and always allowed.
func CanConvert(from, to safetensors.DType) bool {
	if from == to {
		return true
	}
	return converter(from, to) != nil
}

// checkConvert validates a convert step's shape for validatePlan: a known
// conversion over a whole number of source elements. It returns the output
// byte count.
func (c *Convert) outputBytes(length int64) (int64, error) {
	if c.Quant != nil {
		return c.Quant.outputBytes(length)
	}
	if c.Dequant != nil {
		if _, ok := quantSources[c.To]; !ok || (c.From != safetensors.DTypeF8E4M3 && c.From != safetensors.DTypeF8E5M2) {
			return 0, fmt.Errorf("no dequantization from %s to %s", c.From, c.To)
		}
		return length * c.To.ElemSize(), nil
	}
	if converter(c.From, c.To) == nil {
		return 0, fmt.Errorf("no conversion from %s to %s", c.From, c.To)
	}
	fs, ts := c.From.ElemSize(), c.To.ElemSize()
	if length%fs != 0 {
		return 0, fmt.Errorf("%d bytes is not a whole number of %s elements", length, c.From)
	}
	return length / fs * ts, nil
}

// convertChunks streams a convert step: whole source elements are read
// into the buffer, converted in place and written.
func (x *executor) convert(s *Step) error {
	c := s.Convert
	if c.Quant != nil {
		return x.quantize(s)
	}
	if c.Dequant != nil {
		return x.dequantize(s)
	}
	fn := converter(c.From, c.To)
	es := c.From.ElemSize()
	chunkMax := int64(len(x.buf)) / es * es
	off, left := s.Offset, s.Length
	for left > 0 {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		n := min(chunkMax, left)
		chunk := x.buf[:n]
		if err := x.readAt(s.Input, s.Tensor, chunk, off); err != nil {
			return err
		}
		out := fn(chunk)
		if err := x.write(x.buf[:out]); err != nil {
			return err
		}
		off += n
		left -= n
	}
	return nil
}

// convertF32ToF16 converts len(b)/4 float32 values in place, four at a
// time (16 bytes in, 8 out), with the round-to-nearest-even of f32ToF16
// inlined for the common case of four normal halves.
func convertF32ToF16(b []byte) int {
	n := len(b) / 4
	i := 0
	for ; i+4 <= n; i += 4 {
		in := b[i*4 : i*4+16]
		v0 := binary.LittleEndian.Uint64(in[0:8])
		v1 := binary.LittleEndian.Uint64(in[8:16])
		a0, a1 := uint32(v0)&^0x80000000, uint32(v0>>32)&^0x80000000
		a2, a3 := uint32(v1)&^0x80000000, uint32(v1>>32)&^0x80000000
		var out uint64
		// a−0x38800000 < 0x0F000000 tests 2^-14 ≤ |x| < 65536 (a normal
		// half, or overflow by rounding, which the carry turns into Inf).
		if (a0-0x38800000)|(a1-0x38800000)|(a2-0x38800000)|(a3-0x38800000) < 0x0F000000 ||
			(a0-0x38800000 < 0x0F000000 && a1-0x38800000 < 0x0F000000 && a2-0x38800000 < 0x0F000000 && a3-0x38800000 < 0x0F000000) {
			h0 := uint64(uint32(v0>>16)&0x8000 | (a0+0xC8000FFF+(a0>>13)&1)>>13)
			h1 := uint64(uint32(v0>>48)&0x8000 | (a1+0xC8000FFF+(a1>>13)&1)>>13)
			h2 := uint64(uint32(v1>>16)&0x8000 | (a2+0xC8000FFF+(a2>>13)&1)>>13)
			h3 := uint64(uint32(v1>>48)&0x8000 | (a3+0xC8000FFF+(a3>>13)&1)>>13)
			out = h0 | h1<<16 | h2<<32 | h3<<48
		} else {
			out = uint64(f32ToF16(uint32(v0))) | uint64(f32ToF16(uint32(v0>>32)))<<16 |
				uint64(f32ToF16(uint32(v1)))<<32 | uint64(f32ToF16(uint32(v1>>32)))<<48
		}
		binary.LittleEndian.PutUint64(b[i*2:i*2+8], out)
	}
	for ; i < n; i++ {
		binary.LittleEndian.PutUint16(b[i*2:], f32ToF16(binary.LittleEndian.Uint32(b[i*4:])))
	}
	return n * 2
}

// The scalar rounding rules are package quant's, the one copy of torch's
// (precision_test.go pins them here too); these take and give raw bits, as
// the conversion loops and tables hold them.
func f32ToF16(f uint32) uint16      { return quant.F32ToF16(math.Float32frombits(f)) }
func f32ToBF16(f uint32) uint16     { return quant.F32ToBF16(math.Float32frombits(f)) }
func f32ToE4M3(f uint32) uint8      { return quant.F32ToE4M3(math.Float32frombits(f)) }
func f32ToE5M2(f uint32) uint8      { return quant.F32ToE5M2(math.Float32frombits(f)) }
func f16ToF32Bits(h uint16) uint32  { return math.Float32bits(quant.F16ToF32(h)) }
func bf16ToF32Bits(h uint16) uint32 { return math.Float32bits(quant.BF16ToF32(h)) }

// convertF32ToBF16 converts len(b)/4 float32 values in place, two at a time.
func convertF32ToBF16(b []byte) int {
	n := len(b) / 4
	i := 0
	for ; i+2 <= n; i += 2 {
		v := binary.LittleEndian.Uint64(b[i*4:])
		lo := f32ToBF16(uint32(v))
		hi := f32ToBF16(uint32(v >> 32))
		binary.LittleEndian.PutUint32(b[i*2:], uint32(lo)|uint32(hi)<<16)
	}
	if i < n {
		binary.LittleEndian.PutUint16(b[i*2:], f32ToBF16(binary.LittleEndian.Uint32(b[i*4:])))
	}
	return n * 2
}
