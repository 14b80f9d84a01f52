package main

import "C"

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/theus-dev/theus/capi/py"
	"github.com/theus-dev/theus/flux"
	"github.com/theus-dev/theus/kernel"
)

// host drives a workflow against one state: processes run through the Python engine's
// runner callable, conditions read the committed state directly from the kernel.
//
// The runner is called as runner(name, **with), or, for a rich run (one with run arguments,
// step retries, try or map steps: the engine passes a fan helper then), as
// runner(name, args, retry, error, **with): the run's argument dict, the step's retry
// fields (or None) and the error an except block handles (or None).
type host struct {
	st      *state
	runner  *py.Object                       // borrowed: runs one step
	fan     *py.Object                       // borrowed: fan(handle, n, concurrency) runs map items on threads; nil: a plain run
	args    map[*flux.ProcessStep]*py.Object // the runner's positional arguments per step, built once per host
	retries map[*flux.ProcessStep]*py.Object // owned by the root host: each step's retry dict, shared with its children
	runArgs *py.Object                       // the run's arguments, a dict by name (owned by map item hosts)
	ownArgs bool
	caught  *py.Object // owned: the error an except block handles, or nil
	watch   *py.Object // borrowed: observer(kind, step, line, col, outcome, start, duration, before, after), or nil
}

// Started implements flux.Observer: a process step is about to run.
func (h *host) Started(s *flux.ProcessStep) {
	if h.watch != nil {
		p := s.Pos()
		h.observe(py.NewTuple(py.NewStr("started"), py.NewStr(s.Name), py.NewInt(int64(p.Line)), py.NewInt(int64(p.Col)),
			py.NewStr(""), py.NewFloat(float64(time.Now().UnixNano())/1e9), py.NewFloat(0), py.NewUint(h.st.Version()),
			py.NewUint(h.st.Version())))
	}
}

// Recorded implements flux.Observer: a trace entry was made.
func (h *host) Recorded(e flux.TraceEntry) {
	if h.watch != nil {
		h.observe(py.NewTuple(py.NewStr(e.Kind), py.NewStr(e.Step), py.NewInt(int64(e.Pos.Line)), py.NewInt(int64(e.Pos.Col)),
			py.NewStr(e.Outcome), py.NewFloat(float64(e.Start.UnixNano())/1e9), py.NewFloat(e.Duration.Seconds()),
			py.NewUint(e.VersionBefore), py.NewUint(e.VersionAfter)))
	}
}

// observe calls the observer with args (owned). The observer's own exceptions do not stop
// the run: they are reported through sys.unraisablehook, as exceptions in callbacks are.
func (h *host) observe(args *py.Object) {
	if args == nil {
		py.WriteUnraisable(h.watch)
		return
	}
	defer args.DecRef()
	saved := py.FetchError() // an exception of the step may be pending: keep it
	defer py.RestoreError(saved)
	r, err := py.Call(h.watch, args, nil)
	if err != nil {
		py.WriteUnraisable(h.watch)
		return
	}
	r.DecRef()
}

// arg is the run argument name (borrowed), or nil when the run has none of that name.
func (h *host) arg(name string) *py.Object {
	v, _ := py.DictGet(h.runArgs, name)
	return v
}

// child is the host of one map item: the same state and callables, the run's arguments
// with name bound to item.
func (h *host) child(name string, item any) (*host, error) {
	d, err := py.DictCopy(h.runArgs)
	if err != nil {
		return nil, err
	}
	v, err := py.FromGo(item)
	if err == nil {
		err = py.SetItemStr(d, name, v)
		v.DecRef()
	}
	if err != nil {
		d.DecRef()
		return nil, err
	}
	c := &host{st: h.st, runner: h.runner, fan: h.fan, args: map[*flux.ProcessStep]*py.Object{}, retries: h.retries,
		runArgs: d, ownArgs: true, watch: h.watch}
	if h.caught != nil {
		c.caught = h.caught.IncRef()
	}
	return c, nil
}

// Catch implements flux.Catcher: a process's Python exception of one of classes is taken
// out of the way (handled by the except block); other errors stay as they are.
func (h *host) Catch(err error, classes []string) (string, string, bool) {
	var pe py.PythonError
	if !errors.As(err, &pe) {
		return "", "", false
	}
	return py.CatchPending(classes)
}

// Caught implements flux.Catcher: the steps run next receive info as their `error`.
func (h *host) Caught(info map[string]any) {
	if h.caught != nil {
		h.caught.DecRef()
		h.caught = nil
	}
	if info != nil {
		var err error
		if h.caught, err = py.FromGo(info); err != nil {
			h.caught = nil // the steps then get no error; the failure (a MemoryError) is dropped
			saved := py.FetchError()
			saved.Drop()
		}
	}
}

func (h *host) Run(step *flux.ProcessStep) error {
	args, ok := h.args[step]
	if !ok {
		if h.fan == nil {
			args = py.NewTuple(py.NewStr(step.Name))
		} else {
			retry := py.None()
			if r := h.retries[step]; r != nil {
				retry = r.IncRef()
			}
			args = py.NewTuple(py.NewStr(step.Name), h.runArgs.IncRef(), retry, py.None())
		}
		if args == nil {
			return py.ErrPython
		}
		h.args[step] = args
	}
	if h.caught != nil { // inside an except block: the same call with the error
		items := py.TupleItems(args)
		if args = py.NewTuple(items[0].IncRef(), items[1].IncRef(), items[2].IncRef(), h.caught.IncRef()); args == nil {
			return py.ErrPython
		}
		defer args.DecRef()
	}
	var kwargs *py.Object
	if len(step.With) > 0 { // converted per call: the process may change what it is given
		var err error
		if kwargs, err = py.FromGoWith(step.With, h.arg); err != nil {
			return err
		}
		defer kwargs.DecRef()
	}
	r, err := py.Call(h.runner, args, kwargs)
	if err != nil {
		return err
	}
	r.DecRef()
	return nil
}

// fanOut is one map step's items while they run: what flux_fan_item needs to run item i.
type fanOut struct {
	item     func(int, flux.Host) error
	children []*host
	errs     []error
	saved    []py.SavedError // the Python exception of a failed item, taken off its thread
}

// run runs item i and keeps its error (and Python exception).
func (f *fanOut) run(i int) {
	if f.children[i] == nil || f.errs[i] != nil {
		return
	}
	if err := f.item(i, f.children[i]); err != nil {
		f.errs[i] = err
		f.saved[i] = py.FetchError()
	}
}

// Fan implements flux.Fanner: items run one after another here, or with concurrency > 1 on
// the engine's thread pool (the fan helper calls flux_fan_item per item). The lowest failing
// item's Python exception is left pending; the others' are dropped (their trace entries say
// they failed).
func (h *host) Fan(name string, items []any, concurrency int, item func(int, flux.Host) error) []error {
	f := &fanOut{item: item, children: make([]*host, len(items)), errs: make([]error, len(items)),
		saved: make([]py.SavedError, len(items))}
	defer func() {
		for _, c := range f.children {
			if c != nil {
				c.close()
			}
		}
	}()
	for i, it := range items {
		c, err := h.child(name, it)
		if err != nil {
			f.errs[i], f.saved[i] = err, py.FetchError()
			continue
		}
		f.children[i] = c
	}
	if concurrency <= 1 || len(items) <= 1 || h.fan == nil {
		for i := range items {
			f.run(i)
		}
	} else if err := h.callFan(f, concurrency); err != nil {
		saved := py.FetchError()
		for i := range f.errs {
			if f.errs[i] == nil { // not run: the helper failed (an interrupt while waiting)
				f.errs[i] = err
			}
		}
		for i := range f.saved {
			if f.saved[i].Pending() {
				f.saved[i].Drop()
			}
			f.saved[i] = py.SavedError{}
		}
		py.RestoreError(saved)
		return f.errs
	}
	restored := false
	for i := range f.saved {
		switch {
		case !f.saved[i].Pending():
		case !restored && firstFailure(f.errs, i):
			py.RestoreError(f.saved[i])
			restored = true
		default:
			f.saved[i].Drop()
		}
	}
	return f.errs
}

// firstFailure reports whether errs[i] is the first non-nil error.
func firstFailure(errs []error, i int) bool {
	for j := 0; j < i; j++ {
		if errs[j] != nil {
			return false
		}
	}
	return errs[i] != nil
}

// callFan hands the items to the engine's fan helper, which runs them on threads.
func (h *host) callFan(f *fanOut, concurrency int) error {
	hd := newHandle(f)
	if hd == nil {
		return py.ErrPython
	}
	defer hd.DecRef()
	args := py.NewTuple(hd.IncRef(), py.NewInt(int64(len(f.children))), py.NewInt(int64(concurrency)))
	if args == nil {
		return py.ErrPython
	}
	defer args.DecRef()
	r, err := py.Call(h.fan, args, nil)
	if err != nil {
		return err
	}
	r.DecRef()
	return nil
}

//export go_flux_fan_item
func go_flux_fan_item(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	_, c, err := newCall("flux_fan_item", args, n, ints, ok, 2)
	if err != nil {
		return fail(err)
	}
	f, err := handle[*fanOut](c, 0)
	if err != nil {
		return fail(err)
	}
	i, isInt := c.int64(1)
	if !isInt || i < 0 || i >= int64(len(f.children)) {
		return fail(argErrorf("flux_fan_item: item: expected an int from 0 to %d", len(f.children)-1))
	}
	f.run(int(i))
	return result(py.None())
}

// close drops the references the host built.
func (h *host) close() {
	for _, a := range h.args {
		a.DecRef()
	}
	h.Caught(nil)
	if h.ownArgs {
		h.runArgs.DecRef()
	}
}

// stepRetries converts each step's `retry:` once for the run (nil when none has one).
func stepRetries(wf *flux.Workflow) (map[*flux.ProcessStep]*py.Object, error) {
	var out map[*flux.ProcessStep]*py.Object
	var err error
	wf.EachProcessStep(func(s *flux.ProcessStep) bool {
		if s.Retry == nil {
			return true
		}
		var d *py.Object
		if d, err = py.FromGo(s.Retry); err != nil {
			return false
		}
		if out == nil {
			out = map[*flux.ProcessStep]*py.Object{}
		}
		out[s] = d
		return true
	})
	if err != nil {
		freeRetries(out)
		return nil, err
	}
	return out, nil
}

func freeRetries(m map[*flux.ProcessStep]*py.Object) {
	for _, d := range m {
		d.DecRef()
	}
}

// Values reads the paths of a condition from one snapshot. A path that goes through a leaf
// continues inside the leaf's value (a dict leaf is entered by key); a closed state is an
// error, never a row of nils.
func (h *host) Values(paths [][]string) ([]any, error) {
	snap := h.st.Snapshot()
	defer snap.Release()
	out := make([]any, len(paths))
	for i, p := range paths {
		if p[0] == flux.ArgsRoot { // the run's arguments, not the state
			v, err := py.Below(h.runArgs, 0, p[1:])
			if err != nil {
				return nil, err
			}
			out[i] = v
			continue
		}
		node, err := snap.Lookup(kernel.Path(p))
		var pe *kernel.PathError
		switch {
		case err == nil:
			out[i], err = nodeValue(node)
		case errors.As(err, &pe) && pe.Code == kernel.CodeNotFound:
			out[i], err = flux.Missing{}, nil
		case errors.As(err, &pe) && pe.Code == kernel.CodeNotABranch:
			out[i], err = belowLeaf(snap, p)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// belowLeaf reads path p, which goes through a leaf, by entering the leaf's value.
func belowLeaf(snap *snapshot, p []string) (any, error) {
	for d := 1; d < len(p); d++ {
		node, err := snap.Lookup(kernel.Path(p[:d]))
		if err != nil {
			return nil, err
		}
		if node.IsLeaf() {
			return py.Below(node.Value(), d, p[d:])
		}
	}
	return flux.Missing{}, nil
}

// nodeValue converts a committed node for a condition; branches convert without Python.
func nodeValue(n *py.Node) (any, error) {
	if n.IsLeaf() {
		return py.ToGo(n.Value())
	}
	m := make(map[string]any, n.Len())
	var err error
	n.Range(func(name string, c *py.Node) bool {
		m[name], err = nodeValue(c)
		return err == nil
	})
	return m, err
}

// Interrupted runs at least every few milliseconds of stepper work: it lets other Python
// threads take the GIL for a moment (a loop of conditions alone runs no Python code that would
// otherwise hand it over), then runs pending signal handlers (Ctrl-C, interrupt_main).
func (h *host) Interrupted() error {
	py.Yield()
	return py.CheckSignals()
}

func (h *host) Version() uint64 { return h.st.Version() }

//export go_flux_parse
func go_flux_parse(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	a, _, err := newCall("flux_parse", args, n, ints, ok, 2)
	if err != nil {
		return fail(err)
	}
	src, err := py.Str(a[0])
	if err != nil {
		return fail(argErrorf("workflow source: expected str, got %s", py.TypeName(a[0])))
	}
	file, err := py.Str(a[1])
	if err != nil {
		return fail(argErrorf("workflow file name: expected str, got %s", py.TypeName(a[1])))
	}
	wf, err := flux.Parse([]byte(src), file)
	if err != nil {
		return fail(err)
	}
	names := wf.ProcessNames()
	decls := make([]*py.Object, 0, len(wf.Args))
	for _, a := range wf.Args {
		def, err := py.FromGo(a.Default)
		if err != nil {
			for _, d := range decls {
				d.DecRef()
			}
			return fail(err)
		}
		decls = append(decls, py.NewTuple(py.NewStr(a.Name), py.Bool(a.HasDefault), def))
	}
	return result(py.NewTuple(newHandle(wf), py.NewStr(wf.Name), py.NewStr(wf.Description), py.NewStrTuple(names),
		py.NewStrTuple(wf.Zones()), py.NewList(decls), py.Bool(wf.StepOptions()), py.NewStrTuple(wf.Waits())))
}

// outline is a step list as Python data for pictures and views: one tuple per step,
// (kind, label, line, col, blocks, extra), blocks a tuple of (name, steps) pairs in drawing
// order and extra a dict of the step's other settings.
func outline(steps []flux.Step) *py.Object {
	items := make([]*py.Object, 0, len(steps))
	for _, s := range steps {
		label, extra := "", py.NewDict()
		var blocks []*py.Object
		block := func(name string, body []flux.Step) {
			blocks = append(blocks, py.NewTuple(py.NewStr(name), outline(body)))
		}
		set := func(k string, v *py.Object) {
			_ = py.SetItemStr(extra, k, v)
			v.DecRef()
		}
		switch s := s.(type) {
		case *flux.ProcessStep:
			label = s.Name
			if s.Retry != nil {
				set("retry", py.Bool(true))
			}
			if len(s.With) > 0 {
				names := make([]string, len(s.With))
				for i, kv := range s.With {
					names[i] = kv.Key
				}
				set("with", py.NewStrTuple(names))
			}
		case *flux.IfStep:
			label = s.Condition.Source
			block("then", s.Then)
			block("else", s.Else)
		case *flux.WhileStep:
			label = s.Condition.Source
			block("do", s.Do)
			set("max_iterations", py.NewInt(int64(s.MaxIterations)))
		case *flux.RunStep:
			block("steps", s.Steps)
		case *flux.TryStep:
			block("do", s.Do)
			block("except", s.Except)
			set("errors", py.NewStrTuple(s.Errors))
		case *flux.MapStep:
			label = s.Over.Source
			block("do", s.Do)
			set("as", py.NewStr(s.As))
			set("concurrency", py.NewInt(int64(s.Concurrency)))
		case *flux.WaitStep:
			label = s.For
		}
		p := s.Pos()
		items = append(items, py.NewTuple(py.NewStr(s.Kind()), py.NewStr(label), py.NewInt(int64(p.Line)),
			py.NewInt(int64(p.Col)), py.NewTuple(blocks...), extra))
	}
	return py.NewTuple(items...)
}

//export go_flux_outline
func go_flux_outline(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	_, c, err := newCall("flux_outline", args, n, ints, ok, 1)
	if err != nil {
		return fail(err)
	}
	wf, err := handle[*flux.Workflow](c, 0)
	if err != nil {
		return fail(err)
	}
	return result(outline(wf.Steps))
}

//export go_flux_check
func go_flux_check(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	a, c, err := newCall("flux_check", args, n, ints, ok, 3)
	if err != nil {
		return fail(err)
	}
	wf, err := handle[*flux.Workflow](c, 0)
	if err != nil {
		return fail(err)
	}
	known, err := strTuple("flux_check: process names", a[1])
	if err != nil {
		return fail(err)
	}
	if err := wf.Check(known); err != nil {
		return fail(err)
	}
	if !py.IsNone(a[2]) {
		zones, err := strTuple("flux_check: zones", a[2])
		if err != nil {
			return fail(err)
		}
		if err := wf.CheckZones(zones); err != nil {
			return fail(err)
		}
	}
	return result(py.None())
}

// strTuple reads a tuple of str.
func strTuple(what string, o *py.Object) ([]string, error) {
	if !py.IsTuple(o) {
		return nil, argErrorf("%s: expected a tuple of str, got %s", what, py.TypeName(o))
	}
	var out []string
	for _, it := range py.TupleItems(o) {
		if !py.IsStr(it) {
			return nil, argErrorf("%s: expected a tuple of str, found a %s item", what, py.TypeName(it))
		}
		s, err := py.Str(it)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

//export go_flux_run
func go_flux_run(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	a, c, err := newCall("flux_run", args, n, ints, ok, 9)
	if err != nil {
		return fail(err)
	}
	wf, err := handle[*flux.Workflow](c, 0)
	if err != nil {
		return fail(err)
	}
	st, err := handle[*state](c, 1)
	if err != nil {
		return fail(err)
	}
	if !py.IsCallable(a[2]) {
		return fail(argErrorf("flux_run: the step runner must be callable, got %s", py.TypeName(a[2])))
	}
	if !py.IsList(a[4]) {
		return fail(argErrorf("flux_run: the trace sink must be a list, got %s", py.TypeName(a[4])))
	}
	const maxBudget = 1 << 40
	if !py.IsInt(a[3]) {
		return fail(argErrorf("budget: expected an int >= 0 (0 = the default, %d operations), got %s", flux.DefaultBudget, py.TypeName(a[3])))
	}
	budget, isInt := c.int64(3)
	if !isInt || budget < 0 || budget > maxBudget {
		got := "an int beyond 64 bits"
		if isInt {
			got = fmt.Sprint(budget)
		}
		return fail(argErrorf("budget: expected an int from 0 to %d (0 = the default, %d operations), got %s", int64(maxBudget), flux.DefaultBudget, got))
	}
	if !py.IsDict(a[5]) {
		return fail(argErrorf("flux_run: the run's arguments must be a dict, got %s", py.TypeName(a[5])))
	}
	var paused *flux.Waiting // a parked run to resume, or nil to start one
	if !py.IsNone(a[6]) {
		if paused, err = handle[*flux.Waiting](c, 6); err != nil {
			return fail(err)
		}
	}
	h := &host{st: st, runner: a[2], args: map[*flux.ProcessStep]*py.Object{}, runArgs: a[5]}
	if !py.IsNone(a[8]) {
		if !py.IsCallable(a[8]) {
			return fail(argErrorf("flux_run: the observer must be callable or None, got %s", py.TypeName(a[8])))
		}
		h.watch = a[8]
	}
	if !py.IsNone(a[7]) { // a rich run
		if !py.IsCallable(a[7]) {
			return fail(argErrorf("flux_run: the fan helper must be callable or None, got %s", py.TypeName(a[7])))
		}
		h.fan = a[7]
		if h.retries, err = stepRetries(wf); err != nil {
			return fail(err)
		}
		defer freeRetries(h.retries)
	}
	defer h.close()
	var trace *flux.Trace
	var runErr error
	if paused == nil {
		trace, runErr = wf.Run(h, flux.RunOptions{Budget: int(budget)})
	} else {
		trace, runErr = wf.Resume(h, paused, flux.RunOptions{Budget: int(budget)})
	}
	if err := recordTrace(a[4], trace); err != nil && runErr == nil {
		return fail(err)
	}
	var wt *flux.Waiting
	if errors.As(runErr, &wt) { // parked: (its Handle, the awaited input's name)
		return result(py.NewTuple(newHandle(wt), py.NewStr(wt.For)))
	}
	if runErr != nil {
		return fail(closedDuringRun(runErr))
	}
	return result(py.None())
}

// closedDuringRun turns a condition that found the state closed into an ArgumentError
// that says so (with the condition's position); other errors pass unchanged.
func closedDuringRun(err error) error {
	var fe *flux.Error
	var ce *kernel.ClosedError
	if !errors.As(err, &fe) || !errors.As(err, &ce) {
		return err
	}
	msg := fmt.Sprintf("%s: flux: the condition (line %d) cannot read the state: the engine's state is closed (it was closed during the run; use an open TheusEngine)", fe.Pos, fe.Pos.Line)
	if fe.Snippet != "" {
		msg += "\n" + fe.Snippet
	}
	return argErrorf("%s", msg)
}

// recordTrace appends a handle to the run's trace to the caller's list, also when the run
// failed; the trace is converted to Python objects only if someone reads it (flux_trace). A
// Python exception already set by the run is preserved.
func recordTrace(sink *py.Object, trace *flux.Trace) error {
	if trace == nil {
		return nil
	}
	saved := py.FetchError()
	defer py.RestoreError(saved)
	h := newHandle(trace)
	if h == nil {
		return py.ErrPython
	}
	defer h.DecRef()
	if !py.Append(sink, h) { // the deferred DecRef releases the trace
		return errors.New("flux: cannot record the trace")
	}
	return nil
}

//export go_flux_trace
func go_flux_trace(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	_, c, err := newCall("flux_trace", args, n, ints, ok, 1)
	if err != nil {
		return fail(err)
	}
	trace, err := handle[*flux.Trace](c, 0)
	if err != nil {
		return fail(err)
	}
	entries := make([]*py.Object, len(trace.Entries))
	for i, e := range trace.Entries {
		entries[i] = py.NewTuple(py.NewStr(e.Step), py.NewStr(e.Kind), py.NewStr(e.Pos.File),
			py.NewInt(int64(e.Pos.Line)), py.NewInt(int64(e.Pos.Col)),
			py.NewFloat(float64(e.Start.UnixNano())/1e9), py.NewFloat(e.Duration.Seconds()),
			py.NewStr(e.Outcome), py.NewUint(e.VersionBefore), py.NewUint(e.VersionAfter))
	}
	return result(py.NewTuple(py.NewStrTuple(trace.Executed), py.NewList(entries), py.NewInt(int64(trace.Dropped))))
}
