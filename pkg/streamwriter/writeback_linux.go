//go:build linux && (amd64 || arm64)

package streamwriter

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing [off, off+n) of f to disk
// now, without waiting (sync_file_range with SYNC_FILE_RANGE_WRITE). Left
// alone, the kernel writes dirty pages back only once they pass
// dirty_background_ratio (gigabytes on a large machine), so most of a
// checkpoint would still be in memory at the final fsync and be written
// only then; started early, the disk writes overlap the copy and the fsync
// finds little left. Best effort: an error only means the fsync does the
// work.
func startWriteback(f *os.File, off, n int64) {
	const syncFileRangeWrite = 2 // SYNC_FILE_RANGE_WRITE
	syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, f.Fd(), uintptr(off), uintptr(n), syncFileRangeWrite, 0, 0)
}
