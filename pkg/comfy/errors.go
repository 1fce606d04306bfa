package comfy

import "errors"

// ErrDuplicateComponent: two inputs provide the same component (two
// CLIP-L encoders).
var ErrDuplicateComponent = errors.New("component given twice")

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
