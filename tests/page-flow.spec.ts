// The page as a newcomer meets it, on a desktop (1280×900) and a phone
// (390×844), down to 360 px: drop zones that look like drop zones, a plain
// summary per slot with the technical details behind a toggle, Save enabled
// only while the plan is valid (a wrong file's error stays until it is
// fixed), the status and the result next to Save, the download name the
// plan line shows, the sink chosen for this browser with a line on why, and
// dark mode. Screenshots of each state are attached to the test results.
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test as base, expect, type Page, type TestInfo } from '@playwright/test';
import { test as persistent } from './helpers/browser';
import { fixtureFile, REPO } from './helpers/fixtures';
import { dropFiles, expectSlotOK, openSaver, openTask, pickComponents, scratchFileInput, sinkRadio, ui } from './helpers/page';

const SCRATCH = path.join(REPO, 'build', 'test-scratch', 'page-flow');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const NARROW = { width: 360, height: 740 };

base.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
});
base.afterAll(async () => {
  await rm(SCRATCH, { recursive: true, force: true });
});

/** The page scrolls sideways when its content is wider than the window. */
async function expectNoSidewaysScroll(page: Page): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.scrollingElement!.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  expect(scrollWidth, `page is ${scrollWidth} px wide in a ${innerWidth} px window`).toBeLessThanOrEqual(innerWidth);
}

async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const file = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

for (const viewport of [DESKTOP, PHONE, NARROW]) {
  base(`first visit at ${viewport.width}×${viewport.height}: drop zones, Save off until files are in, no sideways scroll`, async ({ page }, testInfo) => {
    await page.setViewportSize(viewport);
    const u = ui(page);
    await openSaver(page, 'index.html', { sink: null });
    await expect(u.status).toHaveText(/^Add a diffusion model, text encoders and a VAE/);
    await expect(u.save).toBeDisabled();
    for (const slot of ['model', 'clip', 'vae'] as const) {
      const zone = u.slot(slot).locator('.ckpt-drop');
      await expect(zone).toBeVisible();
      await expect(zone).toContainText(/^Drop the .* here, or choose/);
      expect(await zone.evaluate((el) => getComputedStyle(el).borderTopStyle)).toBe('dashed');
      // The native input covers the zone, transparent: its "No file chosen" never shows.
      const input = u.slot(slot).locator('input[type="file"]');
      expect(await input.evaluate((el) => getComputedStyle(el).opacity)).toBe('0');
      // It fills the zone inside its 2 px dashed border, so a click anywhere opens the picker.
      const [inputBox, zoneBox] = [(await input.boundingBox())!, (await zone.boundingBox())!];
      expect(Math.abs(inputBox.x - zoneBox.x)).toBeLessThanOrEqual(2);
      expect(Math.abs(inputBox.y - zoneBox.y)).toBeLessThanOrEqual(2);
      expect(inputBox.width).toBeGreaterThanOrEqual(zoneBox.width - 4);
      expect(inputBox.height).toBeGreaterThanOrEqual(zoneBox.height - 4);
    }
    await expectNoSidewaysScroll(page);
    await screenshot(page, testInfo, `empty-${viewport.width}`);
  });
}

base('a wrong file: Save stays off and its error stays until the file is replaced', async ({ page }, testInfo) => {
  await page.setViewportSize(PHONE);
  const u = ui(page);
  await openSaver(page);
  await u.model.setInputFiles(fixtureFile('sd15', 'vae'));
  await expect(u.alert).toContainText('vae.safetensors holds a VAE');
  await expect(u.alert).toContainText('not a diffusion model');
  await expect(u.slot('model').locator('.ckpt-file-problem')).toContainText('not a diffusion model');
  await expect(u.save).toBeDisabled();

  // Filling the other slots and changing an option keep the error, and Save off.
  await u.clip.setInputFiles(fixtureFile('sd15', 'clip_l'));
  await u.vae.setInputFiles(fixtureFile('sd15', 'vae'));
  await expectSlotOK(page, 'clip');
  await expectSlotOK(page, 'vae');
  await u.prefix.fill('checkpoints/Mine');
  await u.prefix.press('Tab');
  await expect(u.status).toHaveText('Save is off until the problem above is fixed.');
  await expect(u.alert).toContainText('not a diffusion model');
  await expect(u.save).toBeDisabled();
  // A click on the disabled button changes nothing.
  await u.save.click({ force: true });
  await expect(u.alert).toContainText('not a diffusion model');
  await expect(u.alert).not.toContainText('first');
  await expectNoSidewaysScroll(page);
  await screenshot(page, testInfo, 'wrong-file-390');

  // Replacing the file ends the error and turns Save on.
  await u.model.setInputFiles(fixtureFile('sd15', 'unet'));
  await expectSlotOK(page, 'model');
  await expect(u.alert).toBeEmpty();
  await expect(u.plan).toContainText('checkpoints/Mine_00001_.safetensors');
  await expect(u.status).toHaveText('Ready to save.');
  await expect(u.save).toBeEnabled();
});

base('status says what is missing, and Save turns on only with a plan', async ({ page }) => {
  const u = ui(page);
  await openSaver(page);
  await u.model.setInputFiles(fixtureFile('sd15', 'unet'));
  await expectSlotOK(page, 'model');
  await expect(u.status).toHaveText('Still needed: text encoders and a VAE.');
  await expect(u.save).toBeDisabled();
  await u.clip.setInputFiles(fixtureFile('sd15', 'clip_l'));
  await expectSlotOK(page, 'clip');
  await expect(u.status).toHaveText('Still needed: a VAE.');
  await expect(u.save).toBeDisabled();
  await u.vae.setInputFiles(fixtureFile('sd15', 'vae'));
  await expectSlotOK(page, 'vae');
  await expect(u.status).toHaveText('Ready to save.');
  await expect(u.save).toBeEnabled();
  // Removing a file turns Save off again and says what is missing.
  await page.getByRole('button', { name: 'Remove vae.safetensors from VAE' }).click();
  await expect(u.status).toHaveText('Still needed: a VAE.');
  await expect(u.save).toBeDisabled();
  await expect(u.plan).toBeEmpty();
});

base('filled slots read in plain words; the technical details are behind a toggle', async ({ page }, testInfo) => {
  await page.setViewportSize(DESKTOP);
  const u = ui(page);
  await openSaver(page);
  await pickComponents(page);
  await expect(u.slot('model').locator('.ckpt-file-summary')).toHaveText('Stable Diffusion 1.5 diffusion model, 16-bit, 1.72 GB');
  await expect(u.slot('clip').locator('.ckpt-file-summary')).toHaveText('CLIP-L text encoder, 16-bit, 247 MB');
  await expect(u.slot('vae').locator('.ckpt-file-summary')).toHaveText(/^VAE for Stable Diffusion 1\.x, 2\.x and XL, (16|32)-bit, [\d.]+ MB$/);
  // Jargon (layout, dtype census, ComfyUI class) only inside Details.
  const technical = u.slot('model').locator('.ckpt-file-tech');
  await expect(technical).toBeHidden();
  await expect(technical).toContainText('F16');
  await expect(technical).toContainText('SD15');
  await u.slot('model').getByText('Details', { exact: true }).click();
  await expect(technical).toBeVisible();
  await expect(technical).toContainText('Architecture (ComfyUI class): SD15');
  // A filled slot shows no native file-input text, and offers to replace the file.
  await expect(u.slot('model')).not.toContainText('No file chosen');
  await expect(u.slot('model').locator('.ckpt-drop')).toContainText('Drop another diffusion model here to replace it');
  await expect(u.slot('clip').locator('.ckpt-drop')).toContainText('Drop another text encoder here');
  await expect(u.plan).toHaveText('Will write checkpoints/ComfyUI_00001_.safetensors: Stable Diffusion 1.5 checkpoint, 2.30 GB, '
    + 'into browser storage, then download it. A download cannot keep the checkpoints/ folder, so the file is named ComfyUI_00001_.safetensors.');
  await expectNoSidewaysScroll(page);
  await screenshot(page, testInfo, 'filled-1280');
});

base('the whole page takes drops: every slot lights up, and the files go where they fit', async ({ page }) => {
  const u = ui(page);
  await openSaver(page);
  const banner = page.locator('[data-role="drop-banner"]');
  await expect(banner).toBeHidden();
  // A drag in progress: dragover repeats while the pointer is over the page.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['x'], 'x.safetensors'));
    const over = () => document.body.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    over();
    (window as any).__dragging = setInterval(over, 100);
  });
  await expect(banner).toBeVisible();
  expect(await u.slot('vae').locator('.ckpt-drop').evaluate((el) => getComputedStyle(el).borderTopColor))
    .toBe(await page.locator('[data-ckpt-saver]').evaluate((el) => {
      // The accent colour, resolved the same way.
      const probe = document.createElement('span');
      probe.style.color = 'var(--ckpt-accent)';
      el.append(probe);
      const color = getComputedStyle(probe).color;
      probe.remove();
      return color;
    }));
  await page.evaluate(() => clearInterval((window as any).__dragging));
  await dropFiles(page, [fixtureFile('sd15', 'clip_l'), fixtureFile('sd15', 'vae'), fixtureFile('sd15', 'unet')]);
  await expect(banner).toBeHidden();
  await expectSlotOK(page, 'model');
  await expectSlotOK(page, 'clip');
  await expectSlotOK(page, 'vae');
  await expect(u.save).toBeEnabled();
});

base('hook: saver.addFiles places files by content, saver.putFiles fills one slot', async ({ page }) => {
  const u = ui(page);
  await openSaver(page);
  const scratch = await scratchFileInput(page, [fixtureFile('sd15', 'vae'), fixtureFile('sd15', 'unet')]);
  await page.evaluate(async (input) => {
    const saver = (globalThis as any).ckptpack.saver;
    const [vae, unet] = [...(input as HTMLInputElement).files!];
    await saver.addFiles([vae]);
    saver.putFiles('model', [unet]);
    (input as HTMLInputElement).remove();
  }, scratch);
  await expectSlotOK(page, 'vae');
  await expectSlotOK(page, 'model');
  await expect(u.status).toHaveText('Still needed: text encoders.');
});

base('the sink is chosen for the browser, with one line on why', async ({ page }) => {
  const u = ui(page);
  // The direct download is the fastest sink in Chromium; the file picker
  // (which Chromium has) is offered for writing into a folder of one's own.
  await openSaver(page, 'index.html', { sink: null });
  await expect(sinkRadio(page, 'blob')).toBeChecked();
  await expect(sinkRadio(page, 'blob').locator('xpath=..')).toContainText('recommended');
  await expect(u.sinkWhy).toHaveText(/^Recommended here: Download directly\. Fastest here: one write/);
  await expect(u.sinkWhy).toContainText('To write straight into your ComfyUI models/checkpoints folder instead, choose "Save to a file on disk"');
  // Another choice keeps the recommendation in view.
  await sinkRadio(page, 'opfs').check();
  await expect(u.sinkWhy).toContainText('Recommended here: Download directly.');
  await expect(u.sinkWhy).toContainText('In a private window, browser storage lives in memory');
});

base('without the file picker the direct download is chosen', async ({ page }) => {
  await page.addInitScript(() => {
    delete (window as any).showSaveFilePicker;
  });
  const u = ui(page);
  await openSaver(page, 'index.html', { sink: null });
  await expect(page.locator('[data-ckpt-saver]').getByLabel('Save to a file on disk')).toBeHidden();
  await expect(sinkRadio(page, 'blob')).toBeChecked();
  await expect(u.sinkWhy).toHaveText(/^Recommended here: Download directly\. Fastest here: one write, the download reads your files as it saves/);
});

base('a private window (storage refused or tiny) is steered away from browser storage', async ({ page }) => {
  // Firefox and Safari refuse OPFS in private windows.
  await page.addInitScript(() => {
    delete (window as any).showSaveFilePicker;
    navigator.storage.getDirectory = () => Promise.reject(new DOMException('The operation is insecure.', 'SecurityError'));
  });
  await openSaver(page, 'index.html', { sink: null });
  await expect(sinkRadio(page, 'blob')).toBeChecked();
  await expect(page.locator('[data-ckpt-saver]').getByLabel('Browser storage, then download')).toBeHidden();
  await expect(ui(page).saved).toContainText('Browser storage is turned off here (a private window?).');
  // The Tools' sink choice is the same component: the same sinks offered.
  await openTask(page, 'tools');
  const tools = page.getByRole('region', { name: 'Tools' });
  await expect(tools.getByLabel('Browser storage, then download')).toBeHidden();
  await expect(tools.getByLabel(/^Download directly/)).toBeChecked();
});

base('storage that holds less than a checkpoint is called out when chosen', async ({ page }) => {
  await page.addInitScript(() => {
    const estimate = navigator.storage.estimate.bind(navigator.storage);
    navigator.storage.estimate = async () => ({ ...(await estimate()), quota: 300 * 1000 * 1000 });
  });
  const u = ui(page);
  await openSaver(page, 'index.html', { sink: null });
  await expect(sinkRadio(page, 'blob')).toBeChecked();
  await sinkRadio(page, 'opfs').check();
  await expect(u.sinkWhy).toContainText('Browser storage holds only 300 MB here: private windows keep it in memory.');
  await expect(u.sinkWhy).toContainText('choose Download directly instead');
});

for (const size of [DESKTOP, PHONE]) {
  base(`${size.width}×${size.height}: direct download: the name the plan line shows, the result by the Save button, no "in 0 s"`, async ({ page }, testInfo) => {
    await page.setViewportSize(size);
    const u = ui(page);
    await openSaver(page, 'index.html', { sink: 'blob' });
    await pickComponents(page);
    await expect(u.plan).toHaveText('Will download ComfyUI_00001_.safetensors: Stable Diffusion 1.5 checkpoint, 2.30 GB. '
      + 'A download cannot keep the checkpoints/ folder, so the file is named ComfyUI_00001_.safetensors.');
    const downloading = page.waitForEvent('download', { timeout: 5 * 60_000 });
    await u.save.click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe('ComfyUI_00001_.safetensors');
    await download.cancel();
    // The result names the file, in the status region (a live region) next to Save.
    await expect(u.result).toContainText('Handed to your browser\'s downloads: ComfyUI_00001_.safetensors');
    await expect(u.result).toContainText('Keep the input files unchanged until the download finishes');
    // What the page knows: the header and the file slices it handed over, and
    // where the download's own progress is.
    await expect(u.result).toContainText(/The page handed over the header \([\d.]+ [kKM]B\) and \d+ slices of your files \(2\.\d+ GB\)/);
    await expect(u.result).toContainText("browser's downloads list");
    await expect(u.result).toContainText('The download is named ComfyUI_00001_.safetensors: a download cannot keep the checkpoints/ folder.');
    await expect(page.locator('[data-ckpt-saver]')).toHaveAttribute('data-outcome', 'saved');
    // The counter moves on, as after a save to browser storage: the next
    // download is not named like this one.
    await expect(u.plan).toContainText('Will download ComfyUI_00002_.safetensors');
    await expect(u.status).toContainText('ComfyUI_00001_.safetensors');
    expect(await u.status.getAttribute('role')).toBe('status');
    await expect(u.status).not.toContainText(/\b0 s\b/);
    const [button, result] = [await u.save.boundingBox(), await u.result.boundingBox()];
    expect(Math.abs(result!.y - button!.y)).toBeLessThan(size.height / 4);
    await expect(u.alert).toBeEmpty();
    await expectNoSidewaysScroll(page);
    await screenshot(page, testInfo, `downloaded-${size.width}`);
  });
}

persistent('browser storage: progress with MB/s and Cancel next to Save, then the result with its file name', async ({ app }, testInfo) => {
  const { page } = app;
  await page.setViewportSize(DESKTOP);
  const u = ui(page);
  await openSaver(page);
  await pickComponents(page);
  const downloading = page.waitForEvent('download', { timeout: 5 * 60_000 });
  await u.save.click();
  await expect(u.cancel).toBeVisible();
  await expect(u.cancel).toBeEnabled();
  await expect(u.status).toContainText('Writing checkpoints/ComfyUI_00001_.safetensors');
  await expect(page.locator('[data-role="progress-text"]')).toContainText(/ of 2\.30 GB · \d+ MB\/s/, { timeout: 5 * 60_000 });
  const [button, cancel] = [await u.save.boundingBox(), await u.cancel.boundingBox()];
  expect(Math.abs(cancel!.y - button!.y)).toBeLessThan(DESKTOP.height / 4);
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('ComfyUI_00001_.safetensors');
  await expect(u.result).toContainText('Saved checkpoints/ComfyUI_00001_.safetensors');
  await expect(u.result).toContainText(/Stable Diffusion 1\.5 checkpoint, 2\.30 GB, written to browser storage in [\d.]+ (s|min)/);
  await expect(u.result).toContainText('The download of ComfyUI_00001_.safetensors has started.');
  await expect(u.cancel).toBeHidden();
  await expect(u.alert).toBeEmpty();
  // The next save gets the next counter.
  await expect(u.plan).toContainText('Will write checkpoints/ComfyUI_00002_.safetensors');
  await download.cancel();
  await screenshot(page, testInfo, 'saved-1280');
});

base('360 px with long file names, an error and details open: still no sideways scroll', async ({ page }, testInfo) => {
  await page.setViewportSize(NARROW);
  const long = path.join(SCRATCH, `${'realisticVisionV60B1_v51HyperVAE_fp16_pruned_emaonly_'.repeat(3)}unet.safetensors`);
  await rm(long, { force: true });
  await symlink(fixtureFile('sd15', 'unet'), long);
  const u = ui(page);
  await openSaver(page);
  await u.model.setInputFiles(long);
  await u.clip.setInputFiles(fixtureFile('sd15', 'vae'));
  await expect(u.alert).toContainText('not a text encoder');
  await expectSlotOK(page, 'model');
  await u.slot('model').getByText('Details', { exact: true }).click();
  await page.getByText('Metadata', { exact: true }).click();
  await expectNoSidewaysScroll(page);
  await screenshot(page, testInfo, 'narrow-360');
});

base('dark mode follows the system setting', async ({ page }, testInfo) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.setViewportSize(PHONE);
  await openSaver(page);
  await pickComponents(page);
  const luminance = (rgb: string) => {
    const [r, g, b] = rgb.match(/\d+/g)!.map(Number);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const colors = await page.evaluate(() => ({
    background: getComputedStyle(document.body).backgroundColor,
    text: getComputedStyle(document.querySelector('.ckpt-file-name')!).color,
  }));
  expect(luminance(colors.background)).toBeLessThan(60);
  expect(luminance(colors.text)).toBeGreaterThan(180);
  await expectNoSidewaysScroll(page);
  await screenshot(page, testInfo, 'dark-390');
});

base('plain words: durations never read "0 s", precision and model names, the sink for each browser', async ({ page }) => {
  await page.goto('index.html');
  const result = await page.evaluate(async () => {
    const format = await import('./app/format.js');
    const sinks = await import('./app/sinks.js');
    const caps = (over: object) => ({ canPickFile: false, opfs: true, privateWindow: false, storageNote: '', ...over });
    return {
      durations: [0, 0.04, 0.43, 4, 9.96, 42.4, 125].map(format.formatDuration),
      eta: format.formatProgress({ done: 1e9, total: 2.3e9, mbps: 512.4, etaSeconds: 2.54 }),
      precision: [{ F16: 686 }, { F16: 197, F32: 1 }, { BF16: 300 }, { F8_E4M3: 50, F16: 50 }, { F32: 1, I64: 1 }].map(format.precisionWords),
      names: ['SDXL', 'Flux', 'WAN22_T2V', 'SomethingNew'].map(format.architectureName),
      contents: format.describeContents({ architecture: 'SD15', components: [
        { slot: 'model', kind: 'SD15' }, { slot: 'clip', kind: 'clip_l', detail: 'CLIP-L text encoder' }, { slot: 'vae', kind: 'kl4' }] }),
      picker: sinks.recommendSink(caps({ canPickFile: true }), null).sink,
      pickerComputed: sinks.recommendSink(caps({ canPickFile: true }), { blobOK: false }).sink,
      plain: sinks.recommendSink(caps({}), { blobOK: true }).sink,
      computed: sinks.recommendSink(caps({}), { blobOK: false }).sink,
      computedPrivate: sinks.recommendSink(caps({ privateWindow: true }), { blobOK: false }).why,
    };
  });
  expect(result.durations).toEqual(['0.1 s', '0.1 s', '0.4 s', '4 s', '10 s', '42 s', '2 min 05 s']);
  expect(result.eta).toBe('1.00 GB of 2.30 GB · 512 MB/s · about 3 s left');
  expect(result.precision).toEqual(['16-bit', '16-bit', '16-bit (bfloat16)', 'mostly 8-bit (fp8)', 'mostly 32-bit']);
  expect(result.names).toEqual(['Stable Diffusion XL', 'FLUX.1 [dev]', 'Wan 2.2', 'SomethingNew']);
  expect(result.contents).toBe('a Stable Diffusion 1.5 diffusion model, a CLIP-L text encoder, a VAE for Stable Diffusion 1.x, 2.x and XL');
  expect(result).toMatchObject({ picker: 'blob', pickerComputed: 'file', plain: 'blob', computed: 'opfs' });
  expect(result.computedPrivate).toContain('browser storage here is small');
});

base('hook: filesFromDrop turns a drop into files (a folder walk, say)', async ({ page }) => {
  await page.goto('index.html');
  const scratch = await scratchFileInput(page, [fixtureFile('sd15', 'vae')]);
  await page.evaluate(async (input) => {
    const w = globalThis as any;
    const files = [...(input as HTMLInputElement).files!];
    await w.ckptpack.saver.ready.catch(() => {});
    w.ckptpack.saver.destroy();
    document.body.replaceChildren();
    const host = document.createElement('div');
    document.body.append(host);
    const { mountSaver } = await import('./app/saver.js');
    w.dropped = [];
    w.handle = mountSaver(host, {
      filesFromDrop: (dataTransfer: DataTransfer) => {
        w.dropped.push([...dataTransfer.items].map((item) => item.getAsFile()?.name));
        return Promise.resolve(files);
      },
    });
    await w.handle.ready;
    const dt = new DataTransfer();
    dt.items.add(new File([''], 'models-folder'));
    host.firstElementChild!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, scratch);
  await expectSlotOK(page, 'vae');
  expect(await page.evaluate(() => (globalThis as any).dropped)).toEqual([['models-folder']]);
});

base('a prefix typed and Save clicked at once: the click saves, under the typed name', async ({ page }) => {
  const u = ui(page);
  await openSaver(page, 'index.html', { sink: 'blob' });
  await pickComponents(page);
  await expect(u.save).toBeEnabled();
  // The field commits its change on blur, which this very click causes.
  await u.prefix.fill('checkpoints/typed');
  const downloading = page.waitForEvent('download', { timeout: 5 * 60_000 });
  await u.save.click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('typed_00001_.safetensors');
  await download.cancel();
  await expect(u.result).toContainText('Handed to your browser\'s downloads: typed_00001_.safetensors');
  await expect(u.plan).toContainText('Will download typed_00001_.safetensors');
});

/**
 * Opens the other two tasks, the ModelSpec editor (on an existing file, its
 * longest form) and the Tools, with a file picked in each; the Tools stay shown.
 */
async function openPanels(page: Page, onShown: (task: 'metadata' | 'tools') => Promise<void> = async () => {}): Promise<void> {
  const editor = page.locator('[data-ckpt-metadata-editor]');
  await openTask(page, 'metadata');
  await editor.getByLabel('An existing file').check();
  await editor.getByLabel('Existing .safetensors file').setInputFiles(fixtureFile('sd15', 'vae'));
  await expect(editor.locator('.ckpt-hint', { hasText: /^vae\.safetensors: / })).toBeVisible();
  await onShown('metadata');
  const tools = page.getByRole('region', { name: 'Tools' });
  await openTask(page, 'tools');
  await tools.getByLabel('File to process').setInputFiles(fixtureFile('sd15', 'vae'));
  await tools.getByLabel('Operation').selectOption({ label: 'Extract the VAE (as VAESave)' });
  await expect(tools.locator('[data-role="tools-plan"]')).toContainText('Will write vae/ComfyUI_vae_00001_.safetensors');
  await onShown('tools');
}

for (const scheme of ['light', 'dark'] as const) {
  base(`360 px, ${scheme}: the ModelSpec editor and the Tools in use, drop-zone pickers, no sideways scroll`, async ({ page }, testInfo) => {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize(NARROW);
    await openSaver(page);
    await pickComponents(page);
    await page.getByText('Metadata', { exact: true }).click();
    await expectNoSidewaysScroll(page);
    await openPanels(page, async (task) => {
      await expectNoSidewaysScroll(page);
      await screenshot(page, testInfo, `${task}-360-${scheme}`);
    });
    // Their file pickers are drop zones like the slots': dashed, the native input transparent over them.
    const zones = page.locator('[data-ckpt-metadata-editor] .ckpt-drop, [aria-label="Tools"] .ckpt-drop');
    await expect(zones).toHaveCount(3); // the existing file, the thumbnail, the Tools file
    for (const zone of await zones.all()) {
      expect(await zone.locator('input[type="file"]').evaluate((el) => getComputedStyle(el).opacity)).toBe('0');
    }
    const thumbnailZone = page.locator('[data-ckpt-metadata-editor] .ckpt-drop').filter({ hasText: 'Drop an image' });
    expect(await thumbnailZone.evaluate((el) => getComputedStyle(el).borderTopStyle)).toBe('dashed');
    // A zone holding a file names it (no native "No file chosen").
    await expect(page.locator('[aria-label="Tools"] .ckpt-drop')).toContainText('vae.safetensors: drop another here');
    await expect(page.locator('[data-ckpt-metadata-editor]')).not.toContainText('No file chosen');
    if (scheme === 'dark') {
      const luminance = (rgb: string) => {
        const [r, g, b] = rgb.match(/\d+/g)!.map(Number);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      for (const selector of ['[data-ckpt-metadata-editor] .ckpt-field', '[aria-label="Tools"] .ckpt-field']) {
        const color = await page.locator(selector).first().evaluate((el) => getComputedStyle(el).color);
        expect(luminance(color), `${selector} text in dark mode`).toBeGreaterThan(180);
      }
      // The saver's dark-mode accent (lighter than the light one), shared by the panels.
      const accent = await page.locator('[aria-label="Tools"] .ckpt-drop-pick').first().evaluate((el) => getComputedStyle(el).color);
      expect(accent).toBe('rgb(59, 130, 246)');
    }
  });
}

base('with the ModelSpec editor, Save is on only while the plan with its options is valid', async ({ page }) => {
  const u = ui(page);
  await openSaver(page);
  await pickComponents(page);
  await expect(u.save).toBeEnabled();
  const editor = page.locator('[data-ckpt-metadata-editor]');
  await openTask(page, 'metadata');
  // A title typed after the plan reaches the next plan.
  await editor.getByLabel('Title', { exact: true }).fill('Edited after the plan');
  await editor.getByLabel('Title', { exact: true }).press('Tab');
  await expect.poll(() => page.evaluate(() => (globalThis as any).ckptpack.saver.lastPlan?.metadata?.['modelspec.title'])).toBe('Edited after the plan');
  await openTask(page, 'save');
  await expect(u.save).toBeEnabled();
  // A thumbnail that is not an image makes the plan fail: Save off, the error in the saver's alert.
  const fake = path.join(SCRATCH, 'not-an-image.png');
  await writeFile(fake, 'this is text, not an image');
  await openTask(page, 'metadata');
  await editor.getByLabel(/^Image \(PNG, JPEG or WebP/).setInputFiles(fake);
  await openTask(page, 'save');
  await expect(u.alert).toContainText('modelspec.thumbnail');
  await expect(u.save).toBeDisabled();
  await expect(u.status).toHaveText('Save is off until the problem above is fixed.');
  // Removing it turns Save back on.
  await openTask(page, 'metadata');
  await editor.getByRole('button', { name: 'Remove thumbnail' }).click();
  await openTask(page, 'save');
  await expect(u.alert).toBeEmpty();
  await expect(u.save).toBeEnabled();
  await expect(u.status).toHaveText('Ready to save.');
});

base('a file dropped on the Tools or the editor zone goes there, not into the saver\'s slots', async ({ page }) => {
  const u = ui(page);
  await openSaver(page);
  await openPanels(page);
  const toolsZone = page.locator('[aria-label="Tools"] .ckpt-drop');
  await dropFiles(page, [fixtureFile('sd15', 'clip_l')], toolsZone);
  await expect(toolsZone).toContainText('clip_l.safetensors: drop another here');
  await openTask(page, 'metadata');
  const thumbnailZone = page.locator('[data-ckpt-metadata-editor] .ckpt-drop').filter({ hasText: 'Drop an image' });
  const cover = path.join(SCRATCH, 'cover.png');
  await writeFile(cover, Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082', 'hex'));
  await dropFiles(page, [cover], thumbnailZone);
  await expect(page.locator('[data-ckpt-metadata-editor]').getByRole('img', { name: 'Thumbnail preview' })).toBeVisible();
  await expect(page.locator('[data-ckpt-metadata-editor] .ckpt-drop').filter({ hasText: 'cover.png' })).toBeVisible();
  for (const slot of ['model', 'clip', 'vae'] as const) await expect(u.slot(slot).locator('.ckpt-file')).toHaveCount(0);
  // (The Tools have an alert region of their own.)
  await expect(page.locator('[data-ckpt-saver] [role="alert"]')).toBeEmpty();
});
