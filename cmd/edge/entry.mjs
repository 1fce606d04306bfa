// The Worker's entry (wrangler.toml's main, copied into build/edge by
// `make build-edge`): syumai/workers' generated worker.mjs (fetch and the
// job queue's consumer, both in Go), with the R2 read helpers the Go side
// calls installed first, and the jobs' Durable Object classes.
import "./r2io.mjs";
export { default } from "./worker.mjs";
export { CkptpackJob, CkptpackCounter } from "./jobs.mjs";
