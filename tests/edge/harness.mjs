// Shared test and benchmark helpers: run the built Worker (build/edge, from
// `make build-edge`) under Miniflare with an in-memory R2 bucket, move
// files in and out of that bucket in bounded pieces, and verify outputs with
// the fixture verifier.
import { Miniflare } from "miniflare";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const fixturesDir = process.env.CKPTPACK_FIXTURES ?? path.join(repoRoot, "build/fixtures");
export const token = "test-token-8d1c6a";
export const auth = { authorization: `Bearer ${token}` };

const buildDir = path.join(repoRoot, "build/edge");
const PIECE = 64 << 20; // seeding and download piece: bounded Node memory

// Job queue consumers as wrangler.toml configures them: one message per
// invocation, 5 retries (jobMaxAttempts in cmd/edge/jobs.go is 6); no retry
// delay here, so recovery tests do not wait.
const jobQueueConsumer = { maxBatchSize: 1, maxBatchTimeout: 0, maxRetries: 5, retryDelay: 0 };

/**
 * The lease of a job's task on `faulty` (CKPTPACK_JOB_LEASE_S), short so
 * that the watchdog's recoveries come soon; `edge` keeps the production
 * default. A lease is renewed with every part (5-8 MiB here), so a live
 * invocation keeps it; one that lapses anyway only costs a re-queued
 * message, dropped once the task is done (Miniflare runs one batch at a
 * time). No test asserts how long anything takes.
 */
export const testLeaseSeconds = 8;

/**
 * Starts Miniflare with three Workers over one in-memory R2 bucket:
 * `edge`, the production entry (build/edge/entry.mjs), and `faulty`, the
 * same Worker behind tests/edge/fault-entry.mjs, which can break R2 calls
 * on request and counts its queue invocations, and `bare`, deployed
 * without entry.mjs. Each of the first two has its own job queue and
 * Durable Objects. hook, if given, is a Node function that `faulty` calls
 * with ("start" | "end", message kind) around every queue invocation (the
 * bench samples workerd's CPU there). Returns {mf, bucket, edge, faulty, bare}; the
 * Workers have fetch().
 */
export async function startWorkers({ hook } = {}) {
  for (const f of ["entry.mjs", "r2io.mjs", "jobs.mjs", "worker.mjs", "runtime.mjs", "wasm_exec.js", "app.wasm"]) {
    if (!fs.existsSync(path.join(buildDir, f))) {
      throw new Error(`build/edge/${f} is missing: run make build-edge`);
    }
  }
  const built = [
    { type: "ESModule", path: path.join(buildDir, "entry.mjs") },
    { type: "ESModule", path: path.join(buildDir, "r2io.mjs") },
    { type: "ESModule", path: path.join(buildDir, "jobs.mjs") },
    { type: "ESModule", path: path.join(buildDir, "worker.mjs") },
    { type: "ESModule", path: path.join(buildDir, "runtime.mjs") },
    { type: "ESModule", path: path.join(buildDir, "wasm_exec.js") },
    { type: "CompiledWasm", path: path.join(buildDir, "app.wasm") },
  ];
  const common = {
    modulesRoot: repoRoot,
    compatibilityDate: "2026-07-01",
    r2Buckets: { BUCKET: "ckptpack-test" },
    bindings: { CKPTPACK_TOKEN: token },
  };
  const jobsOf = (queue) => ({
    durableObjects: { JOBS: "CkptpackJob", COUNTERS: "CkptpackCounter" },
    queueProducers: { PARTS: queue },
    queueConsumers: { [queue]: jobQueueConsumer },
  });
  const mf = new Miniflare({
    workers: [
      { name: "edge", modules: built, ...common, ...jobsOf("parts-edge") },
      {
        name: "faulty",
        modules: [{ type: "ESModule", path: path.join(repoRoot, "tests/edge/fault-entry.mjs") }, ...built],
        ...common,
        ...jobsOf("parts-faulty"),
        bindings: { ...common.bindings, CKPTPACK_JOB_LEASE_S: String(testLeaseSeconds) },
        serviceBindings: hook
          ? { TEST_HOOK: async (req) => { const u = new URL(req.url); return new Response(String(await hook(u.pathname.slice(1), u.searchParams.get("kind")))); } }
          : {},
      },
      // Deployed the wrong way: syumai's worker.mjs as the entry, without
      // entry.mjs's R2 helpers.
      { name: "bare", modules: built.filter((m) => !/(entry|r2io|jobs)\.mjs$/.test(m.path)), ...common },
    ],
  });
  await mf.ready;
  return {
    mf,
    bucket: await mf.getR2Bucket("BUCKET", "edge"),
    edge: await mf.getWorker("edge"),
    faulty: await mf.getWorker("faulty"),
    bare: await mf.getWorker("bare"),
  };
}

/** Resident memory (bytes) of process pid. */
export function workerdRSS(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+) kB/)[1]) * 1024;
}

/** The workerd process Miniflare started (a child of this Node process). */
export function workerdPid() {
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === "workerd" && ppid === process.pid) return Number(pid);
    } catch {
      // the process ended while we looked
    }
  }
  throw new Error("no workerd child process found");
}

/** CPU seconds (user + system) the process has used, from /proc/PID/stat. */
export function processCPUSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / clockTicks;
}

const clockTicks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** Puts a file into the bucket through a multipart upload (or one put if small). */
export async function seedFile(bucket, key, file) {
  const size = fs.statSync(file).size;
  if (size <= PIECE) {
    await bucket.put(key, fs.readFileSync(file));
    return size;
  }
  const upload = await bucket.createMultipartUpload(key);
  const parts = [];
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(PIECE);
    for (let off = 0, n = 1; off < size; off += PIECE, n++) {
      const len = fs.readSync(fd, buf, 0, Math.min(PIECE, size - off), off);
      parts.push(await upload.uploadPart(n, buf.subarray(0, len)));
    }
  } finally {
    fs.closeSync(fd);
  }
  await upload.complete(parts);
  return size;
}

/** Reads the JSON header of a .safetensors file. */
export function readHeader(file) {
  const fd = fs.openSync(file, "r");
  try {
    const len = Buffer.alloc(8);
    fs.readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE());
    const json = Buffer.alloc(n);
    fs.readSync(fd, json, 0, n, 8);
    return JSON.parse(json.toString("utf8"));
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes an object to a file with ranged gets; returns {size, sha256}. */
export async function downloadObject(bucket, key, file) {
  const head = await retryingRead(`head ${key}`, () => bucket.head(key));
  if (head === null) throw new Error(`no object ${key}`);
  const hash = createHash("sha256");
  const fd = fs.openSync(file, "w");
  try {
    for (let off = 0; off < head.size; off += PIECE) {
      const length = Math.min(PIECE, head.size - off);
      const bytes = await retryingRead(`${key} at ${off}`, async () => {
        const obj = await bucket.get(key, { range: { offset: off, length } });
        return new Uint8Array(await obj.arrayBuffer());
      });
      if (bytes.length !== length) throw new Error(`${key}: got ${bytes.length} of ${length} bytes at ${off}`);
      fs.writeSync(fd, bytes, 0, bytes.length, off);
      hash.update(bytes);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { size: head.size, sha256: hash.digest("hex") };
}

/** Runs the fixture verifier on an assembled file; returns its output. */
export function verifyFixture(arch, file) {
  const res = spawnSync("go", ["run", "./scripts/fixtures", "verify", "-arch", arch, file], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  return { ok: res.status === 0, output: `${res.stdout}${res.stderr}` };
}

/**
 * Runs fn, an idempotent read from Miniflare, again when its connection
 * failed ("fetch failed": the Node side's undici lost the connection to
 * workerd), at most 3 times in a row, logging the cause each time. Once
 * seen in the full suite on a saturated machine, 326 s into the sd15 job:
 * not undici's 300 s headers/body timeout, which Miniflare's own client
 * turns off (a 310 s response arrives through worker.fetch and
 * mf.dispatchFetch; Node's global fetch gives up at 300 s with
 * UND_ERR_HEADERS_TIMEOUT), and no request there runs long: the job is
 * polled with short GETs.
 */
export async function retryingRead(what, fn) {
  for (let failed = 0; ; ) {
    try {
      return await fn();
    } catch (e) {
      if (!/fetch failed/.test(String(e?.message)) || ++failed > 3) throw e;
      console.log(`${what}: ${e.message} (${e.cause?.code ?? ""} ${e.cause?.message ?? "no cause"}); reading again`);
    }
  }
}

/**
 * Sends a request to a Worker (edge or faulty) and decodes its JSON answer;
 * a GET (which only reads) whose connection failed is sent again.
 */
export async function call(worker, method, pathAndQuery, { body, headers = auth } = {}) {
  const send = async () => {
    const res = await worker.fetch(`http://edge.test${pathAndQuery}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { res, text: await res.text() };
  };
  const { res, text } = method === "GET" ? await retryingRead(`GET ${pathAndQuery}`, send) : await send();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${pathAndQuery}: ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
  return { status: res.status, json, headers: res.headers };
}

/** Go's Sys (bytes) as the Worker reports it; see cmd/edge setStatsHeaders. */
export function goSys(headers) {
  const v = headers.get("ckptpack-go-sys");
  if (v === null) throw new Error("response has no Ckptpack-Go-Sys header");
  return Number(v);
}

/** Lists every key in the bucket (under prefix). */
export async function allKeys(bucket, prefix = "") {
  const keys = [];
  let cursor;
  do {
    const page = await bucket.list({ prefix, cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

/**
 * Polls GET /v1/jobs/{id} (short requests, each read again if its
 * connection fails: see call) until the job is no longer running; returns
 * the last answer. onPoll, if given, sees every answer.
 */
export async function waitForJob(worker, id, { pollMs = 500, onPoll } = {}) {
  for (;;) {
    const res = await call(worker, "GET", `/v1/jobs/${id}`);
    if (res.status !== 200) throw new Error(`GET /v1/jobs/${id}: ${res.status} ${JSON.stringify(res.json)}`);
    onPoll?.(res.json);
    if (res.json.status !== "running" && res.json.status !== "completing") return res.json;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const dtypeBytes = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, I8: 1, BOOL: 1 };

/**
 * Writes small sd15 components into dir (unet, clip_l, vae .safetensors)
 * from the real fixtures' headers: every tensor of two or more dimensions
 * gets a leading dimension of 1, except the first ones in name order, kept
 * whole until about fullBytes are kept; data are pseudo-random. The keys,
 * dtypes and the shapes architecture detection reads stay real. Returns
 * {unet, clip_l, vae} paths.
 */
export function writeSmallSD15(dir, fullBytes = 24 << 20) {
  fs.mkdirSync(dir, { recursive: true });
  const out = {};
  let kept = 0;
  for (const c of ["unet", "clip_l", "vae"]) {
    const src = readHeader(path.join(fixturesDir, "sd15", `${c}.safetensors`));
    const names = Object.keys(src).filter((k) => k !== "__metadata__").sort();
    const header = {};
    if (src.__metadata__) header.__metadata__ = src.__metadata__;
    let off = 0;
    for (const name of names) {
      const t = src[name];
      let shape = t.shape;
      const whole = shape.reduce((a, b) => a * b, 1) * dtypeBytes[t.dtype];
      if (shape.length >= 2 && name !== "input_blocks.0.0.weight") {
        if (kept + whole <= fullBytes) kept += whole;
        else shape = [1, ...shape.slice(1)];
      }
      const n = shape.reduce((a, b) => a * b, 1) * dtypeBytes[t.dtype];
      header[name] = { dtype: t.dtype, shape, data_offsets: [off, off + n] };
      off += n;
    }
    let json = Buffer.from(JSON.stringify(header));
    const pad = (8 - (json.length % 8)) % 8;
    json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const file = path.join(dir, `${c}.safetensors`);
    const fd = fs.openSync(file, "w");
    try {
      fs.writeSync(fd, len);
      fs.writeSync(fd, json);
      // Deterministic bytes (xorshift), so a failure reproduces.
      let x = 0x9e3779b9 ^ c.length;
      const chunk = Buffer.alloc(1 << 20);
      for (let done = 0; done < off; ) {
        const m = Math.min(chunk.length, off - done);
        for (let i = 0; i < m; i += 4) {
          x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
          chunk.writeInt32LE(x | 0, i);
        }
        fs.writeSync(fd, chunk, 0, m);
        done += m;
      }
    } finally {
      fs.closeSync(fd);
    }
    out[c] = file;
  }
  return out;
}
