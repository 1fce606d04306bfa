// The saver's "Quantize the diffusion model" option: the plan shrinks to
// the quantized size (what `ckptpack save --quantize` plans for the same
// files) and the direct download, which can only carry slices of the
// inputs, is refused for computed bytes, saying why.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test, expect } from '@playwright/test';
import { fixtureFile, REPO } from './helpers/fixtures';
import { openSaver, pickComponents, sinkRadio, ui } from './helpers/page';

const run = promisify(execFile);

test('quantizing while saving: the plan is the CLI plan, and no direct download', async ({ page }) => {
  const u = ui(page);
  await openSaver(page);
  await pickComponents(page);
  await expect(u.plan).toContainText('2.30 GB');
  await page.getByLabel('Quantize the diffusion model').selectOption('fp8_scaled');
  const { stdout } = await run('go', ['run', './cmd/ckptpack', 'save', '--quantize', 'fp8_scaled', '--dry-run', '--json',
    '--model', fixtureFile('sd15', 'unet'), '--clip', fixtureFile('sd15', 'clip_l'), '--vae', fixtureFile('sd15', 'vae')], { cwd: REPO });
  const cli = JSON.parse(stdout);
  const gb = (cli.bytes / 1e9).toFixed(2);
  await expect(u.plan).toContainText(`${gb} GB`);
  await sinkRadio(page, 'blob').check();
  await expect(u.status).toContainText('is quantized while saving: its weights are computed');
  await expect(u.save).toBeDisabled();
  await sinkRadio(page, 'opfs').check();
  await expect(u.status).toHaveText('Ready to save.');
  await expect(u.save).toBeEnabled();
});
