package py

// #include "py.h"
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Object is a CPython object. Go code only ever holds pointers to it.
type Object C.PyObject

func (o *Object) c() *C.PyObject { return (*C.PyObject)(unsafe.Pointer(o)) }

// u is o as an integer, for the C helpers that take uintptr_t (no cgo pointer check).
func (o *Object) u() C.uintptr_t { return C.uintptr_t(uintptr(unsafe.Pointer(o))) }

func obj(p *C.PyObject) *Object { return (*Object)(unsafe.Pointer(p)) }

// FromPtr converts a pointer handed over by C code (an entry point argument).
func FromPtr(p unsafe.Pointer) *Object { return (*Object)(p) }

// Ptr converts o for C code (an entry point result).
func (o *Object) Ptr() unsafe.Pointer { return unsafe.Pointer(o) }

// IncRef takes a new reference to o. The GIL must be held.
func (o *Object) IncRef() *Object {
	C.theus_incref_u(o.u())
	return o
}

// DecRef drops a reference to o. The GIL must be held; use Release where it may not be.
func (o *Object) DecRef() { C.theus_decref_u(o.u()) }

var pending struct {
	mu   sync.Mutex
	objs []*Object
	n    atomic.Int64
}

// Release drops a reference from any thread: applied at once when this thread holds the GIL,
// queued for the next Drain otherwise.
func Release(o *Object) {
	if o == nil {
		return
	}
	if C.theus_release_u(o.u()) == 1 {
		return
	}
	pending.mu.Lock()
	pending.objs = append(pending.objs, o)
	pending.n.Add(1)
	pending.mu.Unlock()
}

// Pending reports how many decrefs wait for the GIL.
func Pending() int { return int(pending.n.Load()) }

// Drain applies the queued decrefs. The GIL must be held.
func Drain() {
	if pending.n.Load() == 0 {
		return
	}
	pending.mu.Lock()
	objs := pending.objs
	pending.objs = nil
	pending.n.Store(0)
	pending.mu.Unlock()
	DecRefAll(objs) // may run __del__, which may queue more; they wait for the next Drain
}

// DecRefAll drops one reference to each of objs in one crossing. The GIL must be held.
func DecRefAll(objs []*Object) {
	if len(objs) > 0 {
		C.theus_decref_all((*C.uintptr_t)(unsafe.Pointer(&objs[0])), C.Py_ssize_t(len(objs)))
	}
}

// Enter is called first by every entry point (the GIL is held): it applies queued decrefs.
func Enter() { Drain() }

// Unblock runs fn with the GIL released. fn must not touch Python objects. Decrefs queued
// meanwhile are applied once the GIL is back.
func Unblock(fn func()) {
	runtime.LockOSThread() // the thread state saved below belongs to this OS thread
	defer runtime.UnlockOSThread()
	ts := C.PyEval_SaveThread()
	defer func() {
		C.PyEval_RestoreThread(ts)
		Drain()
	}()
	fn()
}

// Yield releases the GIL and takes it back, so waiting Python threads can run. The GIL must
// be held.
func Yield() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.PyEval_RestoreThread(C.PyEval_SaveThread())
	Drain()
}

// Recover turns a panic of the current entry point into theus.InternalError; use it as
// `defer py.Recover(&result)` where result is the entry point's named result.
func Recover(result *unsafe.Pointer) {
	if r := recover(); r != nil {
		raise(excInternal, fmt.Sprintf("theus internal error: %v (the state is unchanged; please report this)", r))
		*result = nil
	}
}

// RecoverInt is Recover for entry points returning a C int status (-1 on error).
func RecoverInt(result *int) {
	if r := recover(); r != nil {
		raise(excInternal, fmt.Sprintf("theus internal error: %v (the state is unchanged; please report this)", r))
		*result = -1
	}
}
