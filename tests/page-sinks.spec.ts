// The two other ways out besides browser storage:
// - "Download directly": the checkpoint is a Blob of input-file slices plus
//   the computed header, handed to the download manager (no OPFS at all, so
//   it also works in the default off-the-record context);
// - "Save to a file on disk": showSaveFilePicker cannot be driven headless
//   (it aborts, browser-limits.md §7), so the test stands in a picker that
//   returns an OPFS file handle, which the worker writes through the same
//   file-handle sink.
import { test as base, expect } from '@playwright/test';
import { test } from './helpers/browser';
import { verifyCheckpoint } from './helpers/fixtures';
import { opfsBackingFiles } from './helpers/opfs-disk';
import { openSaver, pickComponents, ui } from './helpers/page';

base('Download directly: sd15 as a Blob of file slices, verified byte for byte', async ({ page }) => {
  const u = ui(page);
  await openSaver(page);
  await pickComponents(page);
  await page.locator('[data-ckpt-saver]').getByLabel('Download directly (uses no browser storage)').check();
  await expect(u.plan).toContainText('Will download ComfyUI_00001_.safetensors: Stable Diffusion 1.5 checkpoint');
  const downloadEvent = page.waitForEvent('download', { timeout: 5 * 60_000 });
  await u.save.click();
  const download = await downloadEvent;
  expect(download.suggestedFilename()).toBe('ComfyUI_00001_.safetensors');
  const file = await download.path();
  await expect(u.result).toContainText('Handed to your browser\'s downloads: ComfyUI_00001_.safetensors');
  await expect(u.alert).toBeEmpty();
  const result = await verifyCheckpoint('sd15', file);
  expect(result.ok, result.output).toBe(true);
  // Nothing went into browser storage.
  await expect(page.getByText('No checkpoints in browser storage.')).toBeVisible();
});

test('Save to a file on disk: the picked handle is written, no download', async ({ app }) => {
  const { page } = app;
  await page.addInitScript(() => {
    // Stand-in for the native picker: records the suggested name and
    // returns a handle in OPFS under picked/.
    (window as any).showSaveFilePicker = async (options: { suggestedName: string }) => {
      (window as any).__pickerCalls = [...((window as any).__pickerCalls ?? []), options.suggestedName];
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle('picked', { create: true });
      return dir.getFileHandle(options.suggestedName, { create: true });
    };
  });
  const u = ui(page);
  await openSaver(page);
  await pickComponents(page);
  await page.locator('[data-ckpt-saver]').getByLabel('Save to a file on disk').check();
  await expect(u.plan).toContainText('Will ask where to save ComfyUI_00001_.safetensors: Stable Diffusion 1.5 checkpoint');
  let downloads = 0;
  page.on('download', () => downloads++);
  await u.save.click();
  await expect(u.result).toContainText('Saved ComfyUI_00001_.safetensors', { timeout: 5 * 60_000 });
  await expect(u.result).toContainText('Stable Diffusion 1.5 checkpoint, 2.30 GB, written to the file you chose');
  await expect(u.alert).toBeEmpty();
  expect(await page.evaluate(() => (window as any).__pickerCalls)).toEqual(['ComfyUI_00001_.safetensors']);
  expect(downloads).toBe(0);
  const save = await page.evaluate(() => (globalThis as any).ckptpack.saver.stats.lastSave);
  const [written, ...others] = await opfsBackingFiles(app.userDataDir, save.bytes);
  expect(others).toEqual([]);
  const result = await verifyCheckpoint('sd15', written);
  expect(result.ok, result.output).toBe(true);
});
