//go:build js && wasm

// Command edge is ckptpack's Cloudflare Worker: the checkpoint engine next
// to the R2 bucket that holds the models. See server.go for the API and
// /work/notes/readme-edge.md (README "Edge host") for deploying it.
package main

import (
	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare"
)

// Names of the Worker's bindings (wrangler.toml and `wrangler secret put`).
const (
	bucketBinding = "BUCKET"
	tokenSecret   = "CKPTPACK_TOKEN"
)

func main() {
	// worker.mjs starts a fresh Go instance for every request, with that
	// request's env, so reading bindings here is per request.
	store := newR2Store(cloudflare.GetBinding(bucketBinding))
	workers.Serve(newServer(store, cloudflare.Getenv(tokenSecret)))
}
