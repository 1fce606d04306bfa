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

// Open opens a regular file read-only.
func (o *OSFS) Open(name string) (checkpoint.Input, error) {
	f, err := os.Open(filepath.FromSlash(name))
	if err != nil {
		return checkpoint.Input{}, pathError(name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return checkpoint.Input{}, pathError(name, err)
	}
	if fi.IsDir() {
		f.Close()
		return checkpoint.Input{}, fmt.Errorf("%s: is a folder", name)
	}
	o.mu.Lock()
	o.opened = append(o.opened, f)
	o.mu.Unlock()
	return checkpoint.Input{Name: name, R: f, Size: fi.Size()}, nil
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
