package main

import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/theus-dev/theus/capi/py"
	"github.com/theus-dev/theus/flux"
	"github.com/theus-dev/theus/kernel"
)

// host drives a workflow against one state: processes run through the Python engine's
// runner callable, conditions read the committed state directly from the kernel.
type host struct {
	st      *state
	runner  *py.Object                       // borrowed: runner(name, **with) runs one step
	args    map[*flux.ProcessStep]*py.Object // (name,) or (name, retry) per step, built once per run
	runArgs *py.Object                       // borrowed: the run's arguments, a dict by name
	caught  *py.Object                       // owned: the error an except block handles, or nil
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
		h.caught, _ = py.FromGo(info) // nil on failure: the steps then get no error
	}
}

// arg is the run argument name (borrowed), or nil when the run has none of that name.
func (h *host) arg(name string) *py.Object {
	v, _ := py.DictGet(h.runArgs, name)
	return v
}

func (h *host) Run(step *flux.ProcessStep) error {
	args, ok := h.args[step]
	if !ok {
		if step.Retry == nil {
			args = py.NewTuple(py.NewStr(step.Name))
		} else { // runner(name, retry, **with): the same retry dict for every run of the step
			retry, err := py.FromGo(step.Retry)
			if err != nil {
				return err
			}
			args = py.NewTuple(py.NewStr(step.Name), retry)
		}
		if args == nil {
			return py.ErrPython
		}
		h.args[step] = args
	}
	if h.caught != nil { // runner(name, retry, error, **with) inside an except block
		retry := py.None()
		if len(py.TupleItems(args)) > 1 {
			retry = py.TupleItems(args)[1].IncRef()
		}
		if args = py.NewTuple(py.NewStr(step.Name), retry, h.caught.IncRef()); args == nil {
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

// close drops the references the host built.
func (h *host) close() {
	for _, a := range h.args {
		a.DecRef()
	}
	h.Caught(nil)
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
	a, c, err := newCall("flux_run", args, n, ints, ok, 7)
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
