// make bench-browsers-other: BENCH_ARCH (default sd15, 2.3 GB; sdxl_base as make bench-browser takes
// over 10 min per round in Firefox on this machine) through the page in
// Firefox and WebKit, each against its own floor, side by side in one browser session per round.
//   browser_vs_js_copy_ratio_<browser>   wall time of the worker's assembly into OPFS ÷ wall time of a
//                                        plain-JS File→OPFS copy of the same input bytes (BYOB reads,
//                                        best of 16 and 64 MiB chunks) per round; median of rounds.
//                                        Needs OPFS writable from a worker: Firefox yes, WebKitGTK no
//                                        (printed as n/a, with why)
//   browser_click_to_file_s_<sink>_<browser>
//                                        click "Save checkpoint" → downloaded file complete, per sink the
//                                        browser offers (blob everywhere, opfs where the worker can write it)
//   browser_floor_s_<sink>_<browser>, browser_click_to_file_vs_floor_ratio_<sink>_<browser>
//                                        the browser alone writing the same bytes, no engine: blob = the
//                                        input Files as one Blob, downloaded; opfs = the plain-JS copy into
//                                        OPFS, then a download of what it wrote (two writes, as the sink)
// BENCH_RUNS (default 3), BENCH_BROWSERS (default firefox,webkit). Prints "name: value" lines and
// writes them to build/bench/browsers-other.txt. No showSaveFilePicker in either browser: no file sink.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from '@playwright/test';
import { ensureFixtures, fixtureFile, REPO } from '../helpers/fixtures';
import { downloaded, launch, until, type BrowserName, type Driven } from './drivers';
import { chooseSink, emptyDownloads, openPage, SLOT_LABELS, startServer, stopServer } from './page';
import { median } from '../bench/worker-convert';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ARCH = process.env.BENCH_ARCH ?? 'sd15';
const BROWSERS = (process.env.BENCH_BROWSERS ?? 'firefox,webkit').split(',') as BrowserName[];
const OUT = path.join(REPO, 'build', 'bench', 'browsers-other.txt');
const CLIPS = ARCH === 'sdxl_base' ? ['clip_l', 'clip_g'] : ['clip_l'];
const INPUTS = () => [fixtureFile(ARCH, 'unet'), ...CLIPS.map((c) => fixtureFile(ARCH, c)), fixtureFile(ARCH, 'vae')];
const SCRATCH = 'bench inputs';


async function clearOPFS(b: Driven): Promise<void> {
  await b.run(`return (async () => {
    if (typeof navigator.storage?.getDirectory !== 'function') return;
    const root = await navigator.storage.getDirectory();
    for await (const name of root.keys()) await root.removeEntry(name, { recursive: true });
    await globalThis.ckptpack.saver.refreshSaved();
  })()`);
}

/** A file input outside the app holding the inputs (the only way a page gets Files from disk). */
async function scratchInput(b: Driven): Promise<void> {
  await b.run(`if (document.querySelector('input[aria-label="${SCRATCH}"]')) return;
    const el = document.createElement('input');
    el.type = 'file';
    el.multiple = true;
    el.setAttribute('aria-label', '${SCRATCH}');
    el.style.cssText = 'position:fixed;left:0;top:0;width:20px;height:20px;opacity:0';
    document.body.append(el);`);
  await b.setFiles(SCRATCH, INPUTS());
}

/** Plain-JS copy of the inputs into OPFS bench-js/<i>.bin (tests/fixtures-web/opfs-copy-worker.js). */
async function jsCopy(b: Driven, chunkMiB: number): Promise<number> {
  return b.run<number>(`return (async () => {
    const worker = new Worker(new URL('/tests/fixtures-web/opfs-copy-worker.js', location.href), { type: 'module' });
    let seconds = 0;
    try {
      for (const [i, file] of [...document.querySelector('input[aria-label="${SCRATCH}"]').files].entries()) {
        const reply = await new Promise((resolve) => {
          worker.onmessage = (e) => resolve(e.data);
          worker.postMessage({ file, path: 'bench-js/' + i + '.bin', chunkMiB: arguments[0], reader: 'byob' });
        });
        if (reply.type !== 'copied') throw new Error(reply.message);
        seconds += reply.seconds;
      }
    } finally {
      worker.terminate();
    }
    return seconds;
  })()`, chunkMiB);
}

/** Starts a download of a Blob made in the page by expr (the page's own hand-off, web/app/opfs.js). */
async function downloadBlob(b: Driven, expr: string, name: string): Promise<void> {
  await b.run(`return (async () => {
    const { startDownload } = await import('./app/opfs.js');
    startDownload(document, await (${expr}), ${JSON.stringify(name)}, new Set());
  })()`);
}

const OPFS_COPY_BLOB = `(async () => {
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('bench-js');
  const parts = [];
  for (let i = 0; ; i++) {
    try { parts.push(await (await dir.getFileHandle(i + '.bin')).getFile()); } catch { break; }
  }
  return new Blob(parts);
})()`;
const INPUTS_BLOB = `new Blob([...document.querySelector('input[aria-label="${SCRATCH}"]').files])`;

/** Click Save → the download complete on disk, in seconds; the engine's own seconds too. */
async function clickToFile(b: Driven, sink: 'blob' | 'opfs'): Promise<{ seconds: number; engineSeconds: number }> {
  await chooseSink(b, sink);
  await until(b, 'the plan', `return document.querySelector('[data-role="plan"]').textContent.includes('ComfyUI_00001_.safetensors');`);
  const bytes = await b.run<number>(`return globalThis.ckptpack.saver.lastPlan.bytes`);
  const before = await b.run<number>(`return globalThis.ckptpack.saver.stats.savesCompleted`);
  await run('sync');
  const t0 = Date.now();
  await b.click('[data-role="save"]');
  const file = await downloaded(b, 'ComfyUI_00001_.safetensors', bytes, 30 * 60_000);
  const seconds = (Date.now() - t0) / 1000;
  await until(b, 'the save', `return globalThis.ckptpack.saver.stats.savesCompleted > arguments[0];`, [before]);
  // NaN (no engine time for a blob save) crosses WebDriver as null.
  const engineSeconds = (await b.run<number | null>(`return globalThis.ckptpack.saver.stats.lastSave.engineSeconds`)) ?? NaN;
  await rm(file);
  await clearOPFS(b);
  return { seconds, engineSeconds };
}

/** The floor under a sink: the browser writing the same bytes with no engine. */
async function floor(b: Driven, sink: 'blob' | 'opfs', bytes: number): Promise<{ seconds: number; copySeconds: number }> {
  await run('sync');
  let copySeconds = 0;
  if (sink === 'opfs') copySeconds = Math.min(await jsCopy(b, 16), await (async () => { await clearOPFS(b); return jsCopy(b, 64); })());
  const t0 = Date.now();
  await downloadBlob(b, sink === 'opfs' ? OPFS_COPY_BLOB : INPUTS_BLOB, 'floor.bin');
  const file = await downloaded(b, 'floor.bin', bytes, 30 * 60_000);
  const seconds = (Date.now() - t0) / 1000 + copySeconds;
  await rm(file);
  await clearOPFS(b);
  return { seconds, copySeconds };
}

test('browsers bench: Firefox and WebKit against their own floors', async () => {
  test.setTimeout(120 * 60_000);
  await ensureFixtures(ARCH, { only: ['unet', ...CLIPS, 'vae'] });
  await mkdir(path.dirname(OUT), { recursive: true });
  const lines: string[] = [];
  const report = (name: string, value: number | string, digits = 2) => {
    const line = `${name}: ${typeof value === 'number' ? value.toFixed(digits) : value}`;
    lines.push(line);
    console.log(line);
  };
  report('bench_arch', ARCH);
  for (const name of BROWSERS) {
    const server = await startServer();
    const b = await launch(name);
    try {
      report(`browser_version_${name}`, b.version);
      const io = await openPage(b);
      await b.setFiles(SLOT_LABELS.model, [fixtureFile(ARCH, 'unet')]);
      await b.setFiles(SLOT_LABELS.clip, CLIPS.map((c) => fixtureFile(ARCH, c)));
      await b.setFiles(SLOT_LABELS.vae, [fixtureFile(ARCH, 'vae')]);
      await until(b, 'the inputs', `return document.querySelectorAll('.ckpt-slot .ckpt-file-ok').length === ${CLIPS.length + 2};`);
      await scratchInput(b);
      await clearOPFS(b);
      await emptyDownloads(b);
      const inputBytes = await b.run<number>(`return [...document.querySelector('input[aria-label="${SCRATCH}"]').files].reduce((n, f) => n + f.size, 0)`);
      const sinks: ('blob' | 'opfs')[] = io.syncAccessHandle ? ['opfs', 'blob'] : ['blob'];
      const times: Record<string, number[]> = {};
      const push = (k: string, v: number) => { (times[k] ??= []).push(v); };
      const copyRatios: number[] = [];
      const steps = [...sinks, ...sinks.map((s) => `floor_${s}`)];
      for (let r = 0; r < RUNS; r++) {
        const detail: string[] = [];
        for (const step of steps) {
          if (step.startsWith('floor_')) {
            const sink = step.slice(6) as 'blob' | 'opfs';
            const f = await floor(b, sink, inputBytes);
            push(step, f.seconds);
            if (sink === 'opfs') push('js_copy', f.copySeconds);
            detail.push(`${step} ${f.seconds.toFixed(1)} s`);
          } else {
            const c = await clickToFile(b, step as 'blob' | 'opfs');
            push(step, c.seconds);
            if (step === 'opfs') push('assembly', c.engineSeconds);
            detail.push(`${step} ${c.seconds.toFixed(1)} s${Number.isFinite(c.engineSeconds) ? ` (engine ${c.engineSeconds.toFixed(1)} s)` : ''}`);
          }
        }
        if (io.syncAccessHandle) copyRatios.push(times.assembly[r] / times.js_copy[r]);
        console.log(`${name} round ${r + 1}: ${detail.join(', ')}`);
        steps.push(steps.shift()!);
      }
      if (io.syncAccessHandle) {
        report(`browser_vs_js_copy_ratio_${name}`, median(copyRatios));
      } else {
        report(`browser_vs_js_copy_ratio_${name}`, 'n/a (no OPFS sync access handle in this browser\'s workers)');
      }
      for (const sink of sinks) {
        report(`browser_click_to_file_s_${sink}_${name}`, median(times[sink]), 1);
        report(`browser_floor_s_${sink}_${name}`, median(times[`floor_${sink}`]), 1);
        report(`browser_click_to_file_vs_floor_ratio_${sink}_${name}`, median(times[sink]) / median(times[`floor_${sink}`]));
      }
      report(`worker_ready_ms_${name}`, await b.run<number>(`return globalThis.ckptpack.saver.stats.readyMs`), 0);
      report(`worker_reads_${name}`, io.reads);
    } finally {
      await b.close();
      await stopServer(server);
    }
  }
  await writeFile(OUT, `${lines.join('\n')}\n`);
});
