// The ModelSpec metadata editor: title, author, description, date,
// resolution, license, tags, trigger phrase, prediction type, usage hint and
// a thumbnail image, plus the modelspec.hash_sha256 option — for the
// checkpoint being saved (the saver asks saveOptions()) or for an existing
// .safetensors file, of which it writes an edited copy (the worker's
// editMetadata request, PROTOCOL.md): new header, tensor data unchanged.
//
// Values are validated by the engine (the same rules as the CLI); the page
// only collects them. File contents and metadata read from files are only
// ever set with textContent / value, and a thumbnail is shown only when it
// is an image data URL.
import { EngineError } from './engine-client.js';
import { el } from './dom.js';
import { hasOPFS, opfsFile, startDownload } from './opfs.js';
import { formatBytes } from './format.js';
import { dropZone } from './dropzone.js';
import { buildSinkChoice, initialCapabilities, mountSinkChoice, probeSinks } from './sinks.js';
import { buildProgress, mountProgress } from './progress.js';

// The editable fields (the engine's checkpoint.ModelSpec wire names).
const FIELDS = [
  { name: 'title', label: 'Title' },
  { name: 'author', label: 'Author' },
  { name: 'description', label: 'Description', multiline: true },
  { name: 'date', label: 'Date (ISO 8601)', placeholder: '2024-05-01' },
  { name: 'resolution', label: 'Resolution', placeholder: '1024x1024' },
  { name: 'license', label: 'License', placeholder: 'CreativeML Open RAIL-M' },
  { name: 'tags', label: 'Tags', placeholder: 'comma, separated' },
  { name: 'trigger_phrase', label: 'Trigger phrase' },
  { name: 'prediction_type', label: 'Prediction type', options: [['', '(not set)'], ['epsilon', 'epsilon'], ['v', 'v']] },
  { name: 'usage_hint', label: 'Usage hint', multiline: true },
];

const IMAGE_DATA_URL = /^data:image\/(png|jpeg|webp);base64,[A-Za-z0-9+/=]*$/;

function readAsDataURL(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error ?? new Error(`${file.name}: cannot be read`));
    reader.readAsDataURL(file);
  });
}

/**
 * Renders the editor into container.
 * @param {Element} container
 * @param {object} options
 * @param {{start: Function, request: Function, cancel: Function}} options.engine
 *   the EngineClient to use (the saver's, so one worker serves both).
 * @param {() => void} [options.onChange] called when what saveOptions()
 *   returns may have changed (the saver plans again: its Save stays on only
 *   while the plan with these options is valid).
 * @param {boolean} [options.collapsible] a closed <details> whose form is
 *   built when first opened (default true, the ComfyUI tab); false: built at
 *   once, without its own heading (the page's "Edit metadata" task names it).
 * @returns {{element: Element, saveOptions(): Promise<object>, noteSaved(done: object): void, open(): void, destroy(): void}}
 *   saveOptions() gives the save request's {modelspec, hash} when the
 *   editor targets the checkpoint being saved ({} otherwise); noteSaved()
 *   shows the hash a save reported.
 */
export function mountMetadataEditor(container, { engine, onChange, collapsible = true }) {
  const doc = container.ownerDocument;
  const root = collapsible
    ? el(doc, 'details', { className: 'ckpt-saver ckpt-panel ckpt-meta-editor' }, [
      el(doc, 'summary', { text: 'ModelSpec metadata: title, thumbnail, hash …' }),
    ])
    : el(doc, 'div', { className: 'ckpt-saver ckpt-meta-editor' });
  root.dataset.ckptMetadataEditor = '';
  container.replaceChildren(root);
  if (!collapsible) {
    const editor = buildEditor(doc, root, engine, onChange);
    return {
      saveOptions: () => editor.saveOptions(),
      noteSaved: (done) => editor.noteSaved(done),
      open() {},
      destroy: () => editor.destroy(),
    };
  }
  // The form is built when the section is first opened: until then the
  // page (and the saver's own labelled fields) has nothing of it.
  let editor = null;
  const onToggle = () => {
    if (root.open && !editor) editor = buildEditor(doc, root, engine, onChange);
  };
  root.addEventListener('toggle', onToggle);
  return {
    async saveOptions() { return editor ? editor.saveOptions() : {}; },
    noteSaved(done) { editor?.noteSaved(done); },
    /** Opens the section (building the form). */
    open() {
      root.open = true;
      onToggle();
    },
    destroy() {
      root.removeEventListener('toggle', onToggle);
      editor?.destroy();
    },
  };
}

function buildEditor(doc, root, engine, onChange = () => {}) {
  const fieldInputs = {};
  const fieldRows = FIELDS.map((f) => {
    let input;
    if (f.options) {
      input = el(doc, 'select', {}, f.options.map(([value, text]) => el(doc, 'option', { value, text })));
    } else if (f.multiline) {
      input = el(doc, 'textarea', { rows: 2 });
    } else {
      input = el(doc, 'input', { type: 'text', autocomplete: 'off', placeholder: f.placeholder ?? '' });
    }
    input.dataset.field = f.name;
    fieldInputs[f.name] = input;
    return el(doc, 'label', { className: 'ckpt-field' }, [f.label, input]);
  });
  const ui = {
    targetSave: el(doc, 'input', { type: 'radio', name: 'ckpt-meta-target', value: 'save', checked: true }),
    targetFile: el(doc, 'input', { type: 'radio', name: 'ckpt-meta-target', value: 'file' }),
    fileInput: el(doc, 'input', { type: 'file', accept: '.safetensors,.sft' }),
    fileInfo: el(doc, 'p', { className: 'ckpt-hint' }),
    thumbInput: el(doc, 'input', { type: 'file', accept: 'image/png,image/jpeg,image/webp' }),
    thumbPreview: el(doc, 'img', { alt: 'Thumbnail preview', width: 128, height: 128, hidden: true }),
    thumbInfo: el(doc, 'span', { className: 'ckpt-hint' }),
    thumbRemove: el(doc, 'button', { type: 'button', text: 'Remove thumbnail', hidden: true }),
    hash: el(doc, 'input', { type: 'checkbox' }),
    save: el(doc, 'button', { type: 'submit', text: 'Save edited copy' }),
    // Live regions without the status/alert roles, so the saver's own
    // status and alert stay the page's only ones of those roles.
    status: el(doc, 'p', { className: 'ckpt-status', 'aria-live': 'polite', dataset: { role: 'meta-status' } }),
    alert: el(doc, 'div', { className: 'ckpt-alert', 'aria-live': 'assertive', dataset: { role: 'meta-alert' } }),
    // A <p>, not an <output>: <output> is a status region, and the saver's
    // status stays the page's only one.
    hashOut: el(doc, 'p', { className: 'ckpt-hash', 'aria-live': 'polite', dataset: { role: 'meta-hash' } }),
  };
  const fileZone = dropZone(doc, ui.fileInput, { label: 'Existing .safetensors file', prompt: 'Drop the .safetensors file to edit here' });
  const thumbZone = dropZone(doc, ui.thumbInput, {
    label: 'Image (PNG, JPEG or WebP; 256×256 recommended)', prompt: 'Drop an image (PNG, JPEG or WebP; 256×256 recommended) here',
  });
  const fileBox = el(doc, 'div', { hidden: true }, [fileZone.element, ui.fileInfo]);
  // The saver's sink choice and progress box (sinks.js, progress.js).
  // Browser storage first: a direct download (the new header and one slice
  // of the file) cannot store modelspec.hash_sha256, which is computed while
  // writing; so no recommendation is shown here.
  const caps = initialCapabilities();
  const sinkBox = buildSinkChoice(doc, {
    name: `ckpt-meta-sink-${Math.random().toString(36).slice(2)}`,
    legend: 'Save the edited copy to',
    notes: {
      file: 'asks where, then writes straight into that file',
      blob: 'the file\'s tensor data as it is; a hash is shown, not stored',
      opfs: 'kept in browser storage; written twice',
    },
    roles: { sink: 'meta-sink', why: 'meta-sink-why' },
  });
  sinkBox.hidden = true;
  const sinks = mountSinkChoice(sinkBox, { caps, preset: 'opfs', explain: false });
  const refreshSinks = () => {
    sinks.apply(null);
    sinks.render(null);
  };
  refreshSinks();
  probeSinks().then((probed) => {
    Object.assign(caps, probed);
    refreshSinks();
  }, () => {});
  const progress = mountProgress(buildProgress(doc, { label: 'Edit progress', cancelLabel: 'Cancel edit', roles: { box: 'meta-progress' } }), {
    onCancel: () => {
      if (!active?.id) return false;
      engine.cancel(active.id);
      return true;
    },
  });
  const actions = el(doc, 'div', { className: 'ckpt-actions', hidden: true }, [ui.save]);
  const form = el(doc, 'form', { className: 'ckpt-form', noValidate: true }, [
    el(doc, 'fieldset', {}, [
      el(doc, 'legend', { text: 'Apply to' }),
      el(doc, 'label', {}, [ui.targetSave, 'The checkpoint being saved']),
      el(doc, 'label', {}, [ui.targetFile, 'An existing file (writes an edited copy; its tensors are not changed)']),
    ]),
    fileBox,
    el(doc, 'fieldset', {}, [el(doc, 'legend', { text: 'ModelSpec fields' }), ...fieldRows]),
    el(doc, 'fieldset', {}, [
      el(doc, 'legend', { text: 'Thumbnail' }),
      thumbZone.element,
      el(doc, 'div', { className: 'ckpt-thumb' }, [ui.thumbPreview, ui.thumbInfo, ui.thumbRemove]),
    ]),
    el(doc, 'label', { className: 'ckpt-check' }, [ui.hash,
      'Store modelspec.hash_sha256 (SHA-256 of the tensor data, computed while writing; reads the data through the engine, so slower)']),
    sinkBox,
    actions,
    progress.element,
  ]);
  root.append(ui.status, ui.alert, form, ui.hashOut);

  // ---- state -------------------------------------------------------------
  let thumbnail = '';      // data URL to write, '' = unchanged / none
  let thumbnailName = '';
  let removeThumbnail = false;
  let loaded = {};         // field values of the picked file (to detect clearing)
  let active = null;       // {id} of a running edit
  const urls = new Set();
  const listeners = [];
  const listen = (target, type, fn) => {
    target.addEventListener(type, fn);
    listeners.push(() => target.removeEventListener(type, fn));
  };

  const target = () => (ui.targetFile.checked ? 'file' : 'save');
  const setStatus = (text) => { ui.status.textContent = text; };
  const showAlert = (text) => { ui.alert.textContent = text; };

  function showThumbnail(url, info) {
    const ok = typeof url === 'string' && IMAGE_DATA_URL.test(url);
    ui.thumbPreview.hidden = !ok;
    if (ok) ui.thumbPreview.src = url;
    else ui.thumbPreview.removeAttribute('src');
    ui.thumbInfo.textContent = info;
    ui.thumbRemove.hidden = !ok;
  }

  function render() {
    const editingFile = target() === 'file';
    fileBox.hidden = !editingFile;
    sinkBox.hidden = !editingFile;
    actions.hidden = !editingFile;
    ui.save.disabled = !editingFile || !ui.fileInput.files?.[0] || active !== null;
  }

  /** The edit as the engine takes it: set fields, and the ones to remove. */
  function collect() {
    const modelspec = {};
    const remove = [];
    for (const f of FIELDS) {
      const value = fieldInputs[f.name].value.trim();
      if (value !== '') modelspec[f.name] = value;
      else if (loaded[f.name]) remove.push(f.name);
    }
    if (thumbnail) {
      modelspec.thumbnail = thumbnail;
      modelspec.thumbnail_name = thumbnailName;
    } else if (removeThumbnail) {
      remove.push('thumbnail');
    }
    return { modelspec, remove, hash: ui.hash.checked };
  }

  async function loadFile(file) {
    loaded = {};
    showAlert('');
    ui.hashOut.textContent = '';
    if (!file) {
      ui.fileInfo.textContent = '';
      render();
      return;
    }
    ui.fileInfo.textContent = `Reading the header of ${file.name}…`;
    try {
      const { report } = await engine.request('inspect', { file });
      const meta = report.metadata ?? {};
      for (const f of FIELDS) {
        const value = meta[`modelspec.${f.name}`] ?? '';
        const input = fieldInputs[f.name];
        if (input.tagName === 'SELECT' && ![...input.options].some((o) => o.value === value)) {
          // A value the file has but the list lacks stays as it is, not cleared.
          input.append(el(doc, 'option', { value, text: value }));
        }
        input.value = value;
        if (value) loaded[f.name] = value;
      }
      thumbnail = '';
      removeThumbnail = false;
      const current = meta['modelspec.thumbnail'] ?? '';
      let info = 'No thumbnail';
      if (current) info = IMAGE_DATA_URL.test(current) ? 'Current thumbnail' : 'The current thumbnail is not a PNG, JPEG or WebP image; it is not shown';
      showThumbnail(current, info);
      const stored = meta['modelspec.hash_sha256'];
      ui.fileInfo.textContent = `${file.name}: ${report.architecture || 'unknown architecture'}, ${formatBytes(report.bytes)}`
        + (stored ? `, modelspec.hash_sha256 ${stored}` : '');
    } catch (error) {
      ui.fileInfo.textContent = '';
      showAlert(error.message);
    }
    render();
  }

  async function pickThumbnail(file) {
    showAlert('');
    if (!file) return;
    thumbnail = await readAsDataURL(file);
    thumbnailName = file.name;
    removeThumbnail = false;
    // The engine checks the bytes (PNG/JPEG/WebP signature, size) when the
    // metadata is written; an image the browser cannot show is flagged now.
    showThumbnail(thumbnail, `${file.name}, ${formatBytes(file.size)}`);
    ui.thumbPreview.onerror = () => {
      ui.thumbPreview.hidden = true;
      ui.thumbInfo.textContent = `${file.name} does not look like an image; saving will refuse it.`;
    };
  }

  async function chooseFileHandle(name) {
    return globalThis.showSaveFilePicker({
      suggestedName: name,
      types: [{ description: 'safetensors', accept: { 'application/octet-stream': ['.safetensors'] } }],
    });
  }

  async function onSubmit(event) {
    event.preventDefault();
    const file = ui.fileInput.files?.[0];
    if (!file || active) return;
    const sink = sinks.selected();
    showAlert('');
    ui.hashOut.textContent = '';
    let fileHandle;
    try {
      if (sink === 'file') fileHandle = await chooseFileHandle(file.name.replace(/(\.[^.]*)?$/, '.edited.safetensors'));
    } catch {
      return; // the picker was dismissed
    }
    active = { id: null };
    render();
    progress.start(file.size);
    const startedAt = performance.now();
    setStatus(`Writing an edited copy of ${file.name}…`);
    try {
      const { id, result } = engine.start('editMetadata', {
        file, edit: collect(), sink, fileHandle, options: {},
      }, {
        onProgress: (p) => progress.update(p),
      });
      active.id = id;
      const done = await result;
      let where;
      if (done.sink === 'opfs') {
        if (hasOPFS()) startDownload(doc, await opfsFile(done.path), done.name, urls);
        where = `${done.path} in browser storage; the download has started`;
      } else if (done.sink === 'blob') {
        const blob = new Blob(done.parts.map((p) => p.bytes ?? file.slice(p.start, p.end)));
        startDownload(doc, blob, done.name, urls);
        where = 'a download';
      } else {
        where = `${done.name} on disk`;
      }
      setStatus(`Saved the edited copy to ${where} (${formatBytes(done.bytes)}).`);
      progress.done(done.bytes, (performance.now() - startedAt) / 1000);
      noteSaved(done);
    } catch (error) {
      if (error instanceof EngineError && error.code === 'cancelled') {
        setStatus('Edit cancelled.');
        showAlert('Edit cancelled; no file was written.');
      } else {
        setStatus('The edit failed.');
        showAlert(error.message);
      }
    } finally {
      active = null;
      if (progress.state !== 'done') progress.hide();
      render();
    }
  }

  function noteSaved(done) {
    if (!done?.hashSha256) return;
    ui.hashOut.textContent = done.hashPatched
      ? `modelspec.hash_sha256 ${done.hashSha256} (stored in the file)`
      : `modelspec.hash_sha256 ${done.hashSha256} (a direct download cannot store it; this is the hash of its tensor data)`;
  }

  listen(ui.targetSave, 'change', render);
  listen(ui.targetFile, 'change', render);
  listen(ui.fileInput, 'change', () => loadFile(ui.fileInput.files?.[0]));
  listen(ui.thumbInput, 'change', () => pickThumbnail(ui.thumbInput.files?.[0]).then(onChange, (e) => showAlert(e.message)));
  listen(ui.thumbRemove, 'click', () => {
    thumbnail = '';
    removeThumbnail = true;
    ui.thumbInput.value = '';
    thumbZone.refresh();
    showThumbnail('', 'The thumbnail will be removed');
    onChange();
  });
  listen(form, 'submit', onSubmit);
  // A field, the hash option or the target changed (the thumbnail is read
  // first, above; the existing file is not part of a save's options).
  listen(form, 'change', (event) => {
    if (event.target !== ui.thumbInput && event.target !== ui.fileInput) onChange();
  });
  render();

  return {
    element: root,
    /** Options for the saver's save request (when targeting the save). */
    async saveOptions() {
      if (target() !== 'save') return {};
      const { modelspec, hash } = collect();
      return { modelspec, hash };
    },
    noteSaved,
    destroy() {
      for (const off of listeners) off();
      for (const url of urls) URL.revokeObjectURL(url);
    },
  };
}
