package safetensors

import (
	"fmt"
	"math/bits"
	"strconv"
)

// DType is a safetensors dtype string ("F16", "BF16", "F8_E4M3" …).
type DType string

// The safetensors dtypes, spelled as in the file.
const (
	DTypeBOOL       DType = "BOOL"
	DTypeF4         DType = "F4"      // MX fp4 (E2M1), two per byte
	DTypeF6E2M3     DType = "F6_E2M3" // MX fp6; shape × 6 bits must be whole bytes
	DTypeF6E3M2     DType = "F6_E3M2"
	DTypeU8         DType = "U8"
	DTypeI8         DType = "I8"
	DTypeF8E5M2     DType = "F8_E5M2"
	DTypeF8E4M3     DType = "F8_E4M3" // PyTorch float8_e4m3fn
	DTypeF8E8M0     DType = "F8_E8M0"
	DTypeF8E4M3FNUZ DType = "F8_E4M3FNUZ"
	DTypeF8E5M2FNUZ DType = "F8_E5M2FNUZ"
	DTypeI16        DType = "I16"
	DTypeU16        DType = "U16"
	DTypeF16        DType = "F16"
	DTypeBF16       DType = "BF16"
	DTypeI32        DType = "I32"
	DTypeU32        DType = "U32"
	DTypeF32        DType = "F32"
	DTypeC64        DType = "C64"
	DTypeF64        DType = "F64"
	DTypeI64        DType = "I64"
	DTypeU64        DType = "U64"
	dtypeCount            = 22
)

// dtypeOrder is the Rust safetensors Dtype enum in declared order (the
// order its derived Ord compares in), with each dtype's size in bits. The
// reference writer sorts tensors by this rank, descending; see ReferenceOrder.
var dtypeOrder = [dtypeCount]struct {
	name DType
	bits int64
}{
	{DTypeBOOL, 8}, {DTypeF4, 4}, {DTypeF6E2M3, 6}, {DTypeF6E3M2, 6}, {DTypeU8, 8}, {DTypeI8, 8},
	{DTypeF8E5M2, 8}, {DTypeF8E4M3, 8}, {DTypeF8E8M0, 8}, {DTypeF8E4M3FNUZ, 8}, {DTypeF8E5M2FNUZ, 8},
	{DTypeI16, 16}, {DTypeU16, 16}, {DTypeF16, 16}, {DTypeBF16, 16}, {DTypeI32, 32}, {DTypeU32, 32},
	{DTypeF32, 32}, {DTypeC64, 64}, {DTypeF64, 64}, {DTypeI64, 64}, {DTypeU64, 64},
}

type dtypeInfo struct {
	bits int64
	rank int
}

var dtypeTable = func() map[DType]dtypeInfo {
	m := make(map[DType]dtypeInfo, dtypeCount)
	for i, d := range dtypeOrder {
		m[d.name] = dtypeInfo{d.bits, i}
	}
	return m
}()

// dtypeByName finds a dtype from header bytes without allocating
// (map lookups with string(b) keys do not copy).
var dtypeByName = func() map[string]DType {
	m := make(map[string]DType, dtypeCount)
	for _, d := range dtypeOrder {
		m[string(d.name)] = d.name
	}
	return m
}()

// Known reports whether d is a dtype the current safetensors reference
// accepts.
func (d DType) Known() bool {
	_, ok := dtypeTable[d]
	return ok
}

// Bits is the size of one element in bits (4 for F4, 6 for F6_*), or 0 for
// an unknown dtype.
func (d DType) Bits() int64 { return dtypeTable[d].bits }

// ElemSize is the size in bytes of one element of d, or 0 for dtypes
// narrower than a byte (F4, F6) and unknown ones: the dtypes whose tensors
// can be split, transposed or converted element by element.
func (d DType) ElemSize() int64 {
	if b := dtypeTable[d].bits; b%8 == 0 {
		return b / 8
	}
	return 0
}

// DTypes lists every known dtype in the reference enum's order.
func DTypes() []DType {
	out := make([]DType, dtypeCount)
	for i, d := range dtypeOrder {
		out[i] = d.name
	}
	return out
}

// ByteSize is the number of data bytes a tensor of dtype and shape takes,
// checked the way the reference reader checks it: every dimension
// non-negative, elements × bits without overflow, and a whole number of
// bytes. Errors are *HeaderError with Rule ErrUnknownDType, ErrInvalidShape,
// ErrValidationOverflow or ErrMisalignedSlice.
func ByteSize(dtype DType, shape []int64) (int64, error) {
	n, herr := tensorBytes(dtype, shape)
	if herr != nil {
		return 0, herr
	}
	return n, nil
}

// tensorBytes is ByteSize returning a *HeaderError whose caller fills in
// the file and tensor names.
func tensorBytes(dtype DType, shape []int64) (int64, *HeaderError) {
	info, ok := dtypeTable[dtype]
	if !ok {
		return 0, &HeaderError{Rule: ErrUnknownDType, Detail: strconv.Quote(string(dtype))}
	}
	elems := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, &HeaderError{Rule: ErrInvalidShape, Detail: fmt.Sprintf("negative dimension in %v", shape)}
		}
		hi, lo := bits.Mul64(elems, uint64(d))
		if hi != 0 || lo > maxHeaderInt {
			return 0, &HeaderError{Rule: ErrValidationOverflow, Detail: fmt.Sprintf("shape %v has too many elements", shape)}
		}
		elems = lo
	}
	hi, total := bits.Mul64(elems, uint64(info.bits))
	if hi != 0 || total > maxHeaderInt {
		return 0, &HeaderError{Rule: ErrValidationOverflow, Detail: fmt.Sprintf("%s %v is too large", dtype, shape)}
	}
	if total%8 != 0 {
		return 0, &HeaderError{Rule: ErrMisalignedSlice, Detail: fmt.Sprintf("%d elements of %s are %d bits", elems, dtype, total)}
	}
	return int64(total / 8), nil
}

// Size is End − Begin, the tensor's bytes in the data section.
func (t *Tensor) Size() int64 { return t.End - t.Begin }
