package safetensors

import (
	"fmt"
	"io"
	"sort"
)

// A VirtualFile is a safetensors file that exists only as a description: a
// header built here (8+N bytes in memory) followed by a data section made of
// byte ranges of other inputs. Inputs that are not a single .safetensors
// file — a torch .ckpt (its tensors are plain byte ranges of stored zip
// entries), a sharded file set (*.safetensors.index.json) — are opened as
// one, so everything that takes an Input (ReadHeader, and the operations of
// package checkpoint) accepts them unchanged and reads only the ranges it
// needs.
//
// It implements io.ReaderAt, so any host can read it; Pieces resolves a
// range of it to ranges of the backing inputs, which is how
// checkpoint.Lower lets hosts copy tensor bytes straight from the real
// files (kernel copy, JS slices).
type VirtualFile struct {
	name   string
	header []byte
	pieces []Piece // the data section, in order
	starts []int64 // starts[i]: offset of pieces[i] in the virtual file
	size   int64
}

// Piece is a byte range of a backing input.
type Piece struct {
	Input  Input
	Offset int64
	Length int64
}

// VirtualTensor is one tensor of a VirtualFile: its entry and where its
// bytes are, in order (usually one piece).
type VirtualTensor struct {
	Name   string
	DType  DType
	Shape  []int64
	Pieces []Piece
}

// NewVirtualFile builds the virtual safetensors file name from tensors, laid
// out in the given order (give them in backing-file order, so that copies of
// neighbouring tensors stay neighbouring ranges). Every piece must lie inside
// its input and the pieces of a tensor must add up to shape × dtype.
func NewVirtualFile(name string, metadata map[string]string, tensors []VirtualTensor) (*VirtualFile, error) {
	ts := make([]Tensor, len(tensors))
	for i, vt := range tensors {
		ts[i] = Tensor{Name: vt.Name, DType: vt.DType, Shape: vt.Shape}
	}
	if _, err := AssignOffsets(ts); err != nil {
		return nil, headerErrorIn(name, err)
	}
	header, err := EncodeHeader(metadata, ts)
	if err != nil {
		return nil, headerErrorIn(name, err)
	}
	v := &VirtualFile{name: name, header: header}
	pos := int64(len(header))
	for i, vt := range tensors {
		var n int64
		for _, p := range vt.Pieces {
			end, ok := addInt64(p.Offset, p.Length)
			if p.Offset < 0 || p.Length < 0 || !ok || end > p.Input.Size || p.Input.R == nil {
				return nil, fmt.Errorf("%s: tensor %s: bytes %d+%d lie outside %s (%d bytes)", name, vt.Name, p.Offset, p.Length, p.Input.Name, p.Input.Size)
			}
			n += p.Length
			if p.Length == 0 {
				continue
			}
			v.pieces = append(v.pieces, p)
			v.starts = append(v.starts, pos)
			pos += p.Length
		}
		if want := ts[i].End - ts[i].Begin; n != want {
			return nil, fmt.Errorf("%s: tensor %s: %s %v takes %d bytes, its source has %d", name, vt.Name, vt.DType, vt.Shape, want, n)
		}
	}
	v.size = pos
	return v, nil
}

// headerErrorIn names file in a *HeaderError that EncodeHeader or
// AssignOffsets returned without one.
func headerErrorIn(file string, err error) error {
	if he, ok := err.(*HeaderError); ok && he.File == "" {
		c := *he
		c.File = file
		return &c
	}
	return fmt.Errorf("%s: %w", file, err)
}

// Input is the virtual file as an engine input.
func (v *VirtualFile) Input() Input { return Input{Name: v.name, R: v, Size: v.size} }

// Name is the name errors use for the virtual file.
func (v *VirtualFile) Name() string { return v.name }

// Size is the virtual file's size: header plus data.
func (v *VirtualFile) Size() int64 { return v.size }

// ReadAt reads the virtual file: header bytes from memory, data from the
// backing inputs. Errors from a backing input name that input.
func (v *VirtualFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", v.name, off)
	}
	done := 0
	for len(p) > 0 {
		if off >= v.size {
			return done, io.EOF
		}
		if off < int64(len(v.header)) {
			n := copy(p, v.header[off:])
			p, off, done = p[n:], off+int64(n), done+n
			continue
		}
		i := v.pieceAt(off)
		pc := v.pieces[i]
		within := off - v.starts[i]
		want := min(int64(len(p)), pc.Length-within)
		n, err := pc.Input.R.ReadAt(p[:want], pc.Offset+within)
		done += n
		if int64(n) < want {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return done, fmt.Errorf("%s: %w", pc.Input.Name, err)
		}
		p, off = p[n:], off+int64(n)
	}
	return done, nil
}

// pieceAt is the index of the piece holding data offset off (off must be in
// the data section).
func (v *VirtualFile) pieceAt(off int64) int {
	return sort.Search(len(v.starts), func(i int) bool { return v.starts[i]+v.pieces[i].Length > off })
}

// Pieces returns where the bytes [off, off+length) of the virtual file are,
// resolved down to inputs that are not virtual. The range must lie in the
// data section.
func (v *VirtualFile) Pieces(off, length int64) ([]Piece, error) {
	end, ok := addInt64(off, length)
	if off < int64(len(v.header)) || length < 0 || !ok || end > v.size {
		return nil, fmt.Errorf("bytes %d+%d are not in the data section of %s (%d-byte header, %d bytes)", off, length, v.name, len(v.header), v.size)
	}
	var out []Piece
	for length > 0 {
		i := v.pieceAt(off)
		pc := v.pieces[i]
		within := off - v.starts[i]
		n := min(length, pc.Length-within)
		sub := Piece{Input: pc.Input, Offset: pc.Offset + within, Length: n}
		if inner, ok := sub.Input.R.(*VirtualFile); ok {
			deeper, err := inner.Pieces(sub.Offset, sub.Length)
			if err != nil {
				return nil, err
			}
			out = append(out, deeper...)
		} else {
			out = append(out, sub)
		}
		off += n
		length -= n
	}
	return out, nil
}

// addInt64 is a + b and whether it did not overflow.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (s >= a) == (b >= 0)
}
