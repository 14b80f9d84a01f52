/* internal.h: declarations shared by the pyproxy C files. Not part of the package API;
 * every shared symbol carries the theus_ prefix, everything else in the .c files is static. */
#ifndef THEUS_PYPROXY_INTERNAL_H
#define THEUS_PYPROXY_INTERNAL_H

#include "pyproxy.h"

#include <stddef.h>

/* theus_View is the layout of FrozenDict, FrozenList, FrozenObject and FrozenBuffer: one
 * strong reference to the wrapped object, which no attribute, method or referent walk hands
 * out. The views are deliberately not GC-tracked (see the essay at the top of freeze.c). */
typedef struct {
    PyObject_HEAD
    PyObject *data;
    PyObject *weakrefs;
} theus_View;

extern PyTypeObject theus_FrozenDict_Type;
extern PyTypeObject theus_FrozenList_Type;
extern PyTypeObject theus_FrozenObject_Type;
extern PyTypeObject theus_FrozenBuffer_Type;
extern PyTypeObject theus_DictKeys_Type;
extern PyTypeObject theus_DictValues_Type;
extern PyTypeObject theus_DictItems_Type;
extern PyTypeObject theus_DictIter_Type;
extern PyTypeObject theus_ListIter_Type;
extern PyTypeObject theus_Context_Type;
extern PyTypeObject theus_ScopedView_Type;

extern PyObject *theus_ContextError;
extern PyObject *theus_ContractViolationError;

/* The read-only message every write carries. */
#define THEUS_READONLY_FIX "return the new value from the process and declare its path in outputs"

/* theus_raise_readonly sets ContextError "<what> is read-only (cannot <action>): <fix>" and
 * returns NULL. */
PyObject *theus_raise_readonly(const char *what, const char *action);
int theus_raise_readonly_int(const char *what, const char *action);
/* theus_raise_readonly_obj: the same with "<verb> <repr(name)>" as the action. */
PyObject *theus_raise_readonly_obj(const char *what, const char *verb, PyObject *name);

/* theus_freeze_slow handles everything but the exact immutable scalars. */
PyObject *theus_freeze_slow(PyObject *obj);

static inline PyObject *
theus_freeze_fast(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == &PyUnicode_Type || tp == &PyLong_Type || tp == &PyFloat_Type ||
        tp == &PyBool_Type || obj == Py_None) {
        Py_INCREF(obj);
        return obj;
    }
    return theus_freeze_slow(obj);
}

/* theus_wrap returns a new view of `type` around obj (no type check). */
PyObject *theus_wrap(PyTypeObject *type, PyObject *obj);

/* theus_thaw returns a deep, independent, mutable copy of obj as plain data. memo is a dict
 * id -> copy shared through one copy (created on demand when *memo is NULL). */
PyObject *theus_thaw(PyObject *obj, PyObject **memo);
/* theus_thaw_root is theus_thaw with its own memo. */
PyObject *theus_thaw_root(PyObject *obj);

/* theus_values_equal compares a wrapped (raw) value with a safe value (a raw value of the
 * caller's own, or a frozen one): the raw value is frozen before any foreign __eq__ can see
 * it. numpy arrays compare with numpy.array_equal. Returns 1, 0 or -1 with an exception. */
int theus_values_equal(PyObject *raw, PyObject *other);

/* theus_is_ndarray reports whether tp is numpy.ndarray or a subclass (no numpy import). */
int theus_is_ndarray(PyTypeObject *tp);

/* theus_lookup_type is _PyType_Lookup: a borrowed reference to the attribute `name` found on
 * the type's MRO (cached by CPython's method cache), or NULL. */
#define theus_lookup_type(tp, name) _PyType_Lookup((tp), (name))

/* theus_view_dealloc frees a theus_View. */
void theus_view_dealloc(theus_View *self);

/* theus_keyword_fallback: for an attribute name ending in one underscore ("global_"), a new
 * reference to the name without it, or NULL (no exception) when it does not apply. */
PyObject *theus_keyword_fallback(PyObject *name);

/* theus_set_key_error raises KeyError(key) (a tuple key is not unpacked). */
void theus_set_key_error(PyObject *key);

/* theus_is_dict_name reports whether name is "__dict__" (which raises ContextError). */
int theus_is_dict_name(PyObject *name);

/* Read-only trap methods: each raises ContextError naming the method. */
#define THEUS_TRAP(prefix, what, name)                                            \
    static PyObject *prefix##_trap_##name(PyObject *self, PyObject *args, PyObject *kw) \
    {                                                                             \
        (void)self; (void)args; (void)kw;                                         \
        return theus_raise_readonly(what, "call " #name "()");                    \
    }
#define THEUS_TRAP_DEF(prefix, name)                                              \
    {#name, (PyCFunction)(void (*)(void))prefix##_trap_##name, METH_VARARGS | METH_KEYWORDS, \
     PyDoc_STR(#name "() always raises ContextError: the view is read-only; " THEUS_READONLY_FIX ".")}

/* theus_Handle (handle.c): the one owner of a core object. h is the core's handle, 0 once
 * released; parent (may be NULL) is a handle that must outlive this one (a snapshot's state). */
typedef struct {
    PyObject_HEAD
    uintptr_t h;
    int kind;
    PyObject *parent;
} theus_Handle;

enum {
    THEUS_HANDLE_STATE = 1,
    THEUS_HANDLE_SNAPSHOT,
    THEUS_HANDLE_PLAN,
    THEUS_HANDLE_WORKFLOW,
    THEUS_HANDLE_TRACE,
};

extern PyTypeObject theus_Handle_Type;
/* theus_handle_release frees the core object of a handle; set once at module init. */
extern void (*theus_handle_release)(uintptr_t h);
/* theus_handle_new returns a new Handle owning h (a new reference, NULL on error). */
PyObject *theus_handle_new(uintptr_t h, int kind, PyObject *parent);
/* theus_handle_init readies the Handle type and adds it to module; 0 or -1. */
int theus_handle_init(PyObject *module);

#endif
