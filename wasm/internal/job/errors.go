package job

import (
	"context"
	"errors"
	"fmt"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// Error codes sent to the page (PROTOCOL.md "error").
const (
	CodeCancelled = "cancelled"
	CodeQuota     = "quota"
	CodeInput     = "input"
	CodeInternal  = "internal"
)

// QuotaError refuses a save before anything is written because the planned
// size exceeds what the browser says is free.
type QuotaError struct {
	Bytes, Usage, Quota int64
}

func (e *QuotaError) Error() string {
	return QuotaMessage(e.Bytes, e.Usage, e.Quota)
}

// StorageFull marks it as a storage problem, like a short OPFS write.
func (e *QuotaError) StorageFull() bool { return true }

// privateQuotaLimit: a quota this small is what private/off-the-record
// windows report in browsers that still size it (Firefox private windows,
// Safari, Chrome before 138). Chrome 138+ reports usage + 10 GiB everywhere,
// and its off-the-record OPFS is held in RAM and stops at about 1.2–1.5 GiB;
// that case only shows as a short write (see WriteFailedMessage).
const privateQuotaLimit = 4 << 30

// Fits reports whether bytes fit in the free quota. A quota that is
// Chromium's fixed stand-in (QuotaKnown false) limits nothing: the save
// proceeds, and a disk that really fills fails cleanly on the short write.
func Fits(bytes, usage, quota int64) bool {
	return !QuotaKnown(usage, quota) || bytes <= quota-usage
}

// QuotaMessage explains a refusal with both numbers.
func QuotaMessage(bytes, usage, quota int64) string {
	msg := fmt.Sprintf("the checkpoint needs %s but the browser allows this site only %s more (%s used of %s)",
		formatBytes(bytes), formatBytes(max(quota-usage, 0)), formatBytes(usage), formatBytes(quota))
	if quota < privateQuotaLimit {
		msg += "; this looks like a private (incognito) window, whose storage is small and kept in memory"
	}
	return msg + `. Use "Save to a file on disk" instead, or free space by deleting saved checkpoints.`
}

// StorageFullMessage explains a write the browser stopped accepting.
func StorageFullMessage(err error, written int64) string {
	return fmt.Sprintf("%v after %s. The disk or the site's storage quota is full; in a private (incognito) window the browser keeps site storage in memory and stops at about 1–1.5 GB. "+
		`Nothing was kept. Use "Save to a file on disk" instead.`, err, formatBytes(written))
}

// storageFull is implemented by errors meaning "no space" (the OPFS sinks'
// short writes, QuotaError).
type storageFull interface{ StorageFull() bool }

// inputFile is implemented by errors that name the input file at fault.
type inputFile interface{ InputFile() string }

// Classify maps an error to the page's error code.
func Classify(err error) string {
	var sf storageFull
	var inf inputFile
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return CodeCancelled
	case errors.As(err, &sf) && sf.StorageFull():
		return CodeQuota
	case errors.Is(err, checkpoint.ErrBadPlan):
		return CodeInternal
	case errors.As(err, &inf), errors.Is(err, checkpoint.ErrInputChanged), errors.Is(err, ErrBlobTooBig):
		return CodeInput
	}
	return CodeInternal
}

// FileOf returns the input file an error names, or "".
func FileOf(err error) string {
	var inf inputFile
	if errors.As(err, &inf) {
		return inf.InputFile()
	}
	return ""
}

// InputError is an error about one input slot (planning and inspection
// failures are about the inputs).
type InputError struct {
	File string // file name
	Slot string // "model", "clip", "vae" or ""
	Err  error
}

func (e *InputError) Error() string     { return e.Err.Error() }
func (e *InputError) Unwrap() error     { return e.Err }
func (e *InputError) InputFile() string { return e.File }

var formatBytes = streamwriter.FormatBytes
