// The service worker (web/sw.js): after one visit the app shell, the wasm
// and wasm_exec.js are cached under the build's version, and a new build
// (a new sw-precache.js) replaces that cache instead of adding to it.
// The site is served from a scratch copy of web/ by scripts/serve, so the
// spec can "rebuild" it by rewriting the copy's sw-precache.js.
import { test, expect } from '@playwright/test';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './helpers/fixtures';

let server: ChildProcess | undefined;
let site = '';
let base = '';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

test.beforeAll(async () => {
  site = await mkdtemp(path.join(os.tmpdir(), 'ckptpack-site-'));
  await cp(path.join(REPO, 'web'), site, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}/`;
  // The binary itself, not `go run`, so killing it stops the server.
  const bin = path.join(REPO, 'build', 'bin', 'serve');
  await promisify(execFile)('go', ['build', '-o', bin, './scripts/serve'], { cwd: REPO });
  server = spawn(bin, ['-dir', site, '-addr', `127.0.0.1:${port}`], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(base + 'sw.js')).ok) break;
    } catch { /* not up yet */ }
    if (i > 600) throw new Error('scripts/serve did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

test.afterAll(async () => {
  server?.kill();
  if (site) await rm(site, { recursive: true, force: true });
});

test('service worker precaches the build and a new build replaces the cache', async ({ page }) => {
  await page.goto(base + 'index.html');
  const first = await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    const text = await (await fetch('sw-precache.js', { cache: 'no-store' })).text();
    const version = /version: "([^"]*)"/.exec(text)![1];
    const keys = await caches.keys();
    const cache = await caches.open(`ckptpack-${version}`);
    const urls = (await cache.keys()).map((r) => new URL(r.url).pathname);
    return { version, keys, urls };
  });
  expect(first.keys).toEqual([`ckptpack-${first.version}`]);
  for (const f of ['/index.html', '/ckptpack.wasm', '/wasm_exec.js', '/worker.js', '/worker-io.js', '/manifest.webmanifest']) {
    expect(first.urls).toContain(f);
  }
  expect(first.urls).not.toContain('/sw.js');

  // "Rebuild": a new precache list with a new version.
  const list = path.join(site, 'sw-precache.js');
  await writeFile(list, (await readFile(list, 'utf8')).replace(/version: "[^"]*"/, 'version: "next-build"'));
  const second = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    await reg.update();
    for (let i = 0; i < 600; i++) {
      const keys = await caches.keys();
      if (keys.length === 1 && keys[0] === 'ckptpack-next-build') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return caches.keys();
  });
  expect(second).toEqual(['ckptpack-next-build']);
});
