package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	nlpst "github.com/nlpodyssey/safetensors"

	"github.com/ckptpack/ckptpack/internal/fixture"
)

// stFile is a safetensors file: 8-byte length, header text as given, then
// dataLen zero bytes.
func stFile(header string, dataLen int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, dataLen)...)
}

func inputOf(name string, b []byte) Input {
	return Input{Name: name, R: bytes.NewReader(b), Size: int64(len(b))}
}

const okEntry = `"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}`

func TestReadHeaderRejects(t *testing.T) {
	hugeN := binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1)
	cases := []struct {
		name   string
		file   []byte
		rule   error
		tensor string // must be named in the message
		detail string // must appear in the message
		// peerAccepts: the independent reader (nlpodyssey/safetensors)
		// accepts this file; we refuse it on purpose (documented in
		// ReadHeader).
		peerAccepts bool
	}{
		{name: "empty file", file: nil, rule: ErrHeaderTooSmall},
		{name: "7 bytes", file: make([]byte, 7), rule: ErrHeaderTooSmall},
		{name: "N above 100,000,000", file: append(hugeN, "{}"...), rule: ErrHeaderTooLarge},
		{name: "N = 2^64-1", file: append(bytes.Repeat([]byte{0xff}, 8), "{}"...), rule: ErrHeaderTooLarge},
		{name: "N past the end", file: stFile(`{}`, 0)[:9], rule: ErrInvalidHeaderLength},
		{name: "invalid UTF-8", file: stFile("{\"a\xff\":{}}", 0), rule: ErrInvalidUTF8, detail: "byte 3"},
		{name: "not JSON", file: stFile(`hello`, 0), rule: ErrInvalidJSON},
		{name: "JSON array", file: stFile(`[]`, 0), rule: ErrInvalidJSON},
		{name: "truncated JSON", file: stFile(`{"a":{"dtype":"F16"`, 0), rule: ErrInvalidJSON, tensor: "a"},
		{name: "trailing characters", file: stFile(`{}x`, 0), rule: ErrInvalidJSON, detail: "trailing"},
		{name: "NUL padding", file: stFile("{}\x00\x00\x00\x00\x00\x00", 0), rule: ErrInvalidJSON, detail: "trailing"},
		{name: "two objects", file: stFile(`{}{}`, 0), rule: ErrInvalidJSON},
		{name: "trailing comma", file: stFile(`{`+okEntry+`,}`, 8), rule: ErrInvalidJSON},
		{name: "control character in a name", file: stFile("{\"a\x01\":{}}", 0), rule: ErrInvalidJSON, detail: "control character"},
		{name: "lone surrogate in a name", file: stFile(`{"\ud800":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, 1), rule: ErrInvalidJSON, detail: "surrogate", peerAccepts: true},
		{name: "metadata not an object", file: stFile(`{"__metadata__":[]}`, 0), rule: ErrInvalidMetadata},
		{name: "metadata number value", file: stFile(`{"__metadata__":{"a":1}}`, 0), rule: ErrInvalidMetadata, detail: `"a"`},
		{name: "metadata null value", file: stFile(`{"__metadata__":{"a":null}}`, 0), rule: ErrInvalidMetadata},
		{name: "metadata twice", file: stFile(`{"__metadata__":{},"__metadata__":{}}`, 0), rule: ErrDuplicateKey, peerAccepts: true},
		{name: "metadata key twice", file: stFile(`{"__metadata__":{"k":"1","k":"2"}}`, 0), rule: ErrDuplicateKey, detail: `"k"`, peerAccepts: true},
		{name: "duplicate tensor", file: stFile(`{`+okEntry+`,`+okEntry+`}`, 8), rule: ErrDuplicateKey, tensor: "a", peerAccepts: true},
		{name: "duplicate field", file: stFile(`{"a":{"dtype":"F16","dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}`, 8), rule: ErrDuplicateKey, tensor: "a", peerAccepts: true},
		{name: "entry not an object", file: stFile(`{"a":5}`, 0), rule: ErrInvalidEntry, tensor: "a"},
		{name: "unknown field", file: stFile(`{"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8],"x":1}}`, 8), rule: ErrInvalidEntry, tensor: "a", detail: `"x"`},
		{name: "missing data_offsets", file: stFile(`{"a":{"dtype":"F16","shape":[2,2]}}`, 8), rule: ErrInvalidEntry, tensor: "a", detail: "data_offsets"},
		{name: "dtype not a string", file: stFile(`{"a":{"dtype":16,"shape":[2,2],"data_offsets":[0,8]}}`, 8), rule: ErrInvalidEntry, tensor: "a"},
		{name: "unknown dtype", file: stFile(`{"a":{"dtype":"F8_E4M3FN","shape":[2],"data_offsets":[0,2]}}`, 2), rule: ErrUnknownDType, tensor: "a", detail: "F8_E4M3FN"},
		{name: "lower-case dtype", file: stFile(`{"a":{"dtype":"f16","shape":[2],"data_offsets":[0,4]}}`, 4), rule: ErrUnknownDType, tensor: "a"},
		{name: "negative dimension", file: stFile(`{"a":{"dtype":"F16","shape":[-2],"data_offsets":[0,0]}}`, 0), rule: ErrInvalidShape, tensor: "a"},
		{name: "fractional dimension", file: stFile(`{"a":{"dtype":"F16","shape":[2.0],"data_offsets":[0,4]}}`, 4), rule: ErrInvalidShape, tensor: "a"},
		{name: "exponent dimension", file: stFile(`{"a":{"dtype":"F16","shape":[2e0],"data_offsets":[0,4]}}`, 4), rule: ErrInvalidShape, tensor: "a"},
		{name: "shape not a list", file: stFile(`{"a":{"dtype":"F16","shape":"2","data_offsets":[0,4]}}`, 4), rule: ErrInvalidShape, tensor: "a"},
		{name: "three offsets", file: stFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4,4]}}`, 4), rule: ErrInvalidOffsets, tensor: "a"},
		{name: "one offset", file: stFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[4]}}`, 4), rule: ErrInvalidOffsets, tensor: "a"},
		{name: "negative offset", file: stFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[-4,0]}}`, 4), rule: ErrInvalidOffsets, tensor: "a"},
		{name: "leading zero", file: stFile(`{"a":{"dtype":"F16","shape":[02],"data_offsets":[0,4]}}`, 4), rule: ErrInvalidJSON, tensor: "a"},
		{name: "first tensor not at 0", file: stFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}`, 8), rule: ErrInvalidOffset, tensor: "a", detail: "gap of 4"},
		{name: "gap between tensors", file: stFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}`, 8), rule: ErrInvalidOffset, tensor: "b", detail: "gap of 2"},
		{name: "overlapping tensors", file: stFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, 4), rule: ErrInvalidOffset, tensor: "b", detail: "overlaps"},
		{name: "end before begin", file: stFile(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"c":{"dtype":"F16","shape":[0],"data_offsets":[4,0]}}`, 0), rule: ErrInvalidOffset, tensor: "c"},
		{name: "size mismatch", file: stFile(`{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}`, 8), rule: ErrTensorInvalidInfo, tensor: "a", detail: "takes 16 bytes"},
		{name: "scalar with no bytes", file: stFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,0]}}`, 0), rule: ErrTensorInvalidInfo, tensor: "a"},
		{name: "element count overflow", file: stFile(`{"a":{"dtype":"U8","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`, 0), rule: ErrValidationOverflow, tensor: "a"},
		{name: "byte count overflow", file: stFile(`{"a":{"dtype":"U64","shape":[2305843009213693952],"data_offsets":[0,0]}}`, 0), rule: ErrValidationOverflow, tensor: "a"},
		{name: "number above 2^62", file: stFile(`{"a":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,0]}}`, 0), rule: ErrValidationOverflow, tensor: "a"},
		{name: "odd F4 count", file: stFile(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, 2), rule: ErrMisalignedSlice, tensor: "a"},
		{name: "F6 not whole bytes", file: stFile(`{"a":{"dtype":"F6_E2M3","shape":[3],"data_offsets":[0,3]}}`, 3), rule: ErrMisalignedSlice, tensor: "a"},
		{name: "trailing bytes", file: stFile(`{`+okEntry+`}`, 9), rule: ErrIncompleteBuffer, detail: "trailing"},
		{name: "truncated data", file: stFile(`{`+okEntry+`}`, 7), rule: ErrIncompleteBuffer, detail: "truncated"},
		{name: "data but no tensors", file: stFile(`{}`, 1), rule: ErrIncompleteBuffer},
	}
	if len(cases) < 25 {
		t.Fatal("the table must keep at least 25 malformed inputs")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := ReadHeader(inputOf("model.safetensors", c.file))
			if err == nil {
				t.Fatalf("accepted: %+v", h)
			}
			if !errors.Is(err, c.rule) {
				t.Fatalf("error %q is not %q", err, c.rule)
			}
			var he *HeaderError
			if !errors.As(err, &he) || he.File != "model.safetensors" {
				t.Fatalf("error %q is not a *HeaderError naming the file", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "model.safetensors: ") {
				t.Errorf("message %q does not start with the file name", msg)
			}
			if c.tensor != "" && (he.Tensor != c.tensor || !strings.Contains(msg, `tensor "`+c.tensor+`"`)) {
				t.Errorf("message %q does not name tensor %q", msg, c.tensor)
			}
			if c.detail != "" && !strings.Contains(msg, c.detail) {
				t.Errorf("message %q does not say %q", msg, c.detail)
			}
			// The independent reader agrees, except where we are stricter
			// on purpose; it does not know F8/F4/F6 dtypes at all.
			_, _, perr := nlpst.ReadMetadata(c.file)
			if c.peerAccepts != (perr == nil) {
				t.Errorf("nlpodyssey/safetensors accepts=%v (err %v), table says %v", perr == nil, perr, c.peerAccepts)
			}
		})
	}
}

func TestReadHeaderAccepts(t *testing.T) {
	cases := []struct {
		name   string
		file   []byte
		check  func(*testing.T, *Header)
		noPeer bool // the independent reader refuses it (newer dtypes, leading space)
	}{
		{name: "empty object", file: stFile(`{}`, 0), check: func(t *testing.T, h *Header) {
			if len(h.Tensors) != 0 || h.Metadata != nil || h.DataStart != 10 {
				t.Errorf("%+v", h)
			}
		}},
		{name: "JSON whitespace around the object", file: stFile(" \t\r\n{ \"a\" : {\"dtype\" : \"F16\" , \"shape\":[ 2 , 2 ],\"data_offsets\":[0,8] } }\n\t \r", 8), noPeer: false},
		{name: "metadata null", file: stFile(`{"__metadata__":null}`, 0), check: func(t *testing.T, h *Header) {
			if h.Metadata != nil {
				t.Error("metadata not nil")
			}
		}, noPeer: true},
		{name: "metadata empty", file: stFile(`{"__metadata__":{}}`, 0), check: func(t *testing.T, h *Header) {
			if h.Metadata == nil || len(h.Metadata) != 0 {
				t.Errorf("metadata %v", h.Metadata)
			}
		}},
		{name: "escapes", file: stFile(`{"__metadata__":{"k\u00e9\ud83d\ude00":"a\"b\\c\/d\n\t\u0001"},"\u00e9":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, 1), check: func(t *testing.T, h *Header) {
			if h.Metadata["ké😀"] != "a\"b\\c/d\n\t\x01" || h.Tensors[0].Name != "é" {
				t.Errorf("%q %q", h.Metadata, h.Tensors[0].Name)
			}
		}},
		{name: "data order differs from key order", file: stFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},"z":{"dtype":"U8","shape":[0],"data_offsets":[2,2]},"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"e":{"dtype":"F32","shape":[0,5],"data_offsets":[3,3]}}`, 3), check: func(t *testing.T, h *Header) {
			var names []string
			for _, t := range h.Tensors {
				names = append(names, t.Name)
			}
			if strings.Join(names, ",") != "a,z,b,e" {
				t.Errorf("order %v", names)
			}
			if x, ok := h.Lookup("b"); !ok || x.Begin != 2 || x.Size() != 1 {
				t.Errorf("Lookup(b) = %+v %v", x, ok)
			}
			if _, ok := h.Lookup("nope"); ok {
				t.Error("Lookup found a missing tensor")
			}
			if h.DataSize() != 3 {
				t.Errorf("DataSize %d", h.DataSize())
			}
		}},
		{name: "newer dtypes", file: stFile(`{"a":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]},"b":{"dtype":"F6_E3M2","shape":[4],"data_offsets":[3,6]},"c":{"dtype":"C64","shape":[1],"data_offsets":[6,14]},"d":{"dtype":"F8_E5M2FNUZ","shape":[1],"data_offsets":[14,15]}}`, 15), noPeer: true},
		{name: "a name that looks reserved", file: stFile(`{"__other__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := ReadHeader(inputOf("ok.safetensors", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, h)
			}
			if !c.noPeer {
				if _, _, err := nlpst.ReadMetadata(c.file); err != nil {
					t.Errorf("nlpodyssey/safetensors refuses it: %v", err)
				}
			}
		})
	}
}

// countingReader records how far ReadHeader reads.
type countingReader struct {
	b   []byte
	max int64
}

func (r *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(r.b).ReadAt(p, off)
	r.max = max(r.max, off+int64(n))
	return n, err
}

func TestReadHeaderReadsOnlyTheHeader(t *testing.T) {
	f := stFile(`{`+okEntry+`}`, 8)
	r := &countingReader{b: f}
	if _, err := ReadHeader(Input{Name: "x", R: r, Size: int64(len(f))}); err != nil {
		t.Fatal(err)
	}
	if r.max != int64(len(f)-8) {
		t.Errorf("read up to byte %d, header ends at %d", r.max, len(f)-8)
	}
}

func TestEncodeHeaderMatchesReferenceWriter(t *testing.T) {
	// Byte vectors from huggingface/safetensors' own tests
	// (test_serialization, test_empty): "attn.0" F32 [1,2,3] and an empty
	// file with {"framework": "pt"} metadata.
	got, err := EncodeHeader(nil, []Tensor{{Name: "attn.0", DType: DTypeF32, Shape: []int64{1, 2, 3}, Begin: 0, End: 24}})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{64, 0, 0, 0, 0, 0, 0, 0}, `{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`...)
	want = append(want, bytes.Repeat([]byte{' '}, 64-len(want)+8)...)
	if !bytes.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	got, _ = EncodeHeader(map[string]string{"framework": "pt"}, nil)
	want = append([]byte{40, 0, 0, 0, 0, 0, 0, 0}, `{"__metadata__":{"framework":"pt"}}     `...)
	if !bytes.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	got, _ = EncodeHeader(nil, nil)
	if want := []byte{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '}; !bytes.Equal(got, want) {
		t.Errorf("empty: %q", got)
	}
	// serde_json escaping: no HTML escapes, raw UTF-8, \u00XX for other
	// control characters, DEL raw; metadata keys sorted.
	got, _ = EncodeHeader(map[string]string{"z": "<&>\u2028é😀", "a": "\"\\\b\f\n\r\t\x01\x1f\x7f/"}, []Tensor{{Name: "é", DType: DTypeU8, Shape: []int64{0}}})
	wantJSON := `{"__metadata__":{"a":"\"\\\b\f\n\r\t\u0001\u001f` + "\x7f" + `/","z":"<&>` + "\u2028é😀" + `"},"é":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`
	if n := binary.LittleEndian.Uint64(got); string(bytes.TrimRight(got[8:8+n], " ")) != wantJSON || (8+n)%8 != 0 || int(n)+8 != len(got) {
		t.Errorf("got  %s\nwant %s", got[8:], wantJSON)
	}
	// and it reads back
	h, err := ReadHeader(inputOf("x", got))
	if err != nil || h.Metadata["z"] != "<&>\u2028é😀" || h.Metadata["a"] != "\"\\\b\f\n\r\t\x01\x1f\x7f/" {
		t.Errorf("read back: %v %q", err, h.Metadata)
	}
}

func TestEncodeHeaderRejects(t *testing.T) {
	f16 := func(name string, b, e int64, shape ...int64) Tensor {
		return Tensor{Name: name, DType: DTypeF16, Shape: shape, Begin: b, End: e}
	}
	cases := []struct {
		name    string
		meta    map[string]string
		tensors []Tensor
		rule    error
	}{
		{"gap", nil, []Tensor{f16("a", 0, 4, 2), f16("b", 6, 10, 2)}, ErrInvalidOffset},
		{"not in data order", nil, []Tensor{f16("b", 4, 8, 2), f16("a", 0, 4, 2)}, ErrInvalidOffset},
		{"first not at 0", nil, []Tensor{f16("a", 2, 6, 2)}, ErrInvalidOffset},
		{"size", nil, []Tensor{f16("a", 0, 6, 2)}, ErrTensorInvalidInfo},
		{"duplicate", nil, []Tensor{f16("a", 0, 4, 2), f16("a", 4, 8, 2)}, ErrDuplicateKey},
		{"reserved name", nil, []Tensor{f16("__metadata__", 0, 4, 2)}, ErrInvalidName},
		{"invalid UTF-8 name", nil, []Tensor{f16("a\xff", 0, 4, 2)}, ErrInvalidName},
		{"invalid UTF-8 metadata", map[string]string{"k": "\xff"}, nil, ErrInvalidMetadata},
		{"unknown dtype", nil, []Tensor{{Name: "a", DType: "F8_E4M3FN", Shape: []int64{1}, End: 1}}, ErrUnknownDType},
		{"negative dim", nil, []Tensor{f16("a", 0, 0, -1)}, ErrInvalidShape},
		{"odd F4", nil, []Tensor{{Name: "a", DType: DTypeF4, Shape: []int64{3}, End: 2}}, ErrMisalignedSlice},
	}
	for _, c := range cases {
		_, err := EncodeHeader(c.meta, c.tensors)
		if !errors.Is(err, c.rule) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.rule)
		}
	}
}

func TestReferenceOrder(t *testing.T) {
	ts := []Tensor{
		{Name: "b.weight", DType: DTypeF16}, {Name: "position_ids", DType: DTypeI64},
		{Name: "a.weight", DType: DTypeF16}, {Name: "logit_scale", DType: DTypeF32},
		{Name: "c", DType: DTypeBF16}, {Name: "q", DType: DTypeF8E4M3}, {Name: "u", DType: DTypeU64},
		{Name: "d", DType: DTypeF64}, {Name: "B.upper", DType: DTypeF16}, {Name: "flag", DType: DTypeBOOL},
		{Name: "i8", DType: DTypeI8}, {Name: "u8", DType: DTypeU8},
	}
	ReferenceOrder(ts)
	var got []string
	for _, x := range ts {
		got = append(got, x.Name)
	}
	// U64 > I64 > F64 > F32 > BF16 > F16 > F8_E4M3 > I8 > U8 > BOOL; names byte-ordered
	want := "u,position_ids,d,logit_scale,c,B.upper,a.weight,b.weight,q,i8,u8,flag"
	if strings.Join(got, ",") != want {
		t.Errorf("order %s\nwant  %s", strings.Join(got, ","), want)
	}
}

// randomTensors makes a random valid tensor list without F8/F4/F6/C64
// dtypes (which the independent reader does not know).
func randomTensors(r *rand.Rand, n int) []Tensor {
	plain := []DType{DTypeBOOL, DTypeU8, DTypeI8, DTypeI16, DTypeU16, DTypeF16, DTypeBF16, DTypeI32, DTypeU32, DTypeF32, DTypeF64, DTypeI64, DTypeU64}
	ts := make([]Tensor, n)
	for i := range ts {
		shape := make([]int64, r.IntN(4))
		for j := range shape {
			shape[j] = int64(r.IntN(5))
		}
		ts[i] = Tensor{Name: fmt.Sprintf("t.%d.%c", r.IntN(1000), 'a'+rune(i%26)) + strings.Repeat("é", r.IntN(2)), DType: plain[r.IntN(len(plain))], Shape: shape}
		ts[i].Name += fmt.Sprint(i) // unique
	}
	return ts
}

// TestRoundTripAgainstIndependentReader writes random headers with
// ReferenceOrder + AssignOffsets + EncodeHeader, reads them back with
// ReadHeader and with github.com/nlpodyssey/safetensors, and compares.
func TestRoundTripAgainstIndependentReader(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200; iter++ {
		ts := randomTensors(r, r.IntN(12))
		ReferenceOrder(ts)
		size, err := AssignOffsets(ts)
		if err != nil {
			t.Fatal(err)
		}
		var meta map[string]string
		if iter%2 == 0 {
			meta = map[string]string{"format": "pt", "prompt": fmt.Sprintf(`{"%d": "<x>"}`, iter)}
		}
		hdr, err := EncodeHeader(meta, ts)
		if err != nil {
			t.Fatal(err)
		}
		file := append(hdr, make([]byte, size)...)
		h, err := ReadHeader(inputOf("rt", file))
		if err != nil {
			t.Fatal(err)
		}
		if h.DataStart != int64(len(hdr)) || h.DataStart%8 != 0 {
			t.Fatalf("DataStart %d, header %d bytes", h.DataStart, len(hdr))
		}
		if !equalTensors(h.Tensors, ts) {
			t.Fatalf("read back\n%+v\nwrote\n%+v", h.Tensors, ts)
		}
		if fmt.Sprint(h.Metadata) != fmt.Sprint(meta) {
			t.Fatalf("metadata %v, wrote %v", h.Metadata, meta)
		}
		// re-encoding what was read gives the same bytes
		again, err := EncodeHeader(h.Metadata, h.Tensors)
		if err != nil || !bytes.Equal(again, hdr) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		_, pm, err := nlpst.ReadMetadata(file)
		if err != nil {
			t.Fatalf("nlpodyssey/safetensors: %v\n%s", err, hdr)
		}
		pt := pm.Tensors()
		if len(pt) != len(ts) {
			t.Fatalf("peer sees %d tensors, want %d", len(pt), len(ts))
		}
		for _, x := range ts {
			info, ok := pt[x.Name]
			if !ok || info.DType.String() != string(x.DType) || info.DataOffsets != [2]uint64{uint64(x.Begin), uint64(x.End)} || len(info.Shape) != len(x.Shape) {
				t.Fatalf("peer disagrees on %q: %+v", x.Name, info)
			}
		}
		if len(meta) > 0 && fmt.Sprint(pm.Metadata()) != fmt.Sprint(meta) {
			t.Fatalf("peer metadata %v", pm.Metadata())
		}
	}
}

func equalTensors(a, b []Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].DType != b[i].DType || !slices.Equal(a[i].Shape, b[i].Shape) || a[i].Begin != b[i].Begin || a[i].End != b[i].End {
			return false
		}
	}
	return true
}

// oracleHeader builds the header the oracle's make_safetensors.py writes for
// a manifest (sorted keys, Python json) and the file size it declares.
func oracleHeader(t testing.TB, arch, manifest string) ([]byte, int64) {
	t.Helper()
	lay, err := fixture.PythonHeader(oracleManifest(t, arch, manifest), true)
	if err != nil {
		t.Fatal(err)
	}
	return lay.Header, lay.Size
}

// sizedReader serves the header and pretends the rest of a large file is
// there (ReadHeader must never read it).
type sizedReader struct{ header []byte }

func (r sizedReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(r.header)) {
		return 0, fmt.Errorf("read past the header at %d", off)
	}
	return copy(p, r.header[off:]), nil
}

func TestReadOracleHeaders(t *testing.T) {
	for _, c := range []struct{ arch, file string }{
		{"sdxl_base", "expected_checkpoint"}, {"flux_dev", "expected_checkpoint"},
		{"sd15", "unet"}, {"sd3_medium", "t5xxl"},
	} {
		hdr, size := oracleHeader(t, c.arch, c.file)
		h, err := ReadHeader(Input{Name: c.arch, R: sizedReader{hdr}, Size: size})
		if err != nil {
			t.Fatalf("%s/%s: %v", c.arch, c.file, err)
		}
		if h.DataStart+h.DataSize() != size || len(h.Tensors) < 100 {
			t.Errorf("%s/%s: %d tensors, data ends at %d of %d", c.arch, c.file, len(h.Tensors), h.DataStart+h.DataSize(), size)
		}
	}
}

func BenchmarkReadHeader(b *testing.B) {
	for _, arch := range []string{"sdxl_base", "flux_dev"} {
		hdr, size := oracleHeader(b, arch, "expected_checkpoint")
		in := Input{Name: arch, R: sizedReader{hdr}, Size: size}
		b.Run(arch, func(b *testing.B) {
			b.SetBytes(int64(len(hdr)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ReadHeader(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeHeader(b *testing.B) {
	hdr, size := oracleHeader(b, "sdxl_base", "expected_checkpoint")
	h, err := ReadHeader(Input{Name: "sdxl", R: sizedReader{hdr}, Size: size})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeHeader(h.Metadata, h.Tensors); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzReadHeader feeds arbitrary files to ReadHeader: it must never panic,
// and every header it accepts must survive re-encoding: EncodeHeader of the
// result reads back to the same tensors and metadata.
func FuzzReadHeader(f *testing.F) {
	f.Add(stFile(`{`+okEntry+`}`, 8))
	f.Add(stFile(`{"__metadata__":{"k":"v\u00e9"},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}`, 3))
	f.Add(stFile(` {"x":{"dtype":"F4","shape":[2],"data_offsets":[0,1]},"z":{"dtype":"I64","shape":[0],"data_offsets":[1,1]}} `, 1))
	f.Add(stFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, 4))
	f.Fuzz(func(t *testing.T, file []byte) {
		h, err := ReadHeader(inputOf("fuzz", file))
		if err != nil {
			var he *HeaderError
			if !errors.As(err, &he) || he.Rule == nil || !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error %q is not a *HeaderError naming the file", err)
			}
			return
		}
		enc, err := EncodeHeader(h.Metadata, h.Tensors)
		if err != nil {
			t.Fatalf("accepted header does not re-encode: %v", err)
		}
		again, err := ReadHeader(inputOf("again", append(enc, make([]byte, h.DataSize())...)))
		if err != nil {
			t.Fatalf("re-encoded header does not read: %v", err)
		}
		if !equalTensors(again.Tensors, h.Tensors) || fmt.Sprint(again.Metadata) != fmt.Sprint(h.Metadata) || (again.Metadata == nil) != (h.Metadata == nil) {
			t.Fatalf("re-encoded header reads differently")
		}
	})
}
