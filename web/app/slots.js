// The saver's component slots (diffusion model, text encoders, VAE): what
// each holds and says, and every way files get into them (a slot's picker,
// a drop onto a slot, a drop anywhere, the folder picker, addFiles). A file
// is inspected by the engine once; its slot lists a plain summary ("Stable
// Diffusion XL diffusion model, 16-bit, 5.14 GB") with the engine's
// technical report behind a Details toggle, and its problem while it has one.

import { el } from './dom.js';
import { droppedInputs, folderFromInput, isDroppedFolder, openFolder } from './folder.js';
import {
  clipText, describeComponent, describeContents, formatBytes, formatDTypes, plainSummary, slotNoun,
} from './format.js';
import { entryProblem, errorText, SLOT_LABELS, slotNote, SLOTS } from './saver-state.js';

const sameFile = (a, b) => a === b || (a.name === b.name && a.size === b.size && a.lastModified === b.lastModified);
const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');

/**
 * @param {object} ctx the saver's context (saver.js): doc, root, ui, state,
 *   engine, options, render, listen, and the other parts (ctx.plan)
 * @returns {{render(): void, routeFiles(inputs: object[]): Promise<void>, putInSlot(slot: string, files: object[], mode?: string): void, destroy(): void}}
 */
export function mountSlots(ctx) {
  const { doc, root, ui, state } = ctx;
  const h = (...args) => el(doc, ...args);
  const inspections = new WeakMap(); // File -> Promise<report>

  // ---- drawing ---------------------------------------------------------------
  function metadataDetails(metadata) {
    const keys = Object.keys(metadata ?? {});
    if (keys.length === 0) return null;
    const list = h('dl', { class: 'ckpt-meta-list' });
    for (const key of keys.sort()) {
      list.append(h('dt', { text: key }), h('dd', { text: clipText(metadata[key]) }));
    }
    return h('details', { class: 'ckpt-meta' },
      h('summary', { text: `File metadata (${keys.length} ${keys.length === 1 ? 'key' : 'keys'})` }), list);
  }

  /**
   * One file in a slot: a plain summary, and the engine's technical report
   * behind a Details toggle. Details that were open stay open across re-renders.
   */
  function fileItem(slot, entry, openDetails) {
    const li = h('li', { class: `ckpt-file ckpt-file-${entry.status}` });
    const head = h('div', { class: 'ckpt-file-head' }, h('span', { class: 'ckpt-file-name', text: entry.file.name }));
    const remove = h('button', {
      type: 'button', class: 'ckpt-remove', text: 'Remove', 'aria-label': `Remove ${entry.file.name} from ${SLOT_LABELS[slot]}`,
    });
    remove.addEventListener('click', () => {
      state.slots[slot] = state.slots[slot].filter((e) => e !== entry);
      slotsChanged();
      ui.slots[slot].input.focus();
    });
    head.append(remove);
    li.append(head);
    if (entry.status === 'inspecting') {
      li.append(h('span', { class: 'ckpt-file-summary', text: `Reading what it holds… (${formatBytes(entry.file.size)})` }));
    } else if (entry.report) {
      const report = entry.report;
      const inSlot = report.components.filter((c) => c.slot === slot);
      for (const component of inSlot) {
        li.append(h('span', { class: 'ckpt-file-summary', text: plainSummary(component, report) }));
      }
      const slotsInFile = [...new Set(report.components.map((c) => c.slot))];
      if (slotsInFile.length > 1 && inSlot.length > 0) {
        li.append(h('span', {
          class: 'ckpt-file-info',
          text: `Taken from a full checkpoint (it also holds ${slotsInFile.filter((s) => s !== slot).map(slotNoun).join(', ')}).`,
        }));
      }
      if (report.has_workflow) li.append(h('span', { class: 'ckpt-file-info', text: 'It has a ComfyUI workflow in it (has a workflow).' }));
      const technical = h('div', { class: 'ckpt-file-tech' });
      for (const component of report.components) {
        technical.append(h('p', { text: describeComponent(component, report.architecture) }));
      }
      if (report.architecture) technical.append(h('p', { text: `Architecture (ComfyUI class): ${report.architecture}` }));
      technical.append(h('p', { text: `Tensor types: ${formatDTypes(report.dtypes)}` }));
      technical.append(h('p', { text: `File size: ${formatBytes(report.bytes)} (${report.bytes.toLocaleString('en-US')} bytes)` }));
      const details = h('details', { class: 'ckpt-file-details', open: openDetails },
        h('summary', { text: 'Details' }), technical, metadataDetails(report.metadata));
      li.append(details);
    }
    const problem = entryProblem(state, slot, entry);
    if (problem) {
      li.classList.add('ckpt-file-bad');
      li.append(h('span', { class: 'ckpt-file-problem', text: problem }));
    }
    return li;
  }

  // What each slot's list was last drawn from: a slot is redrawn only when
  // that changes, so focus on its Remove button or Details stays put while
  // the rest of the page updates.
  const drawnSlots = new Map();

  function renderSlot(slot) {
    const { section, files, dropText } = ui.slots[slot];
    const entries = state.slots[slot];
    const problems = entries.map((e) => `${e.status}:${entryProblem(state, slot, e)}`);
    const note = slotNote(state, slot);
    const last = drawnSlots.get(slot);
    if (last && last.note === note && last.entries.length === entries.length && last.entries.every((e, i) => e === entries[i])
      && last.problems.every((p, i) => p === problems[i])) return;
    drawnSlots.set(slot, { entries: [...entries], problems, note });
    // Keep open Details (and open metadata lists) open across re-renders.
    const open = new Set([...files.querySelectorAll('.ckpt-file-details[open]')].map((d) => d.closest('li').dataset.key));
    files.replaceChildren();
    entries.forEach((entry, index) => {
      const key = `${index}:${entry.file.name}`;
      const li = fileItem(slot, entry, open.has(key));
      li.dataset.key = key;
      files.append(li);
    });
    const filled = entries.length > 0;
    section.classList.toggle('ckpt-slot-bad', entries.some((e) => entryProblem(state, slot, e)));
    section.classList.toggle('ckpt-slot-filled', filled);
    const noun = slot === 'clip' ? 'text encoders' : slotNoun(slot);
    section.classList.toggle('ckpt-slot-unneeded', !filled && note !== '');
    dropText.firstChild.textContent = !filled && note ? `${note} ` : !filled
      ? `Drop the ${noun} here, or `
      : slot === 'clip' ? 'Drop another text encoder here to add it, or ' : `Drop another ${noun} here to replace it, or `;
    dropText.lastChild.textContent = slot !== 'clip' ? 'choose a file' : filled ? 'choose the files again' : 'choose files';
    dropText.lastChild.hidden = !filled && note !== '';
  }

  // ---- files into slots ----------------------------------------------------------
  function inspect(file) {
    let promise = inspections.get(file);
    if (!promise) {
      promise = ctx.engine.request('inspect', { file }).then((reply) => reply.report);
      inspections.set(file, promise);
    }
    return promise;
  }

  function fitProblem(file, report, slot) {
    if (report.components.some((c) => c.slot === slot)) return '';
    return `${file.name} holds ${describeContents(report)}, not a ${slotNoun(slot)}.`;
  }

  function inspectingEntry(file) {
    return { file, status: 'inspecting', report: null, problem: '' };
  }

  /** The slots changed: the plan and the last outcome go, and the engine plans again. */
  function slotsChanged() {
    state.planError = null;
    state.outcome = null;
    ctx.plan.set(null);
    ctx.plan.schedule();
    ctx.render();
  }

  /**
   * Puts files into one slot. A drop onto the text encoders slot adds them
   * (a file already there is not added twice); its picker replaces the list,
   * as choosing files again does anywhere else (mode 'replace'). The other
   * slots take the last file. A file is a File or a folder item (folder.js):
   * both are inspected by the engine alike.
   */
  function putInSlot(slot, files, mode = 'add') {
    if (state.activeSave || files.length === 0) return;
    state.dropProblems = [];
    const unique = files.filter((f, i) => files.findIndex((g) => sameFile(f, g)) === i);
    const keep = slot === 'clip' && mode === 'add' ? state.slots.clip : [];
    const fresh = slot === 'clip' ? unique.filter((f) => !keep.some((e) => sameFile(e.file, f))) : unique.slice(-1);
    const entries = fresh.map(inspectingEntry);
    state.slots[slot] = [...keep, ...entries];
    slotsChanged();
    inspectEntries(slot, entries);
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
        if (state.slots[slot].includes(entry)) slotsChanged();
      });
    }
  }

  /**
   * A diffusers pipeline's components replace what the slots held, in
   * every slot it has a component for: the pipeline is one model, and its
   * text encoders are all of them.
   */
  function placePipeline(opened) {
    if (state.activeSave) return; // a save started while the folder was read keeps its inputs
    const filled = SLOTS.filter((slot) => opened.placed.some((p) => p.slot === slot));
    for (const slot of filled) {
      state.slots[slot] = opened.placed.filter((p) => p.slot === slot).map((p) => inspectingEntry(p.item));
    }
    slotsChanged();
    for (const slot of filled) inspectEntries(slot, state.slots[slot]);
  }

  /**
   * Asks the engine what a picked or dropped folder is (folder.js's
   * openFolder); a folder it cannot read is a problem in the alert.
   */
  async function readFolder(folder, problems) {
    state.reading = `the folder ${folder.root}`;
    ctx.render();
    try {
      return await openFolder(ctx.engine, folder);
    } catch (error) {
      problems.push(errorText(error));
      return null;
    } finally {
      state.reading = '';
    }
  }

  /**
   * A drop onto one slot: its Files go into the slot; a dropped diffusers
   * pipeline fills every slot, any other folder (a component's folder,
   * shards with their index) goes into this slot as one item.
   */
  async function dropInSlot(slot, inputs) {
    if (state.activeSave) return;
    state.dropProblems = [];
    const files = inputs.filter((x) => !isDroppedFolder(x));
    putInSlot(slot, files);
    const problems = [];
    for (const folder of inputs.filter(isDroppedFolder)) {
      const opened = await readFolder(folder, problems);
      if (!opened) continue;
      if (opened.pipeline) placePipeline(opened);
      else putInSlot(slot, opened.placed.map((p) => p.item));
    }
    state.dropProblems = [...state.dropProblems, ...problems];
    ctx.render();
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
    if (state.activeSave || inputs.length === 0) return;
    const problems = [];
    state.dropProblems = [];
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
      state.reading = file.name;
      ctx.render();
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
      const empty = found.filter((s) => !state.slots[s].some((e) => e.status === 'ok'));
      const targets = found.length > 1 && empty.length > 0 ? empty : found;
      for (const slot of targets) {
        const entry = { file, status: 'ok', report, problem: '' };
        if (slot === 'clip' && found.length === 1) {
          state.slots.clip = [...state.slots.clip.filter((e) => e.status === 'ok' && !sameFile(e.file, file)), entry];
        } else {
          state.slots[slot] = [entry];
        }
      }
      slotsChanged();
    }
    state.reading = '';
    state.dropProblems = problems;
    ctx.render();
  }

  // ---- events ----------------------------------------------------------------------
  const filesFromDrop = ctx.options.filesFromDrop ?? droppedInputs;
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
      state.dropProblems = [`Could not read what was dropped: ${errorText(error)}`];
      ctx.render();
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

  const { listen } = ctx;
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

  const dropTarget = ctx.options.dropTarget ?? root;
  listen(dropTarget, 'dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = state.activeSave ? 'none' : 'copy';
    if (!state.activeSave) dragging(true);
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
      state.dropProblems = ['The chosen folder holds no weights (.safetensors, .ckpt, .pt, .bin) or index files.'];
      ctx.render();
    }
  });

  return {
    render() {
      for (const slot of SLOTS) renderSlot(slot);
    },
    routeFiles,
    putInSlot,
    destroy() {
      clearTimeout(dragTimer);
    },
  };
}
