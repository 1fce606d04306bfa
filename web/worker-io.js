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

  // Open BYOB streams, one per reader. The engine reads each input mostly
  // sequentially, so a stream stays open between calls and is only reopened
  // when a read does not start where the last one ended (opening a Blob
  // stream per chunk costs tens of ms). The key is the Blob internal/jsio
  // reads through: every jsio.File reads its own file.slice() (a lazy view,
  // no copy), so requests reading the same File at once (two plans, a plan
  // during a save, a full checkpoint in several slots) never share a stream,
  // whether or not the page's File objects are the same. Each stream has its
  // own staging buffer (a WebAssembly.Memory buffer cannot be read into
  // directly: BYOB detaches its target).
  const streams = new Map(); // Blob -> {pos, reader, staging, busy}
  const MAX_STAGING = 64 << 20;
  const COPY_STAGING = 16 << 20;

  // How this browser lets the worker read a File range, found by trying it,
  // never by the browser's name. Chromium and Firefox give Blob streams a
  // BYOB reader (one reused staging buffer: flat renderer memory, and the
  // bytes of a copy go to the sync access handle without entering wasm
  // memory). WebKit's Blob streams are not byte streams: getReader({mode:
  // 'byob'}) throws a TypeError there. Without BYOB, ranges are read with
  // FileReaderSync (every dedicated worker has it), or, where even that is
  // missing, with blob.slice().arrayBuffer(); both allocate one ArrayBuffer
  // per read, which the engine's reads keep to at most 16 MiB (copies) or
  // its buffer size.
  let byobReads = null;
  const hasBYOB = () => {
    if (byobReads === null) {
      try {
        const reader = new Blob([new Uint8Array(1)]).stream().getReader({ mode: 'byob' });
        reader.cancel().catch(() => {});
        byobReads = true;
      } catch {
        byobReads = false;
      }
    }
    return byobReads;
  };
  const hasFRS = () => typeof FileReaderSync === 'function';
  // file[start, end) as a Uint8Array, without a stream.
  const readRange = async (file, start, end) => {
    const blob = file.slice(start, end);
    if (hasFRS()) {
      if (!frs) frs = new FileReaderSync();
      return new Uint8Array(frs.readAsArrayBuffer(blob));
    }
    return new Uint8Array(await blob.arrayBuffer());
  };

  const openStream = (file, start) => ({
    pos: start, reader: file.slice(start).stream().getReader({ mode: 'byob' }), staging: null, busy: false, cached: true,
  });

  const closeStream = (file, s = streams.get(file)) => {
    if (!s) return;
    if (s.cached && streams.get(file) === s) streams.delete(file);
    s.reader.cancel().catch(() => {});
  };

  // A gap up to this long between where the open stream stands and the
  // next read is read through and dropped instead of reopening the stream:
  // reopening costs a few ms (the new stream's first read), about what
  // reading 1 MiB does. Most gaps are far shorter: a quantize pass reads the
  // quantized weights in file order, and between two of them lie only a
  // bias or a norm (sd15: 149 of 212 gaps under 64 KiB).
  const SKIP_MAX = 1 << 20;
  const canContinue = (s, start) => s && !s.busy && start >= s.pos && start - s.pos <= SKIP_MAX;
  // A copy run the open stream cannot reach, shorter than the engine's
  // 64 MiB pieces (checkpoint.rangeCopyPiece: a shorter piece is a whole run
  // or the end of one), is read with one arrayBuffer(); longer runs reopen
  // the stream there. Measured both ways on an sdxl_base save into OPFS
  // (make bench-browser, BENCH_SECTIONS=copy): one arrayBuffer() per run
  // up to 64 MiB 0.92 of a plain-JS copy's time, reopening the stream for
  // every run above 1 MiB 1.42 (SDXL has 261 such runs: fused q/k/v,
  // renamed VAE keys, each CLIP-G layer's norms and MLP after its attention).
  const RANGE_PIECE = 64 << 20;

  // A stream of file positioned at start (reached by reading through a
  // short gap, see SKIP_MAX), with a staging buffer of at least
  // min(want, 64 MiB) bytes. io.ReaderAt allows parallel reads of one
  // reader: a read that finds the cached stream busy gets a stream of its
  // own, closed when it ends.
  const streamAt = async (file, start, want) => {
    let s = streams.get(file);
    const skip = canContinue(s, start) ? start - s.pos : 0;
    if (s && s.busy) {
      s = { ...openStream(file, start), cached: false };
    } else if (!s || (s.pos !== start && !skip)) {
      closeStream(file);
      s = openStream(file, start);
      streams.set(file, s);
    }
    const size = Math.min(Math.max(want, 1 << 20), MAX_STAGING);
    if (!s.staging || s.staging.byteLength < Math.min(want, MAX_STAGING)) s.staging = new ArrayBuffer(size);
    if (skip && (await pump(file, s, skip, () => true)).eof) {
      // The File ended inside the gap: a fresh stream at start reads the
      // same end, and the caller reports the short read.
      s = openStream(file, start);
      streams.set(file, s);
      s.staging = new ArrayBuffer(size);
    }
    return s;
  };

  // Reads up to want bytes from stream s, handing each piece to sink(piece,
  // offsetInRange); sink returns false to stop. Returns {got, eof}.
  const pump = async (file, s, want, sink) => {
    let got = 0;
    s.busy = true;
    try {
      while (got < want) {
        const n = Math.min(want - got, s.staging.byteLength);
        const { value, done } = await s.reader.read(new Uint8Array(s.staging, 0, n));
        if (value) s.staging = value.buffer;
        if (done) { closeStream(file, s); return { got, eof: true }; }
        if (!sink(value, got)) { closeStream(file, s); return { got, stopped: true }; }
        got += value.byteLength;
        s.pos += value.byteLength;
      }
    } catch (err) {
      closeStream(file, s);
      throw err;
    } finally {
      s.busy = false;
    }
    if (!s.cached) closeStream(file, s);
    return { got };
  };

  // The file sink's parts not yet written, per writable (writableQueue*).
  const writeQueues = new WeakMap();
  const queueOf = (writable) => {
    let q = writeQueues.get(writable);
    if (!q) writeQueues.set(writable, q = []);
    return q;
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

    // What this worker can do, by feature checks (the engine's ready
    // message carries it): reads is 'byob', 'sync' (FileReaderSync) or
    // 'arrayBuffer' (see hasBYOB); syncAccessHandle is whether OPFS files
    // can be written here (FileSystemSyncAccessHandle, workers only), which
    // the browser-storage sink needs.
    capabilities() {
      const FH = self.FileSystemFileHandle;
      return {
        reads: hasBYOB() ? 'byob' : hasFRS() ? 'sync' : 'arrayBuffer',
        opfs: typeof self.navigator?.storage?.getDirectory === 'function',
        syncAccessHandle: typeof FH === 'function' && typeof FH.prototype.createSyncAccessHandle === 'function',
      };
    },

    // Streamed read of file[start, end) into wasm memory at ptr: through the
    // BYOB stream where Blob streams have one, else one readRange. Returns
    // the number of bytes copied (fewer only if the File ended).
    async readStreamed(file, start, end, ptr) {
      if (!hasBYOB()) {
        const bytes = new Uint8Array(await file.slice(start, end).arrayBuffer());
        view(ptr, bytes.byteLength).set(bytes);
        return bytes.byteLength;
      }
      const want = end - start;
      const s = await streamAt(file, start, want);
      const { got } = await pump(file, s, want, (piece, at) => {
        view(ptr + at, piece.byteLength).set(piece);
        return true;
      });
      return got;
    },

    // Copies file[start, end) straight to a FileSystemSyncAccessHandle at
    // offset at, writing each piece as the BYOB reader returns it: the bytes
    // never enter wasm memory (the Go sink's RangeCopier fast path). Returns
    // {copied} and, when it stopped early, eof (the File ended) or full (a
    // short write: disk or quota full). Read errors reject.
    async copyToHandle(file, start, end, handle, at) {
      const want = end - start;
      if (!hasBYOB()) {
        // No BYOB stream: 16 MiB reads, each written as it arrives.
        let copied = 0;
        while (copied < want) {
          const n = Math.min(want - copied, COPY_STAGING);
          const r = await self.ckptpackIO.gatherToHandle(file, start + copied, start + copied + n, handle, at + copied, [0, n]);
          copied += r.copied;
          if (r.eof || r.full) return { copied, eof: r.eof, full: r.full };
        }
        return { copied, eof: false, full: false };
      }
      const open = streams.get(file);
      if (want < RANGE_PIECE && !canContinue(open, start)) {
        // A short run the open stream cannot reach: behind it or more than
        // SKIP_MAX ahead (SDXL: renamed VAE keys, each CLIP-G layer's
        // norms). One arrayBuffer() read, and the open stream stays where
        // it is for the next contiguous run.
        return self.ckptpackIO.gatherToHandle(file, start, end, handle, at, [0, want]);
      }
      // The engine hands over pieces of up to 64 MiB; 16 MiB reads are as
      // fast (make bench-worker) and keep the staging buffer smaller.
      const s = await streamAt(file, start, Math.min(want, COPY_STAGING));
      let copied = 0;
      let full = false;
      const r = await pump(file, s, want, (piece, off) => {
        const w = handle.write(piece, { at: at + off });
        if (w !== piece.byteLength) { full = true; return false; }
        copied += w;
        return true;
      });
      return { copied, eof: !!r.eof, full };
    },

    // Reads file[start, end) with one arrayBuffer() and writes pieces of it
    // to a FileSystemSyncAccessHandle from offset at on, back to back in the
    // order given: pieces is [from0, len0, from1, len1, …], offsets into
    // the range, which they cover exactly (the Go sink's GatherCopier; one
    // piece for a short copyToHandle). Returns {copied, eof, full} as
    // copyToHandle.
    async gatherToHandle(file, start, end, handle, at, pieces) {
      const want = end - start;
      const bytes = new Uint8Array(await file.slice(start, end).arrayBuffer());
      if (bytes.byteLength < want) return { copied: 0, eof: true, full: false };
      let copied = 0;
      for (let i = 0; i < pieces.length; i += 2) {
        const piece = bytes.subarray(pieces[i], pieces[i] + pieces[i + 1]);
        const w = handle.write(piece, { at: at + copied });
        if (w !== piece.byteLength) return { copied, eof: false, full: true };
        copied += w;
      }
      return { copied, eof: false, full: false };
    },

    // Closes the open streams of these readers' Blobs (a request ended).
    releaseReaders(...files) { for (const f of files) closeStream(f); },

    // FileSystemSyncAccessHandle.write of Go's bytes at a file offset. The
    // count is returned as is: a short count means the disk or quota is full
    // (Chromium returns 2^32-8 there rather than throwing).
    syncWrite(handle, ptr, len, at) {
      return handle.write(view(ptr, len), { at });
    },

    // The file sink (FileSystemWritableFileStream) queues its output here
    // and writes it in batches, as one Blob per batch: every write() costs a
    // round trip to the browser process (about 20 ms here), and sdxl_base
    // is 346 copy runs. Parts are Blob slices of the input Files (the
    // browser copies them file to file itself; no byte passes through wasm
    // memory or this worker's JS heap) and copies of Go's own bytes (the
    // header, computed and converted tensors: the wasm memory may grow and
    // detach a view before the browser has read it).
    writableQueueBytes(writable, ptr, len) {
      queueOf(writable).push(view(ptr, len).slice());
    },
    writableQueueSlice(writable, file, start, end) {
      queueOf(writable).push(file.slice(start, end));
    },

    // Writes the queued parts as one Blob. A part that cannot be read (its
    // File changed or went away since it was picked) fails the write with
    // NotReadableError or NotFoundError; the reply then says which part it
    // was, {failed: index, name, message}, so the error can name the input.
    // Other errors (quota) reject. {failed: -1} on success.
    async writableFlush(writable) {
      const parts = writeQueues.get(writable);
      writeQueues.delete(writable);
      if (!parts || parts.length === 0) return { failed: -1 };
      try {
        await writable.write(new Blob(parts));
        return { failed: -1 };
      } catch (err) {
        if (err && (err.name === 'NotReadableError' || err.name === 'NotFoundError')) {
          for (let i = 0; i < parts.length; i++) {
            if (parts[i] instanceof Uint8Array) continue;
            try {
              await parts[i].slice(0, 1).arrayBuffer();
            } catch (e) {
              return { failed: i, name: e.name, message: e.message };
            }
          }
        }
        throw err;
      }
    },

    // Drops the queued parts (the save was aborted).
    writableDrop(writable) {
      writeQueues.delete(writable);
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
