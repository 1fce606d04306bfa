// Small safetensors utilities for building test inputs from the oracle
// fixtures (hostile metadata, altered data, truncation) and for comparing
// tensors of an output with a source. Files are streamed, never loaded whole.
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';

export interface TensorInfo {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface Header {
  tensors: Record<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Byte offset of the data section (8 + header length). */
  dataStart: number;
}

/** The N header bytes of a safetensors file, reading only its first 8 + N bytes. */
async function readHeaderBytes(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const len = Buffer.alloc(8);
    await fh.read(len, 0, 8, 0);
    const json = Buffer.alloc(Number(len.readBigUInt64LE(0)));
    await fh.read(json, 0, json.length, 8);
    return json;
  } finally {
    await fh.close();
  }
}

/** The header JSON text of a safetensors file. */
export async function readHeaderText(file: string): Promise<string> {
  return (await readHeaderBytes(file)).toString('utf8');
}

export async function readHeader(file: string): Promise<Header> {
  const json = await readHeaderBytes(file);
  const raw = JSON.parse(json.toString('utf8'));
  const metadata = raw.__metadata__ ?? {};
  delete raw.__metadata__;
  return { tensors: raw, metadata, dataStart: 8 + json.length };
}

function encodeHeader(tensors: Record<string, TensorInfo>, metadata: Record<string, string>): Buffer {
  const obj: Record<string, unknown> = {};
  if (Object.keys(metadata).length) obj.__metadata__ = metadata;
  Object.assign(obj, tensors);
  let json = Buffer.from(JSON.stringify(obj), 'utf8');
  // Pad with spaces to a multiple of 8, as the reference writer does.
  const pad = (8 - (json.length % 8)) % 8;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json]);
}

/** Copies src to dst with __metadata__ replaced by metadata; tensor data unchanged. */
export async function copyWithMetadata(src: string, dst: string, metadata: Record<string, string>): Promise<void> {
  const h = await readHeader(src);
  const out = createWriteStream(dst);
  out.write(encodeHeader(h.tensors, metadata));
  await pipeline(createReadStream(src, { start: h.dataStart }), out);
}

/**
 * Copies src to dst and overwrites the first bytes of every tensor with a
 * pattern, so dst is the same component with different weights (a "second
 * VAE" whose bytes can be told apart from the original's).
 */
export async function copyWithAlteredData(src: string, dst: string): Promise<void> {
  await pipeline(createReadStream(src), createWriteStream(dst));
  const h = await readHeader(dst);
  const fh = await open(dst, 'r+');
  try {
    let i = 0;
    for (const info of Object.values(h.tensors)) {
      const [begin, end] = info.data_offsets;
      const n = Math.min(16, end - begin);
      if (n <= 0) continue;
      const pattern = Buffer.alloc(n, (0x5a + i++) & 0xff);
      await fh.write(pattern, 0, n, h.dataStart + begin);
    }
  } finally {
    await fh.close();
  }
}

/** The bytes of one tensor. */
export async function tensorBytes(file: string, header: Header, name: string): Promise<Buffer> {
  const info = header.tensors[name];
  if (!info) throw new Error(`${file}: no tensor ${name}`);
  const [begin, end] = info.data_offsets;
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(end - begin);
    await fh.read(buf, 0, buf.length, header.dataStart + begin);
    return buf;
  } finally {
    await fh.close();
  }
}
