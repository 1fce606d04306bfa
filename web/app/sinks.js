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

import { el } from './dom.js';
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

// ---- the sink choice: one component for the saver, the Tools and the ModelSpec editor ----
//
// A fieldset of radio buttons (file, blob, opfs) with a "recommended" badge
// on the sink recommendSink picks and a line saying why. The saver's copy is
// static markup (markup.js), hydrated; the other hosts build theirs with
// buildSinkChoice, the same structure.


/** What the browser offers before probeSinks has answered: its first guess. */
export function initialCapabilities() {
  return {
    canPickFile: typeof globalThis.showSaveFilePicker === 'function',
    opfs: typeof globalThis.navigator?.storage?.getDirectory === 'function',
    privateWindow: false,
    storageNote: '',
  };
}

const SINK_TEXT = {
  file: 'Save to a file on disk',
  blob: 'Download directly (uses no browser storage)',
  opfs: 'Browser storage, then download',
};

/**
 * A fresh sink fieldset, as the saver's markup has it.
 * @param {Document} doc
 * @param {{name: string, legend?: string, notes: {file: string, blob: string, opfs: string}, roles?: {sink?: string, why?: string}}} options
 *   name: the radio group's name (unique in the document); notes: the small
 *   line under each choice; roles: the data-role of the radios and of the
 *   why line.
 */
export function buildSinkChoice(doc, { name, legend = 'Save to', notes, roles = {} }) {
  const labels = ['file', 'blob', 'opfs'].map((value) => {
    const input = el(doc, 'input', { type: 'radio', name, value });
    if (roles.sink) input.dataset.role = roles.sink;
    return el(doc, 'label', { class: 'ckpt-sink', hidden: value === 'file' },
      input, el(doc, 'span', {}, `${SINK_TEXT[value]} `, el(doc, 'small', { class: 'ckpt-sink-note', text: notes[value] })));
  });
  const why = el(doc, 'p', { class: 'ckpt-sink-why' });
  if (roles.why) why.dataset.role = roles.why;
  return el(doc, 'fieldset', { class: 'ckpt-sinks' }, el(doc, 'legend', { text: legend }), ...labels, why);
}

/**
 * Drives a sink fieldset. Until the host or the user chooses, the checked
 * sink follows the recommendation for the current plan.
 *
 * @param {Element} fieldset holding the radios (values file, blob, opfs) and a .ckpt-sink-why line
 * @param {object} options
 * @param {object} options.caps what the browser offers (initialCapabilities, then probeSinks); read on each apply
 * @param {string} [options.preset] the host's choice ('auto' or none: the recommendation)
 * @param {boolean} [options.disableRefused] turn the direct download off while
 *   the plan says it cannot carry the output (planned.blobOK false); without
 *   it, the host explains the refusal itself (the saver's status)
 * @param {boolean} [options.explain] show the recommended badge and the why
 *   line (default true; the ModelSpec editor's copy has its own reasons)
 * @param {() => void} [options.onChange] the user picked a sink
 * @returns {{selected(): string, apply(plan: object|null): void, render(plan: object|null): void,
 *   choose(value: string): boolean, follow(): void, readonly chosenBy: string}}
 *   apply: offered sinks and the checked one, for this plan; render: the
 *   badge and the why line; choose: the host's choice (false when that sink
 *   is not offered); follow: back to the recommendation.
 */
export function mountSinkChoice(fieldset, {
  caps, preset, disableRefused = false, explain = true, onChange,
}) {
  const doc = fieldset.ownerDocument;
  const radios = [...fieldset.querySelectorAll('input[type="radio"]')];
  const why = fieldset.querySelector('.ckpt-sink-why');
  let chosenBy = preset && preset !== 'auto' ? 'host' : 'recommendation';
  const radio = (value) => radios.find((r) => r.value === value);
  const offered = (value) => {
    const r = radio(value);
    return r && !r.disabled && !r.closest('label').hidden ? r : null;
  };
  const selected = () => radios.find((r) => r.checked)?.value ?? 'blob';

  function apply(plan) {
    radio('file').closest('label').hidden = !caps.canPickFile;
    // Without usable OPFS (old or locked-down browsers, private windows in
    // Firefox and Safari) the way out is the direct download.
    radio('opfs').disabled = !caps.opfs;
    radio('opfs').closest('label').hidden = !caps.opfs;
    if (disableRefused) radio('blob').disabled = plan?.blobOK === false;
    const checked = radios.find((r) => r.checked);
    if (chosenBy === 'recommendation' || !checked || !offered(checked.value)) {
      const wanted = chosenBy === 'host' && !checked ? preset : recommendSink(caps, plan).sink;
      const pick = offered(wanted) ?? radios.find((r) => offered(r.value));
      if (pick) pick.checked = true;
    }
  }

  function render(plan) {
    why.hidden = !explain;
    if (!explain) return;
    const recommended = recommendSink(caps, plan);
    for (const r of radios) {
      const label = r.closest('label');
      let badge = label.querySelector('.ckpt-badge');
      if (r.value === recommended.sink && !badge) {
        badge = el(doc, 'span', { class: 'ckpt-badge', text: 'recommended' });
        label.querySelector('.ckpt-sink-note').before(badge);
      } else if (r.value !== recommended.sink && badge) {
        badge.remove();
      }
    }
    let text = `Recommended here: ${SINK_LABELS[recommended.sink]}. ${recommended.why}`;
    if (selected() === 'opfs' && caps.privateWindow) {
      text = `${caps.storageNote} Browser storage may not hold a checkpoint here, and it is lost when the window closes; `
        + `choose ${SINK_LABELS[recommended.sink === 'opfs' ? 'blob' : recommended.sink]} instead.`;
    } else if (selected() === 'opfs' && caps.canPickFile) {
      // Chromium's private windows cannot be detected (above): say it.
      text += ' In a private window, browser storage lives in memory and holds only about 1.5 GB.';
    }
    if (why.textContent !== text) why.textContent = text;
  }

  for (const r of radios) {
    r.addEventListener('change', () => {
      chosenBy = 'user';
      onChange?.();
    });
  }

  return {
    selected,
    apply,
    render,
    get chosenBy() { return chosenBy; },
    choose(value) {
      const r = offered(value);
      if (!r) return false;
      r.checked = true;
      chosenBy = 'host';
      return true;
    },
    follow() {
      chosenBy = 'recommendation';
    },
  };
}
