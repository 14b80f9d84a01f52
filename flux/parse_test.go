package flux

import (
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/errors.golden")

// shape renders a step tree compactly so that table tests can compare structure.
func shape(steps []Step) string {
	var parts []string
	for _, s := range steps {
		switch s := s.(type) {
		case *ProcessStep:
			parts = append(parts, s.Name)
		case *IfStep:
			parts = append(parts, "if("+s.Condition.Source+"){"+shape(s.Then)+"}else{"+shape(s.Else)+"}")
		case *WhileStep:
			parts = append(parts, "while("+s.Condition.Source+"){"+shape(s.Do)+"}")
		case *RunStep:
			parts = append(parts, "run{"+shape(s.Steps)+"}")
		}
	}
	return strings.Join(parts, ";")
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name, src, shape string
	}{
		{"shorthand", "steps: [a, b]", "a;b"},
		{"process mapping", "steps:\n  - process: a\n  - b\n", "a;b"},
		{"empty steps", "steps: []", ""},
		{"if then", "steps:\n  - flux: if\n    condition: domain.x > 1\n    then: [a]\n", "if(domain.x > 1){a}else{}"},
		{"if else", "steps:\n  - flux: if\n    condition: domain.x > 1\n    then: [{process: a}]\n    else: [b]\n", "if(domain.x > 1){a}else{b}"},
		{"empty then", "steps:\n  - flux: if\n    condition: 'true'\n    then: []\n", "if(true){}else{}"},
		{"while", "steps:\n  - flux: while\n    condition: domain.n < 3\n    do: [inc]\n", "while(domain.n < 3){inc}"},
		{"run", "steps:\n  - flux: run\n    steps: [a, b]\n", "run{a;b}"},
		{"nested 3 deep", `
steps:
  - flux: while
    condition: domain.i < 2
    do:
      - flux: if
        condition: domain.i == 0
        then:
          - flux: run
            steps: [x, y]
        else: [z]
`, "while(domain.i < 2){if(domain.i == 0){run{x;y}}else{z}}"},
		{"name and description", "name: flow\ndescription: does things\nsteps: [a]", "a"},
		{"elif as nested if", `
steps:
  - flux: if
    condition: domain.x == 1
    then: [a]
    else:
      - flux: if
        condition: domain.x == 2
        then: [b]
        else: [c]
`, "if(domain.x == 1){a}else{if(domain.x == 2){b}else{c}}"},
		{"aliases", "common: &c [a, b]\n", ""},
		{"anchor reused", "steps:\n  - &s {process: a}\n  - *s\n", "a;a"},
		{"double-quoted condition", "steps:\n  - flux: if\n    condition: \"domain.s == 'x'\"\n    then: [a]\n", "if(domain.s == 'x'){a}else{}"},
		{"block condition", "steps:\n  - flux: if\n    condition: >\n      domain.a > 1\n      and domain.b\n    then: [a]\n", "if(domain.a > 1 and domain.b\n){a}else{}"},
		{"null else", "steps:\n  - flux: if\n    condition: x\n    then: [a]\n    else: [ ]\n", "if(x){a}else{}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Parse([]byte(tc.src), "t.yaml")
			if tc.name == "aliases" {
				require.Error(t, err) // `common` is not a workflow key
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.shape, shape(w.Steps))
		})
	}
}

func TestParseFields(t *testing.T) {
	w := mustParse(t, `name: order_flow
description: charge and ship
steps:
  - validate
  - process: charge
    with: {amount: 10, rate: 0.5, ok: true, who: bob, none: null, tags: [a, 1], opts: {x: {y: 2}}}
  - flux: while
    condition: domain.n < 3
    max_iterations: 7
    do: [inc]
`)
	assert.Equal(t, "order_flow", w.Name)
	assert.Equal(t, "charge and ship", w.Description)
	assert.Equal(t, "test.yaml", w.File)
	require.Len(t, w.Steps, 3)
	p := w.Steps[1].(*ProcessStep)
	assert.Equal(t, "charge", p.Name)
	assert.Equal(t, Map{
		{"amount", int64(10)}, {"rate", 0.5}, {"ok", true}, {"who", "bob"}, {"none", nil},
		{"tags", []any{"a", int64(1)}}, {"opts", Map{{"x", Map{{"y", int64(2)}}}}},
	}, p.With)
	assert.Equal(t, Pos{"test.yaml", 5, 5}, p.Pos())
	assert.Equal(t, "process", p.Kind())
	ws := w.Steps[2].(*WhileStep)
	assert.Equal(t, 7, ws.MaxIterations)
	assert.Equal(t, "while", ws.Kind())
	assert.Equal(t, Pos{"test.yaml", 8, 16}, ws.Condition.Pos())
	assert.Equal(t, Pos{"test.yaml", 4, 5}, w.Steps[0].Pos())

	d := mustParse(t, "steps:\n  - flux: while\n    condition: x\n    do: [a]\n")
	assert.Equal(t, DefaultMaxIterations, d.Steps[0].(*WhileStep).MaxIterations)

	inline, err := Parse([]byte("steps: [a]"), "")
	require.NoError(t, err)
	assert.Equal(t, "<string>", inline.File)
}

func TestProcessNamesAndCheck(t *testing.T) {
	w := mustParse(t, `
steps:
  - validate_order
  - flux: if
    condition: domain.total > 100
    then: [apply_discount, validate_order]
    else: [notify]
  - flux: while
    condition: domain.n < 2
    do:
      - flux: run
        steps: [increment]
`)
	assert.Equal(t, []string{"validate_order", "apply_discount", "notify", "increment"}, w.ProcessNames())
	known := []string{"validate_order", "apply_discount", "notify", "increment"}
	assert.NoError(t, w.Check(known))

	err := w.Check([]string{"validate_order", "apply_discounts", "notify", "increment"})
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, CodeUnknownProcess, fe.Code)
	assert.Equal(t, 6, fe.Pos.Line)
	assert.Contains(t, fe.Msg, `did you mean "apply_discounts"?`)

	err = w.Check([]string{"validate_order", "zzz", "notify", "increment"})
	require.ErrorAs(t, err, &fe)
	assert.NotContains(t, fe.Msg, "did you mean")

	err = w.Check(nil)
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, Pos{"test.yaml", 3, 5}, fe.Pos)
	assert.Contains(t, fe.Msg, "no processes are registered")
}

// invalidCases are load-time errors: code and position are asserted here, the full message
// in testdata/errors.golden.
var invalidCases = []struct {
	name, src, code string
	line, col       int
}{
	{"yaml syntax", "steps: [a\nb: c", CodeYAML, 1, 1},
	{"yaml tab indent", "steps:\n\t- a\n", CodeYAML, 2, 1},
	{"two documents", "steps: [a]\n---\nsteps: [b]\n", CodeYAML, 2, 1},
	{"empty", "", CodeNotAMapping, 1, 1},
	{"comment only", "# nothing\n", CodeNotAMapping, 1, 1},
	{"top level list", "- a\n- b\n", CodeNotAMapping, 1, 1},
	{"top level scalar", "hello", CodeNotAMapping, 1, 1},
	{"unknown top key", "steps: [a]\nstep: [b]\n", CodeUnknownKey, 2, 1},
	{"duplicate top key", "steps: [a]\nsteps: [b]\n", CodeDuplicateKey, 2, 1},
	{"missing steps", "name: x\n", CodeMissingKey, 1, 1},
	{"steps not a list", "steps: a\n", CodeNotAList, 1, 8},
	{"steps null", "steps:\n", CodeNotAList, 1, 7},
	{"name not a string", "name: [x]\nsteps: []\n", CodeInvalidValue, 1, 7},
	{"step is a list", "steps:\n  - [a, b]\n", CodeInvalidStep, 2, 5},
	{"step is a number", "steps:\n  - 42\n", CodeInvalidValue, 2, 5},
	{"step is null", "steps:\n  -\n  - a\n", CodeInvalidValue, 2, 4},
	{"empty process name", "steps:\n  - process: ''\n", CodeInvalidValue, 2, 14},
	{"process name whitespace", "steps:\n  - \" a\"\n", CodeInvalidValue, 2, 5},
	{"both process and flux", "steps:\n  - process: a\n    flux: run\n    steps: []\n", CodeInvalidStep, 3, 5},
	{"neither process nor flux", "steps:\n  - condition: x\n    do: [a]\n", CodeInvalidStep, 2, 5},
	{"unknown process key", "steps:\n  - process: a\n    on_success: b\n", CodeUnknownKey, 3, 5},
	{"with typo", "steps:\n  - process: a\n    wth: {x: 1}\n", CodeUnknownKey, 3, 5},
	{"with not a mapping", "steps:\n  - process: a\n    with: [1, 2]\n", CodeNotAMapping, 3, 11},
	{"with int key", "steps:\n  - process: a\n    with: {1: x}\n", CodeInvalidValue, 3, 12},
	{"with duplicate key", "steps:\n  - process: a\n    with: {x: 1, x: 2}\n", CodeDuplicateKey, 3, 18},
	{"with custom tag", "steps:\n  - process: a\n    with: {x: !thing 1}\n", CodeInvalidValue, 3, 15},
	{"unknown kind", "steps:\n  - flux: iff\n    condition: x\n    then: [a]\n", CodeUnknownKind, 2, 11},
	{"kind not a string", "steps:\n  - flux: [if]\n", CodeUnknownKind, 2, 11},
	{"if condtion typo", "steps:\n  - flux: if\n    condtion: domain.x\n    then: [a]\n", CodeUnknownKey, 3, 5},
	{"if with do", "steps:\n  - flux: if\n    condition: x\n    do: [a]\n", CodeUnknownKey, 4, 5},
	{"if missing condition", "steps:\n  - flux: if\n    then: [a]\n", CodeMissingKey, 2, 5},
	{"if missing then", "steps:\n  - flux: if\n    condition: x\n", CodeMissingKey, 2, 5},
	{"then not a list", "steps:\n  - flux: if\n    condition: x\n    then: a\n", CodeNotAList, 4, 11},
	{"else not a list", "steps:\n  - flux: if\n    condition: x\n    then: [a]\n    else: {process: b}\n", CodeNotAList, 5, 11},
	{"while missing do", "steps:\n  - flux: while\n    condition: x\n", CodeMissingKey, 2, 5},
	{"while empty do", "steps:\n  - flux: while\n    condition: x\n    do: []\n", CodeEmptyBody, 4, 9},
	{"do not a list", "steps:\n  - flux: while\n    condition: x\n    do: a\n", CodeNotAList, 4, 9},
	{"while then", "steps:\n  - flux: while\n    condition: x\n    then: [a]\n", CodeUnknownKey, 4, 5},
	{"max_iterations zero", "steps:\n  - flux: while\n    condition: x\n    max_iterations: 0\n    do: [a]\n", CodeInvalidValue, 4, 21},
	{"max_iterations string", "steps:\n  - flux: while\n    condition: x\n    max_iterations: lots\n    do: [a]\n", CodeInvalidValue, 4, 21},
	{"max_iterations float", "steps:\n  - flux: while\n    condition: x\n    max_iterations: 1.5\n    do: [a]\n", CodeInvalidValue, 4, 21},
	{"run missing steps", "steps:\n  - flux: run\n", CodeMissingKey, 2, 5},
	{"run steps not a list", "steps:\n  - flux: run\n    steps: a\n", CodeNotAList, 3, 12},
	{"run unknown key", "steps:\n  - flux: run\n    steps: [a]\n    do: [b]\n", CodeUnknownKey, 4, 5},
	{"nested error", "steps:\n  - flux: run\n    steps:\n      - flux: if\n        condition: x\n        then: [{process: a, retries: 3}]\n", CodeUnknownKey, 6, 29},
	{"condition syntax plain", "steps:\n  - flux: if\n    condition: domain.x >> 1\n    then: [a]\n", CodeConditionSyntax, 3, 26},
	{"condition syntax single-quoted", "steps:\n  - flux: if\n    condition: 'domain[''k''] === 1'\n    then: [a]\n", CodeConditionSyntax, 3, 33},
	{"condition syntax double-quoted", "steps:\n  - flux: if\n    condition: \"domain[\\\"k\\\"] ! 1\"\n    then: [a]\n", CodeConditionSyntax, 3, 31},
	{"condition syntax literal block", "steps:\n  - flux: if\n    condition: |\n      domain.x > 1 and\n      domain.y ==\n    then: [a]\n", CodeConditionSyntax, 5, 18},
	{"condition unknown function", "steps:\n  - flux: if\n    condition: domain.x > 1 and exists(domain.y)\n    then: [a]\n", CodeConditionSyntax, 3, 33},
	{"condition method call", "steps:\n  - flux: if\n    condition: domain.s.Upper() == 1\n    then: [a]\n", CodeConditionSyntax, 3, 25},
	{"condition $env", "steps:\n  - flux: if\n    condition: $env.domain.x\n    then: [a]\n", CodeConditionSyntax, 3, 16},
	{"condition type int", "steps:\n  - flux: while\n    condition: 1 + 2\n    do: [a]\n", CodeConditionType, 3, 16},
	{"condition type string", "steps:\n  - flux: while\n    condition: '\"x\"'\n    do: [a]\n", CodeConditionType, 3, 17},
	{"condition type nil", "steps:\n  - flux: while\n    condition: None\n    do: [a]\n", CodeConditionType, 3, 16},
	{"condition type mismatch", "steps:\n  - flux: if\n    condition: 1 + \"x\" == 2\n    then: [a]\n", CodeConditionType, 3, 18},
	{"condition empty", "steps:\n  - flux: if\n    condition:\n    then: [a]\n", CodeConditionSyntax, 3, 15},
	{"condition a list", "steps:\n  - flux: if\n    condition: [a]\n    then: [a]\n", CodeInvalidValue, 3, 16},
	{"duplicate step key", "steps:\n  - flux: if\n    condition: x\n    condition: y\n    then: [a]\n", CodeDuplicateKey, 4, 5},
}

func TestParseInvalid(t *testing.T) {
	var golden strings.Builder
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Parse([]byte(tc.src), "bad.yaml")
			require.Error(t, err)
			assert.Nil(t, w)
			var fe *Error
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.code, fe.Code, "message: %v", err)
			assert.Equal(t, Pos{"bad.yaml", tc.line, tc.col}, fe.Pos, "message: %v", err)
			assert.True(t, strings.HasPrefix(err.Error(), fe.Pos.String()+": flux: "))
			golden.WriteString("== " + tc.name + "\n" + err.Error() + "\n\n")
		})
	}
	path := filepath.Join("testdata", "errors.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(golden.String()), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./flux -run TestParseInvalid -update to create it")
	assert.Equal(t, string(want), golden.String())
}

func TestEmptyBodyMessage(t *testing.T) {
	_, err := Parse([]byte("steps:\n  - flux: while\n    condition: domain.x < 1\n    do: []\n"), "w.yaml")
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Contains(t, fe.Msg, "empty `do`")
	assert.Contains(t, fe.Msg, "spin")
}

func TestErrorFormat(t *testing.T) {
	_, err := Parse([]byte("steps:\n\t- process: a\n"), "x.yaml")
	require.Error(t, err)
	e := &Error{Pos: Pos{"f.yaml", 2, 3}, Code: CodeStep, Msg: "m", Snippet: "ab\tcd\n  ^", Err: errBoom}
	assert.Equal(t, "f.yaml:2:3: flux: m\nab\tcd\n  ^", e.Error())
	assert.Same(t, errBoom, errors.Unwrap(e))
	assert.Equal(t, "f.yaml:2:3: flux: m", (&Error{Pos: Pos{"f.yaml", 2, 3}, Msg: "m"}).Error())

	s := newSource([]byte("a\n\tkey: v\n"), "t")
	assert.Equal(t, "\tkey: v\n\t  ^", s.snippet(Pos{"t", 2, 4}))
}

// with: values keep their YAML order, exact integers and explicit tags.
func TestWithValues(t *testing.T) {
	tests := []struct {
		yaml string
		want any
	}{
		{"1", int64(1)},
		{"-1", int64(-1)},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", bigInt("9223372036854775808")},
		{"-9223372036854775809", bigInt("-9223372036854775809")},
		{"18446744073709551616", bigInt("18446744073709551616")},
		{"123456789012345678901234567890", bigInt("123456789012345678901234567890")},
		{"0x10", int64(16)},
		{"0x10000000000000000", bigInt("18446744073709551616")},
		{"1_000", int64(1000)},
		{"!!float 1", 1.0},
		{"!!float -3", -3.0},
		{"!!float 123456789012345678901234567890", 1.2345678901234568e29},
		{"!!float 1.5", 1.5},
		{"1.5", 1.5},
		{"1e3", 1000.0},
		{".inf", math.Inf(1)},
		{"!!int 7", int64(7)},
		{"!!str 5", "5"},
		{"'5'", "5"},
		{"!!bool true", true},
		{"true", true},
		{"~", nil},
		{"[1, 9223372036854775808]", []any{int64(1), bigInt("9223372036854775808")}},
		{"{z: 1, a: 2, m: 3}", Map{{"z", int64(1)}, {"a", int64(2)}, {"m", int64(3)}}},
		{"{b: {y: 1, x: 2}, a: [ {k2: 1, k1: 2} ]}", Map{{"b", Map{{"y", int64(1)}, {"x", int64(2)}}}, {"a", []any{Map{{"k2", int64(1)}, {"k1", int64(2)}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.yaml, func(t *testing.T) {
			w := mustParse(t, "steps:\n  - process: p\n    with: {v: "+tc.yaml+"}\n")
			got, ok := w.Steps[0].(*ProcessStep).With.Get("v")
			require.True(t, ok)
			assert.Equal(t, tc.want, got)
		})
	}
	w := mustParse(t, "steps:\n  - process: p\n    with:\n      zeta: 1\n      alpha: 2\n      mid: 3\n")
	var keys []string
	for _, kv := range w.Steps[0].(*ProcessStep).With {
		keys = append(keys, kv.Key)
	}
	assert.Equal(t, []string{"zeta", "alpha", "mid"}, keys)

	for _, bad := range []struct{ yaml, msg string }{
		{"!!int x", `"x" is not an integer`},
		{"!!float abc", `"abc" is not a float`},
		{"!!bool maybe", `"maybe" is not a boolean`},
		{"!!float 1" + strings.Repeat("0", 400), "too large for a float"},
		{"!thing 1", "unsupported YAML tag !thing"},
	} {
		t.Run(bad.yaml, func(t *testing.T) {
			_, err := Parse([]byte("steps:\n  - process: p\n    with: {v: "+bad.yaml+"}\n"), "w.yaml")
			require.Error(t, err)
			assert.Contains(t, err.Error(), bad.msg)
			assert.NotContains(t, err.Error(), "strconv")
			assert.NotContains(t, err.Error(), "yaml: unmarshal")
		})
	}
}

func TestCheckZones(t *testing.T) {
	zones := []string{"domain", "global", "heavy", "outbox"}
	src := "steps:\n  - flux: if\n    condition: domain.total > 1 and domian.total > 2\n    then:\n      - flux: while\n        condition: (glbal.n ?? 0) < 3\n        do: [a]\n"
	w := mustParse(t, src)
	err := w.CheckZones(zones)
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, CodeUnknownZone, fe.Code)
	assert.Equal(t, Pos{"test.yaml", 3, 37}, fe.Pos)
	assert.Contains(t, fe.Msg, "unknown zone `domian`")
	assert.Contains(t, fe.Msg, "did you mean `domain`?")
	assert.Contains(t, fe.Snippet, "^")

	w = mustParse(t, "steps:\n  - flux: while\n    condition: (glbal.n ?? 0) < 3\n    do: [a]\n")
	require.ErrorAs(t, w.CheckZones(zones), &fe)
	assert.Contains(t, fe.Msg, "did you mean `global`?")
	assert.Equal(t, 17, fe.Pos.Col)

	w = mustParse(t, "steps:\n  - flux: if\n    condition: xyz > 1\n    then: [a]\n")
	require.ErrorAs(t, w.CheckZones(zones), &fe)
	assert.Contains(t, fe.Msg, "unknown zone `xyz`")

	for _, ok := range []string{
		"domain.x > 1", "let d = domain; d.x > 1", "all(domain.items, # > 0)", "any(domain.o, .total > global.min)",
		"domain[global.k] == 1", "99999999999999999999 > domain.x", "True and not False",
	} {
		w := mustParse(t, "steps:\n  - flux: if\n    condition: '"+ok+"'\n    then: [a]\n")
		assert.NoError(t, w.CheckZones(zones), ok)
	}
	w = mustParse(t, "steps:\n  - flux: if\n    condition: custom.x > 1\n    then: [a]\n")
	assert.NoError(t, w.CheckZones(append(zones, "custom")))
}

func TestZones(t *testing.T) {
	w := mustParse(t, "steps:\n  - flux: if\n    condition: domain.a > 1 and global.b\n    then:\n      - flux: while\n        condition: custom.x < domain.y\n        do: [a]\n")
	assert.Equal(t, []string{"domain", "global", "custom"}, w.Zones())
	assert.Nil(t, mustParse(t, "steps: [a]").Zones())
}
