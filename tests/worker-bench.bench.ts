// make bench-worker: File -> OPFS throughput of the Go/WASM worker (its
// diagnostic 'copy': the reader, executor and OPFS sink a save uses) against
// the plain-JS copy (tests/fixtures-web/opfs-copy.js), interleaved per round
// and chunk size, in a persistent profile (the default context keeps OPFS in
// RAM, capped near 1.2 GiB). Also: worker ready time, wasm memory, and peak
// renderer RSS per copy (sampled from /proc). Results: build/bench/worker.json.
// Then an sd15 save vs the plain-JS copy of its inputs, and cancel latency.
//
// Variants: js-frs / js-byob = plain JS with FileReaderSync / a BYOB stream
// reader; go-byob = the worker's default (BYOB reads, File ranges copied to
// the OPFS handle by the JS helper, bytes never in wasm memory); go-sync =
// the worker reading with FileReaderSync into its Go buffer and writing from
// it (options.reader 'sync').
//
// Knobs: BENCH_GIB (2), BENCH_ROUNDS (3), BENCH_CHUNKS_MIB ("4,16,64"),
// BENCH_VARIANTS ("js-frs,js-byob,go-sync,go-byob").
import { chromium, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM_LAUNCH } from './helpers/browser';
import { REPO, ensureFixtures, fixtureFile, buildFixturesTool } from './helpers/fixtures';

const GIB = Number(process.env.BENCH_GIB ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHUNKS = (process.env.BENCH_CHUNKS_MIB ?? '4,16,64').split(',').map(Number);
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'js-frs,js-byob,go-sync,go-byob').split(',');
const SOURCE = path.join(REPO, 'build', 'fixtures', 'worker', `random-${GIB}GiB.bin`);
const OUT = path.join(REPO, 'build', 'bench', 'worker.json');
const HARNESS_DIR = path.join(REPO, 'tests', 'fixtures-web');

const parentOf = (pid: string) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1];

/** Total RSS (bytes) of the Chromium renderer processes of one profile. */
function rendererRSS(userDataDir: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      // Renderers do not carry --user-data-dir: find the browser process
      // among their ancestors (renderer <- zygote <- zygote <- browser).
      let ours = false;
      for (let p = parentOf(pid), i = 0; p !== '0' && p !== '1' && i < 5; p = parentOf(p), i++) {
        if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(userDataDir)) { ours = true; break; }
      }
      if (!ours) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch { /* process went away */ }
  }
  return total;
}

test('worker vs plain-JS File -> OPFS copy', async () => {
  if (!existsSync(SOURCE)) {
    await mkdir(path.dirname(SOURCE), { recursive: true });
    execFileSync('dd', ['if=/dev/urandom', `of=${SOURCE}`, 'bs=1M', `count=${GIB * 1024}`, 'status=none']);
  }
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'ckptpack-bench-'));
  const context = await chromium.launchPersistentContext(userDataDir, { ...CHROMIUM_LAUNCH, headless: true, baseURL: test.info().project.use.baseURL });
  const results: any[] = [];
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.route('**/tests/fixtures-web/*', async (route) => {
      const name = path.basename(new URL(route.request().url()).pathname);
      await route.fulfill({ body: await readFile(path.join(HARNESS_DIR, name)), contentType: name.endsWith('.html') ? 'text/html' : 'text/javascript' });
    });
    await page.goto('tests/fixtures-web/worker.html');
    await page.setInputFiles('#files', [SOURCE]);
    await page.evaluate(() => (window as any).harness.ready);

    // Worker ready time: new Worker() -> {type:'ready'}, fresh worker each time.
    const readyMs = await page.evaluate(async () => {
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        const w = new Worker(new URL('../../worker.js', location.href));
        await new Promise((resolve) => { w.onmessage = (ev) => { if (ev.data.type === 'ready') resolve(null); }; });
        times.push(performance.now() - t0);
        w.terminate();
      }
      return times;
    });
    results.push({ kind: 'ready', ms: readyMs });
    console.log(`worker ready ms: ${readyMs.map((t) => t.toFixed(1)).join(' ')}`);

    for (let round = 0; round < ROUNDS; round++) {
      for (const chunk of CHUNKS) {
        const order = VARIANTS.slice(round % VARIANTS.length).concat(VARIANTS.slice(0, round % VARIANTS.length));
        for (const variant of order) {
          execFileSync('sync');
          let peak = 0;
          const sampler = setInterval(() => { peak = Math.max(peak, rendererRSS(userDataDir)); }, 250);
          const before = rendererRSS(userDataDir);
          const r = await page.evaluate(async ({ variant, chunk }) => {
            const h = (window as any).harness;
            await h.opfsRemoveAll();
            const file = h.files()[0];
            const t0 = performance.now();
            let out: any;
            if (variant.startsWith('js-')) {
              out = await h.jsCopy(file, 'bench.bin', { chunkMiB: chunk, reader: variant.slice(3) });
            } else {
              const { final } = await h.request({ type: 'copy', file, path: 'bench.bin', options: { bufferMiB: chunk, reader: variant.slice(3) } });
              out = final;
            }
            const seconds = (performance.now() - t0) / 1000;
            await h.opfsRemoveAll();
            return { ...out, wallSeconds: seconds };
          }, { variant, chunk });
          clearInterval(sampler);
          if (r.type === 'error') throw new Error(`${variant} ${chunk} MiB: ${r.message}`);
          const bytes = GIB * 2 ** 30;
          const row = { kind: 'copy', round, variant, chunkMiB: chunk, mbps: bytes / r.wallSeconds / 1e6, wallSeconds: r.wallSeconds,
            wasmMemoryBytes: r.wasmMemoryBytes ?? null, rssBeforeMiB: before / 2 ** 20, rssPeakMiB: peak / 2 ** 20 };
          results.push(row);
          console.log(`round ${round} ${variant.padEnd(8)} ${String(chunk).padStart(3)} MiB  ${row.mbps.toFixed(0).padStart(5)} MB/s  renderer peak ${row.rssPeakMiB.toFixed(0)} MiB  wasm ${row.wasmMemoryBytes ? (row.wasmMemoryBytes / 2 ** 20).toFixed(1) + ' MiB' : '-'}`);
        }
      }
    }
  } finally {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
    await mkdir(path.dirname(OUT), { recursive: true });
    await writeFile(OUT, JSON.stringify({ gib: GIB, rounds: ROUNDS, results }, null, 1));
  }
  // Summary: median MB/s and peak RSS per variant and chunk.
  const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  console.log('\nvariant   chunk  median MB/s (min-max)   median renderer peak MiB');
  for (const chunk of CHUNKS) {
    for (const variant of VARIANTS) {
      const rows = results.filter((r) => r.kind === 'copy' && r.variant === variant && r.chunkMiB === chunk);
      if (!rows.length) continue;
      const m = rows.map((r) => r.mbps);
      console.log(`${variant.padEnd(9)} ${String(chunk).padStart(3)} MiB  ${med(m).toFixed(0).padStart(5)} (${Math.min(...m).toFixed(0)}-${Math.max(...m).toFixed(0)})   ${med(rows.map((r) => r.rssPeakMiB)).toFixed(0)}`);
    }
    // Paired ratios (same round and chunk, back to back) are steadier than
    // medians on a noisy machine.
    const ratios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const at = (v: string) => results.find((r) => r.kind === 'copy' && r.round === round && r.chunkMiB === chunk && r.variant === v);
      const go = at('go-byob');
      const js = at('js-byob');
      if (go && js) ratios.push(go.mbps / js.mbps);
    }
    if (ratios.length) console.log(`go-byob / js-byob at ${chunk} MiB, paired: ${ratios.map((r) => r.toFixed(2)).join(' ')} (median ${med(ratios).toFixed(2)})`);
  }
});

// A real assembly: sd15 components -> OPFS checkpoint through the worker's
// save, against the plain-JS copy of the same input files one after the
// other (the same bytes read and written, minus ~15 KB of headers).
test('sd15 save vs plain-JS copy of its inputs', async () => {
  await buildFixturesTool();
  await ensureFixtures('sd15');
  const files = ['unet', 'clip_l', 'vae'].map((c) => fixtureFile('sd15', c));
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'ckptpack-bench-'));
  const context = await chromium.launchPersistentContext(userDataDir, { ...CHROMIUM_LAUNCH, headless: true, baseURL: test.info().project.use.baseURL });
  const rows: any[] = [];
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.route('**/tests/fixtures-web/*', async (route) => {
      const name = path.basename(new URL(route.request().url()).pathname);
      await route.fulfill({ body: await readFile(path.join(HARNESS_DIR, name)), contentType: name.endsWith('.html') ? 'text/html' : 'text/javascript' });
    });
    await page.goto('tests/fixtures-web/worker.html');
    await page.setInputFiles('#files', files);
    await page.evaluate(() => (window as any).harness.ready);
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of round % 2 ? ['js-copy', 'go-save'] : ['go-save', 'js-copy']) {
        execFileSync('sync');
        const r = await page.evaluate(async (variant) => {
          const h = (window as any).harness;
          await h.opfsRemoveAll();
          const [model, clip, vae] = h.files();
          const t0 = performance.now();
          let bytes = 0;
          if (variant === 'go-save') {
            const { final } = await h.request({ type: 'save', sink: 'opfs', model, clip: [clip], vae });
            if (final.type !== 'done') throw new Error(final.message);
            bytes = final.bytes;
          } else {
            for (const [i, f] of [model, clip, vae].entries()) {
              const out = await h.jsCopy(f, `copy-${i}.bin`, { chunkMiB: 16, reader: 'byob' });
              if (out.type !== 'copied') throw new Error(out.message);
              bytes += out.bytes;
            }
          }
          const seconds = (performance.now() - t0) / 1000;
          await h.opfsRemoveAll();
          return { bytes, seconds };
        }, variant);
        const row = { kind: 'sd15', round, variant, bytes: r.bytes, seconds: r.seconds, mbps: r.bytes / r.seconds / 1e6 };
        rows.push(row);
        console.log(`round ${round} ${variant.padEnd(8)} ${(r.bytes / 1e9).toFixed(2)} GB  ${r.seconds.toFixed(2)} s  ${row.mbps.toFixed(0)} MB/s`);
      }
    }
  } finally {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
    await mkdir(path.dirname(OUT), { recursive: true });
    await writeFile(OUT.replace('.json', '-sd15.json'), JSON.stringify(rows, null, 1));
  }
});

// Cancel latency: cancel posted once a save is under way (its first
// progress) -> the error reply, and no file left. The brief asks for < 1 s.
test('cancel latency', async () => {
  await buildFixturesTool();
  await ensureFixtures('sd15');
  const files = ['unet', 'clip_l', 'vae'].map((c) => fixtureFile('sd15', c));
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'ckptpack-bench-'));
  const context = await chromium.launchPersistentContext(userDataDir, { ...CHROMIUM_LAUNCH, headless: true, baseURL: test.info().project.use.baseURL });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.route('**/tests/fixtures-web/*', async (route) => {
      const name = path.basename(new URL(route.request().url()).pathname);
      await route.fulfill({ body: await readFile(path.join(HARNESS_DIR, name)), contentType: name.endsWith('.html') ? 'text/html' : 'text/javascript' });
    });
    await page.goto('tests/fixtures-web/worker.html');
    await page.setInputFiles('#files', files);
    await page.evaluate(() => (window as any).harness.ready);
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      for (const reader of ['byob', 'sync']) {
        const r = await page.evaluate(async ({ reader, delay }) => {
          const h = (window as any).harness;
          await h.opfsRemoveAll();
          const [model, clip, vae] = h.files();
          const { id, done } = h.start({ type: 'save', sink: 'opfs', model, clip: [clip], vae, options: { reader } });
          await new Promise<void>((resolve) => {
            const t = setInterval(() => {
              if ((h.replies.get(id) ?? []).some((m: any) => m.type === 'progress')) { clearInterval(t); resolve(); }
            }, 2);
          });
          await new Promise((resolve) => setTimeout(resolve, delay));
          const t0 = performance.now();
          h.cancel(id);
          const final = await done;
          const latency = performance.now() - t0;
          const listed = await h.request({ type: 'list' });
          return { code: final.code, latency, left: listed.final.files.length };
        }, { reader, delay: 200 + 150 * i });
        if (r.code !== 'cancelled' || r.left !== 0) throw new Error(`cancel: ${JSON.stringify(r)}`);
        ms.push(r.latency);
        console.log(`cancel (${reader}) -> error reply: ${r.latency.toFixed(0)} ms, files left ${r.left}`);
      }
    }
    const s = [...ms].sort((a, b) => a - b);
    console.log(`cancel latency ms: median ${s[Math.floor(s.length / 2)].toFixed(0)}, max ${s[s.length - 1].toFixed(0)} (n=${s.length})`);
  } finally {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
});
