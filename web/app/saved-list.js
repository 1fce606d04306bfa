// "Saved checkpoints": what browser storage (OPFS) holds, with Download and
// Delete, how much space is used and free, and whether the browser keeps it.

import { el } from './dom.js';
import { formatBytes } from './format.js';
import { opfsFile, startDownload } from './opfs.js';
import { errorText } from './saver-state.js';

/**
 * @param {object} ctx the saver's context (saver.js)
 * @returns {{refresh(): Promise<void>}}
 */
export function mountSavedList(ctx) {
  const { doc, ui, state } = ctx;
  const h = (...args) => el(doc, ...args);

  async function refresh() {
    const { caps } = ctx;
    if (!caps.opfs) {
      ui.storage.textContent = '';
      ui.savedList.replaceChildren();
      ui.savedEmpty.hidden = false;
      ui.savedEmpty.textContent = caps.storageNote || 'This browser has no private file storage.';
      return;
    }
    let listed;
    try {
      listed = await ctx.engine.request('list', {});
    } catch (error) {
      ui.storage.textContent = `Could not list browser storage: ${error.message}`;
      return;
    }
    // The sinks' probe may have found the storage unusable meanwhile.
    if (!caps.opfs) {
      refresh();
      return;
    }
    const files = [...listed.files].sort((a, b) => a.path.localeCompare(b.path));
    ui.savedList.replaceChildren(...files.map(savedItem));
    ui.savedEmpty.hidden = files.length > 0;
    const free = Number.isFinite(listed.quota) ? Math.max(0, listed.quota - listed.usage) : NaN;
    // The next file name's counter depends on what is stored: plan again.
    if (!state.activeSave) ctx.plan.schedule();
    ui.storage.textContent = `Browser storage: ${formatBytes(listed.usage)} used, about ${formatBytes(free)} free `
      + `(the browser's estimate). ${listed.persisted
        ? 'Persistent: the browser keeps these files.'
        : 'Not persistent: the browser may clear these files when disk space runs low.'}`;
  }

  function savedItem(file) {
    const li = h('li', { class: 'ckpt-saved-item' });
    const when = file.lastModified ? new Date(file.lastModified).toLocaleString() : '';
    li.append(
      h('span', { class: 'ckpt-file-name', text: file.path }),
      h('span', { class: 'ckpt-file-info', text: `${formatBytes(file.bytes)}${when ? ` · ${when}` : ''}` }),
    );
    const remove = h('button', { type: 'button', text: 'Delete', 'aria-label': `Delete ${file.path}` });
    remove.addEventListener('click', async () => {
      remove.disabled = true;
      try {
        await ctx.engine.request('delete', { path: file.path });
        ui.storage.textContent = `Deleted ${file.path}.`;
      } catch (error) {
        ui.storage.textContent = `Could not delete ${file.path}: ${errorText(error)}`;
      }
      await refresh();
      (ui.savedList.querySelector('button') ?? ui.prefix).focus();
    });
    if (file.partial) {
      // A .part file is a save in progress or one a closed tab interrupted:
      // not a checkpoint, so it can only be deleted.
      li.classList.add('ckpt-saved-partial');
      li.append(h('span', { class: 'ckpt-file-problem', text: state.activeSave ? 'Being written now.' : 'Incomplete: an interrupted save. Delete it to free the space.' }));
      if (!state.activeSave) li.append(h('span', { class: 'ckpt-saved-actions' }, remove));
      return li;
    }
    const download = h('button', { type: 'button', text: 'Download', 'aria-label': `Download ${file.path}` });
    download.addEventListener('click', async () => {
      try {
        startDownload(doc, await opfsFile(file.path), file.name, ctx.objectURLs);
        ui.storage.textContent = `Download of ${file.name} started.`;
      } catch (error) {
        ui.storage.textContent = `${file.path}: could not read it from browser storage: ${error.message}`;
        refresh();
      }
    });
    li.append(h('span', { class: 'ckpt-saved-actions' }, download, remove));
    return li;
  }

  return { refresh };
}
