// ckptpack worker bootstrap: loads Go's wasm_exec.js and the I/O helpers,
// instantiates ckptpack.wasm and runs it. All URLs are relative to this
// script's own URL (and carry its query string, e.g. a ?v= cache buster), so
// the worker runs from any base path (the site root, a ComfyUI extension
// folder). The Go program (wasm/worker) installs the real onmessage handler
// and posts {type:'ready'}; messages that arrive before that are queued and
// replayed. Protocol: wasm/worker/PROTOCOL.md.
'use strict';

const query = self.location.search;
importScripts('wasm_exec.js' + query, 'worker-io.js' + query);

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
  try {
    const response = fetch(url);
    try {
      result = await WebAssembly.instantiateStreaming(response, go.importObject);
    } catch (err) {
      // A static host that does not send Content-Type: application/wasm
      // breaks streaming compilation; compile from the bytes instead.
      const bytes = await (await fetch(url)).arrayBuffer();
      result = await WebAssembly.instantiate(bytes, go.importObject);
    }
  } catch (err) {
    fatal(`could not load ${url.pathname}: ${err}`);
    return;
  }
  self.ckptpackIO.memory = result.instance.exports.mem;
  // run() executes Go's main until it blocks, so Go's onmessage is in place
  // when it returns to here; its promise settles only if the program exits.
  const exited = go.run(result.instance);
  for (const ev of queued.splice(0)) self.onmessage(ev);
  await exited;
  fatal(`the engine stopped (exit code ${exitCode}); reload the page to start it again`);
})();
