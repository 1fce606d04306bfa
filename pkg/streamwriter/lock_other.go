//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package streamwriter

import (
	"errors"
	"os"
)

// canLock: here temporary files are not locked, so a leftover cannot be
// told from a file another process is writing, and none is removed.
const canLock = false

func lockFile(*os.File) error { return nil }

func tryLock(*os.File) (bool, error) { return false, nil }

func openNoFollow(string) (*os.File, error) { return nil, errors.ErrUnsupported }
