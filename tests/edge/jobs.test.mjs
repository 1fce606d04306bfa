// Assembly jobs (POST/GET/DELETE /v1/jobs) under Miniflare: the Durable
// Objects, the queue with its retries, and the Go consumer. The recovery
// cases run on small sd15 components made from the real fixtures' headers
// (writeSmallSD15: real keys, small tensors, 29 MB assembled), so each job
// is a few 5 MiB parts; the full-size sd15 job is in edge.test.mjs, which
// has the components seeded.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { allKeys, call, downloadObject, repoRoot, seedFile, startWorkers, waitForJob, writeSmallSD15 } from "./harness.mjs";

const TIMEOUT = 5 * 60_000; // a ceiling against hangs, not a timing assertion
const dir = path.join(repoRoot, "build/edge-jobs-test");
const MiB = 1 << 20;
const inputs = {
  model: "models/small/unet.safetensors",
  clip: ["models/small/clip_l.safetensors"],
  vae: "models/small/vae.safetensors",
};
// 5 MiB parts, two per invocation: 6 parts in 3 part invocations and 3
// hash-lane invocations.
const split = { part_size: 5 * MiB, invocation_bytes: 10 * MiB };

let w;
let reference; // the one-request answer for prefix "ref/small"

before(async () => {
  const files = writeSmallSD15(dir);
  w = await startWorkers();
  for (const c of ["unet", "clip_l", "vae"]) await seedFile(w.bucket, `models/small/${c}.safetensors`, files[c]);
  const res = await call(w.edge, "POST", "/v1/checkpoints", { body: { ...inputs, filename_prefix: "ref/small" } });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  reference = res.json;
}, { timeout: TIMEOUT });

after(async () => {
  await w?.mf.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Whether R2 still holds a multipart upload: only a live one takes a part. */
async function uploadIsLive(key, uploadId) {
  try {
    await w.bucket.resumeMultipartUpload(key, uploadId).uploadPart(1, new Uint8Array(1));
    return true;
  } catch (e) {
    assert.match(String(e.message), /does not exist/);
    return false;
  }
}

async function setQueueFaults(faults) {
  const res = await w.faulty.fetch("http://edge.test/__test/queue-faults", { method: "POST", body: JSON.stringify(faults) });
  assert.equal(res.status, 200);
}

async function queueStats() {
  return (await call(w.faulty, "GET", "/__test/queue-stats")).json;
}

/**
 * Runs a job on the faulty Worker with queue faults and checks that it
 * completes with exactly the one-request path's bytes: the filename is the
 * same ("small", counter 1, so the same title and header), so the object
 * must equal the reference byte for byte.
 */
async function jobRecovers(prefix, faults) {
  await setQueueFaults(faults);
  const before = (await queueStats()).invocations;
  const res = await call(w.faulty, "POST", "/v1/jobs", { body: { ...inputs, filename_prefix: `${prefix}/small`, ...split } });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  assert.equal(res.json.key, `${prefix}/small_00001_.safetensors`);
  assert.equal(res.json.parts, 6);
  const done = await waitForJob(w.faulty, res.json.id);
  assert.equal(done.status, "done", JSON.stringify(done));
  const stats = await queueStats();
  assert.ok(stats.faults.every((f) => f.spent), `every fault happened: ${JSON.stringify(stats.faults)}`);
  // 6 part + 3 hash invocations, and one more per fault (the retry).
  assert.equal(stats.invocations - before, 3 + 3 + faults.length);
  assert.equal(done.bytes, reference.bytes);
  assert.equal(done.parts_done, 6);
  assert.equal(done.sha256, reference.sha256, "the job's SHA-256 is the one-request object's");
  const file = path.join(dir, `${prefix}.safetensors`);
  const { size, sha256 } = await downloadObject(w.bucket, done.key, file);
  fs.rmSync(file);
  assert.equal(size, reference.bytes, "no missing or duplicate bytes");
  assert.equal(sha256, reference.sha256, "the object's bytes are the one-request object's");
  assert.equal(await uploadIsLive(done.key, done.upload_id), false, "the upload is completed, not open");
}

describe("POST /v1/jobs recovers", () => {
  test("from invocations killed mid-part (during a get) and right after uploading a part", { timeout: TIMEOUT }, async () => {
    await jobRecovers("killed", [
      { op: "get", after: 9, kill: true },
      { op: "uploadPart", after: 2, kill: true },
    ]);
  });

  test("from a failing R2 get", { timeout: TIMEOUT }, async () => {
    await jobRecovers("failed-get", [{ op: "get", after: 12, kill: false }]);
  });
});

describe("DELETE /v1/jobs/{id}", () => {
  test("cancels a running job: no object, no open upload; the job's remaining work is dropped", { timeout: TIMEOUT }, async () => {
    // The first queue invocation's first get waits, so the job is surely
    // running when DELETE comes.
    await setQueueFaults([{ op: "get", after: 0, hold: true }]);
    const res = await call(w.faulty, "POST", "/v1/jobs", { body: { ...inputs, filename_prefix: "cancelled/small", ...split } });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    for (let i = 0; !(await queueStats()).faults[0].spent; i++) {
      assert.ok(i < 600, "a queue invocation started");
      await new Promise((r) => setTimeout(r, 100));
    }
    const del = await call(w.faulty, "DELETE", `/v1/jobs/${res.json.id}`);
    assert.equal(del.status, 200, JSON.stringify(del.json));
    assert.equal(del.json.status, "cancelled");
    await w.faulty.fetch("http://edge.test/__test/release", { method: "POST" });
    // The held invocation and the queued messages now run and stop; wait
    // until the queue is idle (no new invocation for 2 s).
    for (let last = -1; ; ) {
      const n = (await queueStats()).invocations;
      if (n === last) break;
      last = n;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const st = await call(w.faulty, "GET", `/v1/jobs/${res.json.id}`);
    assert.equal(st.json.status, "cancelled");
    assert.deepEqual(await allKeys(w.bucket, "cancelled/"), [], "no object under the prefix");
    assert.equal(await uploadIsLive(res.json.key, res.json.upload_id), false, "the upload was aborted");
    const again = await call(w.faulty, "DELETE", `/v1/jobs/${res.json.id}`);
    assert.equal(again.status, 409);
  });
});

describe("two jobs to one prefix", () => {
  test("get distinct counters, and both complete", { timeout: TIMEOUT }, async () => {
    await setQueueFaults([]);
    const body = { ...inputs, filename_prefix: "twice/small", ...split };
    const [a, b] = await Promise.all([call(w.edge, "POST", "/v1/jobs", { body }), call(w.edge, "POST", "/v1/jobs", { body })]);
    assert.equal(a.status, 202, JSON.stringify(a.json));
    assert.equal(b.status, 202, JSON.stringify(b.json));
    assert.deepEqual([a.json.key, b.json.key].sort(), ["twice/small_00001_.safetensors", "twice/small_00002_.safetensors"]);
    for (const job of [a, b]) {
      const done = await waitForJob(w.edge, job.json.id);
      assert.equal(done.status, "done", JSON.stringify(done));
      assert.equal((await w.bucket.head(done.key)).size, done.bytes);
    }
  });
});

describe("GET /v1/jobs/{id}", () => {
  test("answers 404 for an unknown job", { timeout: TIMEOUT }, async () => {
    const res = await call(w.edge, "GET", "/v1/jobs/0123456789abcdef0123456789abcdef");
    assert.equal(res.status, 404, JSON.stringify(res.json));
    assert.match(res.json.error, /no job/);
  });
});
