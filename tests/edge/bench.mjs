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
// Prints:
//   edge_mb_per_cpu_s  output MB (10^6 bytes) per workerd CPU second
//   edge_peak_sys_mib  Go runtime.MemStats.Sys at the end of the request
//                      (js/wasm memory never shrinks, so that is the peak)
import fs from "node:fs";
import path from "node:path";
import { call, fixturesDir, goSys, processCPUSeconds, seedFile, startWorkers, workerdPid } from "./harness.mjs";

const sd15 = path.join(fixturesDir, "sd15");
const w = await startWorkers();
try {
  const keys = {};
  for (const c of ["unet", "clip_l", "vae"]) {
    keys[c] = `models/${c}.safetensors`;
    await seedFile(w.bucket, keys[c], path.join(sd15, `${c}.safetensors`));
  }
  const pid = workerdPid();
  const cpu0 = processCPUSeconds(pid);
  const node0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await call(w.edge, "POST", "/v1/checkpoints", {
    body: { model: keys.unet, clip: [keys.clip_l], vae: keys.vae },
  });
  const wall = (performance.now() - t0) / 1000;
  const cpu = processCPUSeconds(pid) - cpu0;
  const node = process.cpuUsage(node0);
  if (res.status !== 201) {
    throw new Error(`assembly failed: ${res.status} ${JSON.stringify(res.json)}`);
  }
  const mb = res.json.bytes / 1e6;
  console.log(`sd15 assembly: ${res.json.bytes} bytes in ${wall.toFixed(2)} s wall, workerd CPU ${cpu.toFixed(2)} s, node CPU ${((node.user + node.system) / 1e6).toFixed(2)} s`);
  console.log(`R2 calls: ${res.headers.get("ckptpack-r2-calls")}`);
  console.log(`edge_mb_per_cpu_s ${(mb / cpu).toFixed(1)}`);
  console.log(`edge_peak_sys_mib ${(goSys(res.headers) / (1 << 20)).toFixed(1)}`);
} finally {
  await w.mf.dispose();
}
