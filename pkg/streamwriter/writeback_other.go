//go:build !linux

package streamwriter

// startWriteback is nil where there is no portable equivalent of Linux's
// sync_file_range; there the fsync in Finish does all the writing.
var startWriteback func(fd uintptr, off, n int64)
