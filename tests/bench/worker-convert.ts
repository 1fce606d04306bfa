// Shared by the worker benchmarks: the median of repeated timings, and one
// opRun convert of the picked file into a cleared OPFS, timed in the page.
import type { JSHandle } from '@playwright/test';

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** opRun convert --to `to` ("" rewrites the file unchanged) of the input's first file into OPFS. */
export const convertInWorker = (handle: JSHandle<HTMLInputElement>, to: string) => handle.evaluate(async (el, to) => {
  const { EngineClient } = await import(new URL('app/engine-client.js', location.href).href);
  const g = globalThis as any;
  g.benchClient ??= new EngineClient(new URL('worker.js', location.href));
  const client = g.benchClient;
  await client.ready;
  const root = await navigator.storage.getDirectory();
  for await (const name of (root as any).keys()) await root.removeEntry(name, { recursive: true });
  let peak = 0;
  const t0 = performance.now();
  const done = await client.request('opRun', { op: 'convert', options: { to, ignoreQuota: true }, file: el.files![0], sink: 'opfs' }, {
    onProgress: (p: any) => { peak = Math.max(peak, p.wasmMemoryBytes); },
  });
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, peak: Math.max(peak, done.wasmMemoryBytes), bytes: done.bytes };
}, to);
