package comfy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultFilenamePrefix is CheckpointSave's default filename_prefix.
const DefaultFilenamePrefix = "checkpoints/ComfyUI"

// ResolvePrefix applies ComfyUI's get_save_image_path rules
// (folder_paths.py) to a filename_prefix:
//
//  1. only if it contains "%": %width% and %height% become 0 (checkpoints
//     have no image size), %year% the year, %month% %day% %hour% %minute%
//     %second% two-digit values of now, replaced one token after the
//     other in that order; other %…% text stays as it is;
//  2. os.path.normpath (POSIX rules: "a//b", "a/./b" and "x/../y"
//     collapse; "\" is an ordinary character as on ComfyUI's Linux hosts);
//  3. subfolder = dirname, filename = basename of the normalised path;
//  4. refusal (ErrPrefixEscapes) when the folder lies outside the output
//     folder: absolute prefixes and prefixes whose ".." climb above it.
//
// subfolder uses "/" separators and is "" for the output directory itself.
//
// Two cases differ from ComfyUI on purpose, both returning an error with
// the reason instead of writing a surprising file:
//   - a trailing "/" ("checkpoints/") or a last component that normpath
//     changes in length ("a/b/.."): ComfyUI uses the normalised name for
//     the file but counts with len(basename(prefix)) of the raw prefix, so
//     no existing file ever matches, the counter is always 1 and every
//     save silently overwrites <output>/checkpoints_00001_.safetensors
//     (ErrPrefixOverwrites);
//   - no file name at all ("", ".", "a/.."): ComfyUI would write a hidden
//     "._00001_.safetensors" (ErrPrefixNoName).
func ResolvePrefix(prefix string, now time.Time) (subfolder, filename string, err error) {
	expanded := prefix
	if strings.Contains(expanded, "%") {
		for _, kv := range [][2]string{
			{"%width%", "0"}, {"%height%", "0"},
			{"%year%", strconv.Itoa(now.Year())},
			{"%month%", twoDigits(int(now.Month()))},
			{"%day%", twoDigits(now.Day())},
			{"%hour%", twoDigits(now.Hour())},
			{"%minute%", twoDigits(now.Minute())},
			{"%second%", twoDigits(now.Second())},
		} {
			expanded = strings.ReplaceAll(expanded, kv[0], kv[1])
		}
	}
	norm := posixNormpath(expanded)
	subfolder, filename = "", norm
	if i := strings.LastIndexByte(norm, '/'); i >= 0 {
		subfolder, filename = norm[:i], norm[i+1:]
	}
	// normpath has removed every ".." it could, so the folder is outside
	// the output folder exactly when it is absolute or still starts with "..".
	if strings.HasPrefix(norm, "/") || subfolder == ".." || strings.HasPrefix(subfolder, "../") {
		return "", "", fmt.Errorf("%w: %q (ComfyUI: \"Saving image outside the output folder is not allowed.\")", ErrPrefixEscapes, prefix)
	}
	if filename == "." || filename == ".." || filename == "" {
		return "", "", fmt.Errorf("%w: %q", ErrPrefixNoName, prefix)
	}
	raw := expanded[strings.LastIndexByte(expanded, '/')+1:]
	if utf8.RuneCountInString(raw) != utf8.RuneCountInString(filename) {
		return "", "", fmt.Errorf("%w: with %q ComfyUI would save every checkpoint as %s, overwriting the previous one; end the prefix with a file name (e.g. %q)",
			ErrPrefixOverwrites, prefix, joinSub(subfolder, CheckpointFileName(filename, 1)), joinSub(norm, "ComfyUI"))
	}
	return subfolder, filename, nil
}

func joinSub(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func twoDigits(v int) string {
	if v < 10 {
		return "0" + strconv.Itoa(v)
	}
	return strconv.Itoa(v)
}

// posixNormpath is Python's posixpath.normpath.
func posixNormpath(p string) string {
	if p == "" {
		return "."
	}
	initial := 0
	if strings.HasPrefix(p, "/") {
		initial = 1
		if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
			initial = 2 // POSIX leaves exactly two leading slashes alone
		}
	}
	var comps []string
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." {
			continue
		}
		if c != ".." || (initial == 0 && len(comps) == 0) || (len(comps) > 0 && comps[len(comps)-1] == "..") {
			comps = append(comps, c)
		} else if len(comps) > 0 {
			comps = comps[:len(comps)-1]
		}
	}
	out := strings.Repeat("/", initial) + strings.Join(comps, "/")
	if out == "" {
		return "."
	}
	return out
}

// NextCounter returns ComfyUI's next counter for filename given the names of
// the entries already in the folder (any extension, files and folders),
// exactly as get_save_image_path computes it: an entry counts when its
// first len(filename) characters are filename and the next one is "_"; its
// number is Python's int() of the text between that "_" and the next "_"
// (or the end), 0 when that is not a number ("ComfyUI_final.png" counts as
// 0). The counter is the largest number plus one, 1 when nothing matches.
// Gaps are not reused. Comparison is case-sensitive, as on Linux, and by
// characters (code points), as Python slices strings.
func NextCounter(filename string, entries []string) int {
	name := []rune(filename)
	best, found := 0, false
	for _, e := range entries {
		r := []rune(e)
		if len(r) < len(name)+1 || string(r[:len(name)]) != filename || r[len(name)] != '_' {
			continue
		}
		rest := string(r[len(name)+1:])
		if i := strings.IndexByte(rest, '_'); i >= 0 {
			rest = rest[:i]
		}
		n, ok := pythonInt(rest)
		if !ok {
			n = 0
		}
		if !found || n > best {
			best, found = n, true
		}
	}
	if !found {
		return 1
	}
	return best + 1
}

// pythonInt parses s as Python's int(s) does for the strings a file name can
// hold: surrounding whitespace, an optional sign, then decimal digits of any
// script (Unicode category Nd). Values beyond the int range saturate.
func pythonInt(s string) (int, bool) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	v := 0
	for _, r := range s {
		d, ok := digitValue(r)
		if !ok {
			return 0, false
		}
		if v > (math.MaxInt-1-d)/10 {
			v = math.MaxInt - 1 // saturate; +1 must still fit
			continue
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}

// digitValue is the decimal value of a Unicode decimal digit. Nd digits come
// in runs of ten from zero (some runs adjoin, as in the mathematical
// alphanumerics), so the value is the distance from the run's start mod 10.
func digitValue(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	if !unicode.IsDigit(r) {
		return 0, false
	}
	start := r
	for unicode.IsDigit(start - 1) {
		start--
	}
	return int(r-start) % 10, true
}

// CheckpointFileName is "<filename>_<counter:05>_.safetensors", Python's
// f"{filename}_{counter:05}_.safetensors".
func CheckpointFileName(filename string, counter int) string {
	return fmt.Sprintf("%s_%05d_.safetensors", filename, counter)
}

// OutputName is the file CheckpointSave writes next, and the title it gives
// the checkpoint.
type OutputName struct {
	Subfolder string // as ResolvePrefix returned it: "checkpoints"; "" for the root
	Counter   int    // 1, 2 …
	Name      string // "ComfyUI_00001_.safetensors"
	Title     string // modelspec.title: "ComfyUI 1"
}

// Path is the output's "/"-separated path below the output folder.
func (o OutputName) Path() string { return joinSub(o.Subfolder, o.Name) }

// NextOutputName is what CheckpointSave saves as next for the subfolder and
// filename ResolvePrefix returned, given the names of the entries already in
// that subfolder (none when it does not exist): the next counter (see
// NextCounter), f"{filename}_{counter:05}_.safetensors", and the title
// "{} {}".format(filename, counter).
func NextOutputName(subfolder, filename string, entries []string) OutputName {
	return OutputNameAt(subfolder, filename, NextCounter(filename, entries))
}

// OutputNameAt is the name and title CheckpointSave gives the checkpoint
// with the given counter, for a host that reserves counters itself.
func OutputNameAt(subfolder, filename string, counter int) OutputName {
	return OutputName{
		Subfolder: subfolder,
		Counter:   counter,
		Name:      CheckpointFileName(filename, counter),
		Title:     fmt.Sprintf("%s %d", filename, counter),
	}
}
