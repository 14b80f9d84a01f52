#include "py.h"

#include <string.h>

PyObject *(*theus_view_unwrap)(PyObject *v) = NULL;

static int is_immutable_scalar(PyObject *v) {
    return v == Py_None || PyLong_CheckExact(v) || PyFloat_CheckExact(v) || PyUnicode_CheckExact(v) ||
           PyBool_Check(v) || PyBytes_CheckExact(v) || PyComplex_CheckExact(v) || PyFrozenSet_CheckExact(v);
}

static PyObject *own(PyObject *v);

/* is_ndarray reports whether v is a numpy array (or subclass), without importing numpy. */
static int is_ndarray(PyObject *v) {
    for (PyTypeObject *tp = Py_TYPE(v); tp != NULL; tp = tp->tp_base) {
        if (strcmp(tp->tp_name, "numpy.ndarray") == 0) return 1;
    }
    return 0;
}

static PyObject *own_list(PyObject *v) {
    Py_ssize_t n = PyList_GET_SIZE(v);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        /* the list may shrink while item copies run arbitrary code */
        if (i >= PyList_GET_SIZE(v)) {
            if (PyList_SetSlice(out, i, n, NULL) < 0) { Py_DECREF(out); return NULL; }
            break;
        }
        PyObject *item = PyList_GET_ITEM(v, i);
        Py_INCREF(item);
        PyObject *c = own(item);
        Py_DECREF(item);
        if (c == NULL) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, i, c);
    }
    return out;
}

static PyObject *own_tuple(PyObject *v) {
    Py_ssize_t n = PyTuple_GET_SIZE(v);
    PyObject *out = PyTuple_New(n);
    if (out == NULL) return NULL;
    int same = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(v, i);
        PyObject *c = own(item);
        if (c == NULL) { Py_DECREF(out); return NULL; }
        if (c != item) same = 0;
        PyTuple_SET_ITEM(out, i, c);
    }
    if (same && PyTuple_CheckExact(v)) { /* nothing mutable inside: share the original */
        Py_DECREF(out);
        Py_INCREF(v);
        return v;
    }
    return out;
}

static PyObject *own_dict(PyObject *v) {
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    PyObject *items = PyDict_Items(v); /* a snapshot: safe against mutation during copies */
    if (items == NULL) { Py_DECREF(out); return NULL; }
    Py_ssize_t n = PyList_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        PyObject *c = own(PyTuple_GET_ITEM(kv, 1));
        if (c == NULL || PyDict_SetItem(out, PyTuple_GET_ITEM(kv, 0), c) < 0) {
            Py_XDECREF(c);
            Py_DECREF(items);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(c);
    }
    Py_DECREF(items);
    return out;
}

static PyObject *own(PyObject *v) {
    if (is_immutable_scalar(v)) {
        Py_INCREF(v);
        return v;
    }
    if (theus_view_unwrap != NULL) {
        PyObject *inner = theus_view_unwrap(v);
        if (inner != NULL) { /* already committed data: immutable by construction */
            Py_INCREF(inner);
            return inner;
        }
    }
    if (Py_EnterRecursiveCall(" while copying a value into theus state (is it cyclic?)")) return NULL;
    PyObject *out;
    if (PyList_Check(v)) out = own_list(v);
    else if (PyTuple_Check(v)) out = own_tuple(v);
    else if (PyDict_Check(v)) out = own_dict(v);
    else if (PyAnySet_Check(v)) out = PyFrozenSet_New(v);
    else if (PyByteArray_Check(v)) out = PyByteArray_FromObject(v);
    else if (PyMemoryView_Check(v)) out = PyObject_CallMethod(v, "tobytes", NULL);
    else if (is_ndarray(v)) out = PyObject_CallMethod(v, "copy", NULL); /* the heavy zone shares */
    else { Py_INCREF(v); out = v; }
    Py_LeaveRecursiveCall();
    return out;
}

PyObject *theus_own(PyObject *v) { return own(v); }

PyObject *theus_dict_build(const char *names, const Py_ssize_t *offs, const uintptr_t *vals, Py_ssize_t n) {
    PyObject *d = _PyDict_NewPresized(n);
    if (d == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyUnicode_FromStringAndSize(names + offs[i], offs[i + 1] - offs[i]);
        if (k == NULL) { Py_DECREF(d); return NULL; }
        int rc = PyDict_SetItem(d, k, (PyObject *)vals[i]);
        Py_DECREF(k);
        if (rc < 0) { Py_DECREF(d); return NULL; }
    }
    return d;
}
