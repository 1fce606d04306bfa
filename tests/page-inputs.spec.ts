// Inputs other than single .safetensors files, in the page: a torch .ckpt in
// a slot (saved byte for byte as the oracle's checkpoint), a malicious
// pickle refused, and a diffusers SDXL folder (one component sharded)
// picked with the folder input or dropped, filling every slot.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Locator, Page } from '@playwright/test';
import { test, expect } from './helpers/browser';
import { ensureFixtures, fixtureFile, REPO, verifyCheckpoint } from './helpers/fixtures';
import { expectSlotOK, openSaver, pickComponents, savedPaths, scratchFileInput, ui } from './helpers/page';

const run = promisify(execFile);
const SCRATCH = path.join(REPO, 'build', 'test-scratch', 'page-inputs');
const TOOL = path.join(SCRATCH, 'inputfixtures');
const TORCH = path.join(REPO, 'testdata', 'torch');
const SDXL = path.join(SCRATCH, 'stable-diffusion-xl-base-1.0');

test.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
  await run('go', ['build', '-o', TOOL, './scripts/inputfixtures'], { cwd: REPO });
  if (!existsSync(path.join(SDXL, 'model_index.json'))) await run(TOOL, ['sdxl-diffusers', SDXL]);
});
test.afterAll(async () => {
  await rm(SCRATCH, { recursive: true, force: true });
});

test('a torch .ckpt VAE in its slot saves the same checkpoint as the .safetensors VAE', async ({ page }) => {
  await ensureFixtures('sd15');
  const ckpt = path.join(SCRATCH, 'vae.ckpt');
  await run(TOOL, ['ckpt', fixtureFile('sd15', 'vae'), ckpt]);
  const u = ui(page);
  await openSaver(page);
  await pickComponents(page, { vae: ckpt });
  await expect(u.slot('vae')).toContainText('vae.ckpt');
  await expect(u.slot('vae')).toContainText('VAE');

  // Download directly: the Blob is built from slices of the .ckpt File itself.
  await page.locator('[data-ckpt-saver]').getByLabel('Download directly').check();
  const downloadEvent = page.waitForEvent('download', { timeout: 5 * 60_000 });
  await u.save.click();
  const download = await downloadEvent;
  const out = path.join(SCRATCH, 'from-ckpt.safetensors');
  await download.saveAs(out);
  const result = await verifyCheckpoint('sd15', out, ['-layout']);
  expect(result.ok, result.output.slice(-2000)).toBe(true);
  await rm(out, { force: true });
});

test('a .ckpt whose pickle calls os.system is refused in the page, and nothing runs', async ({ page }) => {
  await rm('/tmp/ckptpack-pwned', { force: true });
  const u = ui(page);
  await openSaver(page);
  await u.model.setInputFiles(path.join(TORCH, 'malicious.ckpt'));
  await expect(u.alert).toContainText('malicious.ckpt: pickle wants posix.system: refused (not a tensor state dict)');
  await expect(u.slot('model').locator('.ckpt-file-problem')).toContainText('posix.system');
  await u.clip.setInputFiles(path.join(TORCH, 'size_bomb.ckpt'));
  await expect(u.alert).toContainText('size_bomb.ckpt');
  await expect(u.alert).toContainText('refused');
  expect(existsSync('/tmp/ckptpack-pwned')).toBe(false);
  expect(await savedPaths(page)).toEqual([]);
});

/** The CLI's plan of the same inputs, for comparison. */
async function cliPlan(...args: string[]): Promise<{ bytes: number; architecture: string }> {
  const { stdout } = await run('go', ['run', './cmd/ckptpack', 'save', '--dry-run', '--json', '--output-dir', path.join(SCRATCH, 'out'), ...args], { cwd: REPO, maxBuffer: 64 << 20 });
  return JSON.parse(stdout);
}

async function expectSDXLFolderPlaced(page: import('@playwright/test').Page): Promise<void> {
  const u = ui(page);
  await expectSlotOK(page, 'model');
  await expectSlotOK(page, 'clip', 2);
  await expectSlotOK(page, 'vae');
  await expect(u.slot('model')).toContainText('stable-diffusion-xl-base-1.0/unet');
  await expect(u.slot('model')).toContainText('SDXL');
  await expect(u.slot('clip')).toContainText('stable-diffusion-xl-base-1.0/text_encoder_2');
  await expect(u.slot('vae')).toContainText('stable-diffusion-xl-base-1.0/vae');
  await expect(page.getByText('Will write checkpoints/ComfyUI_00001_.safetensors')).toBeVisible();
  const plan = await page.evaluate(() => (globalThis as any).ckptpack.saver.lastPlan);
  const cli = await cliPlan('--model', SDXL);
  expect(plan.architecture).toBe('SDXL');
  expect(plan.bytes).toBe(cli.bytes);
}

test('a diffusers SDXL folder picked with the folder input fills every slot', async ({ page }) => {
  await openSaver(page);
  await page.getByLabel('Diffusers folder').setInputFiles(SDXL);
  await expectSDXLFolderPlaced(page);
});

/** Drops the folder dir (with everything under it) on target (default: the page), as a browser does. */
async function dropFolder(page: Page, dir: string, target?: Locator): Promise<void> {
  // A page cannot make real FileSystemDirectoryEntry objects; these stand-ins
  // have the same API shape (createReader/readEntries in batches, file()),
  // over Files read from disk.
  const files: string[] = [];
  const walk = async (at: string) => {
    for (const name of await (await import('node:fs/promises')).readdir(at, { withFileTypes: true })) {
      const p = path.join(at, name.name);
      if (name.isDirectory()) await walk(p); else files.push(p);
    }
  };
  await walk(dir);
  const rel = files.map((f) => path.relative(path.dirname(dir), f));
  const input = await scratchFileInput(page, files);
  const targetHandle = target ? await target.elementHandle() : await page.evaluateHandle(() => document.body);
  await page.evaluate(([el, paths, target]) => {
    const list = [...(el as HTMLInputElement).files!];
    (el as HTMLInputElement).remove();
    type Node = { name: string; isDirectory: boolean; isFile: boolean; children?: Map<string, Node>; file?: File };
    const root: Node = { name: paths[0].split('/')[0], isDirectory: true, isFile: false, children: new Map() };
    list.forEach((file, i) => {
      const parts = paths[i].split('/').slice(1);
      let node = root;
      for (const [j, part] of parts.entries()) {
        if (j === parts.length - 1) { node.children!.set(part, { name: part, isDirectory: false, isFile: true, file }); break; }
        if (!node.children!.has(part)) node.children!.set(part, { name: part, isDirectory: true, isFile: false, children: new Map() });
        node = node.children!.get(part)!;
      }
    });
    const entry = (node: Node): any => node.isDirectory
      ? {
        name: node.name, isDirectory: true, isFile: false,
        createReader() {
          const all = [...node.children!.values()].map(entry);
          let at = 0;
          return { readEntries(ok: (e: any[]) => void) { const batch = all.slice(at, at + 2); at += 2; setTimeout(() => ok(batch)); } };
        },
      }
      : { name: node.name, isDirectory: false, isFile: true, file(ok: (f: File) => void) { setTimeout(() => ok(node.file!)); } };
    const dataTransfer = {
      types: ['Files'],
      files: [] as File[],
      items: [{ kind: 'file', webkitGetAsEntry: () => entry(root) }],
      dropEffect: 'copy',
    };
    const drop = new Event('drop', { bubbles: true, cancelable: true });
    Object.defineProperty(drop, 'dataTransfer', { value: dataTransfer });
    (target as Element).dispatchEvent(drop);
  }, [input, rel, targetHandle] as const);
}

test('a dropped diffusers folder (webkitGetAsEntry) fills every slot', async ({ page }) => {
  await openSaver(page);
  await dropFolder(page, SDXL);
  await expectSDXLFolderPlaced(page);
});

test('a folder dropped on a slot: a component folder goes into that slot, a pipeline still fills every slot', async ({ page }) => {
  const u = ui(page);
  await openSaver(page);
  // text_encoder_2 is sharded (two files and an index): one item in the slot.
  await dropFolder(page, path.join(SDXL, 'text_encoder_2'), u.slot('clip'));
  await expectSlotOK(page, 'clip');
  await expect(u.slot('clip').locator('.ckpt-file-name')).toHaveText(['text_encoder_2']);
  await expect(u.slot('model')).not.toContainText('unet');
  // A component folder that does not fit the slot says so there, in the saver's way.
  await dropFolder(page, path.join(SDXL, 'vae'), u.slot('model'));
  await expect(u.slot('model').locator('.ckpt-file-problem')).toContainText('not a diffusion model');
  await expect(u.alert).toContainText('vae holds');
  await expect(u.save).toBeDisabled();
  // The pipeline dropped on the VAE slot replaces every slot (its two text encoders, not three).
  await dropFolder(page, SDXL, u.slot('vae'));
  await expectSDXLFolderPlaced(page);
  await expect(u.slot('clip').locator('.ckpt-file-name')).toHaveCount(2);
  await expect(u.alert).toBeEmpty();
  await expect(u.save).toBeEnabled();
});

test('a broken diffusers folder says what is wrong', async ({ page }) => {
  const broken = path.join(SCRATCH, 'broken-sdxl');
  await rm(broken, { recursive: true, force: true });
  await run(TOOL, ['sdxl-diffusers', broken]);
  await rm(path.join(broken, 'text_encoder_2', 'model-00002-of-00002.safetensors'));
  const u = ui(page);
  await openSaver(page);
  await page.getByLabel('Diffusers folder').setInputFiles(broken);
  await expect(u.alert).toContainText('model-00002-of-00002.safetensors');
  expect(JSON.parse(await readFile(path.join(broken, 'model_index.json'), 'utf8'))._class_name).toBe('StableDiffusionXLPipeline');
});
