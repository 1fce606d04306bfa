// The ckptpack extension inside the real ComfyUI frontend (the build at
// COMFYUI_FRONTEND_DIST, default ../shared/comfyui-frontend/dist), as a user
// gets it: the package zip unpacked into custom_nodes/, served by a fake
// ComfyUI backend (backend.mjs) at /extensions/ckptpack/, in Debian's
// Chromium. A workflow is loaded, the tab saves a full-size SD1.5 checkpoint
// through every sink it offers, and each file is checked byte for byte and
// for the workflow and prompt that app.graphToPrompt() gives for the live graph.
//   make test-comfyui
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ConsoleMessage, Download, Page } from '@playwright/test';
import { expect, test as base, type PersistentApp, launchPersistentApp, closePersistentApp } from '../../helpers/browser';
import { buildFixturesTool, ensureFixtures, fixtureFile, REPO, verifyCheckpoint } from '../../helpers/fixtures';
import { opfsBackingFiles } from '../../helpers/opfs-disk';
import { expectSlotOK, ui, type Sink } from '../../helpers/page';
import { readHeaderText } from '../../helpers/safetensors';
import { REAL_COMFYUI_PORT } from '../real-frontend.config';
import { frontendDist, missingMessage } from './frontend-dist.mjs';

const HERE = path.join(REPO, 'tests', 'comfyui', 'real-frontend');
const PACKAGE_ZIP = path.join(REPO, 'build', 'comfyui', 'ckptpack.zip');
const CUSTOM_NODES = path.join(REPO, 'build', 'comfyui-real', 'custom_nodes');
const ORIGIN = `http://127.0.0.1:${REAL_COMFYUI_PORT}`;
const DIST = frontendDist();
const WORKFLOW = JSON.parse(readFileSync(path.join(HERE, 'workflow.json'), 'utf8'));
const TAB_BUTTON = '.ckptpack-save-checkpoint-tab-button';
/** What the frontend itself asks outside hosts for at start: release notes (they fail here, no network). */
const FRONTEND_OWN_HOSTS = /^https:\/\/stagingapi\.comfy\.org\/releases\?/;

/** Settings every test starts with: no first-run templates dialog. */
const BASE_SETTINGS = { 'Comfy.TutorialCompleted': true };

// A missing build fails here: running this suite can never pass without the
// frontend (the make target reports it NOT RUN before getting here, only when
// CKPT_ALLOW_NO_FRONTEND=1 outside CI).
if (!existsSync(path.join(DIST, 'index.html'))) throw new Error(missingMessage(DIST));

interface RecordedWarning {
  text: string;
  /** The JavaScript stack at the console call (recorded in the page). */
  stack: string;
}

/** A persistent profile (OPFS on disk) and everything the page logged. */
const test = base.extend<{ app: PersistentApp & { console: ConsoleMessage[] } }>({
  app: async ({ baseURL }, use) => {
    const app = await launchPersistentApp(baseURL!);
    const messages: ConsoleMessage[] = [];
    app.page.on('console', (message) => messages.push(message));
    // Deprecation warnings name no caller: record the stack of every warning,
    // so a warning caused by this extension's code can be told apart from
    // the frontend's own ones.
    await app.context.addInitScript(() => {
      const recorded: { text: string; stack: string }[] = [];
      (globalThis as any).__ckptWarnings = recorded;
      for (const level of ['warn', 'error', 'info', 'log'] as const) {
        const original = console[level].bind(console);
        console[level] = (...args: unknown[]) => {
          recorded.push({ text: args.map(String).join(' '), stack: new Error().stack ?? '' });
          original(...args);
        };
      }
    });
    await use({ ...app, console: messages });
    await closePersistentApp(app);
  },
});

let backend: ChildProcess | undefined;

test.beforeAll(async () => {
  if (!existsSync(PACKAGE_ZIP)) throw new Error(`${PACKAGE_ZIP} is missing: run make comfyui-extension`);
  // Install exactly what a user downloads: unpack the zip.
  await rm(CUSTOM_NODES, { recursive: true, force: true });
  await mkdir(CUSTOM_NODES, { recursive: true });
  execFileSync('unzip', ['-q', PACKAGE_ZIP, '-d', CUSTOM_NODES]);
  backend = spawn(process.execPath, [path.join(HERE, 'backend.mjs'), '--dist', DIST, '--custom-nodes', CUSTOM_NODES, '--port', String(REAL_COMFYUI_PORT)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    backend!.once('exit', (code) => reject(new Error(`fake ComfyUI backend exited with ${code}`)));
    backend!.stdout!.once('data', () => resolve());
  });
  await buildFixturesTool();
  await ensureFixtures('sd15');
});

test.afterAll(() => {
  backend?.kill();
});

/** Starts ComfyUI with these saved settings, waits for the app and our tab button, loads the test workflow. */
async function openComfyUI(page: Page, settings: Record<string, unknown> = {}, workflow: unknown = WORKFLOW): Promise<void> {
  const put = await fetch(`${ORIGIN}/__test__/settings`, { method: 'PUT', body: JSON.stringify({ ...BASE_SETTINGS, ...settings }) });
  expect(put.ok).toBe(true);
  await page.goto('/');
  await page.waitForFunction(() => (globalThis as any).app?.rootGraph && (globalThis as any).app.extensionManager?.setting);
  await expect(page.locator(TAB_BUTTON)).toBeVisible();
  // Opened as its own workflow tab, as when the user opens a saved workflow.
  if (workflow) await page.evaluate((w) => (globalThis as any).app.loadGraphData(w, true, true, 'sd15-components'), workflow);
}

async function openTab(page: Page): Promise<void> {
  await page.locator(TAB_BUTTON).click();
  await expect(page.locator('[data-ckpt-saver]')).toHaveAttribute('data-engine', 'ready');
}

/** What app.graphToPrompt() gives for the live graph now. */
async function livePrompt(page: Page): Promise<{ workflow: unknown; output: unknown }> {
  return page.evaluate(async () => {
    const { workflow, output } = await (globalThis as any).app.graphToPrompt();
    return JSON.parse(JSON.stringify({ workflow, output }));
  });
}

async function pickSD15(page: Page): Promise<void> {
  const form = ui(page);
  await form.model.setInputFiles(fixtureFile('sd15', 'unet'));
  await form.clip.setInputFiles(fixtureFile('sd15', 'clip_l'));
  await form.vae.setInputFiles(fixtureFile('sd15', 'vae'));
  for (const slot of ['model', 'clip', 'vae'] as const) await expectSlotOK(page, slot);
}

/** The sinks the tab offers here: each "Save to" radio the user can see. */
async function offeredSinks(page: Page): Promise<string[]> {
  return page.locator('[data-role="sink"]').evaluateAll((radios) =>
    (radios as HTMLInputElement[]).filter((r) => r.checkVisibility()).map((r) => r.value));
}

/** Deletes this origin's OPFS entries but those kept (between saves: the disk is shared). */
async function clearOPFS(page: Page, keep: string[] = []): Promise<void> {
  await page.evaluate(async (keep) => {
    const root = await navigator.storage.getDirectory();
    const names: string[] = [];
    for await (const name of (root as any).keys()) names.push(name);
    for (const name of names.filter((n) => !keep.includes(n))) await root.removeEntry(name, { recursive: true });
  }, keep);
}

async function metadataOf(file: string): Promise<Record<string, string>> {
  return JSON.parse(await readHeaderText(file)).__metadata__ ?? {};
}

/** The checkpoint's metadata holds exactly the live graph's workflow and prompt, as CheckpointSave writes them. */
async function expectLiveWorkflow(page: Page, file: string): Promise<Record<string, string>> {
  const metadata = await metadataOf(file);
  const live = await livePrompt(page);
  expect(JSON.parse(metadata.workflow)).toEqual(live.workflow);
  expect(JSON.parse(metadata.prompt)).toEqual(live.output);
  return metadata;
}

async function verifySD15(file: string): Promise<void> {
  const verified = await verifyCheckpoint('sd15', file);
  expect(verified.ok, verified.output).toBe(true);
}

/** Saves with the sink; resolves when the browser starts the download (blob, opfs). */
async function startSave(page: Page, sink: Sink): Promise<Download> {
  await page.locator(`[data-role="sink"][value="${sink}"]`).check();
  const downloading = page.waitForEvent('download', { timeout: 8 * 60_000 });
  await saveButton(page).click();
  return downloading;
}

/** Saves with the sink and returns the finished download. */
async function saveAndDownload(page: Page, sink: Sink): Promise<Download> {
  const download = await startSave(page, sink);
  await download.path();
  expect(await download.failure()).toBeNull();
  return download;
}

/** cmp(1): the two files hold the same bytes. */
function sameBytes(a: string, b: string): boolean {
  try {
    execFileSync('cmp', ['-s', a, b]);
    return true;
  } catch {
    return false;
  }
}

/** The saver's Save (ComfyUI's sidebar button for the tab is also named "Save Checkpoint…"). */
const saveButton = (page: Page) => page.getByRole('button', { name: 'Save checkpoint', exact: true });

const toast = (page: Page, summary: string) => page.locator('.p-toast-message').filter({ hasText: summary });

/** Warnings or errors that mention deprecation and were raised from this extension's code. */
async function ourDeprecationWarnings(app: PersistentApp & { console: ConsoleMessage[] }): Promise<string[]> {
  const recorded: RecordedWarning[] = await app.page.evaluate(() => (globalThis as any).__ckptWarnings ?? []);
  const fromPage = recorded
    .filter((w) => /deprecat/i.test(w.text) && (/ckptpack/i.test(w.text) || w.stack.includes('/extensions/ckptpack/')))
    .map((w) => w.text);
  const fromWorkers = app.console
    .filter((m) => /deprecat/i.test(m.text()) && (/ckptpack/i.test(m.text()) || m.location().url.includes('/extensions/ckptpack/')))
    .map((m) => m.text());
  return [...fromPage, ...fromWorkers];
}

test('the package loads in the real frontend: listed, tab, settings in the settings dialog, theme, no deprecated API', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page, { 'Comfy.ColorPalette': 'dark' });

  // ComfyUI lists the package's one .js module after the frontend's own.
  const listed: string[] = await page.evaluate(async () => (await fetch('/api/extensions')).json());
  expect(listed.filter((url) => !url.startsWith('/extensions/core/'))).toEqual(['/extensions/ckptpack/ckptpack.js']);
  // Nothing else of the package is loaded before the tab is opened, but the host adapter.
  expect(app.requests.filter((url) => url.includes('/extensions/ckptpack/')).map((url) => url.slice(ORIGIN.length)).sort())
    .toEqual(['/extensions/ckptpack/ckptpack.js', '/extensions/ckptpack/lib/comfy-host.mjs']);

  // The command and the menu entry are ComfyUI commands.
  const commands: string[] = await page.evaluate(() => (globalThis as any).app.extensionManager.command.commands.map((c: { id: string }) => c.id));
  expect(commands).toEqual(expect.arrayContaining(['ckptpack.OpenSaveCheckpoint', 'ckptpack.SaveWorkflowModels']));

  await openTab(page);
  await expect(page.locator('.ckptpack-comfy')).toBeVisible();

  // Settings: in ComfyUI's own dialog, under "Save Checkpoint"; a change there applies to the open tab.
  await page.getByRole('button', { name: 'Settings (Ctrl + ,)' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Save Checkpoint', exact: true }).click();
  await expect(dialog.getByRole('switch', { name: /^Embed the workflow and prompt in saved checkpoints/ })).toBeChecked();
  await expect(dialog.getByRole('combobox', { name: /^Save checkpoints to/ })).toContainText('The fastest this browser offers');
  const prefixField = dialog.getByRole('textbox', { name: /^Default filename prefix/ });
  await expect(prefixField).toHaveValue('checkpoints/ComfyUI');
  await prefixField.fill('checkpoints/from-dialog');
  await prefixField.blur();
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(ui(page).prefix).toHaveValue('checkpoints/from-dialog');
  await expect.poll(async () => (await (await fetch(`${ORIGIN}/api/settings`)).json())['ckptpack.FilenamePrefix']).toBe('checkpoints/from-dialog');

  // Theme: the tab follows ComfyUI's palette, not the operating system's preference.
  const themeOf = () => page.locator('.ckptpack-comfy').evaluate((panel) => {
    const saver = panel.querySelector('.ckpt-saver')!;
    const [r, g, b] = getComputedStyle(saver).color.match(/\d+(\.\d+)?/g)!.map(Number);
    return {
      body: document.body.classList.contains('dark-theme') ? 'dark' : 'light',
      scheme: getComputedStyle(panel).colorScheme,
      accent: getComputedStyle(saver).getPropertyValue('--ckpt-accent').trim(),
      text: (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255 > 0.5 ? 'light text' : 'dark text',
    };
  });
  await page.emulateMedia({ colorScheme: 'light' });
  await expect.poll(themeOf).toEqual({ body: 'dark', scheme: 'dark', accent: '#3b82f6', text: 'light text' });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.evaluate(() => (globalThis as any).app.extensionManager.setting.set('Comfy.ColorPalette', 'light'));
  await expect.poll(themeOf).toEqual({ body: 'light', scheme: 'light', accent: '#1d4ed8', text: 'dark text' });

  expect(await ourDeprecationWarnings(app)).toEqual([]);
});

test('an SD1.5 checkpoint is saved through every sink the tab offers, with the live workflow; a new seed is in the next save', async ({ app }) => {
  const { page } = app;
  // "Save to a file on disk": the native picker cannot be driven headless,
  // so it hands out an OPFS file handle, which the worker writes the same way.
  await app.context.addInitScript(() => {
    (globalThis as any).showSaveFilePicker = async (options: { suggestedName: string }) => {
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle('picked', { create: true });
      (globalThis as any).__picked = options.suggestedName;
      return dir.getFileHandle(options.suggestedName, { create: true });
    };
  });
  await openComfyUI(page);
  await openTab(page);

  // The tab reads the workflow's loaders and matches the picked files against them.
  const models = page.locator('[data-role="workflow-models"]');
  await expect(models.locator('[data-role="workflow-uses"]')).toHaveText('This workflow uses unet.safetensors, clip_l.safetensors, vae.safetensors.');
  await expect(models.locator('li[data-state="missing"]')).toHaveCount(3);
  await expect(page.locator('[data-slot="model"] [data-role="slot-hint"]')).toHaveText('This workflow: unet.safetensors');
  await pickSD15(page);
  await expect(models.locator('li[data-state="picked"]')).toHaveCount(3);

  expect(await offeredSinks(page)).toEqual(['file', 'blob', 'opfs']);

  // A file on disk.
  await page.locator('[data-role="sink"][value="file"]').check();
  await saveButton(page).click();
  await expect(ui(page).result).toContainText('written to the file you chose');
  await expect(toast(page, 'Checkpoint saved')).toBeVisible();
  const picked = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const name = (globalThis as any).__picked as string;
    const file = await (await (await root.getDirectoryHandle('picked')).getFileHandle(name)).getFile();
    return { name, bytes: file.size };
  });
  expect(picked.name).toMatch(/^ComfyUI_\d{5}_\.safetensors$/);
  const [written, ...others] = await opfsBackingFiles(app.userDataDir, picked.bytes);
  expect(others).toEqual([]);
  await verifySD15(written);
  await expectLiveWorkflow(page, written);

  // Browser storage (then a download, of that same OPFS file), and the direct
  // download: the same graph gives the same file, so each is compared byte for
  // byte with the verified one.
  const opfsDownload = await startSave(page, 'opfs');
  await opfsDownload.cancel(); // a copy of the OPFS file; not written twice here
  const inStorage = (await opfsBackingFiles(app.userDataDir, picked.bytes)).filter((f) => f !== written);
  expect(inStorage).toHaveLength(1);
  expect(sameBytes(inStorage[0], written)).toBe(true);
  await clearOPFS(page, ['picked']);

  const direct = await saveAndDownload(page, 'blob');
  expect(sameBytes(await direct.path(), written)).toBe(true);
  await direct.delete();
  await clearOPFS(page);

  // Edit the graph: a new seed on the KSampler. The next save holds the new workflow.
  const before = await livePrompt(page);
  await page.evaluate(() => {
    const graph = (globalThis as any).app.rootGraph;
    const sampler = graph.nodes.find((n: { type: string }) => n.type === 'KSampler');
    const seed = sampler.widgets.find((w: { name: string }) => w.name === 'seed');
    seed.value = 4242;
    seed.callback?.(seed.value);
    graph.setDirtyCanvas(true, true);
  });
  const download = await saveAndDownload(page, 'blob');
  const metadata = await expectLiveWorkflow(page, await download.path());
  expect(JSON.parse(metadata.prompt)['5'].inputs.seed).toBe(4242);
  expect(JSON.parse(metadata.workflow)).not.toEqual(before.workflow);
  expect(JSON.parse(metadata.workflow).nodes.find((n: { id: number }) => n.id === 5).widgets_values[0]).toBe(4242);
  await download.delete();

  // No request left this ComfyUI server but the frontend's own.
  const outside = app.requests.filter((url) => /^(https?|wss?):/.test(url) && !url.startsWith(`${ORIGIN}/`));
  expect(outside.filter((url) => !FRONTEND_OWN_HOSTS.test(url))).toEqual([]);
  expect(await ourDeprecationWarnings(app)).toEqual([]);
});

test('the tab survives a workflow switch and follows the open workflow', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page);
  await openTab(page);
  await pickSD15(page);
  await ui(page).prefix.fill('checkpoints/kept');
  const uses = page.locator('[data-role="workflow-uses"]');
  await expect(uses).toHaveText('This workflow uses unet.safetensors, clip_l.safetensors, vae.safetensors.');

  // Open a second workflow (a new workflow tab) that loads Flux's files.
  const flux = structuredClone(WORKFLOW);
  flux.id = '7d2b4c1a-0000-4000-8000-000000000002';
  flux.nodes.find((n: any) => n.type === 'UNETLoader').widgets_values[0] = 'flux1-dev.safetensors';
  Object.assign(flux.nodes.find((n: any) => n.type === 'CLIPLoader'), {
    type: 'DualCLIPLoader', widgets_values: ['clip_l.safetensors', 't5xxl_fp16.safetensors', 'flux'],
  });
  flux.nodes.find((n: any) => n.type === 'VAELoader').widgets_values[0] = 'ae.safetensors';
  await page.evaluate((w) => (globalThis as any).app.loadGraphData(w, true, true, 'flux-models'), flux);
  await expect(uses).toHaveText('This workflow uses flux1-dev.safetensors, clip_l.safetensors, t5xxl_fp16.safetensors, ae.safetensors.');
  await expect(page.locator('[data-role="workflow-models"] li[data-model="flux1-dev.safetensors"]')).toHaveAttribute('data-state', 'other');

  // Back to the first workflow: same saver, same picked files and typed prefix.
  await page.getByRole('button', { name: /^sd15-components/ }).click();
  await expect(uses).toHaveText('This workflow uses unet.safetensors, clip_l.safetensors, vae.safetensors.');
  await expect(page.locator('[data-role="workflow-models"] li[data-state="picked"]')).toHaveCount(3);
  await expect(ui(page).prefix).toHaveValue('checkpoints/kept');
  for (const slot of ['model', 'clip', 'vae'] as const) await expectSlotOK(page, slot);
  expect(await ourDeprecationWarnings(app)).toEqual([]);
});

test('a loader node\'s context menu opens the tab with the slots named after the workflow\'s files', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page);
  // Where a node's title is on screen.
  const titleOf = (type: string) => page.evaluate((type) => {
    const comfy = (globalThis as any).app;
    const node = comfy.rootGraph.nodes.find((n: { type: string }) => n.type === type);
    const [x, y] = comfy.canvas.ds.convertOffsetToCanvas([node.pos[0] + 40, node.pos[1] - 15]);
    const rect = comfy.canvas.canvas.getBoundingClientRect();
    return { x: rect.left + x, y: rect.top + y };
  }, type);
  const entry = page.getByText("Save this workflow's models as one checkpoint", { exact: true });

  // Not on other nodes: the Empty Latent Image's menu opens without it.
  const latent = await titleOf('EmptyLatentImage');
  await page.mouse.click(latent.x, latent.y, { button: 'right' });
  await expect(page.getByText('Bypass', { exact: true }).first()).toBeVisible();
  await expect(entry).toHaveCount(0);
  await page.keyboard.press('Escape');

  // Right-click the VAELoader node's title on the canvas.
  const vae = await titleOf('VAELoader');
  await page.mouse.click(vae.x, vae.y, { button: 'right' });
  await entry.click();
  await expect(page.locator('[data-ckpt-saver]')).toHaveAttribute('data-engine', 'ready');
  await expect(page.locator('[data-role="workflow-uses"]')).toHaveText('This workflow uses unet.safetensors, clip_l.safetensors, vae.safetensors.');
  await expect(page.locator('[data-slot="model"] [data-role="slot-hint"]')).toHaveText('This workflow: unet.safetensors');
  await expect(page.locator('[data-slot="clip"] [data-role="slot-hint"]')).toHaveText('This workflow: clip_l.safetensors');
  await expect(page.locator('[data-slot="vae"] [data-role="slot-hint"]')).toHaveText('This workflow: vae.safetensors');

  // The same action is a command; on a workflow without component loaders it says so in a toast.
  await page.locator(TAB_BUTTON).click();
  await page.evaluate(() => (globalThis as any).app.loadGraphData({ nodes: [], links: [], groups: [], config: {}, extra: {}, version: 0.4, last_node_id: 0, last_link_id: 0 }));
  await page.evaluate(() => (globalThis as any).app.extensionManager.command.execute('ckptpack.SaveWorkflowModels'));
  await expect(toast(page, "Save this workflow's models as one checkpoint")).toContainText('loads no separate diffusion model');
  await expect(page.locator('.ckptpack-comfy')).toBeVisible();
  await expect(page.locator('[data-role="workflow-models"]')).toBeHidden();
  expect(await ourDeprecationWarnings(app)).toEqual([]);
});
