// Worker protocol smoke test (wasm/worker/PROTOCOL.md): the Go/WASM worker
// driven through tests/fixtures-web/harness.js, without the page UI.
// The harness is served from the repository by page.route, so the spec runs
// against any server that serves web/ (make serve, or the static server).
import { test, expect, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FIXTURES_BIN, REPO, buildFixturesTool, ensureFixtures, fixtureFile } from './helpers/fixtures';

const HARNESS_DIR = path.join(REPO, 'tests', 'fixtures-web');
const SCRATCH = path.join(REPO, 'build', 'fixtures', 'worker');
const RANDOM_FILE = path.join(SCRATCH, 'random-96MiB.bin');
const SPARSE_FILE = path.join(SCRATCH, 'sparse-768MiB.bin');
const JUNK_FILE = path.join(SCRATCH, 'not-safetensors.bin');
// flux_dev as sparse files: real headers, 34 GB of holes; the plan is real.
const FLUX_SPARSE = path.join(SCRATCH, 'flux_dev-sparse');
const FLUX = ['unet', 'clip_l', 't5xxl', 'vae'].map((c) => path.join(FLUX_SPARSE, `${c}.safetensors`));
const SD15 = ['unet', 'clip_l', 'vae'].map((c) => fixtureFile('sd15', c));

test.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
  // Deterministic pseudo-random bytes: a copy that drops, repeats or
  // reorders a chunk changes the hash.
  if (!existsSync(RANDOM_FILE)) {
    const f = await open(RANDOM_FILE, 'w');
    const block = Buffer.alloc(1 << 20);
    for (let i = 0; i < 96; i++) {
      for (let j = 0; j < block.length; j += 32) createHash('sha256').update(`${i}:${j}`).digest().copy(block, j);
      await f.write(block);
    }
    await f.close();
  }
  if (!existsSync(SPARSE_FILE)) {
    const f = await open(SPARSE_FILE, 'w');
    await f.truncate(768 << 20);
    await f.close();
  }
  if (!existsSync(JUNK_FILE)) {
    const f = await open(JUNK_FILE, 'w');
    await f.write(Buffer.from('this is not a safetensors file\n'.repeat(100)));
    await f.close();
  }
});

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk);
  return h.digest('hex');
}

async function openHarness(page: Page, files: string[] = []): Promise<void> {
  await page.route('**/tests/fixtures-web/*', async (route) => {
    const name = path.basename(new URL(route.request().url()).pathname);
    const type = name.endsWith('.html') ? 'text/html' : 'text/javascript';
    await route.fulfill({ body: await readFile(path.join(HARNESS_DIR, name)), contentType: type });
  });
  await page.goto('tests/fixtures-web/worker.html');
  if (files.length) await page.setInputFiles('#files', files);
  await page.evaluate(() => (window as any).harness.ready);
}

test('worker starts, copies a File into OPFS exactly, lists and deletes it', async ({ page }) => {
  await openHarness(page, [RANDOM_FILE]);
  const ready = await page.evaluate(() => (window as any).harness.unsolicited.find((m: any) => m.type === 'ready'));
  expect(ready.version).toBeTruthy();
  expect(ready.wasmMemoryBytes).toBeGreaterThan(0);
  // Chromium: BYOB Blob streams, and OPFS sync access handles in the worker.
  expect(ready.io).toEqual({ reads: 'byob', opfs: true, syncAccessHandle: true });
  // Start-up times, one per step, in the order the steps run.
  const steps = ['startAt', 'scriptsAt', 'compiledAt', 'mainAt', 'readyAt'].map((k) => ready.boot?.[k]);
  for (const t of steps) expect(Number.isFinite(t)).toBe(true);
  expect(steps).toEqual([...steps].sort((a, b) => a - b));

  const copy = (reader: string, sha256 = true) => page.evaluate(async ({ reader, sha256 }) => {
    const h = (window as any).harness;
    await h.opfsRemoveAll();
    const r = await h.request({ type: 'copy', file: h.files()[0], path: 'copies/random.bin', options: { sha256, bufferMiB: 4, reader } });
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('copies');
    const stored = await (await dir.getFileHandle('random.bin')).getFile();
    // Read the stored file back in the page and hash it there.
    const digest = await crypto.subtle.digest('SHA-256', await stored.arrayBuffer());
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    return { final: r.final, progress: r.progress, storedHex: hex, storedSize: stored.size };
  }, { reader, sha256 });
  const want = await sha256File(RANDOM_FILE);
  const first = await copy('byob');
  expect(first.final.type, JSON.stringify(first.final)).toBe('done');
  expect(first.final.bytes).toBe(96 << 20);
  expect(first.final.sha256).toBe(want);
  expect(first.storedSize).toBe(96 << 20);
  expect(first.storedHex).toBe(want);
  for (let i = 1; i < first.progress.length; i++) {
    expect(first.progress[i].done).toBeGreaterThanOrEqual(first.progress[i - 1].done);
  }
  // The copy buffer is reused: a second copy (through FileReaderSync this
  // time) does not grow wasm memory.
  const second = await copy('sync');
  expect(second.final.sha256).toBe(want);
  expect(second.storedHex).toBe(want);
  // Without hashing, the OPFS sink copies File ranges in JS (RangeCopier).
  const third = await copy('byob', false);
  expect(third.final.type).toBe('done');
  expect(third.storedHex).toBe(want);
  // A second 4 MiB buffer would grow memory by 4 MiB; the Go heap itself
  // may take another page run (256 KiB was seen) as the worker's code grows.
  expect(second.final.wasmMemoryBytes - first.final.wasmMemoryBytes).toBeLessThan(1 << 20);

  const listed = await page.evaluate(() => (window as any).harness.request({ type: 'list' }));
  expect(listed.final.type).toBe('listed');
  expect(listed.final.files).toEqual([
    expect.objectContaining({ path: 'copies/random.bin', name: 'random.bin', bytes: 96 << 20 }),
  ]);
  expect(listed.final.quota).toBeGreaterThan(0);

  const deleted = await page.evaluate(() => (window as any).harness.request({ type: 'delete', path: 'copies/random.bin' }));
  expect(deleted.final).toEqual(expect.objectContaining({ type: 'deleted', path: 'copies/random.bin' }));
  const after = await page.evaluate(() => (window as any).harness.request({ type: 'list' }));
  expect(after.final.files).toEqual([]);

  const bad = await page.evaluate(() => (window as any).harness.request({ type: 'delete', path: '../x' }));
  expect(bad.final).toEqual(expect.objectContaining({ type: 'error', code: 'input' }));
});

test('cancel stops a running copy and leaves no file', async ({ page }) => {
  await openHarness(page, [SPARSE_FILE]);
  const result = await page.evaluate(async () => {
    const h = (window as any).harness;
    await h.opfsRemoveAll();
    const { id, done } = h.start({ type: 'copy', file: h.files()[0], path: 'big.bin', options: { bufferMiB: 1 } });
    // Cancel once the copy is under way (its first progress message).
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if ((h.replies.get(id) ?? []).some((m: any) => m.type === 'progress')) { clearInterval(t); resolve(); }
      }, 5);
    });
    h.cancel(id);
    const final = await done;
    const names: string[] = [];
    for await (const name of (await navigator.storage.getDirectory()).keys()) names.push(name);
    return { final, names };
  });
  expect(result.final).toEqual(expect.objectContaining({ type: 'error', code: 'cancelled' }));
  expect(result.names).toEqual([]);
});

test('messages sent before ready are answered; bad requests get error replies', async ({ page }) => {
  await openHarness(page, [JUNK_FILE]);
  const replies = await page.evaluate(async () => {
    const h = (window as any).harness;
    // A second worker, asked at once, before its wasm has loaded.
    const w = new Worker(new URL('../../worker.js', location.href));
    const early = new Promise((resolve) => { w.onmessage = (ev) => { if (ev.data.id === 7) resolve(ev.data); }; });
    w.postMessage({ type: 'list', id: 7 });
    const earlyReply = await early;
    w.terminate();
    // Messages that are not request objects get an error, and the engine
    // keeps running.
    h.worker.postMessage(42);
    h.worker.postMessage(null);
    const inspect = await h.request({ type: 'inspect', file: h.files()[0] });
    const unknown = await h.request({ type: 'frobnicate' });
    const badPrefix = await h.request({ type: 'plan', model: h.files()[0], clip: [], vae: h.files()[0], options: { prediction: 'x' } });
    const junk = h.unsolicited.filter((m: any) => m.type === 'error');
    return { earlyReply, inspect: inspect.final, unknown: unknown.final, badPrefix: badPrefix.final, junk };
  });
  expect(replies.earlyReply).toEqual(expect.objectContaining({ type: 'listed', id: 7 }));
  expect(replies.inspect).toEqual(expect.objectContaining({ type: 'error', code: 'input', file: 'not-safetensors.bin' }));
  expect(replies.unknown).toEqual(expect.objectContaining({ type: 'error', code: 'internal' }));
  expect(replies.badPrefix).toEqual(expect.objectContaining({ type: 'error', code: 'input' }));
  expect(replies.badPrefix.message).toContain('prediction');
  expect(replies.junk).toEqual([
    expect.objectContaining({ type: 'error', code: 'internal', id: null }),
    expect.objectContaining({ type: 'error', code: 'internal', id: null }),
  ]);
});

test('Chromium\'s usage + 10 GiB estimate does not refuse a Flux save; a store that fills fails cleanly', async ({ page }) => {
  // estimate() reports quota = usage + 10 GiB whatever the disk, so it is no
  // limit: the 34 GB plan fits (limitKnown false) and the save starts. In
  // Playwright's off-the-record context OPFS lives in RAM and stops at about
  // 1.2–1.5 GiB: the short write fails with code quota and nothing is kept.
  await buildFixturesTool();
  await promisify(execFile)(FIXTURES_BIN, ['gen', '-arch', 'flux_dev', '-sparse', '-only', 'unet,clip_l,t5xxl,vae', '-out', FLUX_SPARSE], { cwd: REPO });
  await openHarness(page, FLUX);
  const r = await page.evaluate(async () => {
    const h = (window as any).harness;
    await h.opfsRemoveAll();
    const [model, clipL, t5, vae] = h.files();
    const plan = await h.request({ type: 'plan', model, clip: [clipL, t5], vae });
    const save = await h.request({ type: 'save', sink: 'opfs', model, clip: [clipL, t5], vae });
    const listed = await h.request({ type: 'list' });
    return { plan: plan.final, save: save.final, progress: save.progress.length, files: listed.final.files };
  });
  expect(r.plan).toEqual(expect.objectContaining({ type: 'planned', architecture: 'Flux', fits: true }));
  expect(r.plan.quota.quota - r.plan.quota.usage).toBe(10 * 1024 ** 3);
  expect(r.plan.quota.limitKnown).toBe(false);
  expect(r.plan.bytes).toBeGreaterThan(30e9);
  expect(r.save).toEqual(expect.objectContaining({ type: 'error', code: 'quota' }));
  expect(r.save.message).toContain('private');
  expect(r.progress).toBeGreaterThan(0); // it was written, not refused up front
  expect(r.files).toEqual([]);
});

test('storage running out mid-save fails with code quota and keeps nothing', async ({ page }) => {
  // Playwright's default context is off-the-record: OPFS lives in RAM and
  // stops accepting data at about 1.2–1.5 GiB, short of sd15's 2.3 GB.
  // syncHandle.write then returns a short count instead of throwing.
  await ensureFixtures('sd15');
  await openHarness(page, SD15);
  const r = await page.evaluate(async () => {
    const h = (window as any).harness;
    await h.opfsRemoveAll();
    const [model, clip, vae] = h.files();
    const save = await h.request({ type: 'save', sink: 'opfs', model, clip: [clip], vae });
    const listed = await h.request({ type: 'list' });
    return { save: save.final, files: listed.final.files };
  });
  expect(r.save).toEqual(expect.objectContaining({ type: 'error', code: 'quota' }));
  expect(r.save.message).toContain('private');
  expect(r.files).toEqual([]);
});

test('inspect reports what a file holds from its header', async ({ page }) => {
  await ensureFixtures('sd15');
  await openHarness(page, SD15);
  const r = await page.evaluate(async () => {
    const h = (window as any).harness;
    const [unet, clip, vae] = h.files();
    const out = [];
    for (const f of [unet, clip, vae]) out.push((await h.request({ type: 'inspect', file: f })).final);
    return out;
  });
  const sizes = SD15.map((f) => statSync(f).size);
  expect(r.map((m: any) => m.type)).toEqual(['inspected', 'inspected', 'inspected']);
  expect(r.map((m: any) => m.name)).toEqual(['unet.safetensors', 'clip_l.safetensors', 'vae.safetensors']);
  expect(r.map((m: any) => m.report.bytes)).toEqual(sizes);
  expect(r.map((m: any) => m.report.components.map((c: any) => c.slot))).toEqual([['model'], ['clip'], ['vae']]);
  expect(r[0].report.architecture).toBe('SD15');
});

test('requests reading the same Files at once all succeed', async ({ page }) => {
  // Each plan and inspect reads the headers of the same Files while the
  // others are between reads (every read yields to the event loop), so the
  // reads of one File interleave.
  await ensureFixtures('sd15');
  await openHarness(page, SD15);
  const r = await page.evaluate(async () => {
    const h = (window as any).harness;
    const [model, clip, vae] = h.files();
    const plan = () => h.request({ type: 'plan', model, clip: [clip], vae, options: {} });
    const all = await Promise.all([plan(), plan(), h.request({ type: 'inspect', file: model }), plan(),
      h.request({ type: 'inspect', file: vae })]);
    return all.map((x: any) => x.final);
  });
  expect(r.map((m: any) => (m.type === 'error' ? `error: ${m.message}` : m.type)))
    .toEqual(['planned', 'planned', 'inspected', 'planned', 'inspected']);
  expect(new Set(r.filter((m: any) => m.type === 'planned').map((m: any) => m.bytes)).size).toBe(1);
});

test('plan errors say which slot and file, from the engine, even when two inputs share a name', async ({ page }) => {
  await ensureFixtures('sd15');
  await buildFixturesTool();
  await promisify(execFile)(FIXTURES_BIN, ['gen', '-arch', 'flux_dev', '-sparse', '-only', 'unet,clip_l,t5xxl,vae', '-out', FLUX_SPARSE], { cwd: REPO });
  // sd15's unet, clip_l, vae, then FLUX's 16-channel vae: both VAEs are
  // named vae.safetensors.
  await openHarness(page, [...SD15, FLUX[3]]);
  const r = await page.evaluate(async () => {
    const h = (window as any).harness;
    const [unet, clip, vae, fluxVae] = h.files();
    const plan = async (model: File, clipFiles: File[], v: File) => (await h.request({ type: 'plan', model, clip: clipFiles, vae: v })).final;
    return {
      wrongVAE: await plan(unet, [clip], fluxVae),
      vaeAsModel: await plan(vae, [clip], fluxVae),
      noEncoder: await plan(unet, [], vae),
    };
  });
  expect(r.wrongVAE).toEqual(expect.objectContaining({ type: 'error', code: 'input', slot: 'vae', file: 'vae.safetensors' }));
  expect(r.wrongVAE.message).toMatch(/^vae slot: vae\.safetensors holds a 16-channel/);
  // A name alone cannot tell the model slot's vae.safetensors from the VAE slot's.
  expect(r.vaeAsModel).toEqual(expect.objectContaining({ type: 'error', code: 'input', slot: 'model', file: 'vae.safetensors' }));
  // A missing component is about a slot, not a file.
  expect(r.noEncoder).toEqual(expect.objectContaining({ type: 'error', code: 'input', slot: 'clip', file: '' }));
});

test('planned says the exact header size and whether the prediction type is a choice', async ({ page }) => {
  await ensureFixtures('sd15');
  await buildFixturesTool();
  // A standalone SDXL diffusion model does not say eps or v; sparse files
  // (real headers, no data) are enough for a plan.
  const sdxl = path.join(SCRATCH, 'sdxl_base-sparse');
  await promisify(execFile)(FIXTURES_BIN, ['gen', '-arch', 'sdxl_base', '-sparse', '-only', 'unet,clip_l,clip_g,vae', '-out', sdxl], { cwd: REPO });
  await openHarness(page, [...SD15, ...['unet', 'clip_l', 'clip_g', 'vae'].map((c) => path.join(sdxl, `${c}.safetensors`))]);
  const r = await page.evaluate(async () => {
    const h = (window as any).harness;
    const [unet, clip, vae, xlUnet, xlClipL, xlClipG, xlVae] = h.files();
    const sd15 = (await h.request({ type: 'plan', model: unet, clip: [clip], vae })).final;
    const sd15Eps = (await h.request({ type: 'plan', model: unet, clip: [clip], vae, options: { prediction: 'eps' } })).final;
    const sdxl = (await h.request({ type: 'plan', model: xlUnet, clip: [xlClipL, xlClipG], vae: xlVae })).final;
    const sdxlV = (await h.request({ type: 'plan', model: xlUnet, clip: [xlClipL, xlClipG], vae: xlVae, options: { prediction: 'v' } })).final;
    // The header as written: the blob sink's first part is inline header bytes.
    const blob = (await h.request({ type: 'save', sink: 'blob', model: unet, clip: [clip], vae })).final;
    const first = blob.parts[0].bytes as Uint8Array;
    const n = Number(new DataView(first.buffer, first.byteOffset).getBigUint64(0, true));
    return { sd15, sd15Eps, sdxl, sdxlV, blobHeaderBytes: 8 + n, blobBytes: blob.bytes };
  });
  for (const p of [r.sd15, r.sd15Eps, r.sdxl, r.sdxlV]) expect(p.type, JSON.stringify(p).slice(0, 300)).toBe('planned');
  expect(r.sd15.headerBytes).toBe(r.blobHeaderBytes);
  expect(r.sd15.bytes).toBe(r.blobBytes);
  expect(r.sdxl.headerBytes).toBeGreaterThan(8);
  expect(r.sdxl.headerBytes).toBeLessThan(r.sdxl.bytes);
  expect(r.sd15.predictionChoice).toBe(false); // SD1.5 is eps, fixed
  expect(r.sd15Eps.predictionChoice).toBe(false);
  expect(r.sdxl.predictionChoice).toBe(true);
  expect(r.sdxlV.predictionChoice).toBe(true);
  expect(r.sdxlV.metadata['modelspec.predict_key']).toBe('v');
});
