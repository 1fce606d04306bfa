package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// runShape is what a test expects of one Run: its tensors and, for a copy,
// the range it reads.
type runShape struct {
	tensors        []string
	copy           bool
	input          int
	offset, length int64
}

func shapeOf(runs []Run) []runShape {
	var out []runShape
	for _, r := range runs {
		rs := runShape{copy: r.Copy, input: r.Input, offset: r.Offset, length: r.Length}
		for _, s := range r.Steps {
			rs.tensors = append(rs.tensors, s.Tensor)
		}
		out = append(out, rs)
	}
	return out
}

func TestRunsMergeOnlyPlainConsecutiveCopies(t *testing.T) {
	a := &patternReader{size: 1 << 20}
	b := &patternReader{size: 1 << 20}
	in := []Input{{Name: "a", R: a, Size: a.size}, {Name: "b", R: b, Size: b.size}}
	tr := &Transpose{Rows: 2, Cols: 5, ElemSize: 2}
	p := planOf(in,
		Step{Tensor: "a1", Input: 0, Offset: 100, Length: 10},
		Step{Tensor: "a2", Input: 0, Offset: 110, Length: 20},
		Step{Tensor: "empty", Input: 0, Offset: 130, Length: 0},
		Step{Tensor: "a3", Input: 0, Offset: 130, Length: 5}, // merges: a1…a3 are bytes 100–135
		Step{Tensor: "b1", Input: 1, Offset: 135, Length: 5}, // other input, even at the next offset
		Step{Tensor: "b2", Input: 1, Offset: 141, Length: 5}, // a one-byte gap
		Step{Tensor: "b3", Input: 1, Offset: 146, Length: 20, Transpose: tr},
		Step{Tensor: "b4", Input: 1, Offset: 166, Length: 4}, // after a transpose, though consecutive
		Step{Tensor: "c", Input: -1, Data: []byte{1, 2}},
		Step{Tensor: "b5", Input: 1, Offset: 170, Length: 4},  // after inline data, though consecutive to b4
		Step{Tensor: "b6", Input: 1, Offset: 160, Length: 14}, // backwards (a repeat): no merge
		Step{Tensor: "b7", Input: 1, Offset: 174, Length: 6},  // merges with b6
	)
	want := []runShape{
		{tensors: []string{"a1", "a2", "empty", "a3"}, copy: true, input: 0, offset: 100, length: 35},
		{tensors: []string{"b1"}, copy: true, input: 1, offset: 135, length: 5},
		{tensors: []string{"b2"}, copy: true, input: 1, offset: 141, length: 5},
		{tensors: []string{"b3"}},
		{tensors: []string{"b4"}, copy: true, input: 1, offset: 166, length: 4},
		{tensors: []string{"c"}},
		{tensors: []string{"b5"}, copy: true, input: 1, offset: 170, length: 4},
		{tensors: []string{"b6", "b7"}, copy: true, input: 1, offset: 160, length: 20},
	}
	got := shapeOf(p.Runs())
	if !slices.EqualFunc(got, want, func(x, y runShape) bool {
		return slices.Equal(x.tensors, y.tensors) && x.copy == y.copy && x.input == y.input && x.offset == y.offset && x.length == y.length
	}) {
		t.Fatalf("runs\n got %+v\nwant %+v", got, want)
	}
	// Plan.Steps is untouched: still one step per tensor.
	if len(p.Steps) != 12 {
		t.Fatalf("plan has %d steps after Runs, want 12", len(p.Steps))
	}
	// And executing the runs writes exactly what the steps say.
	var sink streamwriter.MemorySink
	if err := Execute(context.Background(), p, &sink, ExecuteOptions{BufferSize: 16}); err != nil {
		t.Fatal(err)
	}
	wantBytes := []byte("HEADER!!")
	wantBytes = append(wantBytes, pattern(100, 35)...)
	wantBytes = append(wantBytes, pattern(135, 5)...)
	wantBytes = append(wantBytes, pattern(141, 5)...)
	src := pattern(146, 20)
	for j := 0; j < 5; j++ { // 2×5 transposed
		for i := 0; i < 2; i++ {
			wantBytes = append(wantBytes, src[(i*5+j)*2:(i*5+j+1)*2]...)
		}
	}
	wantBytes = append(wantBytes, pattern(166, 4)...)
	wantBytes = append(wantBytes, 1, 2)
	wantBytes = append(wantBytes, pattern(170, 4)...)
	wantBytes = append(wantBytes, pattern(160, 20)...)
	if !bytes.Equal(sink.Bytes(), wantBytes) {
		t.Fatal("output differs from the per-step bytes")
	}
}

// The SDXL UNet's 1,680 tensors are stored back to back in the order the
// output uses, so the whole model is one copy run.
func TestRunsSDXLUNetIsOneRun(t *testing.T) {
	req := componentRequest(t, "sdxl_base", "clip_g", "clip_l")
	p, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	runs := p.Runs()
	unet := -1
	for i, in := range p.Inputs {
		if in.R == req.Model.R {
			unet = i
		}
	}
	var unetRuns, unetTensors int
	for _, r := range runs {
		if r.Copy && r.Input == unet {
			unetRuns++
			unetTensors += len(r.Steps)
		}
	}
	if unetRuns != 1 || unetTensors < 1600 {
		t.Fatalf("the UNet is %d runs of %d tensors, want 1 run of ~1,680", unetRuns, unetTensors)
	}
	if len(runs) > len(p.Steps)/5 { // 2,643 steps, 265 runs: CLIP-G's fused q/k/v and renamed VAE keep some apart
		t.Errorf("%d runs for %d steps: almost nothing merged", len(runs), len(p.Steps))
	}
	t.Logf("sdxl_base: %d steps, %d runs", len(p.Steps), len(runs))
}

// mergedPlan is one 4-tensor run of input a, with tensors of uneven sizes.
func mergedPlan(r io.ReaderAt, size int64) (*Plan, []Step) {
	steps := []Step{
		{Tensor: "t0", Input: 0, Offset: 64, Length: 3000},
		{Tensor: "t1", Input: 0, Offset: 3064, Length: 10},
		{Tensor: "t2", Input: 0, Offset: 3074, Length: 5000},
		{Tensor: "t3", Input: 0, Offset: 8074, Length: 2000},
	}
	return planOf([]Input{{Name: "unet.safetensors", R: r, Size: size}}, steps...), steps
}

// tensorHolding names the step that holds output byte done-1.
func tensorHolding(p *Plan, done int64) string {
	at := int64(len(p.Header))
	for _, s := range p.Steps {
		at += s.Length
		if done <= at && s.Length > 0 {
			return s.Tensor
		}
	}
	return "past the end"
}

func TestRunProgressNamesTheTensorBeingWritten(t *testing.T) {
	setRangeCopyPiece(t, 1024)
	src := &patternReader{size: 1 << 20}
	for _, fast := range []bool{false, true} {
		p, _ := mergedPlan(src, src.size)
		var reports []Progress
		opt := ExecuteOptions{BufferSize: 1024, Progress: func(pr Progress) { reports = append(reports, pr) }}
		var sink streamwriter.Sink = &streamwriter.MemorySink{}
		var c *copierSink
		if fast {
			c = &copierSink{}
			c.copyRange = func(r io.ReaderAt, off, n int64) (int64, error) {
				b := make([]byte, n)
				if _, err := r.ReadAt(b, off); err != nil {
					return 0, &streamwriter.SourceError{Err: err}
				}
				k, err := c.MemorySink.Write(b)
				return int64(k), err
			}
			sink = c
		}
		if err := Execute(context.Background(), p, sink, opt); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, pr := range reports[1:] { // reports[0] is the header
			if want := tensorHolding(p, pr.Done); pr.Tensor != want {
				t.Errorf("fast=%v: progress at %d names %q, want %q", fast, pr.Done, pr.Tensor, want)
			}
			seen[pr.Tensor] = true
		}
		// t1 (10 bytes) may fall inside a chunk; the others span chunks.
		for _, name := range []string{"t0", "t2", "t3"} {
			if !seen[name] {
				t.Errorf("fast=%v: no progress report named %s: %+v", fast, name, reports)
			}
		}
		if fast && c.calls != (10074-64+1023)/1024 {
			t.Errorf("%d CopyRange calls for one 10,010-byte run in 1 KiB pieces, want %d", c.calls, (10074-64+1023)/1024)
		}
	}
}

// A run is one CopyRange call when it fits one piece, however many tensors
// it spans.
func TestRunIsOneCopyRangeCall(t *testing.T) {
	src := &patternReader{size: 1 << 20}
	p, _ := mergedPlan(src, src.size)
	c := &copierSink{}
	c.copyRange = copyVia(c)
	if err := Execute(context.Background(), p, c, ExecuteOptions{BufferSize: 1024}); err != nil {
		t.Fatal(err)
	}
	if c.calls != 1 {
		t.Errorf("%d CopyRange calls for a 4-tensor run, want 1", c.calls)
	}
	if want := append([]byte("HEADER!!"), pattern(64, 10010)...); !bytes.Equal(c.Bytes(), want) {
		t.Error("output differs")
	}
}

// A failure in the middle of a merged run aborts the output and names the
// tensor it hit, on the buffered and the range-copy path.
func TestRunFaultNamesTheTensorAndAborts(t *testing.T) {
	setRangeCopyPiece(t, 1024)
	data := pattern(0, 20000)
	// Byte 4000 of the input lies in t2 (3074–8074).
	for name, tc := range map[string]struct {
		sink func() streamwriter.Sink
		r    io.ReaderAt
		is   error
		msg  []string
	}{
		"input truncated": {
			sink: func() streamwriter.Sink { return &streamwriter.MemorySink{} },
			r:    &faultyReader{data: data, failAt: 4000},
			is:   ErrInputChanged, msg: []string{"unet.safetensors", "tensor t2"},
		},
		"input truncated, range copy": {
			sink: func() streamwriter.Sink {
				c := &copierSink{}
				c.copyRange = func(r io.ReaderAt, off, n int64) (int64, error) {
					b := make([]byte, n)
					k, err := r.ReadAt(b, off)
					w, _ := c.MemorySink.Write(b[:k])
					if err != nil {
						return int64(w), &streamwriter.SourceError{Err: io.ErrUnexpectedEOF}
					}
					return int64(w), nil
				}
				return c
			},
			r:  &faultyReader{data: data, failAt: 4000},
			is: ErrInputChanged, msg: []string{"unet.safetensors", "tensor t2"},
		},
		"disk full": {
			sink: func() streamwriter.Sink {
				return &failingSink{next: &streamwriter.MemorySink{}, limit: 8 + 4000 - 64}
			},
			r:  bytes.NewReader(data),
			is: syscall.ENOSPC, msg: []string{"tensor t2"},
		},
		"cancelled": {
			sink: func() streamwriter.Sink { return &streamwriter.MemorySink{} },
			r:    bytes.NewReader(data),
			is:   context.Canceled,
		},
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := mergedPlan(tc.r, int64(len(data)))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opt := ExecuteOptions{BufferSize: 1024}
			if tc.is == context.Canceled {
				opt.Progress = func(pr Progress) {
					if pr.Tensor == "t2" {
						cancel()
					}
				}
			}
			sink := tc.sink()
			err := Execute(ctx, p, sink, opt)
			if !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%q does not mention %q", err, m)
				}
			}
			if n := outputLen(sink); n != 0 {
				t.Errorf("%d bytes left after the failure, want an aborted output", n)
			}
		})
	}
}

func outputLen(s streamwriter.Sink) int {
	switch s := s.(type) {
	case *streamwriter.MemorySink:
		return s.Len()
	case *copierSink:
		return s.Len()
	case *failingSink:
		return outputLen(s.next)
	}
	return -1
}
