package pyproxy

// #include "internal.h"
import "C"

import "unsafe"

// Handle kinds: what a Handle owns (used in its repr and messages).
const (
	HandleState    = C.THEUS_HANDLE_STATE
	HandlePlan     = C.THEUS_HANDLE_PLAN
	HandleWorkflow = C.THEUS_HANDLE_WORKFLOW
	HandleTrace    = C.THEUS_HANDLE_TRACE
)

// InitHandles readies the Handle type (handle.c) and adds it to module. It reports false
// with a Python exception set on failure.
func InitHandles(module unsafe.Pointer) bool {
	return C.theus_handle_init((*C.PyObject)(module)) == 0
}

// NewHandle returns a new reference to a Handle owning h, a core handle of the given kind
// (snapshot Handles, which keep their state's Handle alive, are made in C). nil with a Python
// exception set on failure (the caller still owns h then).
func NewHandle(h uintptr, kind int) unsafe.Pointer {
	return unsafe.Pointer(C.theus_handle_new(C.uintptr_t(h), C.int(kind), nil))
}
