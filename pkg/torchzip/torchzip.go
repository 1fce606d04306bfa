// Package torchzip opens PyTorch checkpoints (.ckpt, .pt, .pth, .bin in the
// zip format torch.save has written since torch 1.6) as safetensors files,
// without running their pickle and without reading their tensor data.
//
// A torch zip holds <name>/data.pkl, a pickle of the state dict in which
// every tensor is a call to torch._utils._rebuild_tensor_v2 on a storage
// named by a persistent id, and one stored (uncompressed) entry
// <name>/data/<key> per storage. The pickle is interpreted by gopickle with
// a class resolver that builds only what a tensor state dict needs — the
// set torch.load(weights_only=True) (what ComfyUI's load_torch_file uses)
// allows for tensors — and refuses any other class by name, so a pickle
// that would call os.system is an error here, never a call. Each tensor then
// is a plain byte range of the file, and the checkpoint is returned as a
// safetensors.VirtualFile: a safetensors header built in memory over those
// ranges.
package torchzip

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path"
	"slices"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// MaxPickleSize bounds data.pkl, the one part of a checkpoint read into
// memory. SDXL's pickle is about 200 KB; 32 MiB leaves room for state dicts
// with a hundred thousand tensors.
const MaxPickleSize = 32 << 20

// Errors, for errors.Is.
var (
	// ErrRefusedClass: the pickle names a class or function outside the
	// state-dict allow-list.
	ErrRefusedClass = errors.New("refused (not a tensor state dict)")
	// ErrLegacyFormat: a pre-1.6 torch file (raw pickle or tar), whose
	// tensor bytes are not plain ranges of the file.
	ErrLegacyFormat = errors.New("legacy torch format")
	// ErrNotTorchZip: not a torch zip checkpoint.
	ErrNotTorchZip = errors.New("not a torch zip checkpoint")
	// ErrUnsupported: a torch zip this reader cannot map to byte ranges
	// (compressed entries, non-contiguous tensors, big-endian data).
	ErrUnsupported = errors.New("unsupported torch checkpoint")
)

// Format names what the first bytes of a file say it is.
type Format int

const (
	FormatOther     Format = iota // anything else (safetensors is checked by its own reader)
	FormatZip                     // a zip archive: torch.save since torch 1.6
	FormatLegacy                  // a raw pickle: torch.save with _use_new_zipfile_serialization=False, or torch < 1.6
	FormatLegacyTar               // the tar format of torch < 0.4
)

// Sniff reads the first bytes of in and tells which format they announce.
func Sniff(in checkpoint.Input) (Format, error) {
	var b [512]byte
	n, err := in.R.ReadAt(b[:min(int64(len(b)), in.Size)], 0)
	if int64(n) < min(int64(len(b)), in.Size) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return FormatOther, fmt.Errorf("%s: %w", in.Name, err)
	}
	head := b[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return FormatZip, nil
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return FormatLegacyTar, nil
	case len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		return FormatLegacy, nil
	}
	return FormatOther, nil
}

// storageClasses maps torch's typed storage classes, as torch.save names
// them in the persistent id of each storage, to safetensors dtypes.
var storageClasses = map[string]safetensors.DType{
	"DoubleStorage":          safetensors.DTypeF64,
	"FloatStorage":           safetensors.DTypeF32,
	"HalfStorage":            safetensors.DTypeF16,
	"BFloat16Storage":        safetensors.DTypeBF16,
	"LongStorage":            safetensors.DTypeI64,
	"IntStorage":             safetensors.DTypeI32,
	"ShortStorage":           safetensors.DTypeI16,
	"CharStorage":            safetensors.DTypeI8,
	"ByteStorage":            safetensors.DTypeU8,
	"BoolStorage":            safetensors.DTypeBOOL,
	"ComplexFloatStorage":    safetensors.DTypeC64,
	"UInt16Storage":          safetensors.DTypeU16,
	"UInt32Storage":          safetensors.DTypeU32,
	"UInt64Storage":          safetensors.DTypeU64,
	"Float8_e4m3fnStorage":   safetensors.DTypeF8E4M3,
	"Float8_e5m2Storage":     safetensors.DTypeF8E5M2,
	"Float8_e4m3fnuzStorage": safetensors.DTypeF8E4M3FNUZ,
	"Float8_e5m2fnuzStorage": safetensors.DTypeF8E5M2FNUZ,
	"Float8_e8m0fnuStorage":  safetensors.DTypeF8E8M0,
}

// allowed resolves module.name to the Go value the unpickler builds for it,
// or refuses it. Only these are known:
//   - torch._utils._rebuild_tensor_v2 / _rebuild_tensor: a tensor view of a
//     storage (offset, size, stride);
//   - torch._utils._rebuild_parameter / _rebuild_parameter_with_state: an
//     nn.Parameter, i.e. its tensor;
//   - collections.OrderedDict (state dicts and backward-hook dicts; gopickle
//     builds it itself);
//   - torch.<T>Storage: the storage type in a persistent id.
//
// Everything else — os.system, builtins.eval, any model class — is refused,
// as torch.load(weights_only=True) refuses it.
func allowed(file, module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		return rebuildTensor{}, nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		return rebuildParameter{}, nil
	case "collections.OrderedDict":
		return &types.OrderedDictClass{}, nil
	}
	if module == "torch" {
		if dt, ok := storageClasses[name]; ok {
			return storageClass{name: name, dtype: dt}, nil
		}
	}
	return nil, fmt.Errorf("%s: pickle wants %s.%s: %w", file, module, name, ErrRefusedClass)
}

// storageClass is a torch.<T>Storage class: only ever an argument of a
// persistent id, never called.
type storageClass struct {
	name  string
	dtype safetensors.DType
}

// storage is one data/<key> entry as a typed storage of numel elements.
type storage struct {
	key    string
	dtype  safetensors.DType
	numel  int64
	offset int64 // of its bytes in the file
	size   int64 // bytes
}

// tensor is a view of a storage, as _rebuild_tensor_v2 describes it.
type tensor struct {
	st     *storage
	offset int64 // in elements
	shape  []int64
	stride []int64
}

type rebuildTensor struct{}

// Call mirrors torch._utils._rebuild_tensor_v2(storage, storage_offset,
// size, stride, requires_grad, backward_hooks[, metadata]) and
// _rebuild_tensor(storage, storage_offset, size, stride): it records the
// view; requires_grad, hooks and metadata do not change the bytes.
func (rebuildTensor) Call(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 with %d arguments", len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: first argument is %T, not a storage", args[0])
	}
	off, err := toInt(args[1])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor_v2 storage offset: %w", err)
	}
	shape, err := toInts(args[2])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor_v2 size: %w", err)
	}
	stride, err := toInts(args[3])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor_v2 stride: %w", err)
	}
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor_v2: %d sizes but %d strides", len(shape), len(stride))
	}
	return &tensor{st: st, offset: off, shape: shape, stride: stride}, nil
}

type rebuildParameter struct{}

// Call mirrors torch._utils._rebuild_parameter(data, requires_grad,
// backward_hooks[, state]): a parameter's bytes are its tensor's.
func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("_rebuild_parameter without data")
	}
	t, ok := args[0].(*tensor)
	if !ok {
		return nil, fmt.Errorf("_rebuild_parameter of %T, not a tensor", args[0])
	}
	return t, nil
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
	}
	return 0, fmt.Errorf("%v (%T) is not an integer", v, v)
}

func toInts(v any) ([]int64, error) {
	var items []any
	switch x := v.(type) {
	case *types.Tuple:
		items = *x
	case *types.List:
		items = *x
	default:
		return nil, fmt.Errorf("%T is not a tuple", v)
	}
	out := make([]int64, len(items))
	for i, it := range items {
		n, err := toInt(it)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("negative value %d", n)
		}
		out[i] = n
	}
	return out, nil
}

// archive is an open torch zip.
type archive struct {
	in       checkpoint.Input
	prefix   string               // "<name>/" before data.pkl
	entries  map[string]*zip.File // by name
	storages map[string]*storage  // by key
}

// Open reads the torch zip checkpoint in — its central directory, the local
// header of each storage entry and data.pkl, nothing else — and returns its
// state dict as a virtual safetensors file over the storages' byte ranges.
// The state dict is chosen as ComfyUI's load_torch_file chooses it: the
// "state_dict" entry if there is one, else the only entry if it is a dict,
// else the top level. Entries that are not tensors (a step counter) are
// left out; EMA weights stay under their own keys.
func Open(in checkpoint.Input) (*safetensors.VirtualFile, error) {
	format, err := Sniff(in)
	if err != nil {
		return nil, err
	}
	switch format {
	case FormatLegacy:
		return nil, fmt.Errorf("%s: %w: a raw pickle (torch.save before torch 1.6, or _use_new_zipfile_serialization=False) keeps tensor bytes inside the pickle; load and re-save it with a current torch, then convert", in.Name, ErrLegacyFormat)
	case FormatLegacyTar:
		return nil, fmt.Errorf("%s: %w: the tar format of torch before 0.4 is not read; re-save it with a current torch", in.Name, ErrLegacyFormat)
	case FormatOther:
		return nil, fmt.Errorf("%s: %w (no zip signature)", in.Name, ErrNotTorchZip)
	}
	zr, err := zip.NewReader(in.R, in.Size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: reading the zip directory: %v", in.Name, ErrNotTorchZip, err)
	}
	a := &archive{in: in, entries: make(map[string]*zip.File, len(zr.File)), storages: map[string]*storage{}}
	var pkl *zip.File
	for _, f := range zr.File {
		if _, dup := a.entries[f.Name]; dup {
			return nil, fmt.Errorf("%s: zip entry %s appears twice: refused", in.Name, f.Name)
		}
		a.entries[f.Name] = f
		if dir, base := path.Split(f.Name); base == "data.pkl" && strings.Count(dir, "/") == 1 {
			if pkl != nil {
				return nil, fmt.Errorf("%s: %w: two data.pkl entries (%s, %s)", in.Name, ErrNotTorchZip, pkl.Name, f.Name)
			}
			pkl, a.prefix = f, dir
		}
	}
	if pkl == nil {
		return nil, fmt.Errorf("%s: %w: the zip has no <name>/data.pkl", in.Name, ErrNotTorchZip)
	}
	if err := a.checkByteOrder(); err != nil {
		return nil, err
	}
	raw, err := a.readSmall(pkl, MaxPickleSize)
	if err != nil {
		return nil, err
	}
	if err := scanPickle(in.Name, raw); err != nil {
		return nil, err
	}
	root, err := a.unpickle(raw)
	if err != nil {
		return nil, err
	}
	return a.virtual(selectStateDict(root))
}

// checkByteOrder refuses big-endian data (torch writes "<name>/byteorder"
// since 2.1; older files are little-endian).
func (a *archive) checkByteOrder() error {
	f, ok := a.entries[a.prefix+"byteorder"]
	if !ok {
		return nil
	}
	b, err := a.readSmall(f, 16)
	if err != nil {
		return err
	}
	if s := strings.TrimSpace(string(b)); s != "little" {
		return fmt.Errorf("%s: %w: byte order %q (only little-endian data can be copied as is)", a.in.Name, ErrUnsupported, s)
	}
	return nil
}

// readSmall reads a whole (small) entry, refusing one declared larger than
// limit.
func (a *archive) readSmall(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s: %s is %d bytes, more than the %d this reader accepts: refused", a.in.Name, f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %v", a.in.Name, f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s: %v", a.in.Name, f.Name, err)
	}
	return b, nil
}

// unpickle interprets data.pkl with the allow-list resolver. gopickle is
// not hardened against hostile input, so a panic inside it is an error
// about the file, never a crash.
func (a *archive) unpickle(raw []byte) (root any, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("%s: data.pkl is malformed: %v", a.in.Name, r)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(raw))
	u.FindClass = func(module, name string) (any, error) { return allowed(a.in.Name, module, name) }
	u.PersistentLoad = a.persistentLoad
	u.GetExtension = func(code int) (any, error) {
		return nil, fmt.Errorf("%s: pickle wants extension code %d: %w", a.in.Name, code, ErrRefusedClass)
	}
	root, err = u.Load()
	if err != nil {
		if errors.Is(err, ErrRefusedClass) || strings.HasPrefix(err.Error(), a.in.Name+":") {
			return nil, err
		}
		return nil, fmt.Errorf("%s: data.pkl: %v", a.in.Name, err)
	}
	return root, nil
}

// persistentLoad resolves a storage reference, torch's persistent id
// ('storage', <T>Storage, key, location, numel), to its entry's byte range.
// The size-bomb guard: the entry must be stored uncompressed and hold at
// least the numel × element size the pickle declares.
func (a *archive) persistentLoad(pid any) (any, error) {
	t, ok := pid.(*types.Tuple)
	if !ok || t.Len() < 5 {
		return nil, fmt.Errorf("%s: unexpected persistent id %v", a.in.Name, pid)
	}
	if kind, _ := t.Get(0).(string); kind != "storage" {
		return nil, fmt.Errorf("%s: persistent id of kind %v, not a storage: %w", a.in.Name, t.Get(0), ErrRefusedClass)
	}
	cls, ok := t.Get(1).(storageClass)
	if !ok {
		return nil, fmt.Errorf("%s: storage type %v is not a torch storage class", a.in.Name, t.Get(1))
	}
	key, ok := t.Get(2).(string)
	if !ok {
		return nil, fmt.Errorf("%s: storage key %v is not a string", a.in.Name, t.Get(2))
	}
	numel, err := toInt(t.Get(4))
	if err != nil || numel < 0 {
		return nil, fmt.Errorf("%s: storage %s: bad element count %v", a.in.Name, key, t.Get(4))
	}
	if st, ok := a.storages[key]; ok {
		if st.dtype != cls.dtype || st.numel != numel {
			return nil, fmt.Errorf("%s: storage %s is declared twice, as %s×%d and %s×%d", a.in.Name, key, st.dtype, st.numel, cls.dtype, numel)
		}
		return st, nil
	}
	name := a.prefix + "data/" + key
	f, ok := a.entries[name]
	if !ok {
		return nil, fmt.Errorf("%s: storage %s has no entry %s in the zip", a.in.Name, key, name)
	}
	if f.Method != zip.Store || f.CompressedSize64 != f.UncompressedSize64 {
		return nil, fmt.Errorf("%s: %w: entry %s is compressed (method %d); torch.save writes storages uncompressed, so this file was repacked — unzip and re-zip it with -0, or re-save it with torch", a.in.Name, ErrUnsupported, name, f.Method)
	}
	es := elemSize(cls.dtype)
	size, ok := mul(numel, es)
	if !ok || uint64(size) > f.UncompressedSize64 {
		return nil, fmt.Errorf("%s: storage %s declares %d %s elements (%d bytes) but its entry holds %d bytes: refused", a.in.Name, key, numel, cls.dtype, size, f.UncompressedSize64)
	}
	off, err := f.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("%s: entry %s: %v", a.in.Name, name, err)
	}
	if end, ok := add(off, size); !ok || end > a.in.Size {
		return nil, fmt.Errorf("%s: entry %s lies past the end of the file: refused", a.in.Name, name)
	}
	st := &storage{key: key, dtype: cls.dtype, numel: numel, offset: off, size: size}
	a.storages[key] = st
	return st, nil
}

// elemSize is a dtype's element size in bytes (every storage dtype is whole
// bytes).
func elemSize(dt safetensors.DType) int64 {
	switch dt {
	case safetensors.DTypeF64, safetensors.DTypeI64, safetensors.DTypeU64, safetensors.DTypeC64:
		return 8
	case safetensors.DTypeF32, safetensors.DTypeI32, safetensors.DTypeU32:
		return 4
	case safetensors.DTypeF16, safetensors.DTypeBF16, safetensors.DTypeI16, safetensors.DTypeU16:
		return 2
	}
	return 1
}

func mul(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	return c, c/b == a && c >= 0
}

func add(a, b int64) (int64, bool) {
	c := a + b
	return c, c >= a
}

// selectStateDict picks the state dict the way ComfyUI's
// comfy.utils.load_torch_file does: pl_sd["state_dict"] if present; else,
// for a one-entry dict, that entry when it is a dict; else the whole thing.
func selectStateDict(root any) any {
	entries := dictEntries(root)
	for _, e := range entries {
		if k, _ := e.key.(string); k == "state_dict" {
			return e.value
		}
	}
	if len(entries) == 1 && dictEntries(entries[0].value) != nil {
		return entries[0].value
	}
	return root
}

type entry struct{ key, value any }

// dictEntries lists a dict's entries in order, or nil for a non-dict.
func dictEntries(v any) []entry {
	switch d := v.(type) {
	case *types.Dict:
		out := make([]entry, len(*d))
		for i, e := range *d {
			out[i] = entry{e.Key, e.Value}
		}
		return out
	case *types.OrderedDict:
		out := make([]entry, 0, d.Len())
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			out = append(out, entry{e.Key, e.Value})
		}
		return out
	}
	return nil
}

// virtual lays the state dict's tensors out as a safetensors file, ordered
// by where their bytes are, so neighbouring tensors stay neighbouring
// ranges when copied.
func (a *archive) virtual(sd any) (*safetensors.VirtualFile, error) {
	entries := dictEntries(sd)
	if entries == nil {
		return nil, fmt.Errorf("%s: %w: the pickle holds a %T, not a state dict", a.in.Name, ErrNotTorchZip, sd)
	}
	type placed struct {
		vt  safetensors.VirtualTensor
		off int64
	}
	var ts []placed
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		t, ok := e.value.(*tensor)
		if !ok {
			continue // a step counter, hyperparameters: not weights
		}
		key, ok := e.key.(string)
		if !ok {
			return nil, fmt.Errorf("%s: a tensor's key is %v (%T), not a string", a.in.Name, e.key, e.key)
		}
		if seen[key] {
			return nil, fmt.Errorf("%s: tensor %s appears twice", a.in.Name, key)
		}
		seen[key] = true
		pc, err := a.tensorBytes(key, t)
		if err != nil {
			return nil, err
		}
		ts = append(ts, placed{safetensors.VirtualTensor{Name: key, DType: t.st.dtype, Shape: t.shape, Pieces: []safetensors.Piece{pc}}, pc.Offset})
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("%s: %w: the state dict holds no tensors", a.in.Name, ErrNotTorchZip)
	}
	slices.SortStableFunc(ts, func(x, y placed) int {
		switch {
		case x.off < y.off:
			return -1
		case x.off > y.off:
			return 1
		}
		return 0
	})
	vts := make([]safetensors.VirtualTensor, len(ts))
	for i := range ts {
		vts[i] = ts[i].vt
	}
	return safetensors.NewVirtualFile(a.in.Name, nil, vts)
}

// tensorBytes is the byte range of a contiguous tensor view. A view with
// other strides (a transposed or sliced tensor saved without .contiguous())
// is not one range of the file and is refused by name.
func (a *archive) tensorBytes(key string, t *tensor) (safetensors.Piece, error) {
	numel := int64(1)
	for _, d := range t.shape {
		var ok bool
		if numel, ok = mul(numel, d); !ok {
			return safetensors.Piece{}, fmt.Errorf("%s: tensor %s: shape %v overflows", a.in.Name, key, t.shape)
		}
	}
	if numel > 0 {
		want := int64(1)
		for i := len(t.shape) - 1; i >= 0; i-- {
			if t.shape[i] != 1 && t.stride[i] != want {
				return safetensors.Piece{}, fmt.Errorf("%s: tensor %s: %w: non-contiguous view (shape %v, stride %v); save it with .contiguous()", a.in.Name, key, ErrUnsupported, t.shape, t.stride)
			}
			want *= t.shape[i]
		}
	}
	es := elemSize(t.st.dtype)
	end, ok := add(t.offset, numel)
	if !ok || end > t.st.numel {
		return safetensors.Piece{}, fmt.Errorf("%s: tensor %s: elements %d+%d lie outside storage %s of %d elements: refused", a.in.Name, key, t.offset, numel, t.st.key, t.st.numel)
	}
	return safetensors.Piece{Input: a.in, Offset: t.st.offset + t.offset*es, Length: numel * es}, nil
}
