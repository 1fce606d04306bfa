// The page in Firefox (ESR, over WebDriver BiDi) and WebKit (WebKitGTK's
// MiniBrowser, over WebDriver), as a user meets it: the engine starts and
// the page picks, by feature checks, the read path and the sinks that work
// there; sd15 through the labelled inputs, downloaded and verified byte for
// byte; a wrong file's error; Cancel keeping nothing; and, after one visit,
// a reload with the server gone that still assembles sd15 (service worker).
// Firefox also saves through browser storage while its persistent-storage
// prompt stays unanswered (the save must never wait for it).
//
// Each browser gets its own server (the project's, build/bin/serve) on
// CKPT_PORT, which the offline test stops.
import { readdir } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { test, expect } from '@playwright/test';
import { fixtureFile } from '../helpers/fixtures';
import { launch, until, type BrowserName, type Driven } from './drivers';
import {
  chooseSink, emptyDownloads, opfsPaths, openPage, pickSD15, save, SD15_BYTES, SLOT_LABELS, startServer, stopServer, text, verifyDownload,
} from './page';

for (const name of ['firefox', 'webkit'] as BrowserName[]) {
  test.describe.serial(name, () => {
    let b: Driven;
    let server: ChildProcess | null = null;
    test.beforeAll(async () => {
      server = await startServer();
      b = await launch(name);
      console.log(`${name}: ${b.version}`);
    });
    test.afterAll(async () => {
      await b?.close();
      await stopServer(server);
    });

    test('reads and sinks chosen by feature checks; sd15 downloaded directly, byte for byte', async () => {
      const io = await openPage(b);
      console.log(`${name}: worker io ${JSON.stringify(io)}`);
      // Firefox's Blob streams have BYOB readers; WebKit's do not, and its
      // worker reads with FileReaderSync instead (TypeError before the fix).
      expect(io.reads).toBe(name === 'firefox' ? 'byob' : 'sync');
      const offered = await b.run<Record<string, boolean>>(`return Object.fromEntries([...document.querySelectorAll('[data-role="sink"]')]
        .map((r) => [r.value, !r.disabled && !r.closest('label').hidden]));`);
      // No showSaveFilePicker in either; browser storage where the worker can write it.
      expect(offered).toEqual({ file: false, blob: true, opfs: name === 'firefox' });
      expect(io.syncAccessHandle).toBe(name === 'firefox');
      expect(await b.run(`return document.querySelector('[data-role="sink"]:checked').value`)).toBe('blob');
      expect(await text(b, '[data-role="sink-why"]')).toContain('Recommended here: Download directly. Fastest here');

      await pickSD15(b);
      await chooseSink(b, 'blob');
      expect(await text(b, '[data-role="plan"]')).toContain('Will download ComfyUI_00001_.safetensors: Stable Diffusion 1.5 checkpoint, 2.30 GB.');
      await emptyDownloads(b);
      const done = await save(b);
      expect(done.sink).toBe('blob');
      expect(done.bytes).toBeGreaterThan(SD15_BYTES - 10_000_000);
      console.log(`${name}: direct download ${await verifyDownload(b, done)}`);
    });

    if (name === 'firefox') {
      test('browser storage: the save runs while the persistent-storage prompt is unanswered, byte for byte', async () => {
        await openPage(b);
        await pickSD15(b);
        await chooseSink(b, 'opfs');
        await emptyDownloads(b);
        const done = await save(b);
        expect(done.sink).toBe('opfs');
        expect(await text(b, '[data-role="result"]')).toContain('Saved checkpoints/ComfyUI_00001_.safetensors');
        // Nobody answered the prompt: the save did not depend on it.
        expect(await b.run(`return navigator.storage.persisted()`)).toBe(false);
        console.log(`${name}: browser storage, then download ${await verifyDownload(b, done)}`);
        expect(await opfsPaths(b)).toEqual(['checkpoints', 'checkpoints/ComfyUI_00001_.safetensors']);
      });
    }

    test('a wrong file: its error on the slot, Save off', async () => {
      await openPage(b);
      await b.setFiles(SLOT_LABELS.model, [fixtureFile('sd15', 'vae')]);
      const alert = await until<string>(b, 'the error', `return document.querySelector('[role="alert"]').textContent;`);
      expect(alert).toContain('vae.safetensors holds a VAE');
      expect(alert).toContain('not a diffusion model');
      expect(await text(b, '[data-slot="model"] .ckpt-file-problem')).toContain('not a diffusion model');
      await b.setFiles(SLOT_LABELS.clip, [fixtureFile('sd15', 'clip_l')]);
      await b.setFiles(SLOT_LABELS.vae, [fixtureFile('sd15', 'vae')]);
      await until(b, 'the other slots', `return document.querySelectorAll('.ckpt-slot .ckpt-file-ok').length === 2;`);
      expect(await b.run(`return document.querySelector('[data-role="save"]').disabled`)).toBe(true);
      expect(await text(b, '[role="alert"]')).toContain('not a diffusion model');
    });

    test('Cancel during a save keeps nothing', async () => {
      await openPage(b);
      await pickSD15(b);
      const storedBefore = await opfsPaths(b);
      if (name === 'firefox') {
        // Browser storage writes for several seconds here.
        await chooseSink(b, 'opfs');
      } else {
        // WebKit has only the direct download, which takes a moment to
        // prepare; with modelspec.hash_sha256 the engine reads all 2.3 GB
        // first, long enough to cancel.
        await b.click('#tab-metadata');
        await until(b, 'the hash option', `const box = [...document.querySelectorAll('#metadata-editor label')]
          .find((l) => l.textContent.startsWith('Store modelspec.hash_sha256'));
          if (!box) return false;
          box.querySelector('input').click();
          return box.querySelector('input').checked;`);
        await b.click('#tab-save');
        await chooseSink(b, 'blob');
      }
      await emptyDownloads(b);
      await b.click('[data-role="save"]');
      await until(b, 'progress', `const p = document.querySelector('[data-role="progress"]');
        return p && p.value > 0 && p.value < p.max && !document.querySelector('[data-role="cancel"]').disabled;`);
      await b.click('[data-role="cancel"]');
      await until(b, 'the cancelled save', `return document.querySelector('[role="status"]').textContent.includes('Cancelled: nothing was kept.');`);
      expect(await opfsPaths(b)).toEqual(storedBefore);
      // The download of a blob save starts only with the engine's done reply.
      expect(await readdir(b.downloads)).toEqual([]);
      expect(await b.run(`return globalThis.ckptpack.saver.stats.lastSave.bytes`)).toBe(0);
    });

    test('offline after one visit: the server gone, a reload still assembles sd15', async () => {
      await openPage(b);
      await b.run(`return navigator.serviceWorker.ready.then(() => true)`);
      await b.reload();
      await until(b, 'the service worker in control', `return !!navigator.serviceWorker.controller;`);
      await stopServer(server);
      server = null;
      expect(await b.run(`return fetch('nonexistent-' + Date.now() + '.txt', { cache: 'no-store' }).then(() => 'reached the server', () => 'offline')`)).toBe('offline');
      await openPage(b);
      await pickSD15(b);
      await chooseSink(b, 'blob');
      await emptyDownloads(b);
      const done = await save(b);
      console.log(`${name}: offline direct download ${await verifyDownload(b, done)}`);
    });
  });
}

// Safari ships the File System API that WebKitGTK leaves off by default.
// Switched on here, the page sees navigator.storage.getDirectory (which
// rejects in MiniBrowser's ephemeral automation session, so the page's own
// probe turns browser storage off too), and the worker's feature check
// finds no FileSystemSyncAccessHandle, which the engine writes browser
// storage with: both keep the sink hidden, and the direct download is
// recommended.
test('webkit with the File System API on: no sync access handle in the worker, browser storage hidden', async () => {
  const server = await startServer();
  const b = await launch('webkit', { webkitFeatures: '+FileSystem,+FileSystemWritableStream,+StorageAPI,+StorageAPIEstimate' });
  try {
    const io = await openPage(b);
    expect(await b.run(`return typeof navigator.storage.getDirectory`)).toBe('function');
    expect(io).toEqual({ reads: 'sync', opfs: true, syncAccessHandle: false });
    await until(b, 'browser storage hidden', `const r = document.querySelector('[data-role="sink"][value="opfs"]');
      return r.disabled && r.closest('label').hidden;`);
    expect(await b.run(`return document.querySelector('[data-role="sink"]:checked').value`)).toBe('blob');
    expect(await text(b, '[data-role="sink-why"]')).toContain('Recommended here: Download directly.');
  } finally {
    await b.close();
    await stopServer(server);
  }
});
