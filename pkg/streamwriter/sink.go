// Package streamwriter holds the output sinks the checkpoint executor writes
// into: a plain file, memory, the browser's OPFS sync access handle, a File
// System Access writable, and (in cmd/edge) an R2 multipart upload. They all
// sit behind Sink so the engine never knows where the bytes go.
package streamwriter

// Sink receives a checkpoint as one sequential stream of writes.
//
// Write must either accept all of p or return an error (a short write without
// an error is a bug in the sink; sinks whose backend can short-write, like
// FileSystemSyncAccessHandle.write on a full disk, must turn it into an error).
// Finish makes the output visible/complete; Abort removes everything written
// so far so no partial file that looks complete is ever left behind. After
// Finish or Abort the sink is unusable. Abort after a failed Finish is allowed.
type Sink interface {
	Write(p []byte) (int, error)
	Finish() error
	Abort() error
}
