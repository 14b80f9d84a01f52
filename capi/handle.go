package main

import "C"

import (
	"runtime/cgo"
	"unsafe"

	"github.com/theus-dev/theus/capi/py"
	"github.com/theus-dev/theus/flux"
	"github.com/theus-dev/theus/pyproxy"
)

// Core objects reach Python only inside a theus._core.Handle (pyproxy/handle.c), their one
// owner: the Handle releases the object once, in close() or when it is freed, through
// go_handle_release. Entry points take Handles back (see handle in args.go).

// newHandle returns a new Handle owning v (no parent).
func newHandle(v any) *py.Object { return newChildHandle(v, nil) }

// newChildHandle returns a new Handle owning v that keeps parent (a Handle, or nil) alive.
func newChildHandle(v any, parent *py.Object) *py.Object {
	kind := 0
	switch v.(type) {
	case *state:
		kind = pyproxy.HandleState
	case *snapshot:
		kind = pyproxy.HandleSnapshot
	case *plan:
		kind = pyproxy.HandlePlan
	case *flux.Workflow:
		kind = pyproxy.HandleWorkflow
	case *flux.Trace:
		kind = pyproxy.HandleTrace
	}
	h := cgo.NewHandle(v)
	var pp unsafe.Pointer
	if parent != nil {
		pp = parent.Ptr()
	}
	o := py.FromPtr(pyproxy.NewHandle(uintptr(h), kind, pp))
	if o == nil {
		releaseValue(h.Value())
		h.Delete()
	}
	return o
}

// releaseValue frees what a handle owned.
func releaseValue(v any) {
	switch x := v.(type) {
	case *state:
		x.Close()
	case *snapshot:
		x.Release()
	case *plan:
		x.keys.DecRef()
	}
}

//export go_handle_release
func go_handle_release(h uintptr) {
	defer func() { _ = recover() }() // a Handle releases once; nothing may unwind into C
	py.Enter()
	hh := cgo.Handle(h)
	v := handleValue(hh)
	if v == nil {
		return
	}
	hh.Delete()
	releaseValue(v)
}
