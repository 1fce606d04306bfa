// Bake a VAE into a checkpoint: a full checkpoint dropped anywhere on the
// page fills every slot it contains; a VAE file dropped after it replaces
// only the VAE. The output keeps the checkpoint's model and text encoder
// and carries the new VAE's bytes.
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { test, expect } from './helpers/browser';
import { fixtureFile, verifyCheckpoint, REPO } from './helpers/fixtures';
import { copyWithAlteredData, readHeader, tensorBytes } from './helpers/safetensors';
import { dropFiles, expectSlotOK, openSaver, ui } from './helpers/page';

const SCRATCH = path.join(REPO, 'build', 'test-scratch', 'page-bake-vae');

test.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
});
test.afterAll(async () => {
  await rm(SCRATCH, { recursive: true, force: true });
});

test('checkpoint dropped on the page + another VAE → the new VAE is baked in', async ({ app }) => {
  const { page } = app;
  const u = ui(page);
  const newVAE = path.join(SCRATCH, 'better-vae.safetensors');
  await copyWithAlteredData(fixtureFile('sd15', 'vae'), newVAE);

  await openSaver(page);
  await dropFiles(page, [fixtureFile('sd15', 'checkpoint')]);
  for (const slot of ['model', 'clip', 'vae'] as const) {
    await expectSlotOK(page, slot);
    await expect(u.slot(slot)).toContainText('checkpoint.safetensors');
    await expect(u.slot(slot)).toContainText('from a full checkpoint');
  }
  await dropFiles(page, [newVAE]);
  await expect(u.slot('vae')).toContainText('better-vae.safetensors');
  await expectSlotOK(page, 'vae');
  await expect(u.slot('model')).toContainText('checkpoint.safetensors');
  await expect(u.slot('clip')).toContainText('checkpoint.safetensors');
  await expect(page.getByText('Will write checkpoints/ComfyUI_00001_.safetensors')).toBeVisible();

  const downloadEvent = page.waitForEvent('download', { timeout: 5 * 60_000 });
  await u.save.click();
  const download = await downloadEvent;
  const out = await download.path();
  await expect(u.alert).toBeEmpty();

  // Model and text encoder are the golden sd15 bytes; only VAE tensors differ
  // from the golden checkpoint …
  const result = await verifyCheckpoint('sd15', out, ['-max-report', '0']);
  const failures = result.output.split('\n').filter((l) => /first_stage_model|model\.diffusion_model|cond_stage_model/.test(l));
  expect(failures.length).toBeGreaterThan(0);
  expect(failures.every((l) => l.includes('first_stage_model.'))).toBe(true);
  // … and every VAE tensor holds exactly the new VAE file's bytes.
  const vaeHeader = await readHeader(newVAE);
  const outHeader = await readHeader(out);
  const names = Object.keys(vaeHeader.tensors);
  expect(names.length).toBeGreaterThan(100);
  for (const name of names) {
    const want = await tensorBytes(newVAE, vaeHeader, name);
    const got = await tensorBytes(out, outHeader, `first_stage_model.${name}`);
    expect(got.equals(want), `first_stage_model.${name}`).toBe(true);
  }
  // Exactly the VAE tensors differ from the golden checkpoint.
  expect(Number(/(\d+) failed/.exec(result.summary)?.[1])).toBe(names.length);
  console.log(`bake-a-VAE: ${names.length} VAE tensors from better-vae.safetensors; golden check: ${result.summary}`);
});
