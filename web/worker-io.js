// Per-chunk I/O helpers for the ckptpack Go worker (internal/jsio calls them).
//
// Go (syscall/js) keeps every JS object it receives alive until Go's own GC
// finalizes it, so a chunk ArrayBuffer handed to Go would stay referenced long
// after its bytes were copied. These helpers therefore take and return plain
// numbers: a File, a byte range and the address of a Go buffer inside the
// WebAssembly memory. Loaded by worker.js with importScripts before the wasm
// runs; worker.js sets ckptpackIO.memory to the instance's memory.
'use strict';

self.ckptpackIO = (() => {
  let memory = null; // WebAssembly.Memory of the Go instance
  let frs = null; // one FileReaderSync for the worker's lifetime
  let staging = null; // ArrayBuffer reused by BYOB reads (it moves on every read)
  let seq = null; // the open BYOB reader: {file, pos, reader}

  const closeSeq = () => {
    if (seq) seq.reader.cancel().catch(() => {});
    seq = null;
  };

  // A view over Go's buffer. memory.buffer is replaced when the memory grows,
  // so a view is always made fresh, right before it is used.
  const view = (ptr, len) => new Uint8Array(memory.buffer, ptr, len);

  return {
    set memory(m) { memory = m; },
    get memory() { return memory; },

    memoryBytes() { return memory ? memory.buffer.byteLength : 0; },

    // FileReaderSync read of file[start, end) into wasm memory at ptr.
    // Returns the number of bytes copied.
    readSync(file, start, end, ptr) {
      if (!frs) frs = new FileReaderSync();
      const ab = frs.readAsArrayBuffer(file.slice(start, end));
      view(ptr, ab.byteLength).set(new Uint8Array(ab));
      return ab.byteLength;
    },

    // BYOB read of file[start, end) into wasm memory at ptr, through one
    // staging buffer that is reused across calls (a WebAssembly.Memory buffer
    // cannot be read into directly: BYOB detaches its target). The engine
    // reads mostly sequentially, so the stream stays open between calls and
    // is only reopened when a read does not start where the last one ended
    // (opening a Blob stream per chunk costs tens of ms).
    async readByob(file, start, end, ptr) {
      const want = end - start;
      if (!staging || staging.byteLength < Math.min(want, 64 << 20)) {
        staging = new ArrayBuffer(Math.min(Math.max(want, 1 << 20), 64 << 20));
      }
      if (!seq || seq.file !== file || seq.pos !== start) {
        closeSeq();
        seq = { file, pos: start, reader: file.slice(start).stream().getReader({ mode: 'byob' }) };
      }
      const s = seq;
      let got = 0;
      try {
        while (got < want) {
          const n = Math.min(want - got, staging.byteLength);
          const { value, done } = await s.reader.read(new Uint8Array(staging, 0, n));
          if (value) staging = value.buffer;
          if (done) { closeSeq(); break; }
          view(ptr + got, value.byteLength).set(value);
          got += value.byteLength;
          s.pos += value.byteLength;
        }
      } catch (err) {
        closeSeq();
        throw err;
      }
      return got;
    },

    // Copies file[start, end) straight to a FileSystemSyncAccessHandle at
    // offset at, writing each piece as the BYOB reader returns it: the bytes
    // never enter wasm memory (the Go sink's RangeCopier fast path). Returns
    // {copied} and, when it stopped early, eof (the File ended) or full (a
    // short write: disk or quota full). Read errors reject.
    async copyToHandle(file, start, end, handle, at) {
      const want = end - start;
      if (!staging || staging.byteLength < Math.min(want, 64 << 20)) {
        staging = new ArrayBuffer(Math.min(Math.max(want, 1 << 20), 64 << 20));
      }
      if (!seq || seq.file !== file || seq.pos !== start) {
        closeSeq();
        seq = { file, pos: start, reader: file.slice(start).stream().getReader({ mode: 'byob' }) };
      }
      const s = seq;
      let got = 0;
      try {
        while (got < want) {
          const n = Math.min(want - got, staging.byteLength);
          const { value, done } = await s.reader.read(new Uint8Array(staging, 0, n));
          if (value) staging = value.buffer;
          if (done) { closeSeq(); return { copied: got, eof: true }; }
          const w = handle.write(value, { at: at + got });
          if (w !== value.byteLength) { closeSeq(); return { copied: got, full: true }; }
          got += value.byteLength;
          s.pos += value.byteLength;
        }
      } catch (err) {
        closeSeq();
        throw err;
      }
      return { copied: got };
    },

    // Drops the open sequential reader (end of a job), releasing the File.
    releaseReaders() { closeSeq(); },

    // FileSystemSyncAccessHandle.write of Go's bytes at a file offset. The
    // count is returned as is: a short count means the disk or quota is full
    // (Chromium returns 2^32-8 there rather than throwing).
    syncWrite(handle, ptr, len, at) {
      return handle.write(view(ptr, len), { at });
    },

    // FileSystemWritableFileStream.write of a copy of Go's bytes (the write is
    // asynchronous and the wasm memory may grow, detaching a view, before the
    // browser has consumed it).
    writableWrite(writable, ptr, len) {
      return writable.write(view(ptr, len).slice());
    },

    // Copy of Go's bytes as a fresh Uint8Array (inline blob parts).
    copyOut(ptr, len) {
      return view(ptr, len).slice();
    },

    // One trip through the event loop, so queued messages (cancel) run.
    yieldTask() {
      return new Promise((resolve) => {
        const ch = new MessageChannel();
        ch.port1.onmessage = () => { ch.port1.close(); resolve(); };
        ch.port2.postMessage(0);
      });
    },
  };
})();
