package comfy

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestResolvePrefix(t *testing.T) {
	now := time.Date(2026, time.March, 5, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		prefix, subfolder, filename string
		err                         error
	}{
		{DefaultFilenamePrefix, "checkpoints", "ComfyUI", nil},
		{"ComfyUI", "", "ComfyUI", nil},
		{"a/./b//c", "a/b", "c", nil},
		{"x/../y/z", "y", "z", nil},
		{"a/b/../../c", "", "c", nil},
		{"x/.", "", "x", nil}, // basename "." has the length of "x": ComfyUI's counter still works
		{"%year%/%month%-%day%/ck_%hour%%minute%%second%", "2026/03-05", "ck_070809", nil},
		{"%width%x%height%_%unknown%_%YEAR%", "", "0x0_%unknown%_%YEAR%", nil},
		{"100%/model", "100%", "model", nil},
		{`back\slash`, "", `back\slash`, nil}, // POSIX: "\" is not a separator
		{"ü/ñame", "ü", "ñame", nil},
		{"../x", "", "", ErrPrefixEscapes},
		{"a/../../x", "", "", ErrPrefixEscapes},
		{"/abs/dir/x", "", "", ErrPrefixEscapes},
		{"/x", "", "", ErrPrefixEscapes},
		{"//x", "", "", ErrPrefixEscapes},
		{"///x", "", "", ErrPrefixEscapes},
		{"../../..", "", "", ErrPrefixEscapes},
		{"checkpoints/", "", "", ErrPrefixOverwrites},
		{"checkpoints//", "", "", ErrPrefixOverwrites},
		{"a/b/..", "", "", ErrPrefixOverwrites},
		{"abc/.", "", "", ErrPrefixOverwrites},
		{"", "", "", ErrPrefixNoName},
		{".", "", "", ErrPrefixNoName},
		{"a/..", "", "", ErrPrefixNoName},
		{"..", "", "", ErrPrefixNoName},
		{"/", "", "", ErrPrefixEscapes},
	}
	for _, c := range cases {
		sub, name, err := ResolvePrefix(c.prefix, now)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("ResolvePrefix(%q) = %q, %q, %v; want error %v", c.prefix, sub, name, err, c.err)
			}
			continue
		}
		if err != nil || sub != c.subfolder || name != c.filename {
			t.Errorf("ResolvePrefix(%q) = %q, %q, %v; want %q, %q", c.prefix, sub, name, err, c.subfolder, c.filename)
		}
	}
	_, _, err := ResolvePrefix("checkpoints/", now)
	if err == nil || !strings.Contains(err.Error(), "checkpoints_00001_.safetensors") || !strings.Contains(err.Error(), `"checkpoints/ComfyUI"`) {
		t.Errorf("trailing slash message does not explain: %v", err)
	}
}

func TestPosixNormpath(t *testing.T) {
	// Values from Python's posixpath.normpath.
	for in, want := range map[string]string{
		"": ".", ".": ".", "/": "/", "//": "//", "///": "/", "a/": "a", "./a": "a",
		"a/../..": "..", "../a/../b": "../b", "/../a": "/a", "//a/../b": "//b", "a/./b/.": "a/b",
		"../..": "../..", "a/../../b/..": "..",
	} {
		if got := posixNormpath(in); got != want {
			t.Errorf("normpath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNextCounter(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		entries []string
		want    int
	}{
		{"empty folder", "ComfyUI", nil, 1},
		{"mixed", "ComfyUI", []string{
			"ComfyUI_00001_.safetensors", "ComfyUI_00007_.png", // any extension counts
			"ComfyUI_final.png",                                 // not a number: 0
			"comfyui_00009_.safetensors",                        // case-sensitive, as on Linux
			"ComfyUIx_00010_.safetensors", "ComfyUI-00011_.png", // no "_" right after the name
			"ComfyUI_00003", // no trailing "_": still 3
			"subdir", "Comfy",
		}, 8},
		{"gaps are not reused", "ComfyUI", []string{"ComfyUI_00002_.safetensors", "ComfyUI_00010_.safetensors"}, 11},
		{"folders count too", "ComfyUI", []string{"ComfyUI_00004_"}, 5},
		{"only non-numeric", "ComfyUI", []string{"ComfyUI_x_.png", "ComfyUI_"}, 1},
		{"spaces and sign as int()", "ComfyUI", []string{"ComfyUI_ 12 _a", "ComfyUI_+5_"}, 13},
		{"space inside is not a number", "ComfyUI", []string{"ComfyUI_1 2_"}, 1},
		{"negative", "ComfyUI", []string{"ComfyUI_-5_"}, -4},
		{"other scripts' digits", "ComfyUI", []string{"ComfyUI_٣_", "ComfyUI_𝟗_"}, 10},
		{"first number only", "ComfyUI", []string{"ComfyUI_1_2_"}, 2},
		{"characters, not bytes", "Café", []string{"Café_00002_.safetensors", "Caf_00009_"}, 3},
		{"empty name", "", []string{"_00004_.png"}, 5},
		{"huge", "C", []string{"C_99999999999999999999999_"}, math.MaxInt},
	}
	for _, c := range cases {
		if got := NextCounter(c.file, c.entries); got != c.want {
			t.Errorf("%s: NextCounter(%q) = %d, want %d", c.name, c.file, got, c.want)
		}
	}
}

func TestCheckpointFileName(t *testing.T) {
	for _, c := range []struct {
		counter int
		want    string
	}{
		{1, "ComfyUI_00001_.safetensors"},
		{99999, "ComfyUI_99999_.safetensors"},
		{123456, "ComfyUI_123456_.safetensors"},
		{-4, "ComfyUI_-0004_.safetensors"}, // Python's f"{-4:05}"
	} {
		if got := CheckpointFileName("ComfyUI", c.counter); got != c.want {
			t.Errorf("CheckpointFileName(%d) = %q, want %q", c.counter, got, c.want)
		}
	}
}

func TestNextOutputName(t *testing.T) {
	entries := []string{"ComfyUI_00002_.safetensors", "ComfyUI_00009_", "Other_00040_.png"}
	got := NextOutputName("checkpoints", "ComfyUI", entries)
	want := OutputName{Subfolder: "checkpoints", Counter: 10, Name: "ComfyUI_00010_.safetensors", Title: "ComfyUI 10"}
	if got != want || got.Path() != "checkpoints/ComfyUI_00010_.safetensors" {
		t.Errorf("NextOutputName = %+v (path %q), want %+v", got, got.Path(), want)
	}
	if got := NextOutputName("", "x", nil); got.Path() != "x_00001_.safetensors" || got.Title != "x 1" {
		t.Errorf("NextOutputName at the root of an empty folder = %+v (path %q)", got, got.Path())
	}
}
