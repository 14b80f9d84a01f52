package main

import "C"

import (
	"unsafe"

	"github.com/theus-dev/theus/capi/py"
	"github.com/theus-dev/theus/kernel"
)

// plan is a process's declared paths, parsed once: the engine hands its handle to state_begin
// and state_commit instead of re-parsing the same strings on every call.
type plan struct {
	keys  *py.Object // the tuple of path strings (owned): the context's dict keys
	paths []kernel.Path
	name  string // the process name, recorded as the author of its commits
}

//export go_plan_new
func go_plan_new(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	a, _, err := newCall("plan_new", args, n, ints, ok, 2)
	if err != nil {
		return fail(err)
	}
	paths, err := pathList(a[0])
	if err != nil {
		return fail(err)
	}
	name, err := py.Str(a[1])
	if err != nil {
		return fail(argErrorf("plan_new: the process name must be a str, got %s", py.TypeName(a[1])))
	}
	return result(newHandle(&plan{keys: a[0].IncRef(), paths: paths, name: name}))
}
