// Package quant is the arithmetic of the quantized weight formats ComfyUI
// loads (comfy/quant_ops.py QUANT_ALGOS): per-tensor scaled fp8
// (float8_e4m3fn, float8_e5m2), int8_tensorwise, mxfp8 and nvfp4, bit for
// bit what comfy_kitchen's reference (eager) quantize functions produce
// for the same F32, F16 or BF16 input. It is pure Go with no knowledge of
// checkpoints: callers hand it a tensor's bytes, twice (a first pass for
// the absolute maximum a scale needs, a second that writes), in chunks of
// whole blocks, so memory stays bounded whatever the tensor's size.
package quant

import "math"

// Source is the dtype of the values being quantized.
type Source int

const (
	F32 Source = iota
	F16
	BF16
)

// Size is the element size in bytes.
func (s Source) Size() int {
	if s == F32 {
		return 4
	}
	return 2
}

func (s Source) String() string {
	return [...]string{"F32", "F16", "BF16"}[s]
}

// F16ToF32 widens IEEE binary16 bits exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1F
	mant := uint32(h & 0x3FF)
	switch {
	case exp == 0x1F:
		return math.Float32frombits(sign | 0x7F800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: mant × 2^-24, exact in float32.
	v := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// BF16ToF32 widens bfloat16 bits exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 rounds to nearest, ties to even (c10 round_to_nearest_even);
// NaN is quieted, keeping its sign and top payload bits.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7FFFFFFF > 0x7F800000 {
		return uint16(b>>16) | 0x0040
	}
	return uint16((b + 0x7FFF + (b>>16)&1) >> 16)
}

// F32ToF16 is IEEE binary32 → binary16, round to nearest even, with
// subnormal results and overflow to ±Inf (torch's .to(torch.float16)).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := b &^ 0x80000000
	switch {
	case a > 0x7F800000:
		return sign | 0x7E00 | uint16(a>>13)&0x3FF
	case a >= 0x477FF000: // rounds to 65536 or more: Inf
		return sign | 0x7C00
	case a < 0x38800000: // below 2^-14: a subnormal half (or zero)
		// Adding 0.5 leaves the value's bits below 2^-24 to the FPU's
		// round-to-nearest-even; the difference is the half's mantissa.
		r := math.Float32bits(math.Float32frombits(a)+0.5) - 0x3F000000
		return sign | uint16(r)
	}
	a += 0xC8000FFF + (a>>13)&1 // rebias (−112 << 23), round half to even
	return sign | uint16(a>>13)
}

// roundTo rounds a float32 to the precision of s and back (torch computing
// an F16 or BF16 op in float32 and storing its result).
func roundTo(s Source, v float32) float32 {
	switch s {
	case F16:
		return F16ToF32(F32ToF16(v))
	case BF16:
		return BF16ToF32(F32ToBF16(v))
	}
	return v
}

// load reads element i of b.
func load(s Source, b []byte, i int) float32 {
	switch s {
	case F32:
		j := 4 * i
		return math.Float32frombits(uint32(b[j]) | uint32(b[j+1])<<8 | uint32(b[j+2])<<16 | uint32(b[j+3])<<24)
	case F16:
		return F16ToF32(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
	}
	return BF16ToF32(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
}

// FP8 maxima.
const (
	E4M3Max = 448
	E5M2Max = 57344
	E2M1Max = 6
)

// F32ToE4M3 is torch's x.clamp(-448, 448).to(torch.float8_e4m3fn): finite
// values beyond the range and ±Inf saturate to ±448, NaN becomes 0x7F with
// the input's sign, everything else rounds to nearest even once (c10
// fp8e4m3fn_from_fp32_value), subnormals included.
func F32ToE4M3(f float32) uint8 {
	b := math.Float32bits(f)
	sign := uint8(b>>24) & 0x80
	a := b &^ 0x80000000
	if a > 0x7F800000 {
		return sign | 0x7F
	}
	if a > 0x43E00000 { // 448
		a = 0x43E00000
	}
	if a < 121<<23 { // below 2^-6: a subnormal fp8 (or zero)
		const magic = 141 << 23 // 2^14: its ulp is the smallest subnormal, 2^-9
		return sign | uint8(math.Float32bits(math.Float32frombits(a)+math.Float32frombits(magic))-magic)
	}
	a += 0xC4000000 + 0x7FFFF + (a>>20)&1 // rebias (−120 << 23), round half to even
	return sign | uint8(a>>20)
}

// F32ToE5M2 is torch's x.clamp(-57344, 57344).to(torch.float8_e5m2) (c10
// fp8e5m2_from_fp32_value after the clamp; NaN becomes 0x7F).
func F32ToE5M2(f float32) uint8 {
	b := math.Float32bits(f)
	sign := uint8(b>>24) & 0x80
	a := b &^ 0x80000000
	if a > 0x7F800000 {
		return sign | 0x7F
	}
	if a > 0x47600000 { // 57344
		a = 0x47600000
	}
	if a < 113<<23 { // below 2^-14
		const magic = 134 << 23 // 2^7: ulp 2^-16
		return sign | uint8(math.Float32bits(math.Float32frombits(a)+math.Float32frombits(magic))-magic)
	}
	a += 0xC8000000 + 0xFFFFF + (a>>21)&1 // rebias (−112 << 23), round half to even
	return sign | uint8(a>>21)
}

// E4M3ToF32 decodes float8_e4m3fn (0x7F/0xFF are NaN; there is no Inf).
func E4M3ToF32(v uint8) float32 {
	sign := float32(1)
	if v&0x80 != 0 {
		sign = -1
	}
	e, m := int(v>>3)&0xF, int(v&7)
	switch {
	case e == 0xF && m == 7:
		return float32(math.NaN())
	case e == 0:
		return sign * float32(m) / 512
	}
	return sign * float32(8+m) * float32(math.Ldexp(1, e-10))
}

// E5M2ToF32 decodes float8_e5m2 (IEEE-like: Inf and NaN at exponent 31).
func E5M2ToF32(v uint8) float32 {
	return F16ToF32(uint16(v) << 8)
}

// F32ToE2M1 is comfy_kitchen's _f32_to_floatx_unpacked(x, 2, 1) for one
// value already clamped to [-6, 6]: the 4-bit code (sign, 2 exponent bits,
// 1 mantissa bit), rounding to nearest even. Values below 1 take the
// denormal path (adding 2^22, whose ulp is 0.5, lets the FPU round them);
// the rest round by adding the rebias, 2^21 − 1 and the kept bit.
func F32ToE2M1(f float32) uint8 {
	b := math.Float32bits(f)
	sign := b & 0x80000000
	b ^= sign
	x := math.Float32frombits(b)
	var r uint8
	switch {
	case x >= E2M1Max:
		r = 7
	case x < 1:
		const denorm = 149 << 23 // 2^22
		r = uint8(math.Float32bits(x+math.Float32frombits(denorm)) - denorm)
	default:
		odd := (b >> 22) & 1
		b += 0xC1000000 + (1<<21 - 1) // (1 − 127) << 23 as uint32, plus the magic adder
		b += odd
		r = uint8(b >> 22)
	}
	return r | uint8(sign>>28)&8
}

// E2M1ToF32 decodes a 4-bit code.
func E2M1ToF32(c uint8) float32 {
	v := [8]float32{0, 0.5, 1, 1.5, 2, 3, 4, 6}[c&7]
	if c&8 != 0 {
		return -v
	}
	return v
}

// E8M0ToF32 is comfy_kitchen's e8m0_to_f32: code << 23 as float32 bits
// (2^(code−127); code 0 reads as 0).
func E8M0ToF32(c uint8) float32 { return math.Float32frombits(uint32(c) << 23) }
