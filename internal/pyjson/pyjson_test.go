package pyjson

import (
	"errors"
	"math"
	"testing"
)

// Expected outputs are Python 3's json.dumps(json.loads(input)).
func TestDumps(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"3": {"inputs": {"seed": 156680208700286, "steps": 20, "cfg": 8.0, "sampler_name": "euler", "text": "a <cat> & \"dog\" / café 😀"}, "class_type": "KSampler"}}`,
			"{\"3\": {\"inputs\": {\"seed\": 156680208700286, \"steps\": 20, \"cfg\": 8.0, \"sampler_name\": \"euler\", \"text\": \"a <cat> & \\\"dog\\\" / caf\\u00e9 \\ud83d\\ude00\"}, \"class_type\": \"KSampler\"}}"},
		// compact input gets Python's separators; empty containers stay tight
		{`{"a":1,"b":[],"c":{},"d":[1,2,{"e":null}],"f":true,"g":false}`,
			"{\"a\": 1, \"b\": [], \"c\": {}, \"d\": [1, 2, {\"e\": null}], \"f\": true, \"g\": false}"},
		// ints stay ints, everything with a fraction or exponent is a float
		{`[1.0, 1e5, 1E+2, 0.1, 1.5e300, 1e400, -1e400, 1e-400, -1e-400, -0.0, -0, 0, 1e16, 1e15, 123456789012345678, 1.0000000000000002, 0.0001, 0.00001, 5e-324, 2.5E-3, 100, -7, 3.14159]`,
			"[1.0, 100000.0, 100.0, 0.1, 1.5e+300, Infinity, -Infinity, 0.0, -0.0, -0.0, 0, 0, 1e+16, 1000000000000000.0, 123456789012345678, 1.0000000000000002, 0.0001, 1e-05, 5e-324, 0.0025, 100, -7, 3.14159]"},
		{`12345678901234567890123456789`, "12345678901234567890123456789"},
		{`[NaN, Infinity, -Infinity]`, "[NaN, Infinity, -Infinity]"},
		// lone surrogates survive as escapes; an escaped pair is one character
		{`"\ud800 lone, \udc00 lone, \ud83d\ude00 pair, \ud83d\u0041 broken"`,
			"\"\\ud800 lone, \\udc00 lone, \\ud83d\\ude00 pair, \\ud83dA broken\""},
		{"\"ctrl \\u0001 \\u001f del \x7f tab\\t nl\\n cr\\r bs\\b ff\\f slash\\/ back\\\\ quote\\\" nbsp\u00a0 ls\u2028\"",
			"\"ctrl \\u0001 \\u001f del \\u007f tab\\t nl\\n cr\\r bs\\b ff\\f slash/ back\\\\ quote\\\" nbsp\\u00a0 ls\\u2028\""},
		// a repeated key keeps its first place and its last value
		{`{"a": 1, "b": 2, "a": 3}`, "{\"a\": 3, \"b\": 2}"},
		{" \t\n{ \"x\" :\r[ ] } \n", "{\"x\": []}"},
		{"\"\U0001F600\U00010000\U0010FFFF\"", "\"\\ud83d\\ude00\\ud800\\udc00\\udbff\\udfff\""},
		{`{"workflow": {"nodes": [], "links": [], "version": 0.4}, "other": "x"}`,
			"{\"workflow\": {\"nodes\": [], \"links\": [], \"version\": 0.4}, \"other\": \"x\"}"},
	}
	for _, c := range cases {
		got, err := Dumps(c.in)
		if err != nil {
			t.Errorf("Dumps(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("Dumps(%q)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

// Every one of these is refused by Python's json.loads too.
func TestDumpsRejects(t *testing.T) {
	bad := []string{"", "{", `{"a":1,}`, "[1,]", "01", "1.", "1e", ".5", "\"\x01\"", `"\x"`, `{"a" 1}`, "{'a':1}",
		"[1] [2]", "nul", `"\u12"`, "-", "+1", `"abc`, "\"\xff\"", "[1e5"}
	for _, in := range bad {
		if out, err := Dumps(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Dumps(%q) = %q, %v; want ErrInvalid", in, out, err)
		}
	}
	deep := ""
	for i := 0; i < 1001; i++ {
		deep += "["
	}
	if _, err := Dumps(deep); !errors.Is(err, ErrInvalid) {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestDumpsMembers(t *testing.T) {
	got, err := DumpsMembers(`{"workflow": {"last_node_id": 9, "extra": {"ds": {"scale": 1.0}}}, "note": "é", "workflow": {"v": 2}, "n": 5}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{{"workflow", `{"v": 2}`}, {"note", `"\u00e9"`}, {"n", "5"}}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("member %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := DumpsMembers(`[1]`); !errors.Is(err, ErrInvalid) {
		t.Errorf("array accepted as extra_pnginfo: %v", err)
	}
}

func TestFloatRepr(t *testing.T) {
	// repr() in Python 3
	for f, want := range map[float64]string{
		0: "0.0", 1: "1.0", 0.1: "0.1", 1e16: "1e+16", 9999999999999998: "9999999999999998.0",
		1e-4: "0.0001", 1.5e-5: "1.5e-05", 123.456: "123.456", 1e22: "1e+22", -2.5: "-2.5",
		math.MaxFloat64: "1.7976931348623157e+308", 5e-324: "5e-324", 1e100: "1e+100", 0.3: "0.3",
		2.0 / 3: "0.6666666666666666", 1234567.0: "1234567.0", 12345678901234567890: "1.2345678901234567e+19",
	} {
		if got := FloatRepr(f); got != want {
			t.Errorf("repr(%v) = %s, want %s", f, got, want)
		}
	}
	if FloatRepr(math.Copysign(0, -1)) != "-0.0" || FloatRepr(math.NaN()) != "NaN" || FloatRepr(math.Inf(-1)) != "-Infinity" {
		t.Error("special values")
	}
}

func FuzzDumps(f *testing.F) {
	f.Add(`{"a": [1, 2.5, "x\u00e9"], "b": null}`)
	f.Add(`"\ud800"`)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Dumps(in)
		if err != nil {
			return
		}
		// the output is ASCII and a fixed point
		for i := 0; i < len(out); i++ {
			if out[i] >= 0x80 {
				t.Fatalf("non-ASCII output %q", out)
			}
		}
		again, err := Dumps(out)
		if err != nil || again != out {
			t.Fatalf("not a fixed point: %q -> %q (%v)", out, again, err)
		}
	})
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                 `""`,
		"a/b <&> ~":        `"a/b <&> ~"`,
		"\"\\\n\r\t\b\f":   `"\"\\\n\r\t\b\f"`,
		"\x00\x7fé\u2028😀": `"\u0000\u007f\u00e9\u2028\ud83d\ude00"`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}
