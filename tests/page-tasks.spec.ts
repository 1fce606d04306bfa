// The page by task (issue 20, item 9): "Save a checkpoint", "Convert /
// extract / prune" and "Edit metadata", one shown at a time behind tabs
// (the WAI-ARIA tabs pattern, keyboard usable), the chosen one in the URL's
// hash so a reload and Back keep it; one width for all of them; and one
// sink choice and one progress component, the same in the save task and
// the tools task. Screenshots of each task at 1280×900 and 390×844.
import { test, expect, type Page, type TestInfo } from '@playwright/test';
import { fixtureFile } from './helpers/fixtures';
import { openSaver, pickComponents, ui } from './helpers/page';

const SIZES = [{ width: 1280, height: 900 }, { width: 390, height: 844 }];
const TASKS = [
  { hash: 'save', name: 'Save a checkpoint' },
  { hash: 'tools', name: 'Convert / extract / prune' },
  { hash: 'metadata', name: 'Edit metadata' },
];

async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const file = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

/** The only task panel shown is the one of the selected tab; the others are hidden. */
async function expectTask(page: Page, hash: string): Promise<void> {
  const tablist = page.getByRole('tablist', { name: 'Tasks' });
  for (const task of TASKS) {
    const tab = tablist.getByRole('tab', { name: task.name });
    const panel = page.locator(`#task-${task.hash}`);
    await expect(tab).toHaveAttribute('aria-selected', String(task.hash === hash));
    await expect(tab).toHaveAttribute('tabindex', task.hash === hash ? '0' : '-1');
    if (task.hash === hash) {
      await expect(panel).toBeVisible();
      await expect(page.getByRole('tabpanel', { name: task.name })).toBeVisible();
    } else {
      await expect(panel).toBeHidden();
    }
  }
}

for (const size of SIZES) {
  test(`${size.width}×${size.height}: one task at a time, one width, no sideways scroll`, async ({ page }, testInfo) => {
    await page.setViewportSize(size);
    await openSaver(page, 'index.html', { sink: null });
    const tablist = page.getByRole('tablist', { name: 'Tasks' });
    await expect(tablist.getByRole('tab')).toHaveText(TASKS.map((t) => t.name));
    await expectTask(page, 'save');
    const widths: Record<string, number[]> = {};
    for (const task of TASKS) {
      await tablist.getByRole('tab', { name: task.name }).click();
      await expectTask(page, task.hash);
      expect(new URL(page.url()).hash).toBe(`#${task.hash}`);
      const measured = await page.evaluate((hash) => {
        const width = (selector: string) => document.querySelector(selector)!.getBoundingClientRect().width;
        const panel = document.getElementById(`task-${hash}`)!;
        // The task's own content (the saver, the Tools, the editor) fills the panel.
        const content = panel.querySelector('.ckpt-saver')!;
        return {
          header: width('.page-header'), tabs: width('[role="tablist"]'), panel: width(`#task-${hash}`),
          content: content.getBoundingClientRect().width,
          scrollWidth: document.scrollingElement!.scrollWidth, innerWidth: window.innerWidth,
        };
      }, task.hash);
      expect(measured.scrollWidth, `${task.name}: the page is wider than the window`).toBeLessThanOrEqual(measured.innerWidth);
      widths[task.hash] = [measured.header, measured.tabs, measured.panel, measured.content];
      // The ModelSpec editor and the Tools are the task here, not closed sections.
      await expect(page.locator(`#task-${task.hash} details.ckpt-panel`)).toHaveCount(0);
      await screenshot(page, testInfo, `task-${task.hash}-${size.width}`);
    }
    const all = Object.values(widths).flat();
    expect(Math.max(...all) - Math.min(...all), JSON.stringify(widths)).toBeLessThanOrEqual(1);
    if (size.width >= 1280) expect(all[0]).toBeGreaterThan(900); // 60rem, not a narrow column
  });
}

test('tabs by keyboard: arrows, Home and End choose a task and move focus; Tab goes into the panel', async ({ page }) => {
  await openSaver(page, 'index.html', { sink: null });
  const tab = (name: string) => page.getByRole('tab', { name });
  await tab('Save a checkpoint').focus();
  await page.keyboard.press('ArrowRight');
  await expect(tab('Convert / extract / prune')).toBeFocused();
  await expectTask(page, 'tools');
  expect(new URL(page.url()).hash).toBe('#tools');
  await page.keyboard.press('End');
  await expect(tab('Edit metadata')).toBeFocused();
  await expectTask(page, 'metadata');
  await page.keyboard.press('ArrowRight'); // wraps to the first
  await expect(tab('Save a checkpoint')).toBeFocused();
  await expectTask(page, 'save');
  await page.keyboard.press('ArrowLeft'); // and back round to the last
  await expectTask(page, 'metadata');
  await page.keyboard.press('Home');
  await expectTask(page, 'save');
  // One tab stop for the tab list: the next Tab is the chosen task's panel.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('tabpanel', { name: 'Save a checkpoint' })).toBeFocused();
});

test('the task is the URL hash: a link, a reload and Back keep it', async ({ page }) => {
  await page.goto('index.html#tools');
  await expect(page.locator('[data-ckpt-saver]')).toHaveAttribute('data-engine', 'ready');
  await expectTask(page, 'tools');
  await page.reload();
  await expectTask(page, 'tools');
  await page.getByRole('tab', { name: 'Edit metadata' }).click();
  await expectTask(page, 'metadata');
  await page.goBack();
  await expectTask(page, 'tools');
  expect(new URL(page.url()).hash).toBe('#tools');
  await page.goForward();
  await expectTask(page, 'metadata');
  // A hash that names no task shows the first one.
  await page.goto('index.html#nothing-here');
  await expectTask(page, 'save');
  // Choosing a task does not scroll the page to an element.
  await page.getByRole('tab', { name: 'Convert / extract / prune' }).click();
  expect(await page.evaluate(() => window.scrollY)).toBe(0);
});

/** Tag, classes and role of an element and its descendants, without text or ids. */
async function shape(page: Page, selector: string): Promise<string> {
  return page.locator(selector).evaluate((root) => {
    const walk = (el: Element): string => `${el.tagName.toLowerCase()}.${[...el.classList].sort().join('.')}`
      + `${el.getAttribute('type') ? `[${el.getAttribute('type')}]` : ''}(${[...el.children].map(walk).join(',')})`;
    return walk(root);
  });
}

test('one sink choice and one progress component, in the save task and the tools task', async ({ page }) => {
  await openSaver(page, 'index.html', { sink: null });
  const saveSinks = page.locator('#task-save .ckpt-sinks');
  const toolSinks = page.locator('#task-tools .ckpt-sinks');
  expect(await shape(page, '#task-tools .ckpt-sinks')).toBe(await shape(page, '#task-save .ckpt-sinks'));
  expect(await shape(page, '#task-tools .ckpt-progress')).toBe(await shape(page, '#task-save .ckpt-progress'));
  // The same choices in the same words, the same recommendation and why line.
  const sinkLabels = (fieldset: typeof saveSinks) => fieldset.locator('label.ckpt-sink > span').evaluateAll(
    (spans) => spans.map((s) => s.firstChild!.textContent!.trim()));
  await page.getByRole('tab', { name: 'Convert / extract / prune' }).click();
  expect(await sinkLabels(toolSinks)).toEqual(await sinkLabels(saveSinks));
  await expect(toolSinks.locator('.ckpt-sink-why')).toHaveText(/^Recommended here: Download directly\. Fastest here/);
  await expect(toolSinks.locator('.ckpt-sink-why')).toHaveText((await saveSinks.locator('.ckpt-sink-why').textContent())!);
  await expect(toolSinks.locator('input[value="blob"]').locator('xpath=..')).toContainText('recommended');
  // A conversion cannot go out as a direct download: the tools' choice moves
  // to the file picker, recommended as the saver's is for computed data.
  await page.getByRole('region', { name: 'Tools' }).getByLabel('Operation').selectOption({ label: 'Convert precision' });
  await expect(toolSinks.locator('input[value="blob"]')).toBeDisabled();
  await expect(toolSinks.locator('input[value="file"]')).toBeChecked();
  await expect(toolSinks.locator('.ckpt-sink-why')).toHaveText(/^Recommended here: Save to a file on disk\./);
});

test('the title set under Edit metadata goes into the save, and the plan line says so', async ({ page }) => {
  await openSaver(page);
  await pickComponents(page, { model: fixtureFile('sd15', 'checkpoint'), clip: fixtureFile('sd15', 'checkpoint'), vae: fixtureFile('sd15', 'checkpoint') });
  const u = ui(page);
  await expect(u.save).toBeEnabled();
  const planMetadata = page.locator('[data-role="plan-metadata"]');
  await expect(planMetadata).not.toContainText('title');
  // The save task's Metadata section points to the task that sets the title.
  await page.locator('[data-role="metadata"] > summary').click();
  await page.locator('[data-role="metadata-task"]').getByRole('link', { name: 'Edit metadata' }).click();
  await expectTask(page, 'metadata');
  await expect(page.getByRole('tab', { name: 'Edit metadata' })).toBeFocused();
  const editor = page.locator('[data-ckpt-metadata-editor]');
  await expect(editor.getByLabel('The checkpoint being saved')).toBeChecked();
  await editor.getByLabel('Title', { exact: true }).fill('My SD 1.5');
  await editor.getByLabel('Title', { exact: true }).blur();
  await page.getByRole('tab', { name: 'Save a checkpoint' }).click();
  await expect(planMetadata).toContainText('Metadata: title “My SD 1.5”');
  await expect(u.save).toBeEnabled();
});

for (const size of SIZES) {
  // The README's picture of the page (docs/page.png is the 1280 one).
  test(`${size.width}×${size.height}: the save task with SD 1.5 components, ready to save`, async ({ page }, testInfo) => {
    await page.setViewportSize(size);
    await openSaver(page, 'index.html', { sink: null });
    await pickComponents(page);
    const u = ui(page);
    await expect(u.status).toHaveText('Ready to save.');
    await expect(u.save).toBeEnabled();
    await expectTask(page, 'save');
    expect(await page.evaluate(() => document.scrollingElement!.scrollWidth <= window.innerWidth)).toBe(true);
    await screenshot(page, testInfo, `page-ready-${size.width}`);
  });
}
