//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package streamwriter

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// canLock: here a FileSink locks its temporary file (flock), so leftovers
// of killed processes can be told apart and removed.
const canLock = true

// lockFile takes f's exclusive lock, waiting for it: a stale-file check of
// another run may hold it for a moment.
func lockFile(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// tryLock takes f's exclusive lock if nobody holds it (it is released when
// f is closed) and reports whether it got it.
func tryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case !errors.Is(err, unix.EINTR):
			return false, err
		}
	}
}

// openNoFollow opens path for reading without following a symlink and
// without blocking on a named pipe.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
}
