// The durable state of assembly jobs (cmd/edge/jobs.go): one Durable Object
// per job, and one per output prefix for counters. Go does all byte work
// and decides what happens; these objects only keep state and make each
// transition atomic (a Durable Object runs one call at a time, and none of
// these methods awaits anything but its own storage; the alarm also sends
// to the queue, after its reads). Methods take and
// return JSON text, so the Go side needs no structured cloning.
import { DurableObject } from "cloudflare:workers";

// Every piece of work is a task ("parts:<first>", "hash:<offset>", "first",
// "complete") that an invocation leases before it starts: the lease has an
// attempt number and an expiry. Reports carry the attempt and count only
// while it holds the lease, and each renews it; so an invocation presumed
// dead that reports late changes nothing. The object's alarm is the
// watchdog: it re-queues every task whose lease ran out without the task
// being done (its invocation died, or its message was dropped), and the
// next lease past rec.max_attempts fails the job.
export class CkptpackJob extends DurableObject {
  async create(recordJSON) {
    if ((await this.ctx.storage.get("record")) !== undefined) throw new Error("job exists");
    const rec = JSON.parse(recordJSON);
    const now = Date.now();
    const state = {
      status: "running", parts_done: 0, bytes_done: 0, hash_offset: rec.hash_from, hash_state: null,
      sha256: "", hash_sha256: "", error: "", retries: 0, last_error: "", created: now, updated: now,
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

  // Whether task may run in the job's status: "complete" while completing,
  // every other task while running.
  static #runs(state, name) {
    return state.status === (name === "complete" ? "completing" : "running");
  }

  async #task(name) {
    return (await this.ctx.storage.get(`task:${name}`)) ?? { msg: "", attempt: 0, until: 0, holder: "", done: false };
  }

  // The lease of task for this attempt, renewed; undefined when the
  // attempt no longer holds it (or the job is not in a status it runs in).
  async #held(state, name, attempt) {
    const task = await this.#task(name);
    if (!CkptpackJob.#runs(state, name) || task.done || task.attempt !== attempt) return undefined;
    return task;
  }

  async #armFor(until) {
    const at = await this.ctx.storage.getAlarm();
    if (at === null || at > until) await this.ctx.storage.setAlarm(until);
  }

  // lease starts an attempt at task name for holder (the queue message's
  // id) and msg (its body, what the watchdog re-queues). Granted when the
  // task is not done and its lease is free, expired, or held by the same
  // message (a queue redelivery: the earlier delivery has ended).
  async lease(name, holder, msg) {
    const { rec, state } = await this.#load();
    const task = await this.#task(name);
    const now = Date.now();
    if (!CkptpackJob.#runs(state, name) || task.done || (task.until > now && task.holder !== holder)) {
      return JSON.stringify({ go: false, ended: false, state });
    }
    if (task.attempt >= rec.max_attempts) {
      state.status = "failed";
      state.error = `${rec.key}: ${name} failed ${task.attempt} times (the last attempt: ${task.error || `no report within the ${rec.lease_ms / 1000} s lease`}); the upload is aborted`;
      state.updated = now;
      await this.ctx.storage.put("state", state);
      return JSON.stringify({ go: false, ended: true, state });
    }
    if (task.attempt > 0) state.retries++;
    Object.assign(task, { msg, attempt: task.attempt + 1, until: now + rec.lease_ms, holder });
    await this.ctx.storage.put({ [`task:${name}`]: task, state });
    await this.#armFor(task.until);
    return JSON.stringify({ go: true, ended: false, attempt: task.attempt, state });
  }

  // renew extends the lease of an attempt still holding it.
  async renew(name, attempt) {
    const { rec, state } = await this.#load();
    const task = await this.#held(state, name, attempt);
    if (task === undefined) return false;
    task.until = Date.now() + rec.lease_ms;
    await this.ctx.storage.put(`task:${name}`, task);
    await this.#armFor(task.until);
    return true;
  }

  // release ends an attempt that failed with error: the lease stays until
  // it expires, so the queue's redelivery of the same message takes it at
  // once, and the watchdog re-queues the task if none comes.
  async release(name, attempt, error) {
    const { state } = await this.#load();
    const task = await this.#held(state, name, attempt);
    if (task === undefined) return false;
    task.error = error;
    state.last_error = `${name} attempt ${attempt}: ${error}`;
    await this.ctx.storage.put({ [`task:${name}`]: task, state });
    return true;
  }

  async taskDone(name, attempt) {
    const { state } = await this.#load();
    const task = await this.#held(state, name, attempt);
    if (task === undefined) return false;
    task.done = true;
    await this.ctx.storage.put(`task:${name}`, task);
    return true;
  }

  // partDone records part n for the attempt holding task name; ok is
  // false (and nothing changes) when it does not hold it.
  async partDone(n, etag, size, name, attempt) {
    const { rec, state } = await this.#load();
    const task = await this.#held(state, name, attempt);
    if (task === undefined) return JSON.stringify({ state, ok: false });
    const key = `part:${n}`;
    if ((await this.ctx.storage.get(key)) === undefined) {
      state.parts_done++;
      state.bytes_done += size;
    }
    state.updated = Date.now();
    task.until = state.updated + rec.lease_ms;
    await this.ctx.storage.put({ [key]: etag, state, [`task:${name}`]: task });
    await this.#armFor(task.until);
    return JSON.stringify({ state, ok: true });
  }

  // The lane moves only from where it is (compare-and-set on the offset),
  // and only for the attempt holding the step's lease.
  async hashStep(from, to, hashState, sum, name, attempt) {
    const { rec, state } = await this.#load();
    const task = await this.#held(state, name, attempt);
    const ok = task !== undefined && state.hash_offset === from;
    if (ok) {
      state.hash_offset = to;
      state.hash_state = hashState;
      if (sum !== "") state[rec.data_hash ? "hash_sha256" : "sha256"] = sum;
      state.updated = Date.now();
      await this.ctx.storage.put("state", state);
    }
    return JSON.stringify({ state, ok });
  }

  // claim moves a job whose work is all recorded to "completing" and
  // leases its "complete" task to holder; attempt 0: not claimed here.
  async claim(holder, msg) {
    const { rec, state } = await this.#load();
    if (state.status !== "running" || state.parts_done !== rec.parts || state.hash_offset !== rec.size) return 0;
    const now = Date.now();
    const task = { msg, attempt: 1, until: now + rec.lease_ms, holder, done: false };
    state.status = "completing";
    state.updated = now;
    await this.ctx.storage.put({ state, "task:complete": task });
    await this.#armFor(task.until);
    return 1;
  }

  async finish(attempt) {
    const { state } = await this.#load();
    const task = await this.#held(state, "complete", attempt);
    if (task === undefined) return false;
    task.done = true;
    state.status = "done";
    state.updated = Date.now();
    await this.ctx.storage.put({ state, "task:complete": task });
    await this.ctx.storage.deleteAlarm();
    return true;
  }

  async fail(message) {
    const { state } = await this.#load();
    if (state.status !== "running" && state.status !== "completing") return false;
    state.status = "failed";
    state.error = message;
    state.updated = Date.now();
    await this.ctx.storage.put("state", state);
    await this.ctx.storage.deleteAlarm();
    return true;
  }

  async cancel() {
    const { state } = await this.#load();
    const ended = state.status === "running";
    if (ended) {
      state.status = "cancelled";
      state.updated = Date.now();
      await this.ctx.storage.put("state", state);
      await this.ctx.storage.deleteAlarm();
    }
    return JSON.stringify({ state, ended });
  }

  // The watchdog: re-queue each task whose lease expired undone; the
  // lease its message then asks for counts the attempt (and fails the job
  // past the bound). The lease is cleared so that message takes it.
  async alarm() {
    const { state } = await this.#load();
    if (state.status !== "running" && state.status !== "completing") return;
    const now = Date.now();
    let next = Infinity;
    const due = [];
    for (const [key, task] of await this.ctx.storage.list({ prefix: "task:" })) {
      if (task.done || task.until === 0 || !CkptpackJob.#runs(state, key.slice(5))) continue;
      if (task.until > now) {
        next = Math.min(next, task.until);
        continue;
      }
      task.until = 0;
      task.holder = "";
      due.push([key, task]);
    }
    if (due.length > 0) {
      for (let i = 0; i < due.length; i += 100) {
        await this.env.PARTS.sendBatch(due.slice(i, i + 100).map(([, t]) => ({ body: t.msg, contentType: "text" })));
      }
      await this.ctx.storage.put(Object.fromEntries(due));
    }
    if (next !== Infinity) await this.ctx.storage.setAlarm(next);
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
