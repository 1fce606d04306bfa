package checkpoint

import (
	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/quant"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Input is one user file: a name for error messages (the file name or object
// key) and random access to its bytes. It is the format package's type, so
// that a header read and a plan take the same value.
type Input = safetensors.Input

// Transpose describes a 2-D transpose of a source tensor (ComfyUI's
// text_projection.weight -> text_projection); the conversions that need
// one live in package comfy.
type Transpose = comfy.Transpose

// Slots of a SaveRequest (and of Component.Slot and SlotError.Slot).
const (
	SlotModel = comfy.SlotModel
	SlotClip  = comfy.SlotClip
	SlotVAE   = comfy.SlotVAE
)

// Prediction selects the prediction type written for models whose files do
// not say it (standalone SD2/SDXL diffusion models).
type Prediction string

const (
	PredictionAuto Prediction = "auto" // detect as ComfyUI does; epsilon when nothing says v
	PredictionEps  Prediction = "eps"
	PredictionV    Prediction = "v"
)

// SaveRequest mirrors ComfyUI's CheckpointSave inputs. Any slot may be filled
// from a full checkpoint: the slot decides which part of that file is used.
type SaveRequest struct {
	Model Input   // diffusion model (standalone, prefixed, diffusers, or a full checkpoint)
	Clip  []Input // text encoders in any number and order (or full checkpoints)
	VAE   Input   // VAE (ldm or diffusers layout, or a full checkpoint)

	Prediction Prediction

	// Title is modelspec.title, "<filename> <counter>" (e.g. "ComfyUI 1"), as
	// ComfyUI derives it from the output name. Only written where ComfyUI
	// writes modelspec keys.
	Title string

	// Prompt is the API-format prompt as JSON text; empty means no prompt
	// (ComfyUI then writes prompt = ""). ExtraPNGInfo is a JSON object whose
	// every key becomes a metadata entry holding json.dumps of its value
	// (normally just "workflow"). Both are re-encoded the way Python's
	// json.dumps does.
	Prompt       string
	ExtraPNGInfo string

	// DisableMetadata leaves out prompt and extra_pnginfo keys, like
	// ComfyUI's --disable-metadata (modelspec keys stay).
	DisableMetadata bool

	// Metadata is user metadata (modelspec.author, modelspec.description …),
	// added last.
	Metadata map[string]string

	// ModelSpec fields set by the user (validated, then written over
	// Metadata); HashSHA256 adds modelspec.hash_sha256, computed while the
	// data is written (see Plan.HashSlot).
	ModelSpec  ModelSpec
	HashSHA256 bool

	// Quantize, when set, writes the diffusion model's Linear weights in a
	// ComfyUI quantization format while assembling, by the rule of
	// ConvertRequest.Quantize (QuantizeExclude keeps more weights high
	// precision).
	Quantize        quant.Format
	QuantizeExclude string
}

// Step is one contiguous piece of the output after the header. Exactly one
// of these forms is used:
//   - copy: Input >= 0, Transpose == nil: Length bytes at Offset of Inputs[Input];
//   - transpose: Input >= 0, Transpose != nil: the 2-D tensor of
//     Rows×Cols elements of ElemSize bytes at Offset, written transposed;
//   - inline: Input == -1: Data holds the bytes (small computed tensors);
//   - convert: Input >= 0, Convert != nil: Length bytes of Convert.From
//     elements at Offset, written as Convert.To (precision.go); the step
//     writes fewer bytes than it reads.
//
// Several steps can make up one output tensor (q, k, v concatenated into
// in_proj_weight); Tensor names the output tensor for progress reports.
type Step struct {
	Tensor    string
	Input     int
	Offset    int64
	Length    int64
	Transpose *Transpose
	Data      []byte
	Convert   *Convert
}

// Plan is a complete description of the output file.
type Plan struct {
	Architecture string               // ComfyUI model class, e.g. "SDXL", "Flux", "SD3"
	Header       []byte               // the 8+N header bytes, written first
	Tensors      []safetensors.Tensor // output tensors in file order with their offsets
	Metadata     map[string]string    // the output __metadata__
	Steps        []Step               // data after the header, in order
	Inputs       []Input              // inputs referenced by Step.Input
	Size         int64                // total output size in bytes

	// HashSlot, when not 0, is the offset in Header of the 66-byte
	// placeholder value of modelspec.hash_sha256 ("0x" and 64 zeros).
	// Execute hashes the data after the header and patches the digest
	// there before finishing; the sink must be a
	// streamwriter.HeaderPatcher.
	HashSlot int64

	// Notes tell the user what the plan changed beyond copying (a
	// quantization convention rewritten so ComfyUI loads it right).
	Notes []string
}
