//go:build js && wasm

// Command edge is ckptpack's Cloudflare Worker: the checkpoint engine next
// to the R2 bucket that holds the models. See server.go for the API and the
// README's "Edge host" for deploying it.
package main

import (
	"net/http"
	"syscall/js"

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
	if !js.Global().Get("ckptpackR2").Truthy() {
		// Deployed from worker.mjs instead of entry.mjs: say so on every request.
		workers.Serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, &apiError{Status: http.StatusInternalServerError,
				Message: "the R2 helpers are missing: deploy build/edge/entry.mjs (wrangler.toml's main), not worker.mjs"})
		}))
		return
	}
	store := newR2Store(cloudflare.GetBinding(bucketBinding))
	workers.Serve(newServer(store, cloudflare.Getenv(tokenSecret)))
}
