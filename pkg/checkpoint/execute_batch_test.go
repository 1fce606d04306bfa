package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// batchReader counts ReadAt calls and can cut the input short.
type batchReader struct {
	r     io.ReaderAt
	reads int
	limit int64 // bytes readable (0: all)
}

func (c *batchReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	if c.limit > 0 && off+int64(len(p)) > c.limit {
		n, _ := c.r.ReadAt(p[:max(0, c.limit-off)], off)
		return n, io.ErrUnexpectedEOF
	}
	return c.r.ReadAt(p, off)
}

// alternatingPlan is a model-like F32 input: weights converted to F16
// between kept biases, back to back. want is the expected output body.
func alternatingPlan(r io.ReaderAt, src []byte, tensors int, weight, bias int) (*Plan, []byte) {
	p := &Plan{Inputs: []Input{{Name: "model.safetensors", R: r, Size: int64(len(src))}}}
	var want []byte
	var off int64
	for i := 0; i < tensors; i++ {
		n := int64(weight)
		step := Step{Tensor: fmt.Sprintf("w%d", i), Input: 0, Offset: off, Length: n, Convert: &Convert{DTypeF32, DTypeF16}}
		if i%2 == 1 {
			n = int64(bias)
			step = Step{Tensor: fmt.Sprintf("b%d", i), Input: 0, Offset: off, Length: n}
			want = append(want, src[off:off+n]...)
		} else {
			conv := append([]byte(nil), src[off:off+n]...)
			want = append(want, conv[:convertF32ToF16(conv)]...)
		}
		p.Steps = append(p.Steps, step)
		off += n
	}
	p.Size = int64(len(want))
	return p, want
}

// TestExecuteConvertBatches: back-to-back convert steps and kept tensors
// come out exactly as step by step, with one read per buffer-full instead
// of one per tensor, whatever the buffer size.
func TestExecuteConvertBatches(t *testing.T) {
	const tensors, weight, bias = 41, 400, 12
	src := f32Data((tensors/2+1)*weight/4+tensors/2*bias/4, func(i int) float32 { return float32(i)*3.1e-4 - 0.5 })
	for _, size := range []int{16, 100, 500, 1000, 4096, 1 << 20, 2 << 20} {
		cr := &batchReader{r: bytes.NewReader(src)}
		p, want := alternatingPlan(cr, src, tensors, weight, bias)
		var sink streamwriter.MemorySink
		if err := Execute(context.Background(), p, &sink, ExecuteOptions{BufferSize: size}); err != nil {
			t.Fatalf("buffer %d: %v", size, err)
		}
		if !bytes.Equal(sink.Bytes(), want) {
			t.Errorf("buffer %d: bytes differ", size)
		}
		// Execute never allocates more buffer than the output's size.
		if buf := min(size, int(p.Size)); buf >= len(src) && cr.reads != 1 {
			t.Errorf("buffer %d: %d reads, want 1 (the whole input fits)", buf, cr.reads)
		}
		if size == 4096 && cr.reads > 4 {
			t.Errorf("buffer %d: %d reads for %d tensors: not batched", size, cr.reads, tensors)
		}
	}
}

// TestExecuteConvertBatchShortRead names the tensor where a batched read
// stopped, and leaves no output.
func TestExecuteConvertBatchShortRead(t *testing.T) {
	const tensors, weight, bias = 9, 400, 12
	src := f32Data((tensors/2+1)*weight/4+tensors/2*bias/4, func(i int) float32 { return 1 })
	// w0 (400) b1 (12) w2 (400): byte 700 lies in w2.
	cr := &batchReader{r: bytes.NewReader(src), limit: 700}
	p, _ := alternatingPlan(cr, src, tensors, weight, bias)
	sink := &streamwriter.MemorySink{}
	err := Execute(context.Background(), p, sink, ExecuteOptions{BufferSize: 1 << 20})
	if !errors.Is(err, ErrInputChanged) || !strings.Contains(err.Error(), "model.safetensors: tensor w2:") {
		t.Fatalf("got %v, want ErrInputChanged naming w2", err)
	}
	if sink.Len() != 0 || sink.Bytes() != nil {
		t.Error("the partial output was not aborted")
	}
}
