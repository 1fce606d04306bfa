// Plain-JS File -> OPFS copy, the baseline the Go worker is measured against
// (make bench-worker, and the page's bench). Runs in a dedicated worker
// (FileSystemSyncAccessHandle is worker-only).
//
//   reader 'frs':  FileReaderSync.readAsArrayBuffer(file.slice(a, b)), a new
//                  ArrayBuffer per chunk (renderer memory rises until V8 GC);
//   reader 'byob': file.slice().stream() BYOB reads into one reused buffer.
// Each chunk is written with syncHandle.write(buf, {at}); a short count
// (disk or quota full) is an error. The loop yields to the event loop every
// yieldBytes (default 64 MiB), as the Go worker does at its progress ticks.

export async function copyFileToOPFS(file, path, { chunkMiB = 16, reader = 'frs', yieldMiB = 64 } = {}) {
  const chunk = chunkMiB << 20;
  const segs = path.split('/');
  const name = segs.pop();
  let dir = await navigator.storage.getDirectory();
  for (const s of segs) dir = await dir.getDirectoryHandle(s, { create: true });
  const fh = await dir.getFileHandle(name, { create: true });
  const handle = await fh.createSyncAccessHandle();
  const t0 = performance.now();
  let at = 0;
  let sinceYield = 0;
  try {
    handle.truncate(0);
    if (reader === 'byob') {
      let buf = new ArrayBuffer(chunk);
      const r = file.stream().getReader({ mode: 'byob' });
      for (;;) {
        const { value, done } = await r.read(new Uint8Array(buf, 0, chunk));
        if (done) break;
        buf = value.buffer;
        write(handle, value, at);
        at += value.byteLength;
      }
    } else {
      const frs = new FileReaderSync();
      while (at < file.size) {
        const ab = frs.readAsArrayBuffer(file.slice(at, Math.min(at + chunk, file.size)));
        write(handle, new Uint8Array(ab), at);
        at += ab.byteLength;
        sinceYield += ab.byteLength;
        if (yieldMiB > 0 && sinceYield >= yieldMiB << 20) {
          sinceYield = 0;
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
    }
    handle.flush();
  } catch (err) {
    handle.close();
    await dir.removeEntry(name);
    throw err;
  }
  handle.close();
  return { bytes: at, seconds: (performance.now() - t0) / 1000 };
}

function write(handle, u8, at) {
  const n = handle.write(u8, { at });
  if (n !== u8.byteLength) throw new Error(`storage full: write of ${u8.byteLength} bytes at ${at} returned ${n}`);
}
