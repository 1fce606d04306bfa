//go:build !(js && wasm)

// Command edge is ckptpack's Cloudflare Worker; it only runs as js/wasm
// inside workerd (make -f mk/edge.mk build-edge, then wrangler or Miniflare).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cmd/edge is a Cloudflare Worker: build it with GOOS=js GOARCH=wasm (make build-edge) and run it with wrangler or Miniflare")
	os.Exit(2)
}
