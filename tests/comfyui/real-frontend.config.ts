// The ComfyUI extension in the real ComfyUI frontend (real-frontend/*.real.ts):
// the built package under a fake backend (real-frontend/backend.mjs) serving
// the frontend build from COMFYUI_FRONTEND_DIST, in Debian's Chromium.
//   make test-comfyui   (builds the package; checks the frontend build is there)
import { defineConfig } from '@playwright/test';
import { CHROMIUM_LAUNCH } from '../helpers/browser';

// CKPT_COMFYUI_REAL_PORT lets two checkouts run this suite side by side.
export const REAL_COMFYUI_PORT = Number(process.env.CKPT_COMFYUI_REAL_PORT ?? 8194);

export default defineConfig({
  testDir: './real-frontend',
  testMatch: /.*\.real\.ts$/,
  // Full-size saves on a shared 2-core machine: one test at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // Ceilings only so that a hang ends; the tests assert no timings.
  timeout: 10 * 60_000,
  expect: { timeout: 60_000 },
  reporter: [['list']],
  outputDir: '../../build/comfyui-real/test-results',
  use: {
    baseURL: `http://127.0.0.1:${REAL_COMFYUI_PORT}/`,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1440, height: 900 },
    launchOptions: CHROMIUM_LAUNCH,
  },
});
