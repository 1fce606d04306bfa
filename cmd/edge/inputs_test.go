package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// Torch checkpoints in the bucket are read like .safetensors objects, and
// a pickle that calls os.system is refused with 422 naming the class.
func TestTorchCheckpointObjects(t *testing.T) {
	store := newMemStore()
	for _, name := range []string{"state_dict.ckpt", "malicious.ckpt"} {
		b, err := os.ReadFile("../../testdata/torch/" + name)
		if err != nil {
			t.Fatal(err)
		}
		store.put("models/"+name, b)
	}
	s := newServer(store, testToken)
	code, body := do(t, s, "GET", "/v1/inspect?key=models/state_dict.ckpt", "Bearer "+testToken, "")
	if n, _ := body["tensors"].(float64); code != http.StatusOK || n != 11 {
		t.Errorf("inspect state_dict.ckpt: %d %v", code, body)
	}
	code, body = do(t, s, "GET", "/v1/inspect?key=models/malicious.ckpt", "Bearer "+testToken, "")
	if msg, _ := body["error"].(string); code != http.StatusUnprocessableEntity || !strings.Contains(msg, "models/malicious.ckpt: pickle wants posix.system: refused") {
		t.Errorf("inspect malicious.ckpt: %d %q", code, msg)
	}
}
