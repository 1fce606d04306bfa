// How ComfyUI serves a custom node's web folder, shared by the two fake
// backends (fake-comfyui-server.mjs for the fake page, real-frontend/
// backend.mjs for the real frontend): nodes.py's EXTENSION_WEB_DIRS, the
// GET /extensions listing's glob, server.py's content types, and static
// files that never leave their root.
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export const TYPES = {
  '.html': 'text/html; charset=utf-8',
  // server.py: "Ensure .js files are served as JavaScript" (Windows registries get it wrong).
  '.js': 'application/javascript; charset=utf-8',
  // The package's __init__.py registers these with Python's and aiohttp's tables.
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
};

/** folder name -> absolute web directory, for each custom node under customNodes defining WEB_DIRECTORY. */
export function extensionWebDirs(customNodes) {
  const dirs = new Map();
  for (const entry of existsSync(customNodes) ? readdirSync(customNodes) : []) {
    const init = path.join(customNodes, entry, '__init__.py');
    if (!existsSync(init)) continue;
    const match = /^WEB_DIRECTORY\s*=\s*["']([^"']+)["']/m.exec(readFileSync(init, 'utf8'));
    if (!match) continue;
    const webDir = path.resolve(customNodes, entry, match[1]);
    if (existsSync(webDir)) dirs.set(entry, webDir);
  }
  return dirs;
}

/** Python's glob("**\/*.js", recursive=True) under dir: names starting with a dot are skipped. */
export async function scripts(dir, prefix = '') {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...await scripts(path.join(dir, entry.name), rel));
    else if (entry.name.endsWith('.js')) out.push(rel);
  }
  return out.sort();
}

/** Serves file; throws an ENOENT error when it is missing or not a file. */
export async function sendFile(res, file, method, headers = {}) {
  const info = await stat(file);
  if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
  res.writeHead(200, {
    'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
    // server.py's cache_control middleware: no-cache for .js/.css and index.html.
    'Cache-Control': 'no-cache',
    ...headers,
  });
  if (method === 'HEAD') return res.end();
  createReadStream(file).pipe(res);
}

/** root + rel, or null when rel climbs out of root. */
export function inside(root, rel) {
  const file = path.resolve(root, `.${path.posix.normalize(`/${rel}`)}`);
  return file === root || file.startsWith(root + path.sep) ? file : null;
}
