// Which way to save ("sink") this browser should use, and why.
//
// The three sinks (wasm/worker/PROTOCOL.md, save):
// - 'file': showSaveFilePicker (Chromium) — one write, straight into the file
//   the user picks, e.g. in ComfyUI/models/checkpoints; nothing stays in
//   the browser.
// - 'blob': a Blob of the computed header plus slices of the input files,
//   handed to the download manager — one write, no copy at all; the inputs
//   must stay unchanged until the download ends. Refused by the engine when
//   the plan carries too much computed data (planned.blobOK === false).
// - 'opfs': the origin private file system, then a download — two writes,
//   but the file stays listed under "Saved checkpoints".
//
// Private windows: Firefox and Safari refuse navigator.storage.getDirectory()
// there, and older Chromium reported a small quota; both are detected here.
// Chromium 138+ reports `usage + 10 GiB` in every mode (an
// anti-fingerprinting measure; estimate(), persisted() and persist() were
// measured the same in an incognito and a normal profile), so a Chromium
// incognito window cannot be told apart; its OPFS lives in RAM and stops at about 1.2–1.5 GiB. That is one
// more reason the recommendation there is the file picker, never OPFS.

import { formatBytes } from './format.js';

// Below this, browser storage cannot hold even an SD 1.5 checkpoint (2.1 GB):
// a private window's in-memory storage or a nearly full disk.
const SMALL_STORAGE_BYTES = 4 * 1024 ** 3;

export const SINK_LABELS = {
  file: 'Save to a file on disk',
  blob: 'Download directly',
  opfs: 'Browser storage, then download',
};

/**
 * What this browser offers for saving. OPFS is probed for real: a page
 * where getDirectory() rejects (a private window in Firefox or Safari, or
 * storage turned off) cannot use it however the API looks.
 *
 * @returns {Promise<{canPickFile: boolean, opfs: boolean, privateWindow: boolean, storageNote: string}>}
 */
export async function probeSinks(nav = globalThis.navigator, global = globalThis) {
  const canPickFile = typeof global.showSaveFilePicker === 'function';
  const result = { canPickFile, opfs: false, privateWindow: false, storageNote: '' };
  if (typeof nav?.storage?.getDirectory !== 'function') {
    result.storageNote = 'This browser has no private file storage.';
    return result;
  }
  try {
    await nav.storage.getDirectory();
  } catch {
    result.privateWindow = true;
    result.storageNote = 'Browser storage is turned off here (a private window?).';
    return result;
  }
  result.opfs = true;
  try {
    const { quota } = await nav.storage.estimate();
    if (Number.isFinite(quota) && quota < SMALL_STORAGE_BYTES) {
      result.privateWindow = true;
      result.storageNote = `Browser storage holds only ${formatBytes(quota)} here: private windows keep it in memory.`;
    }
  } catch {
    // No estimate: nothing known about the size.
  }
  return result;
}

/**
 * The sink to preselect and one line on why. caps from probeSinks (or its
 * synchronous first guess); plan is the engine's last `planned` reply, or
 * null before there is one.
 *
 * @returns {{sink: 'file'|'blob'|'opfs', why: string}}
 */
export function recommendSink(caps, plan) {
  // Measured in Chromium (make bench-browser, README "Performance"): the
  // direct download runs at the speed of a download of the same Files with no
  // engine at all, about twice as fast as writing a picked file through
  // createWritable; browser storage writes everything twice.
  if (plan?.blobOK !== false) {
    return {
      sink: 'blob',
      why: 'Fastest here: one write, the download reads your files as it saves, and nothing is kept in the browser. Keep the files unchanged until it finishes.'
        + (caps.canPickFile ? ' To write straight into your ComfyUI models/checkpoints folder instead, choose "Save to a file on disk" (slower: this browser writes a chosen file at about half the speed of a download).' : ''),
    };
  }
  if (caps.canPickFile) {
    return {
      sink: 'file',
      why: 'This model has too much converted data for a direct download: one write, straight into the file you choose (pick your ComfyUI models/checkpoints folder); nothing is kept in the browser.',
    };
  }
  if (caps.opfs && !caps.privateWindow) {
    return {
      sink: 'opfs',
      why: 'This model has too much converted data for a direct download, so it is written to browser storage first.',
    };
  }
  return {
    sink: caps.opfs ? 'opfs' : 'blob',
    why: 'This model has too much converted data for a direct download, and browser storage here is small; a browser with "Save to a file on disk" (Chrome, Edge) can save it.',
  };
}
