package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func testServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	root, extra := t.TempDir(), t.TempDir()
	write := func(dir, name, body string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(root, "index.html", "<!doctype html>home")
	write(root, "ckptpack.wasm", "\x00asm-raw")
	write(root, "ckptpack.wasm.br", "BR")
	write(root, "ckptpack.wasm.gz", "GZ")
	write(root, "manifest.webmanifest", "{}")
	write(root, "app/x.js", "export {}")
	write(extra, "worker.html", "harness")
	write(filepath.Dir(root), "secret.txt", "nope")
	h := &handler{mounts: mounts{{"/tests/fixtures-web/", extra}, {"/", root}}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, root
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req) // no transparent gzip
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestContentTypesAndCaching(t *testing.T) {
	srv, _ := testServer(t)
	for _, c := range []struct{ path, ctype, body string }{
		{"/", "text/html; charset=utf-8", "<!doctype html>home"},
		{"/ckptpack.wasm", "application/wasm", "\x00asm-raw"},
		{"/manifest.webmanifest", "application/manifest+json", "{}"},
		{"/app/x.js", "text/javascript; charset=utf-8", "export {}"},
		{"/tests/fixtures-web/worker.html", "text/html; charset=utf-8", "harness"},
	} {
		res, body := get(t, srv.URL+c.path, nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != c.ctype || body != c.body {
			t.Errorf("%s: %d %q %q", c.path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		if res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q", c.path, res.Header.Get("Cache-Control"))
		}
	}
}

func TestPrecompressed(t *testing.T) {
	srv, _ := testServer(t)
	for _, c := range []struct{ accept, enc, body string }{
		{"gzip, deflate, br", "br", "BR"},
		{"gzip", "gzip", "GZ"},
		{"br;q=0, gzip", "gzip", "GZ"},
		{"", "", "\x00asm-raw"},
	} {
		res, body := get(t, srv.URL+"/ckptpack.wasm", map[string]string{"Accept-Encoding": c.accept})
		if res.Header.Get("Content-Encoding") != c.enc || body != c.body || res.Header.Get("Content-Type") != "application/wasm" {
			t.Errorf("Accept-Encoding %q: encoding %q body %q type %q", c.accept, res.Header.Get("Content-Encoding"), body, res.Header.Get("Content-Type"))
		}
	}
	// Ranges are served from the uncompressed file.
	res, body := get(t, srv.URL+"/ckptpack.wasm", map[string]string{"Accept-Encoding": "br", "Range": "bytes=1-3"})
	if res.StatusCode != http.StatusPartialContent || body != "asm" || res.Header.Get("Content-Encoding") != "" {
		t.Errorf("range: %d %q %q", res.StatusCode, body, res.Header.Get("Content-Encoding"))
	}
}

func TestStaysInsideRoot(t *testing.T) {
	srv, _ := testServer(t)
	for _, p := range []string{"/../secret.txt", "/%2e%2e/secret.txt", "/app/../../secret.txt", "/missing.js", "/app"} {
		res, body := get(t, srv.URL+p, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d %q, want 404", p, res.StatusCode, body)
		}
	}
	req, _ := http.NewRequest("POST", srv.URL+"/index.html", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", res.StatusCode)
	}
}
