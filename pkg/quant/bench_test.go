package quant

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkQuantize measures the second (writing) pass per format and
// source dtype, in source bytes per second.
func BenchmarkQuantize(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	vals := make([]float32, 1024*1024)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64() * 0.02)
	}
	for _, src := range []Source{F32, BF16} {
		var data []byte
		if src == F32 {
			data = f32s(vals...)
		} else {
			data = bf16s(vals...)
		}
		for _, f := range Formats {
			b.Run(string(f)+"/"+src.String(), func(b *testing.B) {
				q, _ := NewTensor(f, src, []int64{1024, 1024})
				q.Observe(data)
				q.Prepare()
				buf := make([]byte, len(data))
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					copy(buf, data)
					q.pos = 0
					q.Quantize(buf, buf)
				}
			})
		}
		b.Run("observe/"+src.String(), func(b *testing.B) {
			q, _ := NewTensor(FP8E4M3, src, []int64{1024, 1024})
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				q.Observe(data)
			}
		})
	}
}
