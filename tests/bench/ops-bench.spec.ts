// make bench-ops-browser: precision conversion in the browser worker.
//   convert_fp8_mb_per_s          input MB per second of opRun convert --to fp8 (float8_e4m3fn) of the
//                                 sd15 diffusion model fixture (F16, 1.7 GB) into OPFS; median of BENCH_RUNS
//   convert_fp8_vs_copy_ratio     its wall time ÷ opRun convert with no target (the same file rewritten
//                                 unchanged into OPFS), interleaved
//   convert_fp8_wasm_peak_mib     largest WebAssembly memory the worker reported during the conversions
// Prints "name: value" lines.
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { test, expect } from '@playwright/test';
import { closePersistentApp, launchPersistentApp } from '../helpers/browser';
import { ensureFixtures, fixtureFile } from '../helpers/fixtures';
import { scratchFileInput } from '../helpers/page';
import { convertInWorker, median } from './worker-convert';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

test('convert fp8 in the worker', async ({ baseURL }) => {
  test.setTimeout(60 * 60_000);
  await ensureFixtures('sd15');
  const input = fixtureFile('sd15', 'unet');
  const inputBytes = (await stat(input)).size;
  const app = await launchPersistentApp(baseURL!);
  try {
    const { page } = app;
    await page.goto('index.html');
    const handle = await scratchFileInput(page, [input]);
    const runOnce = (to: string) => convertInWorker(handle, to);
    await runOnce('fp8'); // warm-up: page cache and wasm
    const fp8: number[] = [];
    const copy: number[] = [];
    let peak = 0;
    for (let i = 0; i < RUNS; i++) {
      for (const to of i % 2 ? ['', 'fp8'] : ['fp8', '']) {
        const r = await runOnce(to);
        peak = Math.max(peak, r.peak);
        (to ? fp8 : copy).push(r.seconds);
        if (to) expect(r.bytes).toBeLessThan(inputBytes);
      }
    }
    const lines = [
      `convert_fp8_mb_per_s: ${(inputBytes / 1e6 / median(fp8)).toFixed(0)} (${path.basename(input)} ${(inputBytes / 1e9).toFixed(2)} GB F16 → F8_E4M3 into OPFS, median of ${RUNS}: ${median(fp8).toFixed(2)} s)`,
      `convert_fp8_vs_copy_ratio: ${(median(fp8) / median(copy)).toFixed(2)} (copy ${median(copy).toFixed(2)} s)`,
      `convert_fp8_wasm_peak_mib: ${(peak / 2 ** 20).toFixed(1)}`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await closePersistentApp(app);
  }
});
