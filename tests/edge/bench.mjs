// bench-edge: the sd15 assembly (unet + clip_l + vae → a 2.3 GB checkpoint)
// through the built Worker under Miniflare, with its CPU cost.
//
// CPU method: user+system CPU of the workerd child process from
// /proc/PID/stat, sampled right before and after the one request. That
// includes the local R2 simulator (which runs inside workerd and stores
// objects on disk), so it over-states what the Worker itself would be
// billed on Cloudflare; it is a consistent number to compare changes by.
// Node's own CPU (process.cpuUsage) over the request is printed too.
//
// To show how much of that is the simulator, the same bytes are then copied
// by a plain JS Worker (ranged gets of 8 MiB into an 8 MiB-part multipart
// upload, hashed with crypto.DigestStream), the floor for any Worker that
// moves them through R2 (edge_js_copy_mb_per_cpu_s). The edge Worker's own
// CPU is roughly the difference.
//
// Prints:
//   edge_mb_per_cpu_s          output MB (10^6 bytes) per workerd CPU second
//   edge_peak_sys_mib          Go runtime.MemStats.Sys at the end of the request
//                              (js/wasm memory never shrinks, so that is the peak)
//   edge_js_copy_mb_per_cpu_s  the plain JS copy of the same bytes
//   edge_workerd_rss_growth_mib / edge_js_copy_workerd_rss_growth_mib
//                              growth of workerd's resident memory over the
//                              request (the simulator's share is in both)
import { Miniflare } from "miniflare";
import path from "node:path";
import { call, fixturesDir, goSys, processCPUSeconds, seedFile, startWorkers, workerdPid, workerdRSS } from "./harness.mjs";

const MiB = 1 << 20;

// Copies ?keys=a,b,c (concatenated) into one multipart upload, as the edge
// Worker's data path does, without any Go.
const jsCopyWorker = `export default { async fetch(request, env) {
  const keys = new URL(request.url).searchParams.get("keys").split(",");
  const P = 8 << 20;
  const upload = await env.BUCKET.createMultipartUpload("js-copy.safetensors");
  const digest = new crypto.DigestStream("SHA-256");
  const hash = digest.getWriter();
  const part = new Uint8Array(P);
  const parts = [];
  let fill = 0;
  const flush = async () => {
    const view = part.subarray(0, fill);
    await hash.write(view);
    parts.push(await upload.uploadPart(parts.length + 1, view));
    fill = 0;
  };
  let total = 0;
  for (const key of keys) {
    const size = (await env.BUCKET.head(key)).size;
    for (let off = 0; off < size; ) {
      const n = Math.min(P, size - off);
      const got = new Uint8Array(await (await env.BUCKET.get(key, { range: { offset: off, length: n } })).arrayBuffer());
      for (let i = 0; i < n; ) {
        const c = Math.min(n - i, P - fill);
        part.set(got.subarray(i, i + c), fill);
        fill += c; i += c;
        if (fill === P) await flush();
      }
      off += n; total += n;
    }
  }
  if (fill > 0) await flush();
  await upload.complete(parts);
  await hash.close();
  await digest.digest;
  return new Response(String(total));
} }`;

const sd15 = path.join(fixturesDir, "sd15");
const w = await startWorkers();
try {
  const keys = {};
  for (const c of ["unet", "clip_l", "vae"]) {
    keys[c] = `models/${c}.safetensors`;
    await seedFile(w.bucket, keys[c], path.join(sd15, `${c}.safetensors`));
  }
  const pid = workerdPid();
  const rss0 = workerdRSS(pid);
  const cpu0 = processCPUSeconds(pid);
  const node0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await call(w.edge, "POST", "/v1/checkpoints", {
    body: { model: keys.unet, clip: [keys.clip_l], vae: keys.vae },
  });
  const wall = (performance.now() - t0) / 1000;
  const cpu = processCPUSeconds(pid) - cpu0;
  const node = process.cpuUsage(node0);
  const rssGrowth = workerdRSS(pid) - rss0;
  if (res.status !== 201) {
    throw new Error(`assembly failed: ${res.status} ${JSON.stringify(res.json)}`);
  }
  const mb = res.json.bytes / 1e6;
  console.log(`sd15 assembly: ${res.json.bytes} bytes in ${wall.toFixed(2)} s wall, workerd CPU ${cpu.toFixed(2)} s, node CPU ${((node.user + node.system) / 1e6).toFixed(2)} s`);
  console.log(`R2 calls: ${res.headers.get("ckptpack-r2-calls")}`);
  console.log(`edge_mb_per_cpu_s: ${(mb / cpu).toFixed(1)}`);
  console.log(`edge_peak_sys_mib: ${(goSys(res.headers) / MiB).toFixed(1)}`);
  console.log(`edge_workerd_rss_growth_mib: ${(rssGrowth / MiB).toFixed(0)}`);
} finally {
  await w.mf.dispose();
}

const js = new Miniflare({ modules: true, script: jsCopyWorker, compatibilityDate: "2026-07-01", r2Buckets: ["BUCKET"] });
try {
  const bucket = await js.getR2Bucket("BUCKET");
  const keys = [];
  for (const c of ["unet", "clip_l", "vae"]) {
    keys.push(`models/${c}.safetensors`);
    await seedFile(bucket, keys.at(-1), path.join(sd15, `${c}.safetensors`));
  }
  const pid = workerdPid();
  const rss0 = workerdRSS(pid);
  const cpu0 = processCPUSeconds(pid);
  const res = await js.dispatchFetch(`http://bench.test/?keys=${keys.join(",")}`);
  const bytes = Number(await res.text());
  const cpu = processCPUSeconds(pid) - cpu0;
  console.log(`plain JS copy of the same ${bytes} bytes: workerd CPU ${cpu.toFixed(2)} s`);
  console.log(`edge_js_copy_mb_per_cpu_s: ${(bytes / 1e6 / cpu).toFixed(1)}`);
  console.log(`edge_js_copy_workerd_rss_growth_mib: ${((workerdRSS(pid) - rss0) / MiB).toFixed(0)}`);
} finally {
  await js.dispose();
}
