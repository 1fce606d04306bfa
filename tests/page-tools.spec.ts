// The Tools panel: one file in, one operation out, through the labelled
// controls. Extracting the VAE of the sd15 checkpoint gives exactly the bytes
// ComfyUI's VAESave writes (the oracle's vae.safetensors fixture); an fp16
// conversion shows its dtype census and size before saving, refuses the
// direct download (computed bytes) and writes what the CLI writes; an
// operation that does not apply is an error naming the file, with nothing
// written.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page } from '@playwright/test';
import { test, expect } from './helpers/browser';
import { fixtureFile, REPO } from './helpers/fixtures';
import { readHeader } from './helpers/safetensors';
import { opfsEntries } from './helpers/page';

const run = promisify(execFile);
const SCRATCH = path.join(REPO, 'build', 'test-scratch', 'page-tools');

test.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
});
test.afterAll(async () => {
  await rm(SCRATCH, { recursive: true, force: true });
});

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk);
  return h.digest('hex');
}

const tools = (page: Page) => {
  const panel = page.getByRole('region', { name: 'Tools' });
  return {
    panel,
    file: panel.getByLabel('File to process'),
    operation: panel.getByLabel('Operation'),
    target: panel.getByLabel('Target precision'),
    all: panel.getByLabel(/Convert every component/),
    run: panel.getByRole('button', { name: 'Run' }),
    alert: panel.locator('[role="alert"]'),
    status: panel.getByRole('status'),
    plan: panel.locator('[data-role="tools-plan"]'),
    sink: (name: RegExp) => panel.getByLabel(name),
  };
};

async function openTools(page: Page) {
  await page.goto('index.html');
  // Until its task is shown, the saver's status is the only one a screen reader has.
  await expect(page.getByRole('status')).toHaveCount(1);
  await page.getByRole('tab', { name: 'Convert / extract / prune' }).click();
  await expect(page.getByRole('region', { name: 'Tools' }).getByLabel('File to process')).toBeVisible();
}

test('extract the VAE of the sd15 checkpoint: the bytes VAESave writes', async ({ app }) => {
  const { page } = app;
  const t = tools(page);
  await openTools(page);
  await t.file.setInputFiles(fixtureFile('sd15', 'checkpoint'));
  await t.operation.selectOption({ label: 'Extract the VAE (as VAESave)' });
  await expect(t.plan).toContainText('Will write vae/ComfyUI_vae_00001_.safetensors: 335 MB (334,641,012 bytes), 248 tensors: F32 248');
  // An extraction defaults to the direct download (slices of the input);
  // browser storage is picked here to see ComfyUI's counter move on.
  await expect(t.sink(/^Download directly/)).toBeChecked();
  await t.sink(/Browser storage/).check();
  await expect(t.run).toBeEnabled();
  const downloadEvent = page.waitForEvent('download');
  await t.run.click();
  const download = await downloadEvent;
  expect(download.suggestedFilename()).toBe('ComfyUI_vae_00001_.safetensors');
  const file = await download.path();
  expect(await sha256(file)).toBe(await sha256(fixtureFile('sd15', 'vae')));
  // A finished run says it is done, in the status and the progress line.
  await expect(t.status).toContainText('Done: saved vae/ComfyUI_vae_00001_.safetensors');
  await expect(t.panel.locator('.ckpt-progress')).toContainText(/^Done: 335 MB in /);
  await expect(t.panel).toHaveAttribute('data-tools-state', 'done');
  await expect(t.alert).toBeEmpty();
  // The counter moved on, as ComfyUI's does.
  await expect(t.plan).toContainText('Will write vae/ComfyUI_vae_00002_.safetensors');
  // Setting up the next run clears the last run's progress.
  await t.operation.selectOption({ label: 'Extract the diffusion model (as ModelSave)' });
  await expect(t.panel.locator('.ckpt-progress')).toBeHidden();
  await expect(t.panel).toHaveAttribute('data-tools-state', 'setup');
});

for (const size of [{ width: 1280, height: 900 }, { width: 390, height: 844 }]) {
  test(`${size.width}×${size.height}: runs that would change nothing say so and keep Run off`, async ({ app }, testInfo) => {
    const { page } = app;
    await page.setViewportSize(size);
    const t = tools(page);
    await openTools(page);
    // The sd15 UNet fixture is F16 already.
    await t.file.setInputFiles(fixtureFile('sd15', 'unet'));
    await t.operation.selectOption({ label: 'Convert precision' });
    await t.target.selectOption('fp16');
    const noOp = t.panel.locator('[data-role="tools-noop"]');
    await expect(noOp).toContainText('Nothing to convert: no tensor of unet.safetensors changes');
    await expect(t.status).toContainText('Nothing to convert');
    await expect(t.run).toBeDisabled();
    const shot = testInfo.outputPath(`tools-noop-convert-${size.width}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    await testInfo.attach('tools-noop-convert', { path: shot, contentType: 'image/png' });
    // The F32 VAE does convert: Run turns on.
    await t.file.setInputFiles(fixtureFile('sd15', 'vae'));
    await expect(t.plan).toContainText('Converts 248 tensors');
    await expect(noOp).toHaveCount(0);
    await expect(t.run).toBeEnabled();
    // Prune of a file with nothing to prune (no EMA, no keys ComfyUI ignores).
    await t.file.setInputFiles(fixtureFile('sd15', 'vae'));
    await t.operation.selectOption({ label: 'Prune (EMA, unused keys)' });
    await expect(noOp).toContainText('Nothing to prune: vae.safetensors has no EMA weights');
    await expect(t.run).toBeDisabled();
  });
}

test('fp16 conversion: census and size before saving, no direct download, same bytes as the CLI', async ({ app }) => {
  const { page } = app;
  const t = tools(page);
  const vae = fixtureFile('sd15', 'vae');
  await openTools(page);
  await t.file.setInputFiles(vae);
  await t.operation.selectOption({ label: 'Convert precision' });
  // A file of one component and no diffusion model converts that component by default.
  await expect(t.alert).toBeEmpty();
  await expect(t.plan).toContainText('Converts 248 tensors (F32 tensors of the VAE)');
  await t.all.check();
  await expect(t.alert).toBeEmpty();
  await expect(t.plan).toContainText('Input vae.safetensors: 335 MB, F32 248');
  await expect(t.plan).toContainText('Converts 248 tensors (every F32 tensor)');
  const planned = await page.evaluate(() => (globalThis as any).ckptpack.tools.stats.lastPlan);
  await expect(t.plan).toContainText(`Will write vae-fp16.safetensors: `);
  await expect(t.plan).toContainText(`(${planned.bytes.toLocaleString('en-US')} bytes), 248 tensors: F16 248`);
  await expect(t.sink(/^Download directly/)).toBeDisabled();
  // Chromium has the file picker, which is recommended for a conversion; a
  // picker cannot run headless, so browser storage (then its download) here.
  await expect(t.sink(/Save to a file on disk/)).toBeChecked();
  await t.sink(/Browser storage/).check();

  const downloadEvent = page.waitForEvent('download');
  await t.run.click();
  const download = await downloadEvent;
  expect(download.suggestedFilename()).toBe('vae-fp16.safetensors');
  const file = await download.path();
  expect((await stat(file)).size).toBe(planned.bytes);
  const header = await readHeader(file);
  expect(Object.values(header.tensors).every((x: any) => x.dtype === 'F16')).toBe(true);

  const cliOut = path.join(SCRATCH, 'cli');
  await rm(cliOut, { recursive: true, force: true });
  await run('go', ['run', './cmd/ckptpack', 'convert', '--to', 'fp16', '--all', vae, '--output-dir', cliOut], { cwd: REPO });
  expect(await sha256(file)).toBe(await sha256(path.join(cliOut, 'vae-fp16.safetensors')));
});

test('an operation that does not apply is refused, naming the file; nothing is written', async ({ app }) => {
  const { page } = app;
  const t = tools(page);
  await openTools(page);
  await t.file.setInputFiles(fixtureFile('sd15', 'unet'));
  await t.operation.selectOption({ label: 'Extract the VAE (as VAESave)' });
  await expect(t.alert).toContainText('unet.safetensors holds a SD15 diffusion model, not a VAE');
  await expect(t.run).toBeDisabled();
  await expect(t.plan).toBeEmpty();
  expect(await opfsEntries(page)).toEqual([]);
});

// Two Linear layers of weight-like F32 values and a bias: small enough to
// quantize in a moment, shaped for every format's blocks.
async function writeLayers(file: string): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const tensors: [string, number[]][] = [
    ['blocks.0.attn.qkv.bias', [96]],
    ['blocks.0.attn.qkv.weight', [96, 64]],
    ['blocks.0.mlp.fc1.weight', [128, 64]],
  ];
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of tensors) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const data = new Float32Array(offset / 4);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.05;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  await writeFile(file, Buffer.concat([len, Buffer.from(json), Buffer.from(data.buffer)]));
}

test('nvfp4 quantization: layers planned, saved, and the same bytes as the CLI', async ({ app }) => {
  const { page } = app;
  const t = tools(page);
  const src = path.join(SCRATCH, 'layers.safetensors');
  await writeLayers(src);
  await openTools(page);
  await t.file.setInputFiles(src);
  await t.operation.selectOption({ label: 'Convert precision' });
  await t.target.selectOption('nvfp4');
  await expect(t.alert).toContainText('no diffusion model');
  await t.all.check();
  await expect(t.alert).toBeEmpty();
  await expect(t.plan).toContainText('Quantizes 2 layers to nvfp4');
  await expect(t.plan).toContainText('Will write layers-nvfp4.safetensors');
  await expect(t.sink(/^Download directly/)).toBeDisabled();
  await t.sink(/Browser storage/).check();
  const downloadEvent = page.waitForEvent('download');
  await t.run.click();
  const download = await downloadEvent;
  expect(download.suggestedFilename()).toBe('layers-nvfp4.safetensors');
  const file = await download.path();
  const header = await readHeader(file);
  expect(header.tensors['blocks.0.attn.qkv.weight'].dtype).toBe('U8');
  expect(header.tensors['blocks.0.attn.qkv.weight_scale'].dtype).toBe('F8_E4M3');
  expect(header.tensors['blocks.0.attn.qkv.weight_scale_2'].dtype).toBe('F32');
  expect(header.tensors['blocks.0.attn.qkv.comfy_quant'].dtype).toBe('U8');

  const cliOut = path.join(SCRATCH, 'cli-nvfp4');
  await rm(cliOut, { recursive: true, force: true });
  await run('go', ['run', './cmd/ckptpack', 'convert', '--to', 'nvfp4', '--all', src, '--output-dir', cliOut], { cwd: REPO });
  expect(await sha256(file)).toBe(await sha256(path.join(cliOut, 'layers-nvfp4.safetensors')));
});
