package comfy

import (
	"fmt"
	"strings"
)

// textencRename is comfy/diffusers_convert.py textenc_conversion_lst:
// (open_clip name, HF name), in the order the regex alternation lists them.
var textencRename = [][2]string{
	{"resblocks.", "text_model.encoder.layers."},
	{"ln_1", "layer_norm1"},
	{"ln_2", "layer_norm2"},
	{".c_fc.", ".fc1."},
	{".c_proj.", ".fc2."},
	{".attn", ".self_attn"},
	{"ln_final.", "transformer.text_model.final_layer_norm."},
	{"token_embedding.weight", "transformer.text_model.embeddings.token_embedding.weight"},
	{"positional_embedding", "transformer.text_model.embeddings.position_embedding.weight"},
}

// relabelTextenc is textenc_pattern.sub(lambda m: protected[…], key), where
// textenc_pattern = re.compile("|".join(re.escape(hf) …)): one left-to-right
// scan; at each position the first HF name of textencRename that starts
// there (the regexp's leftmost-first alternation) becomes its open_clip
// name, and replaced text is not rescanned. Plain string tests: no regexp
// to compile at start-up.
func relabelTextenc(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); {
		replaced := false
		for _, r := range textencRename {
			if strings.HasPrefix(key[i:], r[1]) {
				b.WriteString(r[0])
				i += len(r[1])
				replaced = true
				break
			}
		}
		if !replaced {
			b.WriteByte(key[i])
			i++
		}
	}
	return b.String()
}

// openclipFromHF is convert_text_enc_state_dict_v20(sd, prefix): HF CLIP
// keys (prefix + "transformer.text_model.…") become open_clip keys (prefix
// + "transformer.resblocks.…", "token_embedding.weight" …); q, k and v
// projections are concatenated along dim 0 into in_proj_weight/in_proj_bias;
// transformer.text_projection.weight becomes text_projection, transposed.
// Keys that do not start with prefix are dropped, as in ComfyUI.
func openclipFromHF(sd StateDict, prefix string) (StateDict, error) {
	out := StateDict{}
	type qkv [3]*TensorSource
	weights := map[string]*qkv{}
	biases := map[string]*qkv{}
	slot := map[string]int{"q": 0, "k": 1, "v": 2}
	for _, k := range sd.SortedKeys() {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		v := sd[k]
		handled := false
		for _, kind := range []string{"weight", "bias"} {
			for _, x := range []string{"q", "k", "v"} {
				suffix := ".self_attn." + x + "_proj." + kind
				if strings.HasSuffix(k, suffix) {
					kPre := k[:len(k)-len("."+x+"_proj."+kind)]
					m := weights
					if kind == "bias" {
						m = biases
					}
					if m[kPre] == nil {
						m[kPre] = &qkv{}
					}
					m[kPre][slot[x]] = v
					handled = true
				}
			}
		}
		if handled {
			continue
		}
		if strings.HasSuffix(k, "transformer.text_projection.weight") {
			t, err := v.transposed()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[strings.Replace(k, "transformer.text_projection.weight", "text_projection", 1)] = t
			continue
		}
		out[relabelTextenc(k)] = v
	}
	for _, group := range []struct {
		m    map[string]*qkv
		name string
	}{{weights, ".in_proj_weight"}, {biases, ".in_proj_bias"}} {
		for kPre, parts := range group.m {
			if parts[0] == nil || parts[1] == nil || parts[2] == nil {
				return nil, fmt.Errorf("%w (%s)", ErrCorruptedTextEncoder, kPre)
			}
			t, err := concatRows(parts[0], parts[1], parts[2])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", kPre, err)
			}
			out[relabelTextenc(kPre)+group.name] = t
		}
	}
	return out, nil
}

// openclipMaxLayers is the resblock count clip_text_transformers_convert
// converts (transformers_convert(..., number=32)).
const openclipMaxLayers = 32

// hfFromOpenclip is comfy.utils.clip_text_transformers_convert(sd,
// prefixFrom, prefixTo): open_clip text-tower keys under prefixFrom become
// HF CLIP keys under prefixTo+"text_model."; in_proj_{weight,bias} are split
// into three equal dim-0 chunks (q, k, v), and text_projection is
// transposed into text_projection.weight. Keys it does not know stay as
// they are.
func hfFromOpenclip(sd StateDict, prefixFrom, prefixTo string) (StateDict, error) {
	out := StateDict{}
	for k, v := range sd {
		out[k] = v
	}
	move := func(from, to string) {
		if v, ok := out[from]; ok {
			delete(out, from)
			out[to] = v
		}
	}
	tm := prefixTo + "text_model."
	move(prefixFrom+"positional_embedding", tm+"embeddings.position_embedding.weight")
	move(prefixFrom+"token_embedding.weight", tm+"embeddings.token_embedding.weight")
	move(prefixFrom+"ln_final.weight", tm+"final_layer_norm.weight")
	move(prefixFrom+"ln_final.bias", tm+"final_layer_norm.bias")
	resblock := [][2]string{
		{"ln_1", "layer_norm1"},
		{"ln_2", "layer_norm2"},
		{"mlp.c_fc", "mlp.fc1"},
		{"mlp.c_proj", "mlp.fc2"},
		{"attn.out_proj", "self_attn.out_proj"},
	}
	for i := 0; i < openclipMaxLayers; i++ {
		from := fmt.Sprintf("%stransformer.resblocks.%d.", prefixFrom, i)
		to := fmt.Sprintf("%sencoder.layers.%d.", tm, i)
		for _, r := range resblock {
			for _, y := range []string{"weight", "bias"} {
				move(from+r[0]+"."+y, to+r[1]+"."+y)
			}
		}
		for _, y := range []string{"weight", "bias"} {
			k := from + "attn.in_proj_" + y
			w, ok := out[k]
			if !ok {
				continue
			}
			delete(out, k)
			if len(w.Shape) == 0 || w.Shape[0]%3 != 0 {
				return nil, fmt.Errorf("%s: shape %v does not split into q, k, v", k, w.Shape)
			}
			n := w.Shape[0] / 3
			for x, name := range []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"} {
				part, err := w.narrowRows(int64(x)*n, n)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				out[to+name+"."+y] = part
			}
		}
	}
	move(prefixFrom+"text_projection.weight", prefixTo+"text_projection.weight")
	if v, ok := out[prefixFrom+"text_projection"]; ok {
		delete(out, prefixFrom+"text_projection")
		t, err := v.transposed()
		if err != nil {
			return nil, fmt.Errorf("%stext_projection: %w", prefixFrom, err)
		}
		out[prefixTo+"text_projection.weight"] = t
	}
	return out, nil
}
