package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// patternReader is a virtual input of any size (beyond 4 GiB) whose byte at
// offset o is patternByte(o), so tests can check data without storing it.
// It records the largest read, to assert the executor's buffer bound.
type patternReader struct {
	size    int64
	maxRead int
	reads   int
}

func patternByte(o int64) byte {
	x := uint64(o) * 0x9E3779B97F4A7C15
	return byte(x>>56) ^ byte(o)
}

func (r *patternReader) ReadAt(p []byte, off int64) (int, error) {
	r.reads++
	r.maxRead = max(r.maxRead, len(p))
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.size-off))
	for i := range n {
		p[i] = patternByte(off + int64(i))
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func pattern(off, n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = patternByte(off + int64(i))
	}
	return b
}

// boundedSink discards what it gets (after checking it with check) and
// records the largest single write.
type boundedSink struct {
	written  int64
	maxWrite int
	finished bool
	aborted  bool
}

func (s *boundedSink) Write(p []byte) (int, error) {
	s.written += int64(len(p))
	s.maxWrite = max(s.maxWrite, len(p))
	return len(p), nil
}
func (s *boundedSink) Finish() error { s.finished = true; return nil }
func (s *boundedSink) Abort() error  { s.aborted = true; return nil }

// planOf builds a plan whose header is a fixed marker and whose size is the
// sum of the steps.
func planOf(inputs []Input, steps ...Step) *Plan {
	p := &Plan{Header: []byte("HEADER!!"), Inputs: inputs, Steps: steps}
	p.Size = int64(len(p.Header))
	for _, s := range steps {
		if s.Input == -1 {
			p.Size += int64(len(s.Data))
		} else {
			p.Size += s.Length
		}
	}
	return p
}

func transposed(src []byte, rows, cols, es int64) []byte {
	out := make([]byte, len(src))
	for i := range rows {
		for j := range cols {
			copy(out[(j*rows+i)*es:(j*rows+i+1)*es], src[(i*cols+j)*es:(i*cols+j+1)*es])
		}
	}
	return out
}

func TestExecuteCopyTransposeInline(t *testing.T) {
	a := &patternReader{size: 1 << 20}
	b := bytes.NewReader([]byte("0123456789abcdef"))
	inputs := []Input{{Name: "a.safetensors", R: a, Size: a.size}, {Name: "b.safetensors", R: b, Size: 16}}
	p := planOf(inputs,
		Step{Tensor: "x", Input: 0, Offset: 100, Length: 5000},
		Step{Tensor: "q", Input: 1, Offset: 0, Length: 4},
		Step{Tensor: "q", Input: 1, Offset: 8, Length: 4}, // two steps, one tensor (concat)
		Step{Tensor: "proj", Input: 1, Offset: 0, Length: 12, Transpose: &Transpose{Rows: 2, Cols: 3, ElemSize: 2}},
		Step{Tensor: "const", Input: -1, Data: []byte{1, 2, 3}},
		Step{Tensor: "empty", Input: 0, Offset: 7, Length: 0},
	)
	var sink streamwriter.MemorySink
	var reports []Progress
	err := Execute(context.Background(), p, &sink, ExecuteOptions{BufferSize: 1024, Progress: func(pr Progress) { reports = append(reports, pr) }})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("HEADER!!")
	want = append(want, pattern(100, 5000)...)
	want = append(want, "0123"+"89ab"...)
	// 2×3 of 2-byte elements: rows "01 23 45", "67 89 ab" → columns.
	want = append(want, "0167238945ab"...)
	want = append(want, 1, 2, 3)
	if got := sink.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("output differs:\n got %q\nwant %q", got, want)
	}
	if len(reports) == 0 || reports[len(reports)-1].Done != p.Size || reports[len(reports)-1].Total != p.Size {
		t.Fatalf("last progress report %+v, want done = total = %d", reports[len(reports)-1], p.Size)
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].Done < reports[i-1].Done {
			t.Fatalf("progress went backwards: %+v then %+v", reports[i-1], reports[i])
		}
	}
	if a.maxRead > 1024 {
		t.Errorf("largest read %d bytes exceeds the 1024-byte buffer", a.maxRead)
	}
}

// Offsets beyond 4 GiB (flux_dev inputs are 23 GB) must not be truncated
// anywhere on the way to ReadAt.
func TestExecuteOffsetsBeyond4GiB(t *testing.T) {
	big := &patternReader{size: 6 << 30}
	in := []Input{{Name: "flux1-dev.safetensors", R: big, Size: big.size}}
	offs := []int64{1<<32 - 3, 1<<32 + 12345, 6<<30 - 4096}
	var steps []Step
	var want []byte
	want = append(want, "HEADER!!"...)
	for i, off := range offs {
		steps = append(steps, Step{Tensor: fmt.Sprint("t", i), Input: 0, Offset: off, Length: 4096})
		want = append(want, pattern(off, 4096)...)
	}
	steps = append(steps, Step{Tensor: "tp", Input: 0, Offset: 5 << 30, Length: 64 * 48 * 4, Transpose: &Transpose{Rows: 64, Cols: 48, ElemSize: 4}})
	want = append(want, transposed(pattern(5<<30, 64*48*4), 64, 48, 4)...)
	var sink streamwriter.MemorySink
	if err := Execute(context.Background(), planOf(in, steps...), &sink, ExecuteOptions{BufferSize: 1000}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.Bytes(), want) {
		t.Fatal("output differs from the source ranges")
	}
}

// A transpose must work whatever the buffer size: whole matrix in one read,
// bands of output rows, or one output row in pieces.
func TestExecuteTransposeAnyBuffer(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, es := range []int64{1, 2, 4, 8} {
		for _, shape := range [][2]int64{{1, 1}, {1, 7}, {7, 1}, {13, 29}, {64, 64}} {
			rows, cols := shape[0], shape[1]
			src := make([]byte, rows*cols*es)
			for i := range src {
				src[i] = byte(rng.Uint32())
			}
			data := append([]byte("pad"), src...)
			want := append([]byte("HEADER!!"), transposed(src, rows, cols, es)...)
			for _, bufSize := range []int{16, 17, 2*int(es)*int(rows) + 5, int(2*rows*cols*es) - 1, int(2 * rows * cols * es), 1 << 16} {
				if bufSize < minBufferSize {
					continue
				}
				r := &countingReaderAt{r: bytes.NewReader(data)}
				p := planOf([]Input{{Name: "te.safetensors", R: r, Size: int64(len(data))}},
					Step{Tensor: "text_projection", Input: 0, Offset: 3, Length: int64(len(src)), Transpose: &Transpose{Rows: rows, Cols: cols, ElemSize: es}})
				var sink streamwriter.MemorySink
				if err := Execute(context.Background(), p, &sink, ExecuteOptions{Buffer: make([]byte, bufSize)}); err != nil {
					t.Fatalf("es=%d %dx%d buf=%d: %v", es, rows, cols, bufSize, err)
				}
				if !bytes.Equal(sink.Bytes(), want) {
					t.Fatalf("es=%d %dx%d buf=%d: wrong transpose", es, rows, cols, bufSize)
				}
				if r.maxRead > bufSize/2 {
					t.Fatalf("es=%d %dx%d buf=%d: read %d bytes at once, more than half the buffer", es, rows, cols, bufSize, r.maxRead)
				}
			}
		}
	}
}

type countingReaderAt struct {
	r       io.ReaderAt
	maxRead int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.maxRead = max(c.maxRead, len(p))
	return c.r.ReadAt(p, off)
}

// Memory is the buffer, not a function of the tensor or file size: 256 MiB
// of copies and a 64 MiB transpose through a 1 MiB buffer allocate about
// the buffer and no more.
func TestExecuteMemoryBound(t *testing.T) {
	const bufSize = 1 << 20
	src := &patternReader{size: 512 << 20}
	in := []Input{{Name: "unet.safetensors", R: src, Size: src.size}}
	p := planOf(in,
		Step{Tensor: "big", Input: 0, Offset: 0, Length: 256 << 20},
		Step{Tensor: "tp", Input: 0, Offset: 300 << 20, Length: 64 << 20, Transpose: &Transpose{Rows: 4096, Cols: 8192, ElemSize: 2}},
	)
	sink := &boundedSink{}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := Execute(context.Background(), p, sink, ExecuteOptions{BufferSize: bufSize}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if sink.written != p.Size || !sink.finished {
		t.Fatalf("sink got %d bytes (finished %v), want %d", sink.written, sink.finished, p.Size)
	}
	if sink.maxWrite > bufSize || src.maxRead > bufSize {
		t.Errorf("largest write %d, largest read %d: exceed the %d-byte buffer", sink.maxWrite, src.maxRead, bufSize)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*bufSize {
		t.Errorf("Execute allocated %d bytes for a %d-byte buffer and %d bytes of output", alloc, bufSize, p.Size)
	}
}

func TestExecuteCallerBufferReused(t *testing.T) {
	src := &patternReader{size: 1 << 16}
	p := planOf([]Input{{Name: "a", R: src, Size: src.size}}, Step{Tensor: "x", Input: 0, Length: 1 << 16})
	buf := make([]byte, 4096)
	for range 2 {
		var sink streamwriter.MemorySink
		if err := Execute(context.Background(), p, &sink, ExecuteOptions{Buffer: buf}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sink.Bytes()[8:], pattern(0, 1<<16)) {
			t.Fatal("wrong output")
		}
	}
	if allocs := testing.AllocsPerRun(5, func() {
		Execute(context.Background(), p, &boundedSink{}, ExecuteOptions{Buffer: buf})
	}); allocs > 10 {
		t.Errorf("Execute with a caller buffer made %v allocations per run", allocs)
	}
}

func TestExecuteRejectsBadPlans(t *testing.T) {
	r := bytes.NewReader(make([]byte, 100))
	in := []Input{{Name: "a.safetensors", R: r, Size: 100}}
	cases := map[string]*Plan{
		"size mismatch":       {Header: []byte("12345678"), Inputs: in, Steps: []Step{{Tensor: "x", Input: 0, Length: 10}}, Size: 17},
		"outside input":       planOf(in, Step{Tensor: "x", Input: 0, Offset: 95, Length: 10}),
		"offset overflow":     planOf(in, Step{Tensor: "x", Input: 0, Offset: 1<<63 - 2, Length: 10}),
		"no such input":       planOf(in, Step{Tensor: "x", Input: 3, Length: 1}),
		"negative input":      planOf(in, Step{Tensor: "x", Input: -2, Length: 1}),
		"transpose mismatch":  planOf(in, Step{Tensor: "x", Input: 0, Length: 12, Transpose: &Transpose{Rows: 2, Cols: 2, ElemSize: 2}}),
		"transpose overflow":  planOf(in, Step{Tensor: "x", Input: 0, Length: 8, Transpose: &Transpose{Rows: 1 << 40, Cols: 1 << 40, ElemSize: 8}}),
		"inline transpose":    planOf(in, Step{Tensor: "x", Input: -1, Data: []byte{1}, Transpose: &Transpose{Rows: 1, Cols: 1, ElemSize: 1}}),
		"nil reader":          planOf([]Input{{Name: "n", Size: 10}}, Step{Tensor: "x", Input: 0, Length: 1}),
		"negative length":     {Header: nil, Inputs: in, Steps: []Step{{Tensor: "x", Input: 0, Offset: 5, Length: -1}}, Size: -1},
		"inline length wrong": planOf(in, Step{Tensor: "x", Input: -1, Data: []byte{1, 2}, Length: 3}),
	}
	for name, p := range cases {
		sink := &boundedSink{}
		err := Execute(context.Background(), p, sink, ExecuteOptions{})
		if !errors.Is(err, ErrBadPlan) {
			t.Errorf("%s: got %v, want ErrBadPlan", name, err)
		}
		if sink.written != 0 || !sink.aborted || sink.finished {
			t.Errorf("%s: wrote %d bytes, aborted %v, finished %v; want nothing written and Abort", name, sink.written, sink.aborted, sink.finished)
		}
	}
	if err := Execute(context.Background(), nil, &boundedSink{}, ExecuteOptions{}); !errors.Is(err, ErrBadPlan) {
		t.Errorf("nil plan: %v", err)
	}
	if err := Execute(context.Background(), planOf(in), &boundedSink{}, ExecuteOptions{Buffer: make([]byte, 8)}); err == nil {
		t.Error("an 8-byte buffer was accepted")
	}
}

// faultyReader serves data until failAt, then misbehaves the way a file
// that was truncated or whose disk failed does.
type faultyReader struct {
	data   []byte
	failAt int64
	err    error // nil: a short read with io.EOF; else this error
}

func (f *faultyReader) ReadAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	if end <= f.failAt {
		return copy(p, f.data[off:end]), nil
	}
	n := 0
	if off < f.failAt {
		n = copy(p, f.data[off:f.failAt])
	}
	if f.err != nil {
		return n, f.err
	}
	return n, io.EOF
}

// failingSink accepts limit bytes then fails the way a full disk does
// (optionally with a short write and no error, which the executor must
// still catch), passing the writes it accepts through to next.
type failingSink struct {
	next      streamwriter.Sink
	limit     int64
	n         int64
	silent    bool
	finishErr error
}

func (f *failingSink) Write(p []byte) (int, error) {
	if f.n+int64(len(p)) <= f.limit {
		f.n += int64(len(p))
		return f.next.Write(p)
	}
	k := int(f.limit - f.n)
	f.n += int64(k)
	f.next.Write(p[:k])
	if f.silent {
		return k, nil
	}
	return k, &os.PathError{Op: "write", Path: "out.safetensors", Err: syscall.ENOSPC}
}
func (f *failingSink) Finish() error {
	if f.finishErr != nil {
		return f.finishErr
	}
	return f.next.Finish()
}
func (f *failingSink) Abort() error { return f.next.Abort() }

// assertNoOutput checks that dir holds nothing but the files in keep: no
// target, no temporary .part file.
func assertNoOutput(t *testing.T, dir string, keep ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
outer:
	for _, e := range entries {
		for _, k := range keep {
			if e.Name() == k {
				continue outer
			}
		}
		t.Errorf("left behind in the output folder: %s", e.Name())
	}
}

func TestExecuteFaultsLeaveNoOutput(t *testing.T) {
	setRangeCopyPiece(t, 16<<10) // the kernel-copy path also stops mid-input
	data := pattern(0, 256<<10)
	const name = "sd15/unet.safetensors"
	type fault struct {
		reader    io.ReaderAt
		sink      func(streamwriter.Sink) streamwriter.Sink
		cancelAt  int64
		wantIs    error
		wantInMsg []string
	}
	faults := map[string]fault{
		"input truncated": {
			reader: &faultyReader{data: data, failAt: 100 << 10}, wantIs: ErrInputChanged,
			wantInMsg: []string{name, "tensor model.diffusion_model.x", "file changed or truncated"},
		},
		"input read error": {
			reader: &faultyReader{data: data, failAt: 50 << 10, err: syscall.EIO}, wantIs: syscall.EIO,
			wantInMsg: []string{name, "tensor model.diffusion_model.x", "input/output error"},
		},
		"disk full": {
			reader: bytes.NewReader(data),
			sink:   func(s streamwriter.Sink) streamwriter.Sink { return &failingSink{next: s, limit: 70 << 10} },
			wantIs: syscall.ENOSPC, wantInMsg: []string{"out.safetensors", "no space left on device", "model.diffusion_model.x"},
		},
		"silent short write": {
			reader: bytes.NewReader(data),
			sink: func(s streamwriter.Sink) streamwriter.Sink {
				return &failingSink{next: s, limit: 70 << 10, silent: true}
			},
			wantIs: io.ErrShortWrite,
		},
		"finish fails": {
			reader: bytes.NewReader(data),
			sink: func(s streamwriter.Sink) streamwriter.Sink {
				return &failingSink{next: s, limit: 1 << 40, finishErr: errors.New("fsync: input/output error")}
			},
			wantInMsg: []string{"fsync"},
		},
		"cancelled": {
			reader: bytes.NewReader(data), cancelAt: 40 << 10, wantIs: context.Canceled,
		},
	}
	for title, f := range faults {
		for _, fast := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fastcopy=%v", title, fast), func(t *testing.T) {
				dir := t.TempDir()
				reader := f.reader
				fr, isFaulty := reader.(*faultyReader)
				// The kernel-copy path needs *os.File inputs; a truncated file
				// on disk plays the faulty reader (an I/O error cannot be
				// injected into a real file, so that case stays in memory).
				if fast && !(isFaulty && fr.err != nil) {
					ok := isFaulty
					path := filepath.Join(dir, "input.bin")
					content := data
					if ok {
						content = data[:fr.failAt]
					}
					if err := os.WriteFile(path, content, 0o600); err != nil {
						t.Fatal(err)
					}
					in, err := os.Open(path)
					if err != nil {
						t.Fatal(err)
					}
					defer in.Close()
					reader = in
				}
				target := filepath.Join(dir, "out.safetensors")
				fs, err := streamwriter.CreateFile(target)
				if err != nil {
					t.Fatal(err)
				}
				var sink streamwriter.Sink = fs
				if f.sink != nil {
					sink = f.sink(fs)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				opt := ExecuteOptions{BufferSize: 16 << 10}
				if f.cancelAt > 0 {
					opt.Progress = func(p Progress) {
						if p.Done >= f.cancelAt {
							cancel()
						}
					}
				}
				p := planOf([]Input{{Name: name, R: reader, Size: int64(len(data))}},
					Step{Tensor: "model.diffusion_model.x", Input: 0, Offset: 0, Length: int64(len(data))})
				err = Execute(ctx, p, sink, opt)
				if err == nil {
					t.Fatal("Execute succeeded")
				}
				if f.wantIs != nil && !errors.Is(err, f.wantIs) {
					t.Errorf("error %q is not %v", err, f.wantIs)
				}
				for _, s := range f.wantInMsg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				assertNoOutput(t, dir, "input.bin")
			})
		}
	}
}

func TestExecuteCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sink := &boundedSink{}
	src := &patternReader{size: 100}
	err := Execute(ctx, planOf([]Input{{Name: "a", R: src, Size: 100}}, Step{Tensor: "x", Input: 0, Length: 100}), sink, ExecuteOptions{})
	if !errors.Is(err, context.Canceled) || sink.written != 0 || !sink.aborted {
		t.Fatalf("err %v, wrote %d, aborted %v", err, sink.written, sink.aborted)
	}
}

// The target appearing while the checkpoint is written (a second save with
// the same counter) must not be overwritten.
func TestExecuteNeverReplacesTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "ComfyUI_00001_.safetensors")
	sink, err := streamwriter.CreateFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := &patternReader{size: 1000}
	err = Execute(context.Background(), planOf([]Input{{Name: "a", R: src, Size: 1000}}, Step{Tensor: "x", Input: 0, Length: 1000}), sink, ExecuteOptions{})
	if !errors.Is(err, streamwriter.ErrExists) {
		t.Fatalf("got %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "someone else's" {
		t.Fatalf("existing file was changed to %q", b)
	}
	assertNoOutput(t, dir, filepath.Base(target))
}

// The kernel-copy path of FileSink and the buffered path must write the
// same bytes, for plans mixing both kinds of steps.
func TestExecuteFileToFile(t *testing.T) {
	dir := t.TempDir()
	data := pattern(0, 3<<20+17)
	path := filepath.Join(dir, "in.safetensors")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := []Input{{Name: path, R: f, Size: int64(len(data))}, {Name: "mem", R: bytes.NewReader(data), Size: int64(len(data))}}
	p := planOf(in,
		Step{Tensor: "a", Input: 0, Offset: 5, Length: 2 << 20},
		Step{Tensor: "b", Input: 1, Offset: 7, Length: 1 << 20},
		Step{Tensor: "c", Input: 0, Offset: 0, Length: 64 * 64 * 2, Transpose: &Transpose{Rows: 64, Cols: 64, ElemSize: 2}},
		Step{Tensor: "d", Input: -1, Data: []byte("tail")},
		Step{Tensor: "e", Input: 0, Offset: 3 << 20, Length: 17},
	)
	var want streamwriter.MemorySink
	if err := Execute(context.Background(), p, &want, ExecuteOptions{BufferSize: 1 << 18}); err != nil {
		t.Fatal(err)
	}
	for _, fast := range []bool{true, false} {
		target := filepath.Join(dir, fmt.Sprintf("out-%v.safetensors", fast))
		sink, err := streamwriter.CreateFile(target)
		if err != nil {
			t.Fatal(err)
		}
		sink.NoFastCopy = !fast
		if err := Execute(context.Background(), p, sink, ExecuteOptions{BufferSize: 1 << 18}); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(target)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("fast copy %v: file differs from the in-memory output", fast)
		}
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Error("the input was modified")
	}
}

// setRangeCopyPiece makes the executor hand RangeCopiers pieces of n bytes
// for the rest of the test.
func setRangeCopyPiece(t *testing.T, n int) {
	old := rangeCopyPiece
	rangeCopyPiece = n
	t.Cleanup(func() { rangeCopyPiece = old })
}

// copierSink is a MemorySink with a scripted RangeCopier fast path.
type copierSink struct {
	streamwriter.MemorySink
	copyRange func(src io.ReaderAt, off, n int64) (int64, error)
	calls     int
}

func (c *copierSink) CopyRange(src io.ReaderAt, off, n int64) (int64, error) {
	c.calls++
	return c.copyRange(src, off, n)
}

// copyVia is a copyRange that reads the range and appends it to c.
func copyVia(c *copierSink) func(io.ReaderAt, int64, int64) (int64, error) {
	return func(r io.ReaderAt, off, n int64) (int64, error) {
		b := make([]byte, n)
		r.ReadAt(b, off)
		k, err := c.MemorySink.Write(b)
		return int64(k), err
	}
}

func TestExecuteRangeCopier(t *testing.T) {
	setRangeCopyPiece(t, 1024)
	src := &patternReader{size: 1 << 20}
	in := []Input{{Name: "clip_l.safetensors", R: src, Size: src.size}}
	p := planOf(in, Step{Tensor: "a", Input: 0, Offset: 10, Length: 5000}, Step{Tensor: "b", Input: 0, Offset: 9000, Length: 300})
	want := append(append([]byte("HEADER!!"), pattern(10, 5000)...), pattern(9000, 300)...)
	t.Run("copies through the fast path in bounded pieces", func(t *testing.T) {
		c := &copierSink{}
		c.copyRange = copyVia(c)
		if err := Execute(context.Background(), p, c, ExecuteOptions{BufferSize: 1024}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Bytes(), want) || c.calls != 5+1 {
			t.Fatalf("output ok %v, %d CopyRange calls (want 6)", bytes.Equal(c.Bytes(), want), c.calls)
		}
	})
	t.Run("falls back to the buffer when unsupported", func(t *testing.T) {
		c := &copierSink{copyRange: func(io.ReaderAt, int64, int64) (int64, error) {
			return 0, fmt.Errorf("not a file: %w", errors.ErrUnsupported)
		}}
		if err := Execute(context.Background(), p, c, ExecuteOptions{BufferSize: 1024}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Bytes(), want) {
			t.Fatal("wrong output after fallback")
		}
	})
	for name, tc := range map[string]struct {
		err    error
		wantIs error
		msg    []string
	}{
		"source ends early": {&streamwriter.SourceError{Err: io.ErrUnexpectedEOF}, ErrInputChanged, []string{"clip_l.safetensors", "tensor a", "file changed or truncated"}},
		"source I/O error":  {&streamwriter.SourceError{Err: syscall.EIO}, syscall.EIO, []string{"clip_l.safetensors", "tensor a", "input/output error"}},
		"disk full":         {&os.PathError{Op: "write", Path: "out.safetensors", Err: syscall.ENOSPC}, syscall.ENOSPC, []string{"out.safetensors", "no space left", "tensor a"}},
		"silent short copy": {nil, io.ErrShortWrite, []string{"tensor a"}},
	} {
		t.Run(name, func(t *testing.T) {
			c := &copierSink{copyRange: func(_ io.ReaderAt, _, n int64) (int64, error) { return n / 2, tc.err }}
			err := Execute(context.Background(), p, c, ExecuteOptions{BufferSize: 1024})
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("got %v, want %v", err, tc.wantIs)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%q does not mention %q", err, m)
				}
			}
			if c.Bytes() != nil || c.Len() != 0 {
				t.Error("output not aborted")
			}
		})
	}
}

// SDXL's CLIP-G text_projection (1280×1280 F16) with the CLI's 1 MiB
// buffer: a band of 204 output rows is read as blocks of whole source rows,
// not as 1,280 reads of 408 bytes.
func TestExecuteTransposeReadsWholeRows(t *testing.T) {
	const rows, cols, es = 1280, 1280, 2
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]byte, rows*cols*es)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	r := &readCounter{r: bytes.NewReader(src)}
	p := planOf([]Input{{Name: "clip_g.safetensors", R: r, Size: int64(len(src))}},
		Step{Tensor: "text_projection", Input: 0, Offset: 0, Length: int64(len(src)), Transpose: &Transpose{Rows: rows, Cols: cols, ElemSize: es}})
	var sink streamwriter.MemorySink
	if err := Execute(context.Background(), p, &sink, ExecuteOptions{BufferSize: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("HEADER!!"), transposed(src, rows, cols, es)...); !bytes.Equal(sink.Bytes(), want) {
		t.Fatal("wrong transpose")
	}
	if r.reads > 100 || r.maxRead > 1<<19 {
		t.Errorf("%d reads (largest %d bytes); want ~49 block reads within half the buffer", r.reads, r.maxRead)
	}
}

type readCounter struct {
	r       io.ReaderAt
	reads   int
	maxRead int
}

func (c *readCounter) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	c.maxRead = max(c.maxRead, len(p))
	return c.r.ReadAt(p, off)
}
