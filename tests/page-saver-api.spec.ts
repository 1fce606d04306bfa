// mountSaver's host API (web/app/saver.js), as the ComfyUI extension uses
// it: onPlan / lastPlan hand the host each plan (exact headerBytes
// included), setDefaults applies changed host settings live, and with a
// metadataProvider the "Leave out prompt and workflow" switch is in view
// outside the collapsed Metadata section.
import { test, expect } from '@playwright/test';
import { ensureFixtures, fixtureFile } from './helpers/fixtures';

test('onPlan, lastPlan, setDefaults and the leave-out switch of a host-mounted saver', async ({ page }) => {
  await ensureFixtures('sd15');
  await page.goto('index.html');
  // Replace the standalone page's saver with one mounted the way a host does.
  await page.evaluate(async () => {
    await (globalThis as any).ckptpack?.saver?.ready?.catch(() => {});
    (globalThis as any).ckptpack?.saver?.destroy();
    document.body.replaceChildren();
    const host = document.createElement('div');
    host.id = 'host';
    document.body.append(host);
    const { mountSaver } = await import('./app/saver.js');
    const w = globalThis as any;
    w.plans = [];
    w.handle = mountSaver(host, {
      defaults: { filenamePrefix: 'checkpoints/Host', embedWorkflow: true, sink: 'blob' },
      metadataProvider: async () => ({ prompt: { 1: { class_type: 'CheckpointSave', inputs: {} } }, extraPnginfo: { workflow: { nodes: [], note: 'x'.repeat(5000) } } }),
      onPlan: (planned: any) => w.plans.push(planned),
    });
    await w.handle.ready;
  });
  const host = page.locator('#host');
  const leaveOut = host.getByLabel('Leave out prompt and workflow');
  await expect(leaveOut).toBeVisible();
  await expect(leaveOut).not.toBeChecked();
  expect(await host.locator('details[data-role="metadata"]').evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
  await expect(host.getByLabel('Download directly (uses no browser storage)')).toBeChecked();

  await host.getByLabel('Diffusion model', { exact: true }).setInputFiles(fixtureFile('sd15', 'unet'));
  await host.getByLabel('Text encoders', { exact: true }).setInputFiles(fixtureFile('sd15', 'clip_l'));
  await host.getByLabel('VAE', { exact: true }).setInputFiles(fixtureFile('sd15', 'vae'));
  const lastPlan = () => page.evaluate(() => {
    const w = globalThis as any;
    const p = w.plans.at(-1);
    return p && { path: p.path, headerBytes: p.headerBytes, bytes: p.bytes, keys: Object.keys(p.metadata), same: p === w.handle.lastPlan };
  });
  await expect.poll(async () => (await lastPlan())?.path).toBe('checkpoints/Host_00001_.safetensors');
  const embedded = (await lastPlan())!;
  expect(embedded.same).toBe(true);
  expect(embedded.keys).toEqual(expect.arrayContaining(['prompt', 'workflow']));
  expect(embedded.headerBytes).toBeGreaterThan(5000);

  // Settings changed in the host apply to the form and the next plan.
  await page.evaluate(() => (globalThis as any).handle.setDefaults({ filenamePrefix: 'mine/Other', embedWorkflow: false, sink: 'opfs' }));
  await expect(leaveOut).toBeChecked();
  await expect(host.getByLabel('Filename prefix')).toHaveValue('mine/Other');
  await expect(host.getByLabel('Browser storage, then download')).toBeChecked();
  await expect.poll(async () => (await lastPlan())?.path).toBe('mine/Other_00001_.safetensors');
  const private_ = (await lastPlan())!;
  expect(private_.same).toBe(true);
  expect(private_.keys).not.toContain('workflow');
  expect(private_.keys).not.toContain('prompt');
  expect(private_.headerBytes).toBeLessThan(embedded.headerBytes - 5000);
  expect(private_.bytes - private_.headerBytes).toBe(embedded.bytes - embedded.headerBytes);

  // Ticking the switch by hand works the same way.
  await leaveOut.uncheck();
  await expect.poll(async () => (await lastPlan())?.keys).toEqual(expect.arrayContaining(['workflow']));
  await page.evaluate(() => (globalThis as any).handle.destroy());
});
