// ckptpack worker bootstrap: loads Go's wasm_exec.js and the I/O helpers,
// instantiates ckptpack.wasm and runs it. All URLs are relative to this
// script's own URL (and carry its query string, e.g. a ?v= cache buster), so
// the worker runs from any base path (the site root, a ComfyUI extension
// folder). The Go program (wasm/worker) installs the real onmessage handler
// and posts {type:'ready'}; messages that arrive before that are queued and
// replayed. Protocol: wasm/worker/PROTOCOL.md.
'use strict';

// Start-up times (performance.now() of this worker), posted with the
// ready message as `boot` so the page can tell where start-up goes:
// scripts (importScripts), compiled (fetch + compile + instantiate of the
// wasm), then Go's runtime and package init until main (mainAt, set by Go).
self.ckptpackBoot = { startAt: performance.now() };
const query = self.location.search;
// Each start-up step is reported, so a start that stalls (a script or the
// wasm that never arrives) can be named on the page instead of waiting.
const starting = (stage) => self.postMessage({ type: 'starting', stage });
starting('loading wasm_exec.js and worker-io.js');
importScripts('wasm_exec.js' + query, 'worker-io.js' + query);
self.ckptpackBoot.scriptsAt = performance.now();

const queued = [];
self.onmessage = (ev) => { queued.push(ev); };

function fatal(message) {
  self.postMessage({ type: 'fatal', message });
}

(async () => {
  const go = new Go();
  let exitCode = '?';
  go.exit = (code) => { exitCode = code; };
  const url = new URL('ckptpack.wasm' + query, self.location.href);
  let result;
  // Compiled from the bytes, not with instantiateStreaming: Firefox ESR 140
  // stalls for good streaming-compiling the service worker's cached copy
  // when the site is offline (3 of 4 runs of the offline test), and in
  // Chromium the warm start is the same either way (median of 12 reloads:
  // 258 ms streaming, 254 ms from bytes). It also needs no application/wasm
  // Content-Type from the static host.
  try {
    starting(`fetching ${url.pathname}`);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const bytes = await response.arrayBuffer();
    starting(`compiling ${url.pathname}`);
    result = await WebAssembly.instantiate(bytes, go.importObject);
  } catch (err) {
    fatal(`could not load ${url.pathname}: ${err}`);
    return;
  }
  self.ckptpackBoot.compiledAt = performance.now();
  self.ckptpackIO.memory = result.instance.exports.mem;
  starting('starting the Go program');
  // run() executes Go's main until it blocks, so Go's onmessage is in place
  // when it returns to here; its promise settles only if the program exits.
  const exited = go.run(result.instance);
  for (const ev of queued.splice(0)) self.onmessage(ev);
  await exited;
  fatal(`the engine stopped (exit code ${exitCode}); reload the page to start it again`);
})();
