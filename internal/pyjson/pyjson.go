// Package pyjson re-encodes JSON text exactly as Python's
// json.dumps(json.loads(raw)) does, which is how ComfyUI's CheckpointSave
// writes the prompt and workflow into a checkpoint's metadata.
package pyjson

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ckptpack/ckptpack/internal/jsonlex"
)

// ErrInvalid: the text is not JSON that Python's json.loads accepts.
var ErrInvalid = errors.New("invalid JSON")

// Member is one member of a JSON object, its value re-encoded by Dumps
// rules.
type Member struct {
	Key   string
	Value string
}

// Dumps re-encodes JSON text exactly as Python's
// json.dumps(json.loads(raw)) does with default arguments, which is what
// ComfyUI's CheckpointSave writes for the prompt and each extra_pnginfo
// value:
//
//   - separators ", " and ": ", no indentation; {} and [] for empty
//     containers;
//   - ensure_ascii: '"' '\\' \n \r \t \b \f escaped by name, every other
//     character outside ' '..'~' (DEL included) as \uXXXX in lower-case hex,
//     characters above U+FFFF as surrogate pairs; no HTML escaping ("<" "&"
//     stay); "/" is not escaped. Lone surrogates (legal in Python strings
//     via "\ud800") are kept as escapes;
//   - object keys in input order; a repeated key keeps its first position
//     and its last value (a Python dict);
//   - integers (no fraction or exponent) printed as Python ints: the digits
//     as written, any size ("-0" becomes "0"); numbers with a fraction or
//     exponent are Python floats, printed by float.__repr__: the shortest
//     digits that round-trip, positional from 1e-4 up to below 1e16 with at
//     least one decimal ("1.0", "100000.0" for 1e5), else scientific with a
//     signed two-digit exponent ("1e+16", "1.5e-05"); overflow gives
//     Infinity, and NaN/Infinity/-Infinity in the input (json.loads accepts
//     them) are written back as such;
//   - true, false and null unchanged.
//
// Input must be valid UTF-8 JSON (any value at the top level); control
// characters inside strings are refused as by json.loads' strict mode.
func Dumps(raw string) (string, error) {
	p := pyParser{s: raw}
	v, err := p.document()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(raw) + len(raw)/8)
	v.write(&b)
	return b.String(), nil
}

// DumpsMembers parses a JSON object and returns its members in dict order
// with each value re-encoded by Dumps rules: ComfyUI's
// `for x in extra_pnginfo: metadata[x] = json.dumps(extra_pnginfo[x])`.
func DumpsMembers(raw string) ([]Member, error) {
	p := pyParser{s: raw}
	v, err := p.document()
	if err != nil {
		return nil, err
	}
	if v.kind != pyObject {
		return nil, fmt.Errorf("%w: expected a JSON object", ErrInvalid)
	}
	out := make([]Member, len(v.keys))
	for i, k := range v.keys {
		var b strings.Builder
		v.items[i].write(&b)
		out[i] = Member{Key: k.goString(), Value: b.String()}
	}
	return out, nil
}

type pyKind uint8

const (
	pyLiteral pyKind = iota // true false null NaN Infinity -Infinity and numbers, pre-formatted
	pyString
	pyArray
	pyObject
)

// pyValue is a parsed JSON value. Strings are kept as UTF-16-ish code points
// (runes that may be lone surrogates), as Python str holds them.
type pyValue struct {
	kind  pyKind
	text  string    // pyLiteral: output text
	str   pyStr     // pyString
	keys  []pyStr   // pyObject
	items []pyValue // pyArray elements, pyObject values
}

type pyStr []rune

func (s pyStr) goString() string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // lone surrogates become U+FFFD in Go strings
	}
	return b.String()
}

func (s pyStr) equal(t pyStr) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

func (v *pyValue) write(b *strings.Builder) {
	switch v.kind {
	case pyLiteral:
		b.WriteString(v.text)
	case pyString:
		writePyStr(b, v.str)
	case pyArray:
		b.WriteByte('[')
		for i := range v.items {
			if i > 0 {
				b.WriteString(", ")
			}
			v.items[i].write(b)
		}
		b.WriteByte(']')
	case pyObject:
		b.WriteByte('{')
		for i := range v.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyStr(b, v.keys[i])
			b.WriteString(": ")
			v.items[i].write(b)
		}
		b.WriteByte('}')
	}
}

// Quote returns s as json.dumps writes a str with ensure_ascii (the
// default): \" \\ \n \r \t \b \f, other characters outside ' '..'~' as
// \uXXXX in lower-case hex, surrogate pairs above U+FFFF.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	writePyStr(&b, pyStr(s))
	return b.String()
}

// writePyStr writes s as json.dumps with ensure_ascii does (py_encode_basestring_ascii).
func writePyStr(b *strings.Builder, s pyStr) {
	const hex = "0123456789abcdef"
	u := func(c rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[c>>12&15])
		b.WriteByte(hex[c>>8&15])
		b.WriteByte(hex[c>>4&15])
		b.WriteByte(hex[c&15])
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteByte(byte(r))
		case r > 0xFFFF:
			r -= 0x10000
			u(0xD800 | (r>>10)&0x3FF)
			u(0xDC00 | r&0x3FF)
		default:
			u(r)
		}
	}
	b.WriteByte('"')
}

// maxPyDepth mirrors Python's default recursion limit, which json.loads hits
// on deeper nesting.
const maxPyDepth = 1000

// maxPyIntDigits is Python's default int_max_str_digits: json.loads refuses
// longer integers.
const maxPyIntDigits = 4300

type pyParser struct {
	s     string
	pos   int
	depth int
}

func (p *pyParser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d", ErrInvalid, fmt.Sprintf(format, args...), p.pos)
}

func (p *pyParser) skip() {
	p.pos = jsonlex.SkipSpace(p.s, p.pos)
}

func (p *pyParser) document() (pyValue, error) {
	if !utf8.ValidString(p.s) {
		return pyValue{}, fmt.Errorf("%w: not valid UTF-8", ErrInvalid)
	}
	v, err := p.value()
	if err != nil {
		return v, err
	}
	p.skip()
	if p.pos != len(p.s) {
		return v, p.fail("extra data")
	}
	return v, nil
}

func (p *pyParser) value() (pyValue, error) {
	p.skip()
	if p.pos >= len(p.s) {
		return pyValue{}, p.fail("expecting value")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		return pyValue{kind: pyString, str: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		if strings.HasPrefix(p.s[p.pos:], "-Infinity") {
			p.pos += len("-Infinity")
			return pyValue{text: "-Infinity"}, nil
		}
		return p.number()
	}
	for _, lit := range []string{"true", "false", "null", "NaN", "Infinity"} {
		if strings.HasPrefix(p.s[p.pos:], lit) {
			p.pos += len(lit)
			return pyValue{text: lit}, nil
		}
	}
	return pyValue{}, p.fail("expecting value")
}

func (p *pyParser) enter() error {
	p.depth++
	if p.depth > maxPyDepth {
		return p.fail("nested deeper than %d", maxPyDepth)
	}
	return nil
}

func (p *pyParser) object() (pyValue, error) {
	if err := p.enter(); err != nil {
		return pyValue{}, err
	}
	defer func() { p.depth-- }()
	p.pos++ // '{'
	v := pyValue{kind: pyObject}
	p.skip()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	for {
		p.skip()
		if p.pos >= len(p.s) || p.s[p.pos] != '"' {
			return v, p.fail("expecting property name enclosed in double quotes")
		}
		k, err := p.str()
		if err != nil {
			return v, err
		}
		p.skip()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return v, p.fail("expecting ':' delimiter")
		}
		p.pos++
		item, err := p.value()
		if err != nil {
			return v, err
		}
		dup := -1
		for i := range v.keys {
			if v.keys[i].equal(k) {
				dup = i
				break
			}
		}
		if dup >= 0 {
			v.items[dup] = item // a dict keeps the first position, the last value
		} else {
			v.keys = append(v.keys, k)
			v.items = append(v.items, item)
		}
		p.skip()
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			return v, nil
		}
		return v, p.fail("expecting ',' delimiter")
	}
}

func (p *pyParser) array() (pyValue, error) {
	if err := p.enter(); err != nil {
		return pyValue{}, err
	}
	defer func() { p.depth-- }()
	p.pos++ // '['
	v := pyValue{kind: pyArray}
	p.skip()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		item, err := p.value()
		if err != nil {
			return v, err
		}
		v.items = append(v.items, item)
		p.skip()
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.s) && p.s[p.pos] == ']' {
			p.pos++
			return v, nil
		}
		return v, p.fail("expecting ',' delimiter")
	}
}

// str parses a string the way json.loads does (strict): control characters
// refused, escapes decoded, a \u high surrogate followed by a \u low
// surrogate combined, any other surrogate kept alone.
func (p *pyParser) str() (pyStr, error) {
	p.pos++ // '"'
	var out pyStr
	for {
		r, next, st := jsonlex.StringChar(p.s, p.pos)
		p.pos = next
		switch st {
		case jsonlex.Char:
			out = append(out, r)
		case jsonlex.Quote:
			return out, nil
		case jsonlex.Control:
			return nil, p.fail("invalid control character")
		case jsonlex.BadUnicode:
			return nil, p.fail("invalid \\uXXXX escape")
		case jsonlex.BadEscape:
			return nil, p.fail("invalid \\escape")
		default:
			return nil, p.fail("unterminated string")
		}
	}
}

// number parses -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)? as json.loads does and
// formats it as Python prints the resulting int or float.
func (p *pyParser) number() (pyValue, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	neg := p.s[p.pos] == '-'
	if neg {
		p.pos++
	}
	intStart := p.pos
	if p.pos < len(p.s) && p.s[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return pyValue{}, p.fail("expecting value")
	}
	intText := p.s[intStart:p.pos]
	isFloat := false
	if p.pos+1 < len(p.s) && p.s[p.pos] == '.' && p.s[p.pos+1] >= '0' && p.s[p.pos+1] <= '9' {
		p.pos++
		digits()
		isFloat = true
	}
	if p.pos < len(p.s) && (p.s[p.pos] == 'e' || p.s[p.pos] == 'E') {
		save := p.pos
		p.pos++
		if p.pos < len(p.s) && (p.s[p.pos] == '+' || p.s[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			p.pos = save // "1e" is the number 1 followed by extra data
		} else {
			isFloat = true
		}
	}
	if !isFloat {
		if len(intText) > maxPyIntDigits {
			return pyValue{}, p.fail("integer with more than %d digits", maxPyIntDigits)
		}
		if intText == "0" || !neg {
			return pyValue{text: intText}, nil
		}
		return pyValue{text: "-" + intText}, nil
	}
	f, err := strconv.ParseFloat(p.s[start:p.pos], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return pyValue{}, p.fail("invalid number %q", p.s[start:p.pos])
	}
	return pyValue{text: FloatRepr(f)}, nil
}

// FloatRepr formats f as Python's repr(float) (and json.dumps) does.
func FloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	// Shortest round-trip digits and decimal exponent, then Python's
	// float_repr_style 'r' layout: positional when -4 <= exp < 16.
	e := strconv.FormatFloat(f, 'e', -1, 64) // [-]d[.ddd]e±XX
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	digs := strings.Replace(mant, ".", "", 1)
	if exp < -4 || exp >= 16 {
		out := digs[:1]
		if len(digs) > 1 {
			out += "." + digs[1:]
		}
		es := "+"
		if exp < 0 {
			es, exp = "-", -exp
		}
		if exp < 10 {
			es += "0"
		}
		return sign + out + "e" + es + strconv.Itoa(exp)
	}
	var out string
	switch {
	case exp < 0:
		out = "0." + strings.Repeat("0", -exp-1) + digs
	case exp+1 >= len(digs):
		out = digs + strings.Repeat("0", exp+1-len(digs)) + ".0"
	default:
		out = digs[:exp+1] + "." + digs[exp+1:]
	}
	return sign + out
}
