// flux_dev (34 GB) through the page, end to end, with flat wasm memory.
//
// Inputs are sparse files (real headers, holes for the data: no disk), and
// the sink is "Download directly", the Blob of input slices, which needs no
// storage quota and no second copy. So that the test needs no disk either,
// the download itself is refused (acceptDownloads: false) and the page reads
// the very Blob it handed to the download manager, all 34 GB, through
// blob.stream(): every slice must be readable, the byte count must be the
// planned size, and its header must list every tensor of ComfyUI's own
// flux_dev checkpoint (testdata/oracle) with the same dtype and shape, tiling
// the data exactly. Browser storage is not used: Chromium's usage + 10 GiB
// estimate no longer refuses a Flux save up front (worker-protocol spec), but
// a full 34 GB OPFS write would need 34 GB of free disk in CI.
import { test, expect } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO, buildFixturesTool, ensureFixtures } from './helpers/fixtures';
import { expectSlotOK, openSaver, ui } from './helpers/page';

const MiB = 1 << 20;
const FLUX_SPARSE = path.join(REPO, 'build', 'fixtures', 'worker', 'flux_dev-sparse');
const FLUX = Object.fromEntries(['unet', 'clip_l', 't5xxl', 'vae'].map((c) => [c, path.join(FLUX_SPARSE, `${c}.safetensors`)]));

test.use({ acceptDownloads: false });

test('flux_dev (34 GB) → Download directly: the whole Blob reads back with the planned header, wasm memory flat', async ({ page }) => {
  test.setTimeout(30 * 60_000);
  await buildFixturesTool();
  await ensureFixtures('flux_dev', { sparse: true, only: ['unet', 'clip_l', 't5xxl', 'vae'], out: FLUX_SPARSE });
  // Keep a reference to the Blob the saver downloads.
  await page.addInitScript(() => {
    const create = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (obj: Blob | MediaSource) => {
      if (obj instanceof Blob) (globalThis as any).__downloadedBlob = obj;
      return create(obj);
    };
  });
  const u = ui(page);
  await openSaver(page);
  const readyMemory = await page.evaluate(() => (globalThis as any).ckptpack.saver.stats.wasmMemoryBytes);
  await u.model.setInputFiles(FLUX.unet);
  await u.clip.setInputFiles([FLUX.clip_l, FLUX.t5xxl]);
  await u.vae.setInputFiles(FLUX.vae);
  await expectSlotOK(page, 'model');
  await expectSlotOK(page, 'clip', 2);
  await expectSlotOK(page, 'vae');
  await page.locator('[data-ckpt-saver]').getByLabel('Download directly (uses no browser storage)').check();
  await expect(u.plan).toContainText('Will download ComfyUI_00001_.safetensors: FLUX.1 [dev] checkpoint');
  await u.save.click();
  await expect(u.result).toContainText('Handed to your browser\'s downloads: ComfyUI_00001_.safetensors', { timeout: 5 * 60_000 });
  await expect(u.alert).toBeEmpty();
  const save = await page.evaluate(() => (globalThis as any).ckptpack.saver.stats.lastSave);
  expect(save.bytes).toBeGreaterThan(30e9);

  const t0 = Date.now();
  const read = await page.evaluate(async () => {
    const blob: Blob = (globalThis as any).__downloadedBlob;
    const reader = blob.stream().getReader();
    let bytes = 0;
    let head = new Uint8Array(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (head.length < 16 * 1024 * 1024) {
        const grown = new Uint8Array(head.length + value.length);
        grown.set(head);
        grown.set(value, head.length);
        head = grown.slice(0, 16 * 1024 * 1024);
      }
      bytes += value.length;
    }
    const n = Number(new DataView(head.buffer).getBigUint64(0, true));
    return { size: blob.size, bytes, headerLength: n, header: new TextDecoder().decode(head.subarray(8, 8 + n)) };
  });
  const readSeconds = (Date.now() - t0) / 1000;
  expect(read.size).toBe(save.bytes);
  expect(read.bytes).toBe(save.bytes);

  // The header: every tensor of ComfyUI's flux_dev checkpoint, same dtype
  // and shape, packed back to back up to the end of the file.
  const header = JSON.parse(read.header);
  const oracle = JSON.parse(await readFile(path.join(REPO, 'testdata', 'oracle', 'flux_dev', 'expected_checkpoint.json'), 'utf8'));
  const want = Object.keys(oracle).filter((k) => !k.startsWith('__')).sort();
  const got = Object.keys(header).filter((k) => k !== '__metadata__').sort();
  expect(got).toEqual(want);
  for (const k of want) {
    expect({ k, dtype: header[k].dtype, shape: header[k].shape }).toEqual({ k, dtype: oracle[k].dtype, shape: oracle[k].shape });
  }
  const spans = got.map((k) => header[k].data_offsets as [number, number]).sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [begin, end] of spans) {
    expect(begin).toBe(at);
    at = end;
  }
  expect(8 + read.headerLength + at).toBe(save.bytes);

  // Flat: the worker's memory after the save is what it was at ready, give
  // or take one growth step; nothing grew with the 34 GB.
  const doneMemory = await page.evaluate(() => (globalThis as any).ckptpack.saver.stats.wasmMemoryBytes);
  expect(doneMemory - readyMemory).toBeLessThanOrEqual(16 * MiB);
  expect(save.wasmMemoryMax).toBeLessThan(64 * MiB);
  console.log([
    `flux_dev: ${save.bytes} bytes, ${got.length} tensors; Blob read back in ${readSeconds.toFixed(1)} s (${(save.bytes / readSeconds / 1e9).toFixed(2)} GB/s)`,
    `wasm memory: ready ${(readyMemory / MiB).toFixed(1)} MiB, after the save ${(doneMemory / MiB).toFixed(1)} MiB (max ${(save.wasmMemoryMax / MiB).toFixed(1)})`,
  ].join('\n'));
});
