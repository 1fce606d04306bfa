# Browser site: Go/WASM worker + static files (web/), see wasm/worker/PROTOCOL.md.
#   make build-web   web/ckptpack.wasm, web/wasm_exec.js, web/sw-precache.js
#   make dist        dist/: the deployable site, with precompressed .gz (and .br with `brotli`)
#   make serve       build-web, then serve web/ on http://$(WEB_ADDR)/ (foreground)
#   make test-worker the worker's Playwright specs (tests/worker-*.spec.ts): protocol smoke test, and
#                    sd15 saves through every sink, checked with `fixtures verify` (persistent profile)
#   make bench-worker  Go worker vs plain-JS File→OPFS throughput, renderer RSS, ready time
#                      (BENCH_GIB=2 BENCH_ROUNDS=3 BENCH_CHUNKS_MIB=4,16,64; results in build/bench/worker.json)
.PHONY: build-web serve dist test-worker bench-worker
TEST_TARGETS += test-worker
BENCH_TARGETS += bench-worker

WEB_ADDR ?= 127.0.0.1:8080
SERVE_BIN := build/bin/serve

build-web:
	$(GO) run ./scripts/buildweb -web web

dist:
	$(GO) run ./scripts/buildweb -web web -dist dist

$(SERVE_BIN): scripts/serve/main.go
	$(GO) build -o $@ ./scripts/serve

# exec: the server replaces the shell, so stopping make (or Playwright
# stopping its webServer) stops the server.
serve: build-web $(SERVE_BIN)
	exec $(SERVE_BIN) -dir web -addr $(WEB_ADDR) -mount /tests/fixtures-web/=tests/fixtures-web

test-worker: build-web $(NPM_STAMP) $(CHROMIUM)
	npx playwright test worker-

bench-worker: build-web $(NPM_STAMP) $(CHROMIUM)
	npx playwright test -c tests/worker-bench.config.ts
