package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// Ctrl-C and SIGTERM. The first cancels the work's context: the command
// stops between chunks, aborts its output (the temporary file is removed)
// and returns, and the process exits 130 (SIGINT) or 143 (SIGTERM), the
// shell's codes for a process ended by them. Work blocked in a system call
// (an open or read of a stalled network mount or device) never looks at the
// context, so a second signal, or interruptGrace passing without the work
// returning, exits at once with the same status, after removing every
// temporary file this process is writing: either way nothing is left under
// an output name.

// interruptGrace is how long a cancelled command may take to wind down
// before the process exits without it. A variable for the tests.
var interruptGrace = time.Second

// interrupts is the state of the signal watcher.
type interrupts struct {
	mu  sync.Mutex
	sig os.Signal // the first signal received, nil before
}

// handleInterrupts starts watching for SIGINT and SIGTERM; the context is
// cancelled by the first.
func handleInterrupts(parent context.Context, stderr io.Writer) (context.Context, *interrupts) {
	ctx, cancel := context.WithCancel(parent)
	in := &interrupts{}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		in.mu.Lock()
		in.sig = sig
		in.mu.Unlock()
		cancel()
		select {
		case <-ch:
		case <-time.After(interruptGrace):
		}
		in.exitNow(stderr)
	}()
	return ctx, in
}

// exitCode is the process's exit status for a command that returned code:
// 128 + the signal number when it was interrupted.
func (in *interrupts) exitCode(code int) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.sig == nil || code == exitOK {
		return code
	}
	return signalStatus(in.sig)
}

// exitNow removes this process's temporary files and exits without waiting
// for the work. It is called on the watcher's goroutine; the work's
// goroutine may be stuck anywhere, so nothing here waits for it.
func (in *interrupts) exitNow(stderr io.Writer) {
	in.mu.Lock() // never unlocked: a main returning now waits in exitCode for this exit
	sig := in.sig
	streamwriter.RemoveTemps()
	if isTerminal(stderr) {
		fmt.Fprintln(stderr) // end the progress bar's line
	}
	fmt.Fprintf(stderr, "ckptpack: %s: exiting at once; unfinished output removed\n", signalName(sig))
	os.Exit(signalStatus(sig))
}

func signalStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitFailure
}

func signalName(sig os.Signal) string {
	if sig == syscall.SIGTERM {
		return "terminated (SIGTERM)"
	}
	return "interrupted (SIGINT)"
}
