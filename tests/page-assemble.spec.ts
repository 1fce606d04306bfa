// Full-size sd15 assembly through the UI in a persistent profile: pick the
// three components by their labels, add metadata, save, take the download
// and check every tensor and metadata key with `fixtures verify`. Also checks
// the Saved list (counter, Download, Delete) and that no request leaves the
// page's origin during the whole assembly.
import { writeFile, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { test, expect } from './helpers/browser';
import { fixtureFile, verifyCheckpoint, REPO } from './helpers/fixtures';
import { expectSlotOK, openSaver, openTask, savedPaths, ui } from './helpers/page';

const SCRATCH = path.join(REPO, 'build', 'test-scratch', 'page-assemble');

test.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
});
test.afterAll(async () => {
  await rm(SCRATCH, { recursive: true, force: true });
});

test('sd15: model + text encoder + VAE → OPFS → download, verified byte for byte', async ({ app, baseURL }) => {
  const { page } = app;
  const u = ui(page);
  const origin = new URL(baseURL!).origin;
  const workflowFile = path.join(SCRATCH, 'workflow.json');
  await writeFile(workflowFile, '{"last_node_id": 4, "nodes": [{"id": 4, "type": "CheckpointSave"}]}');

  await openSaver(page);
  await u.model.setInputFiles(fixtureFile('sd15', 'unet'));
  await u.clip.setInputFiles([fixtureFile('sd15', 'clip_l')]);
  await u.vae.setInputFiles(fixtureFile('sd15', 'vae'));
  await expectSlotOK(page, 'model');
  await expectSlotOK(page, 'clip');
  await expectSlotOK(page, 'vae');
  // Each slot says what it found.
  await expect(u.slot('model')).toContainText('Stable Diffusion 1.5 diffusion model');
  await expect(u.slot('clip')).toContainText('CLIP-L text encoder');
  await expect(u.slot('vae')).toContainText('VAE for Stable Diffusion 1.x');
  await expect(page.getByText('Will write checkpoints/ComfyUI_00001_.safetensors')).toBeVisible();
  // SD1.5's prediction type is fixed (epsilon): the engine refuses a choice, so none is offered.
  await expect.poll(() => page.evaluate(() => (globalThis as any).ckptpack.saver.stats.predictionSelectable)).toBe(false);
  await expect(page.locator('[data-ckpt-saver]').getByLabel('Prediction type')).toBeHidden();

  await page.getByText('Metadata', { exact: true }).click();
  await page.getByLabel('Prompt (API format JSON)').fill('{"4": {"class_type": "CheckpointSave", "inputs": {"filename_prefix": "checkpoints/ComfyUI"}}}');
  await page.getByLabel('Workflow JSON file').setInputFiles(workflowFile);
  // Title, Author and Description are the ModelSpec editor's (one set on the page).
  const editor = page.locator('[data-ckpt-metadata-editor]');
  await openTask(page, 'metadata');
  await editor.getByLabel('Author', { exact: true }).fill('Page Tester');
  await editor.getByLabel('Author', { exact: true }).press('Tab');
  await openTask(page, 'save');
  await expect(page.locator('[data-role="plan-metadata"]')).toContainText('author');

  const downloadEvent = page.waitForEvent('download', { timeout: 5 * 60_000 });
  await u.save.click();
  await expect(u.cancel).toBeEnabled();
  const download = await downloadEvent;
  expect(download.suggestedFilename()).toBe('ComfyUI_00001_.safetensors');
  const file = await download.path();
  expect((await stat(file)).size).toBeGreaterThan(2_000_000_000);
  await expect(u.result).toContainText('Saved checkpoints/ComfyUI_00001_.safetensors');
  await expect(u.result).toContainText('The download of ComfyUI_00001_.safetensors has started.');
  await expect(u.alert).toBeEmpty();
  // The result replaces the progress bar; the save wrote every byte of the file.
  await expect(u.progress).toBeHidden();
  expect(await page.evaluate(() => (globalThis as any).ckptpack.saver.stats.lastSave.bytes)).toBe((await stat(file)).size);

  const result = await verifyCheckpoint('sd15', file, [
    '-metadata', 'prompt={"4": {"class_type": "CheckpointSave", "inputs": {"filename_prefix": "checkpoints/ComfyUI"}}}',
    '-metadata', 'workflow={"last_node_id": 4, "nodes": [{"id": 4, "type": "CheckpointSave"}]}',
    '-metadata', 'modelspec.author=Page Tester',
  ]);
  expect(result.ok, result.output).toBe(true);
  expect(result.summary).toMatch(/ 0 failed$/);
  console.log(`sd15 verify: ${result.summary}`);

  // The Saved list shows the file; the next save would get counter 2.
  await expect.poll(() => savedPaths(page)).toEqual(['checkpoints/ComfyUI_00001_.safetensors']);
  await expect(page.getByText('Will write checkpoints/ComfyUI_00002_.safetensors')).toBeVisible();
  await expect(u.saved).toContainText(/Browser storage: .* used/);

  // Download again from the list, then delete it.
  const again = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download checkpoints/ComfyUI_00001_.safetensors' }).click();
  expect((await again).suggestedFilename()).toBe('ComfyUI_00001_.safetensors');
  await page.getByRole('button', { name: 'Delete checkpoints/ComfyUI_00001_.safetensors' }).click();
  await expect.poll(() => savedPaths(page)).toEqual([]);
  await expect(page.getByText('Will write checkpoints/ComfyUI_00001_.safetensors')).toBeVisible();

  // Nothing left the origin: page, worker, wasm, downloads.
  const foreign = app.requests.filter((url) => !(url.startsWith(`${origin}/`) || url.startsWith(`blob:${origin}/`)));
  expect(foreign).toEqual([]);
  expect(app.requests.some((url) => url.endsWith('.wasm'))).toBe(true);
});
