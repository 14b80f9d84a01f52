package flux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the YAML nodes one workflow may expand to (aliases included), so a small
// file of nested aliases cannot blow up into a huge step tree.
const maxNodes = 1_000_000

// Allowed keys per place, in the order they are listed in messages.
var (
	topKeys     = []string{"name", "description", "args", "steps"}
	processKeys = []string{"process", "with", "retry"}
	retryKeys   = []string{"max_attempts", "initial_delay", "backoff", "max_delay", "jitter", "retry_on"}
	ifKeys      = []string{"flux", "condition", "then", "else"}
	whileKeys   = []string{"flux", "condition", "max_iterations", "do"}
	runKeys     = []string{"flux", "steps"}
	tryKeys     = []string{"flux", "do", "except", "errors"}
	waitKeys    = []string{"flux", "for"}
	mapKeys     = []string{"flux", "over", "as", "concurrency", "do"}
	fluxKinds   = []string{"if", "while", "run", "try", "wait", "map"}
)

// Parse reads a workflow from YAML source and performs every load-time check: structure,
// keys, step kinds, values, and condition syntax and types. Conditions are compiled here,
// once. file names the source in positions; use "<string>" for inline text ("" means that).
// Every error is an *Error. Process names are not checked against a registry; see Check.
func Parse(src []byte, file string) (*Workflow, error) {
	if file == "" {
		file = "<string>"
	}
	p := &loader{src: newSource(src, file)}
	root, err := p.document(src)
	if err != nil {
		return nil, err
	}
	w, perr := p.workflow(root)
	if perr != nil {
		return nil, perr
	}
	return w, nil
}

type loader struct {
	src   *source
	nodes int
	args  map[string]bool // the declared run arguments, known before the steps are read
	waits map[string]bool // the `for:` names of the wait steps read so far
	items map[string]bool // the `as:` names of the map steps read so far
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 error into an *Error. yaml.v3 reports syntax errors only as text
// ("yaml: line 3: ..."), so the line is read from it; the column is not available.
func (p *loader) yamlError(err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return p.src.errorf(line, 1, CodeYAML, err, "invalid YAML: %s", plainWords(m[2]))
	}
	return p.src.errorf(1, 1, CodeYAML, err, "invalid YAML: %s", plainWords(strings.TrimPrefix(msg, "yaml: ")))
}

// document decodes exactly one YAML document and returns its root node.
func (p *loader) document(src []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, p.src.errorf(1, 1, CodeYAML, nil, "invalid YAML: %s", plainWords(fmt.Sprint(r)))
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, p.src.errorf(1, 1, CodeNotAMapping, nil,
				"workflow is empty (expected a mapping with a `steps` list)")
		}
		return nil, p.yamlError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, p.src.errorf(extra.Line, extra.Column, CodeYAML, nil,
			"more than one YAML document (a workflow file holds one)")
	case !errors.Is(err, io.EOF):
		return nil, p.yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil, p.src.errorf(1, 1, CodeNotAMapping, nil,
			"workflow is empty (expected a mapping with a `steps` list)")
	}
	return doc.Content[0], nil
}

// resolve follows aliases and counts nodes against maxNodes.
func (p *loader) resolve(n *yaml.Node) (*yaml.Node, *Error) {
	for i := 0; n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > 100 {
			return nil, p.src.errorf(n.Line, n.Column, CodeYAML, nil, "invalid YAML: unresolvable alias *%s", n.Value)
		}
		n = n.Alias
	}
	p.nodes++
	if p.nodes > maxNodes {
		return nil, p.src.errorf(n.Line, n.Column, CodeYAML, nil,
			"workflow is too large (more than %d YAML nodes after expanding aliases)", maxNodes)
	}
	return n, nil
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "empty"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		default:
			return n.Value
		}
	}
	return "an unsupported YAML node"
}

// mapping is a YAML mapping with string keys, checked for duplicates.
type mapping struct {
	node *yaml.Node
	keys []string
	key  map[string]*yaml.Node
	val  map[string]*yaml.Node
}

func (m *mapping) has(k string) bool { return m.val[k] != nil }

func (p *loader) mapping(n *yaml.Node) (*mapping, *Error) {
	m := &mapping{node: n, key: make(map[string]*yaml.Node), val: make(map[string]*yaml.Node)}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, err := p.resolve(n.Content[i])
		if err != nil {
			return nil, err
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			return nil, p.src.errorf(k.Line, k.Column, CodeInvalidValue, nil,
				"mapping keys must be strings, got %s", describe(k))
		}
		if first, dup := m.key[k.Value]; dup {
			return nil, p.src.errorf(k.Line, k.Column, CodeDuplicateKey, nil,
				"duplicate key `%s` (first defined at line %d)", k.Value, first.Line)
		}
		m.keys = append(m.keys, k.Value)
		m.key[k.Value] = k
		m.val[k.Value] = n.Content[i+1]
	}
	return m, nil
}

// onlyKeys rejects any key outside allowed, suggesting the nearest allowed one.
func (p *loader) onlyKeys(m *mapping, allowed []string, where string) *Error {
	for _, k := range m.keys {
		if containsString(allowed, k) {
			continue
		}
		hint := ""
		if best := closest(k, allowed); best != "" {
			hint = fmt.Sprintf("did you mean `%s`? ", best)
		}
		kn := m.key[k]
		return p.src.errorf(kn.Line, kn.Column, CodeUnknownKey, nil,
			"unknown key `%s` in %s (%sallowed: %s)", k, where, hint, strings.Join(allowed, ", "))
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *loader) workflow(root *yaml.Node) (*Workflow, *Error) {
	root, err := p.resolve(root)
	if err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			return nil, p.src.errorf(root.Line, root.Column, CodeNotAMapping, nil,
				"workflow is empty (expected a mapping with a `steps` list)")
		}
		hint := ""
		if root.Kind == yaml.SequenceNode {
			hint = "; put the list under `steps:`"
		}
		return nil, p.src.errorf(root.Line, root.Column, CodeNotAMapping, nil,
			"the top level must be a mapping with a `steps` list, got %s%s", describe(root), hint)
	}
	m, err := p.mapping(root)
	if err != nil {
		return nil, err
	}
	if err := p.onlyKeys(m, topKeys, "the workflow"); err != nil {
		return nil, err
	}
	w := &Workflow{File: p.src.file, src: p.src}
	if w.Name, err = p.text(m, "name"); err != nil {
		return nil, err
	}
	if w.Description, err = p.text(m, "description"); err != nil {
		return nil, err
	}
	if w.Args, err = p.argDecls(m); err != nil {
		return nil, err
	}
	if !m.has("steps") {
		return nil, p.src.errorf(root.Line, root.Column, CodeMissingKey, nil,
			"the workflow has no `steps` (add a `steps:` list)")
	}
	if w.Steps, err = p.steps(m, "steps"); err != nil {
		return nil, err
	}
	if err := w.checkConditionArgs(); err != nil {
		return nil, err.(*Error)
	}
	return w, nil
}

// argName is a run argument's name: a Python identifier.
var argName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// argRef is a `with:` value that stands for a run argument: the whole string `${args.name}`.
var argRef = regexp.MustCompile(`^\$\{\s*args\.([A-Za-z_][A-Za-z0-9_]*)\s*\}$`)

// argDecls reads `args:`: a list of names (each required) or a mapping of names to
// defaults.
func (p *loader) argDecls(m *mapping) ([]Arg, *Error) {
	p.args = map[string]bool{}
	if !m.has("args") {
		return nil, nil
	}
	n, err := p.resolve(m.val["args"])
	if err != nil {
		return nil, err
	}
	var out []Arg
	add := func(k *yaml.Node, a Arg) *Error {
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || !argName.MatchString(k.Value) {
			return p.src.errorf(k.Line, k.Column, CodeInvalidValue, nil,
				"a run argument name must be an identifier such as order_id, got %s", describe(k))
		}
		if p.args[k.Value] {
			return p.src.errorf(k.Line, k.Column, CodeDuplicateKey, nil, "run argument `%s` is declared twice", k.Value)
		}
		p.args[k.Value] = true
		a.Name, a.pos = k.Value, p.src.pos(k.Line, k.Column)
		out = append(out, a)
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil, nil
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			c, err := p.resolve(c)
			if err != nil {
				return nil, err
			}
			if err := add(c, Arg{}); err != nil {
				return nil, err
			}
		}
		return out, nil
	case yaml.MappingNode:
		am, err := p.mapping(n)
		if err != nil {
			return nil, err
		}
		for _, k := range am.keys {
			v, err := p.value(am.val[k])
			if err != nil {
				return nil, err
			}
			if err := add(am.key[k], Arg{Default: v, HasDefault: true}); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
		"`args` must be a list of names (required) or a mapping of names to defaults, got %s", describe(n))
}

// ref reads a `with:` string that refers to a run argument; other strings stay strings. A
// string that starts like a reference but is not one is an error, so a typo cannot pass as a
// literal.
func (p *loader) ref(n *yaml.Node) (any, *Error) {
	m := argRef.FindStringSubmatch(n.Value)
	if m == nil {
		return nil, p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
			"%q is not a run argument reference; write the whole value as ${args.name} (a name declared under `args:`)", n.Value)
	}
	if !p.args[m[1]] {
		return nil, p.src.errorf(n.Line, n.Column, CodeUnknownArg, nil, "%s", unknownArg(m[1], p.args, "`with:` refers to"))
	}
	return ArgRef{Name: m[1]}, nil
}

// unknownArg words the error for a run argument that is not declared.
func unknownArg(name string, declared map[string]bool, what string) string {
	names := slices.Sorted(maps.Keys(declared))
	if len(names) == 0 {
		return fmt.Sprintf("%s run argument `%s`, but the workflow declares no `args:` (add `args: [%s]`)", what, name, name)
	}
	msg := fmt.Sprintf("%s run argument `%s`, which is not declared under `args:` (declared: %s", what, name, strings.Join(names, ", "))
	if best := closest(name, names); best != "" {
		msg += fmt.Sprintf("; did you mean `%s`?", best)
	}
	return msg + ")"
}

// text reads an optional scalar as a string.
func (p *loader) text(m *mapping, key string) (string, *Error) {
	if !m.has(key) {
		return "", nil
	}
	n, err := p.resolve(m.val[key])
	if err != nil {
		return "", err
	}
	if n.Kind != yaml.ScalarNode {
		return "", p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil, "`%s` must be a string, got %s", key, describe(n))
	}
	if n.ShortTag() == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

// steps reads the list under key.
func (p *loader) steps(m *mapping, key string) ([]Step, *Error) {
	n, err := p.resolve(m.val[key])
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.src.errorf(n.Line, n.Column, CodeNotAList, nil,
			"`%s` must be a list of steps, got %s", key, describe(n))
	}
	steps := make([]Step, 0, len(n.Content))
	for _, c := range n.Content {
		s, err := p.step(c)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
	}
	return steps, nil
}

func (p *loader) step(n *yaml.Node) (Step, *Error) {
	n, err := p.resolve(n)
	if err != nil {
		return nil, err
	}
	pos := p.src.pos(n.Line, n.Column)
	switch n.Kind {
	case yaml.ScalarNode:
		name, err := p.processName(n)
		if err != nil {
			return nil, err
		}
		return &ProcessStep{Name: name, pos: pos}, nil
	case yaml.MappingNode:
	default:
		return nil, p.src.errorf(n.Line, n.Column, CodeInvalidStep, nil,
			"a step must be a process name or a mapping, got %s (use `flux: run` to group steps)", describe(n))
	}
	m, err := p.mapping(n)
	if err != nil {
		return nil, err
	}
	switch {
	case m.has("process") && m.has("flux"):
		k := m.key["flux"]
		return nil, p.src.errorf(k.Line, k.Column, CodeInvalidStep, nil,
			"a step has either `process` or `flux`, not both")
	case m.has("process"):
		return p.processStep(m, pos)
	case m.has("flux"):
	default:
		return nil, p.src.errorf(n.Line, n.Column, CodeInvalidStep, nil,
			"a step mapping needs `process: <name>` or `flux: if|while|run|try|wait|map`")
	}
	kn, err := p.resolve(m.val["flux"])
	if err != nil {
		return nil, err
	}
	kind := ""
	if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!str" {
		kind = kn.Value
	}
	switch kind {
	case "if":
		return p.ifStep(m, pos)
	case "while":
		return p.whileStep(m, pos)
	case "run":
		return p.runStep(m, pos)
	case "try":
		return p.tryStep(m, pos)
	case "wait":
		return p.waitStep(m, pos)
	case "map":
		return p.mapStep(m, pos)
	}
	hint := ""
	if best := closest(kind, fluxKinds); kind != "" && best != "" {
		hint = fmt.Sprintf("did you mean `%s`? ", best)
	}
	what := describe(kn)
	if kind != "" {
		what = fmt.Sprintf("%q", kind)
	}
	return nil, p.src.errorf(kn.Line, kn.Column, CodeUnknownKind, nil,
		"unknown flux kind %s (%sexpected if, while, run, try, wait or map)", what, hint)
}

func (p *loader) processName(n *yaml.Node) (string, *Error) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!null") {
		return "", p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
			"a process name must be a string, got %s", describe(n))
	}
	name := n.Value
	if n.ShortTag() == "!!null" {
		return "", p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
			"empty step (write a process name, or a mapping with `process` or `flux`)")
	}
	if strings.TrimSpace(name) == "" {
		return "", p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil, "empty process name")
	}
	if strings.TrimSpace(name) != name || strings.ContainsAny(name, "\n\t") {
		return "", p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
			"process name %q has surrounding or embedded whitespace", name)
	}
	return name, nil
}

func (p *loader) processStep(m *mapping, pos Pos) (Step, *Error) {
	if err := p.onlyKeys(m, processKeys, "a process step"); err != nil {
		return nil, err
	}
	nn, err := p.resolve(m.val["process"])
	if err != nil {
		return nil, err
	}
	name, err := p.processName(nn)
	if err != nil {
		return nil, err
	}
	s := &ProcessStep{Name: name, pos: pos}
	if m.has("with") {
		wn, err := p.resolve(m.val["with"])
		if err != nil {
			return nil, err
		}
		switch {
		case wn.Kind == yaml.ScalarNode && wn.ShortTag() == "!!null":
		case wn.Kind != yaml.MappingNode:
			return nil, p.src.errorf(wn.Line, wn.Column, CodeNotAMapping, nil,
				"`with` must be a mapping of keyword arguments, got %s", describe(wn))
		default:
			v, err := p.value(wn)
			if err != nil {
				return nil, err
			}
			s.With = v.(Map)
		}
	}
	if m.has("retry") {
		r, err := p.retry(m.val["retry"])
		if err != nil {
			return nil, err
		}
		s.Retry = r
	}
	return s, nil
}

// retry reads a process step's `retry:` mapping: the fields of a RetryPolicy, each checked
// here so that a typo or a bad value is a load-time error at its position.
func (p *loader) retry(n *yaml.Node) (Map, *Error) {
	n, err := p.resolve(n)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.src.errorf(n.Line, n.Column, CodeNotAMapping, nil,
			"`retry` must be a mapping such as {max_attempts: 3, initial_delay: 0.5}, got %s", describe(n))
	}
	m, err := p.mapping(n)
	if err != nil {
		return nil, err
	}
	if err := p.onlyKeys(m, retryKeys, "retry"); err != nil {
		return nil, err
	}
	out := make(Map, 0, len(m.keys))
	for _, k := range m.keys {
		vn, err := p.resolve(m.val[k])
		if err != nil {
			return nil, err
		}
		v, err := p.value(vn)
		if err != nil {
			return nil, err
		}
		bad := ""
		switch k {
		case "max_attempts":
			if i, ok := v.(int64); !ok || i < 1 || i > 1<<31 {
				bad = "an integer from 1 (the first run included)"
			}
		case "initial_delay", "max_delay", "backoff":
			f, ok := v.(float64)
			if i, isInt := v.(int64); isInt {
				f, ok = float64(i), true
			}
			lo := 0.0
			if k == "backoff" {
				lo = 1
			}
			if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < lo {
				bad = fmt.Sprintf("a finite number >= %g", lo)
			}
		case "jitter":
			if _, ok := v.(bool); !ok {
				bad = "true or false"
			}
		case "retry_on":
			if s, ok := v.(string); ok {
				v = []any{s}
			}
			list, ok := v.([]any)
			ok = ok && len(list) > 0
			for _, it := range list {
				if s, isStr := it.(string); !isStr || !argName.MatchString(s) {
					ok = false
				}
			}
			if !ok {
				bad = "an exception class name or a list of them, such as [TimeoutError, ConnectionError]"
			}
		}
		if bad != "" {
			return nil, p.src.errorf(vn.Line, vn.Column, CodeInvalidValue, nil, "retry: `%s` must be %s, got %s", k, bad, describe(vn))
		}
		out = append(out, KeyValue{Key: k, Value: v})
	}
	return out, nil
}

func (p *loader) missing(m *mapping, kind, key, example string) *Error {
	return p.src.errorf(m.node.Line, m.node.Column, CodeMissingKey, nil,
		"%s step is missing `%s` (e.g. %s)", kind, key, example)
}

func (p *loader) condition(m *mapping, kind string) (*Condition, *Error) {
	if !m.has("condition") {
		return nil, p.missing(m, kind, "condition", "condition: domain.count < 10")
	}
	n, err := p.resolve(m.val["condition"])
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.ScalarNode {
		return nil, p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
			"`condition` must be an expression string, got %s", describe(n))
	}
	if n.ShortTag() == "!!null" || strings.TrimSpace(n.Value) == "" {
		return nil, p.src.errorf(n.Line, n.Column, CodeConditionSyntax, nil,
			"condition is empty (write an expression such as domain.count < 10)")
	}
	return compileCondition(p.src, n.Value, scalarAt(p.src, n))
}

func (p *loader) ifStep(m *mapping, pos Pos) (Step, *Error) {
	if err := p.onlyKeys(m, ifKeys, "an if step"); err != nil {
		return nil, err
	}
	cond, err := p.condition(m, "if")
	if err != nil {
		return nil, err
	}
	if !m.has("then") {
		return nil, p.missing(m, "if", "then", "then: [some_process]")
	}
	s := &IfStep{Condition: cond, pos: pos}
	if s.Then, err = p.steps(m, "then"); err != nil {
		return nil, err
	}
	if m.has("else") {
		if s.Else, err = p.steps(m, "else"); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *loader) whileStep(m *mapping, pos Pos) (Step, *Error) {
	if err := p.onlyKeys(m, whileKeys, "a while step"); err != nil {
		return nil, err
	}
	cond, err := p.condition(m, "while")
	if err != nil {
		return nil, err
	}
	s := &WhileStep{Condition: cond, MaxIterations: DefaultMaxIterations, pos: pos}
	if m.has("max_iterations") {
		n, err := p.resolve(m.val["max_iterations"])
		if err != nil {
			return nil, err
		}
		v, perr := strconv.ParseInt(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || perr != nil || v < 1 || v > 1<<31 {
			return nil, p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
				"`max_iterations` must be an integer from 1 to %d, got %s", 1<<31, describe(n))
		}
		s.MaxIterations = int(v)
	}
	if !m.has("do") {
		return nil, p.missing(m, "while", "do", "do: [some_process]")
	}
	if s.Do, err = p.steps(m, "do"); err != nil {
		return nil, err
	}
	if len(s.Do) == 0 {
		n := m.val["do"]
		return nil, p.src.errorf(n.Line, n.Column, CodeEmptyBody, nil,
			"while loop has an empty `do` list; nothing could change its condition, so it would only spin (add a step or remove the loop)")
	}
	return s, nil
}

func (p *loader) runStep(m *mapping, pos Pos) (Step, *Error) {
	if err := p.onlyKeys(m, runKeys, "a run step"); err != nil {
		return nil, err
	}
	if !m.has("steps") {
		return nil, p.missing(m, "run", "steps", "steps: [a, b]")
	}
	s := &RunStep{pos: pos}
	var err *Error
	if s.Steps, err = p.steps(m, "steps"); err != nil {
		return nil, err
	}
	return s, nil
}

func (p *loader) mapStep(m *mapping, pos Pos) (Step, *Error) {
	if err := p.onlyKeys(m, mapKeys, "a map step"); err != nil {
		return nil, err
	}
	for _, k := range []struct{ key, example string }{{"over", "over: domain.order_ids"}, {"as", "as: order_id"}, {"do", "do: [handle_order]"}} {
		if !m.has(k.key) {
			return nil, p.missing(m, "map", k.key, k.example)
		}
	}
	on, err := p.resolve(m.val["over"])
	if err != nil {
		return nil, err
	}
	if on.Kind != yaml.ScalarNode || on.ShortTag() == "!!null" || strings.TrimSpace(on.Value) == "" {
		return nil, p.src.errorf(on.Line, on.Column, CodeInvalidValue, nil,
			"`over` must be an expression giving a list or a mapping, such as domain.order_ids, got %s", describe(on))
	}
	over, err := compileExpression(p.src, on.Value, scalarAt(p.src, on), false)
	if err != nil {
		return nil, err
	}
	as, err := p.boundName(m.val["as"], &p.items,
		"`as` must name the run argument each item is bound to, an identifier such as order_id",
		"is already a run argument; name the items differently")
	if err != nil {
		return nil, err
	}
	s := &MapStep{Over: over, As: as, Concurrency: 1, pos: pos}
	if m.has("concurrency") {
		n, err := p.resolve(m.val["concurrency"])
		if err != nil {
			return nil, err
		}
		v, perr := strconv.ParseInt(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || perr != nil || v < 1 || v > MaxConcurrency {
			return nil, p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
				"`concurrency` must be an integer from 1 to %d, got %s", MaxConcurrency, describe(n))
		}
		s.Concurrency = int(v)
	}
	if s.Do, err = p.steps(m, "do"); err != nil {
		return nil, err
	}
	if len(s.Do) == 0 {
		n := m.val["do"]
		return nil, p.src.errorf(n.Line, n.Column, CodeEmptyBody, nil, "map step has an empty `do` list (add a step)")
	}
	var wait *WaitStep
	walk(s.Do, func(st Step) bool {
		wait, _ = st.(*WaitStep)
		return wait == nil
	})
	if wait != nil {
		return nil, p.src.errorAt(wait.pos, CodeInvalidStep, nil,
			"a `flux: wait` cannot be inside a `flux: map` (the items run together; wait before or after the map)")
	}
	return s, nil
}

func (p *loader) waitStep(m *mapping, pos Pos) (Step, *Error) {
	if err := p.onlyKeys(m, waitKeys, "a wait step"); err != nil {
		return nil, err
	}
	if !m.has("for") {
		return nil, p.missing(m, "wait", "for", "for: approval")
	}
	name, err := p.boundName(m.val["for"], &p.waits,
		"`for` must name the input the run waits for, an identifier such as approval",
		"is declared under `args:`, so the run already has it; a wait names an input that only a resume supplies")
	if err != nil {
		return nil, err
	}
	return &WaitStep{For: name, pos: pos}, nil
}

// boundName reads the name a map (`as:`) or wait (`for:`) step binds as a run argument from
// then on, and records it in *kind (those names may repeat across steps of that kind); a
// name the workflow already has otherwise is refused with taken.
func (p *loader) boundName(v *yaml.Node, kind *map[string]bool, want, taken string) (string, *Error) {
	n, err := p.resolve(v)
	if err != nil {
		return "", err
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || !argName.MatchString(n.Value) {
		return "", p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil, "%s, got %s", want, describe(n))
	}
	if p.args[n.Value] && !(*kind)[n.Value] {
		return "", p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil, "`%s` %s", n.Value, taken)
	}
	if *kind == nil {
		*kind = map[string]bool{}
	}
	p.args[n.Value], (*kind)[n.Value] = true, true
	return n.Value, nil
}

func (p *loader) tryStep(m *mapping, pos Pos) (Step, *Error) {
	if err := p.onlyKeys(m, tryKeys, "a try step"); err != nil {
		return nil, err
	}
	s := &TryStep{pos: pos}
	for _, block := range []struct {
		key, example string
		into         *[]Step
	}{{"do", "do: [charge_card]", &s.Do}, {"except", "except: [notify_failure]", &s.Except}} {
		if !m.has(block.key) {
			return nil, p.missing(m, "try", block.key, block.example)
		}
		steps, err := p.steps(m, block.key)
		if err != nil {
			return nil, err
		}
		if len(steps) == 0 {
			n := m.val[block.key]
			return nil, p.src.errorf(n.Line, n.Column, CodeEmptyBody, nil, "try step has an empty `%s` list (add a step)", block.key)
		}
		*block.into = steps
	}
	if m.has("errors") {
		n, err := p.resolve(m.val["errors"])
		if err != nil {
			return nil, err
		}
		v, err := p.value(n)
		if err != nil {
			return nil, err
		}
		if one, ok := v.(string); ok {
			v = []any{one}
		}
		list, ok := v.([]any)
		ok = ok && len(list) > 0
		for _, it := range list {
			name, isStr := it.(string)
			if !isStr || !argName.MatchString(name) {
				ok = false
				break
			}
			s.Errors = append(s.Errors, name)
		}
		if !ok {
			return nil, p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
				"`errors` must be an exception class name or a list of them, such as [TimeoutError, ValueError], got %s", describe(n))
		}
	}
	return s, nil
}

// integerLiteral matches plain decimal integer scalars; prefixedInteger hexadecimal, octal
// and binary ones.
var (
	integerLiteral  = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)
	prefixedInteger = regexp.MustCompile(`^[-+]?0(x[0-9a-fA-F_]+|o[0-7_]+|b[01_]+)$`)
)

// value converts a YAML node under `with` to plain Go data: nil, bool, int64, *big.Int
// (an integer beyond 64 bits), float64, string, []any, Map (a mapping, in source order).
func (p *loader) value(n *yaml.Node) (any, *Error) {
	n, err := p.resolve(n)
	if err != nil {
		return nil, err
	}
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := p.value(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		m, err := p.mapping(n)
		if err != nil {
			return nil, err
		}
		out := make(Map, 0, len(m.keys))
		for _, k := range m.keys {
			if m.key[k].ShortTag() != "!!str" || k == "" {
				kn := m.key[k]
				return nil, p.src.errorf(kn.Line, kn.Column, CodeInvalidValue, nil,
					"keys under `with` must be non-empty strings, got %s (quote it)", describe(kn))
			}
			v, err := p.value(m.val[k])
			if err != nil {
				return nil, err
			}
			out = append(out, KeyValue{Key: k, Value: v})
		}
		return out, nil
	case yaml.ScalarNode:
		return p.scalar(n)
	}
	return nil, p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil, "unsupported YAML value")
}

// scalar reads a YAML scalar under `with`. An explicit tag (`!!float 1`, `!!str 5`) decides
// the type; otherwise YAML's own resolution does, except that an integer too long for 64
// bits stays an exact integer instead of becoming a float.
func (p *loader) scalar(n *yaml.Node) (any, *Error) {
	explicit := n.Style&yaml.TaggedStyle != 0
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!str":
		if n.Style == 0 && prefixedInteger.MatchString(n.Value) { // 0x... beyond 64 bits
			if v, ok := parseInt(n.Value); ok {
				return v, nil
			}
		}
		if !explicit && strings.HasPrefix(strings.TrimSpace(n.Value), "${") {
			return p.ref(n)
		}
		return n.Value, nil
	case "!!timestamp", "!!binary":
		return n.Value, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, p.badScalar(n, "a boolean (true or false)")
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		if v, ok := parseInt(n.Value); ok {
			return v, nil
		}
		return nil, p.badScalar(n, "an integer")
	case "!!float":
		if !explicit && integerLiteral.MatchString(n.Value) { // YAML resolves long integers as floats
			if v, ok := parseInt(n.Value); ok {
				return v, nil
			}
		}
		if v, ok := parseInt(n.Value); ok && explicit {
			f, _ := new(big.Float).SetInt(bigOf(v)).Float64()
			if math.IsInf(f, 0) {
				return nil, p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
					"%s is too large for a float", n.Value)
			}
			return f, nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, p.badScalar(n, "a float")
		}
		return f, nil
	}
	return nil, p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
		"unsupported YAML tag %s (use plain strings, numbers, booleans, lists and mappings)", n.Tag)
}

func (p *loader) badScalar(n *yaml.Node, want string) *Error {
	return p.src.errorf(n.Line, n.Column, CodeInvalidValue, nil,
		"%q is not %s (it is tagged %s; remove the tag or fix the value)", n.Value, want, n.Tag)
}

// parseInt reads an integer as YAML does (decimal, 0x, 0o, 0b, leading-0 octal, _
// separators, a sign) as an int64, or as a *big.Int when it does not fit.
func parseInt(text string) (any, bool) {
	t := strings.TrimSpace(text)
	if i, err := strconv.ParseInt(t, 0, 64); err == nil {
		return i, true
	}
	b, ok := new(big.Int).SetString(t, 0)
	if !ok {
		return nil, false
	}
	if b.IsInt64() {
		return b.Int64(), true
	}
	return b, true
}

func bigOf(v any) *big.Int {
	if b, ok := v.(*big.Int); ok {
		return b
	}
	return big.NewInt(v.(int64))
}
