package flux

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/expr-lang/expr/vm"
)

// Host is what the stepper drives: the engine that runs processes and reads committed state.
// The stepper calls it on the goroutine that called Run, one call at a time.
type Host interface {
	// Run executes one process step through the engine's normal path (snapshot, call,
	// compare-and-swap commit, retries). A non-nil error stops the workflow; it is wrapped
	// in an *Error with CodeStep whose Unwrap returns it unchanged.
	Run(step *ProcessStep) error
	// Values returns the committed values at paths (each like ["domain", "counter"]), in
	// order, as nil, bool, int64, float64, string, []any or map[string]any. A path that does
	// not exist yields Missing{}.
	Values(paths [][]string) ([]any, error)
	// Interrupted reports a pending interruption, such as KeyboardInterrupt. The stepper
	// polls it every 64 operations and whenever 5 ms have passed since the last poll; a
	// non-nil error aborts the run and is returned unchanged.
	Interrupted() error
}

// Catcher is optionally implemented by a Host whose step errors have classes (Python
// exceptions). Without one, a `flux: try` catches every step error, and `errors:` matches the
// class name "Error".
type Catcher interface {
	// Catch reports whether err, the error of a failed process step, is an instance of one
	// of classes (a class or one of its bases has the name; any error when classes is
	// empty). When it is, the host treats the error as handled and returns its class name
	// and message; when not, err must stay as it was.
	Catch(err error, classes []string) (typ, msg string, ok bool)
	// Caught tells the host the error the steps it runs next are handling: the map holds
	// type, message and step; nil when the except block is over.
	Caught(info map[string]any)
}

// Fanner is implemented by a Host that runs `flux: map` steps (a Host without it fails
// them).
type Fanner interface {
	// Fan calls item(i, h) once for every i in [0, len(items)), at most concurrency at a
	// time (one after another when concurrency is 1), and returns when all have returned;
	// h is a Host for that item whose run arguments also bind name to items[i]. The result
	// holds item's error per index. When several items failed, the error of the lowest
	// index must be the one left current (a Python exception pending, for a Python host).
	Fan(name string, items []any, concurrency int, item func(i int, h Host) error) []error
}

// Observer is optionally implemented by a Host that reports a run while it happens (events,
// progress bars, logs). Both are called on the goroutine running the step.
type Observer interface {
	// Started is called before a process step runs.
	Started(step *ProcessStep)
	// Recorded is called with every trace entry as it is made (also beyond the trace cap):
	// a finished process step, an evaluated condition, a caught error, a map, a wait.
	Recorded(e TraceEntry)
}

// Versioner is optionally implemented by a Host to expose the committed state version. When
// it is, trace entries record the version before and after each step.
type Versioner interface {
	// Version returns the current committed version.
	Version() uint64
}

// RunOptions tunes one run. The zero value uses the defaults.
type RunOptions struct {
	// Budget is the most operations the run may perform; 0 means DefaultBudget. A process
	// step, a condition evaluation and a loop iteration each count as one operation.
	Budget int
	// MaxTraceEntries caps Trace.Entries; 0 means DefaultMaxTraceEntries. Later entries are
	// counted in Trace.Dropped. Trace.Executed is never capped.
	MaxTraceEntries int
}

// Trace records a run. It is returned even when the run fails, holding what happened up to
// the failure.
type Trace struct {
	// Executed lists the process names run, in order, including a step that failed.
	Executed []string
	// Entries holds one entry per process step and per condition evaluation, in order.
	Entries []TraceEntry
	// Dropped counts entries not kept because of RunOptions.MaxTraceEntries.
	Dropped int
	// Operations is the number of operations the run used against its budget.
	Operations int
}

// TraceEntry is one process step or one condition evaluation.
type TraceEntry struct {
	// Step is the process name, or the condition's source for an if or while.
	Step string
	// Kind is "process", "if", "while", or "except" for an error a `flux: try` caught.
	Kind string
	// Pos is the step's position.
	Pos Pos
	// Start is when the step began.
	Start time.Time
	// Duration is how long it took.
	Duration time.Duration
	// Outcome is "ok" or "error" for a process, "true", "false" or "error" for a condition,
	// and the caught error's class name for an except entry (whose Step is the failed step).
	Outcome string
	// VersionBefore and VersionAfter are the committed versions around the step; zero
	// unless the Host implements Versioner.
	VersionBefore, VersionAfter uint64
}

const (
	pollEvery    = 64
	pollInterval = 5 * time.Millisecond
)

// Run executes the workflow against h. Program counter, loop counters and the budget live
// here; processes and state reads go through h. Steps that committed before a failure stay
// committed. The returned error is an *Error, a *Waiting when the run reached a `flux: wait`
// (see Resume), or the error of h.Interrupted as is. The trace is never nil.
func (w *Workflow) Run(h Host, opts RunOptions) (*Trace, error) {
	r := w.newRunner(h, opts, &Trace{}, 0)
	// One entry per static step is exact for straight-line workflows and a start for loops.
	n := 0
	walk(w.Steps, func(Step) bool { n++; return true })
	r.trace.Executed = make([]string, 0, n)
	r.trace.Entries = make([]TraceEntry, 0, min(n, r.maxTrace))
	return r.finish(r.steps(w.Steps))
}

// Resume continues a run that returned wait from just after its wait step, with the trace
// and operation count it had (the trace of wait is not changed: the returned one extends a
// copy). The caller binds the awaited input where its Host reads run arguments. A run may
// be resumed from the same *Waiting more than once; hosts that allow one resume enforce it.
func (w *Workflow) Resume(h Host, wait *Waiting, opts RunOptions) (*Trace, error) {
	if wait == nil || wait.w != w {
		return &Trace{}, fmt.Errorf("flux: resume: the paused run belongs to another workflow")
	}
	trace := &Trace{
		Executed: slices.Clone(wait.trace.Executed),
		Entries:  slices.Clone(wait.trace.Entries),
		Dropped:  wait.trace.Dropped,
	}
	r := w.newRunner(h, opts, trace, wait.trace.Operations)
	return r.finish(r.stepsFrom(w.Steps, wait.cursor))
}

func (w *Workflow) newRunner(h Host, opts RunOptions, trace *Trace, ops int) *runner {
	r := &runner{
		w:        w,
		h:        h,
		budget:   opts.Budget,
		maxTrace: opts.MaxTraceEntries,
		trace:    trace,
		ops:      ops,
		now:      time.Now(),
		env:      make(map[string]any),
	}
	if r.budget <= 0 {
		r.budget = DefaultBudget
	}
	if r.maxTrace <= 0 {
		r.maxTrace = DefaultMaxTraceEntries
	}
	r.lastPoll = r.now
	r.versioner, _ = h.(Versioner)
	r.observer, _ = h.(Observer)
	return r
}

// finish records the operations used and completes a parked run's record.
func (r *runner) finish(err error) (*Trace, error) {
	r.trace.Operations = r.ops
	if wt, ok := err.(*Waiting); ok {
		wt.w, wt.trace = r.w, r.trace
	}
	return r.trace, err
}

// Waiting is the error of a run parked at a `flux: wait`: nothing failed; Resume continues
// the run after the wait step.
type Waiting struct {
	// For is the wait's `for:` name: the input the run waits for.
	For string
	// Pos is the wait step's position.
	Pos Pos

	w      *Workflow
	trace  *Trace
	cursor []frame // from the top-level step list down to the wait step
	next   frame   // the frame being built while the error unwinds
}

func (e *Waiting) Error() string {
	return fmt.Sprintf("%s: flux: the run waits for `%s` (resume it with that input)", e.Pos, e.For)
}

// frame is where a parked run stands in one step list: the index of the step, and for
// that step the branch taken (if: 0 then, 1 else; try: 0 do, 1 except), the loop iteration
// (while) or the error being handled (try's except).
type frame struct {
	index, branch, iter int
	caught              map[string]any
}

type runner struct {
	w         *Workflow
	h         Host
	versioner Versioner
	observer  Observer
	machine   vm.VM
	env       map[string]any // condition inputs, reused
	budget    int
	ops       int
	lastPoll  time.Time
	now       time.Time // refreshed around every process and condition; read by tick
	maxTrace  int
	trace     *Trace
	caught    map[string]any // the error the current except block handles; nil outside one
}

// tick counts one operation at pos, enforces the budget and polls for interruption.
func (r *runner) tick(pos Pos) error {
	r.ops++
	if r.ops > r.budget {
		return r.w.src.errorAt(pos, CodeBudget, nil,
			"operation budget of %d exhausted here (a loop that does not end?); raise the budget if the workflow really needs more", r.budget)
	}
	if r.ops%pollEvery == 1 || r.now.Sub(r.lastPoll) >= pollInterval {
		r.lastPoll = r.now
		if err := r.h.Interrupted(); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) version() uint64 {
	if r.versioner == nil {
		return 0
	}
	return r.versioner.Version()
}

func (r *runner) record(e TraceEntry) {
	if r.observer != nil {
		r.observer.Recorded(e)
	}
	r.keep(e)
}

// keep appends e to the trace, or counts it beyond the cap.
func (r *runner) keep(e TraceEntry) {
	if len(r.trace.Entries) >= r.maxTrace {
		r.trace.Dropped++
		return
	}
	r.trace.Entries = append(r.trace.Entries, e)
}

func (r *runner) steps(steps []Step) error { return r.stepsFrom(steps, nil) }

// stepsFrom runs a step list, or with res (a parked run's frames for this list and below)
// the rest of it from where the run waited. A *Waiting from a step gets this list's frame.
func (r *runner) stepsFrom(steps []Step, res []frame) error {
	start := 0
	if res != nil {
		start = res[0].index
	}
	for i := start; i < len(steps); i++ {
		var err error
		if res != nil && i == start {
			err = r.resumeStep(steps[i], res[0], res[1:])
		} else {
			err = r.step(steps[i])
		}
		if err != nil {
			if wt, ok := err.(*Waiting); ok {
				f := wt.next
				f.index = i
				wt.cursor = append([]frame{f}, wt.cursor...)
				wt.next = frame{}
			}
			return err
		}
	}
	return nil
}

// parked marks a *Waiting coming out of a branch of the current step.
func parked(err error, f frame) error {
	if wt, ok := err.(*Waiting); ok {
		wt.next = f
	}
	return err
}

// resumeStep continues step s of a parked run: f is its frame, rest the frames below it.
func (r *runner) resumeStep(s Step, f frame, rest []frame) error {
	switch s := s.(type) {
	case *WaitStep:
		r.now = time.Now()
		v := r.version()
		r.record(TraceEntry{Step: s.For, Kind: "wait", Pos: s.pos, Start: r.now, Outcome: "resumed", VersionBefore: v, VersionAfter: v})
		return nil
	case *IfStep:
		branch := s.Then
		if f.branch == 1 {
			branch = s.Else
		}
		return parked(r.stepsFrom(branch, rest), frame{branch: f.branch})
	case *WhileStep:
		if err := r.stepsFrom(s.Do, rest); err != nil {
			return parked(err, frame{iter: f.iter})
		}
		return r.loop(s, f.iter+1)
	case *RunStep:
		return r.stepsFrom(s.Steps, rest)
	case *TryStep:
		if f.branch == 0 {
			return r.tryFrom(s, rest)
		}
		return r.except(s, f.caught, rest)
	}
	panic(fmt.Sprintf("flux: cannot resume inside a %T", s))
}

func (r *runner) step(s Step) error {
	switch s := s.(type) {
	case *ProcessStep:
		return r.process(s)
	case *IfStep:
		ok, err := r.condition(s.Condition, "if", s.pos)
		if err != nil {
			return err
		}
		if ok {
			return parked(r.steps(s.Then), frame{branch: 0})
		}
		return parked(r.steps(s.Else), frame{branch: 1})
	case *WhileStep:
		return r.loop(s, 0)
	case *RunStep:
		return r.steps(s.Steps)
	case *TryStep:
		return r.tryFrom(s, nil)
	case *MapStep:
		return r.fan(s)
	case *WaitStep:
		r.now = time.Now()
		if err := r.tick(s.pos); err != nil {
			return err
		}
		v := r.version()
		r.record(TraceEntry{Step: s.For, Kind: "wait", Pos: s.pos, Start: r.now, Outcome: "waiting", VersionBefore: v, VersionAfter: v})
		return &Waiting{For: s.For, Pos: s.pos}
	}
	panic(fmt.Sprintf("flux: unknown step type %T", s))
}

// loop runs a while step from iteration n (0 for a fresh loop).
func (r *runner) loop(s *WhileStep, n int) error {
	for ; ; n++ {
		ok, err := r.condition(s.Condition, "while", s.pos)
		if err != nil || !ok {
			return err
		}
		if n >= s.MaxIterations {
			return r.w.src.errorAt(s.pos, CodeMaxIterations, nil,
				"while loop exceeded max_iterations (%d) with its condition `%s` still true (fix the condition or raise max_iterations)",
				s.MaxIterations, s.Condition.Source)
		}
		if err := r.tick(s.pos); err != nil {
			return err
		}
		if err := r.steps(s.Do); err != nil {
			return parked(err, frame{iter: n})
		}
	}
}

func (r *runner) process(s *ProcessStep) error {
	r.now = time.Now()
	if err := r.tick(s.pos); err != nil {
		return err
	}
	e := TraceEntry{Step: s.Name, Kind: "process", Pos: s.pos, Start: r.now, Outcome: "ok", VersionBefore: r.version()}
	r.trace.Executed = append(r.trace.Executed, s.Name)
	if r.observer != nil {
		r.observer.Started(s)
	}
	err := r.h.Run(s)
	r.now = time.Now()
	e.Duration = r.now.Sub(e.Start)
	e.VersionAfter = r.version()
	if err != nil {
		e.Outcome = "error"
	}
	r.record(e)
	if err != nil {
		fe := r.w.src.errorAt(s.pos, CodeStep, err, "step `%s` (line %d) failed: %v", s.Name, s.pos.Line, err)
		fe.Step = s.Name
		return fe
	}
	return nil
}

// tryFrom runs s.Do (from res when resuming inside it), and s.Except when a process step in
// it failed with a matching error. Budget, loop-limit and condition errors, and
// interruptions, are never caught.
func (r *runner) tryFrom(s *TryStep, res []frame) error {
	err := r.stepsFrom(s.Do, res)
	var fe *Error
	if err == nil || !errors.As(err, &fe) || fe.Code != CodeStep {
		return parked(err, frame{branch: 0})
	}
	typ, msg, ok := "Error", "", true
	if fe.Err != nil {
		msg = fe.Err.Error()
	}
	if catcher, isCatcher := r.h.(Catcher); isCatcher {
		typ, msg, ok = catcher.Catch(fe.Err, s.Errors)
	} else if len(s.Errors) > 0 {
		ok = slices.Contains(s.Errors, typ)
	}
	if !ok {
		return err
	}
	r.now = time.Now()
	v := r.version()
	r.record(TraceEntry{Step: fe.Step, Kind: "except", Pos: s.pos, Start: r.now, Outcome: typ, VersionBefore: v, VersionAfter: v})
	return r.except(s, map[string]any{"type": typ, "message": msg, "step": fe.Step}, nil)
}

// except runs s.Except (from res when resuming inside it) handling the error caught.
func (r *runner) except(s *TryStep, caught map[string]any, res []frame) error {
	outer := r.caught
	catcher, isCatcher := r.h.(Catcher)
	r.caught = caught
	if isCatcher {
		catcher.Caught(caught)
	}
	err := r.stepsFrom(s.Except, res)
	r.caught = outer
	if isCatcher {
		catcher.Caught(outer)
	}
	return parked(err, frame{branch: 1, caught: caught})
}

// fan runs a map step: its items' bodies through the host's Fanner, each on a runner of its
// own (its own trace and operation count, the remaining budget), joined in item order.
func (r *runner) fan(s *MapStep) error {
	r.now = time.Now()
	if err := r.tick(s.pos); err != nil {
		return err
	}
	e := TraceEntry{Step: s.Over.Source, Kind: "map", Pos: s.pos, Start: r.now, Outcome: "error", VersionBefore: r.version()}
	items, err := r.items(s)
	if err != nil {
		e.VersionAfter = e.VersionBefore
		r.record(e)
		return err
	}
	fanner, ok := r.h.(Fanner)
	if !ok {
		return r.w.src.errorAt(s.pos, CodeStep, nil, "this host cannot run `flux: map` steps")
	}
	subs := make([]*runner, len(items))
	remaining := r.budget - r.ops
	errs := fanner.Fan(s.As, items, s.Concurrency, func(i int, h Host) error {
		sub := r.w.newRunner(h, RunOptions{Budget: remaining, MaxTraceEntries: r.maxTrace}, &Trace{}, 0)
		sub.caught = r.caught
		subs[i] = sub
		return sub.steps(s.Do)
	})
	r.now = time.Now()
	e.Duration = r.now.Sub(e.Start)
	e.VersionAfter = r.version()
	e.Outcome = fmt.Sprintf("%d items", len(items))
	r.record(e)
	for _, sub := range subs {
		if sub == nil {
			continue
		}
		r.ops += sub.ops
		r.trace.Executed = append(r.trace.Executed, sub.trace.Executed...)
		for _, en := range sub.trace.Entries {
			r.keep(en) // observed by the item's runner as it happened
		}
		r.trace.Dropped += sub.trace.Dropped
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if r.ops > r.budget {
		return r.w.src.errorAt(s.pos, CodeBudget, nil,
			"operation budget of %d exhausted by this map's items; raise the budget if the workflow really needs more", r.budget)
	}
	return nil
}

// items evaluates a map step's `over:`: a list gives its items, a mapping its keys in
// sorted order.
func (r *runner) items(s *MapStep) ([]any, error) {
	c := s.Over
	var values []any
	if len(c.paths) > 0 {
		var err error
		if values, err = r.values(c); err != nil {
			return nil, r.w.src.errorAt(c.pos, CodeCondition, err, "map `over` (line %d) could not read the state: %v", s.pos.Line, err)
		}
	}
	out, err := c.value(&r.machine, r.env, values)
	if err != nil {
		at, msg := c.errorPos(err)
		return nil, r.w.src.errorAt(at, CodeCondition, err, "map `over` (line %d) failed on the current state: %s", s.pos.Line, msg)
	}
	switch v := out.(type) {
	case []any:
		return v, nil
	case map[string]any:
		keys := make([]any, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			keys = append(keys, k)
		}
		return keys, nil
	}
	return nil, r.w.src.errorAt(c.pos, CodeCondition, nil,
		"map `over` (line %d) must give a list or a mapping, got %s", s.pos.Line, typeName(out))
}

// values reads the paths of c: the caught error's fields from the stepper, the rest from
// the host.
func (r *runner) values(c *Condition) ([]any, error) {
	if !c.readsError {
		return r.h.Values(c.paths)
	}
	out := make([]any, len(c.paths))
	var hostPaths [][]string
	var at []int
	for i, p := range c.paths {
		if p[0] != ErrorRoot {
			hostPaths, at = append(hostPaths, p), append(at, i)
			continue
		}
		switch v, ok := r.caught[p[min(1, len(p)-1)]]; {
		case len(p) == 1:
			out[i] = r.caught
		case !ok:
			out[i] = Missing{}
		case len(p) > 2:
			out[i] = NotAMapping{Depth: 2, Type: "str"}
		default:
			out[i] = v
		}
	}
	if len(hostPaths) > 0 {
		vals, err := r.h.Values(hostPaths)
		if err != nil {
			return nil, err
		}
		if len(vals) != len(hostPaths) {
			return nil, fmt.Errorf("the state reader returned %d values for %d paths", len(vals), len(hostPaths))
		}
		for j, i := range at {
			out[i] = vals[j]
		}
	}
	return out, nil
}

// condition evaluates c for the step of the given kind at pos.
func (r *runner) condition(c *Condition, kind string, pos Pos) (bool, error) {
	r.now = time.Now()
	if err := r.tick(pos); err != nil {
		return false, err
	}
	e := TraceEntry{Step: c.Source, Kind: kind, Pos: pos, Start: r.now, Outcome: "error", VersionBefore: r.version()}
	ok, err := r.evaluate(c, kind, pos)
	r.now = time.Now()
	e.Duration = r.now.Sub(e.Start)
	e.VersionAfter = e.VersionBefore
	if err == nil {
		e.Outcome = "false"
		if ok {
			e.Outcome = "true"
		}
	}
	r.record(e)
	return ok, err
}

func (r *runner) evaluate(c *Condition, kind string, pos Pos) (bool, error) {
	var values []any
	if len(c.paths) > 0 {
		var err error
		values, err = r.values(c)
		if err != nil {
			return false, r.w.src.errorAt(c.pos, CodeCondition, err,
				"%s condition (line %d) could not read the state: %v", kind, pos.Line, err)
		}
		if len(values) != len(c.paths) {
			return false, r.w.src.errorAt(c.pos, CodeCondition, nil,
				"%s condition (line %d): the state reader returned %d values for %d paths", kind, pos.Line, len(values), len(c.paths))
		}
	}
	ok, err := c.eval(&r.machine, r.env, values)
	if err != nil {
		at, msg := c.errorPos(err)
		return false, r.w.src.errorAt(at, CodeCondition, err,
			"%s condition (line %d) failed on the current state: %s", kind, pos.Line, msg)
	}
	return ok, nil
}
