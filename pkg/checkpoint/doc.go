// Package checkpoint assembles ComfyUI-compatible all-in-one .safetensors
// checkpoints from separate component files (diffusion model, text encoders,
// VAE) without ever holding a tensor file in memory, and offers the other
// operations on such files: Inspect, PlanExtract, PlanConvert (precision),
// PlanPrune (EMA weights), PlanMetadataEdit, and HashData.
//
// The work is split the way the safetensors reference writer splits it:
// PlanCheckpoint reads only headers (plus, for SD2, the one tensor ComfyUI
// reads to tell v-prediction from epsilon) and produces the complete output
// header and an ordered list of Steps; Execute streams those steps from
// io.ReaderAt inputs into a streamwriter.Sink through one bounded buffer.
// The package never opens a file: where bytes live is the caller's business.
//
// It owns the plans, the executor and the verbs. The file format is package
// safetensors; what ComfyUI's model classes look like and how it renames
// their keys is package comfy. This package may import those two, the
// sinks (pkg/streamwriter) and the module's internal helpers, never a host
// (cmd/, wasm/, scripts/) or another package built on it. Hosts import this
// package and, for headers and dtypes, package safetensors.
package checkpoint
