// Package jsio is the small bridge between Go (GOOS=js GOARCH=wasm) and the
// browser APIs the ckptpack worker uses: awaiting Promises, turning thrown JS
// exceptions into errors, yielding to the worker's event loop, and moving
// bytes between Go memory and File/OPFS objects without creating a js.Value
// per chunk.
//
// Why no js.Value per chunk: syscall/js keeps every JS object Go has received
// referenced until Go's garbage collector finalizes the js.Value, and a copy
// loop with one reused buffer allocates almost nothing on the Go side, so Go
// rarely collects. A loop that received each chunk's ArrayBuffer as a
// js.Value kept every chunk alive (2 GiB referenced after a 2 GiB copy, in
// the project's browser measurements). Instead the per-chunk work runs in
// tiny JS helpers (web/worker-io.js, installed as globalThis.ckptpackIO)
// that take and return plain numbers: a file, a byte range and the address
// of a Go buffer inside the WebAssembly memory. Copies from a File straight
// into OPFS do not enter wasm memory at all (streamwriter's RangeCopier).
//
// Only the js/wasm build has any content; the package is empty elsewhere.
package jsio
