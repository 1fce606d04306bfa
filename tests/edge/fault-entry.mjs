// Test-only Worker entry: wraps the R2 binding so a request or the job
// queue's consumer can be made to see bucket failures, or be killed, and
// reports which multipart uploads a request started. Production deploys
// build/edge/entry.mjs directly (cmd/edge/wrangler.toml), so none of this
// is on a deployed code path.
//
// Request headers:
//   x-test-fail-op:    "get" | "uploadPart" | "complete"  — the operation to break
//   x-test-fail-after: N — the first N calls succeed, the next ones reject
// Response header:
//   x-test-uploads: JSON [{key, uploadId}] of every multipart upload started.
//
// Queue invocations: POST /__test/queue-faults with a JSON list of
// {op, after, kill}: the (after+1)-th call of op, counted over all queue
// invocations from then on, rejects once (kill false), or the invocation
// dies right there (kill true: the call never returns and the batch fails
// as when the runtime ends an invocation; with op "uploadPart" the part is
// uploaded first), or (hold true, op "get") waits for POST /__test/release.
// vanish true dies like kill, but the batch is acked, as when the queue's
// last retry was the one killed: the message is gone and only the job's
// watchdog (its Durable Object alarm) can recover; land true (op
// "complete") makes the call first. every true rejects every call of op
// from the (after+1)-th on, until the faults are set again.
// GET /__test/queue-stats → {invocations, faults}.
// TEST_HOOK (a service binding, if present) hears "start" and "end"
// (with ?kind= the message's kind) around each queue invocation.
import worker from "../../build/edge/entry.mjs";
export { CkptpackJob, CkptpackCounter } from "../../build/edge/entry.mjs";

function faultyBucket(bucket, failOp, failAfter, uploads) {
  let calls = 0;
  const maybeFail = (op) => {
    if (op === failOp && ++calls > failAfter) {
      throw new Error(`injected R2 failure: ${op} call ${calls}`);
    }
  };
  return {
    head: (key) => bucket.head(key),
    list: (opts) => bucket.list(opts),
    get: async (key, opts) => {
      maybeFail("get");
      return bucket.get(key, opts);
    },
    createMultipartUpload: async (key, opts) => {
      const upload = await bucket.createMultipartUpload(key, opts);
      uploads.push({ key: upload.key, uploadId: upload.uploadId });
      return {
        key: upload.key,
        uploadId: upload.uploadId,
        uploadPart: async (n, value) => {
          maybeFail("uploadPart");
          return upload.uploadPart(n, value);
        },
        complete: async (parts) => {
          maybeFail("complete");
          return upload.complete(parts);
        },
        abort: () => upload.abort(),
      };
    },
    resumeMultipartUpload: (key, uploadId) => bucket.resumeMultipartUpload(key, uploadId),
  };
}

let queueFaults = [];
const held = []; // resolvers of gets held by a {hold: true} fault
const queueCalls = {};
let invocations = 0;

// queueBucket applies queueFaults to the bucket of one queue invocation;
// kill() is called when a fault kills it.
function queueBucket(bucket, kill) {
  const due = (op) => {
    queueCalls[op] = (queueCalls[op] ?? 0) + 1;
    const f = queueFaults.find((f) => (!f.spent || f.every) && f.op === op && queueCalls[op] > f.after);
    if (f !== undefined) f.spent = true;
    return f;
  };
  const fire = (f) => {
    if (!f.kill && !f.vanish) throw new Error(`injected R2 failure: ${f.op} call ${f.after + 1}`);
    kill(`${f.op} call ${f.after + 1}`, f.vanish === true);
    return new Promise(() => {}); // never settles: the invocation is dead
  };
  const wrapUpload = (upload) => ({
    key: upload.key,
    uploadId: upload.uploadId,
    uploadPart: async (n, value) => {
      const f = due("uploadPart");
      if (f !== undefined && !f.kill && !f.vanish) fire(f);
      const part = await upload.uploadPart(n, value);
      return f === undefined ? part : fire(f); // killed after the part went up
    },
    complete: async (parts) => {
      const f = due("complete");
      if (f !== undefined && !f.land) await fire(f);
      const done = await upload.complete(parts);
      return f === undefined ? done : fire(f); // killed after completing
    },
    abort: () => upload.abort(),
  });
  return {
    head: (key) => bucket.head(key),
    list: (opts) => bucket.list(opts),
    get: async (key, opts) => {
      const f = due("get");
      if (f?.hold) await new Promise((resolve) => held.push(resolve));
      else if (f !== undefined) await fire(f);
      return bucket.get(key, opts);
    },
    createMultipartUpload: async (key, opts) => wrapUpload(await bucket.createMultipartUpload(key, opts)),
    resumeMultipartUpload: (key, uploadId) => wrapUpload(bucket.resumeMultipartUpload(key, uploadId)),
  };
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/__test/queue-faults") {
      queueFaults = await request.json();
      for (const k of Object.keys(queueCalls)) delete queueCalls[k];
      return Response.json({});
    }
    if (url.pathname === "/__test/release") {
      for (const resolve of held.splice(0)) resolve();
      return Response.json({});
    }
    if (url.pathname === "/__test/queue-stats") {
      return Response.json({ invocations, faults: queueFaults });
    }
    const failOp = request.headers.get("x-test-fail-op") ?? "";
    const failAfter = Number(request.headers.get("x-test-fail-after") ?? "0");
    const uploads = [];
    const wrappedEnv = { ...env, BUCKET: faultyBucket(env.BUCKET, failOp, failAfter, uploads) };
    const response = await worker.fetch(request, wrappedEnv, ctx);
    const body = await response.arrayBuffer();
    const headers = new Headers(response.headers);
    headers.set("x-test-uploads", JSON.stringify(uploads));
    return new Response(body, { status: response.status, headers });
  },

  async queue(batch, env, ctx) {
    invocations++;
    const kind = JSON.parse(batch.messages[0]?.body ?? "{}").kind ?? "";
    await env.TEST_HOOK?.fetch(`http://hook/start?kind=${kind}`);
    try {
      let kill;
      const killed = new Promise((resolve, reject) => {
        kill = (where, vanish) => {
          if (!vanish) return reject(new Error(`test: invocation killed at ${where}`));
          batch.ackAll();
          resolve();
        };
      });
      const wrappedEnv = { ...env, BUCKET: queueBucket(env.BUCKET, kill) };
      return await Promise.race([worker.queue(batch, wrappedEnv, ctx), killed]);
    } finally {
      await env.TEST_HOOK?.fetch(`http://hook/end?kind=${kind}`);
    }
  },
};
