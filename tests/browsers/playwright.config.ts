// Firefox and WebKit page specs (make test-browsers-other): the Playwright
// runner only runs them; the browsers are driven by puppeteer-core and
// selenium-webdriver (tests/browsers/drivers.ts), since Playwright's own
// Firefox and WebKit builds cannot be downloaded here and it drives no
// other. The specs start the project's server themselves (the offline test
// stops it), on CKPT_PORT.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: process.env.CKPT_BENCH ? /.*\.bench\.ts$/ : /.*\.spec\.ts$/,
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // Only so a hang ends; the specs assert no timings.
  timeout: 10 * 60_000,
  globalSetup: '../helpers/global-setup.ts',
  reporter: [['list']],
  outputDir: '../../build/test-results/browsers',
});
