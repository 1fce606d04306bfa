// Driving the saver page in Firefox and WebKit (drivers.ts): the project's
// server, the labelled inputs, the Save button, and what the page shows.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { expect } from '@playwright/test';
import { fixtureFile, REPO, verifyCheckpoint } from '../helpers/fixtures';
import { downloaded, until, type Driven } from './drivers';

export const PORT = Number(process.env.CKPT_PORT ?? 8080);
export const BASE = `http://127.0.0.1:${PORT}/`;
const SERVE_BIN = path.join(REPO, 'build', 'bin', 'serve');
export const SD15_BYTES = 2_300_000_000; // "2.30 GB" in the plan line; the exact size comes from the engine

export async function startServer(): Promise<ChildProcess> {
  const proc = spawn(SERVE_BIN, ['-dir', 'web', '-addr', `127.0.0.1:${PORT}`, '-mount', '/tests/fixtures-web/=tests/fixtures-web'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; ; i++) {
    const up = await fetch(`${BASE}index.html`).then((r) => r.ok, () => false);
    if (up) return proc;
    if (proc.exitCode !== null || i > 400) throw new Error(`${SERVE_BIN} did not start on ${BASE}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function stopServer(proc: ChildProcess | null): Promise<void> {
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill();
  await exited;
}

/** Opens the page and waits for the engine; returns its ready message's io capabilities. */
export async function openPage(b: Driven): Promise<{ reads: string; opfs: boolean; syncAccessHandle: boolean }> {
  await b.goto(`${BASE}index.html`);
  const engine = await until<string>(b, 'the engine',
    `const s = document.querySelector('[data-ckpt-saver]')?.dataset.engine; return s === 'ready' || s === 'failed' ? s : '';`);
  expect(engine, await b.run<string>(`return document.querySelector('[role="alert"]')?.textContent ?? ''`)).toBe('ready');
  return b.run(`return globalThis.ckptpack.saver.engine.info.io`);
}

export const SLOT_LABELS = { model: 'Diffusion model', clip: 'Text encoders', vae: 'VAE' } as const;

/** Picks sd15's components through the labelled inputs and waits until each fits. */
export async function pickSD15(b: Driven): Promise<void> {
  await b.setFiles(SLOT_LABELS.model, [fixtureFile('sd15', 'unet')]);
  await b.setFiles(SLOT_LABELS.clip, [fixtureFile('sd15', 'clip_l')]);
  await b.setFiles(SLOT_LABELS.vae, [fixtureFile('sd15', 'vae')]);
  await until(b, 'three components that fit', `return document.querySelectorAll('.ckpt-slot .ckpt-file-ok').length === 3;`);
}

export const text = (b: Driven, selector: string) => b.run<string>(`return document.querySelector(arguments[0])?.textContent ?? ''`, selector);

export async function chooseSink(b: Driven, sink: 'blob' | 'opfs'): Promise<void> {
  await b.click(`[data-role="sink"][value="${sink}"]`);
  await until(b, 'Save enabled', `return document.querySelector('[data-role="sink"][value="${sink}"]').checked
    && !document.querySelector('[data-role="save"]').disabled;`);
}

/** Clicks Save and waits for this save to complete; returns the saver's record of it. */
export async function save(b: Driven): Promise<{ bytes: number; name: string; sink: string; seconds: number }> {
  const before = await b.run<number>(`return globalThis.ckptpack.saver.stats.savesCompleted`);
  await b.click('[data-role="save"]');
  await until(b, 'the save', `const s = globalThis.ckptpack.saver.stats;
    return s.savesCompleted > arguments[0] || document.querySelector('[role="alert"]').textContent !== '';`, [before]);
  expect(await text(b, '[role="alert"]')).toBe('');
  return b.run(`return globalThis.ckptpack.saver.stats.lastSave`);
}

/** Every OPFS path under the origin's root, or null where the page has no OPFS. */
export const opfsPaths = (b: Driven) => b.run<string[] | null>(`
  if (typeof navigator.storage?.getDirectory !== 'function') return null;
  const walk = async (dir, prefix) => {
    const out = [];
    for await (const [name, handle] of dir.entries()) {
      out.push(prefix + name);
      if (handle.kind === 'directory') out.push(...await walk(handle, prefix + name + '/'));
    }
    return out;
  };
  return navigator.storage.getDirectory().then((root) => walk(root, '')).then((paths) => paths.sort());`);

export async function emptyDownloads(b: Driven): Promise<void> {
  for (const name of await readdir(b.downloads)) await rm(path.join(b.downloads, name), { force: true });
}

export async function verifyDownload(b: Driven, done: { bytes: number; name: string }): Promise<string> {
  const file = await downloaded(b, done.name, done.bytes);
  const result = await verifyCheckpoint('sd15', file);
  expect(result.ok, result.output).toBe(true);
  await rm(file);
  return result.summary;
}

