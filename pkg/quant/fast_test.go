package quant

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// maxMagnitude16 compares four values per uint64 lane-wise; a plain loop
// over the same bytes is the reference, on lengths that leave every tail
// size and on the extreme magnitudes (0x7FFF with and without the sign).
func TestMaxMagnitude16(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	plain := func(b []byte) uint16 {
		var m uint16
		for i := 0; i+1 < len(b); i += 2 {
			m = max(m, binary.LittleEndian.Uint16(b[i:])&0x7FFF)
		}
		return m
	}
	for n := 0; n < 40; n++ {
		for _, fill := range []func() uint16{
			func() uint16 { return uint16(rng.Uint32()) },
			func() uint16 { return uint16(rng.Uint32()) & 0x80FF },
			func() uint16 { return []uint16{0x7FFF, 0xFFFF, 0x8000, 0}[rng.IntN(4)] },
		} {
			b := make([]byte, 2*n)
			for i := 0; i < n; i++ {
				binary.LittleEndian.PutUint16(b[2*i:], fill())
			}
			if got, want := maxMagnitude16(b), plain(b); got != want {
				t.Fatalf("%d values %x: got %#x, want %#x", n, b, got, want)
			}
		}
	}
}

// A large F16/BF16 fp8 or int8 tensor is quantized through a table of all
// 2^16 source values; every value must come out as the direct loop writes
// it, at every scale, including in place.
func TestTableMatchesDirectLoop(t *testing.T) {
	all := make([]byte, 2<<16)
	for v := range 1 << 16 {
		binary.LittleEndian.PutUint16(all[2*v:], uint16(v))
	}
	for _, src := range []Source{F16, BF16} {
		for _, f := range []Format{FP8E4M3, FP8E5M2, Int8} {
			for _, absmax := range []uint16{0x0001, 0x0400, 0x2E66, 0x3C00, 0x5A00, 0x7BFF, 0x7F7F} {
				if src == F16 && absmax > 0x7BFF {
					continue
				}
				q, err := NewTensor(f, src, []int64{tableMinElements, 1})
				if err != nil {
					t.Fatal(err)
				}
				q.Observe([]byte{byte(absmax), byte(absmax >> 8)})
				if err := q.Prepare(); err != nil {
					t.Fatal(err)
				}
				direct := make([]byte, 1<<16)
				if f == Int8 {
					q.int8(all, direct, 1<<16)
				} else {
					q.fp8(all, direct, 1<<16)
				}
				w := q.Restart()
				if !w.useTable() {
					t.Fatalf("%s %s: a %d-element tensor takes no table", f, src, w.Elements())
				}
				in := bytes.Clone(all)
				n := w.Quantize(in, in)
				if got := in[:n]; !bytes.Equal(got, direct) {
					for v := range direct {
						if got[v] != direct[v] {
							t.Fatalf("%s %s absmax %#x: value %#04x → %#02x, direct loop %#02x", f, src, absmax, v, got[v], direct[v])
						}
					}
				}
			}
		}
	}
}
