package flux

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

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
	fast    shortcut // the condition without the VM, for the common shapes; may be nil
	pos     Pos
	at      func(offset int) Pos // maps a rune offset in Source to a source position
	// readsError is set when a path is rooted at error (the caught error of an except:),
	// which the stepper reads itself instead of asking the host.
	readsError bool
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
	return compileExpression(src, text, at, true)
}

// compileExpression compiles text as a condition (boolean: its type is checked where it is
// known at load time) or as an expression of any value (a map step's `over:`).
func compileExpression(src *source, text string, at func(int) Pos, boolean bool) (*Condition, *Error) {
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
	if !boolean {
		return newCondition(text, c, slots, program, at), nil
	}
	if isNilLiteral(root) {
		return nil, src.errorAt(at(0), CodeConditionType, nil,
			"condition is always None; it must be true or false (compare a value, e.g. domain.x > 0)")
	}
	if t := root.Type(); t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
		return nil, src.errorAt(at(0), CodeConditionType, nil,
			"condition must be true or false, but it is %s (compare a value, e.g. domain.x > 0)", plainWords(t.String()))
	}
	cond := newCondition(text, c, slots, program, at)
	cond.fast = shortcutOf(root, slots)
	if len(cond.paths) == 0 { // reads no state: whatever it does, it does now
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

// newCondition assembles a compiled expression with the paths the collector found.
func newCondition(text string, c *pathCollector, slots []string, program *vm.Program, at func(int) Pos) *Condition {
	paths := c.paths()
	offsets := make([]int, len(paths))
	for i, p := range paths {
		offsets[i] = c.at[pathKey(p)]
	}
	cond := &Condition{Source: text, paths: paths, offsets: offsets, slots: slots, program: program, pos: at(0), at: at}
	for _, p := range paths {
		cond.readsError = cond.readsError || p[0] == ErrorRoot
	}
	return cond
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

// The common conditions are comparisons of paths with literals joined by and, or and not
// (`domain.counter < 10`, `len(domain.items) > 0 and global.enabled`). Those are also
// compiled into a small tree of the nodes below, which runs the same operator functions as
// the program without starting the VM. It only takes the happy path: on anything else (a
// non-boolean operand, an operator error, a path below a leaf) it gives up and the program
// runs, so results and errors are the program's own.

// shortcut is a node of that tree; ok is false when it gives up.
type shortcut interface {
	run(values []any) (result, ok bool)
}

type (
	compareNode struct {
		fn   func(a, b any) (bool, error)
		a, b operand
	}
	andNode  struct{ l, r shortcut }
	orNode   struct{ l, r shortcut }
	notNode  struct{ x shortcut }
	boolNode struct{ op operand } // a path or literal that must be a bool
)

// operand is a slot (slot >= 0, its length when length is set) or a literal value.
type operand struct {
	slot   int
	length bool
	lit    any
}

func (o operand) get(values []any) (any, bool) {
	if o.slot < 0 {
		return o.lit, true
	}
	v := values[o.slot]
	switch x := v.(type) {
	case Missing:
		v = nil
	case NotAMapping:
		return nil, false
	case []any:
		if o.length {
			return len(x), true
		}
	case map[string]any:
		if o.length {
			return len(x), true
		}
	case Set:
		if o.length {
			return len(x), true
		}
	case string:
		if o.length {
			return utf8.RuneCountInString(x), true
		}
	}
	return v, !o.length
}

func (n *compareNode) run(values []any) (bool, bool) {
	a, ok := n.a.get(values)
	if !ok {
		return false, false
	}
	b, ok := n.b.get(values)
	if !ok {
		return false, false
	}
	r, err := n.fn(a, b)
	return r, err == nil
}

func (n *andNode) run(values []any) (bool, bool) {
	l, ok := n.l.run(values)
	if !ok || !l {
		return false, ok
	}
	return n.r.run(values)
}

func (n *orNode) run(values []any) (bool, bool) {
	l, ok := n.l.run(values)
	if !ok || l {
		return l, ok
	}
	return n.r.run(values)
}

func (n *notNode) run(values []any) (bool, bool) {
	x, ok := n.x.run(values)
	return !x, ok
}

func (n *boolNode) run(values []any) (bool, bool) {
	v, ok := n.op.get(values)
	b, isBool := v.(bool)
	return b, ok && isBool
}

var comparisonFuncs = map[string]func(a, b any) (bool, error){
	"$eq": equal, "$ne": notEqual, "$lt": less, "$le": lessEqual, "$gt": greater, "$ge": greaterEqual,
}

// shortcutOf builds the tree for a compiled expression, or returns nil when any part of it
// is of another shape.
func shortcutOf(n ast.Node, slots []string) shortcut {
	switch n := n.(type) {
	case *ast.CallNode:
		callee, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || len(n.Arguments) != 2 {
			return nil
		}
		fn, ok := comparisonFuncs[callee.Value]
		if !ok {
			return nil
		}
		a, okA := operandOf(n.Arguments[0], slots)
		b, okB := operandOf(n.Arguments[1], slots)
		if !okA || !okB {
			return nil
		}
		return &compareNode{fn: fn, a: a, b: b}
	case *ast.BinaryNode:
		l, r := shortcutOf(n.Left, slots), shortcutOf(n.Right, slots)
		if l == nil || r == nil {
			return nil
		}
		switch n.Operator {
		case "and", "&&":
			return &andNode{l, r}
		case "or", "||":
			return &orNode{l, r}
		}
	case *ast.UnaryNode:
		if x := shortcutOf(n.Node, slots); x != nil && (n.Operator == "not" || n.Operator == "!") {
			return &notNode{x}
		}
	case *ast.IdentifierNode, *ast.BoolNode:
		if op, ok := operandOf(n, slots); ok {
			return &boolNode{op}
		}
	}
	return nil
}

func operandOf(n ast.Node, slots []string) (operand, bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if slot := slices.Index(slots, n.Value); slot >= 0 {
			return operand{slot: slot}, true
		}
	case *ast.BuiltinNode:
		if len(n.Arguments) == 1 && n.Name == "len" {
			if op, ok := operandOf(n.Arguments[0], slots); ok && op.slot >= 0 && !op.length {
				op.length = true
				return op, true
			}
		}
	case *ast.IntegerNode:
		return operand{slot: -1, lit: n.Value}, true
	case *ast.FloatNode:
		return operand{slot: -1, lit: n.Value}, true
	case *ast.StringNode:
		return operand{slot: -1, lit: n.Value}, true
	case *ast.BoolNode:
		return operand{slot: -1, lit: n.Value}, true
	case *ast.NilNode:
		return operand{slot: -1}, true
	}
	return operand{}, false
}

// readable reports that no value is a NotAMapping, which the program reports before it
// evaluates anything.
func readable(values []any) bool {
	for _, v := range values {
		if _, bad := v.(NotAMapping); bad {
			return false
		}
	}
	return true
}

// eval runs the condition on values (aligned with Paths) using machine m.
// env is scratch space reused across evaluations.
// value evaluates an expression compiled with compileExpression(..., false).
func (c *Condition) value(m *vm.VM, env map[string]any, values []any) (any, error) {
	if err := c.bind(env, values); err != nil {
		return nil, err
	}
	return m.Run(c.program, env)
}

func (c *Condition) eval(m *vm.VM, env map[string]any, values []any) (bool, error) {
	if c.fast != nil && len(values) == len(c.slots) && readable(values) {
		if r, ok := c.fast.run(values); ok {
			return r, nil
		}
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
