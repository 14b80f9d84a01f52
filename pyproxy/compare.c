/* compare.c: equality between a committed value and a value of the caller's. */
#include "internal.h"

static PyObject *numpy_array_equal = NULL; /* numpy.array_equal */

static int
load_numpy(void)
{
    if (numpy_array_equal != NULL) {
        return 0;
    }
    PyObject *np = PyImport_ImportModule("numpy");
    if (np == NULL) {
        return -1;
    }
    numpy_array_equal = PyObject_GetAttrString(np, "array_equal");
    Py_DECREF(np);
    return numpy_array_equal == NULL ? -1 : 0;
}

int
theus_values_equal(PyObject *raw, PyObject *other)
{
    if (raw == other) {
        return 1;
    }
    if (theus_is_ndarray(Py_TYPE(raw)) || theus_is_ndarray(Py_TYPE(other))) {
        if (load_numpy() < 0) {
            return -1;
        }
        /* numpy.array_equal is numpy's own code: it may see the raw array. */
        PyObject *r = PyObject_CallFunctionObjArgs(numpy_array_equal, raw, other, NULL);
        if (r == NULL) {
            return -1;
        }
        int t = PyObject_IsTrue(r);
        Py_DECREF(r);
        return t;
    }
    PyObject *frozen = theus_freeze_fast(raw);
    if (frozen == NULL) {
        return -1;
    }
    int t = PyObject_RichCompareBool(frozen, other, Py_EQ);
    Py_DECREF(frozen);
    return t;
}
