// make bench-ops-browser: quantization in the browser worker.
//   quantize_fp8_scaled_worker_mb_per_s   input MB per second of opRun convert --to fp8_scaled of a
//                                         weight-like F16 sd15 diffusion model (1.7 GB, written by
//                                         scripts/benchconvert -write-model) into OPFS; median of BENCH_RUNS
//   quantize_nvfp4_worker_mb_per_s        the same for --to nvfp4
//   quantize_fp8_scaled_worker_vs_copy_ratio  fp8_scaled's wall time ÷ opRun convert with no target (the
//                                         file rewritten unchanged into OPFS), interleaved
//   quantize_worker_wasm_peak_mib         largest WebAssembly memory the worker reported
// Prints "name: value" lines.
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { test, expect } from '@playwright/test';
import { closePersistentApp, launchPersistentApp } from '../helpers/browser';
import { REPO } from '../helpers/fixtures';
import { scratchFileInput } from '../helpers/page';
import { convertInWorker, median } from './worker-convert';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

test('quantize in the worker', async ({ baseURL }) => {
  test.setTimeout(60 * 60_000);
  // Fixture weights are random bytes (NaN and Inf among them), which no
  // scale represents: the bench quantizes weight-like values instead.
  const input = path.join(REPO, 'build', 'bench', 'unet_f16.safetensors');
  await run('go', ['run', './scripts/benchconvert', '-write-model', input, '-dtype', 'F16'], { cwd: REPO });
  const inputBytes = (await stat(input)).size;
  const app = await launchPersistentApp(baseURL!);
  try {
    const { page } = app;
    await page.goto('index.html');
    const handle = await scratchFileInput(page, [input]);
    const runOnce = (to: string) => convertInWorker(handle, to);
    await runOnce('fp8_scaled'); // warm-up: page cache and wasm
    const times: Record<string, number[]> = { fp8_scaled: [], nvfp4: [], '': [] };
    let peak = 0;
    for (let i = 0; i < RUNS; i++) {
      for (const to of i % 2 ? ['', 'nvfp4', 'fp8_scaled'] : ['fp8_scaled', 'nvfp4', '']) {
        const r = await runOnce(to);
        peak = Math.max(peak, r.peak);
        times[to].push(r.seconds);
        if (to) expect(r.bytes).toBeLessThan(inputBytes);
      }
    }
    const [q, n, c] = [median(times.fp8_scaled), median(times.nvfp4), median(times[''])];
    console.log([
      `quantize_fp8_scaled_worker_mb_per_s: ${(inputBytes / 1e6 / q).toFixed(0)} (${(inputBytes / 1e9).toFixed(2)} GB F16 → 182 float8_e4m3fn layers into OPFS, median of ${RUNS}: ${q.toFixed(2)} s)`,
      `quantize_nvfp4_worker_mb_per_s: ${(inputBytes / 1e6 / n).toFixed(0)} (${n.toFixed(2)} s)`,
      `quantize_fp8_scaled_worker_vs_copy_ratio: ${(q / c).toFixed(2)} (copy ${c.toFixed(2)} s)`,
      `quantize_worker_wasm_peak_mib: ${(peak / 2 ** 20).toFixed(1)}`,
    ].join('\n'));
  } finally {
    await closePersistentApp(app);
  }
});
