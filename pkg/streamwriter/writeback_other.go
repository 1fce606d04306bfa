//go:build !(linux && (amd64 || arm64))

package streamwriter

import "os"

// startWriteback is a no-op where sync_file_range is not available (or has
// another argument order); the final fsync writes everything.
func startWriteback(f *os.File, off, n int64) {}
