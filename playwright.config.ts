// End-to-end tests of the browser page (tests/*.spec.ts) and the worker
// (tests/worker-*.spec.ts), in Debian's Chromium: Playwright's own browser
// download does not work on this machine, and `npx playwright install` must
// not run.
//
// The site is served by CKPT_SERVER: "make" (default) runs `make serve`, the
// project's static server on 127.0.0.1:8080, which builds the wasm first;
// "static" serves web/ as it is with tests/helpers/static-server.mjs on
// 127.0.0.1:8091 (the wasm must have been built into web/ already).
import { defineConfig } from '@playwright/test';
import { CHROMIUM_LAUNCH } from './tests/helpers/browser';

const serverKind = process.env.CKPT_SERVER ?? 'make';
const port = Number(process.env.CKPT_PORT ?? 8080);
const webServer = serverKind === 'static'
  ? {
    command: 'node tests/helpers/static-server.mjs web 8091',
    url: 'http://127.0.0.1:8091/index.html',
    baseURL: 'http://127.0.0.1:8091/',
  }
  : {
    // CKPT_PORT lets two checkouts run their suites side by side.
    command: `make -s serve WEB_ADDR=127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}/index.html`,
    baseURL: `http://127.0.0.1:${port}/`,
  };

export default defineConfig({
  testDir: 'tests',
  testMatch: /.*\.spec\.ts$/,
  // tests/comfyui has its own config (mk/comfyui.mk); the benchmarks run
  // only from `make bench-browser` / `make bench-worker` (CKPT_BENCH=1).
  testIgnore: ['**/comfyui/**', '**/edge/**', ...(process.env.CKPT_BENCH ? [] : ['**/bench/**'])],
  // Heavy specs share 2 cores with everything else on the machine, and the
  // persistent-context specs write GBs to disk: one at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // Generous ceilings only so a hang ends; the tests assert no timings.
  timeout: 10 * 60_000,
  expect: { timeout: 60_000 },
  globalSetup: './tests/helpers/global-setup.ts',
  reporter: [['list']],
  outputDir: 'build/test-results',
  use: {
    baseURL: webServer.baseURL,
    headless: true,
    acceptDownloads: true,
    launchOptions: CHROMIUM_LAUNCH,
  },
  webServer: {
    command: webServer.command,
    url: webServer.url,
    reuseExistingServer: !process.env.CI,
    timeout: 5 * 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
