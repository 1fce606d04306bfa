package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
)

func TestParseOptionsDefaults(t *testing.T) {
	for _, text := range []string{"", "null", "{}"} {
		o, err := ParseOptions(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if o.FilenamePrefix != checkpoint.DefaultFilenamePrefix || o.Prediction != "auto" || o.SHA256 || o.IgnoreQuota {
			t.Errorf("%q: defaults = %+v", text, o)
		}
	}
}

func TestParseOptionsValues(t *testing.T) {
	o, err := ParseOptions(`{"filenamePrefix":"ckpt/my","prompt":"{\"1\":{}}","extraPnginfo":"{\"workflow\":{\"a\":1}}",
		"disableMetadata":true,"metadata":{"modelspec.author":"me"},"prediction":"v","sha256":true,"bufferMiB":64,"reader":"byob"}`)
	if err != nil {
		t.Fatal(err)
	}
	req := o.Request(checkpoint.Input{Name: "m"}, nil, checkpoint.Input{Name: "v"}, "my 3")
	if req.Prediction != checkpoint.PredictionV || req.Title != "my 3" || !req.DisableMetadata ||
		req.Metadata["modelspec.author"] != "me" || req.Prompt != `{"1":{}}` || req.ExtraPNGInfo != `{"workflow":{"a":1}}` ||
		req.Model.Name != "m" || req.VAE.Name != "v" {
		t.Errorf("request = %+v", req)
	}
	if o.FilenamePrefix != "ckpt/my" || !o.SHA256 || o.BufferMiB != 64 || o.Reader != "byob" {
		t.Errorf("options = %+v", o)
	}
}

func TestParseOptionsRefusesBadValues(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`{"prediction":"x"}`, "prediction"},
		{`{"prompt":"{nope"}`, "prompt"},
		{`{"extraPnginfo":"[1,2]"}`, "extraPnginfo"},
		{`{"bufferMiB":100000}`, "bufferMiB"},
		{`{"reader":"mmap"}`, "reader"},
		{`{"metadata":{"a":1}}`, "options"},
		{`[`, "options"},
	} {
		_, err := ParseOptions(c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one naming %q", c.text, err, c.want)
		}
	}
}

type fullErr struct{}

func (fullErr) Error() string     { return "short write" }
func (fullErr) StorageFull() bool { return true }

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{context.Canceled, CodeCancelled},
		{fmt.Errorf("copying: %w", context.Canceled), CodeCancelled},
		{fmt.Errorf("writing: %w", fullErr{}), CodeQuota},
		{&QuotaError{Bytes: 10, Usage: 1, Quota: 5}, CodeQuota},
		{fmt.Errorf("x: %w", checkpoint.ErrInputChanged), CodeInput},
		{&InputError{File: "a.safetensors", Err: errors.New("bad")}, CodeInput},
		{fmt.Errorf("%w: step 3", checkpoint.ErrBadPlan), CodeInternal},
		{errors.New("something else"), CodeInternal},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	if f := FileOf(fmt.Errorf("plan: %w", &InputError{File: "vae.safetensors", Err: errors.New("bad")})); f != "vae.safetensors" {
		t.Errorf("FileOf = %q", f)
	}
}

func TestQuotaMessages(t *testing.T) {
	if !Fits(100, 0, 100) || Fits(101, 0, 100) || Fits(60, 50, 100) {
		t.Error("Fits is wrong at the boundary")
	}
	m := QuotaMessage(6_940_000_000, 1_000_000, 300_000_000)
	for _, want := range []string{"6.94 GB", "299.00 MB", "private", "Save to a file on disk"} {
		if !strings.Contains(m, want) {
			t.Errorf("small quota message %q lacks %q", m, want)
		}
	}
	m = QuotaMessage(12_000_000_000, 0, 10_737_418_240)
	if strings.Contains(m, "private") || !strings.Contains(m, "12.00 GB") || !strings.Contains(m, "10.74 GB") {
		t.Errorf("large quota message %q", m)
	}
	if m := StorageFullMessage(errors.New("out.safetensors: stopped"), 1_300_000_000); !strings.Contains(m, "1.30 GB") || !strings.Contains(m, "Nothing was kept") {
		t.Errorf("storage full message %q", m)
	}
}

func TestResolveOutputUsesComfyUICounter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var asked []string
	out, err := ResolveOutput("checkpoints/ComfyUI", now, func(sub string) ([]string, error) {
		asked = append(asked, sub)
		return []string{"ComfyUI_00001_.safetensors", "ComfyUI_00002_.safetensors", "other.txt"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := checkpoint.OutputName{Subfolder: "checkpoints", Counter: 3, Name: "ComfyUI_00003_.safetensors", Title: "ComfyUI 3"}
	if out != want || out.Path() != "checkpoints/ComfyUI_00003_.safetensors" || len(asked) != 1 || asked[0] != "checkpoints" {
		t.Errorf("out = %+v (asked %v), want %+v", out, asked, want)
	}
	out, err = ResolveOutput("mine", now, func(string) ([]string, error) { return nil, nil })
	if err != nil || out.Path() != "mine_00001_.safetensors" || out.Subfolder != "" {
		t.Errorf("root prefix: %+v, %v", out, err)
	}
	if _, err := ResolveOutput("../escape", now, func(string) ([]string, error) { return nil, nil }); err == nil {
		t.Error("a prefix outside the output folder was accepted")
	}
	listErr := errors.New("listing failed")
	if _, err := ResolveOutput("checkpoints/x", now, func(string) ([]string, error) { return nil, listErr }); !errors.Is(err, listErr) {
		t.Errorf("listing error lost: %v", err)
	}
}

func TestQuotaMaskedByChromiumDoesNotRefuse(t *testing.T) {
	const gib = int64(1) << 30
	// Chromium 138+: usage + 10 GiB, whatever the disk.
	if QuotaKnown(0, 10*gib) || QuotaKnown(12*gib, 22*gib) {
		t.Error("usage + 10 GiB taken for a real quota")
	}
	if !Fits(34*gib, 0, 10*gib) || !Fits(34*gib, 12*gib, 22*gib) {
		t.Error("a Flux-sized save refused on Chromium's stand-in quota")
	}
	// Real figures still refuse: a private window's small quota, a disk-sized one.
	if !QuotaKnown(0, 1200<<20) || Fits(2*gib, 0, 1200<<20) {
		t.Error("a private window's 1.2 GB quota does not refuse 2 GB")
	}
	if Fits(34*gib, 5*gib, 30*gib) {
		t.Error("a 25 GiB free quota does not refuse 34 GiB")
	}
}

func TestTakenNamesMoveTheCounterOn(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	stored := func(sub string) ([]string, error) {
		if sub == "checkpoints" {
			return []string{"ComfyUI_00001_.safetensors"}, nil
		}
		return nil, nil
	}
	taken := []string{"ComfyUI_00001_.safetensors", "ComfyUI_00002_.safetensors", "checkpoints/ComfyUI_00002_.safetensors", "other/ComfyUI_00009_.safetensors"}
	out, err := ResolveOutput("ComfyUI", now, WithTaken(stored, taken))
	if err != nil || out.Path() != "ComfyUI_00003_.safetensors" {
		t.Errorf("root: %+v, %v", out, err)
	}
	out, err = ResolveOutput("checkpoints/ComfyUI", now, WithTaken(stored, taken))
	if err != nil || out.Path() != "checkpoints/ComfyUI_00003_.safetensors" {
		t.Errorf("checkpoints: %+v, %v", out, err)
	}
	out, err = ResolveOutput("ComfyUI", now, WithTaken(stored, nil))
	if err != nil || out.Path() != "ComfyUI_00001_.safetensors" {
		t.Errorf("nothing taken: %+v, %v", out, err)
	}
}
