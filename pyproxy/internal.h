/* internal.h: declarations shared by the pyproxy C files. Not part of the package API;
 * every shared symbol carries the theus_ prefix, everything else in the .c files is static. */
#ifndef THEUS_PYPROXY_INTERNAL_H
#define THEUS_PYPROXY_INTERNAL_H

#include "pyproxy.h"
#include "../capi/py/kind.h"

#include <stddef.h>

/* theus_View is the layout of FrozenDict, FrozenList, FrozenObject and FrozenBuffer: one
 * strong reference to the wrapped object, which no attribute, method or referent walk hands
 * out. The views are deliberately not GC-tracked (see the essay at the top of view.c). */
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
extern PyTypeObject theus_HeavyRef_Type;
extern PyTypeObject theus_HeavyValue_Type;

extern PyObject *theus_ContextError;
extern PyObject *theus_ContractViolationError;

/* The read-only message every write carries. */
#define THEUS_READONLY_FIX "return the new value from the process and declare its path in outputs"

/* The read-only buffer export of the views that wrap a buffer (FrozenBuffer, the heavy zone's
   HeavyValue; frozenobject.c): data's buffer, marked read-only, owned by owner; a writable
   request is a BufferError naming what ("FrozenBuffer is read-only ..."). */
int theus_readonly_getbuffer(PyObject *owner, PyObject *data, Py_buffer *view, int flags, const char *what);
void theus_readonly_releasebuffer(PyObject *data, Py_buffer *view);

/* theus_raise_readonly sets ContextError "<what> is read-only (cannot <action>): <fix>" and
 * returns NULL. */
PyObject *theus_raise_readonly(const char *what, const char *action);
/* _repr_html_ of the views (module.c): theus.display.html(self), for Jupyter. */
PyObject *theus_repr_html(PyObject *self, PyObject *unused);
/* _repr_pretty_ of the views (module.c): theus.display.pretty(self, printer, cycle), for IPython. */
PyObject *theus_repr_pretty(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
int theus_raise_readonly_int(const char *what, const char *action);
/* theus_raise_readonly_obj: the same with "<verb> <repr(name)>" as the action. */
PyObject *theus_raise_readonly_obj(const char *what, const char *verb, PyObject *name);

/* ---- classify.c: the one value classifier (kinds in capi/py/kind.h) and freezing ---- */

/* theus_kind_classify returns the kind of v; flags is 0 or THEUS_KIND_COMMIT. */
theus_kind_t theus_kind_classify(PyObject *v, int flags);
/* theus_is_value_object: v is an instance of a Python class with its own __hash__ (a SCALAR
   such as a frozen dataclass), not an enum member: thaws copy it rather than share it. */
int theus_is_value_object(PyObject *v);
/* theus_refusal_text returns a new str "cannot store a <type> (<why; what to store instead>)". */
PyObject *theus_refusal_text(PyObject *v);
/* theus_freeze_buffer returns the read-only form of a BUFFER: an array of the same type over
   read-only memory, or a read-only memoryview. */
PyObject *theus_freeze_buffer(PyObject *obj);
/* theus_tuple_of_type returns tuple.__new__(tp, items): the tuple subclass tp holding items. */
PyObject *theus_tuple_of_type(PyTypeObject *tp, PyObject *items);
/* theus_set_items returns a new list of a set's items (no __iter__ override runs). */
PyObject *theus_set_items(PyObject *obj);
int theus_classify_init(void);
int theus_thaw_init(void);
int theus_view_init(void);
/* theus_view_data (unwrap.c): the borrowed committed object behind a data view, or NULL. */
PyObject *theus_view_data(PyObject *v);

/* ---- heavy.c: buffer ownership for the heavy zone ---- */

/* theus_own_heavy is theus_own (capi/py/py.h) for a value written under the heavy zone: 0 and
   *out a new reference to the HeavyValue to store, -1 with an exception set, -2 with *out a
   refusal tuple (location, reason). */
int theus_own_heavy(PyObject *v, PyObject **out);
/* theus_heavy_abandon undoes the locking of a HeavyValue that is dropped without having been
   committed (held by nothing else): the caller's arrays get their writeable flag back. */
void theus_heavy_abandon(PyObject *v);
/* theus_heavy_ref returns theus.heavy.adopt(value) (mode 1) or theus.heavy.copy(value) (2). */
PyObject *theus_heavy_ref(PyObject *value, int mode);
/* theus_heavy_inner is the borrowed array or buffer owner a HeavyValue holds. */
PyObject *theus_heavy_inner(PyObject *hv);
/* theus_heavy_is_array: the HeavyValue holds a numpy array. */
int theus_heavy_is_array(PyObject *hv);
/* theus_heavy_stats returns {"values": n, "bytes": b} for the HeavyValues alive. */
PyObject *theus_heavy_stats(void);

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

/* theus_freeze_item freezes a value borrowed from a container. Freezing can run user code
 * (an ndarray subclass's attributes, numpy's asarray) that may drop the container's reference,
 * so the value is held strongly while it is frozen. */
PyObject *theus_freeze_item_slow(PyObject *obj);

static inline PyObject *
theus_freeze_item(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == &PyUnicode_Type || tp == &PyLong_Type || tp == &PyFloat_Type ||
        tp == &PyBool_Type || obj == Py_None) {
        Py_INCREF(obj);
        return obj;
    }
    return theus_freeze_item_slow(obj);
}

/* theus_untrack hides a container a view keeps privately from the cyclic GC, so that
 * gc.get_referrers(value) and gc.get_objects() never return it. Inserting into a dict can
 * track it again: call it after every insert. Such a container must never be part of a
 * cycle (it holds only committed data, frozen views and strings). */
static inline void
theus_untrack(PyObject *container)
{
    PyObject_GC_UnTrack(container); /* a no-op on an untracked container */
}

/* theus_untrack_after is theus_untrack after inserting value into the dict container: only
 * a value the GC may track makes CPython track the dict again (keys here are str). */
static inline void
theus_untrack_after(PyObject *container, PyObject *value)
{
    if (PyType_IS_GC(Py_TYPE(value))) {
        theus_untrack(container);
    }
}

/* theus_repr_plain is the repr of committed data as plain Python would print it ({...},
 * [...], (...) for containers, cycles shown as {...}), every other value printed through
 * its frozen view, so no foreign __repr__ sees a committed object. */
PyObject *theus_repr_plain(PyObject *raw);

/* theus_wrap returns a new view of `type` around obj (no type check). */
PyObject *theus_wrap(PyTypeObject *type, PyObject *obj);

/* theus_model_base returns pydantic.BaseModel (borrowed) when tp is a pydantic model class,
 * else NULL with no exception; pydantic is never imported (frozenobject.c). */
PyTypeObject *theus_model_base(PyTypeObject *tp);

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

/* theus_type_dict returns a new reference to the dict of attributes tp itself defines (NULL
 * when it has none). CPython 3.12 keeps the dicts of static builtin types per interpreter, so
 * tp->tp_dict is NULL there and PyType_GetDict is the way in. */
static inline PyObject *
theus_type_dict(PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *d = PyType_GetDict(tp);
    if (d == NULL) {
        PyErr_Clear();
    }
    return d;
#else
    Py_XINCREF(tp->tp_dict);
    return tp->tp_dict;
#endif
}

/* theus_lookup_type is _PyType_Lookup: a borrowed reference to the attribute `name` found on
 * the type's MRO (cached by CPython's method cache), or NULL. */
#define theus_lookup_type(tp, name) _PyType_Lookup((tp), (name))

/* theus_bind_method: descr (a PyMethodDescr of self's type) bound to self, as a method.c
 * binding when the method takes positional arguments only, else as the builtin binding. */
PyObject *theus_bind_method(PyObject *descr, PyObject *self);
int theus_method_init(void);

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
     PyDoc_STR(#name "($self, /, *args, **kwargs)\n--\n\n" #name "() always raises ContextError: the view is read-only; " THEUS_READONLY_FIX ".")}

/* ---- the process context (scopedview.c, then context.c, which uses it) ---- */

/* theus_Attempt is what a context and every ScopedView under it share for one process
 * attempt: the first undeclared path read (path and message NULL until then). Not
 * GC-tracked: it holds strings only. */
typedef struct {
    PyObject_HEAD
    PyObject *path;
    PyObject *message;
} theus_Attempt;

extern PyTypeObject theus_Attempt_Type;

/* theus_attempt_new returns a new, clean attempt. */
theus_Attempt *theus_attempt_new(void);

/* theus_scopedview_init readies the attempt type and the strings scopedview.c uses. */
int theus_scopedview_init(void);

/* theus_scoped_build places every path of the dict `present` (declared path -> committed
 * value) in the tree rooted at attrs (the context's dict of zones), and the ancestors of every
 * path of the tuple `declared` (or NULL) that has no value. values is the declared-paths
 * object for messages, build the context's build number. */
int theus_scoped_build(PyObject *attrs, PyObject *present, PyObject *declared, PyObject *values,
                       theus_Attempt *att, unsigned long long build);

/* theus_raise_undeclared raises ContractViolationError for reading prefix.name (segs[:depth]
 * is the prefix; segs may be NULL) and records it in att, or theus.PathError when that path is
 * declared but absent from the state; with dflt, a declared-but-absent read returns a new
 * reference to dflt instead. */
PyObject *theus_raise_undeclared(PyObject *segs, Py_ssize_t depth, PyObject *values, theus_Attempt *att,
                                 PyObject *name, PyObject *dflt);

/* theus_context_check is ctx.__check_contract__(process) (process may be NULL); ctx is a
 * Context. */
PyObject *theus_context_check(PyObject *ctx, PyObject *process);
/* theus_context_seal is ctx.__seal__(name, sealed); ctx is a Context. */
PyObject *theus_context_seal(PyObject *ctx, PyObject *name, PyObject *sealed);

/* theus_scopedview_to_dict is ScopedView.to_dict(). */
PyObject *theus_scopedview_to_dict(PyObject *self);

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
