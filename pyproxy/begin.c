#include "internal.h"

/* theus_context_begin builds what a process start returns, (version, context), in one call
   from Go: keys is the tuple of every declared path, vals[i] the committed value of keys[i]
   (borrowed; 0 when the path is absent), version the snapshot's version, extras as for
   theus_context_new. */
PyObject *
theus_context_begin(PyObject *keys, const uintptr_t *vals, unsigned long long version, PyObject *extras)
{
    PyObject *values = PyDict_New();
    if (values == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(keys);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (vals[i] != 0 && PyDict_SetItem(values, PyTuple_GET_ITEM(keys, i), (PyObject *)vals[i]) < 0) {
            Py_DECREF(values);
            return NULL;
        }
    }
    theus_untrack(values); /* committed values: out of gc.get_objects()' reach while it lives */
    PyObject *ver = PyLong_FromUnsignedLongLong(version);
    PyObject *ctx = ver ? theus_context_new(values, ver, extras, keys) : NULL;
    Py_DECREF(values);
    if (ctx == NULL) {
        Py_XDECREF(ver);
        return NULL;
    }
    PyObject *pair = PyTuple_New(2);
    if (pair == NULL) {
        Py_DECREF(ver);
        Py_DECREF(ctx);
        return NULL;
    }
    PyTuple_SET_ITEM(pair, 0, ver);
    PyTuple_SET_ITEM(pair, 1, ctx);
    return pair;
}
