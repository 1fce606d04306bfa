package checkpoint

import (
	"github.com/ckptpack/ckptpack/internal/synth"
	"github.com/ckptpack/ckptpack/pkg/comfy"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// Synthetic state dicts for the planning tests, over internal/synth's
// layouts (shared with package comfy's detection tests).

// shapes builds a state dict of shape-only tensors.
func shapes(kv map[string][]int64) comfy.StateDict {
	sd := comfy.StateDict{}
	for k, s := range kv {
		sd[k] = &comfy.TensorSource{DType: safetensors.DTypeF16, Shape: s}
	}
	return sd
}

// The synthetic SD-family UNets of internal/synth, as state dicts.
type unetLevel = synth.UNetLevel

var levels = synth.Levels

func synthUNet(mc, in, ctx, adm int64, linear, temporal bool, levels []unetLevel) comfy.StateDict {
	return shapes(synth.UNetShapes(mc, in, ctx, adm, linear, temporal, levels))
}

// TestDetectArchitectures runs the signature table over minimal key sets,
// one per class the signature keys can tell apart.
