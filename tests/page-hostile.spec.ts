// Metadata from files and from the user is shown as text only: a <script>
// or an onerror handler in a workflow, prompt or modelspec.title runs
// nothing, opens no dialog and adds no element.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, expect } from '@playwright/test';
import { fixtureFile, REPO } from './helpers/fixtures';
import { copyWithMetadata } from './helpers/safetensors';
import { expectSlotOK, openSaver, openTask, ui } from './helpers/page';

const SCRATCH = path.join(REPO, 'build', 'test-scratch', 'page-hostile');
const SCRIPT = '<script>window.__pwned = "script"; alert("script")</script>';
const IMG = '<img src="x" onerror="window.__pwned = \'img\'; alert(\'img\')">';

test.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
});
test.afterAll(async () => {
  await rm(SCRATCH, { recursive: true, force: true });
});

test('hostile metadata in a picked file and in the form stays inert text', async ({ page }) => {
  const u = ui(page);
  const hostileVAE = path.join(SCRATCH, `${'<b>vae</b>'.replace(/[<>/]/g, '_')}-hostile.safetensors`);
  await copyWithMetadata(fixtureFile('sd15', 'vae'), hostileVAE, {
    'modelspec.title': IMG,
    'modelspec.description': SCRIPT,
    prompt: JSON.stringify({ 1: { class_type: SCRIPT, inputs: { text: IMG } } }),
    workflow: JSON.stringify({ nodes: [{ title: SCRIPT, widgets_values: [IMG] }] }),
  });
  const hostileWorkflow = path.join(SCRATCH, 'workflow.json');
  await writeFile(hostileWorkflow, JSON.stringify({ nodes: [{ title: IMG }] }));

  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  await openSaver(page);
  await u.model.setInputFiles(fixtureFile('sd15', 'unet'));
  await u.clip.setInputFiles(fixtureFile('sd15', 'clip_l'));
  await u.vae.setInputFiles(hostileVAE);
  await expectSlotOK(page, 'vae');
  await expect(u.slot('vae')).toContainText('has a workflow');

  // The file's metadata, opened (under Details), reads as the literal text.
  await u.slot('vae').getByText('Details', { exact: true }).click();
  await u.slot('vae').getByText(/File metadata \(4 keys\)/).click();
  const meta = u.slot('vae').locator('.ckpt-meta-list');
  await expect(meta).toContainText(IMG);
  await expect(meta).toContainText(SCRIPT);

  // Hostile text typed into the form (title, prompt) and a hostile workflow
  // file go through planning too.
  await page.getByText('Metadata', { exact: true }).click();
  const editor = page.locator('[data-ckpt-metadata-editor]');
  await openTask(page, 'metadata');
  await editor.getByLabel('Title', { exact: true }).fill(IMG);
  await editor.getByLabel('Description', { exact: true }).fill(SCRIPT);
  await openTask(page, 'save');
  await page.getByLabel('Prompt (API format JSON)').fill(JSON.stringify({ 1: { class_type: SCRIPT } }));
  await page.getByLabel('Workflow JSON file').setInputFiles(hostileWorkflow);
  await expect(page.getByText(/Will write checkpoints\/ComfyUI_00001_\.safetensors/)).toBeVisible();

  expect(dialogs).toEqual([]);
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  // The only img is the ModelSpec editor's own thumbnail preview, empty (no src) with no thumbnail chosen.
  expect(await page.locator('.ckpt-saver img:not(.ckpt-thumb > img), .ckpt-saver img[src], .ckpt-saver script, .ckpt-saver [onerror]').count()).toBe(0);
  // The only script element is the page's own module.
  expect(await page.locator('script').count()).toBe(1);
});
