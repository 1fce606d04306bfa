// mountSaver: the checkpoint saver UI, mountable into any container (the
// standalone page's <div id="app">, a ComfyUI sidebar tab …).
//
// The page only renders state. Everything about checkpoint contents (what a
// file holds, whether components fit together, the output header, counters)
// comes from the Go/WASM worker through EngineClient; see
// wasm/worker/PROTOCOL.md. File and metadata text is only ever written with
// textContent, so a <script> or onerror attribute inside a file's metadata
// stays inert text.
//
// What the user sees is derived from one state (the slots, the last plan and
// its error, the running save, the last outcome) by render(): Save is enabled
// only while the plan is valid, the alert lists every problem that still
// holds (a wrong file's error stays until the file is replaced or removed),
// and the status next to Save says what is happening or what is missing.

import { EngineClient, EngineError } from './engine-client.js';
import { buildSaverElement } from './markup.js';
import { droppedInputs, folderFromInput, isDroppedFolder, openFolder, postedFiles } from './folder.js';
import { hasOPFS, opfsFile, startDownload } from './opfs.js';
import { probeSinks, recommendSink, SINK_LABELS } from './sinks.js';
import {
  architectureName,
  clipText,
  describeComponent,
  describeContents,
  formatBytes,
  formatDTypes,
  formatDuration,
  formatProgress,
  plainSummary,
  slotNoun,
} from './format.js';

const SLOTS = ['model', 'clip', 'vae'];
const SLOT_LABELS = { model: 'Diffusion model', clip: 'Text encoders', vae: 'VAE' };
// What the status asks for while a slot is empty.
const SLOT_WANTED = { model: 'a diffusion model', clip: 'text encoders', vae: 'a VAE' };

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
  const styleURL = new URL('style.css', baseURL).href;
  if (options.stylesheet !== false
    && ![...doc.querySelectorAll('link[rel="stylesheet"]')].some((link) => link.href === styleURL)) {
    doc.head.append(Object.assign(doc.createElement('link'), { rel: 'stylesheet', href: styleURL }));
  }

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
    sinkFile: $('sink-file'),
    sinks: [...root.querySelectorAll('[data-role="sink"]')],
    sinkWhy: $('sink-why'),
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
    cancel: $('cancel'),
    progressBox: $('progress-box'),
    progress: $('progress'),
    progressText: $('progress-text'),
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

  // ---- state -------------------------------------------------------------
  // entries per slot: {file, status: 'inspecting'|'ok'|'bad', report, problem}
  const slots = { model: [], clip: [], vae: [] };
  const inspections = new WeakMap(); // File -> Promise<report>
  let engineState = 'starting'; // 'starting' | 'ready' | 'failed'
  let engineFailure = '';
  let planError = null; // {slot?, file?, message} of the last plan that failed
  let lastPlan = null;
  let predictionSelectable = false; // the engine's planned.predictionChoice
  let planGeneration = 0;
  let planTimer = 0;
  let activeSave = null; // {id, phase: 'picking'|'planning'|'writing'|'cancelling', status}
  let outcome = null; // the last save: {kind: 'saved'|'failed'|'cancelled', ...}
  let dropProblems = []; // files of the last drop that fit no slot
  let reading = ''; // the file routeFiles is reading now
  const objectURLs = new Set();
  // Output paths handed out by a download or a file on disk: they leave
  // nothing in browser storage, so the engine is told (options.takenNames)
  // and the next save's counter moves on.
  const takenNames = new Set();
  const listeners = [];
  const stats = {
    readyMs: NaN,
    boot: null, // the worker's start-up times (ready message's boot, PROTOCOL.md)
    version: '',
    wasmMemoryBytes: NaN,
    predictionSelectable: null, // null until the engine has planned (planned.predictionChoice)
    savesCompleted: 0,
    lastSave: null, // {sink, bytes, seconds, wasmMemoryMin, wasmMemoryMax, progressEvents, name, path}
  };

  // ---- defaults and capabilities ------------------------------------------
  if (defaults.filenamePrefix) ui.prefix.value = defaults.filenamePrefix;
  if (defaults.embedWorkflow === false) ui.disableMetadata.checked = true;
  ui.metadataFields.hidden = !showMetadataFields;
  // One set of Title/Author/Description: the ModelSpec editor's, when the
  // host has one (it passes extraOptions).
  const modelspecFields = options.modelspecFields ?? !options.extraOptions;
  for (const field of [ui.title, ui.author, ui.description]) field.closest('label').hidden = !modelspecFields;
  // What metadata the planned header carries, under the plan line.
  const planMetadata = el('p', { class: 'ckpt-plan ckpt-plan-metadata', 'data-role': 'plan-metadata' });
  ui.plan.after(planMetadata);
  if (options.metadataProvider) {
    // The provided prompt and workflow are embedded unless this is ticked:
    // keep the switch in view, not inside the collapsed Metadata section.
    const leaveOut = ui.disableMetadata.closest('label');
    leaveOut.classList.add('ckpt-leave-out');
    root.querySelector('[data-role="metadata"]').before(leaveOut);
  }
  // What the browser offers; probeSinks refines the OPFS part (a private
  // window may refuse it) a moment after mounting.
  const caps = {
    canPickFile: typeof globalThis.showSaveFilePicker === 'function',
    opfs: hasOPFS(),
    privateWindow: false,
    storageNote: '',
  };
  // Who chose the checked sink: the recommendation follows the plan only
  // until the host or the user has chosen.
  let sinkChosenBy = defaults.sink && defaults.sink !== 'auto' ? 'host' : 'recommendation';
  const sinkRadio = (value) => ui.sinks.find((r) => r.value === value);
  const offeredSink = (value) => {
    const radio = sinkRadio(value);
    return radio && !radio.disabled && !radio.closest('label').hidden ? radio : null;
  };

  function applyCapabilities() {
    ui.sinkFile.hidden = !caps.canPickFile;
    const opfsRadio = sinkRadio('opfs');
    // Without usable OPFS (old or locked-down browsers, private windows in
    // Firefox and Safari) the way out is the direct download.
    opfsRadio.disabled = !caps.opfs;
    opfsRadio.closest('label').hidden = !caps.opfs;
    const checked = ui.sinks.find((r) => r.checked);
    if (sinkChosenBy === 'recommendation' || !checked || !offeredSink(checked.value)) {
      const wanted = sinkChosenBy === 'host' && !checked ? defaults.sink : recommendSink(caps, lastPlan).sink;
      (offeredSink(wanted) ?? ui.sinks.find((r) => offeredSink(r.value))).checked = true;
    }
  }
  applyCapabilities();

  /** Applies changed host settings (the ComfyUI extension's) to the form. */
  function setDefaults(changed = {}) {
    if (typeof changed.filenamePrefix === 'string' && changed.filenamePrefix.trim() !== '') {
      ui.prefix.value = changed.filenamePrefix;
    }
    if (typeof changed.embedWorkflow === 'boolean') ui.disableMetadata.checked = !changed.embedWorkflow;
    if (changed.sink === 'auto') {
      sinkChosenBy = 'recommendation';
      applyCapabilities();
    } else if (changed.sink) {
      const radio = offeredSink(changed.sink);
      if (radio) {
        radio.checked = true;
        sinkChosenBy = 'host';
      }
    }
    // A running save keeps the options it started with; the next plan (and
    // save) uses the new ones.
    if (!activeSave) optionsChanged();
    else render();
  }

  // ---- engine ----------------------------------------------------------------
  const startedAt = performance.now();
  const engine = new EngineClient(new URL('worker.js', baseURL), { type: options.workerType ?? 'classic' });
  const ready = engine.ready.then((info) => {
    stats.readyMs = performance.now() - startedAt;
    stats.boot = info.boot ?? null;
    stats.version = info.version ?? '';
    stats.wasmMemoryBytes = info.wasmMemoryBytes;
    engineState = 'ready';
    root.dataset.engine = 'ready';
    render();
    refreshSaved();
    schedulePlan();
    return info;
  }, (error) => {
    engineState = 'failed';
    engineFailure = error.message;
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
    applyCapabilities();
    render();
    if (!caps.opfs) refreshSaved();
  }, () => {});

  // ---- rendering helpers -------------------------------------------------------
  function el(tag, props = {}, ...children) {
    const node = doc.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === 'text') node.textContent = value;
      else if (key === 'class') node.className = value;
      else if (key.startsWith('aria-') || key.startsWith('data-')) node.setAttribute(key, value);
      else node[key] = value;
    }
    node.append(...children.filter((c) => c != null));
    return node;
  }

  function errorText(error) {
    let message = error?.message ?? String(error);
    if (!(error instanceof EngineError)) return message;
    // The engine says "clip slot: …" (the CLI's words); the page names the
    // slot as it is labelled on screen.
    const slotPrefix = `${error.slot} slot: `;
    if (SLOT_LABELS[error.slot] && message.startsWith(slotPrefix)) {
      message = `${SLOT_LABELS[error.slot]}: ${message.slice(slotPrefix.length)}`;
    }
    if (error.file && !message.includes(error.file)) return `${error.file}: ${message}`;
    return message;
  }

  function metadataDetails(metadata) {
    const keys = Object.keys(metadata ?? {});
    if (keys.length === 0) return null;
    const list = el('dl', { class: 'ckpt-meta-list' });
    for (const key of keys.sort()) {
      list.append(el('dt', { text: key }), el('dd', { text: clipText(metadata[key]) }));
    }
    return el('details', { class: 'ckpt-meta' },
      el('summary', { text: `File metadata (${keys.length} ${keys.length === 1 ? 'key' : 'keys'})` }), list);
  }

  /** The problem shown on one file of a slot: its own, or the plan's about it. */
  function entryProblem(slot, entry) {
    if (entry.status === 'bad') return entry.problem;
    if (planError && planError.slot === slot && (!planError.file || planError.file === entry.file.name
      || planError.file.startsWith(`${entry.file.name}/`))) { // a file inside a folder item
      return planError.message;
    }
    return '';
  }

  /**
   * One file in a slot: a plain summary ("Stable Diffusion XL diffusion
   * model, 16-bit, 5.14 GB"), and the engine's technical report behind a
   * Details toggle. Details that were open stay open across re-renders.
   */
  function fileItem(slot, entry, openDetails) {
    const li = el('li', { class: `ckpt-file ckpt-file-${entry.status}` });
    const head = el('div', { class: 'ckpt-file-head' }, el('span', { class: 'ckpt-file-name', text: entry.file.name }));
    const remove = el('button', {
      type: 'button', class: 'ckpt-remove', text: 'Remove', 'aria-label': `Remove ${entry.file.name} from ${SLOT_LABELS[slot]}`,
    });
    remove.addEventListener('click', () => {
      slots[slot] = slots[slot].filter((e) => e !== entry);
      slotsChanged();
      ui.slots[slot].input.focus();
    });
    head.append(remove);
    li.append(head);
    if (entry.status === 'inspecting') {
      li.append(el('span', { class: 'ckpt-file-summary', text: `Reading what it holds… (${formatBytes(entry.file.size)})` }));
    } else if (entry.report) {
      const report = entry.report;
      const inSlot = report.components.filter((c) => c.slot === slot);
      for (const component of inSlot) {
        li.append(el('span', { class: 'ckpt-file-summary', text: plainSummary(component, report) }));
      }
      const slotsInFile = [...new Set(report.components.map((c) => c.slot))];
      if (slotsInFile.length > 1 && inSlot.length > 0) {
        li.append(el('span', {
          class: 'ckpt-file-info',
          text: `Taken from a full checkpoint (it also holds ${slotsInFile.filter((s) => s !== slot).map(slotNoun).join(', ')}).`,
        }));
      }
      if (report.has_workflow) li.append(el('span', { class: 'ckpt-file-info', text: 'It has a ComfyUI workflow in it (has a workflow).' }));
      const technical = el('div', { class: 'ckpt-file-tech' });
      for (const component of report.components) {
        technical.append(el('p', { text: describeComponent(component, report.architecture) }));
      }
      if (report.architecture) technical.append(el('p', { text: `Architecture (ComfyUI class): ${report.architecture}` }));
      technical.append(el('p', { text: `Tensor types: ${formatDTypes(report.dtypes)}` }));
      technical.append(el('p', { text: `File size: ${formatBytes(report.bytes)} (${report.bytes.toLocaleString('en-US')} bytes)` }));
      const details = el('details', { class: 'ckpt-file-details', open: openDetails },
        el('summary', { text: 'Details' }), technical, metadataDetails(report.metadata));
      li.append(details);
    }
    const problem = entryProblem(slot, entry);
    if (problem) {
      li.classList.add('ckpt-file-bad');
      li.append(el('span', { class: 'ckpt-file-problem', text: problem }));
    }
    return li;
  }

  // What each slot's list was last drawn from: a slot is redrawn only when
  // that changes, so focus on its Remove button or Details stays put while
  // the rest of the page updates.
  const drawnSlots = new Map();

  function renderSlot(slot) {
    const { section, files, dropText } = ui.slots[slot];
    const entries = slots[slot];
    const problems = entries.map((e) => `${e.status}:${entryProblem(slot, e)}`);
    const note = slotNote(slot);
    const last = drawnSlots.get(slot);
    if (last && last.note === note && last.entries.length === entries.length && last.entries.every((e, i) => e === entries[i])
      && last.problems.every((p, i) => p === problems[i])) return;
    drawnSlots.set(slot, { entries: [...entries], problems, note });
    // Keep open Details (and open metadata lists) open across re-renders.
    const open = new Set([...files.querySelectorAll('.ckpt-file-details[open]')].map((d) => d.closest('li').dataset.key));
    files.replaceChildren();
    slots[slot].forEach((entry, index) => {
      const key = `${index}:${entry.file.name}`;
      const li = fileItem(slot, entry, open.has(key));
      li.dataset.key = key;
      files.append(li);
    });
    const filled = slots[slot].length > 0;
    section.classList.toggle('ckpt-slot-bad', slots[slot].some((e) => entryProblem(slot, e)));
    section.classList.toggle('ckpt-slot-filled', filled);
    const noun = slot === 'clip' ? 'text encoders' : slotNoun(slot);
    section.classList.toggle('ckpt-slot-unneeded', !filled && note !== '');
    dropText.firstChild.textContent = !filled && note ? `${note} ` : !filled
      ? `Drop the ${noun} here, or `
      : slot === 'clip' ? 'Drop another text encoder here to add it, or ' : `Drop another ${noun} here to replace it, or `;
    dropText.lastChild.textContent = slot !== 'clip' ? 'choose a file' : filled ? 'choose the files again' : 'choose files';
    dropText.lastChild.hidden = !filled && note !== '';
  }

  /**
   * The problems that keep Save off: a file that does not fit its slot (it
   * stays listed until the file is replaced or removed), a plan the engine
   * refused, an engine that did not start.
   */
  function blockingProblems() {
    const problems = [];
    for (const slot of SLOTS) {
      for (const entry of slots[slot]) if (entry.status === 'bad') problems.push(entry.problem);
    }
    if (planError) problems.push(planError.message);
    if (engineState === 'failed') problems.push(engineFailure);
    return [...new Set(problems.filter(Boolean))];
  }

  /** Everything the alert lists: the blocking problems, dropped files that fit no slot, a failed save. */
  function alertProblems() {
    const problems = [...blockingProblems(), ...dropProblems];
    // A cancelled save is no problem: the status alone says so.
    if (outcome?.kind === 'failed') problems.push(outcome.message);
    return [...new Set(problems.filter(Boolean))];
  }

  function renderAlert() {
    const problems = alertProblems();
    // Unchanged text is not rewritten, so screen readers announce each
    // problem once.
    if (problems.join('\n') === [...ui.alert.children].map((p) => p.textContent).join('\n')) return;
    ui.alert.replaceChildren(...problems.map((text) => el('p', { text })));
  }

  function sinkProblem(plan, sink) {
    if (!plan) return '';
    if (sink === 'blob' && plan.blobOK === false && plan.computed) {
      return `${plan.fileName} is quantized while saving: its weights are computed, which a direct download (slices of your files) cannot carry; `
        + `choose ${caps.canPickFile ? '"Save to a file on disk" or ' : ''}browser storage.`;
    }
    if (sink === 'blob' && plan.blobOK === false) {
      return `${plan.fileName} needs ${formatBytes(plan.blobInline)} of computed data, too much for a direct download; `
        + `choose ${caps.canPickFile ? '"Save to a file on disk" or ' : ''}browser storage.`;
    }
    if (sink === 'opfs' && plan.fits === false) {
      return `Not enough browser storage for ${plan.fileName}: it needs ${formatBytes(plan.bytes)}, and only `
        + `${formatBytes(freeBytes(plan))} is free. Delete saved checkpoints or choose another way to save.`;
    }
    return '';
  }

  function folderOf(path) {
    const cut = String(path ?? '').lastIndexOf('/');
    return cut > 0 ? path.slice(0, cut + 1) : '';
  }

  /** The line above Save: what Save will write, and under which name. */
  function planText(plan, sink) {
    const what = `${architectureName(plan.architecture, modelRequires()?.title)} checkpoint, ${formatBytes(plan.bytes)}`;
    const folder = folderOf(plan.path);
    // A download has a name and no folder: <a download> (and the download
    // manager) drop everything up to the last "/".
    const noFolder = folder ? ` A download cannot keep the ${folder} folder, so the file is named ${plan.fileName}.` : '';
    if (sink === 'file') return `Will ask where to save ${plan.fileName}: ${what}.`;
    if (sink === 'blob') return `Will download ${plan.fileName}: ${what}.${noFolder}`;
    return `Will write ${plan.path || plan.fileName}: ${what}, into browser storage, then download it.${noFolder}`;
  }

  /** Which metadata the planned header carries, in words: "Metadata: title “ComfyUI 1”, author, thumbnail, prompt and workflow." */
  function metadataText(meta) {
    const named = [];
    const title = meta['modelspec.title'];
    if (title) named.push(`title “${clipText(title, 80)}”`);
    const fields = [['modelspec.author', 'author'], ['modelspec.description', 'description'], ['modelspec.thumbnail', 'thumbnail'],
      ['modelspec.license', 'license'], ['modelspec.tags', 'tags'], ['modelspec.trigger_phrase', 'trigger phrase'],
      ['modelspec.hash_sha256', 'SHA-256 hash'], ['prompt', 'prompt'], ['workflow', 'workflow']];
    for (const [key, words] of fields) if (meta[key]) named.push(words);
    const known = new Set(['modelspec.title', ...fields.map(([key]) => key)]);
    // The rest (format, modelspec.architecture …) by name while few.
    const others = Object.keys(meta).filter((key) => !known.has(key)).sort();
    if (others.length > 0 && others.length <= 3) named.push(...others);
    else if (others.length > 3) named.push(`${others.length} other keys`);
    if (named.length === 0) return 'Metadata: none.';
    const list = named.length > 1 ? `${named.slice(0, -1).join(', ')} and ${named.at(-1)}` : named[0];
    return `Metadata: ${list}.`;
  }

  function renderPlan() {
    const sink = selectedSink();
    ui.plan.textContent = lastPlan ? planText(lastPlan, sink) : '';
    planMetadata.textContent = lastPlan ? metadataText(lastPlan.metadata ?? {}) : '';
    planMetadata.hidden = !lastPlan;
    const meta = lastPlan?.metadata ?? {};
    ui.predictionField.hidden = !predictionSelectable && ui.prediction.value === 'auto';
    ui.title.placeholder = meta['modelspec.title'] ? `${meta['modelspec.title']} (as ComfyUI names it)` : '';
  }

  function renderSinkAdvice() {
    const recommended = recommendSink(caps, lastPlan);
    const selected = selectedSink();
    for (const radio of ui.sinks) {
      const label = radio.closest('label');
      let badge = label.querySelector('.ckpt-badge');
      if (radio.value === recommended.sink && !badge) {
        badge = el('span', { class: 'ckpt-badge', text: 'recommended' });
        label.querySelector('.ckpt-sink-note').before(badge);
      } else if (radio.value !== recommended.sink && badge) {
        badge.remove();
      }
    }
    let text = `Recommended here: ${SINK_LABELS[recommended.sink]}. ${recommended.why}`;
    if (selected === 'opfs' && caps.privateWindow) {
      text = `${caps.storageNote} Browser storage may not hold a checkpoint here, and it is lost when the window closes; `
        + `choose ${SINK_LABELS[recommended.sink === 'opfs' ? 'blob' : recommended.sink]} instead.`;
    } else if (selected === 'opfs' && caps.canPickFile) {
      // Chromium's private windows cannot be detected (sinks.js): say it.
      text += ' In a private window, browser storage lives in memory and holds only about 1.5 GB.';
    }
    ui.sinkWhy.textContent = text;
  }

  /** The sentence next to Save when no save is running and none just ended. */
  function idleStatus() {
    if (engineState === 'starting') return 'Starting the checkpoint engine…';
    if (engineState === 'failed') return 'The checkpoint engine is not available.';
    if (reading) return `Reading ${reading}…`;
    const inspecting = SLOTS.flatMap((slot) => slots[slot]).find((e) => e.status === 'inspecting');
    if (inspecting) return `Reading ${inspecting.file.name}…`;
    const missing = SLOTS.filter((slot) => slots[slot].length === 0 && slotNote(slot) === '');
    if (missing.length === SLOTS.length) {
      return 'Add a diffusion model, text encoders and a VAE: drop the files anywhere here, or choose them above.';
    }
    if (blockingProblems().length) return 'Save is off until the problem above is fixed.';
    if (missing.length) {
      const wanted = missing.map((slot) => SLOT_WANTED[slot]);
      return `Still needed: ${wanted.length > 1 ? `${wanted.slice(0, -1).join(', ')} and ${wanted.at(-1)}` : wanted[0]}.`;
    }
    if (!lastPlan) return 'Checking that the files fit together…';
    const problem = sinkProblem(lastPlan, selectedSink());
    if (problem) return problem;
    return 'Ready to save.';
  }

  function canSave() {
    // A plan for changed inputs or options first clears lastPlan; a re-plan
    // of the same ones (the counter after a save) keeps it, and Save plans
    // once more anyway.
    return engineState === 'ready' && !activeSave && lastPlan !== null && complete()
      && blockingProblems().length === 0 && sinkProblem(lastPlan, selectedSink()) === '';
  }

  /** The result of the last save, next to Save: its file name first. */
  function outcomeElement() {
    const box = el('div', { class: 'ckpt-result', 'data-role': 'result' });
    box.append(el('p', { class: 'ckpt-result-title', text: outcome.title }));
    for (const line of outcome.lines) box.append(el('p', { class: 'ckpt-result-line', text: line }));
    return box;
  }

  let lastStatus = '';
  function renderStatus() {
    let content;
    if (activeSave) content = activeSave.status;
    else if (outcome?.kind === 'saved') content = outcome;
    else content = outcome ? outcome.status : idleStatus();
    const key = typeof content === 'string' ? content : `${content.title}\n${content.lines.join('\n')}`;
    if (key === lastStatus) return;
    lastStatus = key;
    if (typeof content === 'string') ui.status.textContent = content;
    else ui.status.replaceChildren(outcomeElement());
    ui.status.classList.toggle('ckpt-status-done', typeof content !== 'string');
    ui.status.classList.toggle('ckpt-status-cancelled', !activeSave && outcome?.kind === 'cancelled');
    root.dataset.outcome = activeSave ? 'running' : outcome?.kind ?? 'none';
  }

  /** Draws everything that follows from the state. */
  function render() {
    for (const slot of SLOTS) renderSlot(slot);
    renderPlan();
    renderSinkAdvice();
    renderAlert();
    renderStatus();
    ui.save.disabled = !canSave();
    ui.cancel.disabled = !activeSave || activeSave.phase === 'cancelling';
    ui.progressBox.hidden = !activeSave || activeSave.phase === 'picking';
    root.setAttribute('aria-busy', String(Boolean(activeSave)));
  }

  // ---- files into slots ----------------------------------------------------------
  function inspect(file) {
    let promise = inspections.get(file);
    if (!promise) {
      promise = engine.request('inspect', { file }).then((reply) => reply.report);
      inspections.set(file, promise);
    }
    return promise;
  }

  function fitProblem(file, report, slot) {
    if (report.components.some((c) => c.slot === slot)) return '';
    return `${file.name} holds ${describeContents(report)}, not a ${slotNoun(slot)}.`;
  }

  const sameFile = (a, b) => a === b || (a.name === b.name && a.size === b.size && a.lastModified === b.lastModified);

  /**
   * Puts files into one slot. A drop onto the text encoders slot adds them
   * (a file already there is not added twice); its picker replaces the list,
   * as choosing files again does anywhere else (mode 'replace'). The other
   * slots take the last file. A file is a File or a folder item (folder.js):
   * both are inspected by the engine alike.
   */
  function putInSlot(slot, files, mode = 'add') {
    if (activeSave || files.length === 0) return;
    dropProblems = [];
    const unique = files.filter((f, i) => files.findIndex((g) => sameFile(f, g)) === i);
    const keep = slot === 'clip' && mode === 'add' ? slots.clip : [];
    const fresh = slot === 'clip' ? unique.filter((f) => !keep.some((e) => sameFile(e.file, f))) : unique.slice(-1);
    const entries = fresh.map(inspectingEntry);
    slots[slot] = [...keep, ...entries];
    slotsChanged();
    inspectEntries(slot, entries);
  }

  function inspectingEntry(file) {
    return { file, status: 'inspecting', report: null, problem: '' };
  }

  /** Inspects new entries of a slot; each says whether it fits the slot. */
  function inspectEntries(slot, entries) {
    for (const entry of entries) {
      inspect(entry.file).then((report) => {
        entry.report = report;
        entry.problem = fitProblem(entry.file, report, slot);
        entry.status = entry.problem ? 'bad' : 'ok';
      }, (error) => {
        entry.status = 'bad';
        entry.problem = errorText(error);
      }).finally(() => {
        if (slots[slot].includes(entry)) slotsChanged();
      });
    }
  }

  /**
   * A diffusers pipeline's components replace what the slots held, in
   * every slot it has a component for: the pipeline is one model, and its
   * text encoders are all of them.
   */
  function placePipeline(opened) {
    if (activeSave) return; // a save started while the folder was read keeps its inputs
    const filled = SLOTS.filter((slot) => opened.placed.some((p) => p.slot === slot));
    for (const slot of filled) {
      slots[slot] = opened.placed.filter((p) => p.slot === slot).map((p) => inspectingEntry(p.item));
    }
    slotsChanged();
    for (const slot of filled) inspectEntries(slot, slots[slot]);
  }

  /**
   * Asks the engine what a picked or dropped folder is (folder.js's
   * openFolder); a folder it cannot read is a problem in the alert.
   */
  async function readFolder(folder, problems) {
    reading = `the folder ${folder.root}`;
    render();
    try {
      return await openFolder(engine, folder);
    } catch (error) {
      problems.push(errorText(error));
      return null;
    } finally {
      reading = '';
    }
  }

  /**
   * A drop onto one slot: its Files go into the slot; a dropped diffusers
   * pipeline fills every slot, any other folder (a component's folder,
   * shards with their index) goes into this slot as one item.
   */
  async function dropInSlot(slot, inputs) {
    if (activeSave) return;
    dropProblems = [];
    const files = inputs.filter((x) => !isDroppedFolder(x));
    putInSlot(slot, files);
    const problems = [];
    for (const folder of inputs.filter(isDroppedFolder)) {
      const opened = await readFolder(folder, problems);
      if (!opened) continue;
      if (opened.pipeline) placePipeline(opened);
      else putInSlot(slot, opened.placed.map((p) => p.item));
    }
    dropProblems = [...dropProblems, ...problems];
    render();
  }

  /**
   * Files dropped outside the slots (or given to addFiles) go where their
   * content fits. A file with several components (a full checkpoint) fills
   * the slots among them that are still empty, or all of them when none is:
   * so "checkpoint, then a VAE file" and "VAE file, then checkpoint" both
   * bake the new VAE in. A folder that is a diffusers pipeline fills every
   * slot (placePipeline); any other folder is one item placed by content.
   */
  async function routeFiles(inputs) {
    if (activeSave || inputs.length === 0) return;
    const problems = [];
    dropProblems = [];
    for (const input of inputs) {
      let file = input;
      if (isDroppedFolder(input)) {
        const opened = await readFolder(input, problems);
        if (!opened) continue;
        if (opened.pipeline) {
          placePipeline(opened);
          continue;
        }
        file = opened.placed[0].item;
      }
      reading = file.name;
      render();
      let report;
      try {
        report = await inspect(file);
      } catch (error) {
        problems.push(errorText(error));
        continue;
      }
      const found = [...new Set(report.components.map((c) => c.slot))].filter((s) => SLOTS.includes(s));
      if (found.length === 0) {
        problems.push(`${file.name} holds ${describeContents(report)}, so it fits no slot.`);
        continue;
      }
      const empty = found.filter((s) => !slots[s].some((e) => e.status === 'ok'));
      const targets = found.length > 1 && empty.length > 0 ? empty : found;
      for (const slot of targets) {
        const entry = { file, status: 'ok', report, problem: '' };
        if (slot === 'clip' && found.length === 1) {
          slots.clip = [...slots.clip.filter((e) => e.status === 'ok' && !sameFile(e.file, file)), entry];
        } else {
          slots[slot] = [entry];
        }
      }
      slotsChanged();
    }
    reading = '';
    dropProblems = problems;
    render();
  }

  function slotsChanged() {
    planError = null;
    outcome = null;
    setPlan(null);
    schedulePlan();
    render();
  }

  /** The outcome of a failed or cancelled save ends when the user changes something. */
  function dropFailedOutcome() {
    if (outcome && outcome.kind !== 'saved') outcome = null;
  }

  /**
   * An option changed: plan again. The last plan stays (and Save with it)
   * until the new one arrives: Save plans once more with the options of the
   * moment anyway, and a text field commits its change on blur, which a
   * click on Save causes, so turning Save off here would swallow that click.
   */
  function optionsChanged() {
    // A plan error stays listed until the new plan says otherwise.
    dropFailedOutcome();
    schedulePlan();
    render();
  }

  // ---- planning ----------------------------------------------------------------
  /** What the model file's report says the model needs (pkg/checkpoint Requirements), or null. */
  function modelRequires() {
    const entry = slots.model[0];
    return entry?.status === 'ok' ? entry.report?.requires ?? null : null;
  }

  /**
   * The engine's sentence for a slot the model does not need ("This model has no VAE: …"
   * for a pixel-space model), '' when the slot is needed.
   */
  function slotNote(slot) {
    const requires = modelRequires();
    if (slot === 'vae') return requires?.vae_note ?? '';
    if (slot === 'clip') return requires?.text_encoder_note ?? '';
    return '';
  }

  function complete() {
    return SLOTS.every((slot) => (slots[slot].length > 0 || slotNote(slot) !== '') && slots[slot].every((e) => e.status === 'ok'));
  }

  function requestFiles() {
    return {
      model: slots.model[0].file,
      clip: slots.clip.map((e) => e.file),
      vae: slots.vae[0]?.file,
    };
  }

  /** The request's files numbered as the worker numbers them in blob parts: model, clip…, vae. */
  function requestFilesList(request) {
    // A folder item posts all its Files, in order (folder.js).
    return [request.model, ...request.clip, request.vae].flatMap(postedFiles);
  }

  /**
   * The blob sink's output: the worker sends the checkpoint as parts, each
   * either computed bytes (header, transposed tensors) or a byte range of an
   * input file. A Blob of File slices is lazy, so nothing is copied into
   * memory; the download manager reads the input files directly.
   */
  function blobFromParts(parts, files) {
    const pieces = (parts ?? []).map((part) => {
      if (part.bytes) return part.bytes;
      const file = typeof part.file === 'number' ? files[part.file] : part.file;
      if (!(file instanceof Blob)) throw new Error('The checkpoint engine referred to an input file the page does not have.');
      return file.slice(part.start, part.end);
    });
    return new Blob(pieces, { type: 'application/octet-stream' });
  }

  /** What a blob hand-off gives the download manager: computed bytes and file slices. */
  function handedOver(parts) {
    const counted = { inlineBytes: 0, slices: 0, sliceBytes: 0 };
    for (const part of parts ?? []) {
      if (part.bytes) counted.inlineBytes += part.bytes.byteLength ?? part.bytes.size ?? 0;
      else {
        counted.slices += 1;
        counted.sliceBytes += part.end - part.start;
      }
    }
    return counted;
  }

  function schedulePlan() {
    clearTimeout(planTimer);
    planGeneration += 1;
    if (engineState !== 'ready' || !complete()) return;
    planTimer = setTimeout(() => runPlan().catch(() => {}), 150);
  }

  /** The current plan, told to options.onPlan whenever it changes. */
  function setPlan(planned) {
    if (planned === lastPlan) return;
    lastPlan = planned;
    try {
      options.onPlan?.(planned);
    } catch (error) {
      console.error('[ckptpack] onPlan failed', error);
    }
  }

  /** Plans the output with the current files and options; returns the reply. */
  async function runPlan() {
    const generation = ++planGeneration;
    const files = requestFiles();
    try {
      const opts = await collectOptions();
      const planned = await engine.request('plan', { ...files, options: opts });
      if (generation !== planGeneration) return null;
      planError = null;
      // Whether eps/v is the user's choice is the engine's call (fixed for
      // SD1.5 or SD3, selectable for a standalone SD2/SDXL model).
      predictionSelectable = opts.prediction !== 'auto' || planned.predictionChoice === true;
      stats.predictionSelectable = predictionSelectable;
      setPlan(planned);
      // A plan that cannot go out as a direct download changes the
      // recommendation (sinks.js) while the user has not chosen.
      if (sinkChosenBy === 'recommendation') applyCapabilities();
      return planned;
    } catch (error) {
      if (generation !== planGeneration) return null;
      setPlan(null);
      planError = problemLocation(error) ?? { message: errorText(error) };
      throw error;
    } finally {
      if (generation === planGeneration) render();
    }
  }

  /**
   * Which slot (and file) an engine error is about: the worker says so in
   * its slot and file fields (the engine's checkpoint.SlotError).
   */
  function problemLocation(error) {
    if (!(error instanceof EngineError) || !SLOTS.includes(error.slot)) return null;
    return { slot: error.slot, file: error.file, message: errorText(error) };
  }

  function freeBytes(plan) {
    const q = plan?.quota;
    // Chromium's estimate is a fixed usage + 10 GiB, not a limit: the
    // worker says so (limitKnown false), and a full disk fails on the write.
    if (q?.limitKnown === false) return NaN;
    return q && Number.isFinite(q.quota) && Number.isFinite(q.usage) ? Math.max(0, q.quota - q.usage) : NaN;
  }

  // ---- options ---------------------------------------------------------------------
  function selectedSink() {
    return ui.sinks.find((r) => r.checked)?.value ?? 'blob';
  }

  function jsonText(value, what) {
    if (value == null || value === '') return '';
    if (typeof value !== 'string') return JSON.stringify(value);
    try {
      JSON.parse(value);
    } catch (error) {
      throw new Error(`${what} is not valid JSON: ${error.message}`);
    }
    return value;
  }

  async function collectOptions() {
    let prompt = '';
    let extraPnginfo = '';
    if (options.metadataProvider) {
      const provided = (await options.metadataProvider()) ?? {};
      prompt = jsonText(provided.prompt, 'The prompt');
      extraPnginfo = jsonText(provided.extraPnginfo, 'extra_pnginfo');
    }
    if (showMetadataFields) {
      if (ui.prompt.value.trim() !== '') prompt = jsonText(ui.prompt.value, 'The prompt');
      const workflowFile = ui.workflow.files?.[0];
      if (workflowFile) {
        const text = await workflowFile.text();
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          throw new Error(`${workflowFile.name} is not valid JSON: ${error.message}`);
        }
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          throw new Error(`${workflowFile.name} is not a workflow: it must hold a JSON object.`);
        }
        // ComfyUI passes extra_pnginfo = {"workflow": <graph>}; keep the
        // file's own text so the worker re-encodes exactly what it holds.
        extraPnginfo = `{"workflow":${text}}`;
      }
    }
    const metadata = {};
    if (ui.title.value.trim()) metadata['modelspec.title'] = ui.title.value.trim();
    if (ui.author.value.trim()) metadata['modelspec.author'] = ui.author.value.trim();
    if (ui.description.value.trim()) metadata['modelspec.description'] = ui.description.value.trim();
    return {
      filenamePrefix: ui.prefix.value,
      prompt,
      extraPnginfo,
      disableMetadata: ui.disableMetadata.checked,
      metadata,
      prediction: ui.prediction.value,
      ...(ui.quantize?.value ? { quantize: ui.quantize.value } : {}),
      sha256: false,
      takenNames: [...takenNames],
      ...(await options.extraOptions?.()), // e.g. the metadata editor's {modelspec, hash}
    };
  }

  // ---- saving ------------------------------------------------------------------------
  function setFormDisabled(busy) {
    for (const fieldset of ui.fieldsets) {
      if (fieldset.tagName === 'FIELDSET') fieldset.disabled = busy;
      else for (const control of fieldset.querySelectorAll('input, textarea, select')) control.disabled = busy;
    }
    ui.disableMetadata.disabled = busy; // outside the fieldsets with a metadataProvider
  }

  function setSaveStatus(phase, status) {
    activeSave.phase = phase;
    activeSave.status = status;
    render();
  }

  /** What the result says about the download name, when the plan had a folder. */
  function downloadNameNote(path, name) {
    const folder = folderOf(path);
    return folder ? `The download is named ${name}: a download cannot keep the ${folder} folder.` : '';
  }

  async function onSave(event) {
    event.preventDefault();
    if (!canSave()) return;
    const sink = selectedSink();
    const plannedName = lastPlan.fileName;
    activeSave = { id: 0, phase: 'picking', status: 'Choose where to save the checkpoint…' };
    outcome = null;
    setFormDisabled(true);
    render();
    let fileHandle;
    if (sink === 'file') {
      // The picker needs the click's user activation, so it comes first,
      // before any await.
      try {
        fileHandle = await globalThis.showSaveFilePicker({
          suggestedName: plannedName || 'ComfyUI_00001_.safetensors',
          types: [{ description: 'safetensors checkpoint', accept: { 'application/octet-stream': ['.safetensors'] } }],
        });
      } catch (error) {
        activeSave = null;
        setFormDisabled(false);
        outcome = error?.name === 'AbortError'
          ? { kind: 'cancelled', status: 'Cancelled: no file chosen, nothing was written.' }
          : { kind: 'failed', status: 'Save failed.', message: `Could not open the save dialog: ${error.message}` };
        render();
        return;
      }
    }
    ui.progress.max = 1;
    ui.progress.value = 0;
    ui.progressText.textContent = '';
    const clickedAt = performance.now();
    const record = {
      sink, bytes: 0, seconds: NaN, wasmMemoryMin: Infinity, wasmMemoryMax: 0, progressEvents: 0, name: '', path: '',
    };
    stats.lastSave = record;
    const noteMemory = (bytes) => {
      if (!Number.isFinite(bytes)) return;
      record.wasmMemoryMin = Math.min(record.wasmMemoryMin, bytes);
      record.wasmMemoryMax = Math.max(record.wasmMemoryMax, bytes);
      stats.wasmMemoryBytes = bytes;
    };
    try {
      if (sink === 'opfs' && typeof navigator.storage?.persist === 'function') {
        // Ask from the click (persistent storage is not evicted under
        // pressure), but never wait for the answer: Chromium decides
        // without a prompt, Firefox shows a permission prompt whose promise
        // settles only when the user answers it. The save needs no answer.
        Promise.resolve(navigator.storage.persisted?.())
          .then((persisted) => persisted || navigator.storage.persist())
          .catch(() => false);
      }
      setSaveStatus('planning', 'Planning the checkpoint…');
      clearTimeout(planTimer);
      const plan = await runPlan();
      if (!plan) throw new Error('The components changed while planning; press Save again.');
      const refused = sinkProblem(plan, sink);
      if (refused) throw new Error(refused);
      ui.progress.max = plan.bytes;
      const target = sink === 'opfs' ? plan.path || plan.fileName : sink === 'file' ? fileHandle.name : plan.fileName;
      setSaveStatus('writing', sink === 'blob' ? `Preparing the download of ${target}…` : `Writing ${target}…`);
      const request = requestFiles();
      const { id, result } = engine.start('save', {
        ...request, options: await collectOptions(), sink, fileHandle,
      }, {
        onProgress: (p) => {
          record.progressEvents += 1;
          noteMemory(p.wasmMemoryBytes);
          ui.progress.max = p.total;
          ui.progress.value = p.done;
          ui.progressText.textContent = formatProgress(p);
        },
      });
      activeSave.id = id;
      const done = await result;
      noteMemory(done.wasmMemoryBytes);
      ui.progress.value = ui.progress.max;
      record.bytes = done.bytes;
      record.name = done.name;
      record.path = done.path ?? '';
      record.seconds = (performance.now() - clickedAt) / 1000;
      record.engineSeconds = done.seconds ?? NaN;
      const what = `${architectureName(done.architecture || plan.architecture, modelRequires()?.title)} checkpoint, ${formatBytes(done.bytes)}`;
      const took = formatDuration(record.seconds);
      if (done.sink === 'opfs') {
        startDownload(doc, await opfsFile(done.path), done.name, objectURLs);
        outcome = {
          kind: 'saved',
          title: `Saved ${done.path}`,
          lines: [
            `${what}, written to browser storage in ${took}. The download of ${done.name} has started.`,
            downloadNameNote(done.path, done.name),
          ].filter(Boolean),
        };
      } else if (done.sink === 'blob') {
        startDownload(doc, blobFromParts(done.parts, requestFilesList(request)), done.name, objectURLs);
        takenNames.add(plan.path || plan.fileName);
        // The engine only planned the parts: the browser's download manager
        // copies the bytes now, out of the page's sight (a Blob's reads are
        // not observable), so the page says what it handed over and where
        // the progress is shown.
        const handed = handedOver(done.parts);
        outcome = {
          kind: 'saved',
          handedOver: true,
          title: `Handed to your browser's downloads: ${done.name}`,
          lines: [
            `${what}. The page handed over the header (${formatBytes(handed.inlineBytes)}) and `
              + `${handed.slices.toLocaleString('en-US')} ${handed.slices === 1 ? 'slice' : 'slices'} of your files `
              + `(${formatBytes(handed.sliceBytes)}); your browser's download manager writes the file now. `
              + 'Its progress, speed and Cancel are in the browser\'s downloads list (Ctrl+J, or the downloads button).',
            'Keep the input files unchanged until the download finishes. The page is done: you can set up the next save.',
            downloadNameNote(plan.path, done.name),
          ].filter(Boolean),
        };
      } else {
        outcome = {
          kind: 'saved',
          title: `Saved ${done.name}`,
          lines: [`${what}, written to the file you chose in ${took}.`],
        };
        takenNames.add(plan.path || plan.fileName);
      }
      record.downloadStartedSeconds = (performance.now() - clickedAt) / 1000;
      stats.savesCompleted += 1;
      try {
        options.onSaved?.(done);
      } catch (error) {
        console.error('[ckptpack] onSaved failed', error);
      }
    } catch (error) {
      if (error instanceof EngineError && error.code === 'cancelled') {
        outcome = { kind: 'cancelled', status: 'Cancelled: nothing was kept.' };
      } else {
        // A problem with one file is also shown on its slot.
        const located = problemLocation(error);
        if (located) planError = located;
        outcome = { kind: 'failed', status: 'Save failed; nothing was kept.', message: errorText(error) };
      }
    } finally {
      activeSave = null;
      setFormDisabled(false);
      render();
      refreshSaved();
      schedulePlan();
    }
  }

  function onCancel() {
    if (activeSave?.id) {
      engine.cancel(activeSave.id);
      setSaveStatus('cancelling', 'Cancelling…');
    }
  }

  // ---- saved checkpoints --------------------------------------------------------------
  async function refreshSaved() {
    if (!caps.opfs) {
      ui.storage.textContent = '';
      ui.savedList.replaceChildren();
      ui.savedEmpty.hidden = false;
      ui.savedEmpty.textContent = caps.storageNote || 'This browser has no private file storage.';
      return;
    }
    let listed;
    try {
      listed = await engine.request('list', {});
    } catch (error) {
      ui.storage.textContent = `Could not list browser storage: ${error.message}`;
      return;
    }
    // The sinks' probe may have found the storage unusable meanwhile.
    if (!caps.opfs) {
      refreshSaved();
      return;
    }
    const files = [...listed.files].sort((a, b) => a.path.localeCompare(b.path));
    ui.savedList.replaceChildren(...files.map(savedItem));
    ui.savedEmpty.hidden = files.length > 0;
    const free = Number.isFinite(listed.quota) ? Math.max(0, listed.quota - listed.usage) : NaN;
    // The next file name's counter depends on what is stored: plan again.
    if (!activeSave) schedulePlan();
    ui.storage.textContent = `Browser storage: ${formatBytes(listed.usage)} used, about ${formatBytes(free)} free `
      + `(the browser's estimate). ${listed.persisted
        ? 'Persistent: the browser keeps these files.'
        : 'Not persistent: the browser may clear these files when disk space runs low.'}`;
  }

  function savedItem(file) {
    const li = el('li', { class: 'ckpt-saved-item' });
    const when = file.lastModified ? new Date(file.lastModified).toLocaleString() : '';
    li.append(
      el('span', { class: 'ckpt-file-name', text: file.path }),
      el('span', { class: 'ckpt-file-info', text: `${formatBytes(file.bytes)}${when ? ` · ${when}` : ''}` }),
    );
    const remove = el('button', { type: 'button', text: 'Delete', 'aria-label': `Delete ${file.path}` });
    remove.addEventListener('click', async () => {
      remove.disabled = true;
      try {
        await engine.request('delete', { path: file.path });
        ui.storage.textContent = `Deleted ${file.path}.`;
      } catch (error) {
        ui.storage.textContent = `Could not delete ${file.path}: ${errorText(error)}`;
      }
      await refreshSaved();
      (ui.savedList.querySelector('button') ?? ui.prefix).focus();
    });
    if (file.partial) {
      // A .part file is a save in progress or one a closed tab interrupted:
      // not a checkpoint, so it can only be deleted.
      li.classList.add('ckpt-saved-partial');
      li.append(el('span', { class: 'ckpt-file-problem', text: activeSave ? 'Being written now.' : 'Incomplete: an interrupted save. Delete it to free the space.' }));
      if (!activeSave) li.append(el('span', { class: 'ckpt-saved-actions' }, remove));
      return li;
    }
    const download = el('button', { type: 'button', text: 'Download', 'aria-label': `Download ${file.path}` });
    download.addEventListener('click', async () => {
      try {
        startDownload(doc, await opfsFile(file.path), file.name, objectURLs);
        ui.storage.textContent = `Download of ${file.name} started.`;
      } catch (error) {
        ui.storage.textContent = `${file.path}: could not read it from browser storage: ${error.message}`;
        refreshSaved();
      }
    });
    li.append(el('span', { class: 'ckpt-saved-actions' }, download, remove));
    return li;
  }

  // ---- events -------------------------------------------------------------------------
  function listen(target, type, handler) {
    target.addEventListener(type, handler);
    listeners.push(() => target.removeEventListener(type, handler));
  }

  const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');
  const filesFromDrop = options.filesFromDrop ?? droppedInputs;
  /** The files of a drop, then place(files); a failing filesFromDrop is shown like a bad file. */
  function takeDrop(event, place) {
    let taken;
    try {
      // Synchronously: the DataTransfer is readable only during the event.
      taken = filesFromDrop(event.dataTransfer);
    } catch (error) {
      taken = Promise.reject(error);
    }
    Promise.resolve(taken).then((files) => place([...files]), (error) => {
      dropProblems = [`Could not read what was dropped: ${errorText(error)}`];
      render();
    });
  }

  // While files are dragged over the drop target every slot lights up and a
  // banner says a drop anywhere works. dragover repeats while the pointer is
  // over the target (at least every 350 ± 200 ms, by the HTML drag-and-drop
  // processing model), so the highlight ends a second after the last one, or
  // at once when the drag leaves for outside the target (dragleave with no
  // relatedTarget; between children it names the child).
  let dragTimer = 0;
  function dragging(on) {
    clearTimeout(dragTimer);
    root.classList.toggle('ckpt-dragging', on);
    ui.dropBanner.hidden = !on;
    if (on) dragTimer = setTimeout(() => dragging(false), 1000);
  }

  for (const slot of SLOTS) {
    const { section, input } = ui.slots[slot];
    listen(input, 'change', () => {
      const files = [...input.files];
      // The list above the drop zone shows what the slot holds; clearing the
      // input lets the same file be picked again after a Remove.
      input.value = '';
      putInSlot(slot, files, 'replace');
    });
    listen(section, 'dragover', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      section.classList.add('ckpt-drop-over');
    });
    listen(section, 'dragleave', (event) => {
      if (!section.contains(event.relatedTarget)) section.classList.remove('ckpt-drop-over');
    });
    listen(section, 'drop', (event) => {
      section.classList.remove('ckpt-drop-over');
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.stopPropagation();
      dragging(false);
      takeDrop(event, (files) => dropInSlot(slot, files));
    });
  }

  const dropTarget = options.dropTarget ?? root;
  listen(dropTarget, 'dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = activeSave ? 'none' : 'copy';
    if (!activeSave) dragging(true);
  });
  listen(dropTarget, 'dragleave', (event) => {
    if (!event.relatedTarget) dragging(false);
  });
  listen(dropTarget, 'drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragging(false);
    takeDrop(event, routeFiles);
  });

  // The folder picker (webkitdirectory): the chosen folder's Files with
  // their paths, placed as a dropped folder is.
  listen(ui.folder, 'change', () => {
    const folder = folderFromInput(ui.folder.files);
    ui.folder.value = '';
    if (folder) {
      routeFiles([folder]);
    } else {
      dropProblems = ['The chosen folder holds no weights (.safetensors, .ckpt, .pt, .bin) or index files.'];
      render();
    }
  });

  listen(ui.form, 'submit', onSave);
  listen(ui.cancel, 'click', onCancel);
  for (const control of [ui.prefix, ui.prediction, ui.quantize, ui.disableMetadata, ui.title, ui.prompt, ui.workflow].filter(Boolean)) {
    listen(control, 'change', optionsChanged);
  }
  // The plan line follows the prefix as it is typed (schedulePlan waits for a pause).
  listen(ui.prefix, 'input', optionsChanged);
  for (const radio of ui.sinks) {
    listen(radio, 'change', () => {
      sinkChosenBy = 'user';
      dropFailedOutcome();
      render();
    });
  }

  render();

  return {
    element: root,
    ready,
    stats,
    get lastPlan() { return lastPlan; },
    engine,
    setDefaults,
    optionsChanged: () => {
      if (!activeSave) optionsChanged();
    },
    addFiles: (files) => routeFiles([...files]),
    putFiles: (slot, files) => {
      if (!SLOTS.includes(slot)) throw new Error(`no slot "${slot}": use one of ${SLOTS.join(', ')}`);
      putInSlot(slot, [...files]);
    },
    refreshSaved,
    destroy() {
      clearTimeout(planTimer);
      clearTimeout(dragTimer);
      for (const off of listeners) off();
      engine.terminate();
      for (const url of objectURLs) URL.revokeObjectURL(url);
      objectURLs.clear();
    },
  };
}
