package main

import (
	"bytes"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		json bool
	}{
		{[]string{"a.safetensors", "--json"}, []string{"a.safetensors"}, true},
		{[]string{"--json", "a", "b"}, []string{"a", "b"}, true},
		{[]string{"a", "--", "--json"}, []string{"a", "--json"}, false},
		{nil, nil, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		j := fs.Bool("json", false, "")
		pos, err := parseInterspersed(fs, tc.args)
		if err != nil || !slices.Equal(pos, tc.pos) || *j != tc.json {
			t.Errorf("%q: positional %q json %v err %v; want %q %v", tc.args, pos, *j, err, tc.pos, tc.json)
		}
	}
}

func TestExtraPNGInfo(t *testing.T) {
	wf := t.TempDir() + "/wf.json"
	writeFile(t, wf, "{\"nodes\": [], \"z\": 1}\n")
	for _, tc := range []struct{ extra, workflow, want string }{
		{"", "", ""},
		{`{"a": 1}`, "", `{"a": 1}`},
		{"", wf, `{"workflow": {"nodes": [], "z": 1}}`},
		{`{"a": 1}`, wf, `{"a": 1, "workflow": {"nodes": [], "z": 1}}`},
		{`{}`, wf, `{"workflow": {"nodes": [], "z": 1}}`},
	} {
		got, err := extraPNGInfo(tc.extra, tc.workflow)
		if err != nil || got != tc.want {
			t.Errorf("extraPNGInfo(%q, %q) = %q, %v; want %q", tc.extra, tc.workflow, got, err, tc.want)
		}
	}
	if _, err := extraPNGInfo(`{"workflow": {}}`, wf); err == nil {
		t.Error("two workflows accepted")
	}
	if _, err := extraPNGInfo(`[1]`, ""); err == nil {
		t.Error("a JSON array accepted as extra_pnginfo")
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	b := &progressBar{w: &buf, meter: streamwriter.NewMeter(4e9, time.Now().Add(-2*time.Second)), width: 100}
	b.update(checkpoint.Progress{Done: 1e9, Total: 4e9, Tensor: "x"})
	line := buf.String()
	if !strings.HasPrefix(line, "\r[#####...............]  25%  1.00 GB / 4.00 GB") || !strings.Contains(line, "MB/s") || !strings.Contains(line, "ETA") {
		t.Errorf("bar %q", line)
	}
	// Redraws are rate-limited, but the final 100% is always drawn.
	buf.Reset()
	b.update(checkpoint.Progress{Done: 2e9, Total: 4e9})
	if buf.Len() != 0 {
		t.Errorf("redrawn within %v: %q", redrawEvery, buf.String())
	}
	b.update(checkpoint.Progress{Done: 4e9, Total: 4e9})
	if !strings.Contains(buf.String(), "100%  4.00 GB written, flushing to disk") {
		t.Errorf("final draw %q", buf.String())
	}
	buf.Reset()
	b.finish(false)
	if s := buf.String(); strings.TrimSpace(s) != "" || !strings.HasSuffix(s, "\r") {
		t.Errorf("failed bar not cleared: %q", s)
	}
}
