// Command inputfixtures writes the test inputs of other kinds than a single
// .safetensors file, for the page specs (which cannot run Go themselves):
//
//	inputfixtures sdxl-diffusers OUT      a diffusers SDXL folder (sparse data)
//	inputfixtures ckpt SRC.safetensors OUT.ckpt
//	                                      SRC as a torch zip {"state_dict": …}
//
// The Go tests call the same internal/fixture functions directly.
package main

import (
	"fmt"
	"os"

	"github.com/ckptpack/ckptpack/internal/fixture"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "inputfixtures:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "sdxl-diffusers":
		return fixture.WriteSDXLDiffusers(args[1])
	case len(args) == 3 && args[0] == "ckpt":
		return fixture.WriteTorchZip(args[1], args[2], true)
	}
	return fmt.Errorf("usage: inputfixtures sdxl-diffusers OUT | inputfixtures ckpt SRC.safetensors OUT.ckpt")
}
