package job

import (
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
)

func TestParseOptionsModelSpecAndHash(t *testing.T) {
	o, err := ParseOptions(`{"modelspec":{"title":"T","trigger_phrase":"mycat","thumbnail":"data:image/png;base64,AA==","thumbnail_name":"c.png"},"hash":true}`)
	if err != nil {
		t.Fatal(err)
	}
	req := o.Request(checkpoint.Input{Name: "m"}, nil, checkpoint.Input{}, "ComfyUI 1")
	if req.ModelSpec.Title != "T" || req.ModelSpec.TriggerPhrase != "mycat" || req.ModelSpec.ThumbnailName != "c.png" || !req.HashSHA256 {
		t.Errorf("request = %+v", req)
	}
	if _, err := ParseOptions(`{"hash":true,"sha256":true}`); err == nil || !strings.Contains(err.Error(), "sha256 and hash") {
		t.Errorf("hash with sha256: %v", err)
	}
}
