// Takes the README's screenshot of the extension in the real ComfyUI
// frontend: the test workflow on the canvas, the Save Checkpoint tab open with
// the SD1.5 components picked and matched against the workflow's loaders.
//   make comfyui-screenshot   (writes docs/comfyui-tab.png)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { frontendDist, missingMessage } from './frontend-dist.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..', '..');
const out = path.resolve(process.argv[2] ?? path.join(repo, 'docs', 'comfyui-tab.png'));
const fixtures = path.join(process.env.FIXTURES ?? path.join(repo, 'build', 'fixtures'), 'sd15');
const port = Number(process.env.CKPT_COMFYUI_REAL_PORT ?? 8194);
const dist = frontendDist();
const customNodes = path.join(repo, 'build', 'comfyui-real', 'screenshot-nodes');
const MAX_BYTES = 300 * 1024;

if (!existsSync(path.join(dist, 'index.html'))) throw new Error(missingMessage(dist));
for (const name of ['unet', 'clip_l', 'vae']) {
  if (!existsSync(path.join(fixtures, `${name}.safetensors`))) throw new Error(`${fixtures}/${name}.safetensors is missing: run the tests once, or set FIXTURES`);
}

await rm(customNodes, { recursive: true, force: true });
await mkdir(customNodes, { recursive: true });
execFileSync('unzip', ['-q', path.join(repo, 'build', 'comfyui', 'ckptpack.zip'), '-d', customNodes]);
const backend = spawn(process.execPath, [path.join(here, 'backend.mjs'), '--dist', dist, '--custom-nodes', customNodes, '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => {
  backend.once('exit', (code) => reject(new Error(`backend exited with ${code}`)));
  backend.stdout.once('data', resolve);
});

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const origin = `http://127.0.0.1:${port}`;
  await fetch(`${origin}/__test__/settings`, { method: 'PUT', body: JSON.stringify({ 'Comfy.TutorialCompleted': true, 'Comfy.ColorPalette': 'dark' }) });
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  await page.goto(origin);
  await page.waitForFunction(() => globalThis.app?.rootGraph && globalThis.app.extensionManager?.setting);
  const workflow = JSON.parse(readFileSync(path.join(here, 'workflow.json'), 'utf8'));
  await page.evaluate((w) => globalThis.app.loadGraphData(w, true, true, 'sd15-components'), workflow);
  await page.locator('.ckptpack-save-checkpoint-tab-button').click();
  await page.locator('[data-ckpt-saver][data-engine="ready"]').waitFor();
  await page.getByLabel('Diffusion model', { exact: true }).setInputFiles(path.join(fixtures, 'unet.safetensors'));
  await page.getByLabel('Text encoders', { exact: true }).setInputFiles(path.join(fixtures, 'clip_l.safetensors'));
  await page.getByLabel('VAE', { exact: true }).setInputFiles(path.join(fixtures, 'vae.safetensors'));
  await page.locator('[data-role="workflow-models"] li[data-state="picked"]').nth(2).waitFor();
  await page.getByRole('button', { name: 'Save checkpoint', exact: true }).waitFor();
  // Frame the graph in the space the open tab leaves.
  await page.evaluate(() => globalThis.app.extensionManager.command.execute('Comfy.Canvas.FitView'));
  await page.waitForTimeout(500); // the canvas redraws on the next frames
  await mkdir(path.dirname(out), { recursive: true });
  await page.screenshot({ path: out });
  const bytes = statSync(out).size;
  if (bytes > MAX_BYTES) throw new Error(`${out} is ${bytes} bytes, over ${MAX_BYTES}: make the viewport smaller`);
  console.log(`${path.relative(process.cwd(), out)}: ${bytes} bytes`);
} finally {
  await browser.close();
  backend.kill();
}
