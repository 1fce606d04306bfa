// After one visit the service worker has cached the page, the worker and
// the wasm: offline, a reload still starts the engine and a full sd15
// assembly succeeds.
import { stat } from 'node:fs/promises';
import { test, expect } from './helpers/browser';
import { verifyCheckpoint } from './helpers/fixtures';
import { openSaver, pickComponents, ui } from './helpers/page';

test('offline after one load: reload and assemble sd15', async ({ app, baseURL }) => {
  const { page, context } = app;
  await openSaver(page);
  // The service worker is active and controls the page once it has cached everything.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await page.reload();
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);

  await context.setOffline(true);
  // The origin is unreachable now: a fetch that bypasses the cache fails.
  expect(await page.evaluate(async () => {
    try {
      await fetch(`nonexistent-${Date.now()}.txt`, { cache: 'no-store' });
      return 'reached the network';
    } catch {
      return 'offline';
    }
  })).toBe('offline');
  await page.reload();
  await openSaver(page);
  const u = ui(page);
  await pickComponents(page);
  const downloadEvent = page.waitForEvent('download', { timeout: 5 * 60_000 });
  await u.save.click();
  const file = await (await downloadEvent).path();
  await expect(u.alert).toBeEmpty();
  expect((await stat(file)).size).toBeGreaterThan(2_000_000_000);
  const result = await verifyCheckpoint('sd15', file);
  expect(result.ok, result.output).toBe(true);
  console.log(`offline sd15 verify: ${result.summary} (base ${baseURL})`);
});
