package checkpoint

import (
	"time"

	"github.com/ckptpack/ckptpack/pkg/comfy"
)

// Output names. The save verb names its output the way ComfyUI's
// CheckpointSave does; the rules (filename_prefix expansion, the counter)
// are ComfyUI's and live in package comfy. The hosts name files through
// these, so that they depend on this package and the format only.

// DefaultFilenamePrefix is CheckpointSave's default filename_prefix.
const DefaultFilenamePrefix = comfy.DefaultFilenamePrefix

// OutputName is the file CheckpointSave writes next, and the title it gives
// the checkpoint.
type OutputName = comfy.OutputName

// ResolvePrefix splits a filename_prefix into the subfolder and file name
// ComfyUI saves under (see comfy.ResolvePrefix for the rules and the two
// cases refused with ErrPrefixOverwrites and ErrPrefixNoName).
func ResolvePrefix(prefix string, now time.Time) (subfolder, filename string, err error) {
	return comfy.ResolvePrefix(prefix, now)
}

// NextCounter is ComfyUI's next counter for filename given the names of the
// entries already in the folder (see comfy.NextCounter).
func NextCounter(filename string, entries []string) int {
	return comfy.NextCounter(filename, entries)
}

// NextOutputName is what CheckpointSave saves as next in subfolder, given
// the names of the entries already there (see comfy.NextOutputName).
func NextOutputName(subfolder, filename string, entries []string) OutputName {
	return comfy.NextOutputName(subfolder, filename, entries)
}

// OutputNameAt is the output name with a given counter, for hosts that
// reserve counters themselves (see comfy.OutputNameAt).
func OutputNameAt(subfolder, filename string, counter int) OutputName {
	return comfy.OutputNameAt(subfolder, filename, counter)
}

// Errors of ResolvePrefix.
var (
	ErrPrefixEscapes    = comfy.ErrPrefixEscapes    // the prefix leads outside the output folder
	ErrPrefixOverwrites = comfy.ErrPrefixOverwrites // ComfyUI would overwrite one file on every save
	ErrPrefixNoName     = comfy.ErrPrefixNoName     // the prefix names no file
)
