package flux

import (
	"fmt"
	"slices"
	"strings"
)

// Default limits. Both are documented in docs/flux.md.
const (
	// DefaultMaxIterations is a while loop's max_iterations when the key is absent.
	DefaultMaxIterations = 10_000
	// DefaultBudget is the operation budget of a run when RunOptions.Budget is zero.
	DefaultBudget = 1_000_000
	// DefaultMaxTraceEntries caps Trace.Entries when RunOptions.MaxTraceEntries is zero.
	DefaultMaxTraceEntries = 10_000
)

// Workflow is a parsed and validated workflow. It is immutable once Parse returns, so one
// Workflow may be run by several goroutines at once.
type Workflow struct {
	// Name is the optional `name` key.
	Name string
	// Description is the optional `description` key.
	Description string
	// File is the name given to Parse, used in every position.
	File string
	// Args are the run arguments declared under `args:`, in source order.
	Args []Arg
	// Steps are the top-level steps in order.
	Steps []Step

	src *source
}

// ArgsRoot is the name under which conditions read the run's arguments (`args.order_id`);
// it is not a zone of the state.
const ArgsRoot = "args"

// Arg is one run argument declared under `args:`: required, or with a default.
type Arg struct {
	// Name is the argument's name (an identifier).
	Name string
	// Default is the value used when the run does not give one; HasDefault says whether
	// there is one (a list entry is required).
	Default    any
	HasDefault bool

	pos Pos
}

// ArgRef is a `with:` value written `${args.name}`: the run's argument of that name, passed
// as it is (any Python value).
type ArgRef struct {
	// Name is the referenced argument.
	Name string
}

// checkConditionArgs reports the first condition, in source order, that reads a run argument
// the workflow does not declare, or reads error.* outside an `except:` block (or a field of
// the error other than type, message and step).
func (w *Workflow) checkConditionArgs() error {
	declared := make(map[string]bool, len(w.Args))
	for _, a := range w.Args {
		declared[a.Name] = true
	}
	for _, name := range w.Waits() {
		declared[name] = true
	}
	walk(w.Steps, func(s Step) bool {
		if m, ok := s.(*MapStep); ok {
			declared[m.As] = true
		}
		return true
	})
	return w.checkNames(w.Steps, declared, false)
}

func (w *Workflow) checkNames(steps []Step, declared map[string]bool, inExcept bool) error {
	for _, s := range steps {
		if c := conditionOf(s); c != nil {
			for i, p := range c.paths {
				var msg string
				switch {
				case p[0] == ArgsRoot && len(p) >= 2 && !declared[p[1]]:
					msg = unknownArg(p[1], declared, fmt.Sprintf("condition `%s` reads", c.Source))
				case p[0] == ErrorRoot && !inExcept:
					msg = fmt.Sprintf("condition `%s` reads `error`, which exists only inside the `except:` of a `flux: try`", c.Source)
				case p[0] == ErrorRoot && len(p) >= 2 && !slices.Contains(errorFields, p[1]):
					msg = fmt.Sprintf("condition `%s` reads error.%s; the caught error has %s", c.Source, p[1], strings.Join(errorFields, ", "))
				default:
					continue
				}
				return w.src.errorAt(c.at(c.offsets[i]), CodeUnknownArg, nil, "%s", msg)
			}
		}
		var err error
		switch s := s.(type) {
		case *IfStep:
			if err = w.checkNames(s.Then, declared, inExcept); err == nil {
				err = w.checkNames(s.Else, declared, inExcept)
			}
		case *WhileStep:
			err = w.checkNames(s.Do, declared, inExcept)
		case *RunStep:
			err = w.checkNames(s.Steps, declared, inExcept)
		case *TryStep:
			if err = w.checkNames(s.Do, declared, inExcept); err == nil {
				err = w.checkNames(s.Except, declared, true)
			}
		case *MapStep:
			err = w.checkNames(s.Do, declared, inExcept)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// conditionOf is the condition of an if or while step, nil for other steps.
func conditionOf(s Step) *Condition {
	switch s := s.(type) {
	case *IfStep:
		return s.Condition
	case *WhileStep:
		return s.Condition
	case *MapStep:
		return s.Over
	}
	return nil
}

// Step is one step of a workflow: *ProcessStep, *IfStep, *WhileStep, *RunStep, *TryStep,
// *WaitStep or *MapStep.
type Step interface {
	// Pos is where the step starts in the source.
	Pos() Pos
	// Kind is "process", "if", "while" or "run".
	Kind() string
	isStep()
}

// ProcessStep runs one registered process.
type ProcessStep struct {
	// Name is the process name.
	Name string
	// With holds the keyword arguments from `with:` in source order (nil when absent).
	// Values are nil, bool, int64, *big.Int (beyond 64 bits), float64, string, []any and
	// Map. Treat it as read-only.
	With Map
	// Retry holds the fields of the step's `retry:` (a RetryPolicy), checked at load time;
	// nil when absent.
	Retry Map

	pos Pos
}

// Map is a YAML mapping under `with`, its keys in source order.
type Map []KeyValue

// KeyValue is one entry of a Map.
type KeyValue struct {
	Key   string
	Value any
}

// Get returns the value of key and whether it is present.
func (m Map) Get(key string) (any, bool) {
	for _, kv := range m {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// IfStep runs Then when its condition is true, otherwise Else.
type IfStep struct {
	// Condition is the compiled `condition`.
	Condition *Condition
	// Then runs when the condition is true.
	Then []Step
	// Else runs when the condition is false; nil when absent.
	Else []Step

	pos Pos
}

// WhileStep runs Do while its condition is true, at most MaxIterations times.
type WhileStep struct {
	// Condition is the compiled `condition`, evaluated before every iteration.
	Condition *Condition
	// MaxIterations bounds the number of iterations; exceeding it is a CodeMaxIterations error.
	MaxIterations int
	// Do is the loop body; never empty.
	Do []Step

	pos Pos
}

// RunStep runs a block of steps in order.
type RunStep struct {
	// Steps is the block.
	Steps []Step

	pos Pos
}

// TryStep runs Do; when a process step inside it fails (its function raised, or its commit
// was refused) with an error whose class is one of Errors (any error when Errors is empty),
// it runs Except instead of failing the run. Inside Except, conditions read the caught
// error as error.type, error.message and error.step.
type TryStep struct {
	// Do is the protected block; never empty.
	Do []Step
	// Except runs when Do fails with a matching error; never empty.
	Except []Step
	// Errors are the exception class names `errors:` lists (a class matches when it or one
	// of its bases has the name); nil matches every step error.
	Errors []string

	pos Pos
}

// MapStep runs Do once per item of the list Over yields (or per key, in sorted order, of a
// mapping), with the item bound as the run argument As, up to Concurrency items at a time.
// The items' traces join the run's in item order; a failing item fails the step once every
// item has finished.
type MapStep struct {
	// Over is the compiled `over:` expression.
	Over *Condition
	// As is the name each item is bound to.
	As string
	// Concurrency is how many items run at once (1: one after another).
	Concurrency int
	// Do is the body; never empty, and holds no wait step.
	Do []Step

	pos Pos
}

// MaxConcurrency bounds a map step's `concurrency`.
const MaxConcurrency = 256

// Pos implements Step.
func (s *MapStep) Pos() Pos { return s.pos }

// Kind implements Step.
func (*MapStep) Kind() string { return "map" }

func (*MapStep) isStep() {}

// WaitStep parks the run until the caller resumes it with a value for For, which is bound
// as a run argument from then on (a person approves, a webhook arrives).
type WaitStep struct {
	// For is the name of the input the run waits for (an identifier).
	For string

	pos Pos
}

// Pos implements Step.
func (s *WaitStep) Pos() Pos { return s.pos }

// Kind implements Step.
func (*WaitStep) Kind() string { return "wait" }

func (*WaitStep) isStep() {}

// Waits returns the `for:` names of the workflow's wait steps, each once, in source order:
// inputs that a resume supplies, not the run's start.
func (w *Workflow) Waits() []string {
	var names []string
	walk(w.Steps, func(s Step) bool {
		if ws, ok := s.(*WaitStep); ok && !slices.Contains(names, ws.For) {
			names = append(names, ws.For)
		}
		return true
	})
	return names
}

// ErrorRoot is the name under which conditions inside `except:` read the caught error.
const ErrorRoot = "error"

// errorFields are what error.<field> may name.
var errorFields = []string{"type", "message", "step"}

// Pos implements Step.
func (s *TryStep) Pos() Pos { return s.pos }

// Kind implements Step.
func (*TryStep) Kind() string { return "try" }

func (*TryStep) isStep() {}

// Pos implements Step.
func (s *ProcessStep) Pos() Pos { return s.pos }

// Pos implements Step.
func (s *IfStep) Pos() Pos { return s.pos }

// Pos implements Step.
func (s *WhileStep) Pos() Pos { return s.pos }

// Pos implements Step.
func (s *RunStep) Pos() Pos { return s.pos }

// Kind implements Step.
func (*ProcessStep) Kind() string { return "process" }

// Kind implements Step.
func (*IfStep) Kind() string { return "if" }

// Kind implements Step.
func (*WhileStep) Kind() string { return "while" }

// Kind implements Step.
func (*RunStep) Kind() string { return "run" }

func (*ProcessStep) isStep() {}
func (*IfStep) isStep()      {}
func (*WhileStep) isStep()   {}
func (*RunStep) isStep()     {}

// walk calls fn for every step in source order, depth first (then before else).
func walk(steps []Step, fn func(Step) bool) bool {
	for _, s := range steps {
		if !fn(s) {
			return false
		}
		var ok bool
		switch s := s.(type) {
		case *IfStep:
			ok = walk(s.Then, fn) && walk(s.Else, fn)
		case *WhileStep:
			ok = walk(s.Do, fn)
		case *RunStep:
			ok = walk(s.Steps, fn)
		case *TryStep:
			ok = walk(s.Do, fn) && walk(s.Except, fn)
		case *MapStep:
			ok = walk(s.Do, fn)
		default:
			ok = true
		}
		if !ok {
			return false
		}
	}
	return true
}

// EachProcessStep calls fn for every process step in source order until fn returns false.
func (w *Workflow) EachProcessStep(fn func(*ProcessStep) bool) {
	walk(w.Steps, func(s Step) bool {
		if p, ok := s.(*ProcessStep); ok {
			return fn(p)
		}
		return true
	})
}

// ProcessNames returns every process the workflow references, each once, in order of first
// appearance in the source.
func (w *Workflow) ProcessNames() []string {
	var names []string
	seen := make(map[string]bool)
	walk(w.Steps, func(s Step) bool {
		if p, ok := s.(*ProcessStep); ok && !seen[p.Name] {
			seen[p.Name] = true
			names = append(names, p.Name)
		}
		return true
	})
	return names
}

// Check reports the first process step, in source order, whose name is not in known, as an
// *Error with CodeUnknownProcess at that step, suggesting the closest known name.
func (w *Workflow) Check(known []string) error {
	set := make(map[string]bool, len(known))
	for _, k := range known {
		set[k] = true
	}
	var err error
	walk(w.Steps, func(s Step) bool {
		p, ok := s.(*ProcessStep)
		if !ok || set[p.Name] {
			return true
		}
		msg := fmt.Sprintf("unknown process %q", p.Name)
		if best := closest(p.Name, known); best != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", best)
		} else if len(known) == 0 {
			msg += " (no processes are registered; register it before running the workflow)"
		} else {
			msg += " (register it before running the workflow)"
		}
		err = w.src.errorAt(p.pos, CodeUnknownProcess, nil, "%s", msg)
		return false
	})
	return err
}

// StepOptions reports whether any process step has a `retry:`, or the workflow has a try
// (whose except steps may receive the caught error) or a map (whose items bind run
// arguments): a host then passes more than `with:` to steps.
func (w *Workflow) StepOptions() bool {
	found := false
	walk(w.Steps, func(s Step) bool {
		switch s := s.(type) {
		case *ProcessStep:
			found = s.Retry != nil
		case *TryStep, *MapStep:
			found = true
		}
		return !found
	})
	return found
}

// Zones returns the top-level names the workflow's conditions read (run arguments aside), each once, in order of
// first appearance. A Host whose state has all of them passes CheckZones.
func (w *Workflow) Zones() []string {
	var zones []string
	walk(w.Steps, func(s Step) bool {
		c := conditionOf(s)
		if c == nil {
			return true
		}
		for _, p := range c.paths {
			if p[0] != ArgsRoot && p[0] != ErrorRoot && !slices.Contains(zones, p[0]) {
				zones = append(zones, p[0])
			}
		}
		return true
	})
	return zones
}

// CheckZones reports the first condition, in source order, that reads a top-level name not
// in zones, as an *Error with CodeUnknownZone at that name inside the condition,
// suggesting the closest zone. Such a path could only ever read nil, so it is almost
// certainly a typo (`domian.total`).
func (w *Workflow) CheckZones(zones []string) error {
	set := make(map[string]bool, len(zones))
	for _, z := range zones {
		set[z] = true
	}
	var err error
	walk(w.Steps, func(s Step) bool {
		c := conditionOf(s)
		if c == nil {
			return true
		}
		for i, p := range c.paths {
			if set[p[0]] || p[0] == ArgsRoot || p[0] == ErrorRoot {
				continue
			}
			msg := fmt.Sprintf("unknown zone `%s` in condition `%s`", p[0], c.Source)
			sorted := slices.Sorted(slices.Values(zones))
			if best := closest(p[0], zones); best != "" {
				msg += fmt.Sprintf(" (did you mean `%s`? zones: %s)", best, strings.Join(sorted, ", "))
			} else {
				msg += fmt.Sprintf(" (zones: %s; a condition reads paths such as domain.x)", strings.Join(sorted, ", "))
			}
			err = w.src.errorAt(c.at(c.offsets[i]), CodeUnknownZone, nil, "%s", msg)
			return false
		}
		return true
	})
	return err
}

// closest returns the candidate nearest to name by edit distance when it is near enough to
// be a plausible typo, else "".
func closest(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	n := len([]rune(name))
	if bestD < 0 || bestD > 2+n/4 || bestD >= n {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
