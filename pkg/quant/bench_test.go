package quant

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkQuantize measures the second (writing) pass per format and
// source dtype, in source bytes per second: a fresh pass each time, so
// whatever a pass sets up for itself is counted.
func BenchmarkQuantize(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	vals := make([]float32, 1024*1024)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64() * 0.02)
	}
	for _, src := range []Source{F32, F16, BF16} {
		data := map[Source]func(...float32) []byte{F32: f32s, F16: f16s, BF16: bf16s}[src](vals...)
		for _, f := range Formats {
			b.Run(string(f)+"/"+src.String(), func(b *testing.B) {
				q, _ := NewTensor(f, src, []int64{1024, 1024})
				q.Observe(data)
				q.Prepare()
				buf := make([]byte, len(data))
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					copy(buf, data)
					q.Restart().Quantize(buf, buf)
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
