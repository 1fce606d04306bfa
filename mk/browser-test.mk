# Browser page end-to-end tests and benchmarks (Playwright + Debian Chromium).
#   make test-browser   tests/page-*.spec.ts against `make serve` (see playwright.config.ts)
#   make bench-browser  tests/bench/page-bench.spec.ts: sdxl_base through the page vs plain JS and cat
#                       (BENCH_RUNS, default 3; prints name value lines, also in build/bench/browser.txt)
.PHONY: test-browser bench-browser
TEST_TARGETS += test-browser
BENCH_TARGETS += bench-browser

test-browser: $(NPM_STAMP) $(CHROMIUM) build-web
	npx playwright test page-

bench-browser: $(NPM_STAMP) $(CHROMIUM) build-web
	CKPT_BENCH=1 npx playwright test tests/bench/page-bench.spec.ts
