package safetensors_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// A header is read through any io.ReaderAt (an *os.File, an HTTP range
// reader, a JS File): ReadHeader reads the 8-byte length and the header,
// never the tensor data.
func ExampleReadHeader() {
	// A two-tensor file, built in memory: EncodeHeader writes the header
	// the way the reference writer does, AssignOffsets lays out the data.
	tensors := []safetensors.Tensor{
		{Name: "weight", DType: safetensors.DTypeF16, Shape: []int64{2, 3}},
		{Name: "bias", DType: safetensors.DTypeF32, Shape: []int64{3}},
	}
	dataSize, err := safetensors.AssignOffsets(tensors)
	if err != nil {
		log.Fatal(err)
	}
	header, err := safetensors.EncodeHeader(map[string]string{"format": "pt"}, tensors)
	if err != nil {
		log.Fatal(err)
	}
	file := append(header, make([]byte, dataSize)...)

	r := bytes.NewReader(file)
	h, err := safetensors.ReadHeader(safetensors.Input{Name: "model.safetensors", R: r, Size: r.Size()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("metadata:", h.Metadata)
	for _, t := range h.Tensors {
		fmt.Printf("%s %s %v at %d+%d\n", t.Name, t.DType, t.Shape, h.DataStart+t.Begin, t.Size())
	}

	// A broken file gets an error naming the file and the rule it breaks.
	_, err = safetensors.ReadHeader(safetensors.Input{Name: "cut.safetensors", R: r, Size: 20})
	fmt.Println(err)
	fmt.Println(errors.Is(err, safetensors.ErrInvalidHeaderLength))
	// Output:
	// metadata: map[format:pt]
	// weight F16 [2 3] at 160+12
	// bias F32 [3] at 172+12
	// cut.safetensors: header length runs past the end of the file (8 + N = 160 bytes, file has 20)
	// true
}
