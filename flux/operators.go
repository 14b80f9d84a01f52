package flux

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/vm/runtime"
)

// Conditions compute with Python's rules, not Go's. The state holds Python values, so a
// condition must give the answer Python would: integers are exact at any size, `==` compares
// dicts and lists by content, and int and float compare by their exact values. Every
// arithmetic and comparison operator of a condition is therefore compiled into a call to
// one of the functions below (see opRewriter); anything they cannot do exactly is an error
// that names the operands in Python words, never a wrapped or rounded result.
//
// Numbers in a condition are int (an integer that fits in 64 bits), *big.Int (any larger
// integer, never one that fits) and float64. bool counts as the integer 0 or 1 in
// arithmetic and comparisons, as in Python.

// maxIntBits bounds the integers `**` may build, so `2 ** 10**9` is an error instead of
// gigabytes of digits.
const maxIntBits = 1 << 20

var (
	minInt = big.NewInt(math.MinInt64)
	maxInt = big.NewInt(math.MaxInt64)
)

// Opaque stands for a state value that conditions cannot look inside (a numpy array, bytes,
// a set, an object). Reading it is allowed, so `len(domain) > 0` works on a zone holding
// one; comparing or computing with it is an error naming its type.
type Opaque struct{ typ string }

// NewOpaque returns the stand-in for a value of the Python type named typ.
func NewOpaque(typ string) Opaque { return Opaque{typ: typ} }

// TypeName is the Python type name of the value it stands for.
func (o Opaque) TypeName() string { return o.typ }

// String implements fmt.Stringer.
func (o Opaque) String() string { return "<" + o.typ + ">" }

// Set is a Python set or frozenset read from the state. `in` tests membership, `==`
// compares as sets, len counts its items; its order means nothing.
type Set []any

// NormInt returns x as an int when it fits in 64 bits, else x itself. Every *big.Int a
// condition sees went through it, so a value has one representation.
func NormInt(x *big.Int) any {
	if x.IsInt64() {
		return int(x.Int64())
	}
	return x
}

// typeName is the Python name of a condition value's type.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int, int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	case Set:
		return "frozenset"
	case Opaque:
		return v.typ
	}
	return goTypeWords(fmt.Sprintf("%T", v))
}

// opError is an operator that cannot be applied; the VM turns it into a positioned error.
type opError struct{ msg string }

func (e *opError) Error() string { return e.msg }

func opErrorf(format string, a ...any) error { return &opError{fmt.Sprintf(format, a...)} }

// num is a number taken apart: exactly one of the forms is set by kind.
type num struct {
	kind byte // 'i' int, 'b' big, 'f' float
	i    int
	b    *big.Int
	f    float64
}

// number classifies v as a number; bool counts as 0 or 1.
func number(v any) (num, bool) {
	switch x := v.(type) {
	case int:
		return num{kind: 'i', i: x}, true
	case float64:
		return num{kind: 'f', f: x}, true
	case *big.Int:
		return num{kind: 'b', b: x}, true
	case bool:
		if x {
			return num{kind: 'i', i: 1}, true
		}
		return num{kind: 'i'}, true
	case int64:
		return num{kind: 'i', i: int(x)}, true
	}
	return num{}, false
}

func (n num) big() *big.Int {
	if n.kind == 'b' {
		return n.b
	}
	return big.NewInt(int64(n.i))
}

// float converts an integer to the nearest float, or fails like Python's OverflowError.
func (n num) float() (float64, error) {
	switch n.kind {
	case 'f':
		return n.f, nil
	case 'i':
		return float64(n.i), nil
	}
	f, _ := new(big.Float).SetInt(n.b).Float64()
	if math.IsInf(f, 0) {
		return 0, opErrorf("int too large to convert to float (%d digits)", len(n.b.String()))
	}
	return f, nil
}

// cmpNum compares two numbers exactly; ok is false when one is NaN (unordered).
func cmpNum(a, b num) (c int, ok bool) {
	switch {
	case a.kind == 'i' && b.kind == 'i':
		return cmpInts(a.i, b.i), true
	case a.kind != 'f' && b.kind != 'f':
		return a.big().Cmp(b.big()), true
	case a.kind == 'f' && b.kind == 'f':
		if math.IsNaN(a.f) || math.IsNaN(b.f) {
			return 0, false
		}
		return cmpFloats(a.f, b.f), true
	case a.kind == 'f':
		c, ok := cmpIntFloat(b, a.f)
		return -c, ok
	}
	return cmpIntFloat(a, b.f)
}

func cmpInts(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloats(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpIntFloat compares an integer with a float by exact value, as Python does.
func cmpIntFloat(a num, f float64) (int, bool) {
	switch {
	case math.IsNaN(f):
		return 0, false
	case math.IsInf(f, 1):
		return -1, true
	case math.IsInf(f, -1):
		return 1, true
	}
	if a.kind == 'i' && a.i >= -1<<53 && a.i <= 1<<53 {
		return cmpFloats(float64(a.i), f), true // exact: both sides are representable
	}
	x := new(big.Float).SetInt(a.big())
	return x.Cmp(new(big.Float).SetFloat64(f)), true
}

// equal is Python's == on condition values: numbers by exact value (bool as 0 or 1), str by
// content, list and dict by content, recursively. Values of different kinds are unequal.
func equal(a, b any) (bool, error) {
	if na, ok := number(a); ok {
		nb, ok := number(b)
		if !ok {
			return false, opaqueCheck(b, a)
		}
		c, ordered := cmpNum(na, nb)
		return ordered && c == 0, nil
	}
	switch x := a.(type) {
	case nil:
		return b == nil, opaqueCheck(b, nil)
	case string:
		y, ok := b.(string)
		return ok && x == y, opaqueCheck(b, a)
	case []any:
		y, ok := b.([]any)
		if !ok {
			return false, opaqueCheck(b, a)
		}
		if len(x) != len(y) {
			return false, nil
		}
		for i := range x {
			if eq, err := equal(x[i], y[i]); err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return false, opaqueCheck(b, a)
		}
		if len(x) != len(y) {
			return false, nil
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok {
				return false, nil
			}
			if eq, err := equal(xv, yv); err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	case Set:
		y, ok := b.(Set)
		if !ok {
			return false, opaqueCheck(b, a)
		}
		if len(x) != len(y) {
			return false, nil
		}
		for _, it := range x {
			if in, err := opIn(it, []any(y)); err != nil || in != true {
				return false, err
			}
		}
		return true, nil
	case Opaque:
		if b == nil {
			return false, nil
		}
		return false, opErrorf("a %s value cannot be compared in a condition (compare one of its fields, or store plain numbers, str, lists or dicts)", x.typ)
	}
	if _, ok := b.(Opaque); ok {
		return false, opaqueCheck(b, a)
	}
	return runtime.Equal(a, b), nil // values from builtins, such as dates
}

// opaqueCheck fails when b is an Opaque compared with a non-nil value.
func opaqueCheck(b, a any) error {
	if o, ok := b.(Opaque); ok && a != nil {
		return opErrorf("a %s value cannot be compared in a condition (compare one of its fields, or store plain numbers, str, lists or dicts)", o.typ)
	}
	return nil
}

// compare orders a and b for <, <=, >, >= as Python does: numbers by exact value, str by
// code point, lists item by item. ok is false for an unordered pair (a NaN).
func compare(op string, a, b any) (c int, ok bool, err error) {
	if na, isNum := number(a); isNum {
		if nb, isNum := number(b); isNum {
			c, ok = cmpNum(na, nb)
			return c, ok, nil
		}
	}
	switch x := a.(type) {
	case string:
		if y, isStr := b.(string); isStr {
			return strings.Compare(x, y), true, nil
		}
	case []any:
		if y, isList := b.([]any); isList {
			for i := 0; i < len(x) && i < len(y); i++ {
				eq, err := equal(x[i], y[i])
				if err != nil {
					return 0, false, err
				}
				if !eq {
					return compare(op, x[i], y[i])
				}
			}
			return cmpInts(len(x), len(y)), true, nil
		}
	}
	hint := ""
	if a == nil || b == nil {
		hint = " (a missing path reads as None; give a default with ??, e.g. (domain.x ?? 0) < 10)"
	}
	return 0, false, opErrorf("cannot compare %s %s %s%s", typeName(a), op, typeName(b), hint)
}

func notEqual(a, b any) (bool, error) {
	eq, err := equal(a, b)
	return !eq, err
}

func ordering(op string, test func(int) bool) func(a, b any) (bool, error) {
	return func(a, b any) (bool, error) {
		c, ok, err := compare(op, a, b)
		return ok && test(c), err
	}
}

// The comparison operators, and the same as expr-lang functions.
var (
	less         = ordering("<", func(c int) bool { return c < 0 })
	lessEqual    = ordering("<=", func(c int) bool { return c <= 0 })
	greater      = ordering(">", func(c int) bool { return c > 0 })
	greaterEqual = ordering(">=", func(c int) bool { return c >= 0 })

	opEq = exprFunc(equal)
	opNe = exprFunc(notEqual)
	opLt = exprFunc(less)
	opLe = exprFunc(lessEqual)
	opGt = exprFunc(greater)
	opGe = exprFunc(greaterEqual)
)

func exprFunc(fn func(a, b any) (bool, error)) func(args ...any) (any, error) {
	return func(args ...any) (any, error) { return fn(args[0], args[1]) }
}

// arith applies a numeric operator: ints stay exact (moving to *big.Int past 64 bits), an
// int with a float gives a float.
func arith(op string, a, b any) (any, error) {
	na, okA := number(a)
	nb, okB := number(b)
	if !okA || !okB {
		return nonNumeric(op, a, b)
	}
	if na.kind == 'f' || nb.kind == 'f' {
		if op == "/" || op == "%" || op == "**" {
			return floatOp(op, na, nb)
		}
		x, err := na.float()
		if err != nil {
			return nil, err
		}
		y, err := nb.float()
		if err != nil {
			return nil, err
		}
		switch op {
		case "+":
			return x + y, nil
		case "-":
			return x - y, nil
		}
		return x * y, nil
	}
	if na.kind == 'i' && nb.kind == 'i' {
		if r, ok := smallIntOp(op, na.i, nb.i); ok {
			return r, nil
		}
	}
	return bigIntOp(op, na, nb)
}

// smallIntOp computes op on two ints when the result surely fits; ok is false otherwise.
func smallIntOp(op string, x, y int) (any, bool) {
	switch op {
	case "+":
		s := x + y
		if (x >= 0) == (y >= 0) && (s >= 0) != (x >= 0) {
			return nil, false
		}
		return s, true
	case "-":
		s := x - y
		if (x >= 0) != (y >= 0) && (s >= 0) != (x >= 0) {
			return nil, false
		}
		return s, true
	case "*":
		if x == 0 || y == 0 {
			return 0, true
		}
		p := x * y
		if p/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
			return nil, false
		}
		return p, true
	case "%":
		if y == 0 || y == -1 {
			return nil, false
		}
		r := x % y
		if r != 0 && (r < 0) != (y < 0) {
			r += y
		}
		return r, true
	}
	return nil, false
}

func bigIntOp(op string, a, b num) (any, error) {
	x, y := a.big(), b.big()
	switch op {
	case "+":
		return NormInt(new(big.Int).Add(x, y)), nil
	case "-":
		return NormInt(new(big.Int).Sub(x, y)), nil
	case "*":
		return NormInt(new(big.Int).Mul(x, y)), nil
	case "%":
		if y.Sign() == 0 {
			return nil, opErrorf("integer modulo by zero")
		}
		_, m := new(big.Int).DivMod(x, y, new(big.Int)) // Euclidean: 0 <= m < |y|
		if m.Sign() != 0 && y.Sign() < 0 {
			m.Add(m, y) // Python: the result takes the divisor's sign
		}
		return NormInt(m), nil
	case "/":
		if y.Sign() == 0 {
			return nil, opErrorf("division by zero")
		}
		if a.kind == 'i' && b.kind == 'i' && a.i >= -1<<53 && a.i <= 1<<53 && b.i >= -1<<53 && b.i <= 1<<53 {
			return float64(a.i) / float64(b.i), nil // correctly rounded, as Python's
		}
		f, _ := new(big.Rat).SetFrac(x, y).Float64()
		if math.IsInf(f, 0) {
			return nil, opErrorf("integer division result too large for a float")
		}
		return f, nil
	case "**":
		if y.Sign() < 0 {
			if x.Sign() == 0 {
				return nil, opErrorf("0 cannot be raised to a negative power")
			}
			return floatOp(op, a, b)
		}
		if x.BitLen() > 1 && (!y.IsInt64() || y.Int64() > maxIntBits || int64(x.BitLen()-1)*y.Int64() > maxIntBits) {
			return nil, opErrorf("integer power too large (the result would have more than %d bits)", maxIntBits)
		}
		return NormInt(new(big.Int).Exp(x, y, nil)), nil
	}
	return nil, opErrorf("unsupported operator %s", op)
}

// floatOp computes /, % and ** with a float operand, raising where Python raises.
func floatOp(op string, a, b num) (any, error) {
	x, err := a.float()
	if err != nil {
		return nil, err
	}
	y, err := b.float()
	if err != nil {
		return nil, err
	}
	switch op {
	case "/":
		if y == 0 {
			return nil, opErrorf("division by zero")
		}
		return x / y, nil
	case "%":
		if y == 0 {
			return nil, opErrorf("float modulo by zero")
		}
		r := math.Mod(x, y)
		if r != 0 && (r < 0) != (y < 0) {
			r += y
		} else if r == 0 {
			r = math.Copysign(0, y)
		}
		return r, nil
	}
	switch {
	case x == 0 && y < 0:
		return nil, opErrorf("0.0 cannot be raised to a negative power")
	case x < 0 && y != math.Trunc(y) && !math.IsInf(y, 0):
		return nil, opErrorf("a negative number raised to a fractional power is not a real number")
	}
	r := math.Pow(x, y)
	if math.IsInf(r, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
		return nil, opErrorf("float power result too large")
	}
	return r, nil
}

// nonNumeric handles an operator with an operand that is not a number: + joins two str or
// two lists; anything else is an error.
func nonNumeric(op string, a, b any) (any, error) {
	if op == "+" {
		switch x := a.(type) {
		case string:
			if y, ok := b.(string); ok {
				return x + y, nil
			}
		case []any:
			if y, ok := b.([]any); ok {
				out := make([]any, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
		}
	}
	if _, isMine := kindOf(a); !isMine {
		return builtinArith(op, a, b)
	}
	if _, isMine := kindOf(b); !isMine {
		return builtinArith(op, a, b)
	}
	hint := ""
	if a == nil || b == nil {
		hint = " (a missing path reads as None; give a default with ??, e.g. (domain.x ?? 0) + 1)"
	}
	return nil, opErrorf("unsupported operand types for %s: %s and %s%s", op, typeName(a), typeName(b), hint)
}

// kindOf reports whether v is one of the values a condition reads from the state or
// writes as a literal (as opposed to a date or duration made by a builtin).
func kindOf(v any) (string, bool) {
	switch v.(type) {
	case nil, bool, int, int64, *big.Int, float64, string, []any, map[string]any, Set, Opaque:
		return typeName(v), true
	}
	return "", false
}

// builtinArith falls back to expr-lang's own arithmetic for values made by its builtins
// (dates and durations).
func builtinArith(op string, a, b any) (r any, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, opErrorf("unsupported operand types for %s: %s and %s", op, typeName(a), typeName(b))
		}
	}()
	switch op {
	case "+":
		return runtime.Add(a, b), nil
	case "-":
		return runtime.Subtract(a, b), nil
	}
	return nil, opErrorf("unsupported operand types for %s: %s and %s", op, typeName(a), typeName(b))
}

func binary(op string) func(args ...any) (any, error) {
	return func(args ...any) (any, error) { return arith(op, args[0], args[1]) }
}

func opNeg(args ...any) (any, error) {
	n, ok := number(args[0])
	switch {
	case !ok:
		if _, mine := kindOf(args[0]); !mine {
			return builtinNeg(args[0])
		}
		return nil, opErrorf("bad operand type for unary -: %s", typeName(args[0]))
	case n.kind == 'f':
		return -n.f, nil
	case n.kind == 'i' && n.i != math.MinInt64:
		return -n.i, nil
	}
	return NormInt(new(big.Int).Neg(n.big())), nil
}

func builtinNeg(v any) (r any, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, opErrorf("bad operand type for unary -: %s", typeName(v))
		}
	}()
	return runtime.Negate(v), nil
}

// opIn is Python's `in`: an item of a list (by ==), a key of a dict, a substring of a str.
func opIn(args ...any) (any, error) {
	item, coll := args[0], args[1]
	if set, ok := coll.(Set); ok {
		coll = []any(set)
	}
	switch c := coll.(type) {
	case []any:
		for _, x := range c {
			eq, err := equal(item, x)
			if err != nil || eq {
				return eq, err
			}
		}
		return false, nil
	case map[string]any:
		k, ok := item.(string)
		if !ok {
			return false, nil
		}
		_, found := c[k]
		return found, nil
	case string:
		s, ok := item.(string)
		if !ok {
			return nil, opErrorf("'in <str>' requires a str on its left, not %s", typeName(item))
		}
		return strings.Contains(c, s), nil
	}
	hint := ""
	if coll == nil {
		hint = " (a missing path reads as None; give a default with ??, e.g. x in (domain.items ?? []))"
	}
	return nil, opErrorf("`in` needs a list, dict or str on its right, got %s%s", typeName(coll), hint)
}

func opAbs(args ...any) (any, error) {
	n, ok := number(args[0])
	if !ok {
		return nil, opErrorf("bad operand type for abs(): %s", typeName(args[0]))
	}
	switch {
	case n.kind == 'f':
		return math.Abs(n.f), nil
	case n.kind == 'i' && n.i >= 0:
		return n.i, nil
	case n.kind == 'i' && n.i != math.MinInt64:
		return -n.i, nil
	}
	return NormInt(new(big.Int).Abs(n.big())), nil
}

// opSum adds the items of a list exactly (the predicate form is rewritten to sum(map(...))).
func opSum(args ...any) (any, error) {
	items, ok := args[0].([]any)
	if !ok {
		return nil, opErrorf("sum() needs a list, got %s", typeName(args[0]))
	}
	var total any = 0
	for _, it := range items {
		if _, isNum := number(it); !isNum {
			return nil, opErrorf("sum() of a list holding a %s (sum adds numbers)", typeName(it))
		}
		var err error
		if total, err = arith("+", total, it); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// extreme is max (want 1) or min (want -1) over the arguments, or over one list argument.
func extreme(name string, want int) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		items := args
		if len(args) == 1 {
			l, ok := args[0].([]any)
			if !ok {
				return nil, opErrorf("%s() of one argument needs a list, got %s", name, typeName(args[0]))
			}
			items = l
		}
		if len(items) == 0 {
			return nil, opErrorf("%s() of an empty list", name)
		}
		best := items[0]
		for _, it := range items[1:] {
			c, ok, err := compare(map[int]string{1: ">", -1: "<"}[want], it, best)
			if err != nil {
				return nil, err
			}
			if ok && c == want {
				best = it
			}
		}
		return best, nil
	}
}

// opInt is Python's int(): exact for big floats and long digit strings.
func opInt(args ...any) (any, error) {
	switch x := args[0].(type) {
	case string:
		s := strings.ReplaceAll(strings.TrimSpace(x), "_", "")
		b, ok := new(big.Int).SetString(s, 10)
		if !ok || strings.HasPrefix(strings.TrimSpace(x), "_") {
			return nil, opErrorf("invalid literal for int() with base 10: %q", x)
		}
		return NormInt(b), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, opErrorf("cannot convert float %v to integer", x)
		}
		b, _ := new(big.Float).SetFloat64(math.Trunc(x)).Int(nil)
		return NormInt(b), nil
	}
	if n, ok := number(args[0]); ok {
		if n.kind == 'b' {
			return n.b, nil
		}
		return n.i, nil
	}
	return nil, opErrorf("int() argument must be a str or a number, not %s", typeName(args[0]))
}

// opFloat is Python's float().
func opFloat(args ...any) (any, error) {
	if s, ok := args[0].(string); ok {
		t := strings.ToLower(strings.TrimSpace(s))
		switch t {
		case "inf", "+inf", "infinity", "+infinity":
			return math.Inf(1), nil
		case "-inf", "-infinity":
			return math.Inf(-1), nil
		case "nan", "+nan", "-nan":
			return math.NaN(), nil
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) || strings.HasPrefix(t, "0x") || t == "" {
			return nil, opErrorf("could not convert str to float: %q", s)
		}
		return f, nil
	}
	n, ok := number(args[0])
	if !ok {
		return nil, opErrorf("float() argument must be a str or a number, not %s", typeName(args[0]))
	}
	return n.float()
}
