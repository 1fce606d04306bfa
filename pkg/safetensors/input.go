package safetensors

import "io"

// Input is one file to read: a name for error messages (the file name or
// object key) and random access to its Size bytes.
type Input struct {
	Name string
	R    io.ReaderAt
	Size int64
}
