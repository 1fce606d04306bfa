// Package jsonlex is the JSON lexing shared by the project's two
// hand-written JSON parsers: the strict safetensors header parser
// (pkg/checkpoint) and the Python json.dumps re-encoder (internal/pyjson).
// Both need what encoding/json does not give: byte positions for errors,
// duplicate keys, and lone UTF-16 surrogates in strings (kept by json.loads,
// refused by serde_json). The lexer decodes; each parser keeps its own
// policy and error messages.
package jsonlex

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Text is the input of the lexer: header bytes or a Go string.
type Text interface{ ~string | ~[]byte }

// SkipSpace returns the position of the first byte at or after pos that is
// not JSON whitespace (space, tab, LF, CR).
func SkipSpace[T Text](s T, pos int) int {
	for pos < len(s) {
		switch s[pos] {
		case ' ', '\t', '\n', '\r':
			pos++
		default:
			return pos
		}
	}
	return pos
}

// Status is what StringChar found.
type Status uint8

const (
	Char         Status = iota // a character of the string
	Quote                      // the closing quote
	Unterminated               // the input ends inside the string
	Control                    // an unescaped control character (below U+0020)
	BadEscape                  // a backslash followed by no JSON escape letter
	BadUnicode                 // \u not followed by four hex digits
)

// StringChar reads one character of a JSON string body at s[pos:], which
// must be valid UTF-8. It returns the character, the position after it and
// Char; or Quote and the position after the closing quote; or a problem and
// the position to report it at: the control character itself, the end of
// the input (or the backslash that ends it), just after an invalid escape,
// or just after the "\u" of an invalid \u escape.
//
// A \u high surrogate directly followed by a \u low surrogate is combined
// into one character. Any other surrogate is returned alone (r is then
// utf16.IsSurrogate): Python's json.loads keeps it, serde_json refuses it,
// so the caller decides.
func StringChar[T Text](s T, pos int) (r rune, next int, st Status) {
	if pos >= len(s) {
		return 0, pos, Unterminated
	}
	switch c := s[pos]; {
	case c == '"':
		return 0, pos + 1, Quote
	case c < 0x20:
		return rune(c), pos, Control
	case c < utf8.RuneSelf && c != '\\':
		return rune(c), pos + 1, Char
	case c != '\\':
		r, n := utf8.DecodeRuneInString(string(s[pos:min(pos+utf8.UTFMax, len(s))]))
		return r, pos + n, Char
	}
	if pos+1 >= len(s) {
		return 0, pos, Unterminated
	}
	e := s[pos+1]
	pos += 2
	switch e {
	case '"', '\\', '/':
		return rune(e), pos, Char
	case 'b':
		return '\b', pos, Char
	case 'f':
		return '\f', pos, Char
	case 'n':
		return '\n', pos, Char
	case 'r':
		return '\r', pos, Char
	case 't':
		return '\t', pos, Char
	case 'u':
		r, ok := hex4(s, pos)
		if !ok {
			return 0, pos, BadUnicode
		}
		pos += 4
		if r >= 0xD800 && r < 0xDC00 && pos+1 < len(s) && s[pos] == '\\' && s[pos+1] == 'u' {
			if r2, ok := hex4(s, pos+2); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
				return utf16.DecodeRune(r, r2), pos + 6, Char
			}
		}
		return r, pos, Char
	}
	return 0, pos, BadEscape
}

// hex4 decodes the four hexadecimal digits at s[pos:].
func hex4[T Text](s T, pos int) (rune, bool) {
	if pos+4 > len(s) {
		return 0, false
	}
	var r rune
	for i := pos; i < pos+4; i++ {
		c := s[i]
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
