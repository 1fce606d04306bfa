package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// gatherSink is a copierSink that also gathers, recording each call.
type gatherSink struct {
	copierSink
	gather func(src io.ReaderAt, off, n int64, pieces []streamwriter.Range) (int64, error)
	spans  [][2]int64
}

func (g *gatherSink) CopyGather(src io.ReaderAt, off, n int64, pieces []streamwriter.Range) (int64, error) {
	g.spans = append(g.spans, [2]int64{off, n})
	return g.gather(src, off, n, pieces)
}

// gatherVia reads the stretch once and appends the pieces from it, as the
// browser's OPFS sink does.
func gatherVia(g *gatherSink) func(io.ReaderAt, int64, int64, []streamwriter.Range) (int64, error) {
	return func(r io.ReaderAt, off, n int64, pieces []streamwriter.Range) (int64, error) {
		b := make([]byte, n)
		if _, err := r.ReadAt(b, off); err != nil {
			return 0, &streamwriter.SourceError{Err: err}
		}
		var done int64
		for _, p := range pieces {
			k, err := g.MemorySink.Write(b[p.Off-off : p.Off-off+p.N])
			done += int64(k)
			if err != nil {
				return done, err
			}
		}
		return done, nil
	}
}

// fusedQKVPlan is CLIP-G's layout in small: the input stores k, out, q, v
// back to back; the output wants q, k, v (fused), then out, then a tensor
// far away, then two more that tile another stretch out of order.
func fusedQKVPlan(src *patternReader) (*Plan, []byte) {
	steps := []Step{
		{Tensor: "in_proj_weight", Input: 0, Offset: 2000, Length: 1000}, // q
		{Tensor: "in_proj_weight", Input: 0, Offset: 0, Length: 1000},    // k
		{Tensor: "in_proj_weight", Input: 0, Offset: 3000, Length: 1000}, // v
		{Tensor: "out_proj.weight", Input: 0, Offset: 1000, Length: 1000},
		{Tensor: "far", Input: 0, Offset: 500_000, Length: 100},
		{Tensor: "second", Input: 0, Offset: 10_300, Length: 300},
		{Tensor: "first", Input: 0, Offset: 10_000, Length: 300},
	}
	want := []byte("HEADER!!")
	for _, s := range steps {
		want = append(want, pattern(s.Offset, s.Length)...)
	}
	return planOf([]Input{{Name: "clip_g.safetensors", R: src, Size: src.size}}, steps...), want
}

func TestGatherEnd(t *testing.T) {
	src := &patternReader{size: 1 << 20}
	p, _ := fusedQKVPlan(src)
	runs := p.Runs()
	var groups [][2]int
	for i := 0; i < len(runs); {
		if j := gatherEnd(runs, i); j > i {
			groups = append(groups, [2]int{i, j})
			i = j
		} else {
			i++
		}
	}
	// q,k,v,out tile [0, 4000); "far" stands alone; second+first tile [10000, 10600).
	if want := [][2]int{{0, 4}, {5, 7}}; !slices.Equal(groups, want) {
		t.Fatalf("groups %v, want %v (runs %d)", groups, want, len(runs))
	}

	t.Run("no group with a gap, an overlap, another input or a long run", func(t *testing.T) {
		for name, steps := range map[string][]Step{
			"gap":     {{Input: 0, Offset: 2000, Length: 1000}, {Input: 0, Offset: 0, Length: 1000}},
			"overlap": {{Input: 0, Offset: 500, Length: 1000}, {Input: 0, Offset: 0, Length: 1000}},
			"inputs":  {{Input: 0, Offset: 1000, Length: 1000}, {Input: 1, Offset: 0, Length: 1000}},
			"long":    {{Input: 0, Offset: gatherSpan, Length: gatherSpan}, {Input: 0, Offset: 0, Length: gatherSpan}},
		} {
			in := []Input{{Name: "a", R: src, Size: 1 << 40}, {Name: "b", R: src, Size: 1 << 40}}
			runs := planOf(in, steps...).Runs()
			if j := gatherEnd(runs, 0); j != 0 {
				t.Errorf("%s: gatherEnd = %d, want no group", name, j)
			}
		}
	})
}

func TestExecuteGatherCopier(t *testing.T) {
	src := &patternReader{size: 1 << 20}
	p, want := fusedQKVPlan(src)

	t.Run("one call per stretch, the same bytes", func(t *testing.T) {
		g := &gatherSink{}
		g.copyRange = copyVia(&g.copierSink)
		g.gather = gatherVia(g)
		if err := Execute(context.Background(), p, g, ExecuteOptions{BufferSize: 1024}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.Bytes(), want) {
			t.Fatal("gathered output differs from the per-step bytes")
		}
		if wantSpans := [][2]int64{{0, 4000}, {10_000, 600}}; !slices.Equal(g.spans, wantSpans) || g.calls != 1 {
			t.Errorf("gathers %v and %d CopyRange calls, want %v and 1 (far)", g.spans, g.calls, wantSpans)
		}
	})
	t.Run("falls back to one copy per run when unsupported", func(t *testing.T) {
		g := &gatherSink{gather: func(io.ReaderAt, int64, int64, []streamwriter.Range) (int64, error) {
			return 0, fmt.Errorf("not a browser file: %w", errors.ErrUnsupported)
		}}
		g.copyRange = copyVia(&g.copierSink)
		if err := Execute(context.Background(), p, g, ExecuteOptions{BufferSize: 1024}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.Bytes(), want) || g.calls != 7 {
			t.Fatalf("output ok %v after %d CopyRange calls, want the same bytes in 7", bytes.Equal(g.Bytes(), want), g.calls)
		}
	})
	for name, tc := range map[string]struct {
		copied int64
		err    error
		wantIs error
		msg    []string
	}{
		"source ends early": {0, &streamwriter.SourceError{Err: io.ErrUnexpectedEOF}, ErrInputChanged, []string{"clip_g.safetensors", "tensor in_proj_weight", "file changed or truncated"}},
		"source I/O error":  {0, &streamwriter.SourceError{Err: syscall.EIO}, syscall.EIO, []string{"clip_g.safetensors", "input/output error", "at offset 0"}},
		"disk full in out":  {3500, syscall.ENOSPC, syscall.ENOSPC, []string{"no space left", "tensor out_proj.weight"}},
		"silent short copy": {2000, nil, io.ErrShortWrite, []string{"tensor in_proj_weight"}},
	} {
		t.Run(name, func(t *testing.T) {
			g := &gatherSink{gather: func(io.ReaderAt, int64, int64, []streamwriter.Range) (int64, error) { return tc.copied, tc.err }}
			g.copyRange = copyVia(&g.copierSink)
			err := Execute(context.Background(), p, g, ExecuteOptions{BufferSize: 1024})
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("got %v, want %v", err, tc.wantIs)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%q does not mention %q", err, m)
				}
			}
		})
	}
}

// SDXL through a gathering sink: CLIP-G's fused q/k/v and the VAE's
// renamed keys become about a hundred gathers, and the bytes stay those of
// the per-run copy.
func TestGatherSDXL(t *testing.T) {
	req := componentRequest(t, "sdxl_base", "clip_g", "clip_l")
	p, err := PlanCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	runs := p.Runs()
	gathers, gathered := 0, 0
	for i := 0; i < len(runs); {
		if j := gatherEnd(runs, i); j > i {
			gathers++
			gathered += j - i
			i = j
		} else {
			i++
		}
	}
	if gathers == 0 || gathered-gathers < 100 {
		t.Errorf("%d gathers of %d runs (of %d): want well over 100 reads saved", gathers, gathered, len(runs))
	}
	t.Logf("sdxl_base: %d runs, %d of them in %d gathers", len(runs), gathered, gathers)
}
