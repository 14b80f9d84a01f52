package flux

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm"
)

// checkPos fails unless err is an *Error whose position lies inside src.
func checkPos(t *testing.T, src string, err error) {
	t.Helper()
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("error is not *Error: %T %v", err, err)
	}
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	if fe.Pos.Line < 1 || fe.Pos.Line > len(lines) {
		t.Fatalf("line %d outside 1..%d: %v", fe.Pos.Line, len(lines), err)
	}
	if n := utf8.RuneCountInString(lines[fe.Pos.Line-1]); fe.Pos.Col < 1 || fe.Pos.Col > n+1 {
		t.Fatalf("col %d outside 1..%d: %v", fe.Pos.Col, n+1, err)
	}
	if fe.Code == "" || fe.Msg == "" {
		t.Fatalf("error without code or message: %#v", fe)
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range invalidCases {
		f.Add(tc.src)
	}
	f.Add("steps: [a, b]")
	f.Add("steps:\n  - flux: while\n    condition: domain.n < 3\n    do: [inc]\n")
	f.Add("steps:\n  - flux: if\n    condition: \"x\\u00e9 == 'é'\"\n    then: [a]\n    else: [{process: b, with: {k: [1, {x: y}]}}]\n")
	f.Add("steps:\n  - &a {flux: run, steps: [x]}\n  - *a\n")
	f.Fuzz(func(t *testing.T, src string) {
		w, err := Parse([]byte(src), "fuzz.yaml")
		if err != nil {
			checkPos(t, src, err)
			return
		}
		_ = w.ProcessNames()
		if err := w.Check([]string{"a"}); err != nil {
			checkPos(t, src, err)
		}
		if _, err := w.Run(noopHost{}, RunOptions{Budget: 200}); err != nil {
			checkPos(t, src, err)
		}
	})
}

// fuzzValues are the state values FuzzCondition feeds to paths: every kind a Host returns,
// integers at the 64-bit edges and beyond, and the markers.
var fuzzValues = []any{
	Missing{}, nil, true, false, 0, 1, -1, 3, math.MaxInt64, math.MinInt64,
	new(big.Int).Lsh(big.NewInt(1), 64), new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 70)),
	0.0, 1.5, -2.5, math.Inf(1), math.NaN(), "", "x", "True",
	[]any{}, []any{1, "a", []any{2.5}}, map[string]any{}, map[string]any{"a": 1, "b": map[string]any{"c": nil}},
	NewOpaque("bytes"), NotAMapping{Depth: 1, Type: "int"},
}

func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		"domain.counter < 10", "len(domain.items) > 0 and global.enabled", `domain["key"] == "x"`,
		"(domain.maybe ?? 0) > 1", "not global.done", "domain.a.b.c >= 1.5", "True or None == nil",
		"let x = domain.a; x.b > 1", "all(domain.items, # > 0)", "domain?.a?.b", "1 +", `"True"`,
		"domain[global.k] == 1", "foo(1)", "$env.x", "{a: 1}.a == 1",
		"domain.a == {\"a\": 1, \"b\": [1, 2]}", "domain.n + 1 > 9223372036854775807", "domain.n % domain.m == 0",
		"domain.n / domain.m > 1", "2 ** domain.n > 0", "-domain.n < 0", "abs(domain.n) > 0", "sum(domain.l) > 0",
		"max(domain.l) == min(domain.l)", "int(domain.s) > 0", "float(domain.s) > 0", "domain.x in domain.l",
		"99999999999999999999999 == domain.n", "0x1ffffffffffffffffff > domain.n", "1e999 > 0",
		"domain.a.b and not domain.c or domain.d == nil",
	} {
		f.Add(s, uint64(0))
	}
	f.Fuzz(func(t *testing.T, text string, pick uint64) {
		if strings.ContainsAny(text, "\r\n") {
			return // a single-line scalar, as written after `condition: `
		}
		line := "condition: " + text
		src := newSource([]byte(line), "c.yaml")
		c, cerr := compileCondition(src, text, func(off int) Pos { return src.pos(1, 12+off) })
		if cerr != nil {
			checkPos(t, line, cerr)
			checkWords(t, cerr.Error())
			return
		}
		values := make([]any, len(c.Paths()))
		for i := range values {
			values[i] = fuzzValues[(pick>>(4*(i%16))+uint64(i))%uint64(len(fuzzValues))]
		}
		var m vm.VM
		got, err := c.eval(&m, map[string]any{}, values)
		if err != nil {
			pos, msg := c.errorPos(err)
			if pos.Line != 1 || pos.Col < 1 || pos.Col > utf8.RuneCountInString(line)+1 {
				t.Fatalf("error position %v outside the condition: %v", pos, err)
			}
			checkWords(t, msg)
		}
		if c.fast != nil { // the shortcut and the program agree
			slow := *c
			slow.fast = nil
			got2, err2 := slow.eval(&m, map[string]any{}, values)
			if got != got2 || (err == nil) != (err2 == nil) {
				t.Fatalf("shortcut %v/%v, program %v/%v", got, err, got2, err2)
			}
		}
	})
}

// checkWords fails on Go wording in a user-facing message.
func checkWords(t *testing.T, msg string) {
	t.Helper()
	for _, leak := range []string{"runtime error", "strconv.", "big.Int", "interface {}", "int64", "float64", "map[string]", "goroutine"} {
		if strings.Contains(msg, leak) {
			t.Fatalf("message leaks %q: %s", leak, msg)
		}
	}
}
