// EngineClient (web/app/engine-client.js), the page's only link to the
// worker: requests on the same files run side by side in the worker and all
// succeed (each request reads its Files through streams of its own), and a
// worker that cannot start is reported instead of hanging.
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
    await engine.ready;
    // Count the requests the worker has been sent when the first reply
    // arrives: all of them, unless the client holds some back.
    let posted = 0;
    let postedAtFirstReply = -1;
    const post = engine.worker.postMessage.bind(engine.worker);
    engine.worker.postMessage = (msg: any) => { posted += 1; post(msg); };
    engine.worker.addEventListener('message', (event: MessageEvent) => {
      if (event.data?.id != null && postedAtFirstReply < 0) postedAtFirstReply = posted;
    });
    const [model, clip, vae] = [...(el as HTMLInputElement).files!];
    const requests = [
      engine.request('plan', { model, clip: [clip], vae, options: {} }),
      engine.request('inspect', { file: model }),
      engine.request('plan', { model, clip: [clip], vae, options: {} }),
      engine.request('plan', { model, clip: [clip], vae, options: {} }),
    ];
    const settled = await Promise.allSettled(requests);
    engine.terminate();
    return {
      postedAtFirstReply,
      types: settled.map((s) => (s.status === 'fulfilled' ? s.value.type : `error: ${s.reason.message}`)),
    };
  }, input);
  expect(replies.types).toEqual(['planned', 'inspected', 'planned', 'planned']);
  // All four were in the worker at once: the reads of the Files interleaved.
  expect(replies.postedAtFirstReply).toBe(4);
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

test.describe('a start that stalls', () => {
  // No service worker: the stalled response must come from the route below.
  test.use({ serviceWorkers: 'block' });
  test('a wasm that never arrives fails ready, naming the step', async ({ page }) => {
    await page.route('**/ckptpack.wasm*', () => { /* never answered */ });
    await page.goto('index.html');
    const message = await page.evaluate(async () => {
      const { EngineClient } = await import('./app/engine-client.js');
      const engine = new EngineClient(new URL('worker.js?stall', location.href), { startTimeoutMs: 2000 });
      const list = engine.request('list', {});
      const outcome = await engine.ready.then(() => 'ready', (error: Error) => error.message);
      const request = await list.then(() => 'answered', (error: Error) => error.message);
      return { outcome, request, stage: engine.stage };
    });
    expect(message.outcome).toBe('The checkpoint engine did not start within 2 s (stalled while fetching /ckptpack.wasm). Reload the page to try again.');
    expect(message.request).toBe(message.outcome);
    expect(message.stage).toBe('fetching /ckptpack.wasm');
  });
});
