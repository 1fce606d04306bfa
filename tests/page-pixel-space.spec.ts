// A pixel-space model (Z-Image pixel-space) has no VAE: the VAE slot says so
// in the engine's words instead of waiting for a file, Save is on with a
// model and its text encoder only, and the checkpoint holds ComfyUI's
// pixel_space_vae marker where the VAE would be.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, expect } from './helpers/browser';
import { REPO } from './helpers/fixtures';
import { expectSlotOK, openSaver, savedPaths, ui } from './helpers/page';

const SCRATCH = path.join(REPO, 'build', 'test-scratch', 'page-pixel-space');

/** A small safetensors file of zero-filled BF16 tensors. */
async function writeSafetensors(file: string, tensors: Record<string, number[]>): Promise<void> {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of Object.entries(tensors)) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  await writeFile(file, Buffer.concat([len, Buffer.from(json), Buffer.alloc(offset)]));
}

test.beforeAll(async () => {
  await mkdir(SCRATCH, { recursive: true });
});
test.afterAll(async () => {
  await rm(SCRATCH, { recursive: true, force: true });
});

test('a pixel-space model needs no VAE, and the checkpoint carries pixel_space_vae', async ({ page }) => {
  const u = ui(page);
  const model = path.join(SCRATCH, 'z_image_pixel.safetensors');
  const te = path.join(SCRATCH, 'qwen_3_4b.safetensors');
  // cap_embedder 3840 wide is what makes it Z-Image; the shape is what detection reads.
  await writeSafetensors(model, {
    'cap_embedder.1.weight': [3840, 4], 'noise_refiner.0.attention.k_norm.weight': [128],
    'dec_net.cond_embed.weight': [64, 4], 'x_embedder.weight': [4, 48],
  });
  await writeSafetensors(te, {
    'model.layers.0.post_attention_layernorm.weight': [2560], 'model.layers.0.self_attn.q_norm.weight': [128],
    'model.norm.weight': [2560],
  });
  await openSaver(page);
  await u.model.setInputFiles(model);
  await expectSlotOK(page, 'model');
  await expect(u.slot('model')).toContainText('Z-Image pixel-space diffusion model');
  await expect(u.slot('vae')).toContainText('This model has no VAE: Z-Image pixel-space works on pixels, so none is needed.');
  await expect(u.status).toContainText('Still needed: text encoders.');
  await u.clip.setInputFiles(te);
  await expectSlotOK(page, 'clip');
  await expect(u.status).toHaveText('Ready to save.');
  await expect(u.save).toBeEnabled();
  await u.save.click();
  await expect(u.result).toBeVisible({ timeout: 60_000 });
  const saved = await savedPaths(page);
  expect(saved.length).toBe(1);
  // The saved file's header, read back from browser storage.
  const keys = await page.evaluate(async () => {
    const files: File[] = [];
    const walk = async (dir: FileSystemDirectoryHandle) => {
      for await (const [, h] of (dir as any).entries()) {
        if (h.kind === 'directory') await walk(h);
        else if (h.name.endsWith('.safetensors')) files.push(await h.getFile());
      }
    };
    await walk(await navigator.storage.getDirectory());
    const file = files[0];
    const n = Number(new DataView(await file.slice(0, 8).arrayBuffer()).getBigUint64(0, true));
    const header = JSON.parse(await file.slice(8, 8 + n).text());
    return { count: files.length, vae: header['vae.pixel_space_vae'], te: Object.keys(header).filter((k) => k.startsWith('text_encoders.')).sort() };
  });
  expect(keys.count).toBe(1);
  expect(keys.vae).toEqual({ dtype: 'F32', shape: [], data_offsets: keys.vae.data_offsets });
  expect(keys.te).toContain('text_encoders.qwen3_4b.logit_scale');
});
