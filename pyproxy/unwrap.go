package pyproxy

// #include <Python.h>
// PyObject *theus_view_data(PyObject *v);
import "C"

import "unsafe"

// UnwrapFunc is the address of the C function that returns the committed object behind a
// view (borrowed) or NULL; commits use it so a process may return a view it was given.
func UnwrapFunc() unsafe.Pointer { return unsafe.Pointer(C.theus_view_data) }
