//go:build unix

package inputs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestFileKind(t *testing.T) {
	for mode, want := range map[fs.FileMode]string{
		0o644:                             "regular file",
		fs.ModeDir:                        "folder",
		fs.ModeNamedPipe:                  "named pipe",
		fs.ModeSocket:                     "socket",
		fs.ModeDevice | fs.ModeCharDevice: "character device",
		fs.ModeDevice:                     "block device",
		fs.ModeSymlink:                    "symbolic link",
		fs.ModeIrregular:                  "special file",
	} {
		if got := FileKind(mode); got != want {
			t.Errorf("FileKind(%v) = %q, want %q", mode, got, want)
		}
	}
}

// OSFS.Open refuses a named pipe without opening it (the open would block
// until a writer comes), and follows symlinks to regular files.
func TestOSFSOpenRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ff")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	var o OSFS
	defer o.Close()
	if _, err := o.Open(fifo); err == nil || err.Error() != fifo+" is not a regular file (named pipe)" {
		t.Errorf("Open(fifo): %v", err)
	}
	if _, err := o.Open("/dev/null"); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("Open(/dev/null): %v", err)
	}
	if _, err := o.Open(dir); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("Open(folder): %v", err)
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("12345"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(file, link)
	in, err := o.Open(link)
	if err != nil || in.Size != 5 {
		t.Errorf("Open(symlink): %+v, %v", in, err)
	}
}
