package checkpoint

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Kernel throughput on one executor-sized chunk of weight-like values (a
// normal distribution of σ 0.02, as trained weights are). Each iteration
// refills the chunk (the conversion runs in place); BenchmarkConvertRefill
// is that refill alone. Run under GOOS=js GOARCH=wasm too: the browser
// worker runs these loops compiled to WebAssembly.
const benchChunk = 16 << 20

func weightLikeF32(n int) []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * 0.02)
	}
	return v
}

func benchSource(dt safetensors.DType) []byte {
	es := int(dt.ElemSize())
	vals := weightLikeF32(benchChunk / es)
	b := make([]byte, benchChunk)
	for i, f := range vals {
		bits := math.Float32bits(f)
		switch dt {
		case safetensors.DTypeF32:
			binary.LittleEndian.PutUint32(b[i*4:], bits)
		case safetensors.DTypeF16:
			binary.LittleEndian.PutUint16(b[i*2:], f32ToF16(bits))
		case safetensors.DTypeBF16:
			binary.LittleEndian.PutUint16(b[i*2:], f32ToBF16(bits))
		}
	}
	return b
}

func benchConvert(b *testing.B, from, to safetensors.DType) {
	src := benchSource(from)
	buf := make([]byte, len(src))
	fn := converter(from, to)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		copy(buf, src)
		fn(buf)
	}
}

func BenchmarkConvertRefill(b *testing.B) {
	src := benchSource(safetensors.DTypeF16)
	buf := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		copy(buf, src)
	}
}

func BenchmarkConvertF16ToE4M3(b *testing.B) {
	benchConvert(b, safetensors.DTypeF16, safetensors.DTypeF8E4M3)
}
func BenchmarkConvertBF16ToE4M3(b *testing.B) {
	benchConvert(b, safetensors.DTypeBF16, safetensors.DTypeF8E4M3)
}
func BenchmarkConvertF32ToE4M3(b *testing.B) {
	benchConvert(b, safetensors.DTypeF32, safetensors.DTypeF8E4M3)
}
func BenchmarkConvertF32ToF16(b *testing.B) {
	benchConvert(b, safetensors.DTypeF32, safetensors.DTypeF16)
}
func BenchmarkConvertF32ToBF16(b *testing.B) {
	benchConvert(b, safetensors.DTypeF32, safetensors.DTypeBF16)
}
func BenchmarkConvertF32ToE5M2(b *testing.B) {
	benchConvert(b, safetensors.DTypeF32, safetensors.DTypeF8E5M2)
}
func BenchmarkConvertF16ToE5M2(b *testing.B) {
	benchConvert(b, safetensors.DTypeF16, safetensors.DTypeF8E5M2)
}
