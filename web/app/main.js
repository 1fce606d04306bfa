// Entry point of the standalone page (web/index.html): the three tasks
// (tasks.js), the saver hydrated into the static markup in #app, the Tools
// and the ModelSpec editor built into their task panels, and the service
// worker that makes the page work offline. The ComfyUI extension imports
// saver.js, tools.js and metadata-editor.js directly and does none of this.
import { el } from './dom.js';
import { mountSaver } from './saver.js';
import { mountTools } from './tools.js';
import { mountMetadataEditor } from './metadata-editor.js';
import { mountTasks } from './tasks.js';

let metadataEditor = null;
const saver = mountSaver(document.getElementById('app'), {
  dropTarget: document,
  extraOptions: () => metadataEditor?.saveOptions() ?? {},
  onSaved: (done) => metadataEditor?.noteSaved(done),
});
// One set of Title/Author/Description and the thumbnail: the editor's,
// under "Edit metadata", applied to this save unless it targets a file.
metadataEditor = mountMetadataEditor(document.getElementById('metadata-editor'), {
  engine: saver.engine,
  onChange: () => saver.optionsChanged(),
  collapsible: false,
});

// Exposed for the browser console and the end-to-end tests (worker start-up
// time, wasm memory seen during the last save).
globalThis.ckptpack = { saver, metadataEditor };

// The Tools (extract, convert, prune) have their own worker, started on
// first use.
globalThis.ckptpack.tools = mountTools(document.getElementById('tools-host'), { collapsible: false });

const tasks = mountTasks(document.querySelector('.page-tablist'));
globalThis.ckptpack.tasks = tasks;

// The save's Metadata section points to where its title and thumbnail are set.
const toMetadata = el(document, 'a', { href: '#metadata', text: 'Edit metadata' });
toMetadata.addEventListener('click', (event) => {
  event.preventDefault();
  tasks.show('metadata');
  document.getElementById('tab-metadata').focus();
});
document.querySelector('#app [data-role="metadata"] > summary').after(
  el(document, 'p', { class: 'ckpt-hint', 'data-role': 'metadata-task' },
    'Title, author, description, thumbnail, license and the SHA-256 hash of this checkpoint: set them under ', toMetadata, '.'),
);

if ('serviceWorker' in navigator) {
  // sw.js sits next to index.html, so its scope is the page's folder.
  navigator.serviceWorker.register(new URL('../sw.js', import.meta.url)).catch((error) => {
    console.warn('ckptpack: offline support unavailable:', error);
  });
}
