// Plain formatting helpers for the page. They only turn numbers into words;
// every decision about checkpoint contents is made in the worker.

const SLOT_NOUNS = {
  model: 'diffusion model',
  clip: 'text encoder',
  vae: 'VAE',
};

/** The human noun for a slot ("model" -> "diffusion model"). */
export function slotNoun(slot) {
  return SLOT_NOUNS[slot] ?? String(slot);
}

/**
 * Decimal units (MB = 10^6 bytes), as file managers and the download shelf
 * show them, so the numbers the user compares are the same everywhere.
 */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** "3 s", "4 min 05 s", "1 h 02 min". */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** "F16" or "F16 ×1128, F32 ×2", largest count first. */
export function formatDTypes(dtypes) {
  const entries = Object.entries(dtypes ?? {}).filter(([, n]) => n > 0);
  if (entries.length === 0) return 'no tensors';
  if (entries.length === 1) return entries[0][0];
  entries.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.map(([dtype, n]) => `${dtype} ×${n}`).join(', ');
}

/** One line describing a component found in a file. */
export function describeComponent(component, architecture) {
  const parts = [];
  if (component.slot === 'model') {
    parts.push(`${component.kind || architecture || 'unknown'} diffusion model`);
  } else if (component.slot === 'clip') {
    parts.push(`${component.kind || 'unknown'} text encoder`);
  } else if (component.slot === 'vae') {
    parts.push(`${component.kind ? `${component.kind} ` : ''}VAE`);
  } else {
    parts.push(String(component.kind || component.slot));
  }
  if (component.layout) parts.push(`${component.layout} layout`);
  parts.push(`${component.tensors} tensors`);
  parts.push(formatBytes(component.bytes));
  return parts.join(' · ');
}

/** What a report says a file holds, for "holds X, not Y" messages. */
export function describeContents(report) {
  const comps = report?.components ?? [];
  if (comps.length === 0) return 'no diffusion model, text encoder or VAE';
  return comps.map((c) => `a ${slotNoun(c.slot)}${c.kind ? ` (${c.kind})` : ''}`).join(', ');
}

/** Progress line: "512 MB of 2.13 GB · 450 MB/s · about 4 s left". */
export function formatProgress({ done, total, mbps, etaSeconds }) {
  const parts = [`${formatBytes(done)} of ${formatBytes(total)}`];
  if (Number.isFinite(mbps) && mbps > 0) parts.push(`${mbps.toFixed(0)} MB/s`);
  if (Number.isFinite(etaSeconds) && etaSeconds >= 0 && done < total) {
    parts.push(`about ${formatDuration(etaSeconds)} left`);
  }
  return parts.join(' · ');
}

/** Long metadata values are cut for display only; they are never parsed as HTML. */
export function clipText(text, max = 4000) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}
