package streamwriter

import "golang.org/x/sys/unix"

// startWriteback asks the kernel to begin writing n bytes of the file fd at
// off to disk (sync_file_range with SYNC_FILE_RANGE_WRITE: it does not wait
// for the write to finish). It is a hint: an error (a filesystem without it)
// changes nothing, and a write error surfaces in Finish's fsync. A variable
// so tests can record it.
var startWriteback = func(fd uintptr, off, n int64) {
	unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
