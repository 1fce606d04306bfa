package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
)

const testToken = "s3cret-token"

func do(t *testing.T, h http.Handler, method, target, auth, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %q", method, target, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, target, ct)
	}
	return rec.Code, out
}

func TestAuth(t *testing.T) {
	s := newServer(newMemStore(), testToken)
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "bearer " + testToken, testToken, "Bearer " + testToken + "x", "Basic " + testToken} {
		code, body := do(t, s, "GET", "/v1/inspect?key=x", auth, "")
		if code != http.StatusUnauthorized || body["error"] == "" {
			t.Errorf("Authorization %q: %d %v, want 401 with an error", auth, code, body)
		}
	}
	code, _ := do(t, s, "GET", "/v1/inspect?key=x", "Bearer "+testToken, "")
	if code == http.StatusUnauthorized {
		t.Error("right token refused")
	}
	// A worker without the secret refuses everything rather than opening up.
	code, body := do(t, newServer(newMemStore(), ""), "GET", "/v1/inspect?key=x", "Bearer ", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body["error"].(string), "CKPTPACK_TOKEN") {
		t.Errorf("no token configured: %d %v", code, body)
	}
}

func TestBadRequests(t *testing.T) {
	store := newMemStore()
	store.put("models/unet.safetensors", []byte("not used"))
	s := newServer(store, testToken)
	auth := "Bearer " + testToken
	for _, c := range []struct {
		method, target, body string
		code                 int
		mention              string
	}{
		{"POST", "/v1/checkpoints", `{`, 400, "request body"},
		{"POST", "/v1/checkpoints", `{"model":"a","clip":["b"],"vae":"c","colour":1}`, 400, "colour"},
		{"POST", "/v1/checkpoints", `{"clip":["b"],"vae":"c"}`, 400, `"model"`},
		{"POST", "/v1/checkpoints", `{"model":"a","vae":"c"}`, 400, `"clip"`},
		{"POST", "/v1/checkpoints", `{"model":"a","clip":["b"]}`, 400, `"vae"`},
		{"POST", "/v1/checkpoints", `{"model":"a","clip":["b",""],"vae":"c"}`, 400, `"clip"[1]`},
		{"POST", "/v1/checkpoints", `{"model":"a","clip":["b"],"vae":"c","prediction":"x0"}`, 400, "x0"},
		{"POST", "/v1/checkpoints", `{"model":"models/unet.safetensors","clip":["models/clip.safetensors"],"vae":"models/unet.safetensors"}`, 404, "models/clip.safetensors"},
		{"GET", "/v1/checkpoints", ``, 405, "POST"},
		{"GET", "/v1/inspect", ``, 400, `"key"`},
		{"GET", "/v1/inspect?key=nope.safetensors", ``, 404, "nope.safetensors"},
		{"POST", "/v1/inspect?key=x", ``, 405, "GET"},
		{"GET", "/v2/anything", ``, 404, "/v2/anything"},
	} {
		code, body := do(t, s, c.method, c.target, auth, c.body)
		msg, _ := body["error"].(string)
		if code != c.code || !strings.Contains(msg, c.mention) {
			t.Errorf("%s %s %s: %d %q, want %d mentioning %s", c.method, c.target, c.body, code, msg, c.code, c.mention)
		}
	}
	if store.inProgress() != 0 || len(store.objects) != 1 {
		t.Error("a refused request left an upload or an object")
	}
}

func TestNotSafetensorsIs422NamingTheObject(t *testing.T) {
	store := newMemStore()
	store.put("notes.txt", []byte("these are notes, not tensors"))
	s := newServer(store, testToken)
	code, body := do(t, s, "GET", "/v1/inspect?key=notes.txt", "Bearer "+testToken, "")
	if msg, _ := body["error"].(string); code != http.StatusUnprocessableEntity || !strings.Contains(msg, "notes.txt") {
		t.Errorf("inspect of a text file: %d %q, want 422 naming notes.txt", code, msg)
	}
}

func TestClassifyStoreFailureAs502(t *testing.T) {
	calls := &storeCalls{}
	err := &storeError{Op: "get", Key: "k", Err: errInjected}
	if e := classify(err, calls); e.Status != http.StatusBadGateway || !strings.Contains(e.Message, `"k"`) {
		t.Errorf("store failure: %d %q", e.Status, e.Message)
	}
	// However the engine wrapped it, a request that saw a bucket failure is
	// the bucket's fault.
	calls.fail(err)
	if e := classify(errString("checkpoint: reading unet: something"), calls); e.Status != http.StatusBadGateway {
		t.Errorf("engine error after a bucket failure: %d", e.Status)
	}
	if e := classify(errString("checkpoint: vae.safetensors holds a text encoder"), &storeCalls{}); e.Status != http.StatusUnprocessableEntity {
		t.Errorf("engine error: %d", e.Status)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestNextCounterOverBucketEntries(t *testing.T) {
	store := newMemStore()
	for _, k := range []string{
		"checkpoints/ComfyUI_00001_.safetensors",
		"checkpoints/ComfyUI_00003_.safetensors",
		"checkpoints/ComfyUI_00007_/x.png", // a folder entry counts too
		"checkpoints/Other_00009_.safetensors",
		"checkpoints/deeper/ComfyUI_00020_.safetensors",
		"ComfyUI_00042_.safetensors",
	} {
		store.put(k, nil)
	}
	for _, c := range []struct {
		folder, filename string
		want             int
	}{
		{"checkpoints", "ComfyUI", 8},
		{"checkpoints", "Other", 10},
		{"checkpoints/deeper", "ComfyUI", 21},
		{"", "ComfyUI", 43},
		{"empty", "ComfyUI", 1},
	} {
		entries, err := folderEntries(store, c.folder, c.filename)
		got := checkpoint.NextCounter(c.filename, entries)
		if err != nil || got != c.want {
			t.Errorf("NextCounter over folderEntries(%q, %q) = %d, %v; want %d", c.folder, c.filename, got, err, c.want)
		}
	}
}
