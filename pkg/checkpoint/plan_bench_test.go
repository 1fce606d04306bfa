package checkpoint

import "testing"

// BenchmarkPlanFluxDev plans flux_dev (34 GB of inputs) from in-memory
// headers: header parsing, detection, conversion and layout.
func BenchmarkPlanFluxDev(b *testing.B) {
	req := componentRequest(b, "flux_dev", "clip_l", "t5xxl")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := PlanCheckpoint(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanSDXL plans sdxl_base, whose CLIP-G goes through the
// HF -> OpenCLIP conversion.
func BenchmarkPlanSDXL(b *testing.B) {
	req := componentRequest(b, "sdxl_base", "clip_g", "clip_l")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := PlanCheckpoint(req); err != nil {
			b.Fatal(err)
		}
	}
}
