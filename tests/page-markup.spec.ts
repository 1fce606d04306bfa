// The page shows its whole layout before any script runs, the mountable UI
// uses the same markup, the CSP holds, and the UI is usable by keyboard.
import { test, expect } from '@playwright/test';
import { openSaver, pickComponents, ui } from './helpers/page';

test('layout is visible without JavaScript', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await context.newPage();
  await page.goto('index.html');
  const u = ui(page);
  await expect(u.model).toBeVisible();
  await expect(u.clip).toBeVisible();
  await expect(u.vae).toBeVisible();
  await expect(u.prefix).toHaveValue('checkpoints/ComfyUI');
  await expect(u.save).toBeVisible();
  await expect(u.save).toBeDisabled();
  await expect(u.saved).toBeVisible();
  await context.close();
});

test('static markup in index.html equals the markup mountSaver renders', async ({ page }) => {
  await page.goto('index.html');
  const [fromHTML, fromModule] = await page.evaluate(async () => {
    const normalize = (el: Element) => el.outerHTML.replace(/>\s+</g, '><').replace(/\s+/g, ' ').trim();
    const html = await (await fetch('index.html', { cache: 'no-store' })).text();
    const staticRoot = new DOMParser().parseFromString(html, 'text/html').querySelector('#app > [data-ckpt-saver]')!;
    const { buildSaverElement } = await import('./app/markup.js');
    return [normalize(staticRoot), normalize(buildSaverElement(document))];
  });
  expect(fromHTML.length).toBeGreaterThan(1000);
  expect(fromModule).toBe(fromHTML);
});

test('mountSaver renders into an empty container, becomes ready, and unmounts', async ({ page }) => {
  await openSaver(page, 'index.html', { sink: null });
  const result = await page.evaluate(async () => {
    const { mountSaver } = await import('./app/saver.js');
    const host = document.createElement('section');
    host.id = 'second-host';
    document.body.append(host);
    const saver = mountSaver(host, { defaults: { filenamePrefix: 'checkpoints/Baked', embedWorkflow: false, sink: 'blob' }, showMetadataFields: false });
    const info = await saver.ready;
    const snapshot = {
      version: info.version,
      prefix: (host.querySelector('[data-role="prefix"]') as HTMLInputElement).value,
      disableMetadata: (host.querySelector('[data-role="disable-metadata"]') as HTMLInputElement).checked,
      sink: (host.querySelector('[data-role="sink"]:checked') as HTMLInputElement).value,
      metadataFieldsHidden: (host.querySelector('[data-role="metadata-fields"]') as HTMLElement).hidden,
      saveEnabled: !(host.querySelector('[data-role="save"]') as HTMLButtonElement).disabled,
      engine: (host.querySelector('[data-ckpt-saver]') as HTMLElement).dataset.engine,
      status: host.querySelector('[data-role="status"]')!.textContent,
      readyMs: saver.stats.readyMs,
    };
    saver.destroy();
    return snapshot;
  });
  expect(result).toMatchObject({
    // No files yet: the engine is ready, Save is not.
    prefix: 'checkpoints/Baked', disableMetadata: true, sink: 'blob', metadataFieldsHidden: true, saveEnabled: false, engine: 'ready',
  });
  expect(result.status).toMatch(/^Add a diffusion model, text encoders and a VAE/);
  expect(typeof result.version).toBe('string');
  expect(result.readyMs).toBeGreaterThan(0);
});

test('no Content-Security-Policy violations while the page starts', async ({ page }) => {
  await page.addInitScript(() => {
    (window as any).__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => (window as any).__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const refused: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) refused.push(msg.text());
  });
  await openSaver(page, 'index.html', { sink: null });
  expect(await page.evaluate(() => (window as any).__csp)).toEqual([]);
  expect(refused).toEqual([]);
});

test('keyboard: Tab reaches the slots, the options and Save in order, with a visible focus ring', async ({ page }) => {
  await openSaver(page);
  await pickComponents(page);
  await expect(ui(page).save).toBeEnabled();
  // Tab from the top of the page (a click sets where sequential focus starts).
  await page.locator('h1').click();
  const order: string[] = [];
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    const name = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return '';
      const label = el.closest('label');
      return (el.getAttribute('aria-label') ?? label?.textContent ?? el.textContent ?? '').trim().split('\n')[0].trim();
    });
    order.push(name);
    if (name === 'Save checkpoint') break;
  }
  const idx = (name: string) => order.findIndex((n) => n.startsWith(name));
  expect(idx('Diffusion model')).toBeGreaterThanOrEqual(0);
  expect(idx('Diffusion model')).toBeLessThan(idx('Text encoders'));
  expect(idx('Text encoders')).toBeLessThan(idx('VAE'));
  expect(idx('VAE')).toBeLessThan(idx('Filename prefix'));
  expect(idx('Filename prefix')).toBeLessThan(idx('Save checkpoint'));
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  expect(outline).not.toBe('none');
  // A slot's file input is transparent over its drop zone: the zone shows the ring.
  await ui(page).vae.focus();
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  expect(await page.locator('[data-slot="vae"] .ckpt-drop').evaluate((el) => getComputedStyle(el).outlineStyle)).not.toBe('none');
});
