// Browser launch settings and a persistent-context fixture shared by the
// page specs.
import { chromium, test as base, type BrowserContext, type Page, type Request } from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Debian's Chromium with the flags the machine needs (see ../shared/reference/browser-limits.md §1). */
export const CHROMIUM_LAUNCH = {
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
};

export interface PersistentApp {
  context: BrowserContext;
  page: Page;
  /** The profile folder; OPFS files live under Default/File System. */
  userDataDir: string;
  /** Every request URL the context made, page and workers. */
  requests: string[];
}

/**
 * Opens a persistent Chromium profile in a fresh temp folder. Anything over
 * about 1.2 GiB needs this: Playwright's default context is off-the-record
 * and keeps OPFS in RAM with a ~1.2–1.5 GiB cap (browser-limits.md §1, §9).
 */
export async function launchPersistentApp(baseURL: string, { acceptDownloads = true } = {}): Promise<PersistentApp> {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'ckptpack-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    ...CHROMIUM_LAUNCH,
    headless: true,
    acceptDownloads,
    baseURL,
  });
  const requests: string[] = [];
  context.on('request', (request: Request) => requests.push(request.url()));
  const page = context.pages()[0] ?? await context.newPage();
  return { context, page, userDataDir, requests };
}

export async function closePersistentApp(app: PersistentApp): Promise<void> {
  await app.context.close();
  await rm(app.userDataDir, { recursive: true, force: true });
}

/** A test whose `app` fixture is a page in a fresh persistent profile. */
export const test = base.extend<{ app: PersistentApp }>({
  app: async ({ baseURL }, use) => {
    const app = await launchPersistentApp(baseURL!);
    await use(app);
    await closePersistentApp(app);
  },
});

export { expect } from '@playwright/test';
