// The progress component of every long run on the page: a save, a Tools
// run, an edited copy. One bar, one line of text in one wording
// (format.js formatProgress: "1.20 GB of 2.30 GB · 410 MB/s · about 3 s
// left"), one Cancel, and one way to end: hidden while nothing runs or
// showing how the run ended ("Done: 335 MB in 1.2 s").
//
// The saver's copy is static markup (markup.js, web/index.html) and is
// hydrated; the other hosts build theirs with buildProgress, the same
// structure.

import { el } from './dom.js';
import { formatBytes, formatDuration, formatProgress } from './format.js';

/**
 * A fresh progress box.
 * @param {Document} doc
 * @param {{label: string, cancelLabel?: string, roles?: {box?: string, bar?: string, text?: string, cancel?: string}}} options
 *   label is the bar's accessible name ("Tools progress"); cancelLabel the
 *   Cancel button's (default: its text); roles the data-role values (the
 *   saver's are progress-box, progress, progress-text, cancel).
 */
export function buildProgress(doc, { label, cancelLabel, roles = {} }) {
  const bar = el(doc, 'progress', { max: 1, value: 0, 'aria-label': label });
  const text = el(doc, 'span', { class: 'ckpt-progress-text' });
  const cancel = el(doc, 'button', { type: 'button', text: 'Cancel', disabled: true });
  if (cancelLabel) cancel.setAttribute('aria-label', cancelLabel);
  const box = el(doc, 'div', { class: 'ckpt-progress', hidden: true }, bar, text, cancel);
  for (const [node, role] of [[box, roles.box], [bar, roles.bar], [text, roles.text], [cancel, roles.cancel]]) {
    if (role) node.dataset.role = role;
  }
  return box;
}

/**
 * Drives a progress box (built above, or the saver's static one).
 * @param {Element} box .ckpt-progress holding a <progress>, a .ckpt-progress-text and a Cancel button
 * @param {{onCancel?: () => (boolean|void)}} [options] what Cancel does (the host cancels its engine
 *   job; false: nothing to cancel yet, Cancel stays on)
 * @returns {{element: Element, start(total?: number): void, update(p: {done: number, total: number}): void,
 *   cancelling(): void, done(bytes: number, seconds: number): void, hide(): void, readonly state: string}}
 *   state: 'idle' (hidden), 'running', 'cancelling', 'done'.
 */
export function mountProgress(box, { onCancel } = {}) {
  const bar = box.querySelector('progress');
  const text = box.querySelector('.ckpt-progress-text');
  const cancel = box.querySelector('button');
  let state = 'idle';
  const set = (next) => {
    state = next;
    box.hidden = state === 'idle';
    cancel.disabled = state !== 'running';
    cancel.hidden = state === 'done';
    box.dataset.state = state;
  };
  cancel.addEventListener('click', () => {
    if (state !== 'running') return;
    set('cancelling');
    // A host that cannot cancel yet (its job has not started) says false.
    if (onCancel?.() === false) set('running');
  });
  set('idle');
  return {
    element: box,
    get state() { return state; },
    /** A run begins: an empty bar (total bytes when known), Cancel on. */
    start(total = 1) {
      bar.max = Math.max(total, 1);
      bar.value = 0;
      text.textContent = '';
      set('running');
    },
    /** A progress event of the engine (PROTOCOL.md: done, total, mbps, etaSeconds). */
    update(p) {
      if (state !== 'running' && state !== 'cancelling') return;
      if (Number.isFinite(p.total) && p.total > 0) bar.max = p.total;
      bar.value = p.done;
      text.textContent = formatProgress(p);
    },
    /** Cancel was asked for from elsewhere (the host's own Cancel path): Cancel off. */
    cancelling() {
      if (state === 'running') set('cancelling');
    },
    /** The run finished: a full bar saying so. */
    done(bytes, seconds) {
      bar.value = bar.max;
      text.textContent = `Done: ${formatBytes(bytes)}${Number.isFinite(seconds) ? ` in ${formatDuration(seconds)}` : ''}.`;
      set('done');
    },
    /** Nothing runs (a new setup, or a run that failed or was cancelled): hidden and empty. */
    hide() {
      bar.value = 0;
      text.textContent = '';
      set('idle');
    },
  };
}
