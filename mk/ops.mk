# File operations beyond save (extract, convert, prune): the CLI's
# precision-conversion benchmark. The browser worker's fp8 figure is printed
# by the page-tools bench spec (make bench-ops-browser).
.PHONY: bench-ops
BENCH_TARGETS += bench-ops
bench-ops:
	$(GO) run ./scripts/benchconvert -runs 3 -work build/bench
