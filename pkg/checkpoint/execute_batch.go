package checkpoint

// Converted tensors in a model file alternate with small kept ones (every
// Linear/Conv weight converted to fp8 sits between its bias and norms,
// which keep their precision), so a conversion is hundreds of short runs.
// Run by run, each costs a read and a write of its own; in the browser
// worker each read is an awaited round trip through the event loop and each
// kept run a separate copy, which cost more than the bytes. A convert batch
// reads consecutive convert steps and copy runs that lie back to back in
// one input and fit the buffer together with one read, converts each
// convert step's bytes in place, packs the outputs to the front of the
// buffer (every output is no longer than its input, so the packed output
// never overtakes the bytes still to be read) and writes them with one
// write. Copy runs of their own (no convert step before them) keep the
// RangeCopier path.

// convertBatchEnd returns j > i+1 and the input bytes of runs[i:j] when
// runs[i] is a convert step that starts a batch of at least two runs, or
// j = i when the run is best done alone.
func (x *executor) convertBatchEnd(runs []Run, i int) (j int, length int64) {
	first := &runs[i].Steps[0]
	if first.Convert == nil || first.Input < 0 || first.Length > int64(len(x.buf)) {
		return i, 0
	}
	input, end := first.Input, first.Offset
	for j = i; j < len(runs); j++ {
		in, off, n, ok := batchRange(&runs[j])
		if !ok || in != input || off != end || length+n > int64(len(x.buf)) {
			break
		}
		end += n
		length += n
	}
	if j-i < 2 {
		return i, 0
	}
	return j, length
}

// batchRange is the input range a run reads, and whether it may join a
// convert batch: a copy run or a convert step (not inline bytes, not a
// transpose).
func batchRange(r *Run) (input int, off, n int64, ok bool) {
	if r.Copy {
		return r.Input, r.Offset, r.Length, true
	}
	s := &r.Steps[0]
	if s.Convert == nil || s.Input < 0 {
		return 0, 0, 0, false
	}
	return s.Input, s.Offset, s.Length, true
}

// convertBatch writes runs (as found by convertBatchEnd, length input
// bytes) with one read and one write.
func (x *executor) convertBatch(runs []Run, length int64) error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	input, off, _, _ := batchRange(&runs[0])
	buf := x.buf[:length]
	in := &x.plan.Inputs[input]
	if n, err := in.R.ReadAt(buf, off); n != len(buf) {
		// Name the tensor the read stopped in.
		return readFailure(in, batchTensorAt(runs, int64(n)), n, len(buf), off, err)
	}
	var out, pos int64
	for k := range runs {
		r := &runs[k]
		_, _, n, _ := batchRange(r)
		m := n
		if !r.Copy {
			c := r.Steps[0].Convert
			m = int64(converters[conversionKey{c.From, c.To}](buf[pos : pos+n]))
		}
		copy(buf[out:out+m], buf[pos:pos+m])
		out += m
		pos += n
	}
	last := &runs[len(runs)-1]
	x.tensor = last.Steps[len(last.Steps)-1].Tensor
	return x.write(buf[:out])
}

// batchTensorAt names the tensor holding input byte pos of a batch (pos
// counted from the batch's first byte).
func batchTensorAt(runs []Run, pos int64) string {
	for k := range runs {
		r := &runs[k]
		_, _, n, _ := batchRange(r)
		if pos < n || k == len(runs)-1 {
			if r.Copy {
				return (&runCursor{run: r}).tensorAt(pos)
			}
			return r.Steps[0].Tensor
		}
		pos -= n
	}
	return ""
}
