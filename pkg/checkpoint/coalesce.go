package checkpoint

import (
	"cmp"
	"slices"
)

// Step coalescing. A plan has one step per output tensor (two or three for
// a fused q/k/v), because the dry-run and header views show tensors. Most of
// them copy consecutive bytes of one input: a safetensors file stores its
// tensors back to back in the same dtype-then-name order the output uses, so
// a whole SDXL UNet (1,680 tensors) is one contiguous run of its file. The
// executor copies such a run as one range — one RangeCopier call or one
// read/write loop per buffer, not one per tensor — and maps the running
// offset back to the per-tensor steps for progress and error messages.

// copyable reports whether s is a plain byte copy of an input range, the
// only kind of step that may merge with its neighbours. Anything that
// changes the bytes (a transpose, and any future transform) must make it
// false.
func copyable(s *Step) bool {
	return s.Input >= 0 && s.Transpose == nil && s.Convert == nil
}

// Run is a stretch of plan steps that execute as one: either a single step
// that is not copyable, or copyable steps reading consecutive bytes of the
// same input.
type Run struct {
	Steps []Step // a sub-slice of Plan.Steps, in order
	// Copy: the run is copyable and reads Input[Offset, Offset+Length).
	Copy           bool
	Input          int
	Offset, Length int64
}

// Runs groups p.Steps into runs, in order. Plan.Steps stays per tensor; this
// is the view the executor (and any host that copies ranges itself, like the
// download hand-off) works from.
func (p *Plan) Runs() []Run {
	var runs []Run
	for i := 0; i < len(p.Steps); {
		j := runEnd(p.Steps, i)
		r := Run{Steps: p.Steps[i:j:j]}
		if s := &p.Steps[i]; copyable(s) {
			r.Copy, r.Input, r.Offset = true, s.Input, s.Offset
			for k := i; k < j; k++ {
				r.Length += p.Steps[k].Length
			}
		}
		runs = append(runs, r)
		i = j
	}
	return runs
}

// runEnd returns j such that steps[i:j] is the run starting at step i.
func runEnd(steps []Step, i int) int {
	first := &steps[i]
	if !copyable(first) {
		return i + 1
	}
	end := first.Offset + first.Length
	j := i + 1
	for ; j < len(steps); j++ {
		s := &steps[j]
		if !copyable(s) || s.Input != first.Input || s.Offset != end {
			break
		}
		end += s.Length
	}
	return j
}

// runCursor maps byte positions of a copy run back to its steps. Positions
// only move forward during a copy, so lookups walk the steps once.
type runCursor struct {
	run  *Run
	step int   // index in run.Steps of the step holding pos
	base int64 // run offset where run.Steps[step] starts
}

// tensorAt returns the tensor holding byte pos of the run (0 ≤ pos <
// Length; a pos at or past the end names the last tensor). Empty steps are
// never named.
func (c *runCursor) tensorAt(pos int64) string {
	steps := c.run.Steps
	for c.step < len(steps)-1 && pos >= c.base+steps[c.step].Length {
		c.base += steps[c.step].Length
		c.step++
	}
	return steps[c.step].Tensor
}

// gatherSpan is the largest stretch of an input read at once for a gather
// (streamwriter.GatherCopier). SDXL's CLIP-G layers fuse q, k and v from
// stretches of about 10 MB.
const gatherSpan = 16 << 20

// gatherMaxRuns bounds the runs one gather looks at (and the work spent
// looking for an exact cover among many small ones).
const gatherMaxRuns = 64

// gatherEnd returns the end j of the longest group runs[i:j] (j ≥ i+2) of
// copy runs of one input that together cover one stretch of at most
// gatherSpan bytes exactly, each byte once, or i when runs[i] starts no
// such group. Runs already in input order merged into one run, so a group
// is out of order by construction.
func gatherEnd(runs []Run, i int) int {
	first := &runs[i]
	if !first.Copy || first.Length >= gatherSpan {
		return i
	}
	end := i
	lo, hi, sum := first.Offset, first.Offset+first.Length, first.Length
	for j := i + 1; j < len(runs) && j-i < gatherMaxRuns; j++ {
		r := &runs[j]
		if !r.Copy || r.Input != first.Input {
			break
		}
		lo, hi, sum = min(lo, r.Offset), max(hi, r.Offset+r.Length), sum+r.Length
		if hi-lo > gatherSpan {
			break
		}
		if sum == hi-lo && tilesExactly(runs[i:j+1], lo) {
			end = j + 1
		}
	}
	return end
}

// tilesExactly reports whether the runs, taken in input order, are back to
// back from lo with neither gap nor overlap.
func tilesExactly(runs []Run, lo int64) bool {
	ranges := make([][2]int64, len(runs))
	for k, r := range runs {
		ranges[k] = [2]int64{r.Offset, r.Length}
	}
	slices.SortFunc(ranges, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	for _, r := range ranges {
		if r[0] != lo {
			return false
		}
		lo += r[1]
	}
	return true
}
