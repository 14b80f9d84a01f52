/* Thin C helpers for the Go side of theus: everything cgo cannot call directly (macros,
   variadic functions) and a few batch operations that save crossings. */
#ifndef THEUS_PY_H
#define THEUS_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

static inline void theus_incref(PyObject *o) { Py_INCREF(o); }
static inline void theus_decref(PyObject *o) { Py_DECREF(o); }
static inline void theus_xdecref(PyObject *o) { Py_XDECREF(o); }
static inline PyObject *theus_none(void) { Py_INCREF(Py_None); return Py_None; }
static inline PyObject *theus_bool(int v) { PyObject *r = v ? Py_True : Py_False; Py_INCREF(r); return r; }
static inline int theus_is_none(PyObject *o) { return o == Py_None; }
static inline int theus_is_str(PyObject *o) { return PyUnicode_Check(o); }
static inline int theus_is_exact_dict(PyObject *o) { return PyDict_CheckExact(o); }
static inline int theus_is_dict(PyObject *o) { return PyDict_Check(o); }
static inline int theus_is_int(PyObject *o) { return PyLong_Check(o) && !PyBool_Check(o); }
static inline int theus_is_tuple(PyObject *o) { return PyTuple_Check(o); }
static inline Py_ssize_t theus_tuple_size(PyObject *o) { return PyTuple_GET_SIZE(o); }
static inline PyObject *theus_tuple_item(PyObject *o, Py_ssize_t i) { return PyTuple_GET_ITEM(o, i); }
static inline PyObject *theus_arg(PyObject *const *args, Py_ssize_t i) { return args[i]; }
static inline const char *theus_type_name(PyObject *o) { return Py_TYPE(o)->tp_name; }

/* theus_dict_items copies up to n borrowed (key, value) pairs of d into keys/vals in one call and
   returns how many it copied. */
static inline Py_ssize_t theus_dict_items(PyObject *d, PyObject **keys, PyObject **vals, Py_ssize_t n) {
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    while (i < n && PyDict_Next(d, &pos, &k, &v)) {
        keys[i] = k;
        vals[i] = v;
        i++;
    }
    return i;
}

/* theus_set_error raises cls(msg). */
static inline void theus_set_error(PyObject *cls, const char *msg, Py_ssize_t len) {
    PyObject *s = PyUnicode_FromStringAndSize(msg, len);
    if (s == NULL) return;
    PyErr_SetObject(cls, s);
    Py_DECREF(s);
}

/* theus_raise_instance raises an exception instance built by calling cls(*args, **kwargs). */
static inline void theus_raise_call(PyObject *cls, PyObject *args, PyObject *kwargs) {
    PyObject *exc = PyObject_Call(cls, args, kwargs);
    if (exc == NULL) return;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
}

#endif

/* theus_own returns a new reference to a private copy of v for committing into state: plain
   containers (list, tuple, dict, set, bytearray) are copied recursively so the writer cannot
   change committed data afterwards; immutable values and read-only views are shared; other
   objects are stored by reference. NULL with an exception set on failure (too deep, cyclic). */
PyObject *theus_own(PyObject *v);

/* theus_view_unwrap, when set, returns the borrowed object behind a theus read-only view or
   NULL when v is not one. Set once at module init. */
extern PyObject *(*theus_view_unwrap)(PyObject *v);
static inline PyObject *theus_unwrap(PyObject *v) { return theus_view_unwrap ? theus_view_unwrap(v) : NULL; }

/* theus_add_note adds a note (PEP 678) to the exception being raised, keeping its identity
   and traceback. */
static inline void theus_add_note(const char *note, Py_ssize_t len) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) return;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) PyException_SetTraceback(value, tb);
    PyObject *s = PyUnicode_FromStringAndSize(note, len);
    if (s != NULL && value != NULL) {
        PyObject *r = PyObject_CallMethod(value, "add_note", "O", s);
        if (r == NULL) PyErr_Clear();
        Py_XDECREF(r);
    }
    Py_XDECREF(s);
    PyErr_Restore(type, value, tb);
}

/* theus_call calls fn(arg0, kwargs) and returns a new reference or NULL. */
static inline PyObject *theus_call2(PyObject *fn, PyObject *a, PyObject *b) {
    return PyObject_CallFunctionObjArgs(fn, a, b, NULL);
}
static inline int theus_is_float(PyObject *o) { return PyFloat_Check(o); }
static inline int theus_is_bool(PyObject *o) { return PyBool_Check(o); }
static inline int theus_is_list(PyObject *o) { return PyList_Check(o); }
static inline Py_ssize_t theus_list_size(PyObject *o) { return PyList_GET_SIZE(o); }
static inline PyObject *theus_list_item(PyObject *o, Py_ssize_t i) { return PyList_GET_ITEM(o, i); }
