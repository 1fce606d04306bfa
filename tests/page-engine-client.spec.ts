// EngineClient (web/app/engine-client.js), the page's only link to the
// worker: concurrent requests on the same files all succeed (the worker
// fails two simultaneous reads of one File, so the client queues them),
// and a worker that cannot start is reported instead of hanging.
import { test, expect } from '@playwright/test';
import { fixtureFile } from './helpers/fixtures';

test('three plans and an inspect of the same files at once all succeed', async ({ page }) => {
  await page.goto('index.html');
  const input = await page.evaluateHandle(() => {
    const el = document.createElement('input');
    el.type = 'file';
    el.multiple = true;
    document.body.append(el);
    return el;
  });
  await input.asElement()!.setInputFiles([fixtureFile('sd15', 'unet'), fixtureFile('sd15', 'clip_l'), fixtureFile('sd15', 'vae')]);
  const replies = await page.evaluate(async (el) => {
    const { EngineClient } = await import('./app/engine-client.js');
    const engine = new EngineClient(new URL('worker.js', location.href));
    const [model, clip, vae] = [...(el as HTMLInputElement).files!];
    const requests = [
      engine.request('plan', { model, clip: [clip], vae, options: {} }),
      engine.request('inspect', { file: model }),
      engine.request('plan', { model, clip: [clip], vae, options: {} }),
      engine.request('plan', { model, clip: [clip], vae, options: {} }),
    ];
    const settled = await Promise.allSettled(requests);
    engine.terminate();
    return settled.map((s) => (s.status === 'fulfilled' ? s.value.type : `error: ${s.reason.message}`));
  }, input);
  expect(replies).toEqual(['planned', 'inspected', 'planned', 'planned']);
});

test('a worker script that fails to load rejects ready with a message', async ({ page }) => {
  await page.goto('index.html');
  const message = await page.evaluate(async () => {
    const { EngineClient } = await import('./app/engine-client.js');
    const engine = new EngineClient(new URL('no-such-worker.js', location.href));
    const inspect = engine.request('list', {});
    try {
      await engine.ready;
      return 'ready';
    } catch (error) {
      await inspect.catch(() => {});
      return (error as Error).message;
    }
  });
  expect(message).toMatch(/could not start/);
});
