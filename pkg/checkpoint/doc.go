// Package checkpoint assembles ComfyUI-compatible all-in-one .safetensors
// checkpoints from separate component files (diffusion model, text encoders,
// VAE) without ever holding a tensor file in memory.
//
// The work is split the way the safetensors reference writer splits it:
// PlanCheckpoint reads only headers (plus, for SD2, the one tensor ComfyUI
// reads to tell v-prediction from epsilon) and produces the complete output
// header and an ordered list of Steps; Execute streams those steps from
// io.ReaderAt inputs into a streamwriter.Sink through one bounded buffer.
// The package never opens a file: where bytes live is the caller's business.
package checkpoint
