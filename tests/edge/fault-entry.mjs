// Test-only Worker entry: wraps the R2 binding so a request can ask for a
// bucket failure and learn which multipart uploads it started. Production
// deploys build/edge/entry.mjs directly (cmd/edge/wrangler.toml), so none
// of this is on a deployed code path.
//
// Request headers:
//   x-test-fail-op:    "get" | "uploadPart" | "complete"  — the operation to break
//   x-test-fail-after: N — the first N calls succeed, the next ones reject
// Response header:
//   x-test-uploads: JSON [{key, uploadId}] of every multipart upload started.
import worker from "../../build/edge/entry.mjs";

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
  };
}

export default {
  async fetch(request, env, ctx) {
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
};
