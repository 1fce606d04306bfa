// Package comfy is ComfyUI's model knowledge, as far as saving a checkpoint
// needs it: the architecture table (Architectures, one Arch per ComfyUI
// model class, as data), the detection of diffusion models, text encoders
// and VAEs in a file's header (AnalyzeFile), the key renames and layout
// conversions ComfyUI applies on load (diffusers, OpenCLIP, ldm VAE) and on
// save (ClipForSaving), expressed as recipes over byte ranges of the inputs
// (StateDict, TensorSource), the
// filename_prefix and counter rules of its save path (ResolvePrefix,
// NextOutputName), and the metadata it carries over (quantization
// metadata).
//
// It reads headers only, never tensor data, and decides nothing about
// output files: planning and writing are package checkpoint's. Adding a
// model class touches this package only. It may import package safetensors
// and the standard library (and the module's internal helpers), never
// checkpoint or a host.
package comfy
