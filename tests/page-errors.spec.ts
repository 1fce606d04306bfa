// Every failure names the file and the problem in the role="alert" region
// and leaves nothing in the Saved list: a wrong component, a file that is
// not safetensors, a truncated file, components of different architectures,
// a file changed on disk after it was picked, storage that runs out, and a
// cancelled save.
import { copyFile, mkdir, open, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, expect } from './helpers/browser';
import { ensureFixtures, fixtureDir, fixtureFile, REPO } from './helpers/fixtures';
import { readHeader } from './helpers/safetensors';
import { dropFiles, expectSlotOK, openSaver, opfsEntries, pickComponents, savedPaths, ui } from './helpers/page';

const SCRATCH = path.join(REPO, 'build', 'test-scratch', 'page-errors');

test.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
});
test.afterAll(async () => {
  await rm(SCRATCH, { recursive: true, force: true });
});

test('a VAE dropped on the diffusion model slot, and a file that is not safetensors, are refused at once', async ({ page }) => {
  const u = ui(page);
  const bogus = path.join(SCRATCH, 'notes.safetensors');
  await writeFile(bogus, 'these are my notes, not a model\n');
  await openSaver(page);

  // Dropped onto the slot: the file goes into that slot, and the slot says it does not fit.
  await dropFiles(page, [fixtureFile('sd15', 'vae')], u.slot('model'));
  await expect(u.slot('model')).toContainText('vae.safetensors');
  await expect(u.alert).toContainText('vae.safetensors');
  await expect(u.alert).toContainText('not a diffusion model');
  await expect(u.slot('model')).toContainText('not a diffusion model');
  await expect(u.slot('vae').locator('.ckpt-file')).toHaveCount(0);

  await u.clip.setInputFiles(bogus);
  await expect(u.alert).toContainText('notes.safetensors');
  await expect(u.slot('clip').locator('.ckpt-file-problem')).toContainText('notes.safetensors');

  // Save stays off while the problems hold, and both stay listed.
  await u.vae.setInputFiles(fixtureFile('sd15', 'vae'));
  await expectSlotOK(page, 'vae');
  await expect(u.save).toBeDisabled();
  await expect(u.alert).toContainText('not a diffusion model');
  await expect(u.alert).toContainText('notes.safetensors');
  await expect(u.progress).toBeHidden();
  expect(await savedPaths(page)).toEqual([]);
});

test('a truncated file is refused and names the file', async ({ page }) => {
  const u = ui(page);
  const src = fixtureFile('sd15', 'vae');
  const cut = path.join(SCRATCH, 'vae-truncated.safetensors');
  const h = await readHeader(src);
  await copyFile(src, cut);
  await truncate(cut, h.dataStart + (1 << 20)); // header intact, data cut short
  await openSaver(page);
  await u.model.setInputFiles(fixtureFile('sd15', 'unet'));
  await u.clip.setInputFiles(fixtureFile('sd15', 'clip_l'));
  await u.vae.setInputFiles(cut);
  await expect(u.alert).toContainText('vae-truncated.safetensors');
  await expect(u.slot('vae').locator('.ckpt-file-problem')).toContainText('vae-truncated.safetensors');
  await expect(u.save).toBeDisabled();
  await expect(u.alert).toContainText('vae-truncated.safetensors');
  expect(await savedPaths(page)).toEqual([]);
});

test('components of different architectures: the slot and the alert say which file', async ({ page }) => {
  const u = ui(page);
  // FLUX's 16-channel VAE, as a sparse file (real header, no data on disk).
  const fluxDir = `${fixtureDir('flux_dev')}-sparse`;
  await ensureFixtures('flux_dev', { sparse: true, only: ['vae'], out: fluxDir });
  await openSaver(page);
  await u.model.setInputFiles(fixtureFile('sd15', 'unet'));
  await u.clip.setInputFiles(fixtureFile('sd15', 'clip_l'));
  await u.vae.setInputFiles(path.join(fluxDir, 'vae.safetensors'));
  await expectSlotOK(page, 'vae'); // on its own it is a fine VAE …
  await expect(u.alert).toContainText('vae.safetensors'); // … but not for SD15
  await expect(u.alert).toContainText(/SD15/);
  await expect(u.slot('vae').locator('.ckpt-file-problem')).toBeVisible();
  await expect(u.save).toBeDisabled();
  await expect(u.alert).toContainText('vae.safetensors');
  await expect(u.progress).toBeHidden();
  expect(await savedPaths(page)).toEqual([]);
});

test('storage that runs out mid-write: quota error, no file left', async ({ page }) => {
  // Playwright's default context is off-the-record: OPFS lives in RAM and
  // stops accepting data at about 1.2–1.5 GiB, while estimate() still
  // claims 10 GiB free. The 2.3 GB sd15 checkpoint cannot fit: a real
  // out-of-space condition, not a simulated one.
  const u = ui(page);
  await openSaver(page);
  await pickComponents(page);
  let downloads = 0;
  page.on('download', () => downloads++);
  await u.save.click();
  await expect(u.alert).toContainText(/storage|space|quota/i, { timeout: 5 * 60_000 });
  await expect(u.save).toBeEnabled();
  await expect.poll(() => savedPaths(page)).toEqual([]);
  // Not even the checkpoints/ folder the save created.
  expect(await opfsEntries(page)).toEqual([]);
  expect(downloads).toBe(0);
});

test('a file changed on disk after it was picked: the save fails naming it, nothing is kept', async ({ app }) => {
  const { page } = app;
  const u = ui(page);
  const clip = path.join(SCRATCH, 'clip_l-changing.safetensors');
  await copyFile(fixtureFile('sd15', 'clip_l'), clip);
  await openSaver(page);
  await pickComponents(page, { clip });
  // Planned while the file was intact (a plan after the change would refuse
  // it at once, before Save).
  await expect(u.save).toBeEnabled();
  // Rewrite the picked file: same header, half the data gone.
  const h = await readHeader(clip);
  await truncate(clip, h.dataStart + 4096);
  const fh = await open(clip, 'r+');
  await fh.write(Buffer.from('changed'), 0, 7, h.dataStart);
  await fh.close();
  await u.save.click();
  await expect(u.alert).toContainText('clip_l-changing.safetensors', { timeout: 5 * 60_000 });
  await expect.poll(() => savedPaths(page)).toEqual([]);
  expect(await opfsEntries(page)).toEqual([]);
  // The changed file cannot be read any more: its slot says so and Save
  // stays off until it is picked again.
  await expect(u.slot('clip').locator('.ckpt-file-problem')).toContainText('clip_l-changing.safetensors');
  await expect(u.save).toBeDisabled();
  await copyFile(fixtureFile('sd15', 'clip_l'), clip);
  // Choosing it again replaces the list: the changed entry goes.
  await u.clip.setInputFiles(clip);
  await expectSlotOK(page, 'clip');
  await expect(u.alert).toBeEmpty();
  await expect(u.save).toBeEnabled();
});

for (const size of [{ width: 1280, height: 900 }, { width: 390, height: 844 }]) {
  test(`${size.width}×${size.height}: Cancel mid-way stops the save and keeps nothing`, async ({ app }, testInfo) => {
    const { page } = app;
    await page.setViewportSize(size);
    const u = ui(page);
    await openSaver(page);
    await pickComponents(page);
    let downloads = 0;
    page.on('download', () => downloads++);
    await u.save.click();
    // Wait for real progress, then cancel with the keyboard.
    await expect.poll(async () => Number(await u.progress.getAttribute('value')), { timeout: 5 * 60_000 }).toBeGreaterThan(0);
    await u.cancel.focus();
    await page.keyboard.press('Enter');
    // A neutral state, said once: no red alert.
    await expect(u.status).toHaveText('Cancelled: nothing was kept.');
    await expect(u.alert).toBeEmpty();
    await expect(page.locator('[data-ckpt-saver]')).toHaveAttribute('data-outcome', 'cancelled');
    const shot = testInfo.outputPath(`cancelled-${size.width}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    await testInfo.attach(`cancelled-${size.width}`, { path: shot, contentType: 'image/png' });
    await expect(u.save).toBeEnabled();
    await expect.poll(() => savedPaths(page)).toEqual([]);
    // Not even the checkpoints/ folder the save created.
    expect(await opfsEntries(page)).toEqual([]);
    expect(downloads).toBe(0);
    // The engine is still usable afterwards: the plan for the next save is there.
    await expect(page.getByText('Will write checkpoints/ComfyUI_00001_.safetensors')).toBeVisible();
  });
}
