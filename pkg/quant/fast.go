package quant

import (
	"encoding/binary"
	"math"
	"sync"
)

// Lookup tables that make the per-element work a multiply (or a divide)
// and one load, bit-exact by construction.
//
// A float32 → fp8/e2m1 table is indexed by the value's top 16 bits h and
// one more bit: whether the low 16 bits are nonzero. Every fp8 and e2m1
// value, every midpoint between neighbours (the rounding boundaries, ties
// included), the saturation bounds and Inf are exactly representable in 16
// bits, so none lies strictly between h<<16 and (h+1)<<16: every float32
// with top bits h and nonzero low bits rounds like h<<16|1, and a NaN
// whose payload is only in the low bits (h reads as Inf) is NaN there too.
// The two entries per h are the scalar rule applied to h<<16 and h<<16|1.
type f32Table struct {
	once sync.Once
	fn   func(float32) uint8
	t    *[1 << 17]uint8
}

func (c *f32Table) get() *[1 << 17]uint8 {
	c.once.Do(func() {
		t := new([1 << 17]uint8)
		for h := uint32(0); h < 1<<16; h++ {
			t[h<<1] = c.fn(math.Float32frombits(h << 16))
			t[h<<1|1] = c.fn(math.Float32frombits(h<<16 | 1))
		}
		c.t = t
	})
	return c.t
}

// index is the table slot of float32 bits b.
func index(b uint32) uint32 { return b>>16<<1 | (b&0xFFFF+0xFFFF)>>16 }

var (
	e4m3Table = &f32Table{fn: F32ToE4M3}
	e5m2Table = &f32Table{fn: F32ToE5M2}
	// e2m1Table includes nvfp4's clamp to ±6.
	e2m1Table = &f32Table{fn: func(v float32) uint8 { return F32ToE2M1(min(max(v, -E2M1Max), E2M1Max)) }}
)

// f16Decode widens every half exactly.
var f16Decode = sync.OnceValue(func() *[1 << 16]float32 {
	t := new([1 << 16]float32)
	for h := range t {
		t[h] = F16ToF32(uint16(h))
	}
	return t
})

// decode widens n elements of b from element i into dst.
func decode(s Source, b []byte, i int, dst []float32) {
	switch s {
	case F32:
		for j := range dst {
			dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*(i+j):]))
		}
	case BF16:
		for j := range dst {
			dst[j] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*(i+j):])) << 16)
		}
	default:
		t := f16Decode()
		for j := range dst {
			dst[j] = t[binary.LittleEndian.Uint16(b[2*(i+j):])]
		}
	}
}

// fp8 is quantize_per_tensor_fp8: x × (1/scale in the source dtype),
// rounded to the source dtype, clamped and cast.
func (t *Tensor) fp8(b, out []byte, n int) {
	tab := e4m3Table.get()
	if t.f == FP8E5M2 {
		tab = e5m2Table.get()
	}
	inv := t.inv
	switch t.src {
	case F32:
		for i := 0; i < n; i++ {
			x := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			out[i] = tab[index(math.Float32bits(x*inv))]
		}
	case BF16:
		for i := 0; i < n; i++ {
			x := math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			out[i] = tab[uint32(F32ToBF16(x*inv))<<1]
		}
	default:
		dec := f16Decode()
		for i := 0; i < n; i++ {
			x := dec[binary.LittleEndian.Uint16(b[2*i:])]
			out[i] = tab[index(math.Float32bits(dec[F32ToF16(x*inv)]))]
		}
	}
}

// int8 is quantize_int8_tensorwise: round(x / scale) in the source dtype,
// clamped to [-128, 127]. Clamping first and rounding by adding and
// subtracting 1.5 × 2^23 (float32 round half to even for |v| < 2^22) is
// torch.round then clamp.
func (t *Tensor) int8(b, out []byte, n int) {
	d := t.div
	const magic = 12582912
	q := func(v float32) byte {
		v = min(max(v, -128), 127)
		return byte(int8((v + magic) - magic))
	}
	switch t.src {
	case F32:
		for i := 0; i < n; i++ {
			out[i] = q(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])) / d)
		}
	case BF16:
		for i := 0; i < n; i++ {
			x := math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			out[i] = q(BF16ToF32(F32ToBF16(x / d)))
		}
	default:
		dec := f16Decode()
		for i := 0; i < n; i++ {
			x := dec[binary.LittleEndian.Uint16(b[2*i:])]
			out[i] = q(dec[F32ToF16(x/d)])
		}
	}
}

// maxMagnitude16 is the largest of the 16-bit values in b with the sign
// bit cleared (F16 and BF16 magnitudes order as their bits). Go's wasm has
// no SIMD, so four values at a time are compared as 16-bit lanes of one
// uint64: with every lane's magnitude at most 0x7FFF, lane (v|0x8000) − m
// lies in [1, 0xFFFF], so no lane borrows from the next, and its top bit
// is set exactly where v ≥ m.
func maxMagnitude16(b []byte) uint16 {
	const magnitudes, tops = 0x7FFF7FFF7FFF7FFF, 0x8000800080008000
	var m uint64 // four running maxima
	for ; len(b) >= 8; b = b[8:] {
		v := binary.LittleEndian.Uint64(b) & magnitudes
		ge := (((v | tops) - m) & tops >> 15) * 0xFFFF // 0xFFFF in the lanes where v ≥ m
		m = v&ge | m&^ge
	}
	r := max(uint16(m), uint16(m>>16), uint16(m>>32), uint16(m>>48))
	for ; len(b) >= 2; b = b[2:] {
		r = max(r, (uint16(b[0])|uint16(b[1])<<8)&^0x8000)
	}
	return r
}

// maxMagnitude32 is maxMagnitude16 for float32 bits.
func maxMagnitude32(b []byte) uint32 {
	var m uint32
	for ; len(b) >= 4; b = b[4:] {
		a := binary.LittleEndian.Uint32(b) &^ 0x80000000
		if a > m {
			m = a
		}
	}
	return m
}

// A per-tensor lookup table for fp8 and int8 of an F16 or BF16 source.
// With the tensor scale fixed, each output byte is a function of one
// 16-bit source value, so the weight pass can be one load per element
// once the 2^16 entries are known. The entries are computed by the same
// loops (fp8, int8) run over every 16-bit value, so the table's bytes are
// those loops' bytes by construction. Building it costs 2^16 elements of
// the direct loop, so a tensor of 2^16 elements costs about the same
// either way; larger ones gain up to the ratio of the two loops (in wasm
// about 20 ns per F16 element direct, 1.3 ns looked up), smaller ones keep
// the direct loop.
const tableMinElements = 1 << 16

// useTable reports whether this pass quantizes through a lookup table.
func (t *Tensor) useTable() bool {
	return t.src != F32 && (t.f == FP8E4M3 || t.f == FP8E5M2 || t.f == Int8) && t.Elements() >= tableMinElements
}

// buildTable fills t.table by running the direct loop over all 2^16
// source values, a few thousand at a time.
func (t *Tensor) buildTable() {
	tab := new([1 << 16]byte)
	const step = 2048
	var src [2 * step]byte
	for base := 0; base < 1<<16; base += step {
		for j := 0; j < step; j++ {
			binary.LittleEndian.PutUint16(src[2*j:], uint16(base+j))
		}
		if t.f == Int8 {
			t.int8(src[:], tab[base:base+step], step)
		} else {
			t.fp8(src[:], tab[base:base+step], step)
		}
	}
	t.table = tab
}

// lookup16 quantizes n 16-bit source values of b through t.table, four
// per 8-byte load (a load and a bounds check per element otherwise cost
// more than the lookups). out may be b itself: the bytes of elements i to
// i+3 are loaded before bytes i to i+3 are written.
func (t *Tensor) lookup16(b, out []byte, n int) {
	tab := t.table
	i := 0
	for ; i+4 <= n; i += 4 {
		v := binary.LittleEndian.Uint64(b[2*i : 2*i+8])
		o := out[i : i+4 : i+4]
		o[0] = tab[uint16(v)]
		o[1] = tab[uint16(v>>16)]
		o[2] = tab[uint16(v>>32)]
		o[3] = tab[uint16(v>>48)]
	}
	for ; i < n; i++ {
		out[i] = tab[uint16(b[2*i])|uint16(b[2*i+1])<<8]
	}
}
