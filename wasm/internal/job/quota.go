package job

// maskedQuotaHeadroom is what Chromium 138+ reports as free in
// navigator.storage.estimate(): quota is always usage + exactly 10 GiB, in
// every browsing mode, whatever the disk (an anti-fingerprinting measure).
// The enforced limit follows the real free disk space: an 11 GiB OPFS file
// writes fine on a disk with 68 GB free (shared/reference/browser-limits.md
// §6). No API tells the real free space short of writing it.
const maskedQuotaHeadroom = 10 << 30

// QuotaKnown reports whether an estimate's quota is a real limit. Chromium's
// stand-in (usage + 10 GiB exactly) is not: refusing a 34 GB Flux save on it
// would refuse what the disk can hold. The other browsers size the quota
// from the disk (Firefox, Safari) and a private window's small quota is
// real, so those figures are kept.
func QuotaKnown(usage, quota int64) bool {
	return quota-usage != maskedQuotaHeadroom
}
