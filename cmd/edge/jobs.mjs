// The durable state of assembly jobs (cmd/edge/jobs.go): one Durable Object
// per job, and one per output prefix for counters. Go does all byte work
// and decides what happens; these objects only keep state and make each
// transition atomic (a Durable Object runs one call at a time, and none of
// these methods awaits anything but its own storage). Methods take and
// return JSON text, so the Go side needs no structured cloning.
import { DurableObject } from "cloudflare:workers";

export class CkptpackJob extends DurableObject {
  async create(recordJSON) {
    if ((await this.ctx.storage.get("record")) !== undefined) throw new Error("job exists");
    const rec = JSON.parse(recordJSON);
    const now = Date.now();
    const state = {
      status: "running", parts_done: 0, bytes_done: 0, hash_offset: rec.hash_from, hash_state: null,
      sha256: "", hash_sha256: "", error: "", created: now, updated: now,
    };
    await this.ctx.storage.put({ record: recordJSON, state });
    return "";
  }

  async #load() {
    const [record, state] = await Promise.all([this.ctx.storage.get("record"), this.ctx.storage.get("state")]);
    if (record === undefined) throw new Error("no such job");
    return { rec: JSON.parse(record), record, state };
  }

  async view() {
    const { record, state } = await this.#load();
    const parts = {};
    for (const [k, etag] of await this.ctx.storage.list({ prefix: "part:" })) parts[k.slice(5)] = etag;
    return `{"record":${record},"state":${JSON.stringify(state)},"parts":${JSON.stringify(parts)}}`;
  }

  async partDone(n, etag, size) {
    const { state } = await this.#load();
    if (state.status === "running") {
      const key = `part:${n}`;
      if ((await this.ctx.storage.get(key)) === undefined) {
        state.parts_done++;
        state.bytes_done += size;
      }
      state.updated = Date.now();
      await this.ctx.storage.put({ [key]: etag, state });
    }
    return JSON.stringify(state);
  }

  // The lane moves only from where it is (compare-and-set on the offset).
  async hashStep(from, to, hashState, sum) {
    const { rec, state } = await this.#load();
    const ok = state.status === "running" && state.hash_offset === from;
    if (ok) {
      state.hash_offset = to;
      state.hash_state = hashState;
      if (sum !== "") state[rec.data_hash ? "hash_sha256" : "sha256"] = sum;
      state.updated = Date.now();
      await this.ctx.storage.put("state", state);
    }
    return JSON.stringify({ state, ok });
  }

  async claim() {
    const { rec, state } = await this.#load();
    if (state.status !== "running" || state.parts_done !== rec.parts || state.hash_offset !== rec.size) return false;
    state.status = "completing";
    await this.ctx.storage.put("state", state);
    return true;
  }

  async finish() {
    const { state } = await this.#load();
    state.status = "done";
    state.updated = Date.now();
    await this.ctx.storage.put("state", state);
    return "";
  }

  async fail(message) {
    const { state } = await this.#load();
    if (state.status !== "running" && state.status !== "completing") return false;
    state.status = "failed";
    state.error = message;
    state.updated = Date.now();
    await this.ctx.storage.put("state", state);
    return true;
  }

  async cancel() {
    const { state } = await this.#load();
    const ended = state.status === "running";
    if (ended) {
      state.status = "cancelled";
      state.updated = Date.now();
      await this.ctx.storage.put("state", state);
    }
    return JSON.stringify({ state, ended });
  }
}

// One per output prefix ("<subfolder>/<filename>"): hands out counters so
// that jobs started at the same time never share one.
export class CkptpackCounter extends DurableObject {
  async reserve(floor) {
    const last = (await this.ctx.storage.get("last")) ?? 0;
    const n = Math.max(floor, last + 1);
    await this.ctx.storage.put("last", n);
    return n;
  }
}
