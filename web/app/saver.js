// mountSaver: the checkpoint saver UI, mountable into any container (the
// standalone page's "Save a checkpoint" task, the ComfyUI sidebar tab).
//
// The page only renders state. Everything about checkpoint contents (what a
// file holds, whether components fit together, the output header, counters)
// comes from the Go/WASM worker through EngineClient; see
// wasm/worker/PROTOCOL.md. File and metadata text is only ever written with
// textContent, so a <script> or onerror attribute inside a file's metadata
// stays inert text.
//
// This module only puts the saver together. Its parts each own one piece of
// the UI, over one state object (saver-state.js) and one render path
// (render() below, which redraws every part from that state):
//   slots.js        the component slots and every way files get into them
//   sinks.js        the sink choice (shared with the Tools and the ModelSpec editor)
//   plan-status.js  planning, the plan line, the alert and the status
//   progress.js     the progress box (shared with the Tools and the ModelSpec editor)
//   save-run.js     one save, from the click to its outcome
//   saved-list.js   what browser storage holds

import { EngineClient } from './engine-client.js';
import { linkStylesheet } from './dom.js';
import { buildSaverElement } from './markup.js';
import { probeSinks, initialCapabilities, mountSinkChoice } from './sinks.js';
import { mountProgress } from './progress.js';
import { createSaverState, SLOTS } from './saver-state.js';
import { mountSlots } from './slots.js';
import { mountPlanStatus } from './plan-status.js';
import { mountSaveRun } from './save-run.js';
import { mountSavedList } from './saved-list.js';

/**
 * Mounts the saver into container and starts its worker.
 *
 * @param {Element} container where the UI lives; markup already inside it
 *   (web/index.html's static copy) is hydrated, otherwise it is rendered.
 * @param {object} [options]
 * @param {string|URL} [options.baseURL] folder holding worker.js and the
 *   .wasm, resolved against this module's URL (default: the folder above
 *   web/app/, i.e. web/).
 * @param {{filenamePrefix?: string, embedWorkflow?: boolean, sink?: 'opfs'|'file'|'blob'|'auto'}} [options.defaults]
 *   sink: the host's choice; without it (or with 'auto') the sink recommended for this
 *   browser is preselected (see sinks.js).
 * @param {() => Promise<{prompt?: string|object, extraPnginfo?: string|object}>} [options.metadataProvider]
 *   supplies prompt and extra_pnginfo (the ComfyUI extension passes the
 *   current graph); when given, the prompt/workflow fields are not shown.
 *   The "Leave out prompt and workflow" checkbox is then shown outside the
 *   collapsed Metadata section: it is the privacy switch for that graph.
 * @param {boolean} [options.showMetadataFields] show the prompt and workflow
 *   fields (default: true unless a metadataProvider is given).
 * @param {(planned: object|null) => void} [options.onPlan] called with each
 *   plan the engine makes for the current inputs and options (the `planned`
 *   reply of PROTOCOL.md: bytes, headerBytes, metadata, predictionChoice …),
 *   and with null when the inputs change or a plan fails.
 * @param {EventTarget} [options.dropTarget] where a dropped file is routed
 *   by its content (default: container; the standalone page passes document).
 * @param {(dataTransfer: DataTransfer) => Iterable<File|object>|Promise<Iterable<File|object>>} [options.filesFromDrop]
 *   turns a drop into inputs, called during the drop event (where
 *   DataTransferItem.webkitGetAsEntry() still works); default: folder.js's
 *   droppedInputs, the dropped Files and each dropped folder walked into
 *   {root, files} (see addFiles).
 * @param {() => Promise<object>} [options.extraOptions] more save options
 *   (PROTOCOL.md "options"), e.g. the metadata editor's {modelspec, hash};
 *   they are part of every plan, so Save stays off while they are invalid.
 *   Call the returned optionsChanged() when they change.
 * @param {boolean} [options.modelspecFields] show the saver's own Title,
 *   Author and Description fields (default: only without extraOptions; a
 *   host with the ModelSpec editor gives its fields through extraOptions,
 *   so the page shows one set).
 * @param {(done: object) => void} [options.onSaved] called with each
 *   successful save's done reply.
 * @param {'classic'|'module'} [options.workerType]
 * @param {boolean} [options.stylesheet] link baseURL/style.css into the
 *   document when it is not linked yet (default true).
 * @returns {{ready: Promise<object>, stats: object, lastPlan: object|null,
 *   setDefaults(defaults: {filenamePrefix?: string, embedWorkflow?: boolean, sink?: 'opfs'|'file'|'blob'|'auto'}): void,
 *   addFiles(files: Iterable<File|{root: string, files: {path: string, file: File}[]}>): Promise<void>,
 *   putFiles(slot: 'model'|'clip'|'vae', files: Iterable<File>): void,
 *   optionsChanged(): void, engine: EngineClient,
 *   refreshSaved(): Promise<void>, destroy(): void, element: Element}}
 *   lastPlan is the current plan (null while there is none); setDefaults
 *   applies changed host settings to the form (only the fields given).
 *   addFiles places files by their content, exactly as a drop on the page
 *   does; a folder ({root, files} as folder.js reads a picked or dropped
 *   one) fills every slot when it is a diffusers pipeline, else goes where
 *   its content fits. putFiles puts files in one slot, as that slot's
 *   picker does. optionsChanged plans again (extraOptions changed); engine
 *   is the saver's worker client, to share with the metadata editor.
 */
export function mountSaver(container, options = {}) {
  const doc = container.ownerDocument;
  const baseURL = new URL(options.baseURL ?? '../', import.meta.url);
  const defaults = options.defaults ?? {};
  const showMetadataFields = options.showMetadataFields ?? !options.metadataProvider;

  // Outside web/index.html (e.g. inside ComfyUI) the stylesheet is not
  // linked yet; its rules are all scoped under .ckpt-saver.
  if (options.stylesheet !== false) linkStylesheet(doc, new URL('style.css', baseURL));

  let root = container.querySelector('[data-ckpt-saver]');
  if (!root) {
    root = buildSaverElement(doc);
    container.replaceChildren(root);
  }
  const $ = (role, scope = root) => scope.querySelector(`[data-role="${role}"]`);
  const ui = {
    status: $('status'),
    alert: $('alert'),
    form: $('form'),
    prefix: $('prefix'),
    predictionField: $('prediction-field'),
    prediction: $('prediction'),
    quantize: $('quantize'),
    sinkFieldset: root.querySelector('.ckpt-sinks'),
    plan: $('plan'),
    dropBanner: $('drop-banner'),
    disableMetadata: $('disable-metadata'),
    metadataFields: $('metadata-fields'),
    prompt: $('prompt'),
    workflow: $('workflow'),
    title: $('title'),
    author: $('author'),
    description: $('description'),
    save: $('save'),
    progressBox: $('progress-box'),
    storage: $('storage'),
    savedList: $('saved-list'),
    savedEmpty: $('saved-empty'),
    folder: $('folder'),
    fieldsets: [...root.querySelectorAll('.ckpt-form > fieldset, .ckpt-form > details')],
    slots: Object.fromEntries(SLOTS.map((slot) => {
      const section = root.querySelector(`[data-slot="${slot}"]`);
      return [slot, { section, input: $('input', section), files: $('files', section), dropText: $('drop-text', section) }];
    })),
  };

  const state = createSaverState();
  const stats = {
    readyMs: NaN,
    boot: null, // the worker's start-up times (ready message's boot, PROTOCOL.md)
    version: '',
    wasmMemoryBytes: NaN,
    predictionSelectable: null, // null until the engine has planned (planned.predictionChoice)
    savesCompleted: 0,
    lastSave: null, // {sink, bytes, seconds, wasmMemoryMin, wasmMemoryMax, progressEvents, name, path}
  };
  const listeners = [];
  function listen(target, type, handler) {
    target.addEventListener(type, handler);
    listeners.push(() => target.removeEventListener(type, handler));
  }

  // What the browser offers; probeSinks refines the OPFS part (a private
  // window may refuse it) a moment after mounting.
  const caps = initialCapabilities();

  // The context every part works in; render() is the one render path.
  const ctx = {
    doc, root, ui, options, state, stats, caps, listen,
    objectURLs: new Set(),
    engine: null,
    render,
  };

  // ---- defaults --------------------------------------------------------------
  if (defaults.filenamePrefix) ui.prefix.value = defaults.filenamePrefix;
  if (defaults.embedWorkflow === false) ui.disableMetadata.checked = true;
  ui.metadataFields.hidden = !showMetadataFields;
  // One set of Title/Author/Description: the ModelSpec editor's, when the
  // host has one (it passes extraOptions).
  const modelspecFields = options.modelspecFields ?? !options.extraOptions;
  for (const field of [ui.title, ui.author, ui.description]) field.closest('label').hidden = !modelspecFields;
  if (options.metadataProvider) {
    // The provided prompt and workflow are embedded unless this is ticked:
    // keep the switch in view, not inside the collapsed Metadata section.
    const leaveOut = ui.disableMetadata.closest('label');
    leaveOut.classList.add('ckpt-leave-out');
    root.querySelector('[data-role="metadata"]').before(leaveOut);
  }

  // ---- the parts ---------------------------------------------------------------
  ctx.sinks = mountSinkChoice(ui.sinkFieldset, {
    caps,
    preset: defaults.sink,
    onChange: () => {
      ctx.plan.dropFailedOutcome();
      render();
    },
  });
  ctx.plan = mountPlanStatus(ctx);
  ctx.saved = mountSavedList(ctx);
  const run = mountSaveRun(ctx);
  ctx.progress = mountProgress(ui.progressBox, { onCancel: run.cancel });
  ctx.sinks.apply(null);

  // ---- engine ----------------------------------------------------------------
  const startedAt = performance.now();
  const engine = new EngineClient(new URL('worker.js', baseURL), { type: options.workerType ?? 'classic' });
  ctx.engine = engine;
  const slots = mountSlots(ctx);
  ctx.slots = slots;
  const ready = engine.ready.then((info) => {
    stats.readyMs = performance.now() - startedAt;
    stats.boot = info.boot ?? null;
    stats.version = info.version ?? '';
    stats.wasmMemoryBytes = info.wasmMemoryBytes;
    state.engine = 'ready';
    root.dataset.engine = 'ready';
    render();
    ctx.saved.refresh();
    ctx.plan.schedule();
    return info;
  }, (error) => {
    state.engine = 'failed';
    state.engineFailure = error.message;
    root.dataset.engine = 'failed';
    render();
    throw error;
  });
  ready.catch(() => {});
  // Browser storage is written from the worker through sync access
  // handles: a browser whose worker has none (its ready message says,
  // web/worker-io.js capabilities) cannot use it, whatever the page sees.
  const workerWritesOPFS = ready.then((info) => info.io?.syncAccessHandle !== false, () => true);
  Promise.all([probeSinks(), workerWritesOPFS]).then(([probed, writable]) => {
    if (probed.opfs && !writable) {
      probed.opfs = false;
      probed.storageNote = 'This browser cannot write to its private file storage from a worker.';
    }
    Object.assign(caps, probed);
    ctx.sinks.apply(state.lastPlan);
    render();
    if (!caps.opfs) ctx.saved.refresh();
  }, () => {});

  /** Draws everything that follows from the state. */
  function render() {
    ctx.slots?.render();
    ctx.plan.render();
    ctx.sinks.render(state.lastPlan);
    ui.save.disabled = !ctx.plan.canSave();
    root.setAttribute('aria-busy', String(Boolean(state.activeSave)));
  }

  /** Applies changed host settings (the ComfyUI extension's) to the form. */
  function setDefaults(changed = {}) {
    if (typeof changed.filenamePrefix === 'string' && changed.filenamePrefix.trim() !== '') {
      ui.prefix.value = changed.filenamePrefix;
    }
    if (typeof changed.embedWorkflow === 'boolean') ui.disableMetadata.checked = !changed.embedWorkflow;
    if (changed.sink === 'auto') {
      ctx.sinks.follow();
      ctx.sinks.apply(state.lastPlan);
    } else if (changed.sink) {
      ctx.sinks.choose(changed.sink);
    }
    // A running save keeps the options it started with; the next plan (and
    // save) uses the new ones.
    if (!state.activeSave) ctx.plan.optionsChanged();
    else render();
  }

  // ---- events -------------------------------------------------------------------------
  listen(ui.form, 'submit', run.save);
  for (const control of [ui.prefix, ui.prediction, ui.quantize, ui.disableMetadata, ui.title, ui.prompt, ui.workflow].filter(Boolean)) {
    listen(control, 'change', ctx.plan.optionsChanged);
  }
  // The plan line follows the prefix as it is typed (the plan waits for a pause).
  listen(ui.prefix, 'input', ctx.plan.optionsChanged);

  render();

  return {
    element: root,
    ready,
    stats,
    get lastPlan() { return state.lastPlan; },
    engine,
    setDefaults,
    optionsChanged: () => {
      if (!state.activeSave) ctx.plan.optionsChanged();
    },
    addFiles: (files) => slots.routeFiles([...files]),
    putFiles: (slot, files) => {
      if (!SLOTS.includes(slot)) throw new Error(`no slot "${slot}": use one of ${SLOTS.join(', ')}`);
      slots.putInSlot(slot, [...files]);
    },
    refreshSaved: () => ctx.saved.refresh(),
    destroy() {
      ctx.plan.cancelTimer();
      slots.destroy();
      for (const off of listeners) off();
      engine.terminate();
      for (const url of ctx.objectURLs) URL.revokeObjectURL(url);
      ctx.objectURLs.clear();
    },
  };
}
