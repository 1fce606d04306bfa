// A fake ComfyUI backend for the real ComfyUI frontend (its built dist/),
// answering what the frontend asks at start (the frontend README's list) the
// way ComfyUI's server.py answers it, and serving custom nodes' WEB_DIRECTORY
// folders at /extensions/<folder>/ as ComfyUI does. No Python, no models: the
// node definitions (object-info.mjs) and model lists are fixed.
//
//   node tests/comfyui/real-frontend/backend.mjs --dist DIR --custom-nodes DIR --port N
//
// State (settings, user data) lives in memory, for one run. Two test-only
// routes reset it between tests: PUT /__test__/settings (the settings JSON)
// and POST /__test__/reset.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { extensionWebDirs, inside, scripts, sendFile } from '../comfy-serving.mjs';
import { MODELS, objectInfo } from './object-info.mjs';

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    if (!key || argv[i + 1] === undefined) throw new Error(`usage: backend.mjs --dist DIR --custom-nodes DIR --port N (bad argument "${argv[i]}")`);
    args[key] = argv[i + 1];
  }
  for (const required of ['dist', 'custom-nodes', 'port']) {
    if (!args[required]) throw new Error(`backend.mjs: --${required} is required`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const webRoot = path.resolve(args.dist);
const customNodes = path.resolve(args['custom-nodes']);
const port = Number(args.port);
if (!existsSync(path.join(webRoot, 'index.html'))) throw new Error(`backend.mjs: ${webRoot}/index.html not found: not a ComfyUI frontend build`);


// --- State ---------------------------------------------------------------

let settings = {};
/** user data files, "workflows/x.json" -> {body, modified} */
let userdata = new Map();

function resetState() {
  settings = {};
  userdata = new Map();
}

// --- Custom nodes (nodes.py EXTENSION_WEB_DIRS, server.py GET /extensions) --

async function extensionList() {
  // The frontend's own extensions/**/*.js first, then each custom node's.
  const list = (await scripts(path.join(webRoot, 'extensions'))).map((rel) => `/extensions/${rel}`);
  for (const [name, dir] of extensionWebDirs(customNodes)) {
    for (const rel of await scripts(dir)) list.push(`/extensions/${encodeURIComponent(name)}/${rel}`);
  }
  return list;
}

// --- HTTP helpers ---------------------------------------------------------

function json(res, value, status = 200) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function notFound(res) {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('404: Not Found\n');
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** sendFile, with ComfyUI's 404 for a missing file. */
async function sendFileOr404(res, file, method) {
  try {
    await sendFile(res, file, method);
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return notFound(res);
    throw error;
  }
}

// --- The API (server.py, app/user_manager.py, app/app_settings.py) ---------

const SYSTEM_STATS = {
  system: {
    os: 'posix',
    ram_total: 24 * 2 ** 30,
    ram_free: 16 * 2 ** 30,
    comfyui_version: '0.3.64',
    required_frontend_version: '1.45.0',
    installed_templates_version: '',
    required_templates_version: '',
    python_version: '3.12.3',
    pytorch_version: '2.8.0+cpu',
    embedded_python: false,
    argv: ['main.py', '--cpu'],
  },
  devices: [{ name: 'cpu', type: 'cpu', index: null, vram_total: 0, vram_free: 0, torch_vram_total: 0, torch_vram_free: 0 }],
};

const MODEL_ROOT = '/comfyui/models';

async function api(req, res, route, url) {
  const method = req.method;
  if (method === 'GET' && route === '/users') return json(res, { storage: 'server', migrated: true });
  if (route === '/settings') {
    if (method === 'GET') return json(res, settings);
    if (method === 'POST') {
      settings = { ...settings, ...JSON.parse((await readBody(req)).toString() || '{}') };
      return json(res, null);
    }
  }
  const setting = /^\/settings\/(.+)$/.exec(route);
  if (setting) {
    const id = decodeURIComponent(setting[1]);
    if (method === 'GET') return json(res, settings[id] ?? null);
    if (method === 'POST') {
      settings[id] = JSON.parse((await readBody(req)).toString());
      return json(res, null);
    }
  }
  if (method === 'GET' && route === '/userdata') {
    const dir = (url.searchParams.get('dir') ?? '').replace(/\/+$/, '');
    const fullInfo = url.searchParams.get('full_info') === 'true';
    const files = [...userdata.keys()].filter((name) => name.startsWith(`${dir}/`)).map((name) => name.slice(dir.length + 1));
    if (!dir) return json(res, { error: 'dir is required' }, 400);
    return json(res, fullInfo
      ? files.map((name) => ({ path: name, size: userdata.get(`${dir}/${name}`).body.length, modified: userdata.get(`${dir}/${name}`).modified }))
      : files);
  }
  const file = /^\/userdata\/(.+)$/.exec(route);
  if (file) {
    const name = decodeURIComponent(file[1]);
    if (method === 'GET') {
      const entry = userdata.get(name);
      if (!entry) return notFound(res);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': entry.body.length });
      return res.end(entry.body);
    }
    if (method === 'POST') {
      if (url.searchParams.get('overwrite') === 'false' && userdata.has(name)) return json(res, { error: 'file exists' }, 409);
      const entry = { body: await readBody(req), modified: Date.now() / 1000 };
      userdata.set(name, entry);
      return json(res, url.searchParams.get('full_info') === 'true' ? { path: name, size: entry.body.length, modified: entry.modified } : name);
    }
    if (method === 'DELETE') {
      userdata.delete(name);
      res.writeHead(204);
      return res.end();
    }
  }
  if (method === 'GET' && route === '/i18n') return json(res, {});
  if (method === 'GET' && route === '/system_stats') return json(res, SYSTEM_STATS);
  if (method === 'GET' && route === '/object_info') return json(res, objectInfo());
  if (method === 'GET' && route === '/extensions') return json(res, await extensionList());
  if (method === 'GET' && route === '/embeddings') return json(res, []);
  if (method === 'GET' && route === '/experiment/models') {
    return json(res, Object.keys(MODELS).map((name) => ({ name, folders: [`${MODEL_ROOT}/${name}`] })));
  }
  const models = /^\/experiment\/models\/([^/]+)$/.exec(route);
  if (method === 'GET' && models) {
    const names = MODELS[decodeURIComponent(models[1])];
    return names ? json(res, names.map((name) => ({ name, pathIndex: 0 }))) : notFound(res);
  }
  if (method === 'GET' && route === '/jobs') {
    const limit = Number(url.searchParams.get('limit') ?? 200);
    return json(res, { jobs: [], pagination: { offset: 0, limit, total: 0, has_more: false } });
  }
  if (method === 'GET' && route === '/queue') return json(res, { queue_running: [], queue_pending: [] });
  if (method === 'GET' && route === '/history') return json(res, {});
  if (method === 'GET' && route === '/global_subgraphs') return json(res, {});
  if (method === 'GET' && route === '/features') return json(res, { supports_preview_metadata: true, max_upload_size: 100 * 2 ** 20 });
  return notFound(res);
}

// --- WebSocket /ws (RFC 6455 handshake; the server only ever sends) ---------

function wsFrame(text) {
  const payload = Buffer.from(text);
  const head = payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

function acceptWebSocket(req, socket, url) {
  const key = req.headers['sec-websocket-key'];
  if (!key) return socket.destroy();
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`, '', ''].join('\r\n'));
  // ComfyUI's first message: the queue status and the client id (sid).
  const sid = url.searchParams.get('clientId') || randomUUID().replaceAll('-', '');
  socket.write(wsFrame(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: 0 } }, sid } })));
  // Frames from the client are read and dropped; a close frame ends the socket.
  socket.on('data', (data) => {
    if ((data[0] & 0x0f) === 0x8) socket.end(Buffer.from([0x88, 0]));
  });
  socket.on('error', () => socket.destroy());
}

// --- Routing --------------------------------------------------------------

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const pathname = decodeURIComponent(url.pathname);
    if (pathname === '/__test__/reset' && req.method === 'POST') {
      resetState();
      return json(res, null);
    }
    if (pathname === '/__test__/settings' && req.method === 'PUT') {
      settings = JSON.parse((await readBody(req)).toString());
      return json(res, null);
    }
    // ComfyUI registers every API route at /api/<route> and at /<route>.
    if (pathname.startsWith('/api/')) return await api(req, res, pathname.slice('/api'.length), url);
    if (pathname === '/internal/folder_paths') {
      return json(res, Object.fromEntries(Object.keys(MODELS).map((name) => [name, [`${MODEL_ROOT}/${name}`]])));
    }
    if (pathname === '/extensions') return json(res, await extensionList());
    if (pathname === '/' || pathname === '/index.html') return await sendFileOr404(res, path.join(webRoot, 'index.html'), req.method);
    // A custom node's WEB_DIRECTORY, then the frontend's own static files.
    const ext = /^\/extensions\/([^/]+)\/(.+)$/.exec(pathname);
    const dir = ext ? extensionWebDirs(customNodes).get(ext[1]) : undefined;
    const file = dir ? inside(dir, ext[2]) : inside(webRoot, pathname.slice(1));
    if (!file) return notFound(res);
    return await sendFileOr404(res, file, req.method);
  } catch (error) {
    console.error(req.method, req.url, error);
    if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('500: server error\n');
  }
});

server.on('upgrade', (req, socket) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/ws' || url.pathname === '/api/ws') acceptWebSocket(req, socket, url);
  else socket.destroy();
});

server.listen(port, '127.0.0.1', () => {
  console.log(`fake ComfyUI backend on http://127.0.0.1:${port}/ (frontend ${webRoot}, custom_nodes ${customNodes})`);
});
