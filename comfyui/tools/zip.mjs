// A small, dependency-free ZIP writer (deflate, no ZIP64) for the ComfyUI
// package: a few dozen files of a few MB. Entries carry a fixed timestamp
// (1980-01-01) so the same inputs give the same archive; names are UTF-8
// (general-purpose flag bit 11) and "/"-separated, as APPNOTE 4.4.17 requires.
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const FLAG_UTF8 = 0x0800;
const METHOD_DEFLATE = 8;
const VERSION_NEEDED = 20; // 2.0: deflate, folders
const VERSION_MADE_BY_UNIX = (3 << 8) | 20;
const MAX_32 = 0xffffffff;

/**
 * Writes a ZIP archive at zipPath holding files [{name, path}] (name is the
 * entry name, e.g. "ckptpack/web/ckptpack.js"); folder entries are added for
 * every parent folder. The archive is written to zipPath + ".tmp" and renamed,
 * so a failed run leaves no partial archive.
 */
export async function writeZip(zipPath, files) {
  const folders = new Set();
  for (const { name } of files) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) folders.add(`${parts.slice(0, i).join('/')}/`);
  }
  const entries = [
    ...[...folders].sort().map((name) => ({ name, data: Buffer.alloc(0), mode: 0o40755 })),
    ...files.map((f) => ({ name: f.name, file: f.path, mode: 0o100644 })),
  ];

  const chunks = [];
  const central = [];
  let offset = 0;
  for (const entry of entries) {
    const data = entry.file ? await fs.readFile(entry.file) : entry.data;
    const isFolder = entry.name.endsWith('/');
    const compressed = isFolder ? data : zlib.deflateRawSync(data, { level: 9 });
    const method = isFolder ? 0 : METHOD_DEFLATE;
    const crc = zlib.crc32(data);
    const name = Buffer.from(entry.name, 'utf8');
    if (data.length > MAX_32 || compressed.length > MAX_32 || offset > MAX_32) {
      throw new Error(`${entry.name}: too large for a ZIP without ZIP64`);
    }

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(FLAG_UTF8, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10); // time 00:00:00
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    chunks.push(local, name, compressed);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(VERSION_MADE_BY_UNIX, 4);
    header.writeUInt16LE(VERSION_NEEDED, 6);
    header.writeUInt16LE(FLAG_UTF8, 8);
    header.writeUInt16LE(method, 10);
    header.writeUInt16LE(0, 12);
    header.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(compressed.length, 20);
    header.writeUInt32LE(data.length, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt16LE(0, 30); // extra
    header.writeUInt16LE(0, 32); // comment
    header.writeUInt16LE(0, 34); // disk
    header.writeUInt16LE(0, 36); // internal attributes
    header.writeUInt32LE(((entry.mode << 16) | (isFolder ? 0x10 : 0)) >>> 0, 38); // unix mode, MS-DOS folder bit
    header.writeUInt32LE(offset, 42);
    central.push(header, name);

    offset += local.length + name.length + compressed.length;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  if (entries.length > 0xffff || offset > MAX_32) throw new Error(`${zipPath}: too many entries or bytes for a ZIP without ZIP64`);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);

  await fs.mkdir(path.dirname(zipPath), { recursive: true });
  const tmp = `${zipPath}.tmp`;
  try {
    await fs.writeFile(tmp, Buffer.concat([...chunks, ...central, end]));
    await fs.rename(tmp, zipPath);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw new Error(`${zipPath}: ${error.message}`);
  }
}
