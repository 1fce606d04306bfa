// EngineClient wraps the checkpoint Web Worker (web/worker.js, Go/WASM) in
// promises. The message protocol is documented in wasm/worker/PROTOCOL.md;
// this file only matches replies to requests by id and never interprets a
// checkpoint.

/** An error reply from the worker: {file, slot, message, code}. */
export class EngineError extends Error {
  constructor(reply) {
    super(reply.message || 'the checkpoint engine failed');
    this.name = 'EngineError';
    this.file = reply.file || '';
    this.slot = reply.slot || '';
    this.code = reply.code || 'internal';
  }
}

// Final reply types per request type; 'progress' replies are streamed to
// onProgress, 'error' rejects.
const FINAL_REPLY = {
  inspect: 'inspected',
  plan: 'planned',
  save: 'done',
  list: 'listed',
  delete: 'deleted',
  folder: 'folderOpened',
  opPlan: 'opPlanned',
  opRun: 'opDone',
  editMetadata: 'done',
};

export class EngineClient {
  /**
   * @param {URL|string} workerURL where worker.js lives (resolved by the caller
   *   against the module's own URL, never against the page's origin root).
   * @param {{type?: 'classic'|'module', startTimeoutMs?: number}} options
   *   startTimeoutMs: how long a start may take before the page says it
   *   stalled (a normal start takes well under a second; a script or the
   *   wasm that never arrives would otherwise leave "Starting…" forever).
   */
  constructor(workerURL, { type = 'classic', startTimeoutMs = 60_000 } = {}) {
    this.nextId = 1;
    this.pending = new Map();
    this.info = null;
    this.stage = 'loading worker.js';
    this.worker = new Worker(workerURL, { type, name: 'ckptpack' });
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    const stalled = setTimeout(() => {
      this.worker.terminate();
      this.fail(new EngineError({
        message: `The checkpoint engine did not start within ${Math.round(startTimeoutMs / 1000)} s (stalled while ${this.stage}). Reload the page to try again.`,
        code: 'internal',
      }));
    }, startTimeoutMs);
    this.ready.then(() => clearTimeout(stalled), () => clearTimeout(stalled));
    this.worker.addEventListener('message', (event) => this.onMessage(event.data));
    // A script that fails to load or throws at top level surfaces here, not
    // as a message: the page must say so instead of waiting forever.
    this.worker.addEventListener('error', (event) => {
      event.preventDefault();
      this.fail(new EngineError({
        message: `The checkpoint engine could not start: ${event.message || 'worker.js failed to load'}`,
        code: 'internal',
      }));
    });
    this.worker.addEventListener('messageerror', () => {
      this.fail(new EngineError({ message: 'The checkpoint engine sent a message the page could not read.', code: 'internal' }));
    });
  }

  onMessage(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'starting') {
      this.stage = msg.stage;
      return;
    }
    if (msg.type === 'ready') {
      this.info = msg;
      this.resolveReady(msg);
      return;
    }
    if (msg.type === 'fatal') {
      // The bootstrap could not load the wasm, or the Go program exited.
      this.fail(new EngineError({ message: `The checkpoint engine stopped: ${msg.message}`, code: 'internal' }));
      return;
    }
    const entry = this.pending.get(msg.id);
    if (!entry) return;
    if (msg.type === 'progress') {
      entry.onProgress?.(msg);
    } else if (msg.type === 'error') {
      this.pending.delete(msg.id);
      entry.reject(new EngineError(msg));
    } else if (msg.type === entry.final) {
      this.pending.delete(msg.id);
      entry.resolve(msg);
    }
  }

  fail(error) {
    this.failed = error;
    this.rejectReady(error);
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }

  /**
   * Sends one request after the worker is ready. Returns {id, result}: the id
   * (for cancel) at once, the result as a promise of the final reply.
   */
  start(type, fields = {}, { onProgress } = {}) {
    const id = this.nextId++;
    const result = new Promise((resolve, reject) => {
      this.pending.set(id, { final: FINAL_REPLY[type], resolve, reject, onProgress });
    });
    const send = () => {
      if (this.pending.has(id)) this.worker.postMessage({ ...fields, type, id });
    };
    // Requests go out as soon as the worker is ready, side by side: the
    // worker reads each request's Files through streams of its own
    // (PROTOCOL.md: plan/inspect are answered while a save runs).
    this.ready.then(send, () => {});
    return { id, result };
  }

  request(type, fields, options) {
    return this.start(type, fields, options).result;
  }

  cancel(id) {
    this.worker.postMessage({ type: 'cancel', id });
  }

  terminate() {
    this.worker.terminate();
    this.fail(new EngineError({ message: 'The checkpoint engine was stopped.', code: 'cancelled' }));
  }
}
