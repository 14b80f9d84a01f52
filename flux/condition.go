package flux

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/parser/lexer"
	"github.com/expr-lang/expr/vm"
)

// Missing is the value Host.Values returns for a path that does not exist in the state.
// Conditions see it as nil.
type Missing struct{}

// NotAMapping is the value Host.Values returns for a path that goes below a value without
// keys, such as `domain.count.x` when domain.count is an int. Evaluating the condition then
// fails with an error at that path naming the type found.
type NotAMapping struct {
	// Depth is how many leading segments of the path name the value found.
	Depth int
	// Type is the Python type name of that value.
	Type string
}

// Condition is a compiled `condition`: an expr-lang expression over the state zones. It is
// compiled once, when the workflow is parsed, and evaluated against the committed state each
// time the stepper reaches it.
type Condition struct {
	// Source is the expression text as written.
	Source string

	paths   [][]string
	offsets []int    // offsets[i] is the rune offset in Source where paths[i] is first read
	slots   []string // slots[i] holds the value of paths[i]
	program *vm.Program
	fast    *comparison // set when the whole condition is one comparison of a path
	pos     Pos
	at      func(offset int) Pos // maps a rune offset in Source to a source position
}

// Pos is the position of the expression's first character.
func (c *Condition) Pos() Pos { return c.pos }

// Paths returns the state paths the condition reads, such as ["domain", "counter"]: the
// longest chains of `.name` and `["literal"]` accesses rooted at a zone name, with any path
// that extends another one dropped. The stepper asks Host.Values for exactly these. The
// result is shared; do not modify it.
func (c *Condition) Paths() [][]string { return c.paths }

// String returns the source text.
func (c *Condition) String() string { return c.Source }

// aliases are Python spellings accepted as expr-lang literals.
var aliases = map[string]func() ast.Node{
	"True":  func() ast.Node { return &ast.BoolNode{Value: true} },
	"False": func() ast.Node { return &ast.BoolNode{Value: false} },
	"None":  func() ast.Node { return &ast.NilNode{} },
}

// Compiling a condition takes two passes over the expression.
//
// The first (pathCollector, on a plain parse) finds every chain of member accesses rooted at
// a zone name and keeps the shortest distinct ones: those are the paths the condition reads.
// The second (slotRewriter, as an expr.Patch during the real compile) replaces each chain
// that equals a kept path with an identifier naming a slot, and the Python aliases with
// literals. At run time the values of the paths go into a small reused map under the slot
// names, so evaluating reads each value with one map lookup and builds no nested maps.

// pathCollector is the first pass. ast.Walk visits children before their parent, so a
// member access sees its object's chain already recorded and extends it.
type pathCollector struct {
	chains   map[ast.Node][]string
	order    []ast.Node
	consumed map[ast.Node]bool
	lets     map[string]bool
	consts   map[string]*big.Int // placeholder identifier -> integer literal beyond 64 bits
	at       map[string]int      // joined path -> rune offset of its first use
	err      *file.Error
}

func (c *pathCollector) record(n ast.Node, chain []string) {
	if _, ok := c.chains[n]; !ok {
		c.order = append(c.order, n)
	}
	c.chains[n] = chain
	if _, ok := c.at[pathKey(chain)]; !ok {
		c.at[pathKey(chain)] = c.start(n)
	}
}

// start is the offset of the first character of a member chain.
func (c *pathCollector) start(n ast.Node) int {
	for {
		switch m := n.(type) {
		case *ast.MemberNode:
			n = m.Node
			continue
		case *ast.ChainNode:
			n = m.Node
			continue
		}
		return n.Location().From
	}
}

func (c *pathCollector) fail(n ast.Node, format string, args ...any) {
	if c.err == nil {
		c.err = &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)}
	}
}

// Visit implements ast.Visitor.
func (c *pathCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if _, ok := aliases[n.Value]; ok {
			return
		}
		if _, ok := c.consts[n.Value]; ok {
			return
		}
		if n.Value == "$env" {
			c.fail(n, "$env is not available in conditions (name the zone directly, e.g. domain.x)")
			return
		}
		c.record(n, []string{n.Value})
	case *ast.MemberNode:
		if chain, ok := extend(c.chains, n); ok {
			c.consumed[n.Node] = true
			c.record(n, chain)
		}
	case *ast.ChainNode:
		if base, ok := c.chains[n.Node]; ok {
			c.consumed[n.Node] = true
			c.record(n, base)
		}
	case *ast.CallNode:
		c.consumed[n.Callee] = true
		if callee, ok := n.Callee.(*ast.IdentifierNode); ok {
			c.fail(n, "unknown function %s (conditions can use expr-lang builtins such as len, all, any, lower)", callee.Value)
		} else {
			c.fail(n, "method calls are not supported in conditions (state values are plain data)")
		}
	case *ast.VariableDeclaratorNode:
		c.lets[n.Name] = true
	}
}

// extend returns the chain of member access n when its object is a recorded chain and its
// property a literal name.
func extend(chains map[ast.Node][]string, n *ast.MemberNode) ([]string, bool) {
	base, ok := chains[n.Node]
	prop, isString := n.Property.(*ast.StringNode)
	if !ok || !isString || n.Method {
		return nil, false
	}
	return append(slices.Clip(base), prop.Value), true
}

// paths returns the collected state paths, the shortest first, without any path that
// extends another.
func (c *pathCollector) paths() [][]string {
	var all [][]string
	for _, n := range c.order {
		chain := c.chains[n]
		if c.consumed[n] || c.lets[chain[0]] {
			continue
		}
		all = append(all, chain)
	}
	slices.SortStableFunc(all, func(a, b []string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return slices.Compare(a, b)
	})
	var kept [][]string
next:
	for _, p := range all {
		for _, k := range kept {
			if len(k) <= len(p) && slices.Equal(k, p[:len(k)]) {
				continue next
			}
		}
		kept = append(kept, p)
	}
	return kept
}

// slotRewriter is the second pass: it rewrites the chains found by pathCollector into slot
// identifiers, the aliases and the placeholders of long integer literals into constants,
// and every arithmetic and comparison operator into a call to the Python-semantics
// functions of operators.go.
type slotRewriter struct {
	slot   map[string]string // joined path -> slot name
	lets   map[string]bool
	consts map[string]*big.Int
	chains map[ast.Node][]string
}

func pathKey(path []string) string { return strings.Join(path, "\x00") }

func (r *slotRewriter) try(node *ast.Node, chain []string) {
	if name, ok := r.slot[pathKey(chain)]; ok {
		ast.Patch(node, &ast.IdentifierNode{Value: name})
		return
	}
	r.chains[*node] = chain
}

// Operators and builtins that conditions compute with Python's rules.
var (
	binaryFuncs = map[string]string{
		"==": "$eq", "!=": "$ne", "<": "$lt", "<=": "$le", ">": "$gt", ">=": "$ge",
		"+": "$add", "-": "$sub", "*": "$mul", "/": "$div", "%": "$mod", "**": "$pow", "^": "$pow",
		"in": "$in",
	}
	builtinFuncs = map[string]string{
		"abs": "$abs", "sum": "$sum", "max": "$max", "min": "$min", "int": "$int", "float": "$float",
	}
	exprOptions = []expr.Option{
		expr.Function("$eq", opEq, new(func(any, any) bool)),
		expr.Function("$ne", opNe, new(func(any, any) bool)),
		expr.Function("$lt", opLt, new(func(any, any) bool)),
		expr.Function("$le", opLe, new(func(any, any) bool)),
		expr.Function("$gt", opGt, new(func(any, any) bool)),
		expr.Function("$ge", opGe, new(func(any, any) bool)),
		expr.Function("$in", opIn, new(func(any, any) bool)),
		expr.Function("$add", binary("+"), new(func(any, any) any)),
		expr.Function("$sub", binary("-"), new(func(any, any) any)),
		expr.Function("$mul", binary("*"), new(func(any, any) any)),
		expr.Function("$div", binary("/"), new(func(any, any) any)),
		expr.Function("$mod", binary("%"), new(func(any, any) any)),
		expr.Function("$pow", binary("**"), new(func(any, any) any)),
		expr.Function("$neg", opNeg, new(func(any) any)),
		expr.Function("$abs", opAbs, new(func(any) any)),
		expr.Function("$sum", opSum, new(func(any) any)),
		expr.Function("$max", extreme("max", 1), new(func(...any) any)),
		expr.Function("$min", extreme("min", -1), new(func(...any) any)),
		expr.Function("$int", opInt, new(func(any) any)),
		expr.Function("$float", opFloat, new(func(any) any)),
	}
)

func call(name string, args ...ast.Node) *ast.CallNode {
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: args}
}

// Visit implements ast.Visitor.
func (r *slotRewriter) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if alias, ok := aliases[n.Value]; ok {
			ast.Patch(node, alias())
			return
		}
		if v, ok := r.consts[n.Value]; ok {
			ast.Patch(node, &ast.ConstantNode{Value: v})
			return
		}
		if !r.lets[n.Value] {
			r.try(node, []string{n.Value})
		}
	case *ast.MemberNode:
		if chain, ok := extend(r.chains, n); ok {
			r.try(node, chain)
		}
	case *ast.ChainNode:
		if base, ok := r.chains[n.Node]; ok {
			r.try(node, base)
		}
	case *ast.BinaryNode:
		if fn, ok := binaryFuncs[n.Operator]; ok {
			ast.Patch(node, call(fn, n.Left, n.Right))
		}
	case *ast.UnaryNode:
		if n.Operator == "-" {
			ast.Patch(node, call("$neg", n.Node))
		}
	case *ast.BuiltinNode:
		fn, ok := builtinFuncs[n.Name]
		switch {
		case !ok:
		case n.Name == "sum" && len(n.Arguments) == 2:
			ast.Patch(node, call(fn, &ast.BuiltinNode{Name: "map", Arguments: n.Arguments}))
		default:
			ast.Patch(node, call(fn, n.Arguments...))
		}
	}
}

// slotName is the identifier the rewritten expression reads path i from. The "$" keeps it
// apart from what a user writes: user identifiers are rewritten away or are let names.
func slotName(i int) string { return "$" + strconv.Itoa(i) }

// compileCondition compiles text. at maps a rune offset inside text to its source position;
// errors are *Error with CodeConditionSyntax or CodeConditionType.
func compileCondition(src *source, text string, at func(int) Pos) (*Condition, *Error) {
	lexed, consts, lerr := bigLiterals(text)
	if lerr != nil {
		return nil, src.errorAt(at(lerr.From), CodeConditionSyntax, nil, "invalid condition: %s", lerr.Message)
	}
	c := &pathCollector{
		chains:   make(map[ast.Node][]string),
		consumed: make(map[ast.Node]bool),
		lets:     make(map[string]bool),
		consts:   consts,
		at:       make(map[string]int),
	}
	program, slots, err := compileExpr(lexed, c)
	if err != nil {
		offset, msg := 0, err.Error()
		var fe *file.Error
		if errors.As(err, &fe) {
			offset, msg = fe.From, fe.Message
		}
		return nil, src.errorAt(at(offset), CodeConditionSyntax, err, "invalid condition: %s", plainWords(msg))
	}
	root := program.Node()
	if isNilLiteral(root) {
		return nil, src.errorAt(at(0), CodeConditionType, nil,
			"condition is always None; it must be true or false (compare a value, e.g. domain.x > 0)")
	}
	if t := root.Type(); t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
		return nil, src.errorAt(at(0), CodeConditionType, nil,
			"condition must be true or false, but it is %s (compare a value, e.g. domain.x > 0)", plainWords(t.String()))
	}
	paths := c.paths()
	offsets := make([]int, len(paths))
	for i, p := range paths {
		offsets[i] = c.at[pathKey(p)]
	}
	cond := &Condition{Source: text, paths: paths, offsets: offsets, slots: slots, program: program, pos: at(0), at: at}
	cond.fast = fastComparison(root, slots)
	if len(paths) == 0 { // reads no state: whatever it does, it does now
		var m vm.VM
		if _, err := cond.eval(&m, map[string]any{}, nil); err != nil {
			pos, msg := cond.errorPos(err)
			var nb *nonBoolError
			if errors.As(err, &nb) {
				return nil, src.errorAt(at(0), CodeConditionType, nil,
					"condition must be true or false, but it is %s (compare a value, e.g. domain.x > 0)", typeName(nb.value))
			}
			return nil, src.errorAt(pos, CodeConditionType, err, "invalid condition: %s", msg)
		}
	}
	return cond, nil
}

// bigLiterals replaces every integer literal that does not fit in 64 bits with a
// placeholder identifier of the same length, so positions stay put, and returns the
// literals by placeholder. A float literal beyond the float range is an error.
func bigLiterals(text string) (string, map[string]*big.Int, *file.Error) {
	tokens, err := lexer.Lex(file.NewSource(text))
	if err != nil {
		return text, nil, nil // the parser reports it
	}
	var runes []rune
	var consts map[string]*big.Int
	for _, t := range tokens {
		if t.Kind != lexer.Number {
			continue
		}
		v := strings.ToLower(strings.ReplaceAll(t.Value, "_", ""))
		base := 10
		switch {
		case strings.HasPrefix(v, "0x"), strings.HasPrefix(v, "0b"), strings.HasPrefix(v, "0o"):
			base = 0
		case strings.ContainsAny(v, ".e"):
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				if errors.Is(err, strconv.ErrRange) {
					return "", nil, &file.Error{Location: t.Location, Message: fmt.Sprintf("float literal %s is out of range (floats reach about 1.8e308)", t.Value)}
				}
				return "", nil, &file.Error{Location: t.Location, Message: fmt.Sprintf("%s is not a valid number", t.Value)}
			}
			continue
		}
		if _, err := strconv.ParseInt(v, base, 64); err == nil {
			continue
		}
		b, ok := new(big.Int).SetString(v, base)
		if !ok {
			return "", nil, &file.Error{Location: t.Location, Message: fmt.Sprintf("%s is not a valid number", t.Value)}
		}
		if runes == nil {
			runes, consts = []rune(text), make(map[string]*big.Int)
		}
		name := fmt.Sprintf("$int%d", len(consts))
		width := t.To - t.From
		if len(name) > width || t.To > len(runes) {
			return "", nil, &file.Error{Location: t.Location, Message: fmt.Sprintf("integer literal %s cannot be read", t.Value)}
		}
		name += strings.Repeat("_", width-len(name))
		copy(runes[t.From:t.To], []rune(name))
		consts[name] = b
	}
	if runes == nil {
		return text, nil, nil
	}
	return string(runes), consts, nil
}

// compileExpr runs both passes, turning a panic inside expr-lang into an error.
func compileExpr(text string, c *pathCollector) (p *vm.Program, slots []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, slots, err = nil, nil, fmt.Errorf("cannot compile condition: %v", r)
		}
	}()
	tree, err := parser.ParseWithConfig(text, conf.CreateNew())
	if err != nil {
		return nil, nil, err
	}
	ast.Walk(&tree.Node, c)
	if c.err != nil {
		return nil, nil, c.err
	}
	r := &slotRewriter{slot: make(map[string]string), lets: c.lets, consts: c.consts, chains: make(map[ast.Node][]string)}
	for i, path := range c.paths() {
		slots = append(slots, slotName(i))
		r.slot[pathKey(path)] = slots[i]
	}
	opts := append([]expr.Option{expr.Env(map[string]any{}), expr.AllowUndefinedVariables(), expr.Patch(r)}, exprOptions...)
	p, err = expr.Compile(text, opts...)
	return p, slots, err
}

func isNilLiteral(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.NilNode:
		return true
	case *ast.ConstantNode:
		return n.Value == nil
	}
	return false
}

// pathError is a path of the condition that cannot be read; at is its offset in Source.
type pathError struct {
	at  int
	msg string
}

func (e *pathError) Error() string { return e.msg }

// bind stores values (one per path, as returned by Host.Values) in env under the slot
// names. Missing becomes nil; NotAMapping is an error at that path.
func (c *Condition) bind(env map[string]any, values []any) error {
	for i, v := range values {
		switch x := v.(type) {
		case Missing:
			v = nil
		case NotAMapping:
			return c.notAMapping(i, x)
		}
		env[c.slots[i]] = v
	}
	return nil
}

// notAMapping is the error for path i going below a value without keys.
func (c *Condition) notAMapping(i int, x NotAMapping) error {
	p := c.paths[i]
	if len(p) < 2 {
		return &pathError{at: c.offsets[i], msg: fmt.Sprintf("%s cannot be read (it is a %s)", p[0], x.Type)}
	}
	d := min(max(x.Depth, 1), len(p)-1)
	return &pathError{at: c.offsets[i], msg: fmt.Sprintf(
		"%s: %s is a%s %s, not a mapping, so it has no key `%s` (read that value itself, or store a dict there)",
		strings.Join(p, "."), strings.Join(p[:d], "."), article(x.Type), x.Type, p[d])}
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "n"
	}
	return ""
}

// nonBoolError reports a condition whose result was not a boolean.
type nonBoolError struct{ value any }

func (e *nonBoolError) Error() string {
	return fmt.Sprintf("condition evaluated to %s (%s), not true or false (compare it, e.g. x > 0 or x == \"y\")",
		repr(e.value), typeName(e.value))
}

// comparison is a condition that is a single comparison such as `domain.counter < 10`,
// the most common shape. It runs the same operator function as the compiled program,
// without starting the VM.
type comparison struct {
	fn   func(a, b any) (bool, error)
	args [2]operand
	at   int // offset of the operator, for errors
}

// operand is a slot (slot >= 0) or a literal value.
type operand struct {
	slot int
	lit  any
}

var comparisonFuncs = map[string]func(a, b any) (bool, error){
	"$eq": equal, "$ne": notEqual, "$lt": less, "$le": lessEqual, "$gt": greater, "$ge": greaterEqual,
}

// fastComparison recognises a compiled tree that is one comparison of slots and literals.
func fastComparison(root ast.Node, slots []string) *comparison {
	call, ok := root.(*ast.CallNode)
	if !ok || len(call.Arguments) != 2 {
		return nil
	}
	callee, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	fn, ok := comparisonFuncs[callee.Value]
	if !ok {
		return nil
	}
	c := &comparison{fn: fn, at: call.Location().From}
	for i, arg := range call.Arguments {
		switch n := arg.(type) {
		case *ast.IdentifierNode:
			slot := slices.Index(slots, n.Value)
			if slot < 0 {
				return nil
			}
			c.args[i] = operand{slot: slot}
		case *ast.IntegerNode:
			c.args[i] = operand{slot: -1, lit: n.Value}
		case *ast.FloatNode:
			c.args[i] = operand{slot: -1, lit: n.Value}
		case *ast.StringNode:
			c.args[i] = operand{slot: -1, lit: n.Value}
		case *ast.BoolNode:
			c.args[i] = operand{slot: -1, lit: n.Value}
		case *ast.NilNode:
			c.args[i] = operand{slot: -1}
		default:
			return nil
		}
	}
	return c
}

// value is slot i's value as a condition sees it.
func (c *Condition) value(values []any, i int) (any, error) {
	switch x := values[i].(type) {
	case Missing:
		return nil, nil
	case NotAMapping:
		return nil, c.notAMapping(i, x)
	}
	return values[i], nil
}

// eval runs the condition on values (aligned with Paths) using machine m.
// env is scratch space reused across evaluations.
func (c *Condition) eval(m *vm.VM, env map[string]any, values []any) (bool, error) {
	if f := c.fast; f != nil && len(values) == len(c.slots) {
		var args [2]any
		for i, op := range f.args {
			if op.slot < 0 {
				args[i] = op.lit
				continue
			}
			v, err := c.value(values, op.slot)
			if err != nil {
				return false, err
			}
			args[i] = v
		}
		out, err := f.fn(args[0], args[1])
		if err != nil {
			return false, &pathError{at: f.at, msg: err.Error()}
		}
		return out, nil
	}
	if err := c.bind(env, values); err != nil {
		return false, err
	}
	out, err := m.Run(c.program, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, &nonBoolError{out}
	}
	return b, nil
}

// errorPos is the position of a run-time error inside the condition, or the condition's
// start when the error carries no location.
func (c *Condition) errorPos(err error) (Pos, string) {
	var pe *pathError
	if errors.As(err, &pe) {
		return c.at(pe.at), pe.msg
	}
	var fe *file.Error
	if errors.As(err, &fe) {
		return c.at(fe.From), plainWords(fe.Message)
	}
	return c.pos, plainWords(err.Error())
}
