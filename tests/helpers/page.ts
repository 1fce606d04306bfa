// Helpers that drive the saver UI the way a user does: labelled inputs,
// buttons by role, and drops of files onto the page.
import { expect, type JSHandle, type Locator, type Page } from '@playwright/test';
import { fixtureFile } from './fixtures';

export const ui = (page: Page) => ({
  model: page.getByLabel('Diffusion model', { exact: true }),
  clip: page.getByLabel('Text encoders', { exact: true }),
  vae: page.getByLabel('VAE', { exact: true }),
  prefix: page.getByLabel('Filename prefix'),
  save: page.getByRole('button', { name: 'Save checkpoint' }),
  cancel: page.getByRole('button', { name: 'Cancel' }),
  // The region is display:none while empty, so it is found by its role attribute.
  alert: page.locator('[data-ckpt-saver] [role="alert"]'),
  // Next to Save: what is happening, what is missing, or the last result.
  status: page.getByRole('status'),
  result: page.locator('[data-role="result"]'),
  plan: page.locator('[data-role="plan"]'),
  sinkWhy: page.locator('[data-role="sink-why"]'),
  progress: page.getByRole('progressbar', { name: 'Save progress' }),
  saved: page.getByRole('region', { name: 'Saved checkpoints' }),
  savedItems: page.locator('.ckpt-saved-list > li'),
  slot: (slot: 'model' | 'clip' | 'vae') => page.locator(`[data-slot="${slot}"]`),
});

export type Sink = 'opfs' | 'file' | 'blob';

/** The "Save to" radio of a sink. */
export const sinkRadio = (page: Page, sink: Sink): Locator => page.locator(`[data-role="sink"][value="${sink}"]`);

/**
 * Opens the page and waits until the worker has said ready. The page
 * preselects the sink it recommends for this browser (in Chromium the file
 * picker, which cannot run headless); most specs save to browser storage,
 * so that is chosen unless sink says otherwise (null keeps the page's
 * choice).
 */
export async function openSaver(page: Page, path = 'index.html', { sink = 'opfs' as Sink | null } = {}): Promise<void> {
  await page.goto(path);
  await expect(page.locator('[data-ckpt-saver]')).toHaveAttribute('data-engine', 'ready');
  if (sink) await sinkRadio(page, sink).check();
}

/**
 * Picks components through the labelled inputs, as a user would, and waits
 * until each has been inspected and fits. Defaults are the sd15 fixtures;
 * pass a path to use another file in that slot.
 */
export async function pickComponents(
  page: Page,
  files: { model?: string; clip?: string | string[]; vae?: string } = {},
): Promise<void> {
  const u = ui(page);
  const clip = files.clip ?? fixtureFile('sd15', 'clip_l');
  await u.model.setInputFiles(files.model ?? fixtureFile('sd15', 'unet'));
  await u.clip.setInputFiles(clip);
  await u.vae.setInputFiles(files.vae ?? fixtureFile('sd15', 'vae'));
  await expectSlotOK(page, 'model');
  await expectSlotOK(page, 'clip', Array.isArray(clip) ? clip.length : 1);
  await expectSlotOK(page, 'vae');
}

/**
 * A hidden <input type=file> outside the app holding files from disk: the
 * only way a test gets File objects into the page (it cannot open paths).
 * The caller removes it when done.
 */
export async function scratchFileInput(page: Page, files: string[]): Promise<JSHandle<HTMLInputElement>> {
  const input = await page.evaluateHandle(() => {
    const el = document.createElement('input');
    el.type = 'file';
    el.multiple = true;
    el.hidden = true;
    document.body.append(el);
    return el;
  });
  await input.setInputFiles(files);
  return input;
}

/** Waits until every file in a slot has been inspected and fits. */
export async function expectSlotOK(page: Page, slot: 'model' | 'clip' | 'vae', count = 1): Promise<void> {
  const files = page.locator(`[data-slot="${slot}"] .ckpt-file`);
  await expect(files).toHaveCount(count);
  await expect(page.locator(`[data-slot="${slot}"] .ckpt-file-ok`)).toHaveCount(count);
}

/**
 * Drops files from disk onto target (default: the page body) as a real
 * drag and drop would: a DataTransfer holding File objects. The Files come
 * from a scratch <input> outside the app, since a page cannot open paths.
 */
export async function dropFiles(page: Page, files: string[], target?: Locator): Promise<void> {
  const scratch = await scratchFileInput(page, files);
  const targetHandle = target ? await target.elementHandle() : await page.evaluateHandle(() => document.body);
  await page.evaluate(([input, el]) => {
    const dt = new DataTransfer();
    for (const file of (input as HTMLInputElement).files!) dt.items.add(file);
    (input as HTMLInputElement).remove();
    const init = { dataTransfer: dt, bubbles: true, cancelable: true };
    (el as Element).dispatchEvent(new DragEvent('dragenter', init));
    (el as Element).dispatchEvent(new DragEvent('dragover', init));
    (el as Element).dispatchEvent(new DragEvent('drop', init));
  }, [scratch, targetHandle] as const);
}

/** Names listed under "Saved checkpoints". */
export async function savedPaths(page: Page): Promise<string[]> {
  return page.locator('.ckpt-saved-list .ckpt-file-name').allTextContents();
}

/** Every entry in the origin's browser storage, folders too ("checkpoints/"), sorted. */
export async function opfsEntries(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const out: string[] = [];
    const walk = async (dir: FileSystemDirectoryHandle, prefix: string) => {
      for await (const [name, handle] of (dir as any).entries()) {
        out.push(prefix + name + (handle.kind === 'directory' ? '/' : ''));
        if (handle.kind === 'directory') await walk(handle, prefix + name + '/');
      }
    };
    await walk(await navigator.storage.getDirectory(), '');
    return out.sort();
  });
}

const TASK_TABS = { save: 'Save a checkpoint', tools: 'Convert / extract / prune', metadata: 'Edit metadata' } as const;

/** Shows one of the page's tasks by clicking its tab, as a user does. */
export async function openTask(page: Page, task: keyof typeof TASK_TABS): Promise<void> {
  const tab = page.getByRole('tablist', { name: 'Tasks' }).getByRole('tab', { name: TASK_TABS[task] });
  await tab.click();
  await expect(tab).toHaveAttribute('aria-selected', 'true');
}
