// The server side of the fake ComfyUI used by extension.e2e.ts, bound to
// 127.0.0.1:  node tests/comfyui/fake-comfyui-server.mjs CUSTOM_NODES_DIR PORT
//
// It serves what ComfyUI's server.py serves to an extension:
// - every folder in CUSTOM_NODES_DIR whose __init__.py sets WEB_DIRECTORY is
//   served at /extensions/<folder name>/ (nodes.py EXTENSION_WEB_DIRS,
//   server.py web.static), with Content-Types from a table like Python's
//   mimetypes after the package's __init__.py ran (.js as ComfyUI forces it);
// - GET /extensions lists /extensions/<name>/<path> for every **/*.js file in
//   those folders: the modules the frontend imports (server.py get_extensions);
// - /scripts/app.js and the page come from tests/comfyui/fake-comfyui/.
// Anything else is a 404, so a request for an asset outside the package
// fails the test instead of silently working. Every response carries the
// Content-Security-Policy ComfyUI adds when it runs locked down, with its
// API nodes / external access disabled (server.py
// create_block_external_middleware): the strictest setup a user can pick,
// and the extension must work under it.
const CSP = "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:; style-src 'self' 'unsafe-inline'; "
  + "img-src 'self' data: blob:; font-src 'self'; connect-src 'self' data:; frame-src 'self'; object-src 'self';";
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pageRoot = path.join(here, 'fake-comfyui');
const customNodes = path.resolve(process.argv[2] ?? '');
const port = Number(process.argv[3] ?? 8093);

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8', // server.py forces this for .js
  '.mjs': 'text/javascript', // registered by the package's __init__.py
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** name -> absolute web directory, as nodes.py registers them. */
function extensionWebDirs() {
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

async function scripts(dir, prefix = '') {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    // Python's glob('**/*.js') skips names starting with a dot.
    if (entry.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...await scripts(path.join(dir, entry.name), rel));
    else if (entry.name.endsWith('.js')) out.push(rel);
  }
  return out.sort();
}

async function sendFile(res, file, method) {
  const info = await stat(file);
  if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
  res.writeHead(200, {
    'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': CSP,
  });
  if (method === 'HEAD') return res.end();
  createReadStream(file).pipe(res);
}

/** root + rel, or null when rel climbs out of root. */
function inside(root, rel) {
  const file = path.resolve(root, `.${path.posix.normalize(`/${rel}`)}`);
  return file === root || file.startsWith(root + path.sep) ? file : null;
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const pathname = decodeURIComponent(url.pathname);
    if (pathname === '/extensions') {
      const list = [];
      for (const [name, dir] of extensionWebDirs()) {
        for (const rel of await scripts(dir)) list.push(`/extensions/${encodeURIComponent(name)}/${rel}`);
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Security-Policy': CSP });
      return res.end(JSON.stringify(list));
    }
    let file = null;
    const ext = /^\/extensions\/([^/]+)\/(.+)$/.exec(pathname);
    if (ext) {
      const dir = extensionWebDirs().get(ext[1]);
      file = dir ? inside(dir, ext[2]) : null;
    } else if (pathname === '/' || pathname === '/index.html') {
      file = path.join(pageRoot, 'index.html');
    } else if (pathname === '/scripts/app.js') {
      file = path.join(pageRoot, 'scripts', 'app.js');
    } else if (pathname.startsWith('/fake/')) {
      file = inside(pageRoot, pathname.slice('/fake/'.length));
    }
    if (!file) throw Object.assign(new Error('not found'), { code: 'ENOENT' });
    await sendFile(res, file, req.method);
  } catch (error) {
    const missing = error.code === 'ENOENT' || error.code === 'ENOTDIR';
    if (!missing) console.error(req.url, error);
    res.writeHead(missing ? 404 : 500, { 'Content-Type': 'text/plain' });
    res.end(missing ? 'not found\n' : 'server error\n');
  }
});

server.listen(port, '127.0.0.1', () => console.log(`fake ComfyUI on http://127.0.0.1:${port}/ (custom_nodes: ${customNodes})`));
