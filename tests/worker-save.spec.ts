// Worker saves of real checkpoints (sd15 oracle fixtures, ~2.3 GB output)
// through every sink, in a persistent profile (Playwright's default context
// keeps OPFS in RAM, capped near 1.2 GiB). Each output is checked with
// `fixtures verify` (every key, dtype, shape, metadata key and byte).
import { test, expect, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { closePersistentApp, launchPersistentApp, type PersistentApp } from './helpers/browser';
import { REPO, buildFixturesTool, ensureFixtures, fixtureFile, verifyCheckpoint } from './helpers/fixtures';

const HARNESS_DIR = path.join(REPO, 'tests', 'fixtures-web');
const SD15 = ['unet', 'clip_l', 'vae'].map((c) => fixtureFile('sd15', c));
const OUT_DIR = path.join(REPO, 'build', 'fixtures', 'worker');

test.describe.configure({ mode: 'serial' });

let app: PersistentApp;

test.beforeAll(async ({ baseURL }) => {
  await buildFixturesTool();
  await ensureFixtures('sd15');
  app = await launchPersistentApp(baseURL!);
  await app.page.route('**/tests/fixtures-web/*', async (route) => {
    const name = path.basename(new URL(route.request().url()).pathname);
    await route.fulfill({ body: await readFile(path.join(HARNESS_DIR, name)), contentType: name.endsWith('.html') ? 'text/html' : 'text/javascript' });
  });
  await app.page.goto('tests/fixtures-web/worker.html');
  await app.page.setInputFiles('#files', SD15);
  await app.page.evaluate(() => (window as any).harness.ready);
});

test.afterAll(async () => {
  if (app) await closePersistentApp(app);
});

/** The OPFS backing file of a size in the profile (OPFS files are plain files there). */
async function backingFile(userDataDir: string, bytes: number): Promise<string> {
  const found: { file: string; mtime: number }[] = [];
  async function walk(dir: string) {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await stat(p);
        if (st.size === bytes) found.push({ file: p, mtime: st.mtimeMs });
      }
    }
  }
  await walk(path.join(userDataDir, 'Default', 'File System'));
  expect(found.length, 'OPFS backing file').toBeGreaterThan(0);
  return found.sort((a, b) => b.mtime - a.mtime)[0].file;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk);
  return h.digest('hex');
}

const sd15Request = (page: Page, msg: Record<string, unknown>) => page.evaluate(async (msg) => {
  const h = (window as any).harness;
  const [model, clip, vae] = h.files();
  const r = await h.request({ model, clip: [clip], vae, ...msg });
  return { final: r.final, progress: r.progress };
}, msg);

let opfsSha = '';

test('plan names the output by ComfyUI counter; save to OPFS writes a verified checkpoint', async () => {
  const { page, userDataDir } = app;
  await page.evaluate(() => (window as any).harness.opfsRemoveAll());
  const plan = (await sd15Request(page, { type: 'plan', options: {} })).final;
  expect(plan.type, JSON.stringify(plan)).toBe('planned');
  expect(plan).toEqual(expect.objectContaining({ architecture: 'SD15', fileName: 'ComfyUI_00001_.safetensors', path: 'checkpoints/ComfyUI_00001_.safetensors', fits: true }));
  expect(plan.bytes).toBeGreaterThan(2e9);

  // No sha256: the OPFS sink then copies File ranges in JS (RangeCopier),
  // the fast path; the file-sink test below hashes through the Go buffer
  // path and must match.
  const saved = await sd15Request(page, { type: 'save', sink: 'opfs', options: {} });
  expect(saved.final.type, JSON.stringify(saved.final)).toBe('done');
  expect(saved.final).toEqual(expect.objectContaining({ sink: 'opfs', path: 'checkpoints/ComfyUI_00001_.safetensors', bytes: plan.bytes }));
  expect(saved.progress.length).toBeGreaterThan(0);
  const last = saved.progress[saved.progress.length - 1];
  expect(last.done).toBe(plan.bytes);
  // Memory stays flat: the one copy buffer is reused; Go's small per-chunk
  // garbage may grow the heap by a few hundred KiB, never by data volume.
  const mem = saved.progress.map((p: any) => p.wasmMemoryBytes).concat(saved.final.wasmMemoryBytes);
  expect(Math.max(...mem) - Math.min(...mem)).toBeLessThan(4 << 20);

  const file = await backingFile(userDataDir, plan.bytes);
  const verdict = await verifyCheckpoint('sd15', file);
  expect(verdict.ok, verdict.output).toBe(true);
  opfsSha = await sha256File(file);

  const next = (await sd15Request(page, { type: 'plan', options: {} })).final;
  expect(next.path).toBe('checkpoints/ComfyUI_00002_.safetensors');
  const listed = await page.evaluate(() => (window as any).harness.request({ type: 'list' }));
  expect(listed.final.files).toEqual([expect.objectContaining({ path: 'checkpoints/ComfyUI_00001_.safetensors', bytes: plan.bytes })]);
});

test('blob sink returns parts that assemble into the same checkpoint', async () => {
  const { page } = app;
  const parts = await page.evaluate(async () => {
    const h = (window as any).harness;
    const [model, clip, vae] = h.files();
    const r = await h.request({ type: 'save', sink: 'blob', model, clip: [clip], vae, options: {} });
    if (r.final.type !== 'done') return r.final;
    // Inline bytes go back to Node as base64 (they are small).
    const parts = r.final.parts.map((p: any) => p.bytes
      ? { b64: btoa(Array.from(p.bytes as Uint8Array, (c) => String.fromCharCode(c)).join('')) }
      : { file: p.file, start: p.start, end: p.end });
    return { ...r.final, parts };
  });
  expect(parts.type, JSON.stringify(parts).slice(0, 500)).toBe('done');
  expect(parts.parts[0].b64).toBeTruthy(); // the header
  const out = path.join(OUT_DIR, 'blob-sd15.safetensors');
  // The test may run first in a fresh clone, before any other made the folder.
  await mkdir(OUT_DIR, { recursive: true });
  const ws = createWriteStream(out);
  for (const p of parts.parts) {
    if (p.b64) ws.write(Buffer.from(p.b64, 'base64'));
    else for await (const chunk of createReadStream(SD15[p.file], { start: p.start, end: p.end - 1 })) {
      if (!ws.write(chunk)) await once(ws, 'drain');
    }
  }
  ws.end();
  await once(ws, 'finish');
  try {
    expect(statSync(out).size).toBe(parts.bytes);
    expect(await sha256File(out)).toBe(opfsSha);
    const verdict = await verifyCheckpoint('sd15', out);
    expect(verdict.ok, verdict.output).toBe(true);
  } finally {
    await rm(out, { force: true });
  }
});

test('file sink writes through a posted file handle, by sync handle and by createWritable', async () => {
  const { page, userDataDir } = app;
  for (const fileWriter of ['', 'writable']) {
    const r = await page.evaluate(async (fileWriter) => {
      const h = (window as any).harness;
      await h.opfsRemoveAll();
      const root = await navigator.storage.getDirectory();
      const fileHandle = await root.getFileHandle('chosen.safetensors', { create: true });
      const [model, clip, vae] = h.files();
      const res = await h.request({ type: 'save', sink: 'file', fileHandle, model, clip: [clip], vae, options: { sha256: fileWriter === '', fileWriter } });
      return res.final;
    }, fileWriter);
    expect(r.type, JSON.stringify(r)).toBe('done');
    expect(r).toEqual(expect.objectContaining({ sink: 'file', name: 'chosen.safetensors', path: '' }));
    // The worker's own hash (through the Go buffer path) once; the stored
    // bytes every time.
    if (fileWriter === '') expect(r.sha256).toBe(opfsSha);
    expect(await sha256File(await backingFile(userDataDir, r.bytes))).toBe(opfsSha);
  }
});

test('plans and inspects of the same files while a save runs do not disturb it', async () => {
  const { page, userDataDir } = app;
  const r = await page.evaluate(async () => {
    const h = (window as any).harness;
    await h.opfsRemoveAll();
    const [model, clip, vae] = h.files();
    const save = h.start({ type: 'save', sink: 'opfs', model, clip: [clip], vae, options: {} });
    const others: any[] = [];
    // Until the save ends: plans (BYOB header reads of the same Files) and
    // inspects, one after another.
    let finished = false;
    save.done.then(() => { finished = true; });
    while (!finished) {
      others.push((await h.request({ type: 'plan', model, clip: [clip], vae })).final.type);
      others.push((await h.request({ type: 'inspect', file: model })).final.type);
    }
    return { final: await save.done, others };
  });
  expect(r.final.type, JSON.stringify(r.final)).toBe('done');
  expect(r.others.length).toBeGreaterThan(2);
  expect(new Set(r.others)).toEqual(new Set(['planned', 'inspected']));
  expect(await sha256File(await backingFile(userDataDir, r.final.bytes))).toBe(opfsSha);
});

test('a cancelled save leaves nothing in OPFS', async () => {
  const { page } = app;
  const r = await page.evaluate(async () => {
    const h = (window as any).harness;
    await h.opfsRemoveAll();
    const [model, clip, vae] = h.files();
    const { id, done } = h.start({ type: 'save', sink: 'opfs', model, clip: [clip], vae, options: {} });
    await h.started(id);
    h.cancel(id);
    const final = await done;
    const listed = await h.request({ type: 'list' });
    return { final, files: listed.final.files };
  });
  expect(r.final).toEqual(expect.objectContaining({ type: 'error', code: 'cancelled' }));
  expect(r.files).toEqual([]);
});

test('a cancelled save to a chosen file (createWritable) keeps nothing', async () => {
  const { page } = app;
  const r = await page.evaluate(async () => {
    const h = (window as any).harness;
    await h.opfsRemoveAll();
    const root = await navigator.storage.getDirectory();
    const fileHandle = await root.getFileHandle('chosen.safetensors', { create: true });
    const [model, clip, vae] = h.files();
    const { id, done } = h.start({ type: 'save', sink: 'file', fileHandle, model, clip: [clip], vae, options: { fileWriter: 'writable' } });
    await h.started(id);
    h.cancel(id);
    const final = await done;
    const names: string[] = [];
    for await (const name of root.keys()) names.push(name);
    return { final, names };
  });
  expect(r.final).toEqual(expect.objectContaining({ type: 'error', code: 'cancelled' }));
  expect(r.names).toEqual([]);
});

// The file sink writes in batches (one Blob of many input slices per
// write): an input that changes while the save runs fails the batch that
// holds its slices, and the error still names that input. The UNet is the
// last 1.7 GB of an sd15 checkpoint (F32 VAE first, then CLIP-L and UNet in
// name order), so changing it once the first bytes are out lands long
// before its slices are written.
test('a save to a chosen file (createWritable) whose input changes mid-way fails naming it and keeps nothing', async () => {
  const { page } = app;
  const scratch = path.join(REPO, 'build', 'test-scratch', 'worker-save');
  await mkdir(scratch, { recursive: true });
  const unet = path.join(scratch, 'unet-changing.safetensors');
  await copyFile(SD15[0], unet);
  await page.setInputFiles('#files', [unet, SD15[1], SD15[2]]);
  try {
    await page.evaluate(async () => {
      const h = (window as any).harness;
      await h.opfsRemoveAll();
      const root = await navigator.storage.getDirectory();
      const fileHandle = await root.getFileHandle('chosen.safetensors', { create: true });
      const [model, clip, vae] = h.files();
      const { id, done } = h.start({ type: 'save', sink: 'file', fileHandle, model, clip: [clip], vae, options: { fileWriter: 'writable' } });
      (window as any).changingSave = { id, done };
    });
    await page.evaluate(() => (window as any).harness.started((window as any).changingSave.id));
    // Same size, new bytes and modification time: the picked File can no
    // longer be read.
    const fh = await open(unet, 'r+');
    await fh.write(Buffer.from('changed'), 0, 7, 1 << 20);
    await fh.close();
    const r = await page.evaluate(async () => {
      const final = await (window as any).changingSave.done;
      const names: string[] = [];
      for await (const name of (await navigator.storage.getDirectory()).keys()) names.push(name);
      return { final, names };
    });
    expect(r.final, JSON.stringify(r.final)).toEqual(expect.objectContaining({ type: 'error', code: 'input', file: 'unet-changing.safetensors' }));
    expect(r.final.message).toMatch(/unet-changing\.safetensors: reading at byte \d+: NotReadableError/);
    expect(r.names, r.final.message).toEqual([]);
  } finally {
    await page.setInputFiles('#files', SD15);
    await rm(scratch, { recursive: true, force: true });
  }
});
