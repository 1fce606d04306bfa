// window.harness for the worker specs. Requests get ids; every reply is kept
// per id so a spec can assert on progress messages as well as the final one.
const FINAL = new Set(['inspected', 'planned', 'done', 'listed', 'deleted', 'error']);

class Harness {
  constructor(workerURL) {
    this.worker = new Worker(workerURL, { name: 'ckptpack' });
    this.nextId = 1;
    this.replies = new Map(); // id -> messages
    this.waiters = new Map(); // id -> resolve
    this.unsolicited = []; // ready, fatal
    this.ready = new Promise((resolve) => { this.resolveReady = resolve; });
    this.worker.onmessage = (ev) => this.onMessage(ev.data);
    this.worker.onerror = (ev) => this.unsolicited.push({ type: 'workererror', message: ev.message });
  }

  onMessage(msg) {
    if (msg.id === undefined || msg.id === null) {
      this.unsolicited.push(msg);
      if (msg.type === 'ready') this.resolveReady(msg);
      return;
    }
    if (!this.replies.has(msg.id)) this.replies.set(msg.id, []);
    this.replies.get(msg.id).push(msg);
    if (FINAL.has(msg.type)) this.waiters.get(msg.id)?.(msg);
  }

  files() { return document.getElementById('files').files; }

  // Posts msg with a fresh id; returns the id at once and .done, the final reply.
  start(msg) {
    const id = this.nextId++;
    const done = new Promise((resolve) => this.waiters.set(id, resolve));
    this.worker.postMessage({ ...msg, id });
    return { id, done };
  }

  async request(msg) {
    const { id, done } = this.start(msg);
    const final = await done;
    return { id, final, progress: this.replies.get(id).filter((m) => m.type === 'progress') };
  }

  cancel(id) { this.worker.postMessage({ type: 'cancel', id }); }

  // Resolves once request id has reported progress past its first byte.
  started(id) {
    return new Promise((resolve) => {
      const t = setInterval(() => {
        if ((this.replies.get(id) ?? []).some((m) => m.type === 'progress' && m.done > 0)) { clearInterval(t); resolve(); }
      }, 5);
    });
  }

  // Plain-JS File -> OPFS copy in its own worker (the reference the Go
  // worker is measured against; see opfs-copy.js).
  jsCopy(file, path, options = {}) {
    return new Promise((resolve) => {
      const w = new Worker(new URL('opfs-copy-worker.js', import.meta.url), { type: 'module' });
      w.onmessage = (ev) => { w.terminate(); resolve(ev.data); };
      w.onerror = (ev) => { w.terminate(); resolve({ type: 'error', message: ev.message }); };
      w.postMessage({ file, path, ...options });
    });
  }

  async opfsRemoveAll() {
    const root = await navigator.storage.getDirectory();
    for await (const name of root.keys()) await root.removeEntry(name, { recursive: true });
  }
}

window.harness = new Harness(new URL('../../worker.js', location.href));
