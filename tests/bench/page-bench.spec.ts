// make bench-browser: sdxl_base (7.1 GB) through the page.
//   browser_vs_js_copy_ratio     wall time of the worker's assembly into OPFS ÷ wall time of a plain-JS
//                                File→OPFS copy of the same input bytes at its best chunk size (16 or
//                                64 MiB), same page, interleaved; median of BENCH_RUNS rounds (a time
//                                ratio like cli_sdxl_vs_cat_ratio: < 1 is faster than plain JS)
//   browser_click_to_file_s_<sink>  click "Save checkpoint" → downloaded file complete on disk,
//                                beside cat_s: `cat inputs > out; sync` of the same bytes
//   worker_wasm_peak_mib         largest WebAssembly memory the worker reported during the saves
//   wasm_brotli_bytes            web/ckptpack.wasm, brotli quality 11
//   worker_ready_ms              mountSaver → worker ready, warm (reload), median of 5
// Prints "name value" lines and writes them to build/bench/browser.txt.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { test, expect, type Page } from '@playwright/test';
import { closePersistentApp, launchPersistentApp } from '../helpers/browser';
import { ensureFixtures, fixtureFile, REPO } from '../helpers/fixtures';
import { expectSlotOK, openSaver, scratchFileInput, ui } from '../helpers/page';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const OUT_DIR = path.join(REPO, 'build', 'bench');
const INPUTS = () => [
  fixtureFile('sdxl_base', 'unet'),
  fixtureFile('sdxl_base', 'clip_l'),
  fixtureFile('sdxl_base', 'clip_g'),
  fixtureFile('sdxl_base', 'vae'),
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

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

/** One save through the UI; returns the saver's record of it. */
async function saveThroughUI(page: Page, sink: 'opfs' | 'blob'): Promise<any> {
  const u = ui(page);
  await page.locator(`[data-role="sink"][value="${sink}"]`).check();
  await expect(page.getByText(/Will (write|download) .*ComfyUI_00001_\.safetensors/)).toBeVisible();
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

test('browser bench: sdxl_base through the page', async ({ baseURL }) => {
  test.setTimeout(90 * 60_000);
  await ensureFixtures('sdxl_base');
  await mkdir(OUT_DIR, { recursive: true });
  const results: [string, string][] = [];
  const report = (name: string, value: number | string, digits = 2) => {
    const text = typeof value === 'number' ? value.toFixed(digits) : value;
    results.push([name, text]);
    console.log(`${name} ${text}`);
  };
  let wasmPeak = 0;

  // 1. Assembly vs plain-JS copy, interleaved in one page; no downloads.
  {
    const app = await launchPersistentApp(baseURL!, { acceptDownloads: false });
    try {
      await openSaver(app.page);
      await fillSlots(app.page);
      const ratios: number[] = [];
      const detail: string[] = [];
      for (let r = 0; r < RUNS; r++) {
        const order = ['assembly', 'js16', 'js64'];
        for (let k = 0; k < r % 3; k++) order.push(order.shift()!);
        const mbps: Record<string, number> = {};
        for (const step of order) {
          await run('sync');
          if (step === 'assembly') {
            const save = await saveThroughUI(app.page, 'opfs');
            mbps.assembly = save.bytes / save.engineSeconds / 1e6;
            wasmPeak = Math.max(wasmPeak, save.wasmMemoryMax);
            await clearOPFS(app.page);
          } else {
            const c = await jsCopy(app.page, step === 'js16' ? 16 : 64);
            mbps[step] = c.bytes / c.seconds / 1e6;
          }
        }
        const bestJS = Math.max(mbps.js16, mbps.js64);
        ratios.push(bestJS / mbps.assembly); // time ratio: same bytes, so MB/s inverts
        detail.push(`round ${r + 1}: assembly ${mbps.assembly.toFixed(0)} MB/s, js16 ${mbps.js16.toFixed(0)}, js64 ${mbps.js64.toFixed(0)} MB/s`);
      }
      console.log(detail.join('\n'));
      report('browser_vs_js_copy_ratio', median(ratios));
    } finally {
      await closePersistentApp(app);
    }
  }

  // 2. Click → file on disk, per sink, beside cat of the same bytes.
  const catTimes: number[] = [];
  const catOut = path.join(OUT_DIR, 'cat.out');
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    await run('sh', ['-c', `cat ${INPUTS().map((f) => `'${f}'`).join(' ')} > '${catOut}' && sync`]);
    catTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
    await rm(catOut, { force: true });
  }
  {
    const app = await launchPersistentApp(baseURL!, { acceptDownloads: true });
    try {
      await openSaver(app.page);
      await fillSlots(app.page);
      for (const sink of ['opfs', 'blob'] as const) {
        const times: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          await run('sync');
          const u = ui(app.page);
          await app.page.locator(`[data-role="sink"][value="${sink}"]`).check();
          await expect(app.page.getByText(/Will write .*ComfyUI_00001_\.safetensors/)).toBeVisible();
          const downloadEvent = app.page.waitForEvent('download', { timeout: 20 * 60_000 });
          const t0 = Date.now();
          await u.save.click();
          const download = await downloadEvent;
          const file = await download.path();
          times.push((Date.now() - t0) / 1000);
          const save = await app.page.evaluate(() => (globalThis as any).ckptpack.saver.stats.lastSave);
          expect((await stat(file)).size).toBe(save.bytes);
          if (Number.isFinite(save.wasmMemoryMax)) wasmPeak = Math.max(wasmPeak, save.wasmMemoryMax);
          await download.delete();
          await clearOPFS(app.page);
        }
        report(`browser_click_to_file_s_${sink}`, median(times));
        report(`cat_s_${sink}`, median(catTimes));
      }
      // showSaveFilePicker cannot be driven headless (it aborts; browser-limits.md §7).
      report('browser_click_to_file_s_file', 'NA');

      // 3. Warm worker start: reload (HTTP cache / service worker warm).
      const ready: number[] = [];
      for (let i = 0; i < 5; i++) {
        await app.page.reload();
        await expect(app.page.locator('[data-ckpt-saver]')).toHaveAttribute('data-engine', 'ready');
        ready.push(await app.page.evaluate(() => (globalThis as any).ckptpack.saver.stats.readyMs));
      }
      report('worker_ready_ms', median(ready), 1);
    } finally {
      await closePersistentApp(app);
    }
  }

  report('worker_wasm_peak_mib', wasmPeak / (1 << 20), 1);
  const wasm = await readFile(path.join(REPO, 'web', 'ckptpack.wasm'));
  const br = zlib.brotliCompressSync(wasm, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
  report('wasm_brotli_bytes', br.length, 0);
  await writeFile(path.join(OUT_DIR, 'browser.txt'), results.map(([k, v]) => `${k} ${v}\n`).join(''));
});
