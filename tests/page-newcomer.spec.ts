// Issue 20, the page as a newcomer meets it (second pass), at 1280×900 and
// 390×844: a wrong file renamed .safetensors says what it is, a torch
// checkpoint renamed so is read by its content, a missing encoder is named
// with the slot's on-screen label, choosing text encoders again replaces
// the list. Screenshots of each state are attached to the test results
// (build/test-results).
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, expect, type Page, type TestInfo } from '@playwright/test';
import { fixtureFile, REPO } from './helpers/fixtures';
import { expectSlotOK, openSaver, openTask, ui } from './helpers/page';

const SCRATCH = path.join(REPO, 'build', 'test-scratch', 'page-newcomer');
const SIZES = [{ width: 1280, height: 900 }, { width: 390, height: 844 }];

test.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
});
test.afterAll(async () => {
  await rm(SCRATCH, { recursive: true, force: true });
});

async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const file = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

for (const size of SIZES) {
  test(`${size.width}×${size.height}: a wrong file renamed .safetensors says what it is; a renamed torch checkpoint is read`, async ({ page }, testInfo) => {
    await page.setViewportSize(size);
    const u = ui(page);
    const text = path.join(SCRATCH, 'readme.safetensors');
    await writeFile(text, 'This is a readme that someone saved under a model\'s name.\n'.repeat(4));
    const renamedTorch = path.join(SCRATCH, 'state_dict.safetensors');
    await copyFile(path.join(REPO, 'testdata', 'torch', 'state_dict.ckpt'), renamedTorch);
    await openSaver(page);
    await u.model.setInputFiles(text);
    const problem = u.slot('model').locator('.ckpt-file-problem');
    await expect(problem).toContainText('readme.safetensors: not a safetensors model file — it looks like text (');
    // The detail stays behind the plain words.
    await expect(problem).toContainText('header length');
    await expect(u.alert).toContainText('not a safetensors model file — it looks like text');
    await expect(u.save).toBeDisabled();
    await screenshot(page, testInfo, `renamed-text-${size.width}`);
    // A torch checkpoint renamed .safetensors is recognised by its content:
    // no header-length complaint, the engine reads it as the torch file it is.
    await u.vae.setInputFiles(renamedTorch);
    await expect(u.slot('vae').locator('.ckpt-file')).not.toHaveClass(/ckpt-file-inspecting/);
    await expect(u.slot('vae')).not.toContainText('Reading what it holds');
    await expect(u.slot('vae')).not.toContainText('header length');
    await expect(u.slot('vae')).not.toContainText('not a safetensors model file');
  });

  test(`${size.width}×${size.height}: SDXL with an SD1.5 text encoder names the slot and the missing CLIP-G`, async ({ page }, testInfo) => {
    await page.setViewportSize(size);
    const u = ui(page);
    await openSaver(page);
    await u.model.setInputFiles(fixtureFile('sdxl_base', 'unet'));
    await u.clip.setInputFiles(fixtureFile('sd15', 'clip_l'));
    await u.vae.setInputFiles(fixtureFile('sdxl_base', 'vae'));
    await expect(u.alert).toContainText('Text encoders: this SDXL model also needs CLIP-G');
    await expect(u.alert).not.toContainText('clip slot');
    await expect(u.save).toBeDisabled();
    await screenshot(page, testInfo, `missing-clip-g-${size.width}`);
    // Choosing the text encoders again replaces the list: CLIP-L and CLIP-G
    // (CLIP-L picked twice is listed once), and Save turns on.
    await u.clip.setInputFiles([fixtureFile('sdxl_base', 'clip_l'), fixtureFile('sdxl_base', 'clip_g')]);
    await expectSlotOK(page, 'clip', 2);
    await u.clip.setInputFiles([fixtureFile('sdxl_base', 'clip_g'), fixtureFile('sdxl_base', 'clip_l')]);
    await expectSlotOK(page, 'clip', 2);
    await expect(u.alert).toBeEmpty();
    await expect(u.slot('clip').locator('.ckpt-drop')).toContainText('Drop another text encoder here to add it, or choose the files again');
    await expect(u.save).toBeEnabled();
    await screenshot(page, testInfo, `clip-replaced-${size.width}`);
  });
}

for (const size of SIZES) {
  test(`${size.width}×${size.height}: one set of Title/Author/Description, and the plan names the metadata that goes in`, async ({ page }, testInfo) => {
    await page.setViewportSize(size);
    const u = ui(page);
    await openSaver(page);
    await u.model.setInputFiles(fixtureFile('sd15', 'unet'));
    await u.clip.setInputFiles(fixtureFile('sd15', 'clip_l'));
    await u.vae.setInputFiles(fixtureFile('sd15', 'vae'));
    await expectSlotOK(page, 'vae');
    const planMetadata = page.locator('[data-role="plan-metadata"]');
    // ComfyUI writes no ModelSpec title for SD1.5 until one is given, only
    // the prediction type, named in words with its value.
    await expect(planMetadata).toHaveText('Metadata: prediction type “epsilon”.');
    await expect(planMetadata).not.toContainText('title');
    // The saver's Metadata section has no title fields of its own: the
    // editor's, under Edit metadata, are the only ones.
    await page.locator('[data-role="metadata"] > summary').click();
    const editor = page.locator('[data-ckpt-metadata-editor]');
    await openTask(page, 'metadata');
    for (const role of ['title', 'author', 'description']) {
      await expect(page.locator(`[data-ckpt-saver] [data-role="${role}"]`)).toBeHidden();
    }
    await expect(editor.getByLabel('Title', { exact: true })).toBeVisible();
    await editor.getByLabel('Title', { exact: true }).fill('My SD 1.5 mix');
    await editor.getByLabel('Author', { exact: true }).fill('Jane');
    await editor.getByLabel('Author', { exact: true }).press('Tab');
    await openTask(page, 'save');
    await expect(planMetadata).toHaveText(/^Metadata: title “My SD 1.5 mix”, author, prediction type “epsilon” and ModelSpec [0-9.]+\.$/);
    await screenshot(page, testInfo, `plan-metadata-${size.width}`);
  });
}
