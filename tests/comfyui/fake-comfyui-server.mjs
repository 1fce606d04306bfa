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
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extensionWebDirs, inside, scripts, sendFile } from './comfy-serving.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const pageRoot = path.join(here, 'fake-comfyui');
const customNodes = path.resolve(process.argv[2] ?? '');
const port = Number(process.argv[3] ?? 8093);

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const pathname = decodeURIComponent(url.pathname);
    if (pathname === '/extensions') {
      const list = [];
      for (const [name, dir] of extensionWebDirs(customNodes)) {
        for (const rel of await scripts(dir)) list.push(`/extensions/${encodeURIComponent(name)}/${rel}`);
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Security-Policy': CSP });
      return res.end(JSON.stringify(list));
    }
    let file = null;
    const ext = /^\/extensions\/([^/]+)\/(.+)$/.exec(pathname);
    if (ext) {
      const dir = extensionWebDirs(customNodes).get(ext[1]);
      file = dir ? inside(dir, ext[2]) : null;
    } else if (pathname === '/' || pathname === '/index.html') {
      file = path.join(pageRoot, 'index.html');
    } else if (pathname === '/scripts/app.js') {
      file = path.join(pageRoot, 'scripts', 'app.js');
    } else if (pathname.startsWith('/fake/')) {
      file = inside(pageRoot, pathname.slice('/fake/'.length));
    }
    if (!file) throw Object.assign(new Error('not found'), { code: 'ENOENT' });
    await sendFile(res, file, req.method, { 'Content-Security-Policy': CSP });
  } catch (error) {
    const missing = error.code === 'ENOENT' || error.code === 'ENOTDIR';
    if (!missing) console.error(req.url, error);
    res.writeHead(missing ? 404 : 500, { 'Content-Type': 'text/plain' });
    res.end(missing ? 'not found\n' : 'server error\n');
  }
});

server.listen(port, '127.0.0.1', () => console.log(`fake ComfyUI on http://127.0.0.1:${port}/ (custom_nodes: ${customNodes})`));
