package checkpoint

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The engine is three layers, each allowed to import only the ones below
// it: safetensors (the format) ← comfy (ComfyUI's model knowledge) ←
// checkpoint (plans, executor, verbs) ← the hosts. layerRules lists, for
// each layer, the packages of pkg/ it may depend on, directly or through
// another package (its tests included). The module's internal/ helpers
// (JSON, fixtures) are open to every layer, but what they import is checked
// the same way; a dependency on anything else of the module (a layer above,
// a host) fails TestLayers. pkg/quant (the quantized formats' arithmetic)
// is a leaf beside safetensors that only checkpoint's executor uses.
var layerRules = []struct {
	pkg string
	may []string
}{
	{"pkg/safetensors", nil},
	{"pkg/quant", nil},
	{"pkg/comfy", []string{"pkg/safetensors"}},
	{"pkg/checkpoint", []string{"pkg/comfy", "pkg/safetensors", "pkg/streamwriter", "pkg/quant"}},
}

const modulePath = "github.com/ckptpack/ckptpack"

// buildContexts are the platforms the module builds for: the CLI and the
// tests on the host, the worker and the edge host on js/wasm.
func buildContexts() []build.Context {
	host := build.Default
	wasm := build.Default
	wasm.GOOS, wasm.GOARCH = "js", "wasm"
	return []build.Context{host, wasm}
}

// moduleRoot is the folder of go.mod (tests run in pkg/checkpoint).
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.Contains(string(b), "module "+modulePath+"\n") {
		t.Fatalf("%s is not the module root (%v)", root, err)
	}
	return root
}

// moduleImports are the module packages (relative paths) that the package
// in folder rel imports, from its own files and, with tests, its test files.
func moduleImports(t *testing.T, ctx build.Context, root, rel string, tests bool) []string {
	t.Helper()
	p, err := ctx.ImportDir(filepath.Join(root, rel), 0)
	if err != nil {
		if _, ok := err.(*build.NoGoError); ok {
			return nil
		}
		t.Fatalf("%s (%s/%s): %v", rel, ctx.GOOS, ctx.GOARCH, err)
	}
	imports := p.Imports
	if tests {
		imports = append(append(slices.Clone(imports), p.TestImports...), p.XTestImports...)
	}
	var out []string
	for _, path := range imports {
		if path == modulePath {
			out = append(out, ".")
		} else if r, ok := strings.CutPrefix(path, modulePath+"/"); ok {
			out = append(out, r)
		}
	}
	return out
}

// dependencies is every module package rel depends on, with the chain that
// leads to it ("pkg/comfy -> pkg/safetensors").
func dependencies(t *testing.T, ctx build.Context, root, rel string, tests bool) map[string]string {
	t.Helper()
	deps := map[string]string{}
	var walk func(pkg, chain string, withTests bool)
	walk = func(pkg, chain string, withTests bool) {
		for _, dep := range moduleImports(t, ctx, root, pkg, withTests) {
			if _, seen := deps[dep]; seen || dep == rel {
				continue
			}
			deps[dep] = chain + " -> " + dep
			walk(dep, deps[dep], false)
		}
	}
	walk(rel, rel, tests)
	return deps
}

// layerViolations checks one layer's dependencies against its rule.
func layerViolations(t *testing.T, rel string, may []string) []string {
	t.Helper()
	root := moduleRoot(t)
	var bad []string
	for _, ctx := range buildContexts() {
		for _, tests := range []bool{false, true} {
			for dep, chain := range dependencies(t, ctx, root, rel, tests) {
				allowed := strings.HasPrefix(dep, "internal/") || slices.Contains(may, dep)
				if !allowed && !slices.Contains(bad, chain) {
					bad = append(bad, chain)
				}
			}
		}
	}
	slices.Sort(bad)
	return bad
}

func TestLayers(t *testing.T) {
	for _, r := range layerRules {
		for _, chain := range layerViolations(t, r.pkg, r.may) {
			t.Errorf("%s may depend only on %v; it depends on %s", r.pkg, r.may, chain)
		}
	}
}

// TestLayersCatchUpwardImports makes sure TestLayers can fail: with the
// rules of the layer below, checkpoint's own imports are violations.
func TestLayersCatchUpwardImports(t *testing.T) {
	got := layerViolations(t, "pkg/checkpoint", layerRules[0].may)
	for _, want := range []string{"pkg/comfy", "pkg/safetensors", "pkg/streamwriter"} {
		if !slices.ContainsFunc(got, func(chain string) bool { return strings.HasSuffix(chain, " -> "+want) }) {
			t.Errorf("checkpoint held to safetensors' rule: violations %v, none reaching %s", got, want)
		}
	}
}

// TestHostsUseNoModelKnowledge: outside the engine, nothing imports package
// comfy; hosts reach ComfyUI's rules through package checkpoint.
func TestHostsUseNoModelKnowledge(t *testing.T) {
	root := moduleRoot(t)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "build") {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if rel == "pkg/comfy" || rel == "pkg/checkpoint" {
			return nil
		}
		for _, ctx := range buildContexts() {
			if slices.Contains(moduleImports(t, ctx, root, rel, true), "pkg/comfy") {
				t.Errorf("%s imports pkg/comfy; hosts use package checkpoint", rel)
				return nil
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
