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
// (one per element) written at b[0:]. Eight halves are read as two uint64
// and their results written as one: output bytes [i, i+8) never lie past
// input bytes [2i, 2i+16), which are read first.
func (c *halfToF8Table) convert(b []byte) int {
	t := c.table()
	n := len(b) / 2
	i := 0
	for ; i+8 <= n; i += 8 {
		in := b[i*2 : i*2+16]
		v0 := binary.LittleEndian.Uint64(in[0:8])
		v1 := binary.LittleEndian.Uint64(in[8:16])
		out := uint64(t[uint16(v0)]) | uint64(t[uint16(v0>>16)])<<8 |
			uint64(t[uint16(v0>>32)])<<16 | uint64(t[uint16(v0>>48)])<<24 |
			uint64(t[uint16(v1)])<<32 | uint64(t[uint16(v1>>16)])<<40 |
			uint64(t[uint16(v1>>32)])<<48 | uint64(t[uint16(v1>>48)])<<56
		binary.LittleEndian.PutUint64(b[i:i+8], out)
	}
	for ; i < n; i++ {
		b[i] = t[binary.LittleEndian.Uint16(b[i*2:])]
	}
	return n
}
