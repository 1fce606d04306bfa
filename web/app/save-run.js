// One save, from the click on Save to its outcome: the file picker (it needs
// the click's user activation, so it comes first), a last plan with the
// options of the moment, the engine's save into the chosen sink with the
// shared progress box, then the download or hand-off and the result.

import { EngineError } from './engine-client.js';
import { postedFiles } from './folder.js';
import { architectureName, formatBytes, formatDuration } from './format.js';
import { opfsFile, startDownload } from './opfs.js';
import { errorText, folderOf, modelRequires, problemLocation } from './saver-state.js';

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

/** What the result says about the download name, when the plan had a folder. */
function downloadNameNote(path, name) {
  const folder = folderOf(path);
  return folder ? `The download is named ${name}: a download cannot keep the ${folder} folder.` : '';
}

/**
 * @param {object} ctx the saver's context (saver.js)
 * @returns {{save(event: Event): Promise<void>, cancel(): boolean}}
 */
export function mountSaveRun(ctx) {
  const { doc, ui, state, stats, options } = ctx;

  function setFormDisabled(busy) {
    for (const fieldset of ui.fieldsets) {
      if (fieldset.tagName === 'FIELDSET') fieldset.disabled = busy;
      else for (const control of fieldset.querySelectorAll('input, textarea, select')) control.disabled = busy;
    }
    ui.disableMetadata.disabled = busy; // outside the fieldsets with a metadataProvider
  }

  function setSaveStatus(phase, status) {
    state.activeSave.phase = phase;
    state.activeSave.status = status;
    ctx.render();
  }

  async function save(event) {
    event.preventDefault();
    if (!ctx.plan.canSave()) return;
    const { engine, progress } = ctx;
    const sink = ctx.sinks.selected();
    const plannedName = state.lastPlan.fileName;
    state.activeSave = { id: 0, phase: 'picking', status: 'Choose where to save the checkpoint…' };
    state.outcome = null;
    setFormDisabled(true);
    ctx.render();
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
        state.activeSave = null;
        setFormDisabled(false);
        state.outcome = error?.name === 'AbortError'
          ? { kind: 'cancelled', status: 'Cancelled: no file chosen, nothing was written.' }
          : { kind: 'failed', status: 'Save failed.', message: `Could not open the save dialog: ${error.message}` };
        ctx.render();
        return;
      }
    }
    progress.start(1);
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
      ctx.plan.cancelTimer();
      const plan = await ctx.plan.run();
      if (!plan) throw new Error('The components changed while planning; press Save again.');
      const refused = ctx.plan.sinkProblem(plan, sink);
      if (refused) throw new Error(refused);
      progress.start(plan.bytes);
      const target = sink === 'opfs' ? plan.path || plan.fileName : sink === 'file' ? fileHandle.name : plan.fileName;
      setSaveStatus('writing', sink === 'blob' ? `Preparing the download of ${target}…` : `Writing ${target}…`);
      const request = ctx.plan.requestFiles();
      const { id, result } = engine.start('save', {
        ...request, options: await ctx.plan.collectOptions(), sink, fileHandle,
      }, {
        onProgress: (p) => {
          record.progressEvents += 1;
          noteMemory(p.wasmMemoryBytes);
          progress.update(p);
        },
      });
      state.activeSave.id = id;
      const done = await result;
      noteMemory(done.wasmMemoryBytes);
      record.bytes = done.bytes;
      record.name = done.name;
      record.path = done.path ?? '';
      record.seconds = (performance.now() - clickedAt) / 1000;
      record.engineSeconds = done.seconds ?? NaN;
      const what = `${architectureName(done.architecture || plan.architecture, modelRequires(state)?.title)} checkpoint, ${formatBytes(done.bytes)}`;
      const took = formatDuration(record.seconds);
      if (done.sink === 'opfs') {
        startDownload(doc, await opfsFile(done.path), done.name, ctx.objectURLs);
        state.outcome = {
          kind: 'saved',
          title: `Saved ${done.path}`,
          lines: [
            `${what}, written to browser storage in ${took}. The download of ${done.name} has started.`,
            downloadNameNote(done.path, done.name),
          ].filter(Boolean),
        };
      } else if (done.sink === 'blob') {
        startDownload(doc, blobFromParts(done.parts, requestFilesList(request)), done.name, ctx.objectURLs);
        state.takenNames.add(plan.path || plan.fileName);
        // The engine only planned the parts: the browser's download manager
        // copies the bytes now, out of the page's sight (a Blob's reads are
        // not observable), so the page says what it handed over and where
        // the progress is shown.
        const handed = handedOver(done.parts);
        state.outcome = {
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
        state.outcome = {
          kind: 'saved',
          title: `Saved ${done.name}`,
          lines: [`${what}, written to the file you chose in ${took}.`],
        };
        state.takenNames.add(plan.path || plan.fileName);
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
        state.outcome = { kind: 'cancelled', status: 'Cancelled: nothing was kept.' };
      } else {
        // A problem with one file is also shown on its slot.
        const located = problemLocation(error);
        if (located) state.planError = located;
        state.outcome = { kind: 'failed', status: 'Save failed; nothing was kept.', message: errorText(error) };
      }
    } finally {
      state.activeSave = null;
      // The outcome next to Save says how it ended.
      progress.hide();
      setFormDisabled(false);
      ctx.render();
      ctx.saved.refresh();
      ctx.plan.schedule();
    }
  }

  /** Cancel of the progress box: false while the engine's job has not started yet. */
  function cancel() {
    if (!state.activeSave?.id) return false;
    ctx.engine.cancel(state.activeSave.id);
    setSaveStatus('cancelling', 'Cancelling…');
    return true;
  }

  return { save, cancel };
}
