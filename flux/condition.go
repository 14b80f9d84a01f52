package flux

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Missing is the value Host.Values returns for a path that does not exist in the state.
// Conditions see it as nil.
type Missing struct{}

// Condition is a compiled `condition`: an expr-lang expression over the state zones. It is
// compiled once, when the workflow is parsed, and evaluated against the committed state each
// time the stepper reaches it.
type Condition struct {
	// Source is the expression text as written.
	Source string

	paths   [][]string
	slots   []string // slots[i] holds the value of paths[i]
	program *vm.Program
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
	err      *file.Error
}

func (c *pathCollector) record(n ast.Node, chain []string) {
	if _, ok := c.chains[n]; !ok {
		c.order = append(c.order, n)
	}
	c.chains[n] = chain
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
// identifiers and the aliases into literals.
type slotRewriter struct {
	slot   map[string]string // joined path -> slot name
	lets   map[string]bool
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

// Visit implements ast.Visitor.
func (r *slotRewriter) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if alias, ok := aliases[n.Value]; ok {
			ast.Patch(node, alias())
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
	}
}

// slotName is the identifier the rewritten expression reads path i from. The "$" keeps it
// apart from what a user writes: user identifiers are rewritten away or are let names.
func slotName(i int) string { return "$" + strconv.Itoa(i) }

// compileCondition compiles text. at maps a rune offset inside text to its source position;
// errors are *Error with CodeConditionSyntax or CodeConditionType.
func compileCondition(src *source, text string, at func(int) Pos) (*Condition, *Error) {
	c := &pathCollector{
		chains:   make(map[ast.Node][]string),
		consumed: make(map[ast.Node]bool),
		lets:     make(map[string]bool),
	}
	program, slots, err := compileExpr(text, c)
	if err != nil {
		offset, msg := 0, err.Error()
		var fe *file.Error
		if errors.As(err, &fe) {
			offset, msg = fe.From, fe.Message
		}
		return nil, src.errorAt(at(offset), CodeConditionSyntax, err, "invalid condition: %s", msg)
	}
	root := program.Node()
	if isNilLiteral(root) {
		return nil, src.errorAt(at(0), CodeConditionType, nil,
			"condition is always nil; it must be true or false (compare a value, e.g. domain.x > 0)")
	}
	if t := root.Type(); t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
		return nil, src.errorAt(at(0), CodeConditionType, nil,
			"condition must be true or false, but it is %s (compare a value, e.g. domain.x > 0)", t)
	}
	return &Condition{Source: text, paths: c.paths(), slots: slots, program: program, pos: at(0), at: at}, nil
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
	r := &slotRewriter{slot: make(map[string]string), lets: c.lets, chains: make(map[ast.Node][]string)}
	for i, path := range c.paths() {
		slots = append(slots, slotName(i))
		r.slot[pathKey(path)] = slots[i]
	}
	p, err = expr.Compile(text, expr.Env(map[string]any{}), expr.AllowUndefinedVariables(), expr.Patch(r))
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

// bind stores values (one per path, as returned by Host.Values) in env under the slot
// names. Missing becomes nil.
func (c *Condition) bind(env map[string]any, values []any) {
	for i, v := range values {
		if _, missing := v.(Missing); missing {
			v = nil
		}
		env[c.slots[i]] = v
	}
}

// nonBoolError reports a condition whose result was not a boolean.
type nonBoolError struct{ value any }

func (e *nonBoolError) Error() string {
	return fmt.Sprintf("condition evaluated to %v (%T), not true or false", e.value, e.value)
}

// eval runs the condition on values (aligned with Paths) using machine m.
// env is scratch space reused across evaluations.
func (c *Condition) eval(m *vm.VM, env map[string]any, values []any) (bool, error) {
	c.bind(env, values)
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
	var fe *file.Error
	if errors.As(err, &fe) {
		return c.at(fe.From), fe.Message
	}
	return c.pos, err.Error()
}
