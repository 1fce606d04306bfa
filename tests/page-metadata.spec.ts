// The ModelSpec metadata editor (web/app/metadata-editor.js): an existing
// file gets an edited copy — new header, tensor data byte for byte — through
// every sink; modelspec.hash_sha256 is patched into the header by the OPFS
// sync-handle sink and the File System Access writable, and reported (not
// stored) by the Blob hand-off; a thumbnail that is not an image is refused
// naming the file and the key; the fields reach the checkpoint being saved.
import { test, expect, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO, buildFixturesTool, ensureFixtures, fixtureDir } from './helpers/fixtures';
import { expectSlotOK, openSaver, openTask, ui } from './helpers/page';

const SCRATCH = path.join(REPO, 'build', 'test-scratch', 'page-metadata');
const MODEL = path.join(SCRATCH, 'small.safetensors');
const COVER = path.join(SCRATCH, 'cover.png');
const FAKE_COVER = path.join(SCRATCH, 'fake-cover.png');
// A 1×1 PNG.
const PNG_HEX = '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082';

/** A safetensors file of two tensors with distinct bytes and some metadata. */
function smallModel(metadata: Record<string, string>): Buffer {
  const a = Buffer.alloc(4 * 4096);
  for (let i = 0; i < a.length; i++) a[i] = (i * 31) & 0xff;
  const b = Buffer.alloc(2 * 100, 7);
  const header: Record<string, unknown> = {
    __metadata__: metadata,
    'a.weight': { dtype: 'F32', shape: [4096], data_offsets: [0, a.length] },
    'b.bias': { dtype: 'F16', shape: [100], data_offsets: [a.length, a.length + b.length] },
  };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, a, b]);
}

function parse(file: Buffer): { metadata: Record<string, string>; data: Buffer } {
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8'));
  return { metadata: header.__metadata__ ?? {}, data: file.subarray(8 + n) };
}

const dataHash = (data: Buffer) => `0x${createHash('sha256').update(data).digest('hex')}`;

test.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
  await writeFile(MODEL, smallModel({ 'modelspec.title': 'Old title', 'modelspec.license': 'old license', workflow: '{}' }));
  await writeFile(COVER, Buffer.from(PNG_HEX, 'hex'));
  await writeFile(FAKE_COVER, 'this is text, not an image');
});
test.afterAll(async () => {
  await rm(SCRATCH, { recursive: true, force: true });
});

const editor = (page: Page) => page.locator('[data-ckpt-metadata-editor]');

async function openEditorOnFile(page: Page) {
  await openSaver(page);
  const ed = editor(page);
  await openTask(page, 'metadata');
  await ed.getByLabel('An existing file').check();
  await ed.getByLabel('Existing .safetensors file').setInputFiles(MODEL);
  await expect(ed.getByLabel('Title', { exact: true })).toHaveValue('Old title');
  return ed;
}

test('an existing file: fields prefilled, edited copy through browser storage with the hash in its header', async ({ page }) => {
  const ed = await openEditorOnFile(page);
  await ed.getByLabel('Title', { exact: true }).fill('New title');
  await ed.getByLabel('Author', { exact: true }).fill('Jane');
  await ed.getByLabel('Tags').fill('anime, portrait ,anime');
  await ed.getByLabel('Resolution').fill('512x768');
  await ed.getByLabel('License').fill(''); // cleared: removed from the file
  await ed.getByLabel(/^Image \(PNG, JPEG or WebP/).setInputFiles(COVER);
  await expect(ed.getByRole('img', { name: 'Thumbnail preview' })).toBeVisible();
  await ed.getByLabel(/Store modelspec\.hash_sha256/).check();
  await ed.getByLabel('Browser storage, then download').check();
  const download = page.waitForEvent('download');
  await ed.getByRole('button', { name: 'Save edited copy' }).click();
  const file = await readFile(await (await download).path());
  await expect(ed.locator('[data-role="meta-status"]')).toContainText('Saved the edited copy to edited/small_00001_.safetensors');
  const { metadata, data } = parse(file);
  const original = parse(await readFile(MODEL));
  expect(data.equals(original.data)).toBe(true);
  expect(metadata).toEqual({
    'modelspec.title': 'New title',
    'modelspec.author': 'Jane',
    'modelspec.tags': 'anime,portrait',
    'modelspec.resolution': '512x768',
    'modelspec.thumbnail': `data:image/png;base64,${Buffer.from(PNG_HEX, 'hex').toString('base64')}`,
    'modelspec.sai_model_spec': '1.0.1',
    'modelspec.hash_sha256': dataHash(data),
    workflow: '{}',
  });
  await expect(ed.locator('[data-role="meta-hash"]')).toHaveText(`modelspec.hash_sha256 ${dataHash(data)} (stored in the file)`);
  // The picked file itself is untouched.
  expect(parse(await readFile(MODEL)).metadata['modelspec.title']).toBe('Old title');
});

test('an existing file as a direct download: header + one slice; the hash is reported, not stored', async ({ page }) => {
  const ed = await openEditorOnFile(page);
  await ed.getByLabel('Title', { exact: true }).fill('Blob title');
  await ed.getByLabel(/Store modelspec\.hash_sha256/).check();
  await ed.getByLabel(/^Download directly/).check();
  const download = page.waitForEvent('download');
  await ed.getByRole('button', { name: 'Save edited copy' }).click();
  const file = await readFile(await (await download).path());
  const { metadata, data } = parse(file);
  expect(metadata['modelspec.title']).toBe('Blob title');
  expect(metadata['modelspec.hash_sha256']).toBeUndefined();
  await expect(ed.locator('[data-role="meta-hash"]')).toContainText(`modelspec.hash_sha256 ${dataHash(data)} (a direct download cannot store it`);
});

test('a thumbnail that is not an image is refused naming the file and key; nothing is written', async ({ page }) => {
  const ed = await openEditorOnFile(page);
  await ed.getByLabel(/^Image \(PNG, JPEG or WebP/).setInputFiles(FAKE_COVER);
  await expect(ed.getByText('fake-cover.png does not look like an image')).toBeVisible();
  let downloads = 0;
  page.on('download', () => downloads++);
  await ed.getByRole('button', { name: 'Save edited copy' }).click();
  const alert = ed.locator('[data-role="meta-alert"]');
  await expect(alert).toContainText('modelspec.thumbnail');
  await expect(alert).toContainText('fake-cover.png');
  await expect(alert).toContainText('not a PNG, JPEG or WebP image');
  const stored = await page.evaluate(async () => {
    const names: string[] = [];
    const walk = async (dir: FileSystemDirectoryHandle, prefix: string) => {
      for await (const [name, h] of (dir as any).entries()) {
        if (h.kind === 'directory') await walk(h, `${prefix}${name}/`);
        else names.push(prefix + name);
      }
    };
    await walk(await navigator.storage.getDirectory(), '');
    return names;
  });
  expect(stored).toEqual([]);
  expect(downloads).toBe(0);
});

// The two file-handle sinks patch the header through their own API: the OPFS
// sync access handle (write at an offset) and the File System Access
// writable (write({type: 'write', position})). showSaveFilePicker cannot run
// headless, so the handle is an OPFS one and fileWriter 'writable' forces the
// writable path (PROTOCOL.md).
for (const fileWriter of ['', 'writable']) {
  test(`file-handle sink (${fileWriter || 'sync access handle'}): modelspec.hash_sha256 patched into the header`, async ({ page }) => {
    await openSaver(page);
    const input = await page.evaluateHandle(() => Object.assign(document.createElement('input'), { type: 'file', hidden: true }));
    await input.setInputFiles(MODEL);
    const result = await page.evaluate(async ([inp, fileWriter]) => {
      const file = (inp as HTMLInputElement).files![0];
      const root = await navigator.storage.getDirectory();
      const fileHandle = await root.getFileHandle(`out-${fileWriter || 'sync'}.safetensors`, { create: true });
      const done = await (globalThis as any).ckptpack.saver.engine.request('editMetadata', {
        file, sink: 'file', fileHandle, options: { fileWriter }, edit: { modelspec: { title: 'Patched' }, hash: true },
      });
      const bytes = new Uint8Array(await (await fileHandle.getFile()).arrayBuffer());
      return { done: { hashSha256: done.hashSha256, hashPatched: done.hashPatched, bytes: done.bytes }, bytes: Array.from(bytes) };
    }, [input, fileWriter] as const);
    const file = Buffer.from(result.bytes);
    const { metadata, data } = parse(file);
    expect(result.done.bytes).toBe(file.length);
    expect(metadata['modelspec.title']).toBe('Patched');
    expect(metadata['modelspec.hash_sha256']).toBe(dataHash(data));
    expect(result.done).toEqual(expect.objectContaining({ hashSha256: dataHash(data), hashPatched: true }));
  });
}

test('the fields reach the checkpoint being saved (planned header)', async ({ page }) => {
  const sparse = `${fixtureDir('sd15')}-sparse`; // real headers, data holes: planning reads headers only
  await buildFixturesTool();
  await ensureFixtures('sd15', { sparse: true, out: sparse });
  await openSaver(page);
  const ed = editor(page);
  await openTask(page, 'metadata');
  await ed.getByLabel('Title', { exact: true }).fill('My SD 1.5');
  await ed.getByLabel('Trigger phrase').fill('mycat');
  await ed.getByLabel(/Store modelspec\.hash_sha256/).check();
  await openTask(page, 'save');
  const u = ui(page);
  await u.model.setInputFiles(path.join(sparse, 'unet.safetensors'));
  await u.clip.setInputFiles(path.join(sparse, 'clip_l.safetensors'));
  await u.vae.setInputFiles(path.join(sparse, 'vae.safetensors'));
  await expectSlotOK(page, 'vae');
  await expect.poll(() => page.evaluate(() => (globalThis as any).ckptpack.saver.lastPlan?.metadata ?? null)).toEqual(expect.objectContaining({
    'modelspec.title': 'My SD 1.5',
    'modelspec.trigger_phrase': 'mycat',
    'modelspec.sai_model_spec': '1.0.1',
    'modelspec.predict_key': 'epsilon',
    'modelspec.hash_sha256': `0x${'0'.repeat(64)}`, // the placeholder the save patches
  }));
});

test('hostile metadata of a picked file stays inert: text in the fields, no SVG or script thumbnail', async ({ page }) => {
  const hostile = path.join(SCRATCH, 'hostile.safetensors');
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=1"></svg>').toString('base64');
  await writeFile(hostile, smallModel({
    'modelspec.title': '<img src=x onerror="window.__pwned=2">',
    'modelspec.thumbnail': `data:image/svg+xml;base64,${svg}`,
    'modelspec.prediction_type': '<b>v</b>',
  }));
  const dialogs: string[] = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await openSaver(page);
  const ed = editor(page);
  await openTask(page, 'metadata');
  await ed.getByLabel('An existing file').check();
  await ed.getByLabel('Existing .safetensors file').setInputFiles(hostile);
  await expect(ed.getByLabel('Title', { exact: true })).toHaveValue('<img src=x onerror="window.__pwned=2">');
  await expect(ed.getByText('The current thumbnail is not a PNG, JPEG or WebP image; it is not shown')).toBeVisible();
  await expect(ed.getByRole('img', { name: 'Thumbnail preview' })).toBeHidden();
  expect(await ed.locator('img[src]').count()).toBe(0);
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  expect(dialogs).toEqual([]);
});
