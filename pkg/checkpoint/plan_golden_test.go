package checkpoint

import (
	"testing"
)

// goldenCases are the oracle architectures with the text encoders each
// takes, in the order ComfyUI's loader was given them.
var goldenCases = []struct {
	arch  string
	class string
	clips []string
}{
	{"sd15", "SD15", []string{"clip_l"}},
	{"sdxl_base", "SDXL", []string{"clip_g", "clip_l"}},
	{"sd3_medium", "SD3", []string{"clip_l", "clip_g", "t5xxl"}},
	{"flux_dev", "Flux", []string{"clip_l", "t5xxl"}},
}

// TestGoldenComponents plans each oracle architecture from its component
// manifests and compares the planned header with expected_checkpoint.json
// (keys, dtypes, shapes, __metadata__ with title "ComfyUI 1" and an empty
// prompt) and every tensor's byte mapping with its recorded source.
func TestGoldenComponents(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.arch, func(t *testing.T) {
			p, err := PlanCheckpoint(componentRequest(t, c.arch, c.clips...))
			if err != nil {
				t.Fatal(err)
			}
			if p.Architecture != c.class {
				t.Errorf("architecture %s, want %s", p.Architecture, c.class)
			}
			want := oracleManifest(t, c.arch, "expected_checkpoint")
			checkHeader(t, p, want)
			checkSources(t, p, want, func(component string) string { return component })
		})
	}
}

// TestGoldenSwappedClipOrder: the order of the clip inputs does not matter.
func TestGoldenSwappedClipOrder(t *testing.T) {
	for _, c := range goldenCases {
		if len(c.clips) < 2 {
			continue
		}
		t.Run(c.arch, func(t *testing.T) {
			rev := make([]string, len(c.clips))
			for i, x := range c.clips {
				rev[len(c.clips)-1-i] = x
			}
			p, err := PlanCheckpoint(componentRequest(t, c.arch, rev...))
			if err != nil {
				t.Fatal(err)
			}
			want := oracleManifest(t, c.arch, "expected_checkpoint")
			checkHeader(t, p, want)
			checkSources(t, p, want, func(component string) string { return component })
		})
	}
}
