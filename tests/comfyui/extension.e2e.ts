// End-to-end test of the ComfyUI extension as a user installs it: the built
// zip is unpacked into a fresh custom_nodes folder and served by a fake
// ComfyUI (fake-comfyui-server.mjs + fake-comfyui/scripts/app.js), which loads
// extensions the way ComfyUI does. Then, in Chromium, the "Save Checkpoint"
// sidebar tab assembles a full-size SD1.5 checkpoint from the oracle fixtures
// and the downloaded file is checked byte by byte and for the workflow and
// prompt the page held.
//   make test-comfyui
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test, type PersistentApp } from '../helpers/browser';
import { buildFixturesTool, ensureFixtures, fixtureFile, REPO, verifyCheckpoint } from '../helpers/fixtures';
import { dropFiles, expectSlotOK, ui } from '../helpers/page';
import { readHeaderText } from '../helpers/safetensors';
import { FAKE_COMFYUI_PORT } from './playwright.config';

const PACKAGE_ZIP = path.join(REPO, 'build', 'comfyui', 'ckptpack.zip');
const CUSTOM_NODES = path.join(REPO, 'build', 'comfyui-e2e', 'custom_nodes');
const FAKE_ROOT = path.join(REPO, 'tests', 'comfyui', 'fake-comfyui');
const ORIGIN = `http://127.0.0.1:${FAKE_COMFYUI_PORT}`;

const WORKFLOW = JSON.parse(readFileSync(path.join(FAKE_ROOT, 'workflow.json'), 'utf8'));
const PROMPT = JSON.parse(readFileSync(path.join(FAKE_ROOT, 'prompt.json'), 'utf8'));

const SETTING = {
  prefix: 'ckptpack.FilenamePrefix',
  embed: 'ckptpack.EmbedWorkflow',
  sink: 'ckptpack.Sink',
};

let server: ChildProcess | undefined;

test.beforeAll(async () => {
  if (!existsSync(PACKAGE_ZIP)) throw new Error(`${PACKAGE_ZIP} is missing: run make comfyui-extension`);
  // Install exactly what a user downloads: unpack the zip, not build/comfyui/ckptpack/.
  await rm(CUSTOM_NODES, { recursive: true, force: true });
  await mkdir(CUSTOM_NODES, { recursive: true });
  execFileSync('unzip', ['-q', PACKAGE_ZIP, '-d', CUSTOM_NODES]);

  server = spawn(process.execPath, [path.join(REPO, 'tests', 'comfyui', 'fake-comfyui-server.mjs'), CUSTOM_NODES, String(FAKE_COMFYUI_PORT)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    server!.once('exit', (code) => reject(new Error(`fake ComfyUI server exited with ${code}`)));
    server!.stdout!.once('data', () => resolve());
  });

  await buildFixturesTool();
  await ensureFixtures('sd15');
});

test.afterAll(() => {
  server?.kill();
});

/** Loads the fake ComfyUI with saved settings and waits for every extension's setup(). */
async function openComfyUI(page: PersistentApp['page'], query: Record<string, string> = {}): Promise<void> {
  await page.goto(`/?${new URLSearchParams(query)}`);
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();
}

const sidebarButton = (page: PersistentApp['page']) => page.getByRole('button', { name: 'Save Checkpoint', exact: true });
const saveButton = (page: PersistentApp['page']) => page.getByRole('button', { name: 'Save checkpoint', exact: true });
const leaveOutMetadata = (page: PersistentApp['page']) => page.getByLabel('Leave out prompt and workflow');
const metadataSize = (page: PersistentApp['page']) => page.locator('[data-role="metadata-size"]');

/**
 * Changes a setting as ComfyUI's settings dialog does: settingStore.set calls
 * the setting's onChange(newValue, oldValue), then stores the value.
 */
async function changeSetting(page: PersistentApp['page'], id: string, value: unknown): Promise<void> {
  await page.evaluate(({ id, value }) => {
    const fake = (globalThis as any).fakeComfy.app;
    const old = fake.settingValue(id);
    fake.settingsById.get(id).onChange?.(value, old);
    fake.extensionManager.setting.set(id, value);
  }, { id, value });
}

/** The saver's engine has started (Save itself stays off until files are in). */
async function expectSaverReady(page: PersistentApp['page']): Promise<void> {
  await expect(page.locator('[data-ckpt-saver]')).toHaveAttribute('data-engine', 'ready');
}

async function openSaveTab(page: PersistentApp['page']): Promise<void> {
  await sidebarButton(page).click();
  await expectSaverReady(page);
  await expect(saveButton(page)).toBeDisabled();
}

async function readMetadata(file: string): Promise<Record<string, string>> {
  return JSON.parse(await readHeaderText(file)).__metadata__ ?? {};
}

/** Bytes of the raw JSON string token that follows "key": in header text. */
function rawStringTokenBytes(headerText: string, key: string): number {
  const at = headerText.indexOf(`${JSON.stringify(key)}:`);
  if (at < 0) throw new Error(`no ${key} in the header`);
  let i = headerText.indexOf('"', at + JSON.stringify(key).length + 1);
  const start = i;
  for (i += 1; headerText[i] !== '"'; i += 1) if (headerText[i] === '\\') i += 1;
  return Buffer.byteLength(headerText.slice(start, i + 1));
}

async function pickSD15Components(page: PersistentApp['page']): Promise<void> {
  const form = ui(page);
  await form.model.setInputFiles(fixtureFile('sd15', 'unet'));
  await form.clip.setInputFiles(fixtureFile('sd15', 'clip_l'));
  await form.vae.setInputFiles(fixtureFile('sd15', 'vae'));
  for (const slot of ['model', 'clip', 'vae'] as const) await expectSlotOK(page, slot);
}

async function saveAndDownload(page: PersistentApp['page']): Promise<{ file: string; name: string }> {
  const downloading = page.waitForEvent('download', { timeout: 10 * 60_000 });
  await saveButton(page).click();
  const download = await downloading;
  const file = await download.path();
  expect(await download.failure()).toBeNull();
  return { file, name: download.suggestedFilename() };
}

test('ComfyUI imports only the entry module; the tab, command, menu entry and settings are registered', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page, { settings: JSON.stringify({ [SETTING.prefix]: 'checkpoints/from-settings' }) });

  const listed = await page.evaluate(async () => (await fetch('/extensions')).json());
  expect(listed).toEqual(['/extensions/ckptpack/ckptpack.js']);
  expect(await page.evaluate(() => (globalThis as any).fakeComfy.app.loadErrors)).toEqual([]);

  const registered = await page.evaluate(() => {
    const fake = (globalThis as any).fakeComfy.app;
    return {
      settings: [...fake.settingsById.values()].map((s: any) => [s.id, s.type, s.defaultValue]),
      commands: [...fake.commands.keys()],
      tabs: fake.sidebarTabs.map((t: any) => [t.id, t.title, t.type]),
    };
  });
  expect(registered.settings).toEqual([
    [SETTING.prefix, 'text', 'checkpoints/ComfyUI'],
    [SETTING.embed, 'boolean', true],
    [SETTING.sink, 'combo', 'auto'],
  ]);
  expect(registered.commands).toContain('ckptpack.OpenSaveCheckpoint');
  expect(registered.tabs).toEqual([['ckptpack-save-checkpoint', 'Save Checkpoint', 'custom']]);

  // Nothing is loaded before the tab is opened, but the module the entry talks to ComfyUI through.
  expect(app.requests.filter((url) => url.includes('/extensions/ckptpack/lib/'))).toEqual([`${ORIGIN}/extensions/ckptpack/lib/comfy-host.mjs`]);

  // The menu entry opens the tab; the saved setting is the default prefix.
  await page.getByRole('menuitem', { name: 'Extensions › ckptpack › Save Checkpoint…' }).click();
  await expectSaverReady(page);
  await expect(ui(page).prefix).toHaveValue('checkpoints/from-settings');
  await expect(leaveOutMetadata(page)).toBeVisible();
  await expect(leaveOutMetadata(page)).not.toBeChecked();
  await expect(metadataSize(page)).toContainText('The workflow and its prompt add');

  // Running the command again keeps the open tab open.
  await page.getByRole('menuitem', { name: 'Extensions › ckptpack › Save Checkpoint…' }).click();
  await expect(saveButton(page)).toBeVisible();

  // Hiding and showing the tab keeps the same saver (and what the user typed).
  await ui(page).prefix.fill('checkpoints/typed');
  await sidebarButton(page).click();
  await expect(saveButton(page)).toHaveCount(0);
  await sidebarButton(page).click();
  await expect(ui(page).prefix).toHaveValue('checkpoints/typed');
  expect(app.requests.filter((url) => url.endsWith('/ckptpack.wasm'))).toHaveLength(1);
});

test('on frontends without extensionManager.setting the defaults come from app.ui.settings', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page, {
    legacySettings: '1',
    settings: JSON.stringify({ [SETTING.prefix]: 'checkpoints/legacy', [SETTING.embed]: false }),
  });
  expect(await page.evaluate(() => 'setting' in (globalThis as any).fakeComfy.app.extensionManager)).toBe(false);
  await openSaveTab(page);
  await expect(ui(page).prefix).toHaveValue('checkpoints/legacy');
  await expect(leaveOutMetadata(page)).toBeChecked();
  await expect(metadataSize(page)).toHaveText('The workflow and its prompt will not be embedded in the checkpoint.');
});

test('a full-size SD1.5 checkpoint is saved from the tab with the live workflow and prompt embedded', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page, { settings: JSON.stringify({ [SETTING.prefix]: 'checkpoints/e2e' }) });
  await openSaveTab(page);
  await pickSD15Components(page);

  const { file, name } = await saveAndDownload(page);
  expect(name).toBe('e2e_00001_.safetensors');

  const headerText = await readHeaderText(file);
  const metadata = JSON.parse(headerText).__metadata__;
  expect(Object.keys(metadata).sort()).toEqual(['modelspec.predict_key', 'prompt', 'workflow']);
  expect(JSON.parse(metadata.workflow)).toEqual(WORKFLOW);
  expect(JSON.parse(metadata.prompt)).toEqual(PROMPT);
  // Python's json.dumps (ensure_ascii): the header holds no raw non-ASCII text.
  expect(metadata.workflow).toContain('\\u00dcberpr\\u00fcfung');
  expect(metadata.workflow).toContain('\\ud83d\\ude42');

  // The tab's size estimate models the engine's encoding byte for byte.
  const estimated = await metadataSize(page).evaluate((el: HTMLElement) => ({ ...el.dataset }));
  expect(Number(estimated.workflowBytes)).toBe(rawStringTokenBytes(headerText, 'workflow'));
  expect(Number(estimated.promptBytes)).toBe(rawStringTokenBytes(headerText, 'prompt'));
  // The header size the tab shows is the engine's planned headerBytes: 8 + N of the file.
  expect(estimated.headerExact).toBe('true');
  expect(Number(estimated.headerBytes)).toBe(8 + Buffer.byteLength(headerText));

  const verified = await verifyCheckpoint('sd15', file);
  expect(verified.ok, verified.output).toBe(true);

  // Every asset came from this ComfyUI server, under the package's folder.
  const http = app.requests.filter((url) => /^https?:/.test(url));
  expect(http.filter((url) => !url.startsWith(`${ORIGIN}/`))).toEqual([]);
  for (const asset of ['lib/app/saver.mjs', 'lib/worker.mjs', 'lib/wasm_exec.mjs', 'lib/ckptpack.wasm', 'lib/style.css']) {
    expect(http).toContain(`${ORIGIN}/extensions/ckptpack/${asset}`);
  }
});

test('with "leave out prompt and workflow" on, the checkpoint holds neither', async ({ app }) => {
  const { page } = app;
  // The saved settings turn embedding off and pick the direct download.
  await openComfyUI(page, { settings: JSON.stringify({ [SETTING.embed]: false, [SETTING.sink]: 'blob' }) });
  await openSaveTab(page);
  // The switch is in view without opening the collapsed Metadata section.
  await expect(page.locator('details[data-role="metadata"]')).not.toHaveAttribute('open');
  await expect(leaveOutMetadata(page)).toBeVisible();
  await expect(leaveOutMetadata(page)).toBeChecked();
  await expect(page.getByRole('radio', { name: /Download directly/ })).toBeChecked();
  await pickSD15Components(page);

  const { file, name } = await saveAndDownload(page);
  expect(name).toBe('ComfyUI_00001_.safetensors');
  const metadata = await readMetadata(file);
  expect(metadata).toEqual({ 'modelspec.predict_key': 'epsilon' });
});

test('the tab warns when the workflow would push the header past 4 MiB, and notes the 1 MiB model-library limit', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page, { noteBytes: String(5 * 1024 * 1024) });
  await openSaveTab(page);
  await expect(metadataSize(page).locator('[data-role="metadata-too-big"]')).toBeVisible();
  await expect(metadataSize(page)).toContainText('over 4 MiB');

  // Leaving the workflow out ends the warning; taking it back brings it back.
  await leaveOutMetadata(page).check();
  await expect(metadataSize(page)).toHaveText('The workflow and its prompt will not be embedded in the checkpoint.');
  await leaveOutMetadata(page).uncheck();
  await expect(metadataSize(page).locator('[data-role="metadata-too-big"]')).toBeVisible();

  // Editing the graph (the frontend's graphChanged event) updates the estimate.
  await page.evaluate(({ workflow, size }) => {
    const note = { id: 6, type: 'Note', pos: [0, 0], size: [100, 100], flags: {}, order: 5, mode: 0, inputs: [], outputs: [], properties: {}, widgets_values: ['y'.repeat(size)] };
    (globalThis as any).fakeComfy.app.setWorkflow({ ...workflow, nodes: [...workflow.nodes, note] });
  }, { workflow: WORKFLOW, size: 1024 * 1024 });
  await expect(metadataSize(page).locator('[data-role="metadata-over-library-limit"]')).toBeVisible();
  await expect(metadataSize(page).locator('[data-role="metadata-too-big"]')).toHaveCount(0);

  await page.evaluate((workflow) => (globalThis as any).fakeComfy.app.setWorkflow(workflow), WORKFLOW);
  await expect(metadataSize(page).locator('[data-role="metadata-over-library-limit"]')).toHaveCount(0);
  await expect(metadataSize(page)).toContainText('The workflow and its prompt add');
  // Before a plan the size is an estimate; once the engine has planned, it is exact.
  await expect(metadataSize(page)).toHaveAttribute('data-header-exact', 'false');
  await pickSD15Components(page);
  await expect(metadataSize(page)).toHaveAttribute('data-header-exact', 'true');
  await expect(metadataSize(page).locator('[data-role="metadata-over-library-limit"]')).toHaveCount(0);
});

test('settings changed while the tab is open apply to it at once', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page);
  await openSaveTab(page);
  await pickSD15Components(page);
  // The destination setting's default is the saver's recommendation: here the direct download.
  await expect(page.getByRole('radio', { name: /Download directly/ })).toBeChecked();
  await expect(page.getByText('Will download ComfyUI_00001_.safetensors')).toBeVisible();
  await expect(leaveOutMetadata(page)).not.toBeChecked();
  const embeddedHeader = Number(await metadataSize(page).getAttribute('data-header-bytes'));

  await changeSetting(page, SETTING.prefix, 'checkpoints/live');
  await expect(ui(page).prefix).toHaveValue('checkpoints/live');
  await expect(page.getByText('Will download live_00001_.safetensors')).toBeVisible();

  await changeSetting(page, SETTING.embed, false);
  await expect(leaveOutMetadata(page)).toBeChecked();
  await expect(metadataSize(page)).toHaveText('The workflow and its prompt will not be embedded in the checkpoint.');
  // The next plan leaves them out: its exact header is smaller by their size.
  await expect(metadataSize(page)).toHaveAttribute('data-header-exact', 'true');
  await expect.poll(async () => Number(await metadataSize(page).getAttribute('data-header-bytes'))).toBeLessThan(embeddedHeader);

  await changeSetting(page, SETTING.sink, 'opfs');
  await expect(page.getByRole('radio', { name: /Browser storage, then download/ })).toBeChecked();
  await changeSetting(page, SETTING.sink, 'auto');
  await expect(page.getByRole('radio', { name: /Download directly/ })).toBeChecked();
  // The prefix the user types stays when another setting changes.
  await ui(page).prefix.fill('checkpoints/typed');
  await changeSetting(page, SETTING.embed, true);
  await expect(leaveOutMetadata(page)).not.toBeChecked();
  await expect(ui(page).prefix).toHaveValue('checkpoints/typed');

  const { file, name } = await saveAndDownload(page);
  expect(name).toBe('typed_00001_.safetensors');
  expect(Object.keys(await readMetadata(file)).sort()).toEqual(['modelspec.predict_key', 'prompt', 'workflow']);
});

test('the size estimate counts header bytes exactly as Python json.dumps output stored in a header', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page);
  const cases = [
    WORKFLOW,
    PROMPT,
    { numbers: [1e-7, 0.00001, 0.0001, 1e21, 1e16 + 2, -0, -12.5, 123.456, 5e-324, 0.1, 100, Number.NaN], flags: [true, false, null] },
    { 'ü-key': 'ASCII ~ DEL\u007f NUL\u0000 US\u001f tab\t "q" \\ / <>& 日本語 🙂 lone\ud800' },
    [],
    {},
    '',
  ];
  const estimated = await page.evaluate(async (values) => {
    const mod = await import('/extensions/ckptpack/ckptpack.js');
    return values.map((v: unknown) => mod.headerBytesOfPythonJSON(JSON.parse(JSON.stringify(v))));
  }, cases);
  // The engine gets JSON.stringify's text and re-encodes it like json.dumps;
  // the header stores that text as a JSON string: json.dumps(json.dumps(v)).
  const python = execFileSync('python3', ['-c',
    'import json, sys\nfor v in json.load(sys.stdin): print(len(json.dumps(json.dumps(v))))'],
  { input: JSON.stringify(cases) }).toString().trim().split('\n').map(Number);
  expect(estimated).toEqual(python);
});

test('files dropped on the tab go to the saver, not to ComfyUI\'s canvas drop handler', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page);
  await openSaveTab(page);
  const vae = fixtureFile('sd15', 'vae');

  await dropFiles(page, [vae], page.locator('[data-ckpt-saver]'));
  await expectSlotOK(page, 'vae');
  expect(await page.evaluate(() => (globalThis as any).fakeComfy.app.canvasDrops)).toEqual([]);

  // The same drop on the canvas reaches ComfyUI's handler (the check above can fail).
  await dropFiles(page, [vae], page.getByRole('main', { name: 'Canvas' }));
  expect(await page.evaluate(() => (globalThis as any).fakeComfy.app.canvasDrops)).toEqual(['vae.safetensors']);
});

test('the tab also offers the Tools panel: the VAE of a VAE file extracts as VAESave writes it', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page);
  await openSaveTab(page);
  const tools = page.getByRole('region', { name: 'Tools' });
  await tools.getByText('Tools: extract, convert, prune').click();
  await tools.getByLabel('File to process').setInputFiles(fixtureFile('sd15', 'vae'));
  await tools.getByLabel('Operation').selectOption({ label: 'Extract the VAE (as VAESave)' });
  await expect(tools.locator('[data-role="tools-plan"]')).toContainText('Will write vae/ComfyUI_vae_00001_.safetensors');
  // Converting shows the census first and offers no direct download (computed bytes).
  await tools.getByLabel('Operation').selectOption({ label: 'Convert precision' });
  await tools.getByLabel(/Convert every component/).check();
  await expect(tools.locator('[data-role="tools-plan"]')).toContainText('248 tensors: F16 248');
  await expect(tools.getByLabel(/^Download directly/)).toBeDisabled();
  await tools.getByLabel('Operation').selectOption({ label: 'Extract the VAE (as VAESave)' });
  const downloadEvent = page.waitForEvent('download');
  await tools.getByRole('button', { name: 'Run' }).click();
  const download = await downloadEvent;
  expect(download.suggestedFilename()).toBe('ComfyUI_vae_00001_.safetensors');
  // The VAE fixture is what VAESave writes: the extraction is byte-identical.
  const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
  expect(sha(await download.path())).toBe(sha(fixtureFile('sd15', 'vae')));
  const http = app.requests.filter((url) => /^https?:/.test(url));
  expect(http).toContain(`${ORIGIN}/extensions/ckptpack/lib/app/tools.mjs`);
});

test('the ModelSpec editor in the tab writes an edited copy of an existing file', async ({ app }) => {
  const { page } = app;
  await openComfyUI(page);
  await openSaveTab(page);
  const scratch = path.join(REPO, 'build', 'comfyui-e2e', 'scratch');
  await mkdir(scratch, { recursive: true });
  // A one-tensor safetensors file (8-byte length, JSON padded to 8, data).
  const json = Buffer.from('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}    '.slice(0, 56));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const small = path.join(scratch, 'small.safetensors');
  await writeFile(small, Buffer.concat([len, json, Buffer.alloc(16, 3)]));

  const editor = page.locator('[data-ckpt-metadata-editor]');
  await editor.locator('summary').click();
  await editor.getByLabel('An existing file').check();
  await editor.getByLabel('Existing .safetensors file').setInputFiles(small);
  await expect(editor.getByText('small.safetensors: unknown architecture')).toBeVisible();
  await editor.getByLabel('Title', { exact: true }).fill('From ComfyUI');
  await editor.getByLabel(/^Download directly/).check();
  const downloading = page.waitForEvent('download');
  await editor.getByRole('button', { name: 'Save edited copy' }).click();
  const file = await (await downloading).path();
  expect((await readMetadata(file))['modelspec.title']).toBe('From ComfyUI');
});
