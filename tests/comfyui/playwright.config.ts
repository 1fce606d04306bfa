// End-to-end test of the ComfyUI extension (extension.e2e.ts): the packaged
// zip, unpacked into a custom_nodes folder and served by a fake ComfyUI
// (fake-comfyui-server.mjs), in Debian's Chromium.
//   make test-comfyui   (builds the package first)
// The spec is named *.e2e.ts so that the site's playwright.config.ts, which
// runs tests/**/*.spec.ts, does not pick it up without the package built.
import { defineConfig } from '@playwright/test';
import { CHROMIUM_LAUNCH } from '../helpers/browser';

// CKPT_COMFYUI_PORT lets two checkouts run this suite side by side.
export const FAKE_COMFYUI_PORT = Number(process.env.CKPT_COMFYUI_PORT ?? 8093);

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.e2e\.ts$/,
  // Two multi-GB assemblies on a shared 2-core machine: one test at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // Ceilings only so that a hang ends; the tests assert no timings.
  timeout: 15 * 60_000,
  expect: { timeout: 60_000 },
  reporter: [['list']],
  outputDir: '../../build/comfyui-e2e/test-results',
  use: {
    baseURL: `http://127.0.0.1:${FAKE_COMFYUI_PORT}/`,
    headless: true,
    acceptDownloads: true,
    launchOptions: CHROMIUM_LAUNCH,
  },
});
