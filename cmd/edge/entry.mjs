// The Worker's entry (wrangler.toml's main, copied into build/edge by
// `make build-edge`): syumai/workers' generated worker.mjs, with the R2
// read helpers the Go side calls installed first.
import "./r2io.mjs";
export { default } from "./worker.mjs";
