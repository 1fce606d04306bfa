// make bench-browser: sdxl_base (7.1 GB) through the page.
//   browser_vs_js_copy_ratio     wall time of the worker's assembly into OPFS ÷ wall time of a plain-JS
//                                File→OPFS copy of the same input bytes, best of two on each side (two
//                                assemblies; JS at 16 and at 64 MiB) per round, rounds interleaved in
//                                one page, rotating order; median of BENCH_RUNS rounds (a time
//                                ratio like cli_sdxl_vs_cat_ratio: < 1 is faster than plain JS)
//   browser_click_to_file_s_<sink>, browser_click_to_file_vs_cat_ratio_<sink>
//                                click "Save checkpoint" → file complete, per sink, and its ratio to
//                                `cat inputs > out; sync` of the same bytes; rounds interleave cat and
//                                the sinks, medians. opfs: OPFS, then the download (two writes); blob:
//                                the Blob-of-slices download; file: a stand-in showSaveFilePicker that
//                                returns an OPFS file handle, written the way a picked file is
//                                (createWritable, input ranges as Blob slices) — the picker itself
//                                cannot run headless, and the target is OPFS, not a folder of the
//                                user's (no Safe Browsing check on close, same disk)
//   browser_floor_s_<blob|file>, browser_floor_vs_cat_ratio_<..>, browser_click_to_file_vs_floor_ratio_<..>
//                                the browser alone writing the same bytes (the four input Files as one
//                                Blob: downloaded, or written to the stand-in picked file in one write),
//                                no engine: what any page would pay, and how close each sink comes to it
//   worker_wasm_peak_mib         largest WebAssembly memory the worker reported during the saves,
//                                flux_dev (34 GB, sparse inputs) included
//   worker_wasm_peak_mib_flux    the same for the flux_dev save alone
//   wasm_brotli_bytes            web/ckptpack.wasm, brotli quality 11
//   worker_ready_ms              mountSaver → worker ready, warm (reload, service worker cache), median
//                                of BENCH_READY_RELOADS (default 5) reloads after one cold load; and where
//                                it went, medians of the worker's own times (ready message's boot):
//   worker_ready_<step>_ms       scripts (worker.js start → importScripts done), compile (→ wasm fetched,
//                                compiled, instantiated), init (→ Go runtime and package init done, main
//                                begun), main (→ ready posted), and outside: the rest of worker_ready_ms
//                                (mountSaver → worker.js running, ready posted → the page has it)
//   worker_ready_ms_compare, worker_ready_vs_compare_ratio
//                                with BENCH_READY_COMPARE=<site URL> (another build served elsewhere, e.g.
//                                main's): the same reloads there, alternating with ours, and the ratio
// BENCH_RUNS (default 3) rounds; BENCH_SECTIONS=copy,click,flux,ready (default all) runs parts
// (BENCH_SECTIONS=ready needs no fixtures).
// Prints "name: value" lines and writes them to build/bench/browser.txt.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { test, expect, type Page } from '@playwright/test';
import { closePersistentApp, launchPersistentApp } from '../helpers/browser';
import { buildFixturesTool, ensureFixtures, fixtureFile, REPO } from '../helpers/fixtures';
import { expectSlotOK, openSaver, scratchFileInput, ui } from '../helpers/page';
import { median } from './worker-convert';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
// BENCH_SECTIONS picks parts of the bench (default all): copy (assembly vs
// plain JS), click (click to file per sink), flux (34 GB, wasm memory).
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? 'copy,click,flux,ready').split(','));
const READY_RELOADS = Number(process.env.BENCH_READY_RELOADS ?? 5);
const OUT_DIR = path.join(REPO, 'build', 'bench');
const INPUTS = () => [
  fixtureFile('sdxl_base', 'unet'),
  fixtureFile('sdxl_base', 'clip_l'),
  fixtureFile('sdxl_base', 'clip_g'),
  fixtureFile('sdxl_base', 'vae'),
];


async function fillSlots(page: Page): Promise<void> {
  const u = ui(page);
  const [unet, clipL, clipG, vae] = INPUTS();
  await u.model.setInputFiles(unet);
  await u.clip.setInputFiles([clipL, clipG]);
  await u.vae.setInputFiles(vae);
  await expectSlotOK(page, 'model');
  await expectSlotOK(page, 'clip', 2);
  await expectSlotOK(page, 'vae');
  await expect(page.getByText(/Will write checkpoints\/ComfyUI_00001_\.safetensors/)).toBeVisible();
}

async function clearOPFS(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    for await (const name of (root as any).keys()) await root.removeEntry(name, { recursive: true });
    await (globalThis as any).ckptpack.saver.refreshSaved();
  });
}

// The plan of the next save, under whichever sink. The counter moves on
// after every save (the next name is never reused), so any counter.
const PLANNED = /Will (write|download|ask where to save) .*ComfyUI_\d{5}_\.safetensors/;

/** One save through the UI; returns the saver's record of it. */
async function saveThroughUI(page: Page, sink: 'opfs' | 'blob' | 'file'): Promise<any> {
  const u = ui(page);
  await page.locator(`[data-role="sink"][value="${sink}"]`).check();
  await expect(page.getByText(PLANNED)).toBeVisible();
  const stats = () => page.evaluate(() => (globalThis as any).ckptpack.saver.stats);
  const before = (await stats()).savesCompleted;
  await u.save.click();
  // The status still says "Saved …" from the previous round: wait for this save.
  await expect.poll(async () => (await stats()).savesCompleted, { timeout: 20 * 60_000, intervals: [250] }).toBe(before + 1);
  await expect(u.alert).toBeEmpty();
  const save = (await stats()).lastSave;
  expect(Number.isFinite(save.engineSeconds)).toBe(true);
  return save;
}

/** Plain-JS copy of the input files into OPFS (tests/fixtures-web/opfs-copy.js), in one worker. */
async function jsCopy(page: Page, chunkMiB: number): Promise<{ bytes: number; seconds: number }> {
  const scratch = await scratchFileInput(page, INPUTS());
  return page.evaluate(async ([input, chunk]) => {
    const worker = new Worker(new URL('/tests/fixtures-web/opfs-copy-worker.js', location.href), { type: 'module' });
    let bytes = 0;
    let seconds = 0;
    try {
      const files = [...(input as HTMLInputElement).files!];
      for (const [i, file] of files.entries()) {
        const reply: any = await new Promise((resolve) => {
          worker.onmessage = (e) => resolve(e.data);
          // BYOB reads into one reused buffer: the fastest plain-JS copy measured
          // (make bench-worker: ~2-3x FileReaderSync), so the baseline is the best JS can do.
          worker.postMessage({ file, path: `bench-js/${i}.bin`, chunkMiB: chunk, reader: 'byob' });
        });
        if (reply.type !== 'copied') throw new Error(reply.message);
        bytes += reply.bytes;
        seconds += reply.seconds;
      }
    } finally {
      worker.terminate();
      (input as HTMLInputElement).remove();
      const root = await navigator.storage.getDirectory();
      await root.removeEntry('bench-js', { recursive: true }).catch(() => {});
    }
    return { bytes, seconds };
  }, [scratch, chunkMiB] as const);
}

/**
 * The browser's own cost of writing the same bytes, with no engine: the four
 * input Files as one Blob, downloaded with <a download> (the floor under the
 * blob sink) or written into a stand-in picked file with one
 * FileSystemWritableFileStream.write (the floor under the file sink).
 * Returns seconds from the start to the file complete.
 */
async function browserFloor(page: Page, kind: 'blob' | 'file'): Promise<number> {
  const scratch = await scratchFileInput(page, INPUTS());
  try {
    if (kind === 'file') {
      return await page.evaluate(async (input) => {
        const t0 = performance.now();
        const blob = new Blob([...(input as HTMLInputElement).files!]);
        const handle = await (window as any).showSaveFilePicker({ suggestedName: 'floor.safetensors' });
        const writable = await handle.createWritable();
        await writable.write(blob);
        await writable.close();
        return (performance.now() - t0) / 1000;
      }, scratch);
    }
    const downloadEvent = page.waitForEvent('download', { timeout: 20 * 60_000 });
    const t0 = Date.now();
    await page.evaluate(async (input) => {
      // The page's own download hand-off (web/app/opfs.js), as the blob sink uses it.
      const { startDownload } = await import('./app/opfs.js');
      startDownload(document, new Blob([...(input as HTMLInputElement).files!]), 'floor.safetensors', new Set());
    }, scratch);
    const download = await downloadEvent;
    await download.path();
    const seconds = (Date.now() - t0) / 1000;
    await download.delete();
    return seconds;
  } finally {
    await scratch.evaluate((el) => el.remove());
  }
}

test('browser bench: sdxl_base through the page', async ({ baseURL }) => {
  test.setTimeout(90 * 60_000);
  if (SECTIONS.has('copy') || SECTIONS.has('click')) {
    await ensureFixtures('sdxl_base', { only: ['unet', 'clip_l', 'clip_g', 'vae'] }); // not unet_modelsave: 5 GB less disk
  }
  await mkdir(OUT_DIR, { recursive: true });
  const results: [string, string][] = [];
  const report = (name: string, value: number | string, digits = 2) => {
    const text = typeof value === 'number' ? value.toFixed(digits) : value;
    results.push([name, text]);
    console.log(`${name}: ${text}`);
  };
  let wasmPeak = 0;

  // 1. Assembly vs plain-JS copy, interleaved in one page; no downloads.
  if (SECTIONS.has('copy')) {
    const app = await launchPersistentApp(baseURL!, { acceptDownloads: false });
    try {
      await openSaver(app.page);
      await fillSlots(app.page);
      const ratios: number[] = [];
      const detail: string[] = [];
      for (let r = 0; r < RUNS; r++) {
        // Best of two on each side: two assemblies against the JS copy at 16
        // and at 64 MiB (a best-of-two baseline against one assembly sample
        // would favour JS by the noise alone).
        const order = ['assembly', 'js16', 'assembly2', 'js64'];
        for (let k = 0; k < r % 4; k++) order.push(order.shift()!);
        const mbps: Record<string, number> = {};
        for (const step of order) {
          await run('sync');
          if (step.startsWith('assembly')) {
            const save = await saveThroughUI(app.page, 'opfs');
            mbps[step] = save.bytes / save.engineSeconds / 1e6;
            wasmPeak = Math.max(wasmPeak, save.wasmMemoryMax);
            await clearOPFS(app.page);
          } else {
            const c = await jsCopy(app.page, step === 'js16' ? 16 : 64);
            mbps[step] = c.bytes / c.seconds / 1e6;
          }
          console.log(`round ${r + 1} ${step}: ${mbps[step].toFixed(0)} MB/s`); // a stalled round shows where
        }
        const bestJS = Math.max(mbps.js16, mbps.js64);
        const bestAssembly = Math.max(mbps.assembly, mbps.assembly2);
        ratios.push(bestJS / bestAssembly); // time ratio: same bytes, so MB/s inverts
        detail.push(`round ${r + 1}: assembly ${mbps.assembly.toFixed(0)} / ${mbps.assembly2.toFixed(0)} MB/s, js16 ${mbps.js16.toFixed(0)}, js64 ${mbps.js64.toFixed(0)} MB/s`);
      }
      console.log(detail.join('\n'));
      report('browser_vs_js_copy_ratio', median(ratios));
    } finally {
      await closePersistentApp(app);
    }
  }

  // 2. Click → file on disk, per sink, beside cat of the same bytes; each
  // round runs cat and every sink, in a rotating order.
  const catOut = path.join(OUT_DIR, 'cat.out');
  const SINKS = ['opfs', 'blob', 'file'] as const;
  if (SECTIONS.has('click')) {
    const app = await launchPersistentApp(baseURL!, { acceptDownloads: true });
    try {
      await app.page.addInitScript(() => {
        // Stand-in picker: a fresh OPFS file under picked/.
        (window as any).showSaveFilePicker = async ({ suggestedName }: { suggestedName: string }) => {
          const root = await navigator.storage.getDirectory();
          const dir = await root.getDirectoryHandle('picked', { create: true });
          await dir.removeEntry(suggestedName).catch(() => {});
          return dir.getFileHandle(suggestedName, { create: true });
        };
        // A picked file has no sync access handle, the OPFS stand-in has:
        // make the worker write it the way it writes a picked file.
        const post = Worker.prototype.postMessage;
        Worker.prototype.postMessage = function (this: Worker, msg: any, ...rest: any[]) {
          if (msg?.type === 'save' && msg.sink === 'file') msg = { ...msg, options: { ...(msg.options ?? {}), fileWriter: 'writable' } };
          return (post as any).call(this, msg, ...rest);
        } as any;
      });
      await openSaver(app.page);
      await fillSlots(app.page);
      const times: Record<string, number[]> = { cat: [], opfs: [], blob: [], file: [], floor_blob: [], floor_file: [] };
      const order: string[] = ['cat', ...SINKS, 'floor_blob', 'floor_file'];
      for (let r = 0; r < RUNS; r++) {
        for (const step of order) {
          await run('sync');
          if (step === 'cat') {
            const t0 = process.hrtime.bigint();
            await run('sh', ['-c', `cat ${INPUTS().map((f) => `'${f}'`).join(' ')} > '${catOut}' && sync`]);
            times.cat.push(Number(process.hrtime.bigint() - t0) / 1e9);
            await rm(catOut, { force: true });
            continue;
          }
          if (step === 'floor_blob' || step === 'floor_file') {
            times[step].push(await browserFloor(app.page, step === 'floor_blob' ? 'blob' : 'file'));
            await clearOPFS(app.page);
            continue;
          }
          if (step === 'file') {
            const t0 = Date.now();
            const save = await saveThroughUI(app.page, 'file');
            times.file.push((Date.now() - t0) / 1000);
            wasmPeak = Math.max(wasmPeak, save.wasmMemoryMax);
            await clearOPFS(app.page);
            continue;
          }
          const u = ui(app.page);
          await app.page.locator(`[data-role="sink"][value="${step}"]`).check();
          await expect(app.page.getByText(PLANNED)).toBeVisible();
          const downloadEvent = app.page.waitForEvent('download', { timeout: 20 * 60_000 });
          const t0 = Date.now();
          await u.save.click();
          const download = await downloadEvent;
          const file = await download.path();
          times[step].push((Date.now() - t0) / 1000);
          const save = await app.page.evaluate(() => (globalThis as any).ckptpack.saver.stats.lastSave);
          expect((await stat(file)).size).toBe(save.bytes);
          if (Number.isFinite(save.wasmMemoryMax)) wasmPeak = Math.max(wasmPeak, save.wasmMemoryMax);
          await download.delete();
          await clearOPFS(app.page);
        }
        order.push(order.shift()!);
      }
      console.log(Object.entries(times).map(([k, v]) => `${k}: ${v.map((t) => t.toFixed(1)).join(' / ')} s`).join('\n'));
      report('cat_s', median(times.cat));
      for (const sink of SINKS) {
        report(`browser_click_to_file_s_${sink}`, median(times[sink]));
        report(`browser_click_to_file_vs_cat_ratio_${sink}`, median(times[sink]) / median(times.cat));
      }
      // What the browser itself costs for the same bytes, and how close each
      // single-write sink comes to it (opfs's floor is two of these).
      for (const sink of ['blob', 'file'] as const) {
        report(`browser_floor_s_${sink}`, median(times[`floor_${sink}`]));
        report(`browser_floor_vs_cat_ratio_${sink}`, median(times[`floor_${sink}`]) / median(times.cat));
        report(`browser_click_to_file_vs_floor_ratio_${sink}`, median(times[sink]) / median(times[`floor_${sink}`]));
      }
    } finally {
      await closePersistentApp(app);
    }
  }

  // 3. Warm worker start: reloads with the service worker's cache filled,
  // in a fresh profile per site; with BENCH_READY_COMPARE, the other site's
  // reloads alternate with ours (same machine load for both).
  if (SECTIONS.has('ready')) {
    const sites = [baseURL!, ...(process.env.BENCH_READY_COMPARE ? [process.env.BENCH_READY_COMPARE] : [])];
    const apps = await Promise.all(sites.map((site) => launchPersistentApp(site, { acceptDownloads: false })));
    type Start = { readyMs: number; boot: Record<string, number> | null };
    const starts: Start[][] = sites.map(() => []);
    try {
      for (const app of apps) await openSaver(app.page, 'index.html', { sink: null }); // cold: fills the cache
      for (let i = 0; i < READY_RELOADS; i++) {
        for (const [k, app] of apps.entries()) {
          await app.page.reload();
          await expect(app.page.locator('[data-ckpt-saver]')).toHaveAttribute('data-engine', 'ready');
          starts[k].push(await app.page.evaluate(() => {
            const { readyMs, boot } = (globalThis as any).ckptpack.saver.stats;
            return { readyMs, boot };
          }));
        }
      }
    } finally {
      for (const app of apps) await closePersistentApp(app);
    }
    const steps = (st: Start): Record<string, number> => {
      const b = st.boot!;
      return {
        scripts: b.scriptsAt - b.startAt, compile: b.compiledAt - b.scriptsAt,
        init: b.mainAt - b.compiledAt, main: b.readyAt - b.mainAt,
        // The page's mountSaver → worker.js start, and ready posted → the
        // page has it, together: what the worker's own clock cannot see.
        outside: st.readyMs - (b.readyAt - b.startAt),
      };
    };
    for (const [k, suffix] of sites.map((_, k) => [k, k === 0 ? '' : '_compare'] as const)) {
      console.log(`${sites[k]}: ready ${starts[k].map((st) => st.readyMs.toFixed(0)).join(' / ')} ms`);
      report(`worker_ready_ms${suffix}`, median(starts[k].map((st) => st.readyMs)), 1);
      if (starts[k].every((st) => st.boot)) {
        for (const step of ['scripts', 'compile', 'init', 'main', 'outside']) {
          report(`worker_ready_${step}_ms${suffix}`, median(starts[k].map((st) => steps(st)[step])), 1);
        }
      }
    }
    if (sites.length > 1) {
      const ratios = starts[0].map((st, i) => st.readyMs / starts[1][i].readyMs);
      report('worker_ready_vs_compare_ratio', median(ratios)); // median of the alternating pairs' ratios
    }
  }

  // 4. flux_dev (34 GB) from sparse inputs, Download directly (the one sink
  // that needs neither quota nor 34 GB of free disk); the download itself is
  // refused, the worker's part is complete when the page has the Blob.
  if (SECTIONS.has('flux')) {
    const fluxDir = path.join(REPO, 'build', 'fixtures', 'worker', 'flux_dev-sparse');
    await buildFixturesTool();
    await ensureFixtures('flux_dev', { sparse: true, only: ['unet', 'clip_l', 't5xxl', 'vae'], out: fluxDir });
    const f = (c: string) => path.join(fluxDir, `${c}.safetensors`);
    const app = await launchPersistentApp(baseURL!, { acceptDownloads: false });
    try {
      const u = ui(app.page);
      await openSaver(app.page);
      await u.model.setInputFiles(f('unet'));
      await u.clip.setInputFiles([f('clip_l'), f('t5xxl')]);
      await u.vae.setInputFiles(f('vae'));
      await expectSlotOK(app.page, 'model');
      await expectSlotOK(app.page, 'clip', 2);
      await expectSlotOK(app.page, 'vae');
      await app.page.locator('[data-role="sink"][value="blob"]').check();
      await expect(u.plan).toContainText('Will download ComfyUI_00001_.safetensors: FLUX.1 [dev] checkpoint');
      await u.save.click();
      await expect(u.result).toContainText("Handed to your browser's downloads: ComfyUI_00001_.safetensors", { timeout: 20 * 60_000 });
      await expect(u.alert).toBeEmpty();
      const save = await app.page.evaluate(() => (globalThis as any).ckptpack.saver.stats.lastSave);
      expect(save.bytes).toBeGreaterThan(30e9);
      const mem = await app.page.evaluate(() => (globalThis as any).ckptpack.saver.stats.wasmMemoryBytes);
      const fluxPeak = Math.max(save.wasmMemoryMax, mem);
      wasmPeak = Math.max(wasmPeak, fluxPeak);
      report('worker_wasm_peak_mib_flux', fluxPeak / (1 << 20), 1);
    } finally {
      await closePersistentApp(app);
    }
  }

  report('worker_wasm_peak_mib', wasmPeak / (1 << 20), 1);
  const wasm = await readFile(path.join(REPO, 'web', 'ckptpack.wasm'));
  const br = zlib.brotliCompressSync(wasm, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
  report('wasm_brotli_bytes', br.length, 0);
  await writeFile(path.join(OUT_DIR, 'browser.txt'), results.map(([k, v]) => `${k}: ${v}\n`).join(''));
});
