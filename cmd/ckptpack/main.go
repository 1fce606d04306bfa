// Command ckptpack assembles a ComfyUI-compatible all-in-one .safetensors
// checkpoint from separate component files, the way ComfyUI's "Save
// Checkpoint" node (CheckpointSave) does, streaming with bounded memory.
//
//	ckptpack save --model FILE --clip FILE [--clip FILE]... --vae FILE [options]
//	ckptpack inspect FILE [--json]
//	ckptpack extract --component model|clip|vae FILE... [options]
//	ckptpack convert [--to fp16|bf16|fp8|fp8_e5m2] FILE... [options]
//	ckptpack prune FILE... [options]
//	ckptpack meta show|set … FILE...
//	ckptpack version
//
// Errors are one line on stderr, "ckptpack: <file>: <problem>", with exit
// status 1 (2 for a command-line mistake). Interrupted by Ctrl-C (SIGINT)
// or SIGTERM, it exits 130 or 143, leaving no output behind (interrupt.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

const usageText = `usage:
  ckptpack save --model FILE --clip FILE [--clip FILE]... --vae FILE [options]
  ckptpack inspect FILE [--json]
  ckptpack extract --component model|clip|vae FILE... [options]
  ckptpack convert [--to fp16|bf16|fp8|fp8_e5m2] FILE... [options]
  ckptpack prune FILE... [options]
  ckptpack meta show FILE... [--json] [--verify]
  ckptpack meta set [--title …] [--thumbnail IMAGE] [--hash] [--in-place] FILE...
  ckptpack version

Run "ckptpack <command> -h" (or "ckptpack meta set -h") for the options.
`

// exit statuses
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// errUsage marks a command-line mistake (exit status 2); the flag package
// has already printed the details.
var errUsage = errors.New("usage")

func main() {
	ctx, in := handleInterrupts(context.Background(), os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(in.exitCode(code))
}

// env is what a command needs from its process: output streams, whether
// stderr is a terminal (for the progress bar).
type env struct {
	stdout, stderr io.Writer
	tty            bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, tty: isTerminal(stderr)}
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "save":
		err = cmdSave(ctx, e, args[1:])
	case "inspect":
		err = cmdInspect(e, args[1:])
	case "extract":
		err = cmdExtract(ctx, e, args[1:])
	case "convert":
		err = cmdConvert(ctx, e, args[1:])
	case "prune":
		err = cmdPrune(ctx, e, args[1:])
	case "meta":
		err = cmdMeta(ctx, e, args[1:])
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "ckptpack", version())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "ckptpack: unknown command %q\n%s", args[0], usageText)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	default:
		fmt.Fprintln(stderr, "ckptpack: "+oneLine(err.Error()))
		return exitFailure
	}
}

// usageError reports a command-line mistake in the one-line error form.
func usageError(stderr io.Writer, format string, args ...any) error {
	fmt.Fprintf(stderr, "ckptpack: "+format+"\n", args...)
	return errUsage
}

// oneLine keeps an error message on one line (errors.Join and some
// wrapped messages contain newlines).
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// parseInterspersed lets flags follow positional arguments ("inspect FILE
// --json"), which the flag package alone stops at. A "--" ends the flags.
// A bad flag is errUsage (the flag package has printed why); -h is
// flag.ErrHelp.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// stringList is a repeatable string flag (--clip a --clip b).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
