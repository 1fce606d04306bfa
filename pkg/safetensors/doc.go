// Package safetensors reads and writes the safetensors file format: the
// 8-byte length and JSON header (ReadHeader, ParseHeader, EncodeHeader),
// the dtype table (DType), the data layout rules of the reference
// implementation (AssignOffsets, ReferenceOrder, ByteSize), errors that
// name the file, the tensor and the broken rule (HeaderError), and
// VirtualFile, a safetensors file assembled from byte ranges of others.
//
// It reads through io.ReaderAt and only the bytes it needs: a header read
// is two reads, whatever the size of the file, and no tensor data is ever
// loaded. Like archive/zip it knows the format and nothing else: it has no
// notion of models, checkpoints or ComfyUI (those are packages comfy and
// checkpoint), and it may import only the standard library and the
// module's internal JSON helpers (internal/jsonlex, internal/pyjson),
// never another package of pkg/.
package safetensors
