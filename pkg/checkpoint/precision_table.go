package checkpoint

import (
	"encoding/binary"
	"sync"
)

// 16-bit sources (F16, BF16) to fp8 go through a table of all 65536
// results. A half has only 65536 bit patterns, so the table holds exactly
// what the scalar rule (widen to float32 exactly, then f32ToE4M3 or
// f32ToE5M2) gives for each, and a lookup per element is bit-exact by
// construction. It replaces branchy per-value arithmetic that ran at a few
// tens of MB/s compiled to WebAssembly in the browser worker: trained
// weights are mostly small (σ ≈ 0.02), so about half of them fall below
// E4M3's smallest normal 2^-6 and took the slow subnormal path. The 64 KiB
// table stays in cache; each one is built on first use (under a
// millisecond), so the CLI pays nothing for conversions it does not run.
type halfToF8Table struct {
	once  sync.Once
	widen func(uint16) uint32
	narr  func(uint32) uint8
	t     *[1 << 16]uint8
}

var (
	f16ToE4M3  = &halfToF8Table{widen: f16ToF32Bits, narr: f32ToE4M3}
	f16ToE5M2  = &halfToF8Table{widen: f16ToF32Bits, narr: f32ToE5M2}
	bf16ToE4M3 = &halfToF8Table{widen: bf16ToF32Bits, narr: f32ToE4M3}
	bf16ToE5M2 = &halfToF8Table{widen: bf16ToF32Bits, narr: f32ToE5M2}
)

func (c *halfToF8Table) table() *[1 << 16]uint8 {
	c.once.Do(func() {
		t := new([1 << 16]uint8)
		for h := range t {
			t[h] = c.narr(c.widen(uint16(h)))
		}
		c.t = t
	})
	return c.t
}

// convert converts len(b)/2 halves in place and returns the output bytes
// (one per element) written at b[0:]. Four halves are read as one uint64
// and their results written as one uint32 (eight at a time measured no
// faster in WebAssembly): output bytes [i, i+4) never lie past input bytes
// [2i, 2i+8), which are read first.
func (c *halfToF8Table) convert(b []byte) int {
	t := c.table()
	n := len(b) / 2
	i := 0
	for ; i+4 <= n; i += 4 {
		v := binary.LittleEndian.Uint64(b[i*2 : i*2+8])
		out := uint32(t[uint16(v)]) | uint32(t[uint16(v>>16)])<<8 |
			uint32(t[uint16(v>>32)])<<16 | uint32(t[uint16(v>>48)])<<24
		binary.LittleEndian.PutUint32(b[i:i+4], out)
	}
	for ; i < n; i++ {
		b[i] = t[binary.LittleEndian.Uint16(b[i*2:])]
	}
	return n
}

// F32 sources to fp8 go through a table too, indexed by the value's top 16
// bits (its BF16 truncation h) and one more bit: whether the low 16 bits
// are zero. Every fp8 value, every midpoint between two neighbours (the
// rounding boundaries, ties included), the saturation bound and Inf are
// exactly representable with 16 bits, so none lies strictly between h and
// h + 1 (in units of its last place): every float32 with top bits h and
// nonzero low bits rounds like h<<16 | 1, and a NaN whose payload sits only
// in the low bits (h reads as Inf) is NaN there too. The two entries per h
// are the scalar rule (f32ToE4M3 or f32ToE5M2) applied to h<<16 and to
// h<<16 | 1, so the lookup is bit-exact.
type f32ToF8Table struct {
	once sync.Once
	narr func(uint32) uint8
	t    *[1 << 17]uint8
}

var (
	f32ToE4M3Table = &f32ToF8Table{narr: f32ToE4M3}
	f32ToE5M2Table = &f32ToF8Table{narr: f32ToE5M2}
)

func (c *f32ToF8Table) table() *[1 << 17]uint8 {
	c.once.Do(func() {
		t := new([1 << 17]uint8)
		for h := uint32(0); h < 1<<16; h++ {
			t[h<<1] = c.narr(h << 16)
			t[h<<1|1] = c.narr(h<<16 | 1)
		}
		c.t = t
	})
	return c.t
}

// index is the table slot of float32 bits f: its top 16 bits, then 1 when
// any low bit is set ((lo + 0xFFFF) >> 16 is 1 exactly for lo ≠ 0).
func f32ToF8Index(f uint32) uint32 {
	return f>>16<<1 | (f&0xFFFF+0xFFFF)>>16
}

// convert converts len(b)/4 float32 values in place and returns the output
// bytes written at b[0:]. Output bytes [i, i+4) never lie past input bytes
// [4i, 4i+16), which are read first.
func (c *f32ToF8Table) convert(b []byte) int {
	t := c.table()
	n := len(b) / 4
	i := 0
	for ; i+4 <= n; i += 4 {
		in := b[i*4 : i*4+16]
		v0 := binary.LittleEndian.Uint64(in[0:8])
		v1 := binary.LittleEndian.Uint64(in[8:16])
		out := uint32(t[f32ToF8Index(uint32(v0))]) | uint32(t[f32ToF8Index(uint32(v0>>32))])<<8 |
			uint32(t[f32ToF8Index(uint32(v1))])<<16 | uint32(t[f32ToF8Index(uint32(v1>>32))])<<24
		binary.LittleEndian.PutUint32(b[i:i+4], out)
	}
	for ; i < n; i++ {
		b[i] = t[f32ToF8Index(binary.LittleEndian.Uint32(b[i*4:]))]
	}
	return n
}
