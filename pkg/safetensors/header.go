package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ckptpack/ckptpack/internal/jsonlex"
)

// MaxHeaderSize is the reference reader's limit on N, the header's JSON length.
const MaxHeaderSize = 100_000_000

// Tensor is one entry of a safetensors header. Begin and End are relative to
// the start of the data section, as in the file.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64
	Begin int64
	End   int64
}

// Header is a parsed and validated safetensors header.
type Header struct {
	Metadata  map[string]string // nil when the file has no __metadata__
	Tensors   []Tensor          // in data order (sorted by Begin)
	DataStart int64             // 8 + N: absolute offset of the data section

	index map[string]int // name → position in Tensors
}

// Lookup returns the tensor called name.
func (h *Header) Lookup(name string) (*Tensor, bool) {
	if h.index == nil {
		h.index = make(map[string]int, len(h.Tensors))
		for i := range h.Tensors {
			h.index[h.Tensors[i].Name] = i
		}
	}
	i, ok := h.index[name]
	if !ok {
		return nil, false
	}
	return &h.Tensors[i], true
}

// DataSize is the length of the data section (the last tensor's End).
func (h *Header) DataSize() int64 {
	if len(h.Tensors) == 0 {
		return 0
	}
	return h.Tensors[len(h.Tensors)-1].End
}

// ReadHeader reads and validates the header of in, reading only the first
// 8+N bytes. It applies every rule of the reference safetensors reader
// (SafeTensors::read_metadata and Metadata::validate):
//
//   - at least 8 bytes; N (little-endian u64) at most MaxHeaderSize; 8+N
//     within the file;
//   - the header UTF-8, one JSON object and nothing after it but JSON
//     whitespace. Leading JSON whitespace (space, tab, CR, LF) before the
//     "{" is accepted, as by the current reference reader (safetensors PR
//     #686 allows padding on either side); older readers never checked the
//     first byte either. Trailing padding may be any JSON whitespace too;
//   - __metadata__ absent, null or an object of strings to strings;
//   - every other member a tensor entry with exactly the fields dtype (a
//     known dtype), shape (non-negative integers) and data_offsets (exactly
//     two non-negative integers);
//   - elements × bits without overflow and a whole number of bytes,
//     end − begin equal to that;
//   - sorted by data_offsets, the tensors tile the data section: the first
//     begins at 0, each begins where the previous ended, and the last ends
//     at the end of the file (no gaps, overlaps or trailing bytes).
//
// It is stricter than the reference reader in two ways that only refuse
// ambiguous files: duplicate keys (tensor names, metadata keys, entry
// fields) are errors rather than "last one wins", and unknown fields in an
// entry are errors. Errors are *HeaderError values naming in.Name, the
// tensor and the rule (an Err… sentinel, usable with errors.Is).
func ReadHeader(in Input) (*Header, error) {
	fail := func(rule error, detail string, err error) (*Header, error) {
		return nil, &HeaderError{File: in.Name, Rule: rule, Detail: detail, Err: err}
	}
	if in.R == nil {
		return fail(ErrReadFailed, "no reader", nil)
	}
	if in.Size < 8 {
		return fail(ErrHeaderTooSmall, fmt.Sprintf("%d bytes", in.Size), nil)
	}
	var lenBuf [8]byte
	if err := readFullAt(in.R, lenBuf[:], 0); err != nil {
		return fail(ErrReadFailed, "first 8 bytes", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize || int64(n) > in.Size-8 {
		e := &HeaderError{File: in.Name, Rule: ErrHeaderTooLarge, Detail: fmt.Sprintf("N = %d", n)}
		if n <= MaxHeaderSize {
			e.Rule, e.Detail = ErrInvalidHeaderLength, fmt.Sprintf("8 + N = %d bytes, file has %d", 8+n, in.Size)
		}
		head := make([]byte, min(in.Size, 512))
		if readFullAt(in.R, head, 0) == nil {
			e.Looks = looksLike(head)
		}
		return nil, e
	}
	raw := make([]byte, n)
	if err := readFullAt(in.R, raw, 8); err != nil {
		return fail(ErrReadFailed, fmt.Sprintf("%d header bytes", n), err)
	}
	return parseHeader(in.Name, raw, in.Size)
}

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

// ParseHeader validates raw, the N header bytes after the length, of a file
// of fileSize bytes (so that the data section can be checked), exactly as
// ReadHeader does. name is used in errors.
func ParseHeader(name string, raw []byte, fileSize int64) (*Header, error) {
	if len(raw) > MaxHeaderSize {
		return nil, &HeaderError{File: name, Rule: ErrHeaderTooLarge, Detail: fmt.Sprintf("N = %d", len(raw))}
	}
	if int64(len(raw)) > fileSize-8 {
		return nil, &HeaderError{File: name, Rule: ErrInvalidHeaderLength, Detail: fmt.Sprintf("8 + N = %d bytes, file has %d", 8+len(raw), fileSize)}
	}
	return parseHeader(name, raw, fileSize)
}

func parseHeader(name string, raw []byte, fileSize int64) (*Header, error) {
	if !utf8.Valid(raw) {
		i := 0
		for i < len(raw) {
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		return nil, &HeaderError{File: name, Rule: ErrInvalidUTF8, Detail: fmt.Sprintf("at byte %d of the header", i)}
	}
	p := headerParser{buf: raw, file: name}
	h, err := p.parse()
	if err != nil {
		return nil, err
	}
	h.DataStart = 8 + int64(len(raw))
	if err := validateLayout(name, h.Tensors, fileSize-h.DataStart); err != nil {
		return nil, err
	}
	return h, nil
}

// validateLayout sorts ts by data_offsets (stable, so equal offsets keep
// file order) and applies Metadata::validate: each tensor begins where the
// previous ended (the first at 0) and does not end before it begins, its
// size matches shape × dtype, and the last ends at dataLen.
func validateLayout(file string, ts []Tensor, dataLen int64) error {
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].Begin != ts[j].Begin {
			return ts[i].Begin < ts[j].Begin
		}
		return ts[i].End < ts[j].End
	})
	var pos int64
	for i := range ts {
		if herr := checkSpan(&ts[i], pos); herr != nil {
			herr.File = file
			return herr
		}
		pos = ts[i].End
	}
	if pos != dataLen {
		detail := fmt.Sprintf("tensors end at %d, data section is %d bytes", pos, dataLen)
		if pos < dataLen {
			detail += ": trailing bytes"
		} else {
			detail += ": file truncated"
		}
		return &HeaderError{File: file, Rule: ErrIncompleteBuffer, Detail: detail}
	}
	return nil
}

// checkSpan applies Metadata::validate to the next tensor of a data section
// whose tensors so far end at pos: it begins at pos and does not end before
// it begins, and its size matches shape × dtype.
func checkSpan(t *Tensor, pos int64) *HeaderError {
	if t.Begin != pos || t.End < t.Begin {
		what := fmt.Sprintf("data_offsets [%d, %d], expected to begin at %d", t.Begin, t.End, pos)
		switch {
		case t.End < t.Begin:
			what = fmt.Sprintf("data_offsets [%d, %d] end before they begin", t.Begin, t.End)
		case t.Begin > pos:
			what += ": a gap of " + strconv.FormatInt(t.Begin-pos, 10) + " bytes"
		default:
			what += ": overlaps the previous tensor"
		}
		return &HeaderError{Tensor: t.Name, Rule: ErrInvalidOffset, Detail: what}
	}
	want, herr := tensorBytes(t.DType, t.Shape)
	if herr != nil {
		herr.Tensor = t.Name
		return herr
	}
	if t.End-t.Begin != want {
		return &HeaderError{Tensor: t.Name, Rule: ErrTensorInvalidInfo,
			Detail: fmt.Sprintf("%s %v takes %d bytes, data_offsets [%d, %d] span %d", t.DType, t.Shape, want, t.Begin, t.End, t.End-t.Begin)}
	}
	return nil
}

// headerParser is a strict parser for the one JSON shape a safetensors
// header has. It walks the bytes once, builds []Tensor directly (no
// map[string]any) and, unlike encoding/json, sees duplicate keys.
type headerParser struct {
	buf     []byte
	pos     int
	file    string
	scratch []byte
}

func (p *headerParser) errAt(tensor string, rule error, format string, args ...any) error {
	return &HeaderError{File: p.file, Tensor: tensor, Rule: rule,
		Detail: fmt.Sprintf(format, args...) + fmt.Sprintf(" at byte %d of the header", p.pos)}
}

func (p *headerParser) skipSpace() {
	p.pos = jsonlex.SkipSpace(p.buf, p.pos)
}

// next skips whitespace and returns the next byte (0 at the end).
func (p *headerParser) next() byte {
	p.skipSpace()
	if p.pos >= len(p.buf) {
		return 0
	}
	return p.buf[p.pos]
}

func (p *headerParser) expect(tensor string, c byte, what string) error {
	if p.next() != c {
		return p.errAt(tensor, ErrInvalidJSON, "expected %s, found %s", what, p.found())
	}
	p.pos++
	return nil
}

func (p *headerParser) found() string {
	if p.pos >= len(p.buf) {
		return "the end"
	}
	r, _ := utf8.DecodeRune(p.buf[p.pos:])
	return strconv.QuoteRune(r)
}

func (p *headerParser) parse() (*Header, error) {
	h := &Header{}
	if err := p.expect("", '{', `"{"`); err != nil {
		return nil, err
	}
	// Tensors are about 130 header bytes each in real files.
	h.Tensors = make([]Tensor, 0, len(p.buf)/128+1)
	h.index = make(map[string]int, cap(h.Tensors))
	seenMeta := false
	if p.next() == '}' {
		p.pos++
	} else {
		for {
			if p.next() != '"' {
				return nil, p.errAt("", ErrInvalidJSON, "expected a key, found %s", p.found())
			}
			key, err := p.parseString("")
			if err != nil {
				return nil, err
			}
			if err := p.expect(key, ':', `":"`); err != nil {
				return nil, err
			}
			if key == "__metadata__" {
				if seenMeta {
					return nil, p.errAt("", ErrDuplicateKey, "__metadata__ appears twice")
				}
				seenMeta = true
				if h.Metadata, err = p.parseMetadata(); err != nil {
					return nil, err
				}
			} else {
				if _, dup := h.index[key]; dup {
					return nil, p.errAt(key, ErrDuplicateKey, "tensor appears twice")
				}
				t, err := p.parseEntry(key)
				if err != nil {
					return nil, err
				}
				h.index[key] = len(h.Tensors)
				h.Tensors = append(h.Tensors, t)
			}
			c := p.next()
			if c == ',' {
				p.pos++
				continue
			}
			if c == '}' {
				p.pos++
				break
			}
			return nil, p.errAt(key, ErrInvalidJSON, `expected "," or "}" after the entry, found %s`, p.found())
		}
	}
	p.skipSpace()
	if p.pos != len(p.buf) {
		return nil, p.errAt("", ErrInvalidJSON, "trailing characters after the header object: %s", p.found())
	}
	// The index is rebuilt on demand after validateLayout reorders Tensors.
	h.index = nil
	return h, nil
}

func (p *headerParser) parseMetadata() (map[string]string, error) {
	switch p.next() {
	case 'n':
		if err := p.literal("null"); err != nil {
			return nil, err
		}
		return nil, nil
	case '{':
		p.pos++
	default:
		return nil, p.errAt("", ErrInvalidMetadata, "__metadata__ is %s, not an object", p.found())
	}
	m := map[string]string{}
	if p.next() == '}' {
		p.pos++
		return m, nil
	}
	for {
		if p.next() != '"' {
			return nil, p.errAt("", ErrInvalidMetadata, "expected a key, found %s", p.found())
		}
		k, err := p.parseString("")
		if err != nil {
			return nil, err
		}
		if err := p.expect("", ':', `":"`); err != nil {
			return nil, err
		}
		if p.next() != '"' {
			return nil, p.errAt("", ErrInvalidMetadata, "value of %q is %s, not a string", k, p.found())
		}
		v, err := p.parseString("")
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, p.errAt("", ErrDuplicateKey, "metadata key %q appears twice", k)
		}
		m[k] = v
		switch p.next() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return m, nil
		default:
			return nil, p.errAt("", ErrInvalidJSON, `expected "," or "}" in __metadata__, found %s`, p.found())
		}
	}
}

func (p *headerParser) literal(word string) error {
	if !strings.HasPrefix(string(p.buf[p.pos:min(len(p.buf), p.pos+len(word))]), word) {
		return p.errAt("", ErrInvalidJSON, "invalid literal %s", p.found())
	}
	p.pos += len(word)
	return nil
}

func (p *headerParser) parseEntry(name string) (Tensor, error) {
	t := Tensor{Name: name}
	if p.next() != '{' {
		return t, p.errAt(name, ErrInvalidEntry, "entry is %s, not an object", p.found())
	}
	p.pos++
	var have [3]bool // dtype, shape, data_offsets
	if p.next() != '}' {
		for {
			if p.next() != '"' {
				return t, p.errAt(name, ErrInvalidJSON, "expected a field name, found %s", p.found())
			}
			fieldBytes, err := p.parseBytes(name)
			if err != nil {
				return t, err
			}
			field := knownField(fieldBytes)
			if err := p.expect(name, ':', `":"`); err != nil {
				return t, err
			}
			var slot int
			switch field {
			case "dtype":
				slot = 0
				if p.next() != '"' {
					return t, p.errAt(name, ErrInvalidEntry, "dtype is %s, not a string", p.found())
				}
				s, err := p.parseBytes(name)
				if err != nil {
					return t, err
				}
				d, ok := dtypeByName[string(s)]
				if !ok {
					return t, p.errAt(name, ErrUnknownDType, "%q", s)
				}
				t.DType = d
			case "shape":
				slot = 1
				if t.Shape, err = p.parseInts(make([]int64, 0, 4), name, "shape", ErrInvalidShape); err != nil {
					return t, err
				}
			case "data_offsets":
				slot = 2
				var buf [3]int64
				offs, err := p.parseInts(buf[:0], name, "data_offsets", ErrInvalidOffsets)
				if err != nil {
					return t, err
				}
				if len(offs) != 2 {
					return t, p.errAt(name, ErrInvalidOffsets, "%d numbers", len(offs))
				}
				t.Begin, t.End = offs[0], offs[1]
			default:
				return t, p.errAt(name, ErrInvalidEntry, "unknown field %q", field)
			}
			if have[slot] {
				return t, p.errAt(name, ErrDuplicateKey, "field %q appears twice", field)
			}
			have[slot] = true
			c := p.next()
			if c == ',' {
				p.pos++
				continue
			}
			if c == '}' {
				break
			}
			return t, p.errAt(name, ErrInvalidJSON, `expected "," or "}" in the entry, found %s`, p.found())
		}
	}
	p.pos++ // '}'
	for i, f := range []string{"dtype", "shape", "data_offsets"} {
		if !have[i] {
			return t, p.errAt(name, ErrInvalidEntry, "no %s", f)
		}
	}
	return t, nil
}

// knownField returns the entry field name b spells, without allocating for
// the three known ones.
func knownField(b []byte) string {
	switch string(b) {
	case "dtype":
		return "dtype"
	case "shape":
		return "shape"
	case "data_offsets":
		return "data_offsets"
	}
	return string(b)
}

// maxHeaderInt bounds the integers of a header: larger ones cannot describe
// a file, and bounding them keeps all size arithmetic free of overflow.
const maxHeaderInt = 1 << 62

// parseInts parses an array of non-negative integers. rule is the error for
// anything else (negative, fraction, exponent, not a number).
func (p *headerParser) parseInts(out []int64, name, what string, rule error) ([]int64, error) {
	if p.next() != '[' {
		return nil, p.errAt(name, rule, "%s is %s, not a list", what, p.found())
	}
	p.pos++
	if p.next() == ']' {
		p.pos++
		return out, nil
	}
	for {
		c := p.next()
		if c < '0' || c > '9' {
			return nil, p.errAt(name, rule, "%s holds %s, not a non-negative integer", what, p.found())
		}
		start := p.pos
		var v int64
		for p.pos < len(p.buf) && p.buf[p.pos] >= '0' && p.buf[p.pos] <= '9' {
			if v > maxHeaderInt/10 {
				return nil, p.errAt(name, ErrValidationOverflow, "%s holds a number above 2^62", what)
			}
			v = v*10 + int64(p.buf[p.pos]-'0')
			p.pos++
		}
		if v > maxHeaderInt {
			return nil, p.errAt(name, ErrValidationOverflow, "%s holds a number above 2^62", what)
		}
		if p.buf[start] == '0' && p.pos-start > 1 {
			return nil, p.errAt(name, ErrInvalidJSON, "number with a leading zero in %s", what)
		}
		if p.pos < len(p.buf) && (p.buf[p.pos] == '.' || p.buf[p.pos] == 'e' || p.buf[p.pos] == 'E') {
			return nil, p.errAt(name, rule, "%s holds a number that is not an integer", what)
		}
		out = append(out, v)
		switch p.next() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return out, nil
		default:
			return nil, p.errAt(name, ErrInvalidJSON, `expected "," or "]" in %s, found %s`, what, p.found())
		}
	}
}

// parseString parses a JSON string at p.pos (which holds '"').
func (p *headerParser) parseString(tensor string) (string, error) {
	b, err := p.parseBytes(tensor)
	return string(b), err
}

// parseBytes parses a JSON string at p.pos (which holds '"') the way
// serde_json does: control characters must be escaped, \u escapes must
// form valid UTF-16 (a lone surrogate is an error). The result aliases the
// header or a scratch buffer: valid until the next call.
func (p *headerParser) parseBytes(tensor string) ([]byte, error) {
	p.pos++ // opening quote
	start := p.pos
	for p.pos < len(p.buf) {
		c := p.buf[p.pos]
		if c == '"' {
			s := p.buf[start:p.pos]
			p.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.pos++
	}
	// slow path: escapes (and errors)
	b := append(p.scratch[:0], p.buf[start:p.pos]...)
	for {
		r, next, st := jsonlex.StringChar(p.buf, p.pos)
		p.pos = next
		switch st {
		case jsonlex.Char:
			if utf16.IsSurrogate(r) {
				return nil, p.errAt(tensor, ErrInvalidJSON, `lone surrogate \u%04x in a string`, r)
			}
			b = utf8.AppendRune(b, r)
		case jsonlex.Quote:
			p.scratch = b
			return b, nil
		case jsonlex.Control:
			return nil, p.errAt(tensor, ErrInvalidJSON, "control character %#x in a string", r)
		case jsonlex.BadUnicode:
			return nil, p.errAt(tensor, ErrInvalidJSON, `invalid \u escape`)
		case jsonlex.BadEscape:
			return nil, p.errAt(tensor, ErrInvalidJSON, "invalid escape \\%c", p.buf[p.pos-1])
		default:
			return nil, p.errAt(tensor, ErrInvalidJSON, "unterminated string")
		}
	}
}

// EncodeHeader returns the 8+N header bytes for metadata and tensors, byte
// for byte as the Python safetensors writer (Rust serde_json, compact)
// writes them: "{" first, "__metadata__" first (left out when metadata is
// nil, written as {} when empty), then the tensors in the given order with
// the fields dtype, shape, data_offsets, padded with spaces so that 8+N is
// a multiple of 8. Strings are escaped as serde_json does (\" \\ \b \f \n
// \r \t, other control characters as \u00XX; everything else, non-ASCII
// included, as raw UTF-8; no HTML escaping).
//
// The reference writer keeps metadata in a hash map, so its key order is
// not reproducible; EncodeHeader writes metadata keys sorted (byte order),
// as the bindings that use a BTreeMap do. No reader depends on it.
//
// The tensors' offsets must already tile the data section in the given
// order (the first at 0, each beginning where the previous ended), and
// every size must match shape × dtype: see ReferenceOrder and AssignOffsets.
func EncodeHeader(metadata map[string]string, tensors []Tensor) ([]byte, error) {
	bad := func(tensor string, rule error, detail string) ([]byte, error) {
		return nil, &HeaderError{Tensor: tensor, Rule: rule, Detail: detail}
	}
	size := 64
	for k, v := range metadata {
		size += len(k) + len(v) + 6
	}
	for i := range tensors {
		size += len(tensors[i].Name) + 64 + 8*len(tensors[i].Shape)
	}
	b := make([]byte, 8, size+8)
	b = append(b, '{')
	if metadata != nil {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(metadata[k]) {
				return bad("", ErrInvalidMetadata, fmt.Sprintf("key %q or its value is not valid UTF-8", k))
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `"__metadata__":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSerdeString(b, k)
			b = append(b, ':')
			b = appendSerdeString(b, metadata[k])
		}
		b = append(b, '}')
	}
	seen := make(map[string]struct{}, len(tensors))
	var pos int64
	for i := range tensors {
		t := &tensors[i]
		if t.Name == "__metadata__" || !utf8.ValidString(t.Name) {
			return bad(t.Name, ErrInvalidName, "reserved name or invalid UTF-8")
		}
		if _, dup := seen[t.Name]; dup {
			return bad(t.Name, ErrDuplicateKey, "tensor appears twice")
		}
		seen[t.Name] = struct{}{}
		if herr := checkSpan(t, pos); herr != nil {
			if herr.Rule == ErrInvalidOffset {
				herr.Detail += " (tensors must be given in data order)"
			}
			return nil, herr
		}
		pos = t.End
		if metadata != nil || i > 0 {
			b = append(b, ',')
		}
		b = appendSerdeString(b, t.Name)
		b = append(b, `:{"dtype":"`...)
		b = append(b, t.DType...)
		b = append(b, `","shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, d, 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, t.Begin, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, t.End, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	n := len(b) - 8
	if n > MaxHeaderSize {
		return bad("", ErrHeaderTooLarge, fmt.Sprintf("N = %d", n))
	}
	binary.LittleEndian.PutUint64(b[:8], uint64(n))
	return b, nil
}

// appendSerdeString appends s as a JSON string the way serde_json writes it.
func appendSerdeString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ReferenceOrder sorts tensors into the order the safetensors reference
// writer (safetensors.torch.save_file, which most model tools save with)
// lays them out in: by dtype descending in the Rust Dtype enum's order, then
// by name ascending (byte order). The enum order is
//
//	BOOL < F4 < F6_E2M3 < F6_E3M2 < U8 < I8 < F8_E5M2 < F8_E4M3 < F8_E8M0 <
//	F8_E4M3FNUZ < F8_E5M2FNUZ < I16 < U16 < F16 < BF16 < I32 < U32 < F32 <
//	C64 < F64 < I64 < U64
//
// so, for example, a file of I64, F32 and F16 tensors holds the I64 ones
// first, then the F32 tensors, then the F16 ones, each group by name. (The source calls
// it "descending dtype alignment", but it is the enum order, not the size:
// U64 > I64 > F64 > C64.) Unknown dtypes sort last. The sort is in place.
func ReferenceOrder(tensors []Tensor) {
	// Rank every tensor once and sort small keys rather than comparing
	// whole Tensors through a map lookup per comparison. The index as the
	// last key keeps the sort stable for repeated names.
	type key struct {
		rank int
		name string
		i    int
	}
	keys := make([]key, len(tensors))
	for i := range tensors {
		rank := -1
		if info, ok := dtypeTable[tensors[i].DType]; ok {
			rank = info.rank
		}
		keys[i] = key{rank, tensors[i].Name, i}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.rank != b.rank {
			return b.rank - a.rank
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return a.i - b.i
	})
	sorted := make([]Tensor, len(tensors))
	for i, k := range keys {
		sorted[i] = tensors[k.i]
	}
	copy(tensors, sorted)
}

// AssignOffsets packs tensors back to back in the given order, as the
// reference writer does (no alignment padding between tensors): it sets
// each Begin and End from shape × dtype and returns the data section's size.
func AssignOffsets(tensors []Tensor) (int64, error) {
	var pos int64
	for i := range tensors {
		t := &tensors[i]
		n, herr := tensorBytes(t.DType, t.Shape)
		if herr != nil {
			herr.Tensor = t.Name
			return 0, herr
		}
		if pos > maxHeaderInt-n {
			return 0, &HeaderError{Tensor: t.Name, Rule: ErrValidationOverflow, Detail: "data section too large"}
		}
		t.Begin, t.End = pos, pos+n
		pos += n
	}
	return pos, nil
}
