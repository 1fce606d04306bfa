package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// MetadataEdit is a change to the __metadata__ of an existing file. The
// tensors (names, dtypes, shapes, offsets, bytes) are never touched.
type MetadataEdit struct {
	ModelSpec ModelSpec         // fields to set (validated as for a save)
	Set       map[string]string // other keys to set verbatim
	// Remove lists keys to delete: full keys ("modelspec.thumbnail",
	// "workflow") or ModelSpec field names ("thumbnail").
	Remove []string
	// HashSHA256 (re)computes modelspec.hash_sha256 from the data section.
	HashSHA256 bool
}

// ErrHeaderDoesNotFit: an in-place edit needs a longer header than the file
// has room for.
var ErrHeaderDoesNotFit = errors.New("the edited header does not fit in the file's header")

// editedMetadata applies edit to a copy of the file's metadata.
func editedMetadata(h *safetensors.Header, edit MetadataEdit) (map[string]string, error) {
	meta := maps.Clone(h.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	for _, k := range edit.Remove {
		if key := ModelSpecKey(k); key != "" {
			k = key
		}
		delete(meta, k)
	}
	for k, v := range edit.Set {
		if k == "__metadata__" || k == "" {
			return nil, fmt.Errorf("metadata key %q is reserved", k)
		}
		meta[k] = v
	}
	if err := applyModelSpec(meta, edit.ModelSpec, edit.HashSHA256); err != nil {
		return nil, err
	}
	if len(meta) == 0 && h.Metadata == nil {
		return nil, nil // the file had no __metadata__ and still needs none
	}
	return meta, nil
}

// dataSteps is the whole data section of in as one copy step.
func dataSteps(h *safetensors.Header) []Step {
	n := h.DataSize()
	if n == 0 {
		return nil
	}
	return []Step{{Tensor: "tensor data", Input: 0, Offset: h.DataStart, Length: n}}
}

// PlanMetadataEdit plans a new file: in with its metadata edited — a new
// header, then in's data section copied byte for byte (one copy step, so a
// file-to-file copy can stay in the kernel). With edit.HashSHA256 the plan
// has a HashSlot that Execute fills. in is only read.
func PlanMetadataEdit(in Input, edit MetadataEdit) (*Plan, error) {
	h, err := safetensors.ReadHeader(in)
	if err != nil {
		return nil, err
	}
	meta, err := editedMetadata(h, edit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	tensors := h.Tensors // data order, the order EncodeHeader needs
	header, err := safetensors.EncodeHeader(meta, tensors)
	p := &Plan{Architecture: "metadata", Header: header, Tensors: tensors, Metadata: meta,
		Steps: dataSteps(h), Inputs: []Input{in}, Size: int64(len(header)) + h.DataSize()}
	return withHashSlot(p, err, in.Name, meta, edit.HashSHA256)
}

// EditInPlace rewrites the header of the file in (written through w, the
// same file opened for writing) when the edited header fits in the length
// the file's header already has: the JSON is padded with spaces to the old
// length (safetensors readers accept trailing header whitespace), so the
// data section does not move and is not written. Otherwise it fails with
// ErrHeaderDoesNotFit and nothing is written. With edit.HashSHA256 the data
// is read once to hash it first. The caller syncs the file. It returns the
// new metadata.
func EditInPlace(ctx context.Context, in Input, w io.WriterAt, edit MetadataEdit, opt ExecuteOptions) (map[string]string, error) {
	h, err := safetensors.ReadHeader(in)
	if err != nil {
		return nil, err
	}
	oldN := h.DataStart - 8
	old := make([]byte, h.DataStart)
	if err := readFullAt(in.R, old, 0); err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", in.Name, err)
	}
	meta, err := editedMetadata(h, edit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	if edit.HashSHA256 {
		sum, err := HashData(ctx, &Plan{Steps: dataSteps(h), Inputs: []Input{in}, Size: h.DataSize()}, opt)
		if err != nil {
			return nil, err
		}
		meta[DataHashKey] = sum
	}
	encoded, err := safetensors.EncodeHeader(meta, h.Tensors)
	if err != nil {
		if errors.Is(err, safetensors.ErrHeaderTooLarge) {
			return nil, headerTooLargeError(in.Name, meta)
		}
		return nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	json := bytes.TrimRight(encoded[8:], " ")
	if int64(len(json)) > oldN {
		return nil, fmt.Errorf("%s: %w: it needs %d bytes, the file has %d (write a new file instead of editing in place)", in.Name, ErrHeaderDoesNotFit, len(json), oldN)
	}
	header := make([]byte, h.DataStart)
	binary.LittleEndian.PutUint64(header, uint64(oldN))
	copy(header[8:], json)
	for i := 8 + len(json); i < len(header); i++ {
		header[i] = ' '
	}
	// The hash pass may have taken minutes: the header must still be the
	// one the edit was made from.
	now := make([]byte, len(old))
	if err := readFullAt(in.R, now, 0); err != nil || !bytes.Equal(now, old) {
		return nil, fmt.Errorf("%s: %w (its header changed during the edit); nothing was written", in.Name, ErrInputChanged)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := w.WriteAt(header, 0); err != nil {
		return nil, fmt.Errorf("%s: writing the header: %w", in.Name, err)
	}
	return meta, nil
}

// VerifyDataHash reads the data section of in and returns the
// modelspec.hash_sha256 its header stores ("" when none) and the one the
// data has now.
func VerifyDataHash(ctx context.Context, in Input, opt ExecuteOptions) (stored, actual string, err error) {
	h, err := safetensors.ReadHeader(in)
	if err != nil {
		return "", "", err
	}
	actual, err = HashData(ctx, &Plan{Steps: dataSteps(h), Inputs: []Input{in}, Size: h.DataSize()}, opt)
	return h.Metadata[DataHashKey], actual, err
}

// readFullAt fills p from r at off.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
