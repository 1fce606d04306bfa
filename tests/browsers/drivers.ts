// Firefox and WebKit for the page specs in this folder, behind one small
// interface: the page is driven through its labelled inputs and buttons, as
// in the Chromium specs, and scripts run in it for what a user would read.
//
// - Firefox: Debian's firefox-esr, headless, driven by puppeteer-core over
//   WebDriver BiDi (no browser download). Downloads go to a temp folder
//   (browser.download.dir prefs). navigator.storage.persist() keeps its
//   default: Firefox shows a permission prompt nobody answers here.
// - WebKit: Debian's WebKitGTK MiniBrowser through WebKitWebDriver
//   (webkit2gtk-driver), driven by selenium-webdriver. MiniBrowser needs an
//   X display, so an Xvfb on a free display is started for it. Files go into
//   <input type=file> with sendKeys(path), the WebDriver way; downloads land
//   in the XDG download folder, which the driver's environment points at a
//   temp folder (HOME and XDG_CONFIG_HOME/user-dirs.dirs). MiniBrowser's
//   automation mode uses an ephemeral session: it has no
//   navigator.storage.getDirectory, so no browser-storage sink.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type BrowserName = 'firefox' | 'webkit';

export const FIREFOX = '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER = '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

export interface Driven {
  name: BrowserName;
  /** The browser's own version string. */
  version: string;
  /** Where this browser's downloads land. */
  downloads: string;
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  /** Runs body (a function body: `return …`, arguments[i]) in the page; promises are awaited. */
  run<T = unknown>(body: string, ...args: unknown[]): Promise<T>;
  /** Puts files from disk into the <input type=file> with this aria-label. */
  setFiles(label: string, files: string[]): Promise<void>;
  /** A real click on the element the CSS selector finds. */
  click(selector: string): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls body in the page until it returns a truthy value, and returns it.
 * The limit only ends a hang; nothing is asserted about how long it took.
 */
export async function until<T>(b: Driven, what: string, body: string, args: unknown[] = [], limitMs = 5 * 60_000): Promise<T> {
  const end = Date.now() + limitMs;
  let last: unknown;
  for (;;) {
    last = await b.run(body, ...args);
    if (last) return last as T;
    if (Date.now() > end) throw new Error(`${b.name}: gave up waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(250);
  }
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * webkitFeatures: WebKit feature switches for MiniBrowser (--features, e.g.
 * '+FileSystem'; `MiniBrowser --features=help` lists them).
 */
export async function launch(name: BrowserName, { webkitFeatures = '' } = {}): Promise<Driven> {
  return name === 'firefox' ? launchFirefox() : launchWebKit(webkitFeatures);
}

async function launchFirefox(): Promise<Driven> {
  const { default: puppeteer } = await import('puppeteer-core');
  const downloads = await mkdtemp(path.join(os.tmpdir(), 'ckptpack-firefox-dl-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: {
      'browser.download.dir': downloads,
      'browser.download.folderList': 2,
      'browser.download.useDownloadDir': true,
      'browser.download.always_ask_before_handling_new_types': false,
      'browser.download.start_downloads_in_tmp_dir': false,
    },
  });
  const page = await browser.newPage();
  // The page's CSP has no 'unsafe-eval': puppeteer's waitForFunction and
  // string evaluate use eval, a function declaration does not.
  const fn = (body: string) => new Function(body) as (...args: unknown[]) => unknown;
  return {
    name: 'firefox',
    version: await browser.version(),
    downloads,
    goto: async (url) => { await page.goto(url); },
    reload: async () => { await page.reload(); },
    run: async <T>(body: string, ...args: unknown[]) => page.evaluate(fn(body) as any, ...(args as any[])) as Promise<T>,
    setFiles: async (label, files) => {
      const input = await page.$(`input[type="file"][aria-label="${label}"]`);
      if (!input) throw new Error(`firefox: no file input labelled ${label}`);
      await (input as any).uploadFile(...files);
    },
    click: async (selector) => { await page.click(selector); },
    close: async () => {
      await browser.close();
      await rm(downloads, { recursive: true, force: true });
    },
  };
}

/** Xvfb on a free display (-displayfd: the server picks it and says which). */
async function startXvfb(): Promise<{ display: string; proc: ChildProcess }> {
  const proc = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr += d; });
  const display = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdio[3]!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(`:${out.trim()}`);
    });
    proc.on('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${stderr}`)));
  });
  return { display, proc };
}

async function launchWebKit(features: string): Promise<Driven> {
  const { Builder, By } = await import('selenium-webdriver');
  const home = await mkdtemp(path.join(os.tmpdir(), 'ckptpack-webkit-'));
  const downloads = path.join(home, 'Downloads');
  await mkdir(downloads);
  await mkdir(path.join(home, '.config'));
  await writeFile(path.join(home, '.config', 'user-dirs.dirs'), `XDG_DOWNLOAD_DIR="${downloads}"\n`);
  const xvfb = await startXvfb();
  const port = await freePort();
  const driverProc = spawn(WEBKIT_DRIVER, [`--port=${port}`], {
    env: { ...process.env, DISPLAY: xvfb.display, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stopAll = async () => {
    driverProc.kill();
    xvfb.proc.kill();
    await rm(home, { recursive: true, force: true });
  };
  let driver: any;
  try {
    // WebKitWebDriver answers once it listens.
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
        s.on('error', () => resolve(false));
      });
      if (up) break;
      if (i > 200) throw new Error('WebKitWebDriver did not start');
      await sleep(50);
    }
    driver = await new Builder().usingServer(`http://127.0.0.1:${port}`).withCapabilities({
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation', ...(features ? [`--features=${features}`] : [])] },
    }).build();
  } catch (error) {
    await stopAll();
    throw error;
  }
  const caps = await driver.getCapabilities();
  return {
    name: 'webkit',
    version: `WebKitGTK ${caps.get('browserVersion')}`,
    downloads,
    goto: async (url) => { await driver.get(url); },
    reload: async () => { await driver.navigate().refresh(); },
    run: async <T>(body: string, ...args: unknown[]) => driver.executeScript(body, ...args) as Promise<T>,
    setFiles: async (label, files) => {
      const input = await driver.findElement(By.css(`input[type="file"][aria-label="${label}"]`));
      // Several files: one path per line (WebDriver's element send keys).
      await input.sendKeys(files.join('\n'));
    },
    click: async (selector) => { await (await driver.findElement(By.css(selector))).click(); },
    close: async () => {
      await driver.quit().catch(() => {});
      await stopAll();
    },
  };
}

/**
 * Waits until a download named name is complete in b.downloads (size bytes,
 * no partial files beside it) and returns its path.
 */
export async function downloaded(b: Driven, name: string, size: number, limitMs = 5 * 60_000): Promise<string> {
  const file = path.join(b.downloads, name);
  const end = Date.now() + limitMs;
  for (;;) {
    const names = await readdir(b.downloads);
    const partial = names.some((n) => n.endsWith('.part') || n.endsWith('.download') || n.endsWith('.wkdownload'));
    const got = await stat(file).then((s) => s.size, () => -1);
    if (got === size && !partial) return file;
    if (Date.now() > end) throw new Error(`${b.name}: ${name} not complete in ${b.downloads} (${got} of ${size} bytes; ${names.join(', ')})`);
    await sleep(250);
  }
}
