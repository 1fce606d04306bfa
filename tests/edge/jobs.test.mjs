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
import { allKeys, call, downloadObject, repoRoot, seedFile, startWorkers, testLeaseSeconds, waitForJob, writeSmallSD15 } from "./harness.mjs";

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
  // Progress as GET reports it, poll after poll: it only grows, and never
  // counts a part twice.
  let last = res.json;
  const done = await waitForJob(w.faulty, res.json.id, {
    onPoll: (p) => {
      assert.ok(p.parts_done >= last.parts_done && p.bytes_done >= last.bytes_done && p.hashed_bytes >= last.hashed_bytes, `progress went back: ${JSON.stringify(last)} → ${JSON.stringify(p)}`);
      assert.ok(p.parts_done <= p.parts && p.bytes_done <= p.bytes, `more than the job: ${JSON.stringify(p)}`);
      last = p;
    },
  });
  assert.equal(done.status, "done", JSON.stringify(done));
  assert.equal(done.bytes_done, done.bytes, "every byte counted once");
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
  return done;
}

describe("POST /v1/jobs recovers", () => {
  test("from invocations killed mid-part (during a get) and right after uploading a part", { timeout: TIMEOUT }, async () => {
    await jobRecovers("killed", [
      { op: "get", after: 9, kill: true },
      { op: "uploadPart", after: 2, kill: true },
    ]);
  });

  test("from a failing R2 get", { timeout: TIMEOUT }, async () => {
    const done = await jobRecovers("failed-get", [{ op: "get", after: 12, kill: false }]);
    assert.equal(done.retries, 1);
    assert.match(done.last_error, /attempt 1: .*injected R2 failure: get call 13/);
  });
});

// The watchdog: invocations that die and whose message the queue does not
// deliver again (vanish), so only the job's Durable Object alarm, at the
// end of the dead attempt's lease, can re-queue the work.
describe("the job watchdog", () => {
  test("re-queues a part whose invocation died mid-part without a redelivery", { timeout: TIMEOUT }, async () => {
    const done = await jobRecovers("vanished-part", [{ op: "get", after: 9, vanish: true }]);
    assert.equal(done.retries, 1, "one task had a second attempt");
  });

  test("re-drives the completion when the invocation that claimed it died before completing", { timeout: TIMEOUT }, async () => {
    const done = await jobRecovers("vanished-claim", [{ op: "complete", after: 0, vanish: true }]);
    assert.equal(done.retries, 1);
  });

  test("re-drives the completion when the invocation died after completing, before recording it", { timeout: TIMEOUT }, async () => {
    // The second attempt finds the object its own upload made (the job id
    // is in its custom metadata) and records the job done; completing the
    // upload again would fail, as it no longer exists.
    const done = await jobRecovers("vanished-done", [{ op: "complete", after: 0, vanish: true, land: true }]);
    assert.equal(done.retries, 1);
  });

  test("fails a job whose parts keep failing after its attempts, with a clear error, and aborts the upload", { timeout: TIMEOUT }, async () => {
    await setQueueFaults([{ op: "uploadPart", after: 0, every: true }]);
    try {
      const res = await call(w.faulty, "POST", "/v1/jobs", { body: { ...inputs, filename_prefix: "doomed/small", ...split } });
      assert.equal(res.status, 202, JSON.stringify(res.json));
      const job = await waitForJob(w.faulty, res.json.id);
      assert.equal(job.status, "failed", JSON.stringify(job));
      assert.match(job.error, /^doomed\/small_00001_\.safetensors: parts:\d+ failed \(attempt 6 of 6\): .*injected R2 failure: uploadPart/);
      assert.equal(job.parts_done, 0);
      assert.deepEqual(await allKeys(w.bucket, "doomed/"), [], "no object under the prefix");
      assert.equal(await uploadIsLive(res.json.key, res.json.upload_id), false, "the upload was aborted");
    } finally {
      await setQueueFaults([]);
    }
  });

  test("a late report of an attempt that lost its lease changes nothing", { timeout: TIMEOUT }, async () => {
    // The job's object alone, called as the Go side calls it: attempt 1
    // leases a task, its lease lapses (1 ms), attempt 2 takes it over;
    // then attempt 1 reports, before and after attempt 2. Its re-queued
    // message is not JSON, so the consumer drops it.
    const ns = await w.mf.getDurableObjectNamespace("JOBS", "edge");
    const job = ns.get(ns.idFromName("fence-test"));
    const rec = { id: "fence-test", key: "fence/x.safetensors", size: 10 << 20, parts: 2, hash_from: 0, lease_ms: 1, max_attempts: 6 };
    await job.create(JSON.stringify(rec));
    const first = JSON.parse(await job.lease("parts:1", "msg-a", "not json"));
    assert.deepEqual([first.go, first.attempt], [true, 1]);
    await new Promise((r) => setTimeout(r, 20));
    const second = JSON.parse(await job.lease("parts:1", "msg-b", "not json"));
    assert.deepEqual([second.go, second.attempt], [true, 2], "the expired lease is taken over");
    const late = JSON.parse(await job.partDone(1, "etag-a", 5 << 20, "parts:1", 1));
    assert.equal(late.ok, false, "a report of the lost attempt is refused");
    assert.equal(late.state.parts_done, 0);
    const now = JSON.parse(await job.partDone(1, "etag-b", 5 << 20, "parts:1", 2));
    assert.deepEqual([now.ok, now.state.parts_done, now.state.bytes_done], [true, 1, 5 << 20]);
    const later = JSON.parse(await job.partDone(1, "etag-a", 5 << 20, "parts:1", 1));
    assert.equal(later.ok, false);
    assert.equal(JSON.parse(await job.hashStep(0, 5 << 20, "", "", "hash:0", 1)).ok, false, "no lease, no hash step");
    assert.equal(await job.taskDone("parts:1", 1), false);
    assert.equal(await job.renew("parts:1", 1), false);
    const view = JSON.parse(await job.view());
    assert.deepEqual(view.parts, { 1: "etag-b" }, "the part's etag is the current attempt's");
    assert.deepEqual([view.state.parts_done, view.state.bytes_done, view.state.retries], [1, 5 << 20, 1]);
    assert.equal(JSON.parse(await job.cancel()).ended, true);
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
