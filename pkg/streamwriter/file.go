package streamwriter

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// ErrExists is returned (wrapped with the path) when the output file
// already exists: a FileSink never replaces a file.
var ErrExists = errors.New("output file already exists")

// ErrBusy is returned (wrapped with the path) when another process is
// writing the same output: its temporary file is there and locked.
var ErrBusy = errors.New("another process is writing this output")

// tempSuffix ends every temporary file a FileSink writes:
// ".<name>.ckptpack.part" next to the target.
const tempSuffix = ".ckptpack.part"

// TempName is the temporary file a FileSink writes target's bytes to: hidden
// (so ComfyUI's counter rule, which only matches names starting with the
// prefix, and its file lists never see it) and marked as ckptpack's own. It
// is one name per target, so creating it exclusively claims the target:
// two processes never write the same output.
func TempName(target string) string {
	dir, name := filepath.Split(target)
	return filepath.Join(dir, "."+name+tempSuffix)
}

// TargetOfTemp is the output file a temporary file's name belongs to (a
// base name), and false for a name that is not a FileSink's temporary file.
func TargetOfTemp(name string) (string, bool) {
	t, ok := strings.CutSuffix(name, tempSuffix)
	if !ok || len(t) < 2 || t[0] != '.' {
		return "", false
	}
	return t[1:], true
}

// FileSink writes to a hidden temporary file next to the target
// (TempName), holding an exclusive lock on it while it writes, so a later
// run can tell a temporary file left by a killed process (unlocked) from
// one still being written (RemoveStaleTemps). Finish fsyncs it and moves it
// to the target without replacing an existing file; Abort removes it.
type FileSink struct {
	target string
	f      *os.File
	closed bool
	at     int64 // bytes appended so far
	wb     writeback

	// NoFastCopy disables the copy_file_range path of CopyRange (every byte
	// then goes through Write). For measuring, and for filesystems where the
	// kernel copy misbehaves.
	NoFastCopy bool
	// NoSync skips the fsync of the file and its directory in Finish, and
	// the early writeback that makes that fsync cheap. Only for
	// measurements that compare with a tool that does not fsync.
	NoSync bool
}

// CreateFile starts writing target. It fails with ErrExists if target is
// already there (checked again, atomically where the OS allows, in Finish),
// and with ErrBusy if another process is writing it. A temporary file of
// target left by a process that died is removed first. The directory must
// exist.
func CreateFile(target string) (*FileSink, error) {
	if _, err := os.Lstat(target); err == nil {
		return nil, fmt.Errorf("%s: %w", target, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	tmp := TempName(target)
	f, err := createTemp(tmp)
	if errors.Is(err, fs.ErrExist) {
		if st, serr := checkStale(tmp, time.Now()); serr == nil && st {
			os.Remove(tmp)
			f, err = createTemp(tmp)
		}
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%s: %w (its temporary file %s is there)", target, ErrBusy, filepath.Base(tmp))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: creating temporary file: %w", target, err)
	}
	return &FileSink{target: target, f: f}, nil
}

// createTemp creates path exclusively and locks it before anything is
// written (an unlocked empty file is what RemoveStaleTemps leaves alone
// while it is young). Unlike os.CreateTemp (mode 0600) it asks for 0666 so
// the umask decides, as for any file a program saves: a ComfyUI server
// running as another user must be able to read the checkpoint.
func createTemp(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	liveTemps.add(path)
	return f, nil
}

// appended counts n bytes appended to the file and, unless NoSync, has
// their disk write started early (see writeback).
func (s *FileSink) appended(n int64) {
	s.at += n
	if !s.NoSync {
		s.wb.appended(s.f, s.at)
	}
}

// Target is the path the file gets on Finish.
func (s *FileSink) Target() string { return s.target }

// TempPath is the temporary file being written.
func (s *FileSink) TempPath() string { return s.f.Name() }

// Write appends p to the temporary file. A short write (disk full) is an
// error naming the target.
func (s *FileSink) Write(p []byte) (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	n, err := s.f.Write(p)
	s.appended(int64(n))
	if err != nil {
		return n, s.wrap(err)
	}
	return n, nil
}

// CopyRange appends n bytes of src at off with the kernel's file-to-file
// copy when src is an *os.File (os.File.ReadFrom uses copy_file_range,
// sendfile or splice where it can and a small buffered copy where it
// cannot). It moves src's file offset, which ReadAt does not use.
func (s *FileSink) CopyRange(src io.ReaderAt, off, n int64) (int64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	f, ok := src.(*os.File)
	if !ok || s.NoFastCopy {
		return 0, fmt.Errorf("streamwriter: fast copy from %T: %w", src, errors.ErrUnsupported)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, &SourceError{Err: err}
	}
	written, err := s.f.ReadFrom(io.LimitReader(f, n))
	s.appended(written)
	if err != nil {
		// ReadFrom does not say which side failed; a path error names it.
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == f.Name() {
			return written, &SourceError{Err: err}
		}
		return written, s.wrap(err)
	}
	if written < n {
		return written, &SourceError{Err: io.ErrUnexpectedEOF}
	}
	return written, nil
}

// Finish flushes the file to disk and gives it its name. The target is
// never replaced: a file that appeared there meanwhile makes Finish fail
// (and the caller's Abort removes the temporary file).
func (s *FileSink) Finish() error {
	if s.closed {
		return ErrClosed
	}
	s.wb.stop()
	if !s.NoSync {
		if err := s.f.Sync(); err != nil {
			return s.wrap(err)
		}
	}
	// The file stays open, so locked, until it has its name: closed first,
	// another run could take it for a dead process's leftover. Windows
	// cannot rename an open file (and has no lock here).
	if runtime.GOOS == "windows" {
		if err := s.f.Close(); err != nil {
			return s.wrap(err)
		}
	}
	if err := publish(s.f.Name(), s.target); err != nil {
		return err
	}
	liveTemps.remove(s.f.Name())
	if runtime.GOOS != "windows" {
		if err := s.f.Close(); err != nil {
			return s.wrap(err)
		}
	}
	s.closed = true
	if !s.NoSync {
		syncDir(filepath.Dir(s.target))
	}
	return nil
}

// publish moves tmp to target without replacing target. A hard link fails
// atomically when target exists; filesystems without hard links fall back
// to check-then-rename.
func publish(tmp, target string) error {
	err := os.Link(tmp, target)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", target, ErrExists)
	}
	if _, serr := os.Lstat(target); serr == nil {
		return fmt.Errorf("%s: %w", target, ErrExists)
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	return nil
}

// syncDir makes the rename durable. Best effort: directories cannot be
// opened for sync on every OS, and the data itself is already on disk.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Abort removes the temporary file. It is safe to call more than once and
// after a failed Finish; after a successful Finish it leaves the finished
// file alone.
func (s *FileSink) Abort() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.wb.stop()
	// Removed while still locked, so no other run ever sees it unlocked.
	err := os.Remove(s.f.Name())
	liveTemps.remove(s.f.Name())
	s.f.Close()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// wrap names the target in an error from the temporary file, so a message
// reads "<output>: write: no space left on device" rather than naming a
// hidden .part file the user never asked for.
func (s *FileSink) wrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %s: %w", s.target, pe.Op, pe.Err)
	}
	return fmt.Errorf("%s: %w", s.target, err)
}
