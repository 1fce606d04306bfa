// Entry point of the standalone page (web/index.html): hydrates the static
// markup in #app and registers the service worker that makes the page work
// offline. The ComfyUI extension imports saver.js directly and does neither.
import { mountSaver } from './saver.js';
import { mountTools } from './tools.js';
import { mountMetadataEditor } from './metadata-editor.js';

let metadataEditor = null;
const saver = mountSaver(document.getElementById('app'), {
  dropTarget: document,
  extraOptions: () => metadataEditor?.saveOptions() ?? {},
  onSaved: (done) => metadataEditor?.noteSaved(done),
});
metadataEditor = mountMetadataEditor(document.getElementById('metadata-editor'), {
  engine: saver.engine,
  onChange: () => saver.optionsChanged(),
});

// Exposed for the browser console and the end-to-end tests (worker start-up
// time, wasm memory seen during the last save).
globalThis.ckptpack = { saver, metadataEditor };

// The Tools panel (extract, convert, prune) has its own worker, started on
// first use.
const toolsHost = document.getElementById('tools');
if (toolsHost) globalThis.ckptpack.tools = mountTools(toolsHost);

if ('serviceWorker' in navigator) {
  // sw.js sits next to index.html, so its scope is the page's folder.
  navigator.serviceWorker.register(new URL('../sw.js', import.meta.url)).catch((error) => {
    console.warn('ckptpack: offline support unavailable:', error);
  });
}
