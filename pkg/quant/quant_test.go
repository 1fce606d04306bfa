package quant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// The expected values below are worked out by hand from the formats'
// definitions (bias, mantissa width, round half to even), not produced by
// this package.

func TestF32ToE4M3(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	for _, c := range []struct {
		in   float32
		want uint8
	}{
		{0, 0x00}, {float32(math.Copysign(0, -1)), 0x80},
		{1, 0x38}, {-1, 0xB8}, {0.5, 0x30}, {0.25, 0x28},
		{448, 0x7E}, {449, 0x7E}, {464, 0x7E}, {1e9, 0x7E}, {inf, 0x7E}, {-inf, 0xFE}, // saturate
		{nan, 0x7F}, {-nan, 0xFF},
		{1.0 / 512, 0x01},  // smallest subnormal 2^-9
		{1.0 / 1024, 0x00}, // half of it: tie to even (0)
		{3.0 / 1024, 0x02}, // 1.5 subnormal steps: tie to even (2)
		{7.0 / 512, 0x07},  // largest subnormal
		{1.0 / 64, 0x08},   // smallest normal 2^-6
		{1.0625, 0x38},     // tie between 1 and 1.125: even (1)
		{1.1875, 0x3A},     // tie between 1.125 and 1.25: even (1.25)
		{240, 0x77}, {0.1, 0x1D}, {136, 0x70}, {136.5, 0x71},
	} {
		if got := F32ToE4M3(c.in); got != c.want {
			t.Errorf("E4M3(%g) = %#02x, want %#02x", c.in, got, c.want)
		}
	}
	// Every code decodes and re-encodes to itself.
	for v := 0; v < 256; v++ {
		if v&0x7F == 0x7F {
			continue
		}
		if got := F32ToE4M3(E4M3ToF32(uint8(v))); got != uint8(v) {
			t.Errorf("E4M3 round trip %#02x -> %g -> %#02x", v, E4M3ToF32(uint8(v)), got)
		}
	}
}

func TestF32ToE5M2(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want uint8
	}{
		{1, 0x3C}, {57344, 0x7B}, {1e6, 0x7B}, {float32(math.Inf(-1)), 0xFB}, {float32(math.NaN()), 0x7F},
		{1.0 / 65536, 0x01}, {1.0 / 131072, 0x00}, {1.0 / 16384, 0x04}, {1.125, 0x3C}, {1.375, 0x3E},
	} {
		if got := F32ToE5M2(c.in); got != c.want {
			t.Errorf("E5M2(%g) = %#02x, want %#02x", c.in, got, c.want)
		}
	}
}

func TestF32ToE2M1(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want uint8
	}{
		{0, 0}, {0.25, 0}, {0.26, 1}, {0.5, 1}, {0.75, 2}, {1, 2}, {1.25, 2}, {1.5, 3}, {1.75, 4},
		{2.5, 4}, {3, 5}, {3.5, 6}, {5, 6}, {5.1, 7}, {6, 7},
		{float32(math.Copysign(0, -1)), 8}, {-0.75, 10}, {-6, 15}, {-3.5, 14},
	} {
		if got := F32ToE2M1(c.in); got != c.want {
			t.Errorf("E2M1(%g) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestHalfConversions(t *testing.T) {
	for _, c := range []struct {
		in       float32
		f16, b16 uint16
	}{
		{1, 0x3C00, 0x3F80}, {65504, 0x7BFF, 0x4780}, {65520, 0x7C00, 0x4780}, {1.0 / (1 << 24), 0x0001, 0x3380},
		{1.0 / (1 << 25), 0x0000, 0x3300}, {1 + 1.0/1024 + 1.0/2048, 0x3C02, 0x3F80},
	} {
		if got := F32ToF16(c.in); got != c.f16 {
			t.Errorf("F16(%g) = %#04x, want %#04x", c.in, got, c.f16)
		}
		if got := F32ToBF16(c.in); got != c.b16 {
			t.Errorf("BF16(%g) = %#04x, want %#04x", c.in, got, c.b16)
		}
		if c.f16 != 0x7C00 && F16ToF32(c.f16) != roundTo(F16, c.in) {
			t.Errorf("F16 widen %#04x = %g", c.f16, F16ToF32(c.f16))
		}
	}
	// 149.333 is 149 in bfloat16 (spacing 1 between 128 and 256); 447 is a
	// tie between 446 (odd mantissa) and 448.
	if BF16ToF32(F32ToBF16(149.33333)) != 149 || BF16ToF32(F32ToBF16(447)) != 448 {
		t.Error("bfloat16 rounding")
	}
}

func f32s(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func bf16s(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, F32ToBF16(x))
	}
	return b
}

func f16s(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, F32ToF16(x))
	}
	return b
}

// run quantizes data (in chunks of chunk bytes) and returns the weight
// bytes and the scale tensors.
func run(t *testing.T, f Format, src Source, shape []int64, data []byte, chunk int) ([]byte, [][]byte, error) {
	t.Helper()
	q, err := NewTensor(f, src, shape)
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < len(data); i += chunk {
		q.Observe(data[i:min(i+chunk, len(data))])
	}
	if err := q.Prepare(); err != nil {
		return nil, nil, err
	}
	in := bytes.Clone(data)
	var out []byte
	for i := 0; i < len(in); i += chunk {
		c := in[i:min(i+chunk, len(in))]
		n := q.Quantize(c, c) // in place, as the executor does
		out = append(out, c[:n]...)
	}
	sc, err := q.Scales()
	if err != nil {
		t.Fatal(err)
	}
	return out, sc, nil
}

func TestFP8Scaled(t *testing.T) {
	// absmax 896: scale 2, values halved.
	w, sc, err := run(t, FP8E4M3, F32, []int64{2, 2}, f32s(1, -2, 0.5, 896), 8)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w, []byte{0x30, 0xB8, 0x28, 0x7E}) || !bytes.Equal(sc[0], f32s(2)) {
		t.Errorf("F32: weight %x scale %x", w, sc[0])
	}
	// absmax 3: scale 3/448, 1/scale = 149.33 in float32 but 149 in
	// bfloat16. 0.9140625 × 149 = 136.2 rounds to 136 in bfloat16, an E4M3
	// tie that goes to 128 (0x70); in float32 the product is 136.5 and
	// rounds up to 144 (0x71). 3 × 149 = 447 rounds to 448 in bfloat16.
	want := f32s(float32(3) / 448)
	w, sc, err = run(t, FP8E4M3, BF16, []int64{2}, bf16s(3, 0.9140625), 4)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w, []byte{0x7E, 0x70}) || !bytes.Equal(sc[0], want) {
		t.Errorf("BF16: weight %x scale %x", w, sc[0])
	}
	w, _, _ = run(t, FP8E4M3, F32, []int64{2}, f32s(3, 0.9140625), 4)
	if !bytes.Equal(w, []byte{0x7E, 0x71}) {
		t.Errorf("F32: weight %x", w)
	}
	// F16: scale = 1 / clamp(1 / (absmax/448), ±65504): absmax 2^-10 gives
	// 1/scale = 458752 > 65504, so scale = 1/65504 and 2^-10 × 65504 =
	// 63.97 exactly (in f16 too), which E4M3 rounds up to 64 = 2^6 (0x68).
	w, sc, err = run(t, FP8E4M3, F16, []int64{1}, f16s(1.0/1024), 2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w, []byte{0x68}) || !bytes.Equal(sc[0], f32s(1/float32(65504))) {
		t.Errorf("F16 clamp: weight %x scale %x (%g)", w, sc[0], math.Float32frombits(binary.LittleEndian.Uint32(sc[0])))
	}
	// e5m2: absmax 57344 × 2 → scale 2.
	w, sc, _ = run(t, FP8E5M2, F32, []int64{2}, f32s(114688, -1), 8)
	if !bytes.Equal(w, []byte{0x7B, 0xB8}) || !bytes.Equal(sc[0], f32s(2)) {
		t.Errorf("E5M2: weight %x scale %x", w, sc[0])
	}
}

func TestInt8(t *testing.T) {
	// absmax 127: scale 1; round half to even.
	w, sc, err := run(t, Int8, F32, []int64{4}, f32s(127, -63.5, 0.5, 1.5), 16)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w, []byte{127, byte(0xC0), 0, 2}) || !bytes.Equal(sc[0], f32s(1)) {
		t.Errorf("weight %v scale %x", w, sc[0])
	}
	w, sc, _ = run(t, Int8, BF16, []int64{2}, bf16s(-254, 3), 4)
	if !bytes.Equal(w, []byte{0x81, 2}) || !bytes.Equal(sc[0], f32s(2)) {
		t.Errorf("BF16: weight %v scale %x", w, sc[0])
	}
}

func TestMXFP8(t *testing.T) {
	data := make([]float32, 32*32)
	data[0] = 1            // row 0: scale 2^ceil(log2(1/448)) = 2^-8 (code 119), 1 → 256 (0x78)
	data[2*32] = 448       // row 2: scale 1 (code 127)
	data[3*32] = 449       // row 3: 449/448 > 1 → scale 2 (code 128), 224.5 → 224 (0x76)
	data[3*32+1] = -0.25   // → -0.125 (0xA0)
	data[4*32] = 0x1p-130  // row 4: scale clamps to 2^-127 → code 0, which reads as 0:
	data[5*32+31] = 0x1p-3 // row 5, last element of the block: 2^-3/448 → 2^-11 (code 116), → 256
	w, sc, err := run(t, MXFP8, F32, []int64{32, 32}, f32s(data...), 4*32*4)
	if err != nil {
		t.Fatal(err)
	}
	at := func(r, c int) uint8 { return w[r*32+c] }
	if at(0, 0) != 0x78 || at(2, 0) != 0x7E || at(3, 0) != 0x76 || at(3, 1) != 0xA0 || at(5, 31) != 0x78 || at(1, 5) != 0 {
		t.Errorf("weight rows: %x %x %x %x %x", at(0, 0), at(2, 0), at(3, 0), at(3, 1), at(5, 31))
	}
	// code 0 → x / 0: ±Inf saturates to 448, 0/0 is NaN (x86's default
	// NaN has the sign bit: 0xFF), as the reference computes it.
	if at(4, 0) != 0x7E || at(4, 1) != 0xFF {
		t.Errorf("code-0 block: %x %x", at(4, 0), at(4, 1))
	}
	s := sc[0]
	if len(s) != 128*4 {
		t.Fatalf("%d scale bytes", len(s))
	}
	// 32 rows × 1 block column, tiled: row r at byte r*16.
	for r, want := range map[int]uint8{0: 119, 1: 0, 2: 127, 3: 128, 4: 0, 5: 116} {
		if s[r*16] != want {
			t.Errorf("row %d scale %d, want %d", r, s[r*16], want)
		}
	}
	if got := Outputs(MXFP8, []int64{64, 96}); got[1].DType != "F8_E8M0" || got[1].Shape[0] != 128 || got[1].Shape[1] != 4 {
		t.Errorf("outputs %+v", got)
	}
}

func TestNVFP4(t *testing.T) {
	data := make([]float32, 16*16)
	copy(data[0:], []float32{2688, 1344, -672, 0.5}) // absmax 2688 → weight_scale_2 1; block scale 448
	copy(data[16:], []float32{1, 0.75})              // block scale 1/6 → e4m3 0.171875 (0x23): 5.82 → 6, 4.36 → 4
	w, sc, err := run(t, NVFP4, F32, []int64{16, 16}, f32s(data...), 16*4)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 128 || w[0] != 0x75 || w[1] != 0xB0 || w[2] != 0 || w[8] != 0x76 || w[16] != 0 {
		t.Errorf("weight % x", w[:24])
	}
	if len(sc) != 2 || len(sc[0]) != 512 || sc[0][0] != 0x7E || sc[0][16] != 0x23 || sc[0][32] != 0 || !bytes.Equal(sc[1], f32s(1)) {
		t.Errorf("scales %x %x %x, scale_2 %x", sc[0][0], sc[0][16], sc[0][32], sc[1])
	}
	// BF16: the per-tensor scale is amax / 2688 in bfloat16: 1/2688 =
	// 1.5238 × 2^-12 → 1.5234375 × 2^-12 (0x39C30000).
	data = make([]float32, 16*16)
	data[0] = 1
	_, sc, err = run(t, NVFP4, BF16, []int64{16, 16}, bf16s(data...), 32)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(sc[1]) != 0x39C30000 {
		t.Errorf("BF16 weight_scale_2 %#08x", binary.LittleEndian.Uint32(sc[1]))
	}
	// F16: 5e-5 / 2688 = 1.9e-8 underflows to 0 in float16 (half the
	// smallest subnormal is 3e-8): refused.
	data[0] = 5e-5
	if _, _, err := run(t, NVFP4, F16, []int64{16, 16}, f16s(data...), 32); !errors.Is(err, ErrZeroScale) {
		t.Errorf("F16 underflow: %v", err)
	}
	got := Outputs(NVFP4, []int64{3072, 3072})
	if got[0].DType != "U8" || got[0].Shape[1] != 1536 || got[1].Shape[0] != 3072 || got[1].Shape[1] != 192 || len(got[2].Shape) != 0 {
		t.Errorf("outputs %+v", got)
	}
}

func TestBlockedLayout(t *testing.T) {
	m := make([]byte, 130*5)
	for i := range m {
		m[i] = byte(i%251 + 1)
	}
	b := ToBlocked(m, 130, 5)
	if len(b) != 256*8 {
		t.Fatalf("%d bytes", len(b))
	}
	// (1, 4): tile 1 (row block 0, column block 1) → 512 + 1*16.
	if b[528] != m[1*5+4] {
		t.Errorf("(1,4) at 528: %d, want %d", b[528], m[9])
	}
	// (33, 2): tile 0, 33%32 = 1, 33/32 = 1 → 16 + 4 + 2.
	if b[22] != m[33*5+2] {
		t.Errorf("(33,2) at 22")
	}
	// (129, 0): tile 2 (row block 1) → 1024 + 16.
	if b[1040] != m[129*5] {
		t.Errorf("(129,0) at 1040")
	}
	if !bytes.Equal(FromBlocked(b, 130, 5), m) {
		t.Error("FromBlocked does not invert ToBlocked")
	}
}

func TestRefusals(t *testing.T) {
	if _, _, err := run(t, FP8E4M3, F32, []int64{2}, f32s(1, float32(math.Inf(1))), 8); !errors.Is(err, ErrNonFinite) {
		t.Errorf("Inf: %v", err)
	}
	if _, _, err := run(t, Int8, BF16, []int64{2}, bf16s(float32(math.NaN()), 1), 4); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN: %v", err)
	}
	// An all-zero weight is stored as zeros with scale 1 (the reference
	// would divide by a zero scale).
	for _, f := range Formats {
		w, sc, err := run(t, f, F32, []int64{32, 32}, make([]byte, 32*32*4), 512)
		if err != nil || bytes.Count(w, []byte{0}) != len(w) {
			t.Errorf("%s zeros: %v %x", f, err, w[:4])
		}
		if f != MXFP8 && !bytes.Equal(sc[len(sc)-1], f32s(1)) {
			t.Errorf("%s zeros: scale %x", f, sc[len(sc)-1])
		}
	}
	for _, s := range [][]int64{{32, 33}, {48, 32}, {32}, {32, 32, 1}} {
		if err := Check(MXFP8, s); !errors.Is(err, ErrShape) {
			t.Errorf("mxfp8 %v: %v", s, err)
		}
	}
	if err := Check(NVFP4, []int64{16, 24}); !errors.Is(err, ErrShape) {
		t.Errorf("nvfp4 [16 24]: %v", err)
	}
}

// TestChunkingAndError: any chunking gives the same bytes, and every format
// dequantizes within its step of the input.
func TestChunkingAndError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float32, 64*64)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64() * 0.02)
	}
	for _, src := range []Source{F32, F16, BF16} {
		var data []byte
		switch src {
		case F32:
			data = f32s(vals...)
		case F16:
			data = f16s(vals...)
		default:
			data = bf16s(vals...)
		}
		for _, f := range Formats {
			whole, ws, err := run(t, f, src, []int64{64, 64}, data, len(data))
			if err != nil {
				t.Fatal(err)
			}
			parts, ps, _ := run(t, f, src, []int64{64, 64}, data, 32*src.Size())
			if !bytes.Equal(whole, parts) || !bytes.Equal(ws[0], ps[0]) {
				t.Errorf("%s %s: chunked output differs", f, src)
			}
			deq := Dequantize(f, []int64{64, 64}, whole, ws)
			var worst float64
			for i, v := range vals {
				x := float64(load(src, data, i))
				worst = max(worst, math.Abs(float64(deq[i])-x))
				_ = v
			}
			bound := map[Format]float64{FP8E4M3: 0.0625, FP8E5M2: 0.125, Int8: 0.01, MXFP8: 0.0625, NVFP4: 0.25}[f]
			if worst > bound*float64(maxAbs(vals)) {
				t.Errorf("%s %s: error %g above %g × absmax", f, src, worst, bound)
			}
		}
	}
}

func maxAbs(v []float32) float32 {
	var m float32
	for _, x := range v {
		m = max(m, abs32(x))
	}
	return m
}

// TestDequantizeFP8: 0x38 (1.0) × scale 3 = 3; 0x7E (448) × 0.1 in bf16
// (0.10009765625) = 44.84375 → bf16 44.75 (spacing 0.25: 44.84 is nearer
// 44.75); in f16 0.1 is 0.0999755859375 and 448 × it = 44.789 → 44.78125.
func TestDequantizeFP8(t *testing.T) {
	out := make([]byte, 4)
	DequantizeFP8([]byte{0x38, 0x7E}, false, 0.1, BF16, out)
	if BF16ToF32(binary.LittleEndian.Uint16(out)) != 0.10009765625 || BF16ToF32(binary.LittleEndian.Uint16(out[2:])) != 44.75 {
		t.Errorf("bf16: %x", out)
	}
	DequantizeFP8([]byte{0x38, 0x7E}, false, 0.1, F16, out)
	if F16ToF32(binary.LittleEndian.Uint16(out)) != 0.0999755859375 || F16ToF32(binary.LittleEndian.Uint16(out[2:])) != 44.78125 {
		t.Errorf("f16: %g %g", F16ToF32(binary.LittleEndian.Uint16(out)), F16ToF32(binary.LittleEndian.Uint16(out[2:])))
	}
	out = make([]byte, 8)
	DequantizeFP8([]byte{0x38, 0xBC}, true, 3, F32, out) // e5m2: 0x38 is 0.5, 0xBC is -1
	if math.Float32frombits(binary.LittleEndian.Uint32(out)) != 1.5 || math.Float32frombits(binary.LittleEndian.Uint32(out[4:])) != -3 {
		t.Errorf("e5m2 f32: %x", out)
	}
}
