package flux

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func bigInt(s string) *big.Int {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return b
}

// conditionState is the state the semantics table evaluates against.
func conditionState() map[string]any {
	return map[string]any{
		"domain": map[string]any{
			"cfg":    map[string]any{"a": 1, "b": []any{1, 2.5, "x"}, "c": map[string]any{"d": nil}},
			"cfg2":   map[string]any{"c": map[string]any{"d": nil}, "b": []any{1.0, 2.5, "x"}, "a": 1.0},
			"other":  map[string]any{"a": 2},
			"list":   []any{1, map[string]any{"k": "v"}, []any{}},
			"count":  3,
			"neg":    -7,
			"zero":   0,
			"fzero":  0.0,
			"max":    math.MaxInt64,
			"min":    math.MinInt64,
			"u64":    bigInt("18446744073709551615"),
			"two64":  bigInt("18446744073709551616"),
			"huge":   bigInt("123456789012345678901234567890"),
			"f53":    float64(1 << 53),
			"nan":    math.NaN(),
			"inf":    math.Inf(1),
			"name":   "alice",
			"flag":   true,
			"none":   nil,
			"arr":    NewOpaque("ndarray"),
			"matrix": []any{[]any{1, 2}, []any{3, 4}},
			"tags":   Set{"a", 2},
			"tags2":  Set{2.0, "a"},
		},
	}
}

func TestConditionSemantics(t *testing.T) {
	tests := []struct {
		text string
		want bool
		err  string // a fragment of the run-time error; "" means no error
	}{
		// structural equality of dicts and lists
		{`domain.cfg == {"a": 1, "b": [1, 2.5, "x"], "c": {"d": nil}}`, true, ""},
		{`domain.cfg == domain.cfg2`, true, ""},
		{`domain.cfg != domain.cfg2`, false, ""},
		{`domain.cfg == domain.other`, false, ""},
		{`domain.cfg == {"a": 1}`, false, ""},
		{`{"a": 1} == domain.cfg`, false, ""},
		{`domain.other == {"a": 2}`, true, ""},
		{`domain.other == {"a": 2.0}`, true, ""},
		{`domain.other == {"a": "2"}`, false, ""},
		{`domain.other == {"b": 2}`, false, ""},
		{`domain.list == [1, {"k": "v"}, []]`, true, ""},
		{`domain.list == [1, {"k": "v"}]`, false, ""},
		{`domain.list == [1, {"k": "w"}, []]`, false, ""},
		{`domain.matrix == [[1, 2], [3, 4]]`, true, ""},
		{`domain.matrix[1] == [3, 4.0]`, true, ""},
		{`[] == []`, true, ""},
		{`{} == {}`, true, ""},
		{`domain.cfg.c == {"d": None}`, true, ""},
		{`{"k": "v"} in domain.list`, true, ""},
		{`[] in domain.list`, true, ""},
		{`"a" in domain.cfg`, true, ""},
		{`"z" in domain.cfg`, false, ""},
		{`"z" not in domain.cfg`, true, ""},
		{`"li" in domain.name`, true, ""},
		{`domain.list == domain.cfg`, false, ""},
		{`domain.none == nil`, true, ""},
		{`domain.absent == nil`, true, ""},
		{`domain.absent.deeper == nil`, true, ""},
		{`domain.flag == 1`, true, ""},
		{`domain.flag + 1 == 2`, true, ""},
		// int64 edges, exact big ints
		{`domain.max == 9223372036854775807`, true, ""},
		{`domain.max + 1 == 9223372036854775808`, true, ""},
		{`domain.max + 1 > domain.max`, true, ""},
		{`domain.max * 2 == 18446744073709551614`, true, ""},
		{`domain.min == -9223372036854775808`, true, ""},
		{`domain.min - 1 < domain.min`, true, ""},
		{`domain.min - 1 == -9223372036854775809`, true, ""},
		{`-domain.min == 9223372036854775808`, true, ""},
		{`abs(domain.min) == 9223372036854775808`, true, ""},
		{`domain.min * -1 == 9223372036854775808`, true, ""},
		{`domain.min % -1 == 0`, true, ""},
		{`domain.u64 == 18446744073709551615`, true, ""},
		{`domain.u64 == 18446744073709551616`, false, ""},
		{`domain.u64 < domain.two64`, true, ""},
		{`domain.two64 == 2 ** 64`, true, ""},
		{`domain.two64 - 1 == domain.u64`, true, ""},
		{`domain.two64 > domain.max`, true, ""},
		{`domain.two64 > 1.8e19`, true, ""},
		{`domain.two64 == 18446744073709551616.0`, true, ""},
		{`domain.u64 == 18446744073709551616.0`, false, ""},
		{`domain.huge == 123456789012345678901234567890`, true, ""},
		{`domain.huge > 123456789012345678901234567889`, true, ""},
		{`domain.huge % 10 == 0`, true, ""},
		{`domain.huge - domain.huge == 0`, true, ""},
		{`0x10000000000000000 == domain.two64`, true, ""},
		{`0b1_0000000000000000000000000000000000000000000000000000000000000000 == domain.two64`, true, ""},
		{`18_446_744_073_709_551_616 == domain.two64`, true, ""},
		{`sum([domain.max, 1]) == 9223372036854775808`, true, ""},
		{`sum(domain.matrix, len(#)) == 4`, true, ""},
		{`max(domain.two64, 1, domain.max) == domain.two64`, true, ""},
		{`min([3, domain.min, 2]) == domain.min`, true, ""},
		{`int("99999999999999999999") == 99999999999999999999`, true, ""},
		{`int(1e20) == 100000000000000000000`, true, ""},
		{`float(domain.count) == 3`, true, ""},
		{`domain.f53 + 1 == domain.f53`, true, ""},
		{`9007199254740993 == domain.f53 + 1`, false, ""},
		{`9007199254740993 > domain.f53`, true, ""},
		{`domain.nan == domain.nan`, false, ""},
		{`domain.nan < 1`, false, ""},
		{`domain.inf > domain.huge`, true, ""},
		// Python arithmetic
		{`domain.neg % 3 == 2`, true, ""},
		{`7 % -3 == -2`, true, ""},
		{`domain.neg / 2.0 % 2 == 0.5`, true, ""},
		{`7 / 2 == 3.5`, true, ""},
		{`2 ** -1 == 0.5`, true, ""},
		{`2 ** 100 == 1267650600228229401496703205376`, true, ""},
		{`"a" + "b" == "ab"`, true, ""},
		{`domain.cfg.b + [2] == [1, 2.5, "x", 2]`, true, ""},
		{`domain.matrix[0] < [1, 3]`, true, ""},
		{`domain.matrix[0] < [1, 2, 0]`, true, ""},
		{`domain.matrix[0] <= [1, 2]`, true, ""},
		{`"abc" < "abd"`, true, ""},
		{`(domain.absent ?? 0) < 1`, true, ""},
		// sets
		{`"a" in domain.tags`, true, ""},
		{`2 in domain.tags and "b" not in domain.tags`, true, ""},
		{`domain.tags == domain.tags2`, true, ""},
		{`domain.tags == ["a", 2]`, false, ""},
		{`len(domain.tags) == 2`, true, ""},
		{`domain.tags < 1`, false, "cannot compare frozenset < int"},
		// compound shapes (also run by the shortcut, which must agree with the program)
		{`domain.count > 1 and domain.flag`, true, ""},
		{`not (domain.count < 1) or domain.absent`, true, ""},
		{`domain.count < 1 or not domain.flag`, false, ""},
		{`len(domain.list) == 3 and len(domain.name) == 5 && len(domain.cfg) == 3`, true, ""},
		{`domain.count > 1 && (domain.max > 0 || domain.absent > 1)`, true, ""},
		{`domain.count and true`, false, "not true or false"},
		{`domain.absent > 1 and true`, false, "cannot compare None > int"},
		{`true and domain.count.x > 1`, false, "domain.count is an int"},
		{`len(domain.count) > 0 or domain.flag`, false, "invalid argument for len (type int)"},
		// errors, each positioned and in Python words
		{`domain.count / domain.zero > 0`, false, "division by zero"},
		{`domain.count % domain.zero == 0`, false, "integer modulo by zero"},
		{`domain.count / domain.fzero > 0`, false, "division by zero"},
		{`domain.count % domain.fzero > 0`, false, "float modulo by zero"},
		{`domain.huge % domain.zero == 0`, false, "integer modulo by zero"},
		{`domain.huge / 0 == 0`, false, "division by zero"},
		{`domain.zero ** -1 == 0`, false, "0 cannot be raised to a negative power"},
		{`2 ** domain.max > 0`, false, "integer power too large"},
		{`domain.neg ** 0.5 > 0`, false, "fractional power"},
		{`float(domain.huge ** 20) > 0`, false, "int too large to convert to float"},
		{`domain.absent < 10`, false, "cannot compare None < int"},
		{`domain.name < 10`, false, "cannot compare str < int"},
		{`domain.cfg < domain.cfg`, false, "cannot compare dict < dict"},
		{`domain.absent + 1 > 0`, false, "unsupported operand types for +: None and int"},
		{`domain.name - 1 > 0`, false, "unsupported operand types for -: str and int"},
		{`-domain.name == 1`, false, "bad operand type for unary -: str"},
		{`1 in domain.count`, false, "`in` needs a list, dict or str on its right, got int"},
		{`domain.arr == domain.arr`, false, "a ndarray value cannot be compared"},
		{`domain.arr == nil`, false, ""},
		{`domain.arr > 1`, false, "cannot compare ndarray > int"},
		{`domain.count.x == 1`, false, "domain.count.x: domain.count is an int, not a mapping"},
		{`domain.name.first == "a"`, false, "domain.name is a str, not a mapping"},
		{`domain.list.x == 1`, false, "domain.list is a list, not a mapping"},
		{`domain.arr.shape == 1`, false, "domain.arr is a ndarray, not a mapping"},
		{`domain.cfg.a.b == 1`, false, "domain.cfg.a is an int"},
		{`domain.flag.x`, false, "domain.flag is a bool"},
		{`int(domain.name) == 1`, false, "invalid literal for int()"},
		{`domain.count`, false, "condition evaluated to 3 (int), not true or false"},
		{`domain.cfg`, false, "condition evaluated to {'a': 1"},
		{`len(domain.count) > 0`, false, "invalid argument for len (type int)"},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			c := compileTest(t, tc.text)
			got, err := evalWith(t, c, conditionState())
			if c.fast != nil { // the shortcut must agree with the compiled program
				slow := *c
				slow.fast = nil
				got2, err2 := evalWith(t, &slow, conditionState())
				assert.Equal(t, got, got2)
				if assert.Equal(t, err == nil, err2 == nil) && err != nil {
					_, m1 := c.errorPos(err)
					_, m2 := slow.errorPos(err2)
					p1, _ := c.errorPos(err)
					p2, _ := slow.errorPos(err2)
					assert.Equal(t, m1, m2)
					assert.Equal(t, p1, p2)
				}
			}
			if tc.err == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			_, msg := c.errorPos(err)
			assert.Contains(t, msg, tc.err)
			for _, leak := range []string{"runtime error", "strconv", "big.Int", "interface {}", "int64", "float64", "map[", "[]", "<nil>", "reflect"} {
				if strings.Contains(tc.err, leak) {
					continue
				}
				assert.NotContains(t, msg, leak)
			}
		})
	}
}

// Conditions that read no state run once at load time, so their errors are load errors.
func TestConstantConditionErrors(t *testing.T) {
	tests := []struct{ text, code, msg string }{
		{`1 + "x" == 2`, CodeConditionType, "unsupported operand types for +: int and str"},
		{`1 / 0 > 0`, CodeConditionType, "division by zero"},
		{`1 % 0 == 0`, CodeConditionType, "integer modulo by zero"},
		{`0 ** -1 == 0`, CodeConditionType, "0 cannot be raised to a negative power"},
		{`2 ** 10000000 > 0`, CodeConditionType, "integer power too large"},
		{`1 + 2`, CodeConditionType, "condition must be true or false, but it is int"},
		{`99999999999999999999 + 1`, CodeConditionType, "but it is int"},
		{`1e999 > 0`, CodeConditionSyntax, "float literal 1e999 is out of range"},
		{`0x1_ffff_ffff_ffff_ffff_ffff + 1`, CodeConditionType, "but it is int"},
		{`int("12x") > 0`, CodeConditionType, "invalid literal for int()"},
		{`float("abc") > 0`, CodeConditionType, "could not convert str to float"},
		{`len(1) > 0`, CodeConditionType, "invalid argument for len (type int)"},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			src := newSource([]byte("condition: "+tc.text), "c.yaml")
			_, err := compileCondition(src, tc.text, func(off int) Pos { return src.pos(1, 12+off) })
			require.NotNil(t, err)
			assert.Equal(t, tc.code, err.Code)
			assert.Contains(t, err.Msg, tc.msg)
			for _, leak := range []string{"runtime error", "strconv", "big.Int", "interface {}", "int64", "float64", "<nil>"} {
				assert.NotContains(t, err.Error(), leak)
			}
		})
	}
	for _, ok := range []string{`99999999999999999999 > 1`, `-9223372036854775808 == -9223372036854775807 - 1`, `2 ** 64 == 18446744073709551616`, `1 / 2 == 0.5`, `7 % -3 == -2`} {
		t.Run(ok, func(t *testing.T) { compileTest(t, ok) })
	}
}
