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
//
// Then the same bytes as a job (POST /v1/jobs, default split: 8 MiB parts,
// 256 MiB per invocation) on the test entry, which reports each queue
// invocation's start and end: workerd's CPU and the wall time are sampled
// there (Miniflare's queue runs one batch at a time, so each sample is one
// invocation's, simulator and Durable Object included).
//   edge_job_invocations               queue invocations the job took
//   edge_job_max_cpu_s_per_invocation  the largest
//   edge_job_part_cpu_s / edge_job_hash_cpu_s
//                                      summed over the part invocations and
//                                      over the hash lane's
//   edge_job_cpu_vs_one_request        all of the job's CPU ÷ the one request's
//   edge_one_request_wall_s / edge_job_wall_s_serial
//                                      measured, POST to done
//   edge_job_wall_s_parallel           P = 8 consumers, modelled from the
//                                      measured invocation times: the part
//                                      invocations spread over P (longest
//                                      first), beside the hash lane, which
//                                      is sequential
import { Miniflare } from "miniflare";
import path from "node:path";
import { call, fixturesDir, goSys, processCPUSeconds, seedFile, startWorkers, waitForJob, workerdPid, workerdRSS } from "./harness.mjs";

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
const P = 8;
let pid;
const invocations = []; // {kind, cpu, wall}
let open = null;
const hook = (what, kind) => {
  if (what === "start") open = { kind, cpu: processCPUSeconds(pid), t: performance.now() };
  else {
    invocations.push({ kind, cpu: processCPUSeconds(pid) - open.cpu, wall: (performance.now() - open.t) / 1000 });
    open = null;
  }
  return "";
};
const w = await startWorkers({ hook });
try {
  const keys = {};
  for (const c of ["unet", "clip_l", "vae"]) {
    keys[c] = `models/${c}.safetensors`;
    await seedFile(w.bucket, keys[c], path.join(sd15, `${c}.safetensors`));
  }
  pid = workerdPid();
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
  console.log(`edge_one_request_wall_s: ${wall.toFixed(1)}`);

  const jcpu0 = processCPUSeconds(pid);
  const jt0 = performance.now();
  const job = await call(w.faulty, "POST", "/v1/jobs", {
    body: { model: keys.unet, clip: [keys.clip_l], vae: keys.vae, filename_prefix: "bench-job/ComfyUI" },
  });
  if (job.status !== 202) throw new Error(`job: ${job.status} ${JSON.stringify(job.json)}`);
  const postWall = (performance.now() - jt0) / 1000;
  const done = await waitForJob(w.faulty, job.json.id, { pollMs: 250 });
  const jobWall = (performance.now() - jt0) / 1000;
  const jobCPU = processCPUSeconds(pid) - jcpu0;
  if (done.status !== "done" || done.sha256 !== res.json.sha256) {
    throw new Error(`job ended ${done.status}, sha256 ${done.sha256} (one request: ${res.json.sha256}): ${JSON.stringify(done)}`);
  }
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const parts = invocations.filter((i) => i.kind !== "hash");
  const lane = invocations.filter((i) => i.kind === "hash");
  // Longest-first onto P consumers; the hash lane runs beside them.
  const load = new Array(P).fill(0);
  for (const i of [...parts].sort((a, b) => b.wall - a.wall)) load[load.indexOf(Math.min(...load))] += i.wall;
  const parallel = postWall + Math.max(Math.max(...load), sum(lane.map((i) => i.wall)));
  console.log(`job: ${done.parts} parts of ${done.part_size} bytes; ${parts.length} part and ${lane.length} hash invocations; POST ${postWall.toFixed(2)} s; workerd CPU ${jobCPU.toFixed(1)} s (one request ${cpu.toFixed(1)} s)`);
  console.log(`per invocation (kind cpu_s wall_s): ${invocations.map((i) => `${i.kind} ${i.cpu.toFixed(1)} ${i.wall.toFixed(1)}`).join(", ")}`);
  console.log(`edge_job_invocations: ${invocations.length}`);
  console.log(`edge_job_max_cpu_s_per_invocation: ${Math.max(...invocations.map((i) => i.cpu)).toFixed(2)}`);
  console.log(`edge_job_part_cpu_s: ${sum(parts.map((i) => i.cpu)).toFixed(1)}`);
  console.log(`edge_job_hash_cpu_s: ${sum(lane.map((i) => i.cpu)).toFixed(1)}`);
  console.log(`edge_job_cpu_vs_one_request: ${(jobCPU / cpu).toFixed(2)}`);
  console.log(`edge_job_wall_s_serial: ${jobWall.toFixed(1)}`);
  console.log(`edge_job_wall_s_parallel: ${parallel.toFixed(1)}`);
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
  pid = workerdPid();
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
