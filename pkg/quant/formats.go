package quant

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Format is a comfy_quant format name (QUANT_ALGOS key).
type Format string

const (
	FP8E4M3 Format = "float8_e4m3fn"
	FP8E5M2 Format = "float8_e5m2"
	Int8    Format = "int8_tensorwise"
	MXFP8   Format = "mxfp8"
	NVFP4   Format = "nvfp4"
)

// Formats are the formats this package writes.
var Formats = []Format{FP8E4M3, FP8E5M2, Int8, MXFP8, NVFP4}

// Block sizes (QUANT_ALGOS group_size).
const (
	MXFP8Block = 32
	NVFP4Block = 16
)

var (
	// ErrShape: the tensor cannot take the format (not 2-D, or a dimension
	// the format's blocks would need padding for).
	ErrShape = errors.New("shape does not fit the format")
	// ErrNonFinite: the tensor holds NaN or Inf, which no scale represents.
	ErrNonFinite = errors.New("tensor holds NaN or Inf")
	// ErrZeroScale: the nvfp4 per-tensor scale of a nonzero tensor
	// underflows to zero in its dtype (tiny F16 weights); ComfyUI's
	// reference would then write the layer as all zeros.
	ErrZeroScale = errors.New("tensor scale is zero")
)

// Output is one stored tensor of a quantized layer: the weight ("") and
// its scales ("_scale", "_scale_2"), named "<layer>.weight" + Suffix.
type Output struct {
	Suffix string
	DType  string // safetensors dtype
	Shape  []int64
}

func roundup(x, m int64) int64 { return (x + m - 1) / m * m }

// Check reports whether a tensor of shape can be stored in f without
// padding. ComfyUI's layouts would zero-pad mxfp8 to multiples of 32 and
// nvfp4 to 16 and store the padded weight, which changes the shapes the
// model's detection reads; such layers stay in high precision instead.
func Check(f Format, shape []int64) error {
	switch f {
	case FP8E4M3, FP8E5M2, Int8:
		if len(shape) < 1 {
			return fmt.Errorf("%w: %s needs a weight, not a scalar", ErrShape, f)
		}
		return nil
	case MXFP8, NVFP4:
		b := int64(MXFP8Block)
		if f == NVFP4 {
			b = NVFP4Block
		}
		if len(shape) != 2 {
			return fmt.Errorf("%w: %s needs a 2-D weight, not %v", ErrShape, f, shape)
		}
		if shape[0]%b != 0 || shape[1]%b != 0 || shape[0] == 0 || shape[1] == 0 {
			return fmt.Errorf("%w: %s needs both dimensions a multiple of %d, not %v", ErrShape, f, b, shape)
		}
		return nil
	}
	return fmt.Errorf("unknown quantization format %q", f)
}

// Outputs are the tensors a weight of shape is stored as in f, as
// comfy_kitchen's state_dict_tensors names them.
func Outputs(f Format, shape []int64) []Output {
	w := append([]int64(nil), shape...)
	switch f {
	case FP8E4M3:
		return []Output{{"", "F8_E4M3", w}, {"_scale", "F32", []int64{}}}
	case FP8E5M2:
		return []Output{{"", "F8_E5M2", w}, {"_scale", "F32", []int64{}}}
	case Int8:
		return []Output{{"", "I8", w}, {"_scale", "F32", []int64{}}}
	case MXFP8:
		return []Output{{"", "F8_E4M3", w}, {"_scale", "F8_E8M0", []int64{roundup(shape[0], 128), roundup(shape[1]/MXFP8Block, 4)}}}
	case NVFP4:
		return []Output{
			{"", "U8", []int64{shape[0], shape[1] / 2}},
			{"_scale", "F8_E4M3", []int64{roundup(shape[0], 128), roundup(shape[1]/NVFP4Block, 4)}},
			{"_scale_2", "F32", []int64{}},
		}
	}
	return nil
}

// Marker is the layer's comfy_quant JSON as ComfyUI writes it
// (json.dumps({"format": f})).
func Marker(f Format) string { return `{"format": "` + string(f) + `"}` }

// Tensor quantizes one weight: Observe every chunk (pass 1), Prepare,
// then Quantize every chunk again in order (pass 2); Scales then holds the
// scale tensors' bytes. Chunks hold whole elements, and for mxfp8 and
// nvfp4 whole blocks (a multiple of 32 or 16 elements).
type Tensor struct {
	f        Format
	src      Source
	rows     int64
	cols     int64
	maxBits  uint32         // largest magnitude observed, as the source's bits
	scale    float32        // fp8/int8 weight_scale, nvfp4 weight_scale_2
	inv      float32        // fp8: (1/scale) in the source dtype
	div      float32        // int8: scale in the source dtype
	pos      int64          // elements quantized so far
	blocks   []byte         // mxfp8/nvfp4 block scales, row-major (rows × cols/block)
	table    *[1 << 16]byte // fp8/int8 of a large 16-bit tensor: the output byte of each source value (fast.go)
	prepared bool
}

// NewTensor starts quantizing a weight of shape (checked with Check).
func NewTensor(f Format, src Source, shape []int64) (*Tensor, error) {
	if err := Check(f, shape); err != nil {
		return nil, err
	}
	t := &Tensor{f: f, src: src, rows: shape[0], cols: 1}
	for _, d := range shape[1:] {
		t.cols *= d
	}
	return t, nil
}

func (t *Tensor) block() int {
	switch t.f {
	case MXFP8:
		return MXFP8Block
	case NVFP4:
		return NVFP4Block
	}
	return 1
}

// Elements is the tensor's element count.
func (t *Tensor) Elements() int64 { return t.rows * t.cols }

// Observe takes a chunk of the source bytes for the absolute maximum.
// Magnitudes compare as their bits (sign cleared), which order every
// finite value and put Inf and NaN above all of them: the tensor holds a
// non-finite value exactly when the largest bits reach the format's Inf.
func (t *Tensor) Observe(b []byte) {
	n := len(b) / t.src.Size()
	if t.src == F32 {
		t.maxBits = max(t.maxBits, maxMagnitude32(b[:4*n]))
	} else {
		t.maxBits = max(t.maxBits, uint32(maxMagnitude16(b[:2*n])))
	}
}

// nonFinite reports whether an observed value is Inf or NaN.
func (t *Tensor) nonFinite() bool {
	return t.maxBits >= [...]uint32{F32: 0x7F800000, F16: 0x7C00, BF16: 0x7F80}[t.src]
}

// AbsMax is the largest magnitude observed.
func (t *Tensor) AbsMax() float32 {
	if t.src == F32 {
		return math.Float32frombits(t.maxBits)
	}
	return load(t.src, []byte{byte(t.maxBits), byte(t.maxBits >> 8)}, 0)
}

// Prepare computes the tensor scale from the observed maximum, the way
// comfy_quant's quantize functions do it for the source dtype.
func (t *Tensor) Prepare() error {
	if t.nonFinite() {
		return ErrNonFinite
	}
	absmax := t.AbsMax()
	if absmax == 0 {
		// An all-zero weight: the reference would divide 0 by a zero scale
		// and write NaN. Scale 1 stores the zeros exactly.
		t.scale, t.inv, t.div = 1, 1, 1
		if t.f == MXFP8 {
			t.scale = 0
		}
		t.prepared = true
		return nil
	}
	switch t.f {
	case FP8E4M3, FP8E5M2:
		// _TensorCoreFP8LayoutBase.quantize(scale="recalculate"):
		// amax.float() / finfo.max, and for a source other than F32/BF16
		// 1 / clamp(1 / scale, finfo(src).min, finfo(src).max); then
		// quantize_per_tensor_fp8 multiplies by (1 / scale).to(src).
		max := float32(E4M3Max)
		if t.f == FP8E5M2 {
			max = E5M2Max
		}
		s := absmax / max
		if t.src == F16 {
			s = 1 / min(max32(1/s, -65504), 65504)
		}
		t.scale = s
		t.inv = roundTo(t.src, 1/s)
	case Int8:
		// quantize_int8_tensorwise: (amax.float() / 127).clamp(min=1e-30);
		// the division uses the scale in the source dtype, finfo.tiny for 0.
		s := max32(absmax/127, 1e-30)
		t.scale = s
		d := roundTo(t.src, s)
		if d == 0 {
			d = tiny(t.src)
		}
		t.div = d
	case NVFP4:
		// amax / (F8_E4M3_MAX * F4_E2M1_MAX) in the source dtype, then float32.
		t.scale = roundTo(t.src, absmax/(E4M3Max*E2M1Max))
		if t.scale == 0 {
			return ErrZeroScale
		}
	}
	t.prepared = true
	return nil
}

func max32(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}

// tiny is torch.finfo(dtype).tiny, the smallest normal.
func tiny(s Source) float32 {
	if s == F16 {
		return 1.0 / (1 << 14)
	}
	return math.Float32frombits(0x00800000)
}

// Scale is the tensor scale (weight_scale of fp8 and int8,
// weight_scale_2 of nvfp4; 0 for mxfp8).
func (t *Tensor) Scale() float32 { return t.scale }

// WeightBytes is the quantized weight's byte size.
func (t *Tensor) WeightBytes() int64 {
	if t.f == NVFP4 {
		return t.Elements() / 2
	}
	return t.Elements()
}

// Quantize converts a chunk of source bytes (the next elements in order)
// and writes the quantized bytes to out, which may be b itself (every
// output byte lies at or before the input bytes it comes from). It returns
// the bytes written.
func (t *Tensor) Quantize(b, out []byte) int {
	if !t.prepared {
		panic("quant: Quantize before Prepare")
	}
	n := len(b) / t.src.Size()
	if (t.f == MXFP8 || t.f == NVFP4) && t.blocks == nil {
		// Allocated by the pass that needs them, not by the prepared
		// tensor a caller keeps between passes.
		t.blocks = make([]byte, t.rows*t.cols/int64(t.block()))
	}
	if t.table == nil && t.useTable() {
		// Built by the pass that uses it, like the block scales: a
		// prepared tensor kept between passes stays a few words.
		t.buildTable()
	}
	switch {
	case t.table != nil:
		t.lookup16(b, out, n)
	case t.f == FP8E4M3 || t.f == FP8E5M2:
		t.fp8(b, out, n)
	case t.f == Int8:
		t.int8(b, out, n)
	case t.f == MXFP8:
		t.mxfp8(b, out, n)
	case t.f == NVFP4:
		t.nvfp4(b, out, n)
	}
	t.pos += int64(n)
	if t.f == NVFP4 {
		return n / 2
	}
	return n
}

// mxfp8 is comfy_kitchen quantize_mxfp8 for whole blocks of 32: the block's
// E8M0 scale is ceil(log2(max(amax / 448, 2^-127))) + 127 clamped to
// [0, 254] (0 for an all-zero block), its values x / 2^(code−127) clamped
// to ±448 and rounded to float8_e4m3fn.
func (t *Tensor) mxfp8(b, out []byte, n int) {
	var blk [MXFP8Block]float32
	tab := e4m3Table.get()
	for i := 0; i+MXFP8Block <= n; i += MXFP8Block {
		decode(t.src, b, i, blk[:])
		var m float32
		for _, v := range blk {
			m = max32(m, abs32(v))
		}
		var code uint8
		if m != 0 {
			need := max32(m/E4M3Max, math.Float32frombits(0x00400000)) // 2^-127
			e := int(ceilLog2(need)) + 127
			code = uint8(min(max(e, 0), 254))
		}
		switch {
		case m == 0:
			clear(out[i : i+MXFP8Block])
		case code == 0:
			// The reference divides by the code-0 scale, which reads as 0:
			// ±x/0 saturates to ±448, and 0/0 is the x86 default NaN (sign
			// set), pinned here so every platform writes what torch on x86
			// does.
			for j, v := range blk {
				if v == 0 {
					out[i+j] = 0xFF
				} else {
					out[i+j] = F32ToE4M3(v / 0)
				}
			}
		default:
			// Dividing by a power of two is multiplying by its reciprocal,
			// 2^(127-code), exactly representable for codes 1 to 254.
			r := math.Float32frombits(uint32(254-code) << 23)
			for j, v := range blk {
				out[i+j] = tab[index(math.Float32bits(v*r))]
			}
		}
		t.blocks[(t.pos+int64(i))/MXFP8Block] = code
	}
}

// ceilLog2 is ceil(torch.log2(v)) for a positive float32: exact for powers
// of two; otherwise the float32 nearest log2(v), rounded up.
func ceilLog2(v float32) float32 {
	l := float32(math.Log2(float64(v)))
	return float32(math.Ceil(float64(l)))
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ 0x80000000) }

// nvfp4 is comfy_kitchen quantize_nvfp4 for whole blocks of 16: the block
// scale is (amax / 6) / weight_scale_2 clamped to 448 and rounded to
// float8_e4m3fn; values are x / (weight_scale_2 × that scale) (0 where the
// product is 0) clamped to ±6 and rounded to E2M1; two codes per byte,
// the even element in the high nibble.
func (t *Tensor) nvfp4(b, out []byte, n int) {
	var blk [NVFP4Block]float32
	tab := e2m1Table.get()
	pts := t.scale
	for i := 0; i+NVFP4Block <= n; i += NVFP4Block {
		decode(t.src, b, i, blk[:])
		var m float32
		for _, v := range blk {
			m = max32(m, abs32(v))
		}
		bs := min(m/E2M1Max/pts, E4M3Max)
		code := F32ToE4M3(bs)
		total := pts * E4M3ToF32(code)
		o := out[i/2 : i/2+NVFP4Block/2]
		if total == 0 {
			clear(o)
		} else {
			for j := 0; j < NVFP4Block; j += 2 {
				hi := tab[index(math.Float32bits(blk[j]/total))]
				lo := tab[index(math.Float32bits(blk[j+1]/total))]
				o[j/2] = hi<<4 | lo
			}
		}
		t.blocks[(t.pos+int64(i))/NVFP4Block] = code
	}
}

// Scales returns the bytes of the scale tensors in Outputs order after the
// weight (all of the weight must have been quantized): weight_scale, and
// for nvfp4 weight_scale_2. Block scales are in the cuBLAS tiled layout
// comfy_kitchen's to_blocked writes.
func (t *Tensor) Scales() ([][]byte, error) {
	if !t.prepared || t.pos != t.Elements() {
		return nil, fmt.Errorf("quant: scales of a tensor quantized %d of %d elements", t.pos, t.Elements())
	}
	f32 := func(v float32) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)) }
	switch t.f {
	case MXFP8:
		return [][]byte{ToBlocked(t.blocks, t.rows, t.cols/MXFP8Block)}, nil
	case NVFP4:
		return [][]byte{ToBlocked(t.blocks, t.rows, t.cols/NVFP4Block), f32(t.scale)}, nil
	}
	return [][]byte{f32(t.scale)}, nil
}

// ToBlocked rearranges a rows × cols matrix of one-byte block scales into
// the cuBLAS block-scaling layout (comfy_kitchen float_utils.to_blocked):
// zero-padded to multiples of 128 rows and 4 columns, cut into 128×4
// tiles in row-major tile order, each tile stored as 32 rows of 16 bytes
// where byte (r%32)*16 + (r%128/32)*4 + c%4 holds element (r, c).
func ToBlocked(m []byte, rows, cols int64) []byte {
	pr, pc := roundup(rows, 128), roundup(cols, 4)
	out := make([]byte, pr*pc)
	ncb := pc / 4
	for r := int64(0); r < rows; r++ {
		for c := int64(0); c < cols; c++ {
			tile := (r/128)*ncb + c/4
			out[tile*512+(r%32)*16+(r%128/32)*4+c%4] = m[r*cols+c]
		}
	}
	return out
}

// FromBlocked is ToBlocked's inverse (comfy_kitchen from_blocked).
func FromBlocked(b []byte, rows, cols int64) []byte {
	pc := roundup(cols, 4)
	ncb := pc / 4
	out := make([]byte, rows*cols)
	for r := int64(0); r < rows; r++ {
		for c := int64(0); c < cols; c++ {
			tile := (r/128)*ncb + c/4
			out[r*cols+c] = b[tile*512+(r%32)*16+(r%128/32)*4+c%4]
		}
	}
	return out
}

// Dequantize is weight × scale per format, in float32 (comfy_kitchen's
// dequantize functions computed in float32): the layer's values as its
// loader sees them. shape is the weight's logical shape.
func Dequantize(f Format, shape []int64, weight []byte, scales [][]byte) []float32 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	cols := n / max(shape[0], 1)
	out := make([]float32, n)
	f32 := func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
	switch f {
	case FP8E4M3, FP8E5M2:
		dec := E4M3ToF32
		if f == FP8E5M2 {
			dec = E5M2ToF32
		}
		s := f32(scales[0])
		for i := range out {
			out[i] = dec(weight[i]) * s
		}
	case Int8:
		s := f32(scales[0])
		for i := range out {
			out[i] = float32(int8(weight[i])) * s
		}
	case MXFP8:
		bs := FromBlocked(scales[0], shape[0], cols/MXFP8Block)
		for i := range out {
			out[i] = E4M3ToF32(weight[i]) * E8M0ToF32(bs[int64(i)/MXFP8Block])
		}
	case NVFP4:
		bs := FromBlocked(scales[0], shape[0], cols/NVFP4Block)
		pts := f32(scales[1])
		for i := range out {
			c := weight[i/2] >> 4
			if i%2 == 1 {
				c = weight[i/2] & 0xF
			}
			out[i] = E2M1ToF32(c) * (pts * E4M3ToF32(bs[int64(i)/NVFP4Block]))
		}
	}
	return out
}

// ScaleBytes is a float32 scale as stored (little-endian F32).
func ScaleBytes(v float32) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)) }

// DequantizeFP8 is comfy_kitchen's dequantize_per_tensor_fp8 into dtype
// to: x.to(to) × scale.to(to), the product computed in float32 and
// rounded to to (exact widening of the fp8 value first). It converts
// len(in) fp8 values into out (2 or 4 bytes each).
func DequantizeFP8(in []byte, e5m2 bool, scale float32, to Source, out []byte) {
	dec := E4M3ToF32
	if e5m2 {
		dec = E5M2ToF32
	}
	s := roundTo(to, scale)
	for i, b := range in {
		v := dec(b) * s
		switch to {
		case F32:
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		case F16:
			binary.LittleEndian.PutUint16(out[2*i:], F32ToF16(v))
		default:
			binary.LittleEndian.PutUint16(out[2*i:], F32ToBF16(v))
		}
	}
}

// Restart is a fresh quantizing pass over the same prepared tensor: the
// scale is kept, the position and block scales start again.
func (t *Tensor) Restart() *Tensor {
	u := *t
	u.pos, u.blocks, u.table = 0, nil, nil
	return &u
}
