// A checkpoint larger than 4 GiB (sdxl_base, 7.1 GB) through the page into
// OPFS, in a persistent profile (the default context caps OPFS at ~1.2 GiB).
// The worker's WebAssembly memory must stay flat: it is sized by the copy
// buffer, not by the output. The bytes are verified where OPFS keeps them.
import { test, expect } from './helpers/browser';
import { ensureFixtures, fixtureFile, verifyCheckpoint } from './helpers/fixtures';
import { opfsBackingFiles } from './helpers/opfs-disk';
import { expectSlotOK, openSaver, savedPaths, ui } from './helpers/page';

const MiB = 1 << 20;

test('sdxl_base (7.1 GB) → OPFS with flat wasm memory, verified byte for byte', async ({ app }) => {
  test.setTimeout(30 * 60_000);
  const t0 = Date.now();
  await ensureFixtures('sdxl_base');
  const tFixtures = Date.now();
  const { page } = app;
  const u = ui(page);
  await openSaver(page);
  const readyMemory = await page.evaluate(() => (globalThis as any).ckptpack.saver.stats.wasmMemoryBytes);
  await u.model.setInputFiles(fixtureFile('sdxl_base', 'unet'));
  await u.clip.setInputFiles([fixtureFile('sdxl_base', 'clip_l'), fixtureFile('sdxl_base', 'clip_g')]);
  await u.vae.setInputFiles(fixtureFile('sdxl_base', 'vae'));
  await expectSlotOK(page, 'model');
  await expectSlotOK(page, 'clip', 2);
  await expectSlotOK(page, 'vae');
  await expect(page.getByText(/Will write checkpoints\/ComfyUI_00001_\.safetensors: Stable Diffusion XL checkpoint/)).toBeVisible();
  // A standalone SDXL diffusion model does not say its prediction type: the choice is offered.
  await expect(page.locator('[data-ckpt-saver]').getByLabel('Prediction type')).toBeVisible();
  await expect(page.locator('[data-ckpt-saver]').getByLabel('Prediction type')).toHaveValue('auto');

  const downloadEvent = page.waitForEvent('download', { timeout: 20 * 60_000 });
  const tClick = Date.now();
  await u.save.click();
  const download = await downloadEvent;
  const tDone = Date.now();
  expect(download.suggestedFilename()).toBe('ComfyUI_00001_.safetensors');
  // The hand-off itself is verified on sd15 (page-assemble); here the copy
  // would only compete for the disk with the verification below.
  await download.cancel();
  await expect(u.alert).toBeEmpty();
  const save = await page.evaluate(() => (globalThis as any).ckptpack.saver.stats.lastSave);
  expect(save.bytes).toBeGreaterThan(4 * 1024 ** 3);
  expect(save.progressEvents).toBeGreaterThan(10);
  // Flat: every progress report and the final one saw the same memory size
  // give or take one growth step, and it is a small fraction of the output.
  expect(save.wasmMemoryMax - save.wasmMemoryMin).toBeLessThanOrEqual(16 * MiB);
  expect(save.wasmMemoryMax).toBeLessThan(256 * MiB);
  await expect.poll(() => savedPaths(page)).toEqual(['checkpoints/ComfyUI_00001_.safetensors']);

  const [backing, ...others] = await opfsBackingFiles(app.userDataDir, save.bytes);
  expect(others).toEqual([]);
  const result = await verifyCheckpoint('sdxl_base', backing);
  const tVerified = Date.now();
  expect(result.ok, result.output).toBe(true);
  console.log([
    `sdxl_base: ${save.bytes} bytes; verify: ${result.summary}`,
    `wasm memory: ready ${(readyMemory / MiB).toFixed(1)} MiB, during save ${(save.wasmMemoryMin / MiB).toFixed(1)}–${(save.wasmMemoryMax / MiB).toFixed(1)} MiB over ${save.progressEvents} progress reports`,
    `times: fixtures ${((tFixtures - t0) / 1000).toFixed(1)} s, click→download ${((tDone - tClick) / 1000).toFixed(1)} s (engine ${save.engineSeconds.toFixed(1)} s, ${(save.bytes / save.engineSeconds / 1e6).toFixed(0)} MB/s), verify ${((tVerified - tDone) / 1000).toFixed(1)} s`,
  ].join('\n'));
});
