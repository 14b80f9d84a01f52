package pyproxy

// #include "pyproxy.h"
import "C"

import "unsafe"

// Init readies the view types, adds them and the private functions _freeze and _context to
// module, registers FrozenDict and FrozenList with collections.abc, and keeps the two
// exception classes (theus.errors.ContextError and ContractViolationError). It reports false
// with a Python exception set on failure.
func Init(module, contextError, contractError unsafe.Pointer) bool {
	return C.theus_proxy_init((*C.PyObject)(module), (*C.PyObject)(contextError),
		(*C.PyObject)(contractError)) == 0
}

// Freeze returns a new reference to the read-only view of obj (or obj itself when it is
// immutable), or nil with a Python exception set.
func Freeze(obj unsafe.Pointer) unsafe.Pointer {
	return unsafe.Pointer(C.theus_freeze((*C.PyObject)(obj)))
}

// NewContext returns a new reference to the context a process receives: values maps each
// declared dotted path present in the state to its committed value, version is the snapshot
// version, extras (a dict, or nil) maps extra attribute names to objects exposed as they are,
// declared (a tuple, or nil for the keys of values) lists every declared path, so a declared
// path absent from values reads as absent (theus.PathError) rather than undeclared. It
// returns nil with a Python exception set on failure.
func NewContext(values, version, extras, declared unsafe.Pointer) unsafe.Pointer {
	return unsafe.Pointer(C.theus_context_new((*C.PyObject)(values), (*C.PyObject)(version),
		(*C.PyObject)(extras), (*C.PyObject)(declared)))
}

// Begin returns a new reference to the pair (version, context) a process starts with: keys is
// the tuple of every declared path, vals[i] the borrowed committed value of keys[i] (0 when
// absent), extras as for NewContext. It returns nil with a Python exception set on failure.
func Begin(keys unsafe.Pointer, vals []uintptr, version uint64, extras unsafe.Pointer) unsafe.Pointer {
	var first *C.uintptr_t
	if len(vals) > 0 {
		first = (*C.uintptr_t)(unsafe.Pointer(&vals[0]))
	}
	return unsafe.Pointer(C.theus_context_begin((*C.PyObject)(keys), first, C.ulonglong(version),
		(*C.PyObject)(extras)))
}
