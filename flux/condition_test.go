package flux

import (
	"errors"
	"testing"

	"github.com/expr-lang/expr/vm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func compileTest(t testing.TB, text string) *Condition {
	t.Helper()
	src := newSource([]byte("condition: "+text), "c.yaml")
	c, err := compileCondition(src, text, func(off int) Pos { return src.pos(1, 12+off) })
	if err != nil {
		t.Fatalf("compile %q: %v", text, err)
	}
	return c
}

// evalWith evaluates c with values read from state the way a Host would.
func evalWith(t testing.TB, c *Condition, state map[string]any) (bool, error) {
	t.Helper()
	values := make([]any, len(c.Paths()))
	for i, p := range c.Paths() {
		values[i] = lookup(state, p)
	}
	var m vm.VM
	return c.eval(&m, map[string]any{}, values)
}

func TestConditionPaths(t *testing.T) {
	tests := []struct {
		text  string
		paths [][]string
	}{
		{"domain.counter < 10", [][]string{{"domain", "counter"}}},
		{"len(domain.items) > 0 and global.enabled", [][]string{{"domain", "items"}, {"global", "enabled"}}},
		{`domain["key"] == "x"`, [][]string{{"domain", "key"}}},
		{"(domain.maybe ?? 0) > 1", [][]string{{"domain", "maybe"}}},
		{"not global.done", [][]string{{"global", "done"}}},
		{"domain.a.b.c >= 1.5", [][]string{{"domain", "a", "b", "c"}}},
		{"domain?.a?.b == nil", [][]string{{"domain", "a", "b"}}},
		{"len(domain.items) > 0 and domain.items[0] == 1", [][]string{{"domain", "items"}}},
		{"domain.items.x == 1 and len(domain.items) > 0", [][]string{{"domain", "items"}}},
		{"domain.a == 1 and domain.a == 2", [][]string{{"domain", "a"}}},
		{"domain[global.key] == 1", [][]string{{"domain"}, {"global", "key"}}},
		{"True and not False and domain.x != None", [][]string{{"domain", "x"}}},
		{`domain.s == "True"`, [][]string{{"domain", "s"}}},
		{"let n = domain.n; n > 1", [][]string{{"domain", "n"}}},
		{"all(domain.items, # > global.min)", [][]string{{"domain", "items"}, {"global", "min"}}},
		{"any(domain.orders, .total > 10)", [][]string{{"domain", "orders"}}},
		{"1 < 2", nil},
		{"x", [][]string{{"x"}}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			assert.Equal(t, tc.paths, compileTest(t, tc.text).Paths())
		})
	}
}

func TestConditionEval(t *testing.T) {
	state := map[string]any{
		"domain": map[string]any{
			"counter": int64(5), "items": []any{int64(1), int64(2)}, "key": "x", "total": 150.0,
			"a": map[string]any{"b": map[string]any{"c": 2.0}}, "s": "True", "none": nil,
		},
		"global": map[string]any{"enabled": true, "done": false, "vip": true},
	}
	tests := []struct {
		text string
		want bool
	}{
		{"domain.counter < 10", true},
		{"domain.counter == 5", true},
		{"domain.counter == 5.0", true},
		{"len(domain.items) > 0 and global.enabled", true},
		{`domain["key"] == "x"`, true},
		{"(domain.maybe ?? 0) == 0", true},
		{"domain.maybe == nil", true},
		{"domain.missing.deeper == None", true},
		{"not global.done", true},
		{"domain.a.b.c >= 1.5", true},
		{"domain.total > 100 and global.vip", true},
		{`domain.s == "True"`, true},
		{"domain.s == True", false},
		{"True", true},
		{"False or None == nil", true},
		{"2 in domain.items", true},
		{`domain.key in ["x", "y"]`, true},
		{`domain.key startsWith "x"`, true},
		{"domain.counter > 3 ? global.vip : false", true},
		{"nozone.anything == nil", true},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			got, err := evalWith(t, compileTest(t, tc.text), state)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestConditionRuntimeErrors(t *testing.T) {
	state := map[string]any{"domain": map[string]any{"none": nil, "s": "x", "n": int64(1)}}
	for _, text := range []string{
		"domain.none < 10",    // nil compared with a number
		"domain.s > 1",        // string compared with a number
		"domain.n",            // not a boolean
		"domain.missing ?? 0", // not a boolean
		"domain.s + 1 > 2",    // string plus number
	} {
		t.Run(text, func(t *testing.T) {
			_, err := evalWith(t, compileTest(t, text), state)
			require.Error(t, err)
		})
	}
}

func TestConditionRunError(t *testing.T) {
	w := mustParse(t, "steps:\n  - flux: while\n    condition: domain.n < 10\n    do: [a]\n")
	h := newFakeHost(map[string]any{"domain": map[string]any{"n": nil}})
	tr, err := w.Run(h, RunOptions{})
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, CodeCondition, fe.Code)
	assert.Equal(t, Pos{"test.yaml", 3, 25}, fe.Pos) // the `<` inside the condition
	assert.Contains(t, fe.Msg, "while condition (line 2)")
	assert.NotNil(t, fe.Err)
	assert.Empty(t, h.calls)
	require.Len(t, tr.Entries, 1)
	assert.Equal(t, "error", tr.Entries[0].Outcome)

	w = mustParse(t, "steps:\n  - flux: if\n    condition: domain.n\n    then: [a]\n")
	_, err = w.Run(newFakeHost(map[string]any{"domain": map[string]any{"n": int64(3)}}), RunOptions{})
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, CodeCondition, fe.Code)
	assert.Contains(t, fe.Msg, "not true or false")
	var nb *nonBoolError
	assert.True(t, errors.As(err, &nb))
}

func BenchmarkCondition(b *testing.B) {
	for _, text := range []string{
		"domain.counter < 10",
		"domain.total > 100 and global.vip",
		"len(domain.items) > 0 and global.enabled",
	} {
		b.Run(text, func(b *testing.B) {
			c := compileTest(b, text)
			state := map[string]any{
				"domain": map[string]any{"counter": int64(5), "total": 150.0, "items": []any{int64(1)}},
				"global": map[string]any{"vip": true, "enabled": true},
			}
			values := make([]any, len(c.Paths()))
			for i, p := range c.Paths() {
				values[i] = lookup(state, p)
			}
			var m vm.VM
			env := make(map[string]any)
			b.ReportAllocs()
			for b.Loop() {
				ok, err := c.eval(&m, env, values)
				if err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
