package safetensors

import "io"

// Input is one user file: a name for error messages (the file name or object
// key) and random access to its bytes.
type Input struct {
	Name string
	R    io.ReaderAt
	Size int64
}
