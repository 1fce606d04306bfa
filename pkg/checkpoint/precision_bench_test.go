package checkpoint

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
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

func benchSource(dt DType) []byte {
	es := int(dt.ElemSize())
	vals := weightLikeF32(benchChunk / es)
	b := make([]byte, benchChunk)
	for i, f := range vals {
		bits := math.Float32bits(f)
		switch dt {
		case DTypeF32:
			binary.LittleEndian.PutUint32(b[i*4:], bits)
		case DTypeF16:
			binary.LittleEndian.PutUint16(b[i*2:], f32ToF16(bits))
		case DTypeBF16:
			binary.LittleEndian.PutUint16(b[i*2:], f32ToBF16(bits))
		}
	}
	return b
}

func benchConvert(b *testing.B, from, to DType) {
	src := benchSource(from)
	buf := make([]byte, len(src))
	fn := converters[conversionKey{from, to}]
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		copy(buf, src)
		fn(buf)
	}
}

func BenchmarkConvertRefill(b *testing.B) {
	src := benchSource(DTypeF16)
	buf := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		copy(buf, src)
	}
}

func BenchmarkConvertF16ToE4M3(b *testing.B)  { benchConvert(b, DTypeF16, DTypeF8E4M3) }
func BenchmarkConvertBF16ToE4M3(b *testing.B) { benchConvert(b, DTypeBF16, DTypeF8E4M3) }
func BenchmarkConvertF32ToE4M3(b *testing.B)  { benchConvert(b, DTypeF32, DTypeF8E4M3) }
func BenchmarkConvertF32ToF16(b *testing.B)   { benchConvert(b, DTypeF32, DTypeF16) }
func BenchmarkConvertF32ToBF16(b *testing.B)  { benchConvert(b, DTypeF32, DTypeBF16) }
func BenchmarkConvertF32ToE5M2(b *testing.B)  { benchConvert(b, DTypeF32, DTypeF8E5M2) }
func BenchmarkConvertF16ToE5M2(b *testing.B)  { benchConvert(b, DTypeF16, DTypeF8E5M2) }
