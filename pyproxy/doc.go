// Package pyproxy defines theus's read-only view types in C on the CPython API: FrozenDict,
// FrozenList, FrozenObject, FrozenBuffer and the process context (Context, ScopedView).
//
// A process reads committed state only through these views. Reads are plain C on Python
// objects and never cross into Go: Go installs the types once at module init (Init) and builds
// a process's context in one call when the process starts (NewContext). A view holds one
// strong reference to the committed object and freezes what it hands out, lazily, one level
// at a time: dict -> FrozenDict, list/tuple -> FrozenList, set -> frozenset, numpy array ->
// read-only array over the same memory, writable buffer -> read-only memoryview, instance of a
// Python class -> FrozenObject (see classify.c for the exact rules and what is passed by
// reference). Every write raises theus.ContextError; no attribute, method, copy, pickle or
// gc.get_referents walk reaches the committed mutable object (the views are not GC-tracked
// for that reason; the essay at the top of view.c explains why that is safe).
//
// heavy.c holds the heavy zone's ownership rule (theus_own_heavy, installed into capi/py at
// module init): which buffers written under heavy are taken by reference and locked, which
// are copied, which are refused, and the HeavyValue that stores them (see its opening essay).
//
// The C files in this directory are compiled by cgo into the one theus extension module.
// Python's include directory comes from the build environment
// (CGO_CFLAGS="-I/usr/include/python3.X"); there is no -lpython: the Python symbols resolve
// from the interpreter that loads the module.
//
// Every function here must be called with the GIL held. Pointers are *PyObject passed as
// unsafe.Pointer, because cgo's C types are private to each package.
package pyproxy
