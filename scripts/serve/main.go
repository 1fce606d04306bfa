// Command serve is the static file server for `make serve` and the browser
// tests: it serves a site folder on 127.0.0.1 with explicit MIME types
// (application/wasm above all, which WebAssembly.instantiateStreaming requires of other hosts),
// Cache-Control: no-cache (the browser revalidates every file, so a rebuild
// is always picked up; the service worker does the offline caching), and
// precompressed .br/.gz siblings when the client accepts them (dist/).
//
//	go run ./scripts/serve -dir web -addr 127.0.0.1:8080
//	go run ./scripts/serve -dir web -mount /tests/fixtures-web/=tests/fixtures-web
package main

import (
	"flag"
	"fmt"
	"log"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// contentTypes are set explicitly: the host's mime.types (or its absence)
// must not decide whether the wasm streams.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".wasm":        "application/wasm",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".txt":         "text/plain; charset=utf-8",
	".md":          "text/markdown; charset=utf-8",
	".safetensors": "application/octet-stream",
}

type mount struct {
	prefix string // URL prefix, "/" or "/tests/fixtures-web/"
	dir    string
}

type mounts []mount

func (m *mounts) String() string { return fmt.Sprint(*m) }
func (m *mounts) Set(v string) error {
	prefix, dir, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("want /prefix/=dir, got %q", v)
	}
	*m = append(*m, mount{prefix, dir})
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	dir := flag.String("dir", "web", "folder served at /")
	var extra mounts
	flag.Var(&extra, "mount", "also serve a folder under a URL prefix: /prefix/=dir (repeatable)")
	isolate := flag.Bool("isolate", false, "send COOP/COEP headers (cross-origin isolation; ckptpack does not need it)")
	verbose := flag.Bool("v", false, "log every request")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("serve: ")

	all := append(mounts{}, extra...)
	all = append(all, mount{"/", *dir})
	for _, m := range all {
		if st, err := os.Stat(m.dir); err != nil || !st.IsDir() {
			log.Fatalf("%s: not a folder", m.dir)
		}
	}
	h := &handler{mounts: all, isolate: *isolate, verbose: *verbose}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("serving %s on http://%s/", *dir, *addr)
	log.Fatal(srv.ListenAndServe())
}

type handler struct {
	mounts  mounts
	isolate bool
	verbose bool
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.verbose {
		log.Printf("%s %s", r.Method, r.URL.Path)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	upath := path.Clean("/" + r.URL.Path)
	if strings.HasSuffix(r.URL.Path, "/") && upath != "/" {
		upath += "/"
	}
	for _, m := range h.mounts {
		if strings.HasPrefix(upath, m.prefix) || upath+"/" == m.prefix {
			h.serveFile(w, r, m, strings.TrimPrefix(upath, m.prefix))
			return
		}
	}
	http.NotFound(w, r)
}

func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, m mount, rel string) {
	if rel == "" || strings.HasSuffix(rel, "/") {
		rel += "index.html"
	}
	// path.Clean above removed any "..": rel stays inside m.dir.
	name := filepath.Join(m.dir, filepath.FromSlash(rel))
	st, err := os.Stat(name)
	if err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	ext := path.Ext(rel)
	ctype, ok := contentTypes[ext]
	if !ok {
		if ctype = mime.TypeByExtension(ext); ctype == "" {
			ctype = "application/octet-stream"
		}
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if h.isolate {
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
		hdr.Set("Cross-Origin-Embedder-Policy", "require-corp")
	}
	// Precompressed siblings (dist/): no Range support on them, so only for
	// whole-file requests.
	serveName := name
	if r.Header.Get("Range") == "" {
		accept := r.Header.Get("Accept-Encoding")
		for _, enc := range []struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
			if !acceptsEncoding(accept, enc.token) {
				continue
			}
			if cst, err := os.Stat(name + enc.ext); err == nil && !cst.IsDir() && !cst.ModTime().Before(st.ModTime()) {
				serveName = name + enc.ext
				hdr.Set("Content-Encoding", enc.token)
				break
			}
		}
		hdr.Add("Vary", "Accept-Encoding")
	}
	f, err := os.Open(serveName)
	if err != nil {
		http.Error(w, "cannot read file", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fst, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot read file", http.StatusInternalServerError)
		return
	}
	http.ServeContent(w, r, rel, fst.ModTime(), f)
}

func acceptsEncoding(header, token string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), token) {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		return q > 0
	}
	return false
}
