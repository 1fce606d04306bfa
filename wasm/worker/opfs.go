//go:build js && wasm

package main

import (
	"fmt"
	"strings"
	"syscall/js"

	"github.com/ckptpack/ckptpack/internal/jsio"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
	"github.com/ckptpack/ckptpack/wasm/internal/job"
)

// The origin private file system is the worker's "output directory": saved
// checkpoints live under the folders their filename_prefix names
// ("checkpoints/ComfyUI_00001_.safetensors").

func opfsRoot() (js.Value, error) {
	storage := js.Global().Get("navigator").Get("storage")
	if storage.IsUndefined() || storage.Get("getDirectory").Type() != js.TypeFunction {
		return js.Undefined(), fmt.Errorf("this browser has no origin private file system (navigator.storage.getDirectory)")
	}
	root, err := jsio.AwaitCall(storage, "getDirectory")
	if err != nil {
		return js.Undefined(), fmt.Errorf("opening browser storage: %w", err)
	}
	return root, nil
}

// splitPath checks a relative OPFS path ("checkpoints/a.safetensors") and
// splits it into folders and a final name. It refuses anything that is not
// a plain relative path, so a page message cannot reach outside the tree it
// names.
func splitPath(path string) (dirs []string, name string, err error) {
	if path == "" || strings.HasPrefix(path, "/") {
		return nil, "", fmt.Errorf("%q is not a relative path", path)
	}
	segs := strings.Split(path, "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || strings.ContainsRune(s, '\\') {
			return nil, "", fmt.Errorf("%q is not a plain relative path", path)
		}
	}
	return segs[:len(segs)-1], segs[len(segs)-1], nil
}

// openDir walks (and with create, makes) the folders dirs below root.
// A missing folder without create returns ok=false and no error.
func openDir(root js.Value, dirs []string, create bool) (dir js.Value, ok bool, err error) {
	dir, _, ok, err = walkDirs(root, dirs, create)
	return dir, ok, err
}

// createdFolders is the chain of folders one openDir call made (outermost
// first), each with the folder that holds it, so a write that fails or is
// cancelled can take away what it added and leave browser storage as it
// found it.
type createdFolders struct {
	holders []js.Value
	names   []string
}

// removeIfEmpty removes the created folders, innermost first, each only if
// it is still empty (another save may have put a file there meanwhile).
func (c createdFolders) removeIfEmpty() {
	for i := len(c.names) - 1; i >= 0; i-- {
		// removeEntry without recursive refuses a folder that is not empty.
		if _, err := jsio.AwaitCall(c.holders[i], "removeEntry", c.names[i]); err != nil {
			return
		}
	}
}

// walkDirs is openDir that also reports the folders it created.
func walkDirs(root js.Value, dirs []string, create bool) (dir js.Value, made createdFolders, ok bool, err error) {
	dir = root
	for _, d := range dirs {
		next, err := jsio.AwaitCall(dir, "getDirectoryHandle", d)
		if je, isJS := err.(*jsio.Error); isJS && je.Name == "NotFoundError" {
			if !create {
				return js.Undefined(), made, false, nil
			}
			made.holders, made.names = append(made.holders, dir), append(made.names, d)
			next, err = jsio.AwaitCall(dir, "getDirectoryHandle", d, map[string]any{"create": true})
		}
		if err != nil {
			return js.Undefined(), made, false, fmt.Errorf("opening folder %s: %w", d, err)
		}
		dir = next
	}
	return dir, made, true, nil
}

func subfolderDirs(sub string) []string {
	if sub == "" {
		return nil
	}
	return strings.Split(sub, "/")
}

// entryNames lists the names in an OPFS folder (files and folders), the
// input of ComfyUI's counter.
func entryNames(root js.Value, subfolder string) ([]string, error) {
	dir, ok, err := openDir(root, subfolderDirs(subfolder), false)
	if err != nil || !ok {
		return nil, err
	}
	var names []string
	err = forEachEntry(dir, func(name string, _ js.Value) error {
		names = append(names, name)
		return nil
	})
	return names, err
}

// forEachEntry iterates a FileSystemDirectoryHandle's async iterator.
func forEachEntry(dir js.Value, fn func(name string, handle js.Value) error) error {
	it, err := jsio.Call(dir, "entries")
	if err != nil {
		return err
	}
	for {
		r, err := jsio.AwaitCall(it, "next")
		if err != nil {
			return fmt.Errorf("listing folder: %w", err)
		}
		if r.Get("done").Truthy() {
			return nil
		}
		pair := r.Get("value")
		if err := fn(pair.Index(0).String(), pair.Index(1)); err != nil {
			return err
		}
	}
}

// storedFile is one entry of a "listed" reply.
type storedFile struct {
	Path         string  `json:"path"`
	Name         string  `json:"name"`
	Bytes        int64   `json:"bytes"`
	LastModified float64 `json:"lastModified"`
	// Partial marks a ".part" file: a save in progress, or one that a closed
	// tab or crash interrupted (delete it to free its space).
	Partial bool `json:"partial,omitempty"`
}

// listFiles walks the whole OPFS tree.
func listFiles(root js.Value) ([]storedFile, error) {
	var files []storedFile
	var walk func(dir js.Value, prefix string) error
	walk = func(dir js.Value, prefix string) error {
		return forEachEntry(dir, func(name string, h js.Value) error {
			path := prefix + name
			if h.Get("kind").String() == "directory" {
				return walk(h, path+"/")
			}
			f, err := jsio.AwaitCall(h, "getFile")
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			files = append(files, storedFile{
				Path: path, Name: name,
				Bytes:        int64(f.Get("size").Float()),
				LastModified: f.Get("lastModified").Float(),
				Partial:      strings.HasSuffix(name, streamwriter.PartSuffix),
			})
			return nil
		})
	}
	return files, walk(root, "")
}

// removePath deletes one file.
func removePath(root js.Value, path string) error {
	dirs, name, err := splitPath(path)
	if err != nil {
		return err
	}
	dir, ok, err := openDir(root, dirs, false)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: no such file", path)
	}
	if _, err := jsio.AwaitCall(dir, "removeEntry", name); err != nil {
		if je, isJS := err.(*jsio.Error); isJS && je.Name == "NotFoundError" {
			return fmt.Errorf("%s: no such file", path)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

type quotaInfo struct {
	Usage int64 `json:"usage"`
	Quota int64 `json:"quota"`
	// LimitKnown is false when quota is Chromium's fixed stand-in
	// (job.QuotaKnown): quota - usage is then not what is free.
	LimitKnown bool `json:"limitKnown"`
	Persisted  bool `json:"-"`
}

// estimate reads navigator.storage.estimate(). In Chromium 138+ quota is a
// fixed usage + 10 GiB (not the enforced limit, which follows free disk).
func estimate() (quotaInfo, error) {
	storage := js.Global().Get("navigator").Get("storage")
	if storage.Type() != js.TypeObject || storage.Get("estimate").Type() != js.TypeFunction {
		return quotaInfo{}, fmt.Errorf("this browser has no storage estimate (navigator.storage.estimate)")
	}
	est, err := jsio.AwaitCall(storage, "estimate")
	if err != nil {
		return quotaInfo{}, fmt.Errorf("reading storage estimate: %w", err)
	}
	q := quotaInfo{Usage: int64(est.Get("usage").Float()), Quota: int64(est.Get("quota").Float())}
	q.LimitKnown = job.QuotaKnown(q.Usage, q.Quota)
	if storage.Get("persisted").Type() == js.TypeFunction {
		if p, err := jsio.AwaitCall(storage, "persisted"); err == nil {
			q.Persisted = p.Truthy()
		}
	}
	return q, nil
}
