// mountSaver: the checkpoint saver UI, mountable into any container (the
// standalone page's <div id="app">, a ComfyUI sidebar tab …).
//
// The page only renders state. Everything about checkpoint contents (what a
// file holds, whether components fit together, the output header, counters)
// comes from the Go/WASM worker through EngineClient; see
// wasm/worker/PROTOCOL.md. File and metadata text is only ever written with
// textContent, so a <script> or onerror attribute inside a file's metadata
// stays inert text.

import { EngineClient, EngineError } from './engine-client.js';
import { buildSaverElement } from './markup.js';
import { folderFromInput, foldersFromDrop, openFolder, postedFiles } from './folder.js';
import { hasOPFS, opfsFile, startDownload } from './opfs.js';
import {
  clipText,
  describeComponent,
  describeContents,
  formatBytes,
  formatDTypes,
  formatDuration,
  formatProgress,
  slotNoun,
} from './format.js';

const SLOTS = ['model', 'clip', 'vae'];
const SLOT_LABELS = { model: 'Diffusion model', clip: 'Text encoders', vae: 'VAE' };

/**
 * Mounts the saver into container and starts its worker.
 *
 * @param {Element} container where the UI lives; markup already inside it
 *   (web/index.html's static copy) is hydrated, otherwise it is rendered.
 * @param {object} [options]
 * @param {string|URL} [options.baseURL] folder holding worker.js and the
 *   .wasm, resolved against this module's URL (default: the folder above
 *   web/app/, i.e. web/).
 * @param {{filenamePrefix?: string, embedWorkflow?: boolean, sink?: 'opfs'|'file'|'blob'}} [options.defaults]
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
 *   and with null when the inputs or options change or a plan fails.
 * @param {EventTarget} [options.dropTarget] where a dropped file is routed
 *   by its content (default: container; the standalone page passes document).
 * @param {() => Promise<object>} [options.extraOptions] more save options
 *   (PROTOCOL.md "options"), e.g. the metadata editor's {modelspec, hash}.
 * @param {(done: object) => void} [options.onSaved] called with each
 *   successful save's done reply.
 * @param {'classic'|'module'} [options.workerType]
 * @param {boolean} [options.stylesheet] link baseURL/style.css into the
 *   document when it is not linked yet (default true).
 * @returns {{ready: Promise<object>, stats: object, lastPlan: object|null,
 *   setDefaults(defaults: {filenamePrefix?: string, embedWorkflow?: boolean, sink?: 'opfs'|'file'|'blob'}): void,
 *   refreshSaved(): Promise<void>, destroy(): void, element: Element}}
 *   lastPlan is the current plan (null while there is none); setDefaults
 *   applies changed host settings to the form (only the fields given).
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
    sinkFile: $('sink-file'),
    sinks: [...root.querySelectorAll('[data-role="sink"]')],
    plan: $('plan'),
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
    folder: root.querySelector('[data-role="folder"]'),
    fieldsets: [...root.querySelectorAll('.ckpt-form > fieldset, .ckpt-form > details')],
    slots: Object.fromEntries(SLOTS.map((slot) => {
      const section = root.querySelector(`[data-slot="${slot}"]`);
      return [slot, { section, input: $('input', section), files: $('files', section) }];
    })),
  };

  // ---- state -------------------------------------------------------------
  // entries per slot: {file, status: 'inspecting'|'ok'|'bad', report, problem}
  const slots = { model: [], clip: [], vae: [] };
  const inspections = new WeakMap(); // File -> Promise<report>
  let planProblem = null; // {slot, file, message} from the last plan
  let lastPlan = null;
  let predictionSelectable = false; // the engine's planned.predictionChoice
  let planGeneration = 0;
  let planTimer = 0;
  let activeSave = null; // {id}
  const objectURLs = new Set();
  const listeners = [];
  const stats = {
    readyMs: NaN,
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
  if (options.metadataProvider) {
    // The provided prompt and workflow are embedded unless this is ticked:
    // keep the switch in view, not inside the collapsed Metadata section.
    const leaveOut = ui.disableMetadata.closest('label');
    leaveOut.classList.add('ckpt-leave-out');
    root.querySelector('[data-role="metadata"]').before(leaveOut);
  }
  const canPickFile = typeof globalThis.showSaveFilePicker === 'function';
  ui.sinkFile.hidden = !canPickFile;
  const opfsAvailable = hasOPFS();
  if (!opfsAvailable) {
    // Without OPFS (very old or locked-down browsers) the only way out is a
    // Blob assembled from slices of the inputs, handed to the download manager.
    const opfsRadio = ui.sinks.find((r) => r.value === 'opfs');
    opfsRadio.disabled = true;
    opfsRadio.closest('label').hidden = true;
  }
  const offeredSink = (value) => ui.sinks.find((r) => r.value === value && !r.disabled && !r.closest('label').hidden);
  const initialSink = offeredSink(defaults.sink ?? 'opfs') ?? ui.sinks.find((r) => !r.disabled && !r.closest('label').hidden);
  initialSink.checked = true;

  /** Applies changed host settings (the ComfyUI extension's) to the form. */
  function setDefaults(changed = {}) {
    if (typeof changed.filenamePrefix === 'string' && changed.filenamePrefix.trim() !== '') {
      ui.prefix.value = changed.filenamePrefix;
    }
    if (typeof changed.embedWorkflow === 'boolean') ui.disableMetadata.checked = !changed.embedWorkflow;
    if (changed.sink) {
      const radio = offeredSink(changed.sink);
      if (radio) radio.checked = true;
    }
    // A running save keeps the options it started with; the next plan (and
    // save) uses the new ones.
    renderPlan();
    if (!activeSave) schedulePlan();
  }

  // ---- engine ----------------------------------------------------------------
  const startedAt = performance.now();
  const engine = new EngineClient(new URL('worker.js', baseURL), { type: options.workerType ?? 'classic' });
  const ready = engine.ready.then((info) => {
    stats.readyMs = performance.now() - startedAt;
    stats.version = info.version ?? '';
    stats.wasmMemoryBytes = info.wasmMemoryBytes;
    ui.save.disabled = false;
    setStatus(opfsAvailable
      ? 'Ready. Choose or drop a diffusion model, text encoders and a VAE.'
      : 'Ready. This browser has no private file storage, so checkpoints are built as a direct download.');
    refreshSaved();
    return info;
  }, (error) => {
    setStatus('The checkpoint engine is not available.');
    showAlert(error.message);
    throw error;
  });
  ready.catch(() => {});

  // ---- rendering helpers -------------------------------------------------------
  function setStatus(text) {
    ui.status.textContent = text;
  }

  function showAlert(text) {
    ui.alert.replaceChildren();
    if (!text) return;
    const p = doc.createElement('p');
    p.textContent = text;
    ui.alert.append(p);
  }

  function errorText(error) {
    if (error instanceof EngineError && error.file && !error.message.includes(error.file)) {
      return `${error.file}: ${error.message}`;
    }
    return error?.message ?? String(error);
  }

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

  function renderSlot(slot) {
    const { section, files } = ui.slots[slot];
    files.replaceChildren();
    let bad = false;
    for (const entry of slots[slot]) {
      const li = el('li', { class: `ckpt-file ckpt-file-${entry.status}` });
      li.append(el('span', { class: 'ckpt-file-name', text: entry.file.name }));
      const problem = entry.status === 'bad'
        ? entry.problem
        : planProblem && planProblem.slot === slot && (!planProblem.file || planProblem.file === entry.file.name
          || planProblem.file.startsWith(`${entry.file.name}/`)) // a file inside a folder item
          ? planProblem.message : '';
      if (entry.status === 'inspecting') {
        li.append(el('span', { class: 'ckpt-file-info', text: `reading header… (${formatBytes(entry.file.size)})` }));
      } else if (entry.report) {
        const report = entry.report;
        const found = report.components.filter((c) => c.slot === slot);
        const lines = found.length ? found : report.components;
        for (const component of lines) {
          li.append(el('span', { class: 'ckpt-file-info', text: describeComponent(component, report.architecture) }));
        }
        const slotsInFile = [...new Set(report.components.map((c) => c.slot))];
        if (slotsInFile.length > 1) {
          li.append(el('span', {
            class: 'ckpt-file-info',
            text: `from a full checkpoint (${slotsInFile.map(slotNoun).join(', ')}); this slot uses its ${slotNoun(slot)}`,
          }));
        }
        li.append(el('span', { class: 'ckpt-file-info', text: `${formatDTypes(report.dtypes)} · ${formatBytes(report.bytes)} file${report.has_workflow ? ' · has a workflow' : ''}` }));
        const details = metadataDetails(report.metadata);
        if (details) li.append(details);
      }
      if (problem) {
        bad = true;
        li.classList.add('ckpt-file-bad');
        li.append(el('span', { class: 'ckpt-file-problem', text: problem }));
      }
      const remove = el('button', {
        type: 'button', class: 'ckpt-remove', text: 'Remove', 'aria-label': `Remove ${entry.file.name} from ${SLOT_LABELS[slot]}`,
      });
      remove.addEventListener('click', () => {
        slots[slot] = slots[slot].filter((e) => e !== entry);
        slotsChanged([slot]);
        ui.slots[slot].input.focus();
      });
      li.append(remove);
      files.append(li);
    }
    section.classList.toggle('ckpt-slot-bad', bad);
    section.classList.toggle('ckpt-slot-filled', slots[slot].length > 0);
  }

  function renderAll() {
    for (const slot of SLOTS) renderSlot(slot);
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

  /** Puts files into one slot (a slot's file input or a drop onto it). */
  function putInSlot(slot, files, { replace }) {
    const entries = files.map((file) => ({ file, status: 'inspecting', report: null, problem: '' }));
    if (slot === 'clip') slots.clip = replace ? entries : [...slots.clip, ...entries];
    else slots[slot] = entries.slice(-1);
    showAlert('');
    slotsChanged([slot]);
    for (const entry of slots[slot]) {
      if (entry.status !== 'inspecting') continue;
      inspect(entry.file).then((report) => {
        entry.report = report;
        entry.problem = fitProblem(entry.file, report, slot);
        entry.status = entry.problem ? 'bad' : 'ok';
        if (entry.problem) showAlert(entry.problem);
      }, (error) => {
        entry.status = 'bad';
        entry.problem = errorText(error);
        showAlert(entry.problem);
      }).finally(() => {
        if (slots[slot].includes(entry)) slotsChanged([slot]);
      });
    }
  }

  /**
   * A file dropped outside the slots goes where its content fits. A file
   * with several components (a full checkpoint) fills the slots among them
   * that are still empty, or all of them when none is: so "checkpoint, then
   * a VAE file" and "VAE file, then checkpoint" both bake the new VAE in.
   */
  async function routeFiles(files) {
    showAlert('');
    setStatus(`Reading ${files.length === 1 ? files[0].name : `${files.length} files`}…`);
    const problems = [];
    for (const file of files) {
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
          slots.clip = [...slots.clip.filter((e) => e.status === 'ok'), entry];
        } else {
          slots[slot] = [entry];
        }
      }
      slotsChanged(targets);
    }
    setStatus(problems.length ? 'Some files fit no slot.' : 'Files placed by their content.');
    showAlert(problems.join(' '));
  }

  /**
   * A picked or dropped folder: a diffusers pipeline fills every slot it has
   * a component for (folder items, see folder.js); any other folder (one
   * component, shards with an index) goes where its content fits.
   */
  async function placeFolder(folder) {
    showAlert('');
    setStatus(`Reading folder ${folder.root}…`);
    let opened;
    try {
      opened = await openFolder(engine, folder);
    } catch (error) {
      setStatus('The folder fits no slot.');
      showAlert(errorText(error));
      return;
    }
    if (!opened.pipeline) {
      await routeFiles(opened.placed.map((p) => p.item));
      return;
    }
    for (const slot of SLOTS) {
      const items = opened.placed.filter((p) => p.slot === slot).map((p) => p.item);
      if (items.length) putInSlot(slot, items, { replace: true });
    }
    setStatus(`${folder.root}: ${opened.pipeline}, components placed in their slots.`);
  }

  function slotsChanged() {
    planProblem = null;
    setPlan(null);
    renderAll();
    renderPlan();
    schedulePlan();
  }

  // ---- planning ----------------------------------------------------------------
  function complete() {
    return SLOTS.every((slot) => slots[slot].length > 0 && slots[slot].every((e) => e.status === 'ok'));
  }

  function requestFiles() {
    return {
      model: slots.model[0].file,
      clip: slots.clip.map((e) => e.file),
      vae: slots.vae[0].file,
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

  function schedulePlan() {
    clearTimeout(planTimer);
    planGeneration += 1;
    if (!complete()) return;
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
      planProblem = null;
      // Whether eps/v is the user's choice is the engine's call (fixed for
      // SD1.5 or SD3, selectable for a standalone SD2/SDXL model).
      predictionSelectable = opts.prediction !== 'auto' || planned.predictionChoice === true;
      stats.predictionSelectable = predictionSelectable;
      setPlan(planned);
      renderAll();
      renderPlan();
      return planned;
    } catch (error) {
      if (generation !== planGeneration) return null;
      setPlan(null);
      planProblem = problemLocation(error);
      renderAll();
      renderPlan();
      showAlert(errorText(error));
      throw error;
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

  function renderPlan() {
    if (!lastPlan) {
      ui.plan.textContent = '';
      ui.predictionField.hidden = ui.prediction.value === 'auto';
      return;
    }
    const plan = lastPlan;
    const where = selectedSink() === 'opfs' ? plan.path || plan.fileName : plan.fileName;
    let text = `Will write ${where}: ${plan.architecture} checkpoint, ${formatBytes(plan.bytes)}.`;
    if (selectedSink() === 'opfs' && plan.fits === false) {
      text += ` Browser storage has only ${formatBytes(freeBytes(plan))} free.`;
    }
    ui.plan.textContent = text;
    const meta = plan.metadata ?? {};
    ui.predictionField.hidden = !predictionSelectable && ui.prediction.value === 'auto';
    ui.title.placeholder = meta['modelspec.title'] ? `${meta['modelspec.title']} (as ComfyUI names it)` : '';
  }

  // ---- options ---------------------------------------------------------------------
  function selectedSink() {
    return ui.sinks.find((r) => r.checked)?.value ?? 'opfs';
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
      sha256: false,
      ...(await options.extraOptions?.()), // e.g. the metadata editor's {modelspec, hash}
    };
  }

  // ---- saving ------------------------------------------------------------------------
  function setBusy(busy) {
    for (const fieldset of ui.fieldsets) {
      if (fieldset.tagName === 'FIELDSET') fieldset.disabled = busy;
      else for (const control of fieldset.querySelectorAll('input, textarea, select')) control.disabled = busy;
    }
    ui.disableMetadata.disabled = busy; // outside the fieldsets with a metadataProvider
    ui.save.disabled = busy;
    ui.cancel.disabled = !busy;
    root.setAttribute('aria-busy', String(busy));
  }

  function missingSlotsMessage() {
    const missing = SLOTS.filter((slot) => slots[slot].length === 0).map((slot) => SLOT_LABELS[slot].toLowerCase());
    if (missing.length) return `Choose ${missing.join(', ')} first.`;
    const inspecting = SLOTS.flatMap((slot) => slots[slot]).find((e) => e.status === 'inspecting');
    if (inspecting) return `Still reading ${inspecting.file.name}; try again in a moment.`;
    const bad = SLOTS.flatMap((slot) => slots[slot]).find((e) => e.status === 'bad');
    if (bad) return bad.problem;
    return '';
  }

  async function onSave(event) {
    event.preventDefault();
    if (activeSave) return;
    const sink = selectedSink();
    let fileHandle;
    const problem = missingSlotsMessage();
    if (problem) {
      showAlert(problem);
      return;
    }
    showAlert('');
    if (sink === 'file') {
      // The picker needs the click's user activation, so it comes first,
      // before any await.
      try {
        fileHandle = await globalThis.showSaveFilePicker({
          suggestedName: lastPlan?.fileName || 'ComfyUI_00001_.safetensors',
          types: [{ description: 'safetensors checkpoint', accept: { 'application/octet-stream': ['.safetensors'] } }],
        });
      } catch (error) {
        if (error?.name === 'AbortError') setStatus('Save cancelled: no file chosen.');
        else showAlert(`Could not open the save dialog: ${error.message}`);
        return;
      }
    }
    activeSave = { id: 0 };
    setBusy(true);
    ui.progressBox.hidden = false;
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
        // Ask once, from the click: persistent storage is not evicted under
        // pressure. Chromium decides without a prompt.
        const persisted = await navigator.storage.persisted?.();
        if (!persisted) await navigator.storage.persist().catch(() => false);
      }
      setStatus('Planning the checkpoint…');
      clearTimeout(planTimer);
      const plan = await runPlan();
      if (!plan) throw new Error('The components changed while planning; press Save again.');
      if (sink === 'blob' && plan.blobOK === false) {
        throw new Error(`${plan.fileName} needs ${formatBytes(plan.blobInline)} of computed data, too much for a direct `
          + 'download; choose browser storage or a file on disk.');
      }
      if (sink === 'opfs' && (plan.fits === false || plan.bytes > freeBytes(plan))) {
        throw new Error(`Not enough browser storage for ${plan.fileName}: it needs ${formatBytes(plan.bytes)}, `
          + `and only ${formatBytes(freeBytes(plan))} is free. Delete saved checkpoints or choose "Download directly".`);
      }
      ui.progress.max = plan.bytes;
      setStatus(`Writing ${sink === 'opfs' ? plan.path || plan.fileName : plan.fileName}…`);
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
      let where;
      if (done.sink === 'opfs') {
        startDownload(doc, await opfsFile(done.path), done.name, objectURLs);
        where = `${done.path} in browser storage; the download has started`;
      } else if (done.sink === 'blob') {
        const blob = blobFromParts(done.parts, requestFilesList(request));
        startDownload(doc, blob, done.name, objectURLs);
        where = 'a download';
      } else {
        where = `${done.name} on disk`;
      }
      record.downloadStartedSeconds = (performance.now() - clickedAt) / 1000;
      options.onSaved?.(done);
      stats.savesCompleted += 1;
      setStatus(`Saved ${done.architecture ? `${done.architecture} ` : ''}checkpoint to ${where} `
        + `(${formatBytes(done.bytes)} in ${formatDuration(record.seconds)}).`);
    } catch (error) {
      ui.progressBox.hidden = true;
      if (error instanceof EngineError && error.code === 'cancelled') {
        setStatus('Save cancelled.');
        showAlert('Save cancelled; no checkpoint was written.');
      } else {
        setStatus('Save failed.');
        showAlert(errorText(error));
        planProblem = problemLocation(error);
        renderAll();
      }
    } finally {
      activeSave = null;
      setBusy(false);
      refreshSaved();
      schedulePlan();
    }
  }

  function onCancel() {
    if (activeSave?.id) {
      engine.cancel(activeSave.id);
      setStatus('Cancelling…');
    }
  }

  // ---- saved checkpoints --------------------------------------------------------------
  async function refreshSaved() {
    if (!opfsAvailable) {
      ui.savedEmpty.textContent = 'This browser has no private file storage.';
      return;
    }
    let listed;
    try {
      listed = await engine.request('list', {});
    } catch (error) {
      ui.storage.textContent = `Could not list browser storage: ${error.message}`;
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
        setStatus(`Deleted ${file.path}.`);
      } catch (error) {
        showAlert(errorText(error));
      }
      await refreshSaved();
      (ui.savedList.querySelector('button') ?? ui.save).focus();
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
        setStatus(`Download of ${file.name} started.`);
      } catch (error) {
        showAlert(`${file.path}: could not read it from browser storage: ${error.message}`);
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

  for (const slot of SLOTS) {
    const { section, input } = ui.slots[slot];
    listen(input, 'change', () => {
      const files = [...input.files];
      // The list under the input shows what the slot holds; clearing the
      // input lets the same file be picked again after a Remove.
      input.value = '';
      if (files.length) putInSlot(slot, files, { replace: true });
    });
    listen(section, 'dragover', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.stopPropagation();
      section.classList.add('ckpt-drop-over');
    });
    listen(section, 'dragleave', () => section.classList.remove('ckpt-drop-over'));
    listen(section, 'drop', (event) => {
      section.classList.remove('ckpt-drop-over');
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.stopPropagation();
      if (activeSave) return;
      const folders = foldersFromDrop(event.dataTransfer);
      if (folders) {
        folders.then(async (list) => { for (const folder of list) await placeFolder(folder); }, (error) => showAlert(errorText(error)));
        return;
      }
      putInSlot(slot, [...event.dataTransfer.files], { replace: false });
    });
  }

  const dropTarget = options.dropTarget ?? root;
  listen(dropTarget, 'dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  listen(dropTarget, 'drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    if (activeSave) return;
    const folders = foldersFromDrop(event.dataTransfer);
    if (folders) {
      folders.then(async (list) => { for (const folder of list) await placeFolder(folder); }, (error) => showAlert(errorText(error)));
      return;
    }
    routeFiles([...event.dataTransfer.files]);
  });
  if (ui.folder) {
    listen(ui.folder, 'change', () => {
      const folder = folderFromInput(ui.folder.files);
      ui.folder.value = '';
      if (folder && !activeSave) placeFolder(folder);
    });
  }

  listen(ui.form, 'submit', onSave);
  listen(ui.cancel, 'click', onCancel);
  for (const control of [ui.prefix, ui.prediction, ui.disableMetadata, ui.title, ui.prompt, ui.workflow, ...ui.sinks]) {
    listen(control, 'change', () => {
      showAlert('');
      schedulePlan();
      renderPlan();
    });
  }

  return {
    element: root,
    ready,
    stats,
    get lastPlan() { return lastPlan; },
    engine,
    setDefaults,
    refreshSaved,
    destroy() {
      clearTimeout(planTimer);
      for (const off of listeners) off();
      engine.terminate();
      for (const url of objectURLs) URL.revokeObjectURL(url);
      objectURLs.clear();
    },
  };
}
