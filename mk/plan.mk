# Planning (pkg/checkpoint plans over pkg/comfy's detection and conversions):
# its tests run in test-go.
# bench-plan times PlanCheckpoint on in-memory headers: flux_dev (34 GB of
# inputs) and sdxl_base (whose CLIP-G goes through the OpenCLIP conversion).
.PHONY: bench-plan
BENCH_TARGETS += bench-plan

bench-plan:
	$(GO) test ./pkg/checkpoint -run '^$$' -bench 'BenchmarkPlan' -benchmem -count 3
