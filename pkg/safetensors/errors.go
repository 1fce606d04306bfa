package safetensors

import (
	"errors"
	"strconv"
)

// Header rule violations. Each names one rule of the safetensors reference
// reader (SafeTensors::read_metadata and Metadata::validate in
// huggingface/safetensors, whose SafeTensorError variant is given) or one of
// the stricter rules this package adds. Test with errors.Is; the error
// returned is a *HeaderError that also names the file and the tensor.
var (
	// ErrHeaderTooSmall: the file is shorter than 8 bytes (HeaderTooSmall).
	ErrHeaderTooSmall = errors.New("file is shorter than the 8-byte header length")
	// ErrHeaderTooLarge: N > 100,000,000 (HeaderTooLarge).
	ErrHeaderTooLarge = errors.New("header length is above the 100,000,000-byte limit")
	// ErrInvalidHeaderLength: 8 + N is past the end of the file (InvalidHeaderLength).
	ErrInvalidHeaderLength = errors.New("header length runs past the end of the file")
	// ErrInvalidUTF8: the header is not UTF-8 (InvalidHeader).
	ErrInvalidUTF8 = errors.New("header is not valid UTF-8")
	// ErrInvalidJSON: the header is not one JSON object, or has trailing
	// characters (InvalidHeaderDeserialization).
	ErrInvalidJSON = errors.New("header is not a valid JSON object")
	// ErrDuplicateKey: a tensor name (or a field of an entry, or a metadata
	// key) appears twice. The reference reader keeps the last one silently;
	// a file where two entries claim one name is ambiguous, so it is refused.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrInvalidMetadata: __metadata__ is not an object of strings to strings
	// (InvalidHeaderDeserialization).
	ErrInvalidMetadata = errors.New("__metadata__ must map strings to strings")
	// ErrInvalidEntry: a tensor entry is not an object with exactly dtype,
	// shape and data_offsets (InvalidHeaderDeserialization).
	ErrInvalidEntry = errors.New("tensor entry must be {\"dtype\", \"shape\", \"data_offsets\"}")
	// ErrUnknownDType: dtype is not one of the safetensors dtypes
	// (InvalidHeaderDeserialization).
	ErrUnknownDType = errors.New("unknown dtype")
	// ErrInvalidShape: shape is not a list of non-negative integers
	// (InvalidHeaderDeserialization).
	ErrInvalidShape = errors.New("shape must be a list of non-negative integers")
	// ErrInvalidOffsets: data_offsets is not exactly two non-negative integers
	// (InvalidHeaderDeserialization).
	ErrInvalidOffsets = errors.New("data_offsets must be two non-negative integers")
	// ErrInvalidOffset: sorted by offset, a tensor does not start where the
	// previous one ended, or ends before it begins: a gap, an overlap or a
	// first tensor not at 0 (InvalidOffset).
	ErrInvalidOffset = errors.New("data_offsets leave a gap or overlap")
	// ErrValidationOverflow: elements × bits overflows (ValidationOverflow).
	ErrValidationOverflow = errors.New("tensor size overflows")
	// ErrMisalignedSlice: elements × bits is not a whole number of bytes, as
	// with an odd number of F4 elements (MisalignedSlice).
	ErrMisalignedSlice = errors.New("tensor is not a whole number of bytes")
	// ErrTensorInvalidInfo: end − begin differs from the bytes shape × dtype
	// takes (TensorInvalidInfo).
	ErrTensorInvalidInfo = errors.New("data_offsets do not match shape and dtype")
	// ErrIncompleteBuffer: the data section is not exactly covered by the
	// tensors: trailing bytes, or a truncated file (MetadataIncompleteBuffer).
	ErrIncompleteBuffer = errors.New("tensors do not cover the data section exactly")
	// ErrReadFailed: the input could not be read.
	ErrReadFailed = errors.New("cannot read the header")
	// ErrInvalidName: a tensor name EncodeHeader cannot write (empty
	// __metadata__ clash or invalid UTF-8).
	ErrInvalidName = errors.New("invalid tensor name")
)

// HeaderError is a violation of a header rule.
type HeaderError struct {
	File   string // Input.Name; "" when encoding
	Tensor string // the tensor concerned; "" for file-level rules
	Rule   error  // one of the Err… sentinels above
	Detail string // what exactly is wrong, with the values found
	Err    error  // underlying error (I/O), if any
	// Looks is what the file seems to be instead ("text", "a ZIP
	// archive" …) when its first bytes are no safetensors header at all:
	// the message then leads with it, the rule behind.
	Looks string
}

func (e *HeaderError) Error() string {
	s := "safetensors header"
	if e.File != "" {
		s = e.File
	}
	if e.Tensor != "" {
		s += ": tensor " + strconv.Quote(e.Tensor)
	}
	rule := e.Rule.Error()
	if e.Detail != "" {
		rule += " (" + e.Detail + ")"
	}
	if e.Looks != "" {
		s += ": not a safetensors model file — it looks like " + e.Looks + " (" + rule + ")"
	} else {
		s += ": " + rule
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap gives errors.Is access to the rule and the underlying error.
func (e *HeaderError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Rule, e.Err}
	}
	return []error{e.Rule}
}
