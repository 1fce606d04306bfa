package checkpoint

import (
	"errors"
	"strconv"

	"github.com/ckptpack/ckptpack/internal/pyjson"
)

// Every sentinel error of the package is declared here, grouped by the
// function family that returns it.

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

// Planning errors. Every error PlanCheckpoint returns for a problem with the
// inputs wraps one of these (test with errors.Is) and names the slot and
// the file.
var (
	// ErrUnknownContent: a file holds nothing this package recognises as a
	// diffusion model, text encoder or VAE (or a diffusion model of a
	// configuration no ComfyUI class matches).
	ErrUnknownContent = errors.New("unrecognised file content")
	// ErrWrongComponent: a slot got a file that holds a different kind of
	// component (a VAE given as the model).
	ErrWrongComponent = errors.New("wrong component for this slot")
	// ErrMissingComponent: the architecture needs a component no input
	// provides (Flux without a T5-XXL encoder, no VAE).
	ErrMissingComponent = errors.New("missing component")
	// ErrDuplicateComponent: two inputs provide the same component (two
	// CLIP-L encoders).
	ErrDuplicateComponent = errors.New("component given twice")
	// ErrArchMismatch: components of different architectures (an SD1.5 UNet
	// with SDXL's CLIP-G, an SDXL model with a 16-channel VAE).
	ErrArchMismatch = errors.New("components of different architectures")
	// ErrPrediction: a prediction type was requested for a model whose
	// ComfyUI class does not choose between epsilon and v.
	ErrPrediction = errors.New("prediction type does not apply")
	// ErrInvalidPromptJSON: text given as a prompt or workflow is not JSON
	// that Python's json.loads accepts.
	ErrInvalidPromptJSON = pyjson.ErrInvalid
)

// ErrCorruptedTextEncoder is ComfyUI's "CORRUPTED MODEL: one of the q-k-v
// values for the text encoder was missing".
var ErrCorruptedTextEncoder = errors.New("checkpoint: text encoder is missing one of its q, k, v projections")

// Errors of ResolvePrefix.
var (
	// ErrPrefixEscapes: the prefix leads outside the output folder (an
	// absolute path, or more ".." than folders). ComfyUI raises "Saving
	// image outside the output folder is not allowed." for the same
	// prefixes.
	ErrPrefixEscapes = errors.New("filename_prefix points outside the output folder")
	// ErrPrefixOverwrites: the prefix ends in a way ("checkpoints/",
	// "a/b/..") that breaks ComfyUI's counter, so that ComfyUI would save
	// every checkpoint under the same name, overwriting the previous one
	// (see ResolvePrefix); we refuse instead of overwriting.
	ErrPrefixOverwrites = errors.New("filename_prefix would overwrite the same file on every save")
	// ErrPrefixNoName: the prefix names no file ("", ".", "a/..").
	ErrPrefixNoName = errors.New("filename_prefix has no file name")
)

// Errors of Execute.
var (
	// ErrInputChanged is returned (wrapped with the input's name and the
	// tensor) when an input yields fewer bytes than its header promised when
	// the plan was made: the file was truncated or replaced while the
	// checkpoint was written.
	ErrInputChanged = errors.New("file changed or truncated")
	// ErrBadPlan is returned (wrapped) when a Plan does not describe a file:
	// its steps do not add up to Plan.Size, a step names no input, or a
	// range lies outside its input. It means a bug in the planner, not bad
	// user input.
	ErrBadPlan = errors.New("checkpoint: inconsistent plan")
)

// HeaderError is a violation of a header rule.
type HeaderError struct {
	File   string // Input.Name; "" when encoding
	Tensor string // the tensor concerned; "" for file-level rules
	Rule   error  // one of the Err… sentinels above
	Detail string // what exactly is wrong, with the values found
	Err    error  // underlying error (I/O), if any
}

func (e *HeaderError) Error() string {
	s := "safetensors header"
	if e.File != "" {
		s = e.File
	}
	if e.Tensor != "" {
		s += ": tensor " + strconv.Quote(e.Tensor)
	}
	s += ": " + e.Rule.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
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
