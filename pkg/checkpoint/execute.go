package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// DefaultBufferSize is the one reusable copy buffer's size.
const DefaultBufferSize = 16 << 20

// minBufferSize is the smallest buffer Execute accepts: a strided transpose
// needs room for one source element and one output element of the widest
// dtype (8 bytes).
const minBufferSize = 16

// Progress is reported while a plan executes.
type Progress struct {
	Done   int64  // bytes written, header included
	Total  int64  // Plan.Size
	Tensor string // output tensor being written
}

// ExecuteOptions tune Execute. Zero values mean defaults.
type ExecuteOptions struct {
	BufferSize int            // <= 0: DefaultBufferSize
	Buffer     []byte         // optional caller-owned buffer, reused across runs (overrides BufferSize)
	Progress   func(Progress) // called after each chunk; must be cheap
	// OnDataHash receives modelspec.hash_sha256 ("0x…") of a plan with a
	// HashSlot once it is patched into the header.
	OnDataHash func(string)
}

// Execute streams p into sink: the header, then every step, through one
// bounded buffer. On success it calls sink.Finish; on any error or when ctx
// is cancelled it calls sink.Abort so no partial output remains.
//
// Memory use is the buffer and nothing else: a copy is cut into buffer-sized
// reads, and a transpose larger than half the buffer is done in bands of
// output rows with strided reads. Inputs are only ever read.
//
// If sink implements streamwriter.RangeCopier, copy steps are handed to it
// (a file-to-file copy can then stay in the kernel); everything else still
// goes through Write.
func Execute(ctx context.Context, p *Plan, sink streamwriter.Sink, opt ExecuteOptions) (err error) {
	defer func() {
		if err != nil {
			if aerr := sink.Abort(); aerr != nil {
				err = errors.Join(err, fmt.Errorf("removing partial output: %w", aerr))
			}
		}
	}()
	// Steps on virtual inputs (.ckpt, sharded files) read the real files.
	if p, err = Lower(p); err != nil {
		return err
	}
	if err := validatePlan(p); err != nil {
		return err
	}
	hashed, err := withDataHash(p, sink, opt.OnDataHash)
	if err != nil {
		return err
	}
	sink = hashed
	buf := opt.Buffer
	if len(buf) == 0 {
		size := opt.BufferSize
		if size <= 0 {
			size = DefaultBufferSize
		}
		// A small plan does not need a large buffer; never allocate more
		// than the output itself (but enough for a strided transpose).
		size = int(min(int64(size), max(p.Size, minBufferSize)))
		buf = make([]byte, size)
	}
	if len(buf) < minBufferSize {
		return fmt.Errorf("checkpoint: copy buffer of %d bytes is too small (need at least %d)", len(buf), minBufferSize)
	}
	x := &executor{ctx: ctx, plan: p, sink: sink, buf: buf, progress: opt.Progress}
	x.copier, _ = sink.(streamwriter.RangeCopier)
	x.gatherer, _ = sink.(streamwriter.GatherCopier)
	if err := x.run(); err != nil {
		return err
	}
	if x.done != p.Size {
		// validatePlan makes this unreachable; kept so a future step kind
		// that miscounts cannot produce a silently wrong file.
		return fmt.Errorf("%w: wrote %d bytes, plan size is %d", ErrBadPlan, x.done, p.Size)
	}
	if err := sink.Finish(); err != nil {
		return err
	}
	return nil
}

// validatePlan checks, before a byte is written, that the steps tile exactly
// Plan.Size bytes and that every range lies inside its input, with
// overflow-checked arithmetic (plans describe files beyond 4 GiB).
func validatePlan(p *Plan) error {
	if p == nil {
		return fmt.Errorf("%w: no plan", ErrBadPlan)
	}
	total := int64(len(p.Header))
	for i := range p.Steps {
		s := &p.Steps[i]
		var n int64
		switch {
		case s.Input == -1:
			if s.Transpose != nil || s.Convert != nil {
				return fmt.Errorf("%w: step %d (%s): inline data cannot be transposed or converted", ErrBadPlan, i, s.Tensor)
			}
			n = int64(len(s.Data))
			if s.Length != 0 && s.Length != n {
				return fmt.Errorf("%w: step %d (%s): length %d but %d inline bytes", ErrBadPlan, i, s.Tensor, s.Length, n)
			}
		case s.Input >= 0 && s.Input < len(p.Inputs):
			if s.Offset < 0 || s.Length < 0 {
				return fmt.Errorf("%w: step %d (%s): negative range %d+%d", ErrBadPlan, i, s.Tensor, s.Offset, s.Length)
			}
			in := p.Inputs[s.Input]
			end, ok := addInt64(s.Offset, s.Length)
			if !ok || end > in.Size {
				return fmt.Errorf("%w: step %d (%s): bytes %d+%d lie outside %s (%d bytes)", ErrBadPlan, i, s.Tensor, s.Offset, s.Length, in.Name, in.Size)
			}
			if in.R == nil {
				return fmt.Errorf("%w: step %d (%s): input %s has no reader", ErrBadPlan, i, s.Tensor, in.Name)
			}
			if t := s.Transpose; t != nil {
				if t.Rows < 0 || t.Cols < 0 || t.ElemSize <= 0 || t.ElemSize > 8 {
					return fmt.Errorf("%w: step %d (%s): bad transpose %d×%d of %d-byte elements", ErrBadPlan, i, s.Tensor, t.Rows, t.Cols, t.ElemSize)
				}
				size, ok := mulInt64(t.Rows, t.Cols)
				if ok {
					size, ok = mulInt64(size, t.ElemSize)
				}
				if !ok || size != s.Length {
					return fmt.Errorf("%w: step %d (%s): transpose %d×%d×%d does not match length %d", ErrBadPlan, i, s.Tensor, t.Rows, t.Cols, t.ElemSize, s.Length)
				}
			}
			n = s.Length
			if c := s.Convert; c != nil {
				if s.Transpose != nil {
					return fmt.Errorf("%w: step %d (%s): a step cannot both transpose and convert", ErrBadPlan, i, s.Tensor)
				}
				out, err := c.outputBytes(s.Length)
				if err != nil {
					return fmt.Errorf("%w: step %d (%s): %v", ErrBadPlan, i, s.Tensor, err)
				}
				n = out
			}
		default:
			return fmt.Errorf("%w: step %d (%s): input %d does not exist (%d inputs)", ErrBadPlan, i, s.Tensor, s.Input, len(p.Inputs))
		}
		var ok bool
		if total, ok = addInt64(total, n); !ok {
			return fmt.Errorf("%w: output size overflows", ErrBadPlan)
		}
	}
	if total != p.Size {
		return fmt.Errorf("%w: header and steps add up to %d bytes, plan size is %d", ErrBadPlan, total, p.Size)
	}
	return nil
}

func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (s >= a) == (b >= 0)
}

func mulInt64(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > 1<<63-1 {
		return 0, false
	}
	return int64(lo), true
}

type executor struct {
	ctx      context.Context
	plan     *Plan
	sink     streamwriter.Sink
	copier   streamwriter.RangeCopier
	gatherer streamwriter.GatherCopier // the copier, when it gathers
	buf      []byte
	progress func(Progress)
	done     int64
	tensor   string
	quant    map[*QuantLayer]*quantState // quantized layers being written
}

func (x *executor) run() error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	x.tensor = "header"
	if err := x.write(x.plan.Header); err != nil {
		return err
	}
	runs := x.plan.Runs()
	for i := 0; i < len(runs); i++ {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		r := &runs[i]
		s := &r.Steps[0]
		x.tensor = s.Tensor
		if x.gatherer != nil {
			if j := gatherEnd(runs, i); j > i {
				if err := x.gather(runs[i:j]); err != nil {
					return err
				}
				i = j - 1
				continue
			}
		}
		var err error
		switch {
		case r.Copy:
			err = x.copy(r)
		case s.Input == -1:
			err = x.write(s.Data)
		case s.Convert != nil:
			err = x.convert(s)
		default:
			err = x.transpose(s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// write hands p to the sink and reports progress. A short write without an
// error breaks the Sink contract and is turned into io.ErrShortWrite.
func (x *executor) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := x.sink.Write(p)
	x.done += int64(n)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		// Sink errors name the output file first ("out.safetensors: write:
		// no space left on device"); the tensor is context.
		return fmt.Errorf("%w (writing tensor %s)", err, x.tensor)
	}
	x.report()
	return nil
}

func (x *executor) report() {
	if x.progress != nil {
		x.progress(Progress{Done: x.done, Total: x.plan.Size, Tensor: x.tensor})
	}
}

// readAt fills p from input in at off, for tensor. io.ReaderAt returns an
// error whenever it returns fewer bytes; io.EOF with a full read is fine.
func (x *executor) readAt(input int, tensor string, p []byte, off int64) error {
	in := &x.plan.Inputs[input]
	n, err := in.R.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s: tensor %s: %w (got %d of %d bytes at offset %d)", in.Name, tensor, ErrInputChanged, n, len(p), off)
	}
	return fmt.Errorf("%s: tensor %s: reading %d bytes at offset %d: %w", in.Name, tensor, len(p), off, err)
}

// rangeCopyPiece is the largest piece handed to a RangeCopier at once. The
// copier does not use the buffer, so pieces need not be buffer-sized (the
// CLI's 1 MiB buffer would mean a syscall pair per MiB); they are bounded
// only so that cancellation and progress stay prompt (64 MiB is a few tens
// of milliseconds at disk speed). A variable so tests can cut small pieces.
var rangeCopyPiece = 64 << 20

// copy writes a copy run: one range of one input, however many tensors it
// spans. Progress and errors name the tensor at the running offset.
func (x *executor) copy(r *Run) error {
	cur := &runCursor{run: r}
	if x.copier != nil {
		return x.copyRange(r, cur)
	}
	return x.copyBuffered(r, cur, 0)
}

// copyBuffered copies run bytes [pos, r.Length) through the buffer.
func (x *executor) copyBuffered(r *Run, cur *runCursor, pos int64) error {
	for pos < r.Length {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		chunk := x.buf[:min(int64(len(x.buf)), r.Length-pos)]
		if err := x.readAt(r.Input, cur.tensorAt(pos), chunk, r.Offset+pos); err != nil {
			return err
		}
		pos += int64(len(chunk))
		x.tensor = cur.tensorAt(pos - 1)
		if err := x.write(chunk); err != nil {
			return err
		}
	}
	return nil
}

// copyRange hands a copy run to a RangeCopier in pieces of at most
// rangeCopyPiece, so cancellation and progress behave as on the buffered
// path.
func (x *executor) copyRange(r *Run, cur *runCursor) error {
	in := &x.plan.Inputs[r.Input]
	for pos := int64(0); pos < r.Length; {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		n := min(int64(max(len(x.buf), rangeCopyPiece)), r.Length-pos)
		off := r.Offset + pos
		copied, err := x.copier.CopyRange(in.R, off, n)
		if copied == 0 && errors.Is(err, errors.ErrUnsupported) {
			// Not a source the sink can copy from: read and write
			// through the buffer instead.
			return x.copyBuffered(r, cur, pos)
		}
		x.done += copied
		if err == nil && copied != n {
			err = io.ErrShortWrite
		}
		if err != nil {
			// Name the tensor where the copy stopped.
			return copyError(in, cur.tensorAt(pos+copied), copied, n, off, err)
		}
		pos += n
		x.tensor = cur.tensorAt(pos - 1)
		x.report()
	}
	return nil
}

// copyError is the error of a RangeCopier or GatherCopier call that
// appended copied of n bytes read at off of in, naming tensor, the one
// where it stopped.
func copyError(in *Input, tensor string, copied, n, off int64, err error) error {
	var rerr *streamwriter.SourceError
	if errors.As(err, &rerr) {
		if errors.Is(rerr.Err, io.EOF) || errors.Is(rerr.Err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: tensor %s: %w (got %d of %d bytes at offset %d)", in.Name, tensor, ErrInputChanged, copied, n, off)
		}
		return fmt.Errorf("%s: tensor %s: reading %d bytes at offset %d: %w", in.Name, tensor, n, off, rerr.Err)
	}
	return fmt.Errorf("%w (writing tensor %s)", err, tensor)
}

// gather appends runs, copy runs of one input that tile one short stretch
// of it (gatherEnd), with a single GatherCopier call: one read of the
// stretch instead of one per run.
func (x *executor) gather(runs []Run) error {
	in := &x.plan.Inputs[runs[0].Input]
	lo, hi := runs[0].Offset, runs[0].Offset+runs[0].Length
	pieces := make([]streamwriter.Range, len(runs))
	for k, r := range runs {
		pieces[k] = streamwriter.Range{Off: r.Offset, N: r.Length}
		lo, hi = min(lo, r.Offset), max(hi, r.Offset+r.Length)
	}
	copied, err := x.gatherer.CopyGather(in.R, lo, hi-lo, pieces)
	if copied == 0 && errors.Is(err, errors.ErrUnsupported) {
		for k := range runs {
			x.tensor = runs[k].Steps[0].Tensor
			if err := x.copy(&runs[k]); err != nil {
				return err
			}
		}
		return nil
	}
	x.done += copied
	if err == nil && copied != hi-lo {
		err = io.ErrShortWrite
	}
	if err != nil {
		k, pos := 0, copied
		for k < len(runs)-1 && pos >= runs[k].Length {
			pos -= runs[k].Length
			k++
		}
		cur := &runCursor{run: &runs[k]}
		return copyError(in, cur.tensorAt(pos), copied, hi-lo, lo, err)
	}
	last := &runs[len(runs)-1]
	x.tensor = last.Steps[len(last.Steps)-1].Tensor
	x.report()
	return nil
}

// transpose writes the Rows×Cols source matrix as its Cols×Rows transpose.
// Output row j is source column j. The buffer is split into a read half and
// an output half, and the output is produced in bands:
//   - w output rows at a time (source columns j0…j0+w), each complete, when
//     w·Rows elements fit in half the buffer (the whole matrix at once for the
//     usual small text_projection: one read);
//   - otherwise one output row at a time in pieces of h elements.
//
// A band needs w columns of every source row. It reads them either as one
// short read per source row, or as whole source rows in blocks that fill the
// read half (re-reading the matrix once per band), whichever costs less:
// with the CLI's 1 MiB buffer, SDXL's 1280×1280 text_projection takes 49
// block reads instead of 8,960 reads of 408 bytes.
func (x *executor) transpose(s *Step) error {
	t := s.Transpose
	rows, cols, es := t.Rows, t.Cols, t.ElemSize
	if rows == 0 || cols == 0 {
		return nil
	}
	half := int64(len(x.buf)) / 2
	capElems := half / es
	w, h := capElems/rows, rows
	if w == 0 {
		w, h = 1, capElems
	}
	w = min(w, cols)
	in, out := x.buf[:half], x.buf[half:]
	for j0 := int64(0); j0 < cols; j0 += w {
		bw := min(w, cols-j0)
		if h == rows && bw < cols && wholeRowsCheaper(rows, cols, bw, es, capElems) {
			if err := x.transposeBandByRows(s, in, out, j0, bw, capElems/cols); err != nil {
				return err
			}
			continue
		}
		for i0 := int64(0); i0 < rows; i0 += h {
			if err := x.ctx.Err(); err != nil {
				return err
			}
			bh := min(h, rows-i0)
			src := in[:bw*bh*es]
			if bw == cols {
				// Whole source rows: one contiguous read.
				if err := x.readAt(s.Input, s.Tensor, src, s.Offset+i0*cols*es); err != nil {
					return err
				}
			} else {
				for i := int64(0); i < bh; i++ {
					off := s.Offset + ((i0+i)*cols+j0)*es
					if err := x.readAt(s.Input, s.Tensor, src[i*bw*es:(i+1)*bw*es], off); err != nil {
						return err
					}
				}
			}
			dst := out[:bw*bh*es]
			transposeBlock(dst, src, bh, bw, es)
			if err := x.write(dst); err != nil {
				return err
			}
		}
	}
	return nil
}

// readCostBytes is what one read costs beyond its bytes, counted in bytes
// copied (a syscall is worth a few microseconds of memcpy).
const readCostBytes = 16 << 10

// wholeRowsCheaper compares the two ways of reading a band of bw source
// columns: rows short reads of bw elements, or the whole matrix in blocks
// of capElems/cols source rows (impossible when one row does not fit).
func wholeRowsCheaper(rows, cols, bw, es, capElems int64) bool {
	perBlock := capElems / cols
	if perBlock == 0 {
		return false
	}
	strided := rows * (readCostBytes + bw*es)
	blocks := (rows + perBlock - 1) / perBlock
	whole := blocks*readCostBytes + rows*cols*es
	return whole < strided
}

// transposeBandByRows writes output rows j0…j0+bw (source columns) by
// reading whole source rows, perBlock at a time, and picking the band's
// columns out of them. The band's bw·Rows output elements fit in out.
func (x *executor) transposeBandByRows(s *Step, in, out []byte, j0, bw, perBlock int64) error {
	t := s.Transpose
	rows, cols, es := t.Rows, t.Cols, t.ElemSize
	for i0 := int64(0); i0 < rows; i0 += perBlock {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		bh := min(perBlock, rows-i0)
		src := in[:bh*cols*es]
		if err := x.readAt(s.Input, s.Tensor, src, s.Offset+i0*cols*es); err != nil {
			return err
		}
		for i := int64(0); i < bh; i++ {
			for j := int64(0); j < bw; j++ {
				si, di := (i*cols+j0+j)*es, (j*rows+i0+i)*es
				copy(out[di:di+es], src[si:si+es])
			}
		}
	}
	return x.write(out[:bw*rows*es])
}

// transposeBlock writes the transpose of the r×c matrix src (elements of es
// bytes) into dst as c×r.
func transposeBlock(dst, src []byte, r, c, es int64) {
	switch es {
	case 2:
		for i := int64(0); i < r; i++ {
			for j := int64(0); j < c; j++ {
				si, di := (i*c+j)*2, (j*r+i)*2
				dst[di], dst[di+1] = src[si], src[si+1]
			}
		}
	default:
		for i := int64(0); i < r; i++ {
			for j := int64(0); j < c; j++ {
				copy(dst[(j*r+i)*es:(j*r+i+1)*es], src[(i*c+j)*es:(i*c+j+1)*es])
			}
		}
	}
}
