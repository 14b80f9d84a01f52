package flux

import (
	"errors"
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

func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		"domain.counter < 10", "len(domain.items) > 0 and global.enabled", `domain["key"] == "x"`,
		"(domain.maybe ?? 0) > 1", "not global.done", "domain.a.b.c >= 1.5", "True or None == nil",
		"let x = domain.a; x.b > 1", "all(domain.items, # > 0)", "domain?.a?.b", "1 +", `"True"`,
		"domain[global.k] == 1", "foo(1)", "$env.x", "{a: 1}.a == 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if strings.ContainsAny(text, "\r\n") {
			return // a single-line scalar, as written after `condition: `
		}
		line := "condition: " + text
		src := newSource([]byte(line), "c.yaml")
		c, err := compileCondition(src, text, func(off int) Pos { return src.pos(1, 12+off) })
		if err != nil {
			checkPos(t, line, err)
			return
		}
		values := make([]any, len(c.Paths()))
		for i := range values {
			values[i] = Missing{}
		}
		var m vm.VM
		_, _ = c.eval(&m, map[string]any{}, values)
	})
}
