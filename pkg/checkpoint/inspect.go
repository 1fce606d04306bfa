package checkpoint

import "errors"

// Report is what Inspect finds in one file, from its header alone.
type Report struct {
	File         string            `json:"file"`
	Bytes        int64             `json:"bytes"`
	Architecture string            `json:"architecture,omitempty"` // ComfyUI class of the diffusion model or of the components
	Components   []Component       `json:"components"`
	Missing      []string          `json:"missing,omitempty"` // slots ("model", "clip", "vae") a full checkpoint of Architecture would also need
	DTypes       map[DType]int     `json:"dtypes"`            // tensor count per dtype
	Tensors      int               `json:"tensors"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	HasWorkflow  bool              `json:"has_workflow"`
}

// Component is one part found in a file.
type Component struct {
	Slot    string `json:"slot"`   // "model", "clip" or "vae"
	Kind    string `json:"kind"`   // model: ComfyUI class ("SDXL"); clip: encoder ("clip_l", "t5xxl"); vae: family ("sd", "sdxl", "flux" …)
	Layout  string `json:"layout"` // "bare", "prefixed", "diffusers", "hf", "open_clip", "ldm", "checkpoint"
	Tensors int    `json:"tensors"`
	Bytes   int64  `json:"bytes"`
}

// Inspect reports what in holds: architecture, components found and
// missing, dtype census, sizes and metadata.
func Inspect(in Input) (*Report, error) {
	return nil, errors.New("checkpoint: Inspect not implemented yet")
}
