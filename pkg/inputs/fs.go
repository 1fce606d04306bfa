package inputs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
)

// OSFS is the operating system's files, for the CLI. Names are paths as
// the user typed them. Every file it opens stays open until Close.
type OSFS struct {
	mu     sync.Mutex
	opened []*os.File
}

// Open opens a regular file read-only. What the path names is looked at
// first (following symlinks) and anything but a regular file is refused
// without being opened: opening a named pipe blocks until a writer comes,
// and a device is endless or empty. The opened file is checked again, so a
// path swapped meanwhile is refused too.
func (o *OSFS) Open(name string) (checkpoint.Input, error) {
	p := filepath.FromSlash(name)
	before, err := StatRegular(p)
	if err != nil {
		return checkpoint.Input{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return checkpoint.Input{}, pathError(name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return checkpoint.Input{}, pathError(name, err)
	}
	if !fi.Mode().IsRegular() || !os.SameFile(before, fi) {
		f.Close()
		return checkpoint.Input{}, fmt.Errorf("%s: changed while being opened", name)
	}
	o.mu.Lock()
	o.opened = append(o.opened, f)
	o.mu.Unlock()
	return checkpoint.Input{Name: name, R: f, Size: fi.Size()}, nil
}

// StatRegular stats path (following symlinks) and refuses anything that is
// not a regular file, naming what it is: "x: is a folder", "x is not a
// regular file (named pipe)". It opens nothing, so a named pipe or device
// is refused at once. Every input file the CLI reads is checked with it
// before it is opened.
func StatRegular(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, pathError(path, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a folder", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, FileKind(fi.Mode()))
	}
	return fi, nil
}

// FileKind names the kind of file a mode is, for messages.
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "folder"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file"
}

// IsDir reports whether name is a folder.
func (o *OSFS) IsDir(name string) (bool, error) {
	fi, err := os.Stat(filepath.FromSlash(name))
	if err != nil {
		return false, pathError(name, err)
	}
	return fi.IsDir(), nil
}

// ReadDir lists a folder's entry names.
func (o *OSFS) ReadDir(name string) ([]string, error) {
	ents, err := os.ReadDir(filepath.FromSlash(name))
	if err != nil {
		return nil, pathError(name, err)
	}
	out := make([]string, len(ents))
	for i, e := range ents {
		out[i] = e.Name()
	}
	return out, nil
}

// Close closes every file opened.
func (o *OSFS) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	for _, f := range o.opened {
		errs = append(errs, f.Close())
	}
	o.opened = nil
	return errors.Join(errs...)
}

// pathError turns "open x: no such file" into "x: no such file", the form
// every other message has.
func pathError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", name, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// MapFS is a set of already-open files by slash path, with the folders
// their paths imply: the browser worker's view of a picked or dropped
// folder (each File with its webkitRelativePath), and tests'.
type MapFS map[string]checkpoint.Input

func cleanName(name string) string { return strings.TrimSuffix(path.Clean(name), "/") }

// Open returns the file called name.
func (m MapFS) Open(name string) (checkpoint.Input, error) {
	in, ok := m[cleanName(name)]
	if !ok {
		if d, _ := m.IsDir(name); d {
			return checkpoint.Input{}, fmt.Errorf("%s: is a folder", name)
		}
		return checkpoint.Input{}, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return in, nil
}

// IsDir reports whether some file lies under name.
func (m MapFS) IsDir(name string) (bool, error) {
	name = cleanName(name)
	if _, ok := m[name]; ok {
		return false, nil
	}
	for p := range m {
		if name == "." || strings.HasPrefix(p, name+"/") {
			return true, nil
		}
	}
	return false, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
}

// ReadDir lists the names directly under folder name.
func (m MapFS) ReadDir(name string) ([]string, error) {
	name = cleanName(name)
	seen := map[string]bool{}
	for p := range m {
		rest, ok := p, name == "."
		if !ok {
			rest, ok = strings.CutPrefix(p, name+"/")
		}
		if !ok {
			continue
		}
		first, _, _ := strings.Cut(rest, "/")
		seen[first] = true
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// Root is the one top-level folder of every path in m ("" when the paths
// do not share one): the folder a user picked or dropped.
func (m MapFS) Root() string {
	root := ""
	for p := range m {
		first, _, ok := strings.Cut(p, "/")
		if !ok || (root != "" && first != root) {
			return ""
		}
		root = first
	}
	return root
}
