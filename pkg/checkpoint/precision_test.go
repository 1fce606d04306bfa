package checkpoint

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// The reference below is written independently of precision.go: it decodes
// every code of the target format to a float64, sorts them, and picks the
// nearest code by exact float64 comparison (ties to the even code), with the
// format's overflow rule applied around it. It shares no bit trick with the
// converters.

type refFormat struct {
	codes  []uint16  // non-negative finite codes, ascending by value
	values []float64 // their values
	// overflow is what a positive value at or past the rounding boundary
	// above the largest code becomes: the Inf code (F16, BF16) or the
	// largest code (saturating fp8).
	overflowCode uint16
	saturate     bool
	nanCode      func(signBit uint16, f32 uint32) uint16
	signBit      uint16
}

// decode gives a code's value from its exponent and mantissa fields.
func decodeFields(code uint16, expBits, mantBits, bias int) (float64, bool) {
	mant := int(code) & (1<<mantBits - 1)
	exp := int(code>>mantBits) & (1<<expBits - 1)
	if exp == 0 {
		return math.Ldexp(float64(mant), 1-bias-mantBits), true
	}
	return math.Ldexp(float64(mant|1<<mantBits), exp-bias-mantBits), true
}

func newRefFormat(expBits, mantBits, bias int, finite func(code uint16) bool, overflowCode uint16, saturate bool) *refFormat {
	f := &refFormat{overflowCode: overflowCode, saturate: saturate, signBit: 1 << (expBits + mantBits)}
	for c := 0; c < 1<<(expBits+mantBits); c++ {
		if !finite(uint16(c)) {
			continue
		}
		v, _ := decodeFields(uint16(c), expBits, mantBits, bias)
		f.codes = append(f.codes, uint16(c))
		f.values = append(f.values, v)
	}
	sort.Sort(byValue{f})
	return f
}

type byValue struct{ f *refFormat }

func (b byValue) Len() int           { return len(b.f.codes) }
func (b byValue) Less(i, j int) bool { return b.f.values[i] < b.f.values[j] }
func (b byValue) Swap(i, j int) {
	b.f.codes[i], b.f.codes[j] = b.f.codes[j], b.f.codes[i]
	b.f.values[i], b.f.values[j] = b.f.values[j], b.f.values[i]
}

// round converts a non-negative, non-NaN float64 (an exact float32 value).
func (f *refFormat) round(x float64) uint16 {
	last := len(f.values) - 1
	if math.IsInf(x, 1) {
		return f.overflowCode
	}
	if x >= f.values[last] {
		if f.saturate {
			return f.codes[last]
		}
		// The next value past the largest finite one is max + ulp(max);
		// halfway to it rounds to even, which is the Inf side (max has an
		// odd mantissa in F16 and BF16).
		ulp := f.values[last] - f.values[last-1]
		if x >= f.values[last]+ulp/2 {
			return f.overflowCode
		}
		return f.codes[last]
	}
	i := sort.SearchFloat64s(f.values, x) // values[i] >= x
	if f.values[i] == x {
		return f.codes[i]
	}
	lo, hi := i-1, i
	dlo, dhi := x-f.values[lo], f.values[hi]-x
	switch {
	case dlo < dhi:
		return f.codes[lo]
	case dhi < dlo:
		return f.codes[hi]
	}
	if f.codes[lo]%2 == 0 {
		return f.codes[lo]
	}
	return f.codes[hi]
}

var (
	refF16  = newRefFormat(5, 10, 15, func(c uint16) bool { return c>>10 != 0x1F }, 0x7C00, false)
	refBF16 = newRefFormat(8, 7, 127, func(c uint16) bool { return c>>7 != 0xFF }, 0x7F80, false)
	refE4M3 = newRefFormat(4, 3, 7, func(c uint16) bool { return c != 0x7F }, 0x7E, true)
	refE5M2 = newRefFormat(5, 2, 15, func(c uint16) bool { return c>>2 != 0x1F }, 0x7B, true)
)

// refConvert is the reference for one float32 bit pattern.
func refConvert(f *refFormat, bits uint32, nan func(uint32) uint16) uint16 {
	x := float64(math.Float32frombits(bits))
	if math.IsNaN(x) {
		return nan(bits)
	}
	var sign uint16
	if math.Signbit(x) {
		sign = f.signBit
		x = -x
	}
	return sign | f.round(x)
}

// NaN rules, stated independently: keep the sign, set the quiet bit, keep
// the payload's top bits (F16, BF16); the single NaN code with the sign (fp8).
func nanF16(b uint32) uint16  { return uint16(b>>31)<<15 | 0x7E00 | uint16(b>>13)&0x1FF }
func nanBF16(b uint32) uint16 { return uint16(b>>31)<<15 | 0x7FC0 | uint16(b>>16)&0x3F }
func nanFP8(b uint32) uint16  { return uint16(b>>31)<<7 | 0x7F }

func TestConvertEdgeValues(t *testing.T) {
	inf := float32(math.Inf(1))
	f := math.Float32frombits
	cases := []struct {
		name string
		in   float32
		f16  uint16
		bf16 uint16
		e4m3 uint8
		e5m2 uint8
	}{
		{"+0", 0, 0x0000, 0x0000, 0x00, 0x00},
		{"-0", float32(math.Copysign(0, -1)), 0x8000, 0x8000, 0x80, 0x80},
		{"1", 1, 0x3C00, 0x3F80, 0x38, 0x3C},
		{"-2", -2, 0xC000, 0xC000, 0xC0, 0xC0},
		{"f16 max 65504", 65504, 0x7BFF, 0x4780, 0x7E, 0x7B},
		{"f16 below overflow tie 65519", 65519, 0x7BFF, 0x4780, 0x7E, 0x7B},
		{"f16 overflow tie 65520 → Inf", 65520, 0x7C00, 0x4780, 0x7E, 0x7B},
		{"1e6", 1e6, 0x7C00, 0x4974, 0x7E, 0x7B},
		{"+Inf", inf, 0x7C00, 0x7F80, 0x7E, 0x7B},
		{"-Inf", -inf, 0xFC00, 0xFF80, 0xFE, 0xFB},
		{"qNaN", f(0x7FC00000), 0x7E00, 0x7FC0, 0x7F, 0x7F},
		{"-qNaN", f(0xFFC00000), 0xFE00, 0xFFC0, 0xFF, 0xFF},
		{"sNaN payload", f(0x7FA00000), 0x7F00, 0x7FE0, 0x7F, 0x7F},
		{"f16 min normal 2^-14", f(0x38800000), 0x0400, 0x3880, 0x00, 0x04},
		{"f16 min subnormal 2^-24", f(0x33800000), 0x0001, 0x3380, 0x00, 0x00},
		{"2^-25 tie → 0", f(0x33000000), 0x0000, 0x3300, 0x00, 0x00},
		{"2^-25+ → min subnormal", f(0x33000001), 0x0001, 0x3300, 0x00, 0x00},
		{"3·2^-25 tie → even 2", f(0x33C00000), 0x0002, 0x33C0, 0x00, 0x00},
		{"f16 tie to even down (1+2^-11)", f(0x3F801000), 0x3C00, 0x3F80, 0x38, 0x3C},
		{"f16 tie to even up (1+3·2^-11)", f(0x3F803000), 0x3C02, 0x3F80, 0x38, 0x3C},
		{"bf16 tie down", f(0x3F808000), 0x3C04, 0x3F80, 0x38, 0x3C},
		{"bf16 tie up", f(0x3F818000), 0x3C0C, 0x3F82, 0x38, 0x3C},
		{"f32 max", math.MaxFloat32, 0x7C00, 0x7F80, 0x7E, 0x7B},
		{"f32 min subnormal", f(1), 0x0000, 0x0000, 0x00, 0x00},
		{"e4m3 max 448", 448, 0x5F00, 0x43E0, 0x7E, 0x5F},
		{"464 (torch: NaN) saturates", 464, 0x5F40, 0x43E8, 0x7E, 0x5F},
		{"479 saturates", 479, 0x5F7C, 0x43F0, 0x7E, 0x5F},
		{"-1000 saturates", -1000, 0xE3D0, 0xC47A, 0xFE, 0xE4},
		{"e4m3 tie 1.0625 → even 1", 1.0625, 0x3C40, 0x3F88, 0x38, 0x3C},
		{"e4m3 tie 1.1875 → even 1.25", 1.1875, 0x3CC0, 0x3F98, 0x3A, 0x3D},
		{"e4m3 min subnormal 2^-9", f(0x3B000000), 0x1800, 0x3B00, 0x01, 0x18},
		{"e4m3 2^-10 tie → 0", f(0x3A800000), 0x1400, 0x3A80, 0x00, 0x14},
		{"e4m3 3·2^-10 tie → 2", f(0x3B400000), 0x1A00, 0x3B40, 0x02, 0x1A},
		{"e4m3 min normal 2^-6", f(0x3C800000), 0x2400, 0x3C80, 0x08, 0x24},
		{"e5m2 max 57344", 57344, 0x7B00, 0x4760, 0x7E, 0x7B},
		{"e5m2 61440 tie saturates", 61440, 0x7B80, 0x4770, 0x7E, 0x7B},
		{"e5m2 min subnormal 2^-16", f(0x37800000), 0x0100, 0x3780, 0x00, 0x01},
		{"e5m2 2^-17 tie → 0", f(0x37000000), 0x0080, 0x3700, 0x00, 0x00},
	}
	for _, c := range cases {
		bits := math.Float32bits(c.in)
		if got := f32ToF16(bits); got != c.f16 {
			t.Errorf("%s: F32 %08x → F16 %04x, want %04x", c.name, bits, got, c.f16)
		}
		if got := f32ToBF16(bits); got != c.bf16 {
			t.Errorf("%s: F32 %08x → BF16 %04x, want %04x", c.name, bits, got, c.bf16)
		}
		if got := f32ToE4M3(bits); got != c.e4m3 {
			t.Errorf("%s: F32 %08x → F8_E4M3 %02x, want %02x", c.name, bits, got, c.e4m3)
		}
		if got := f32ToE5M2(bits); got != c.e5m2 {
			t.Errorf("%s: F32 %08x → F8_E5M2 %02x, want %02x", c.name, bits, got, c.e5m2)
		}
		// The table itself agrees with the independent reference.
		if got := refConvert(refF16, bits, nanF16); got != c.f16 {
			t.Errorf("%s: reference F16 %04x disagrees with the table %04x", c.name, got, c.f16)
		}
		if got := refConvert(refBF16, bits, nanBF16); got != c.bf16 {
			t.Errorf("%s: reference BF16 %04x disagrees with the table %04x", c.name, got, c.bf16)
		}
		if got := refConvert(refE4M3, bits, nanFP8); got != uint16(c.e4m3) {
			t.Errorf("%s: reference E4M3 %02x disagrees with the table %02x", c.name, got, c.e4m3)
		}
		if got := refConvert(refE5M2, bits, nanFP8); got != uint16(c.e5m2) {
			t.Errorf("%s: reference E5M2 %02x disagrees with the table %02x", c.name, got, c.e5m2)
		}
	}
}

// edgeRandomF32 makes n float32 bit patterns: uniform bits (every class:
// NaN, Inf, subnormal, huge), values near each format's range and exact
// ties of each format.
func edgeRandomF32(n int, seed uint64) []uint32 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]uint32, n)
	for i := range out {
		switch i % 6 {
		case 0:
			out[i] = r.Uint32()
		case 1: // |x| in [2^-30, 2^20): F16 and fp8 subnormals to overflow
			out[i] = (r.Uint32() & 0x80000000) | (97+r.Uint32N(50))<<23 | r.Uint32()&0x7FFFFF
		case 2: // F16 ties: the 13 dropped bits are exactly 1000…0
			out[i] = (r.Uint32()&0xFFFFE000 | 0x1000) &^ 0x40000000
		case 3: // BF16 ties
			out[i] = r.Uint32()&0xFFFF0000 | 0x8000
		case 4: // E4M3 ties (20 dropped bits), exponent near fp8 range
			out[i] = (r.Uint32() & 0x80000000) | (110+r.Uint32N(30))<<23 | r.Uint32()&0x700000 | 0x80000
		default: // E5M2 ties
			out[i] = (r.Uint32() & 0x80000000) | (100+r.Uint32N(45))<<23 | r.Uint32()&0x600000 | 0x100000
		}
	}
	return out
}

// TestConvertMillionAgainstReference converts 1.5 M values through the
// executor's chunk converters (the in-place, 8-bytes-at-a-time loops) and
// compares every result with the reference.
func TestConvertMillionAgainstReference(t *testing.T) {
	const n = 1_500_000
	vals := edgeRandomF32(n, 42)
	src := make([]byte, 4*n)
	for i, v := range vals {
		binary.LittleEndian.PutUint32(src[4*i:], v)
	}
	type target struct {
		to   safetensors.DType
		ref  *refFormat
		nan  func(uint32) uint16
		size int
	}
	for _, tg := range []target{{safetensors.DTypeF16, refF16, nanF16, 2}, {safetensors.DTypeBF16, refBF16, nanBF16, 2}, {safetensors.DTypeF8E4M3, refE4M3, nanFP8, 1}, {safetensors.DTypeF8E5M2, refE5M2, nanFP8, 1}} {
		buf := append([]byte(nil), src...)
		out := converter(safetensors.DTypeF32, tg.to)(buf)
		if out != n*tg.size {
			t.Fatalf("F32→%s wrote %d bytes, want %d", tg.to, out, n*tg.size)
		}
		bad := 0
		for i, v := range vals {
			var got uint16
			if tg.size == 2 {
				got = binary.LittleEndian.Uint16(buf[2*i:])
			} else {
				got = uint16(buf[i])
			}
			if want := refConvert(tg.ref, v, tg.nan); got != want {
				if bad++; bad <= 10 {
					t.Errorf("F32 %08x → %s: got %04x, want %04x", v, tg.to, got, want)
				}
			}
		}
		if bad > 0 {
			t.Errorf("F32→%s: %d of %d values differ", tg.to, bad, n)
		}
	}
}

// TestConvertHalfToFP8AgainstReference covers F16 and BF16 sources: every
// one of the 65536 bit patterns of each, widened by the reference's own
// decoding.
func TestConvertHalfToFP8AgainstReference(t *testing.T) {
	for _, from := range []safetensors.DType{safetensors.DTypeF16, safetensors.DTypeBF16} {
		src := make([]byte, 2*65536)
		for i := 0; i < 65536; i++ {
			binary.LittleEndian.PutUint16(src[2*i:], uint16(i))
		}
		for _, tg := range []struct {
			to  safetensors.DType
			ref *refFormat
		}{{safetensors.DTypeF8E4M3, refE4M3}, {safetensors.DTypeF8E5M2, refE5M2}} {
			buf := append([]byte(nil), src...)
			converter(from, tg.to)(buf)
			for i := 0; i < 65536; i++ {
				var x float64
				var nan bool
				if from == safetensors.DTypeBF16 {
					x = float64(math.Float32frombits(uint32(i) << 16))
					nan = math.IsNaN(x)
				} else {
					v, _ := decodeFields(uint16(i)&0x7FFF, 5, 10, 15)
					nan = uint16(i)&0x7C00 == 0x7C00 && uint16(i)&0x3FF != 0
					x = v
					if uint16(i)&0x7FFF == 0x7C00 {
						x = math.Inf(1)
					}
					if i&0x8000 != 0 {
						x = -x
					}
				}
				var want uint16
				if nan {
					want = uint16(i>>15)<<7 | 0x7F
				} else {
					bits := math.Float32bits(float32(x))
					want = refConvert(tg.ref, bits, nanFP8)
				}
				if got := uint16(buf[i]); got != want {
					t.Fatalf("%s %04x → %s: got %02x, want %02x", from, i, tg.to, got, want)
				}
			}
		}
	}
}

func TestF16WidenExact(t *testing.T) {
	for i := 0; i < 65536; i++ {
		h := uint16(i)
		got := math.Float32frombits(f16ToF32Bits(h))
		want := f16ToFloat(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%04x: got %v, want NaN", h, got)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("%04x: got %v, want %v", h, got, want)
		}
	}
}
