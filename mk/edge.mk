# Edge host: cmd/edge as a Cloudflare Worker (Go js/wasm + syumai/workers),
# tested offline under Miniflare with an in-memory R2 bucket.
.PHONY: build-edge test-edge bench-edge
TEST_TARGETS += test-edge
BENCH_TARGETS += bench-edge

EDGE_BUILD := build/edge
EDGE_SOURCES := $(shell find cmd/edge pkg -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum

build-edge: $(EDGE_BUILD)/app.wasm
# workers-assets-gen empties its output directory, then writes worker.mjs,
# runtime.mjs and wasm_exec.js (its copy, patched to pass the Worker's env).
# Our entry.mjs (wrangler's main) loads r2io.mjs, then that worker.mjs.
$(EDGE_BUILD)/app.wasm: $(EDGE_SOURCES) cmd/edge/entry.mjs cmd/edge/r2io.mjs cmd/edge/jobs.mjs
	$(GO) run github.com/syumai/workers/cmd/workers-assets-gen -mode=go -o $(EDGE_BUILD)
	cp cmd/edge/entry.mjs cmd/edge/r2io.mjs cmd/edge/jobs.mjs $(EDGE_BUILD)/
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o $@.tmp ./cmd/edge
	mv $@.tmp $@

# sd15 components (model, CLIP-L, VAE), shared with other areas' tests; the
# generator writes all three and leaves up-to-date files alone.
EDGE_FIXTURES := $(FIXTURES)/sd15
$(EDGE_FIXTURES)/vae.safetensors:
	$(GO) run ./scripts/fixtures gen -arch sd15 -out $(EDGE_FIXTURES)

# Incompatible-architecture case: a FLUX VAE's real header over a sparse
# hole (only headers are read). Kept apart from the real flux_dev fixtures.
EDGE_SPARSE := $(FIXTURES)/sparse/flux_dev/vae.safetensors
$(EDGE_SPARSE):
	$(GO) run ./scripts/fixtures gen -arch flux_dev -only vae -sparse -out $(dir $@)

# Each test sets its own ceiling, which only ends a hang; nothing asserts
# a timing. (node's --test-timeout would bound the whole file as well.)
test-edge: $(NPM_STAMP) build-edge $(EDGE_FIXTURES)/vae.safetensors $(EDGE_SPARSE)
	$(GO) test -timeout 10m ./cmd/edge/
	CKPTPACK_FIXTURES=$(FIXTURES) node --test --test-concurrency=1 tests/edge/*.test.mjs

bench-edge: $(NPM_STAMP) build-edge $(EDGE_FIXTURES)/vae.safetensors
	CKPTPACK_FIXTURES=$(FIXTURES) node tests/edge/bench.mjs
