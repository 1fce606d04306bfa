# Go engine and CLI tests (pkg/..., cmd/ckptpack, internal/...).
# The CLI's data-parity tests assemble full-size sd15 (~2 GB) and sdxl_base
# (~7 GB) fixtures, generated once under $(FIXTURES) and reused; hence the
# long timeout (the default 10 minutes is per package binary).
.PHONY: test-go bench-cli ckptpack
TEST_TARGETS += test-go
BENCH_TARGETS += bench-cli
GO_TEST_TIMEOUT ?= 20m

# -tags archsource: pkg/comfy's tests against the architecture table's
# source (arch_source.go), and TestArchTableGenerated, which fails when the
# generated arch_table.go differs from it (go generate ./pkg/comfy).
test-go:
	$(GO) vet ./...
	$(GO) vet -tags archsource ./pkg/comfy
	$(GO) test -tags archsource ./pkg/comfy
	CKPTPACK_FIXTURES=$(FIXTURES) $(GO) test -timeout $(GO_TEST_TIMEOUT) ./...

# The CLI binary, for trying it by hand: build/bin/ckptpack.
ckptpack:
	$(GO) build -o build/bin/ckptpack ./cmd/ckptpack

# ckptpack save on sdxl_base against cat of the same files (interleaved,
# both fsync), peak RSS for sdxl and a flux_dev-sized run (sparse inputs,
# skipped with a reason when the disk lacks room), and flux planning time.
# BENCH_RUNS sets the number of timed runs of each.
BENCH_RUNS ?= 5
bench-cli:
	CKPTPACK_FIXTURES=$(FIXTURES) $(GO) run ./scripts/benchcli -runs $(BENCH_RUNS) -work build/bench
