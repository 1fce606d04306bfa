package checkpoint

import (
	"errors"

	"github.com/ckptpack/ckptpack/internal/pyjson"
	"github.com/ckptpack/ckptpack/pkg/comfy"
)

// Every sentinel error of the package is declared here, grouped by the
// function family that returns it.

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
	ErrDuplicateComponent = comfy.ErrDuplicateComponent
	// ErrArchMismatch: components of different architectures (an SD1.5 UNet
	// with SDXL's CLIP-G, an SDXL model with a 16-channel VAE).
	ErrArchMismatch = errors.New("components of different architectures")
	// ErrPrediction: a prediction type was requested for a model whose
	// ComfyUI class does not choose between epsilon and v.
	ErrPrediction = errors.New("prediction type does not apply")
	// ErrInvalidPromptJSON: text given as a prompt or workflow is not JSON
	// that Python's json.loads accepts.
	ErrInvalidPromptJSON = pyjson.ErrInvalid
	// ErrCorruptedTextEncoder is ComfyUI's "CORRUPTED MODEL: one of the
	// q-k-v values for the text encoder was missing".
	ErrCorruptedTextEncoder = comfy.ErrCorruptedTextEncoder
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
