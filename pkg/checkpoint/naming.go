package checkpoint

import (
	"errors"
	"time"
)

// DefaultFilenamePrefix is CheckpointSave's default filename_prefix.
const DefaultFilenamePrefix = "checkpoints/ComfyUI"

// ResolvePrefix applies ComfyUI's get_save_image_path rules to a
// filename_prefix: %year% … substitution, normpath, split into subfolder and
// filename, and refusal of prefixes that escape the output directory.
// subfolder uses "/" separators and is "" for the output directory itself.
func ResolvePrefix(prefix string, now time.Time) (subfolder, filename string, err error) {
	return "", "", errors.New("checkpoint: ResolvePrefix not implemented yet")
}

// NextCounter returns ComfyUI's next counter for filename given the names of
// the entries already in the folder (any extension, files and folders).
func NextCounter(filename string, entries []string) int {
	return 1
}

// CheckpointFileName is "<filename>_<counter:05>_.safetensors".
func CheckpointFileName(filename string, counter int) string {
	return ""
}
