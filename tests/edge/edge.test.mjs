// End-to-end tests of the edge host (cmd/edge) under Miniflare: the built
// Worker, an in-memory R2 bucket, full-size sd15 components from
// `go run ./scripts/fixtures gen -arch sd15 -out build/fixtures/sd15`
// (make test-edge makes them). Run: node --test tests/edge/
//
// Miniflare's R2 simulator moves 20-30 MB/s, so every GB here costs about a
// minute: the suite seeds the three components once (2.3 GB) and makes two
// full assemblies: one request, whose output GET /v1/inspect reports on,
// and a job (POST /v1/jobs) with modelspec and hash. tests/edge/jobs.test.mjs has the jobs' recovery
// cases, on small components.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  allKeys,
  auth,
  workerdPid,
  call,
  downloadObject,
  fixturesDir,
  goSys,
  readHeader,
  repoRoot,
  seedFile,
  startWorkers,
  workerdRSS,
  verifyFixture,
  waitForJob,
} from "./harness.mjs";

/** Resident memory of the workerd process (the Worker and the R2 simulator), bytes. */
const sd15 = path.join(fixturesDir, "sd15");
const sparse = path.join(fixturesDir, "sparse");
const outDir = path.join(repoRoot, "build/edge-test");
const MiB = 1 << 20;
// Go's own memory bound asserted during multi-GB assemblies: half the
// isolate's 128 MB, leaving the rest to the JS heap and the runtime.
const maxGoSys = 64 * MiB;
// The JS side has no such gauge here, so the first assembly bounds the
// growth of the whole workerd process instead. Fetched ranges the Go code
// let go of used to stay alive until Go's next GC, which seldom came: the
// process grew by about the output's size (2.1 GB); it now grows by ~0.5 GB
// (the R2 simulator's part of that was not measured).
const maxWorkerdGrowth = 1024 * MiB;

const seeded = {
  unet: "models/sd15/unet.safetensors",
  clip: "models/sd15/clip_l.safetensors",
  vae: "models/sd15/vae.safetensors",
  fluxVAE: "models/flux/vae.safetensors",
};

// Per-test ceilings so a hang fails the suite with the test's name instead
// of running into CI's limit; they assert no timing.
const ASSEMBLY_TIMEOUT = 15 * 60_000;
const SHORT_TIMEOUT = 3 * 60_000;

let w; // {mf, bucket, edge, faulty, bare}
// The key of the sd15 checkpoint the first POST test assembles: a full
// checkpoint in R2 for the tests after it.
let assembledKey;

/** The first POST test's output, or an error saying the later test needs it. */
function assembled() {
  if (!assembledKey) throw new Error("needs the checkpoint the first POST /v1/checkpoints test assembles, which failed");
  return assembledKey;
}

before(async () => {
  for (const f of ["unet", "clip_l", "vae"]) {
    const file = path.join(sd15, `${f}.safetensors`);
    if (!fs.existsSync(file)) {
      throw new Error(`${file} is missing: go run ./scripts/fixtures gen -arch sd15 -checkpoint -out ${sd15}`);
    }
  }
  fs.mkdirSync(outDir, { recursive: true });
  w = await startWorkers();
  await seedFile(w.bucket, seeded.unet, path.join(sd15, "unet.safetensors"));
  await seedFile(w.bucket, seeded.clip, path.join(sd15, "clip_l.safetensors"));
  await seedFile(w.bucket, seeded.vae, path.join(sd15, "vae.safetensors"));
}, { timeout: ASSEMBLY_TIMEOUT });

after(async () => {
  await w?.mf.dispose();
  fs.rmSync(outDir, { recursive: true, force: true });
});

/** Downloads key, checks size and digest against the answer, verifies every tensor. */
async function downloadAndVerify(answer, name) {
  const file = path.join(outDir, name);
  try {
    const { size, sha256 } = await downloadObject(w.bucket, answer.key, file);
    assert.equal(size, answer.bytes, "object size = answered bytes");
    assert.equal(sha256, answer.sha256, "object SHA-256 = answered sha256");
    const v = verifyFixture("sd15", file);
    assert.ok(v.ok, `fixtures verify failed:\n${v.output}`);
    assert.match(v.output, /^\d+ passed, 0 failed$/m);
    return readHeader(file);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe("POST /v1/checkpoints", () => {
  test("assembles sd15 components into the next counter's object; every tensor verifies; Go memory stays bounded", { timeout: ASSEMBLY_TIMEOUT }, async () => {
    // An existing output bumps the counter, as in ComfyUI's output folder.
    await w.bucket.put("checkpoints/ComfyUI_00004_.safetensors", "older output");
    const rssBefore = workerdRSS(workerdPid());
    const prompt = { 3: { class_type: "KSampler", inputs: { seed: 1 } } };
    const workflow = { nodes: [{ id: 3, type: "KSampler" }], version: 0.4 };
    const res = await call(w.edge, "POST", "/v1/checkpoints", {
      body: { model: seeded.unet, clip: [seeded.clip], vae: seeded.vae, prompt, workflow, metadata: { "modelspec.author": "edge test" } },
    });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    assert.equal(res.json.key, "checkpoints/ComfyUI_00005_.safetensors");
    assert.equal(res.json.architecture, "SD15");
    assert.match(res.json.sha256, /^[0-9a-f]{64}$/);
    const sys = goSys(res.headers);
    assert.ok(sys <= maxGoSys, `Go Sys ${(sys / MiB).toFixed(1)} MiB during a ${(res.json.bytes / MiB).toFixed(0)} MiB assembly exceeds ${maxGoSys / MiB} MiB`);
    const growth = workerdRSS(workerdPid()) - rssBefore;
    assert.ok(growth <= maxWorkerdGrowth, `workerd grew by ${(growth / MiB).toFixed(0)} MiB during a ${(res.json.bytes / MiB).toFixed(0)} MiB assembly (bound ${maxWorkerdGrowth / MiB} MiB): fetched ranges are kept alive`);

    const header = await downloadAndVerify(res.json, "components.safetensors");
    const meta = header.__metadata__;
    assert.deepEqual(JSON.parse(meta.prompt), prompt);
    assert.deepEqual(JSON.parse(meta.workflow), workflow);
    assert.equal(meta["modelspec.author"], "edge test");
    assembledKey = res.json.key;
  });

  test("a job assembles the components with modelspec and hash over ≥ 10 invocations: part 1 is made last with modelspec.hash_sha256 patched in", { timeout: ASSEMBLY_TIMEOUT }, async () => {
    // The job runs on the test entry, which counts queue invocations. 200
    // MiB per invocation: 11 part invocations, 11 of the hash lane, and
    // part 1 after it. (It does not depend on the assembly above.)
    const before = (await call(w.faulty, "GET", "/__test/queue-stats")).json.invocations;
    const res = await call(w.faulty, "POST", "/v1/jobs", {
      body: {
        model: seeded.unet, clip: [seeded.clip], vae: seeded.vae, filename_prefix: "baked/sd15-vae", disable_metadata: true,
        modelspec: { title: "Edge title", tags: "a, b" }, hash: true, invocation_bytes: 200 * MiB,
      },
    });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    assert.equal(res.json.key, "baked/sd15-vae_00001_.safetensors");
    assert.equal(res.json.architecture, "SD15");
    const job = await waitForJob(w.faulty, res.json.id, { pollMs: 2000 });
    assert.equal(job.status, "done", JSON.stringify(job));
    const invocations = (await call(w.faulty, "GET", "/__test/queue-stats")).json.invocations - before;
    assert.ok(invocations >= 10, `${invocations} invocations`);
    assert.equal(job.parts_done, job.parts);
    assert.match(job.hash_sha256, /^0x[0-9a-f]{64}$/);
    assert.equal(job.sha256, undefined, "no whole-object digest when part 1 goes last");
    const file = path.join(outDir, "baked.safetensors");
    try {
      const { size } = await downloadObject(w.bucket, job.key, file);
      assert.equal(size, job.bytes);
      const meta = readHeader(file).__metadata__;
      assert.equal(meta.prompt, undefined, "disable_metadata leaves out prompt");
      assert.equal(meta.workflow, undefined, "disable_metadata leaves out workflow");
      assert.equal(meta["modelspec.title"], "Edge title");
      assert.equal(meta["modelspec.tags"], "a,b");
      assert.equal(meta["modelspec.sai_model_spec"], "1.0.1");
      assert.equal(meta["modelspec.hash_sha256"], job.hash_sha256);
      // Independent SHA-256 of the data section (after the 8 + N header).
      const fd = fs.openSync(file, "r");
      const len = Buffer.alloc(8);
      fs.readSync(fd, len, 0, 8, 0);
      fs.closeSync(fd);
      const dataStart = 8 + Number(len.readBigUInt64LE(0));
      const hash = createHash("sha256");
      for await (const chunk of fs.createReadStream(file, { start: dataStart })) hash.update(chunk);
      assert.equal(`0x${hash.digest("hex")}`, job.hash_sha256);
      const v = verifyFixture("sd15", file);
      assert.ok(v.ok, `fixtures verify failed:\n${v.output}`);
      assert.match(v.output, /^\d+ passed, 0 failed$/m);
    } finally {
      fs.rmSync(file, { force: true });
      await w.bucket.delete(job.key);
    }
  });

  test("answers 404 naming a missing object, and writes nothing", { timeout: SHORT_TIMEOUT }, async () => {
    const before = await allKeys(w.bucket);
    const res = await call(w.edge, "POST", "/v1/checkpoints", {
      body: { model: seeded.unet, clip: ["models/sd15/no-such-clip.safetensors"], vae: seeded.vae },
    });
    assert.equal(res.status, 404);
    assert.match(res.json.error, /models\/sd15\/no-such-clip\.safetensors/);
    assert.equal(res.json.key, "models/sd15/no-such-clip.safetensors");
    assert.deepEqual(await allKeys(w.bucket), before);
  });

  test("answers 422 with the engine's message for a wrong component", { timeout: SHORT_TIMEOUT }, async () => {
    const res = await call(w.edge, "POST", "/v1/checkpoints", {
      body: { model: seeded.unet, clip: [seeded.clip], vae: seeded.clip },
    });
    assert.equal(res.status, 422, JSON.stringify(res.json));
    assert.match(res.json.error, /clip_l\.safetensors/);
  });

  test("answers 422 for components of incompatible architectures", { timeout: SHORT_TIMEOUT }, async () => {
    // Sparse fixtures: real headers, zero data; only headers are read here.
    await seedFile(w.bucket, seeded.fluxVAE, path.join(sparse, "flux_dev/vae.safetensors"));
    const res = await call(w.edge, "POST", "/v1/checkpoints", {
      body: { model: seeded.unet, clip: [seeded.clip], vae: seeded.fluxVAE },
    });
    assert.equal(res.status, 422, JSON.stringify(res.json));
    assert.match(res.json.error, /models\/flux\/vae\.safetensors/);
  });

  test("answers 400 for a malformed request", { timeout: SHORT_TIMEOUT }, async () => {
    const res = await call(w.edge, "POST", "/v1/checkpoints", { body: { model: seeded.unet, vae: seeded.vae } });
    assert.equal(res.status, 400);
    assert.match(res.json.error, /"clip"/);
  });
});

describe("R2 failure mid-stream", () => {
  /** Whether R2 still holds a multipart upload: only a live one takes a part. */
  async function uploadIsLive({ key, uploadId }) {
    try {
      await w.bucket.resumeMultipartUpload(key, uploadId).uploadPart(1, new Uint8Array(1));
      return true;
    } catch (e) {
      assert.match(String(e.message), /does not exist/);
      return false;
    }
  }

  test("the liveness probe tells a live upload from an aborted one", { timeout: SHORT_TIMEOUT }, async () => {
    const upload = await w.bucket.createMultipartUpload("probe/live.bin");
    const ref = { key: "probe/live.bin", uploadId: upload.uploadId };
    assert.equal(await uploadIsLive(ref), true);
    await upload.abort();
    assert.equal(await uploadIsLive(ref), false);
  });

  // A failing complete() is covered by the Go tests (TestMultipartSinkFinishFailureAborts):
  // here it would cost a whole 2.3 GB assembly.
  // Gets 1-4 read the headers; the 6th fails the second staged copy, with
  // parts already uploaded.
  for (const [op, after] of [
    ["uploadPart", 3],
    ["get", 5],
  ]) {
    test(`a failing ${op} after ${after} calls answers 502 and leaves no object and no upload`, { timeout: SHORT_TIMEOUT }, async () => {
      const prefix = `failed-${op}/sd15`;
      const res = await call(w.faulty, "POST", "/v1/checkpoints", {
        body: { model: seeded.unet, clip: [seeded.clip], vae: seeded.vae, filename_prefix: prefix },
        headers: { ...auth, "x-test-fail-op": op, "x-test-fail-after": String(after) },
      });
      assert.equal(res.status, 502, JSON.stringify(res.json));
      assert.match(res.json.error, /injected R2 failure/);
      const uploads = JSON.parse(res.headers.get("x-test-uploads"));
      assert.equal(uploads.length, 1, "one multipart upload was started");
      assert.equal(uploads[0].key, `${prefix}_00001_.safetensors`);
      assert.deepEqual(await allKeys(w.bucket, `failed-${op}/`), [], "no object under the prefix");
      assert.equal(await uploadIsLive(uploads[0]), false, "the multipart upload was aborted");
    });
  }
});

describe("GET /v1/inspect", () => {
  test("reports a full checkpoint", { timeout: SHORT_TIMEOUT }, async () => {
    const full = assembled();
    const res = await call(w.edge, "GET", `/v1/inspect?key=${encodeURIComponent(full)}`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.file, full);
    assert.equal(res.json.bytes, (await w.bucket.head(full)).size);
    assert.equal(res.json.architecture, "SD15");
    assert.deepEqual(res.json.components.map((c) => c.slot).sort(), ["clip", "model", "vae"]);
    assert.ok(res.json.tensors > 1000);
  });

  test("answers 404 naming a missing object", { timeout: SHORT_TIMEOUT }, async () => {
    const res = await call(w.edge, "GET", "/v1/inspect?key=models/none.safetensors");
    assert.equal(res.status, 404);
    assert.match(res.json.error, /models\/none\.safetensors/);
  });
});

describe("authorization", () => {
  for (const [name, headers] of [
    ["no Authorization header", {}],
    ["a wrong token", { authorization: "Bearer not-the-token" }],
    ["the token without Bearer", { authorization: "test-token-8d1c6a" }],
  ]) {
    test(`${name} answers 401 JSON on both endpoints and writes nothing`, { timeout: SHORT_TIMEOUT }, async () => {
      const before = await allKeys(w.bucket);
      const post = await call(w.edge, "POST", "/v1/checkpoints", {
        body: { model: seeded.unet, clip: [seeded.clip], vae: seeded.vae },
        headers,
      });
      assert.equal(post.status, 401);
      assert.match(post.json.error, /token/);
      const get = await call(w.edge, "GET", `/v1/inspect?key=${encodeURIComponent(seeded.unet)}`, { headers });
      assert.equal(get.status, 401);
      assert.equal(get.json.file, undefined, "no report leaks");
      assert.deepEqual(await allKeys(w.bucket), before);
    });
  }
});

describe("cmd/edge/wrangler.toml", () => {
  test("a Worker deployed without entry.mjs says so instead of failing obscurely", { timeout: SHORT_TIMEOUT }, async () => {
    const res = await call(w.bare, "GET", `/v1/inspect?key=${encodeURIComponent(seeded.vae)}`);
    assert.equal(res.status, 500);
    assert.match(res.json.error, /deploy build\/edge\/entry\.mjs/);
  });

  test("deploys the built Worker with the bucket binding the Go code reads", { timeout: SHORT_TIMEOUT }, () => {
    const toml = fs.readFileSync(path.join(repoRoot, "cmd/edge/wrangler.toml"), "utf8");
    const main = toml.match(/^main\s*=\s*"([^"]+)"/m)?.[1];
    assert.ok(main, "wrangler.toml has main");
    assert.ok(fs.existsSync(path.resolve(repoRoot, "cmd/edge", main)), `main ${main} is the build output`);
    assert.match(fs.readFileSync(path.resolve(repoRoot, "cmd/edge", main), "utf8"), /^import "\.\/r2io\.mjs";$/m, `main ${main} installs the R2 helpers`);
    assert.match(toml, /\[\[r2_buckets\]\]\s*\nbinding\s*=\s*"BUCKET"/);
    const goMain = fs.readFileSync(path.join(repoRoot, "cmd/edge/main_js.go"), "utf8");
    assert.match(goMain, /bucketBinding\s*=\s*"BUCKET"/);
    assert.match(goMain, /tokenSecret\s*=\s*"CKPTPACK_TOKEN"/);
    // Jobs: the Durable Object classes entry.mjs exports, the queue the
    // Go code sends to and consumes, its retries as jobs.go counts them.
    assert.match(toml, /name = "JOBS"\nclass_name = "CkptpackJob"/);
    assert.match(toml, /name = "COUNTERS"\nclass_name = "CkptpackCounter"/);
    assert.match(toml, /binding = "PARTS"\nqueue = "ckptpack-parts"/);
    assert.match(goMain, /jobsBinding\s*=\s*"JOBS"/);
    assert.match(goMain, /countersBinding\s*=\s*"COUNTERS"/);
    assert.match(goMain, /queueBinding\s*=\s*"PARTS"/);
    const retries = Number(toml.match(/\[\[queues\.consumers\]\][^[]*max_retries = (\d+)/)?.[1]);
    const attempts = Number(fs.readFileSync(path.join(repoRoot, "cmd/edge/jobs.go"), "utf8").match(/jobMaxAttempts\s*=\s*(\d+)/)?.[1]);
    assert.equal(retries + 1, attempts, "wrangler.toml's max_retries + 1 = jobMaxAttempts");
    assert.match(fs.readFileSync(path.resolve(repoRoot, "cmd/edge", main), "utf8"), /export \{ CkptpackJob, CkptpackCounter \} from "\.\/jobs\.mjs";/);
  });
});
