# File operations beyond save (extract, convert, prune): the CLI's
# precision-conversion benchmark. The browser worker's fp8 figure is printed
# by the page-tools bench spec (make bench-ops-browser).
.PHONY: bench-ops
BENCH_TARGETS += bench-ops
bench-ops:
	$(GO) run ./scripts/benchconvert -runs 3 -work build/bench

# convert_fp8_mb_per_s, the quantize_*_worker lines and the worker's wasm memory during them.
.PHONY: bench-ops-browser
BENCH_TARGETS += bench-ops-browser
bench-ops-browser: $(NPM_STAMP) $(CHROMIUM) build-web
	CKPT_BENCH=1 npx playwright test tests/bench/ops-bench.spec.ts tests/bench/quantize-bench.spec.ts
