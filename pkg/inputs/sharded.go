package inputs

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// shardIndex is a Hugging Face sharded-checkpoint index
// (model.safetensors.index.json, diffusion_pytorch_model.safetensors.index.json,
// pytorch_model.bin.index.json): which shard holds each tensor.
type shardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// OpenIndex opens the sharded checkpoint described by the index file name
// as one virtual safetensors file over its shards (each a .safetensors or
// a torch zip .bin). The index and the shards must agree: every shard
// exists and lies beside the index, every tensor the weight map names is in
// its shard, and every tensor of a shard is in the weight map, under that
// shard (so no tensor is in two shards). Tensors are laid out shard by shard
// (shards in name order), each in its file's order, so copies stay long
// runs of one file.
func OpenIndex(fsys FS, name string) (checkpoint.Input, error) {
	var idx shardIndex
	if err := readJSON(fsys, name, &idx); err != nil {
		return checkpoint.Input{}, err
	}
	if len(idx.WeightMap) == 0 {
		return checkpoint.Input{}, fmt.Errorf("%s: no weight_map: not a sharded checkpoint index", name)
	}
	dir := path.Dir(name)
	byShard := map[string][]string{}
	for key, shard := range idx.WeightMap {
		if shard == "" || strings.Contains(shard, "/") || strings.Contains(shard, "\\") || shard == "." || shard == ".." {
			return checkpoint.Input{}, fmt.Errorf("%s: tensor %s: shard %q is not a file beside the index", name, key, shard)
		}
		byShard[shard] = append(byShard[shard], key)
	}
	var tensors []safetensors.VirtualTensor
	metadata := map[string]string{}
	for _, shard := range slices.Sorted(maps.Keys(byShard)) {
		in, err := OpenFile(fsys, path.Join(dir, shard))
		if err != nil {
			return checkpoint.Input{}, fmt.Errorf("%s: shard of %s: %w", path.Join(dir, shard), name, err)
		}
		h, err := safetensors.ReadHeader(in)
		if err != nil {
			return checkpoint.Input{}, err
		}
		for _, key := range byShard[shard] {
			if _, ok := h.Lookup(key); !ok {
				return checkpoint.Input{}, fmt.Errorf("%s: the weight map puts tensor %s in %s, which does not hold it", name, key, shard)
			}
		}
		for _, t := range h.Tensors {
			want, ok := idx.WeightMap[t.Name]
			switch {
			case !ok:
				return checkpoint.Input{}, fmt.Errorf("%s: shard %s holds tensor %s, which the weight map does not list", name, shard, t.Name)
			case want != shard:
				return checkpoint.Input{}, fmt.Errorf("%s: tensor %s is in %s, but the weight map puts it in %s", name, t.Name, shard, want)
			}
			tensors = append(tensors, safetensors.VirtualTensor{
				Name: t.Name, DType: t.DType, Shape: t.Shape,
				Pieces: []safetensors.Piece{{Input: in, Offset: h.DataStart + t.Begin, Length: t.End - t.Begin}},
			})
		}
		// Shards carry the same metadata ({"format": "pt"}); the first
		// shard's value wins where they differ.
		for k, v := range h.Metadata {
			if _, ok := metadata[k]; !ok {
				metadata[k] = v
			}
		}
	}
	if len(metadata) == 0 {
		metadata = nil
	}
	v, err := safetensors.NewVirtualFile(name, metadata, tensors)
	if err != nil {
		return checkpoint.Input{}, err
	}
	return v.Input(), nil
}
