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
