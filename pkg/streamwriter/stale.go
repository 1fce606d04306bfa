package streamwriter

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// A FileSink's temporary file outlives its process only when the process
// is killed outright (SIGKILL, a power cut): every other ending removes it.
// Such a leftover is recognised by its name (TempName) and by nobody
// holding its lock: a FileSink locks the file before writing a byte and
// holds the lock until the file has its final name or is removed. A young
// empty unlocked file may be one whose creator has not taken the lock yet,
// so only those older than staleEmptyAge count as leftovers.
const staleEmptyAge = time.Minute

// StaleTemp is a temporary file left by a FileSink whose process died.
type StaleTemp struct {
	Path    string    `json:"path"`
	Target  string    `json:"target"` // the output it was being written for
	Bytes   int64     `json:"bytes"`
	ModTime time.Time `json:"mod_time"`
}

// FindStaleTemps lists the leftover temporary files in dir (see above):
// only ckptpack's own, only unlocked ones. Other hidden or .part files are
// never looked at. A missing folder has none. Where files cannot be locked
// (see lockFile) nothing counts as stale.
func FindStaleTemps(dir string) ([]StaleTemp, error) {
	return staleTemps(dir, false)
}

// RemoveStaleTemps removes the leftover temporary files in dir and returns
// what it removed.
func RemoveStaleTemps(dir string) ([]StaleTemp, error) {
	return staleTemps(dir, true)
}

func staleTemps(dir string, remove bool) ([]StaleTemp, error) {
	if !canLock {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var out []StaleTemp
	var errs []error
	for _, e := range entries {
		target, ok := TargetOfTemp(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		st, info, err := statStale(path, now, remove)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st {
			out = append(out, StaleTemp{Path: path, Target: target, Bytes: info.Size(), ModTime: info.ModTime()})
		}
	}
	return out, errors.Join(errs...)
}

// checkStale reports whether path is a leftover temporary file.
func checkStale(path string, now time.Time) (bool, error) {
	st, _, err := statStale(path, now, false)
	return st, err
}

// statStale looks at one temporary file: it opens it (never following a
// symlink, never blocking on a pipe: see openNoFollow), tries its lock and,
// when remove is set and it is a leftover, removes it while holding that
// lock. A file replaced between the look and the removal is left alone.
func statStale(path string, now time.Time, remove bool) (bool, fs.FileInfo, error) {
	f, err := openNoFollow(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return false, nil, nil // finished or aborted meanwhile; another user's
	}
	if err != nil {
		return false, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return false, nil, err
	}
	free, err := tryLock(f)
	if err != nil || !free {
		return false, nil, err
	}
	if info.Size() == 0 && now.Sub(info.ModTime()) < staleEmptyAge {
		return false, nil, nil
	}
	if remove {
		if cur, err := os.Lstat(path); err != nil || !os.SameFile(cur, info) {
			return false, nil, nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, nil, err
		}
	}
	return true, info, nil
}

// liveTemps are this process's temporary files not yet finished or
// aborted, for RemoveTemps.
var liveTemps tempSet

type tempSet struct {
	mu    sync.Mutex
	paths []string
}

func (s *tempSet) add(p string) {
	s.mu.Lock()
	s.paths = append(s.paths, p)
	s.mu.Unlock()
}

func (s *tempSet) remove(p string) {
	s.mu.Lock()
	if i := slices.Index(s.paths, p); i >= 0 {
		s.paths = slices.Delete(s.paths, i, i+1)
	}
	s.mu.Unlock()
}

// RemoveTemps removes the temporary file of every FileSink of this process
// that is neither finished nor aborted, and returns their paths. It is for
// a process about to exit at once (a second Ctrl-C, or a first one while
// the work is stuck in a system call): the sinks are not usable after it.
// A file that is being linked into place at that moment either has its
// final name already (and is complete) or does not get it.
func RemoveTemps() []string {
	liveTemps.mu.Lock()
	defer liveTemps.mu.Unlock()
	var removed []string
	for _, p := range liveTemps.paths {
		if err := os.Remove(p); err == nil {
			removed = append(removed, p)
		}
	}
	liveTemps.paths = nil
	return removed
}

// FindLegacyTemps lists the temporary files of ckptpack versions before
// TempName (".<name>.safetensors.<random base36>.part"). Those took no
// lock, so whether one is still being written cannot be told: they are
// only reported, never removed.
func FindLegacyTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && isLegacyTemp(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

func isLegacyTemp(name string) bool {
	rest, ok := strings.CutSuffix(name, ".part")
	if _, current := TargetOfTemp(name); current || !ok || !strings.HasPrefix(rest, ".") {
		return false
	}
	i := strings.LastIndexByte(rest, '.')
	random := rest[i+1:]
	if i <= 0 || len(random) == 0 || len(random) > 13 || !strings.HasSuffix(rest[:i], ".safetensors") {
		return false
	}
	for _, c := range random {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}
