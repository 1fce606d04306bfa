package jsonlex

import "testing"

func TestStringChar(t *testing.T) {
	cases := []struct {
		in   string // string body, read from position 0
		r    rune
		next int
		st   Status
	}{
		{`a"`, 'a', 1, Char},
		{`é"`, 'é', 2, Char},
		{`"`, 0, 1, Quote},
		{``, 0, 0, Unterminated},
		{`\`, 0, 0, Unterminated},
		{"\x1f", 0x1f, 0, Control},
		{`\n`, '\n', 2, Char},
		{`\/`, '/', 2, Char},
		{`\x`, 0, 2, BadEscape},
		{`\u00e9`, 'é', 6, Char},
		{`\u00E9`, 'é', 6, Char},
		{`\u00g9`, 0, 2, BadUnicode},
		{`\u00`, 0, 2, BadUnicode},
		{`\ud83d\ude00`, '😀', 12, Char},
		{`\ud83d`, 0xd83d, 6, Char},             // lone high surrogate at the end
		{`\ud83dx`, 0xd83d, 6, Char},            // followed by a character
		{`\ud83d\u0041`, 0xd83d, 6, Char},       // followed by a non-surrogate escape
		{`\ud83d\ud83d\ude00`, 0xd83d, 6, Char}, // two highs: the first is alone
		{`\ude00`, 0xde00, 6, Char},             // lone low surrogate
	}
	for _, c := range cases {
		r, next, st := StringChar(c.in, 0)
		if r != c.r || next != c.next || st != c.st {
			t.Errorf("StringChar(%q) = %q, %d, %d; want %q, %d, %d", c.in, r, next, st, c.r, c.next, c.st)
		}
		// The byte form must agree with the string form.
		if br, bnext, bst := StringChar([]byte(c.in), 0); br != r || bnext != next || bst != st {
			t.Errorf("StringChar([]byte(%q)) = %q, %d, %d; string form gives %q, %d, %d", c.in, br, bnext, bst, r, next, st)
		}
	}
}

func TestSkipSpace(t *testing.T) {
	for _, c := range []struct {
		in   string
		pos  int
		want int
	}{
		{" \t\r\n{", 0, 4}, {"{", 0, 0}, {"  ", 0, 2}, {"a  b", 1, 3}, {"\v{", 0, 0}, {"", 0, 0},
	} {
		if got := SkipSpace(c.in, c.pos); got != c.want {
			t.Errorf("SkipSpace(%q, %d) = %d, want %d", c.in, c.pos, got, c.want)
		}
	}
}
