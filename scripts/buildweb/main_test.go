package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPrecacheListAndVersion(t *testing.T) {
	web := t.TempDir()
	for name, body := range map[string]string{
		"index.html": "a", "worker.js": "b", "ckptpack.wasm": "c", "app/main.js": "d",
		"sw.js": "sw", "ckptpack.wasm.br": "x", "ckptpack.wasm.gz": "y", ".hidden": "h", ".git/x": "g",
	} {
		p := filepath.Join(web, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := siteFiles(web)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"app/main.js", "ckptpack.wasm", "index.html", "worker.js"}
	if !slices.Equal(files, want) {
		t.Fatalf("siteFiles = %v, want %v", files, want)
	}
	v1, err := writePrecache(web, files)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := os.ReadFile(filepath.Join(web, precacheName))
	if !strings.Contains(string(js), `"ckptpack.wasm"`) || !strings.Contains(string(js), v1) {
		t.Errorf("sw-precache.js = %s", js)
	}
	if again, _ := writePrecache(web, files); again != v1 {
		t.Errorf("same files, new version %s != %s", again, v1)
	}
	os.WriteFile(filepath.Join(web, "ckptpack.wasm"), []byte("c2"), 0o644)
	if v2, _ := writePrecache(web, files); v2 == v1 {
		t.Error("changing the wasm kept the cache version")
	}
}
