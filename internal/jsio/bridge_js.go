//go:build js && wasm

package jsio

import (
	"errors"
	"fmt"
	"syscall/js"
	"unsafe"
)

// ErrNoHelpers means globalThis.ckptpackIO (web/worker-io.js) was not loaded
// before the Go program started.
var ErrNoHelpers = errors.New("jsio: globalThis.ckptpackIO is missing: the worker bootstrap must importScripts('worker-io.js') before running the wasm")

// Error is a JavaScript exception or Promise rejection seen from Go. Name is
// the DOMException/Error name ("NotReadableError", "QuotaExceededError" …),
// which is what callers branch on.
type Error struct {
	Name    string
	Message string
}

func (e *Error) Error() string {
	if e.Name == "" {
		return e.Message
	}
	return e.Name + ": " + e.Message
}

// errorFromValue turns a thrown or rejected JS value into an *Error.
func errorFromValue(v js.Value) *Error {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		e := &Error{}
		if name.Type() == js.TypeString {
			e.Name = name.String()
		}
		if msg.Type() == js.TypeString {
			e.Message = msg.String()
		} else {
			e.Message = js.Global().Call("String", v).String()
		}
		return e
	}
	return &Error{Message: js.Global().Call("String", v).String()}
}

// recovered converts a value recovered from a panic inside syscall/js (a
// thrown JS exception arrives as a js.Error panic) into an error.
func recovered(r any) error {
	switch r := r.(type) {
	case js.Error:
		return errorFromValue(r.Value)
	case error:
		return fmt.Errorf("jsio: %w", r)
	default:
		return fmt.Errorf("jsio: %v", r)
	}
}

// Call calls v[method](args…) and returns a thrown exception as an error
// instead of a panic (js.Value.Call panics when JS throws, and an unrecovered
// panic kills the Go instance for good).
func Call(v js.Value, method string, args ...any) (result js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r)
		}
	}()
	return v.Call(method, args...), nil
}

// New is Call for constructors: new v(args…).
func New(v js.Value, args ...any) (result js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r)
		}
	}()
	return v.New(args...), nil
}

type settled struct {
	v   js.Value
	err error
}

// Await blocks the calling goroutine until promise settles. Values that are
// not thenables are returned as they are.
//
// It must not be called from a js.FuncOf callback (the event loop cannot run
// while the callback blocks, so the Promise never settles): call it from a
// goroutine the callback started. While it waits, the Go scheduler returns
// control to the worker's event loop, which is how queued messages (cancel)
// get delivered during a job.
func Await(promise js.Value) (js.Value, error) {
	if promise.Type() != js.TypeObject || promise.Get("then").Type() != js.TypeFunction {
		return promise, nil
	}
	ch := make(chan settled, 1)
	onFulfilled := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- settled{v: v}
		return nil
	})
	onRejected := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- settled{err: errorFromValue(v)}
		return nil
	})
	defer onFulfilled.Release()
	defer onRejected.Release()
	if _, err := Call(promise, "then", onFulfilled, onRejected); err != nil {
		return js.Undefined(), err
	}
	r := <-ch
	return r.v, r.err
}

// AwaitCall is Call followed by Await of its result.
func AwaitCall(v js.Value, method string, args ...any) (js.Value, error) {
	p, err := Call(v, method, args...)
	if err != nil {
		return js.Undefined(), err
	}
	return Await(p)
}

// Helpers returns globalThis.ckptpackIO, the per-chunk JS helpers.
func Helpers() (js.Value, error) {
	h := js.Global().Get("ckptpackIO")
	if h.Type() != js.TypeObject {
		return js.Undefined(), ErrNoHelpers
	}
	return h, nil
}

// Yield lets the worker's event loop run once (a MessageChannel round trip,
// not a clamped setTimeout), so messages queued while Go was busy in
// synchronous reads and writes — a cancel above all — get delivered.
func Yield() error {
	h, err := Helpers()
	if err != nil {
		return err
	}
	_, err = AwaitCall(h, "yieldTask")
	return err
}

// MemoryBytes is the current size of the WebAssembly memory (it only grows).
func MemoryBytes() int64 {
	h, err := Helpers()
	if err != nil {
		return 0
	}
	v, err := Call(h, "memoryBytes")
	if err != nil || v.Type() != js.TypeNumber {
		return 0
	}
	return int64(v.Float())
}

// Addr is the address of p's first byte inside the WebAssembly memory, which
// is what the JS helpers use to build a view over Go's buffer. Go's heap does
// not move, so the address stays valid while p is referenced.
func Addr(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(p))))
}
