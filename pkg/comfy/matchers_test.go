package comfy

import (
	"regexp"
	"strings"
	"testing"
)

// TestNormScaleRuleMatchesRegexps: the plain string tests of NormScaleRule
// say what the regexps they replace said, over keys built from the pieces
// those patterns and their near misses are made of.
func TestNormScaleRuleMatchesRegexps(t *testing.T) {
	qk := regexp.MustCompile(`(\.query_norm|\.key_norm)\.weight$`)
	chroma := regexp.MustCompile(`^(distilled_guidance_layer\.(?:\d+\.)?norms\.\d+|nerf_blocks\.\d+\.norm|nerf_final_layer_conv\.norm)\.weight$`)
	heads := []string{"", "distilled_guidance_layer.", "nerf_blocks.", "nerf_final_layer_conv.", "double_blocks.0.img_attn.norm.", "x.distilled_guidance_layer.", "norms."}
	mids := []string{"", "0.", "12.", "a.", "0.norms.", "norms.", "norms.3.", "0.norms.7.", "1.norm", "norm", "query_norm", "key_norm", ".query_norm", "norms.x", "0.0.norms.1."}
	tails := []string{"", "weight", ".weight", "5.weight", "norm.weight", ".scale", "query_norm.weight", "key_norm.weight", "weights", "1", "x.weight"}
	n := 0
	for _, h := range heads {
		for _, m := range mids {
			for _, tl := range tails {
				key := h + m + tl
				wantQK := qk.MatchString(key)
				wantChroma := wantQK || chroma.MatchString(key)
				if got := NormScaleQK.Matches(key); got != wantQK {
					t.Errorf("NormScaleQK.Matches(%q) = %v, the regexp says %v", key, got, wantQK)
				}
				if got := NormScaleChroma.Matches(key); got != wantChroma {
					t.Errorf("NormScaleChroma.Matches(%q) = %v, the regexps say %v", key, got, wantChroma)
				}
				if NormScaleNone.Matches(key) {
					t.Errorf("NormScaleNone.Matches(%q)", key)
				}
				if wantChroma {
					n++
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d matching keys in the corpus", n)
	}
}

// TestNamedEncoderGroupMatchesRegexp: namedEncoderGroup finds what the
// regexp it replaces found, groups included.
func TestNamedEncoderGroupMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^(text_encoders\.|text_encoder\.|cond_stage_model\.|)([a-z0-9_]+)\.transformer\.`)
	prefixes := []string{"", "text_encoders.", "text_encoder.", "cond_stage_model.", "text_encoderss.", "x.", "text_encoders.text_encoder."}
	names := []string{"", "clip_l", "t5xxl", "qwen3vl", "Clip_L", "a-b", "model", "text_encoders", "9", "_", "clip_l.x"}
	tails := []string{"", ".transformer.", ".transformer.text_model.x.weight", ".transformer", "transformer.", ".transformers.", ".logit_scale", ".transformer.transformer."}
	hits := 0
	for _, p := range prefixes {
		for _, n := range names {
			for _, tl := range tails {
				key := p + n + tl
				m := re.FindStringSubmatch(key)
				prefix, name, ok := namedEncoderGroup(key)
				if ok != (m != nil) || ok && (prefix != m[1] || name != m[2]) {
					t.Errorf("namedEncoderGroup(%q) = %q, %q, %v; the regexp says %q", key, prefix, name, ok, m)
				}
				if ok {
					hits++
				}
			}
		}
	}
	if hits < 10 {
		t.Fatalf("only %d matching keys in the corpus", hits)
	}
}

// TestRelabelTextencMatchesRegexp: relabelTextenc rewrites keys as
// textenc_pattern.sub did, overlapping and adjacent names included.
func TestRelabelTextencMatchesRegexp(t *testing.T) {
	alts := make([]string, len(textencRename))
	protected := map[string]string{}
	for i, r := range textencRename {
		alts[i] = regexp.QuoteMeta(r[1])
		protected[r[1]] = r[0]
	}
	re := regexp.MustCompile(strings.Join(alts, "|"))
	pieces := []string{"transformer.", "text_model.encoder.layers.", "0.", "layer_norm1", "layer_norm2", ".fc1.", ".fc2.", ".self_attn",
		"transformer.text_model.final_layer_norm.", "transformer.text_model.embeddings.token_embedding.weight",
		"transformer.text_model.embeddings.position_embedding.weight", "weight", ".", "layer_norm", "text_model.", "embeddings.", ".self_attn.k_proj", ".fc1.fc2."}
	n := 0
	for _, a := range pieces {
		for _, b := range pieces {
			for _, c := range pieces {
				key := a + b + c
				want := re.ReplaceAllStringFunc(key, func(m string) string { return protected[m] })
				if got := relabelTextenc(key); got != want {
					t.Errorf("relabelTextenc(%q) = %q, the regexp gives %q", key, got, want)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no keys")
	}
}
