// Playwright config for the worker benchmark (make bench-worker): not part of
// `make test` (it copies many GiB). Same server and browser as the specs.
import { defineConfig } from '@playwright/test';
import { CHROMIUM_LAUNCH } from './helpers/browser';

// CKPT_PORT, as in playwright.config.ts, lets checkouts run side by side.
const port = Number(process.env.CKPT_PORT ?? 8080);
const baseURL = process.env.CKPT_BASE_URL ?? `http://127.0.0.1:${port}/`;
export default defineConfig({
  testDir: '.',
  testMatch: /worker-bench\.bench\.ts$/,
  workers: 1,
  timeout: 120 * 60_000,
  reporter: [['list']],
  outputDir: '../build/test-results-bench',
  use: { baseURL, headless: true, launchOptions: CHROMIUM_LAUNCH },
  webServer: process.env.CKPT_BASE_URL ? undefined : {
    command: `make -s serve WEB_ADDR=127.0.0.1:${port}`,
    cwd: '..', // the Makefile is at the repository root, not next to this config
    url: `http://127.0.0.1:${port}/index.html`,
    reuseExistingServer: true,
    timeout: 5 * 60_000,
  },
});
