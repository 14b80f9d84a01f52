/* Thin C helpers for the Go side of theus: everything cgo cannot call directly (macros,
   variadic functions) and a few batch operations that save crossings. */
#ifndef THEUS_PY_H
#define THEUS_PY_H

#define PY_SSIZE_T_CLEAN
/* How many leading int arguments an entry point receives pre-read (see capi/module.c). */
#define THEUS_INT_ARGS 8
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "kind.h"

/* Hot helpers take objects as uintptr_t: cgo checks every pointer argument for Go pointers
   (about 20 ns each) and these are never Go pointers. */
#define THEUS_OBJ(u) ((PyObject *)(u))
static inline void theus_decref(PyObject *o) { Py_DECREF(o); }
static inline void theus_incref_u(uintptr_t o) { Py_INCREF(THEUS_OBJ(o)); }
static inline void theus_decref_u(uintptr_t o) { Py_DECREF(THEUS_OBJ(o)); }
/* theus_release_u drops a reference when this thread holds the GIL and returns 1; without the
   GIL it returns 0 and the caller queues the decref. One crossing for the check and the drop. */
static inline int theus_release_u(uintptr_t o) {
    if (PyGILState_Check() != 1) return 0;
    Py_DECREF(THEUS_OBJ(o));
    return 1;
}
static inline int theus_setitem_u(uintptr_t d, uintptr_t k, uintptr_t v) {
    return PyDict_SetItem(THEUS_OBJ(d), THEUS_OBJ(k), THEUS_OBJ(v));
}
/* theus_call_u is PyObject_Call (kwargs 0 for none). */
static inline PyObject *theus_call_u(uintptr_t fn, uintptr_t args, uintptr_t kwargs) {
    return PyObject_Call(THEUS_OBJ(fn), THEUS_OBJ(args), (PyObject *)kwargs);
}
static inline PyObject *theus_none(void) { Py_INCREF(Py_None); return Py_None; }
static inline PyObject *theus_bool(int v) { PyObject *r = v ? Py_True : Py_False; Py_INCREF(r); return r; }
static inline Py_ssize_t theus_tuple_size(PyObject *o) { return PyTuple_GET_SIZE(o); }
static inline PyObject *theus_tuple_item(PyObject *o, Py_ssize_t i) { return PyTuple_GET_ITEM(o, i); }
static inline const char *theus_type_name(PyObject *o) { return Py_TYPE(o)->tp_name; }

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

/* theus_own sets *out to a new reference to a private copy of v for committing into state and
   returns 0 (what is copied and what is shared: own.c); -1 with an exception set on failure
   (RecursionError for data nested too deep or cyclic); -2 with no exception set when v holds
   a value theus refuses to store, *out then being a new tuple (location inside v such as
   "[0]['k']", the reason). */
int theus_own(PyObject *v, PyObject **out);

/* theus_delete_marker is theus.DELETE (set once at module init): refused inside a value. */
extern PyObject *theus_delete_marker;

/* theus_dict_build returns a new dict of n items: key i is the UTF-8 text
   names[offs[i]:offs[i+1]], value i the object vals[i] (borrowed). One call builds
   a branch's dict. */
PyObject *theus_dict_build(const char *names, const Py_ssize_t *offs, const uintptr_t *vals, Py_ssize_t n);

/* theus_memo_carry returns a new reference to the dict of a branch's copy made from dict d,
   the dict of the replaced branch: d itself, changed in place, when only theus holds it (its
   reference count is 1), else a copy of d when may_copy (d stays as the views show it). For
   i < n, key names[offs[i]:offs[i+1]] is set to vals[i] (borrowed), or deleted when vals[i] is
   0, in that order (a replaced key keeps its place, a new one goes last, as in the branch).
   NULL with no exception set when d is shared and may not be copied, or a change failed (d
   may then be half changed: the caller drops its reference). */
PyObject *theus_memo_carry(uintptr_t d, int may_copy, const char *names, const Py_ssize_t *offs, const uintptr_t *vals, Py_ssize_t n);

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

/* theus_install_kind installs the classifier and its refusal text (see kind.h). */
static inline void theus_install_kind(void *kind, void *refusal) {
    theus_kind_hook = (theus_kind_fn)kind;
    theus_refusal_hook = (theus_refusal_fn)refusal;
}

static inline int theus_is_float(PyObject *o) { return PyFloat_Check(o); }
static inline int theus_is_bool(PyObject *o) { return PyBool_Check(o); }
static inline int theus_is_list(PyObject *o) { return PyList_Check(o); }
static inline Py_ssize_t theus_list_size(PyObject *o) { return PyList_GET_SIZE(o); }
static inline PyObject *theus_list_item(PyObject *o, Py_ssize_t i) { return PyList_GET_ITEM(o, i); }

/* Batched checks: one crossing instead of two or three on the hot paths. */

/* theus_as_i64 stores o's value in *out and returns 1 when o is an int (not bool) that fits;
   0 otherwise, with no exception set. */
static inline int theus_as_i64(PyObject *o, long long *out) {
    if (!PyLong_Check(o) || PyBool_Check(o)) return 0;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0) return 0;
    if (v == -1 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
    *out = v;
    return 1;
}

/* theus_prepare classifies a value being committed: it returns 1 and sets *dict (borrowed) when
   the value (seen through a view) is a dict; 0 and sets *leaf to a new reference to its private
   copy otherwise; -1 with an exception set on failure; -2 when the value is refused, *leaf then
   being theus_own's (location, reason) tuple. */
static inline int theus_prepare(PyObject *v, PyObject **dict, PyObject **leaf) {
    PyObject *inner = theus_unwrap(v);
    if (inner != NULL) v = inner;
    if (PyDict_Check(v)) { *dict = v; return 1; }
    Py_INCREF(v); /* copying may run user code (a __hash__) that drops the caller's reference */
    int r = theus_own(v, leaf);
    Py_DECREF(v);
    return r;
}

/* theus_prepare_heavy is theus_prepare for a value written under the heavy zone: a dict is
   still a branch (its leaves follow the heavy rule too), anything else goes to the heavy
   zone's ownership rule. */
static inline int theus_prepare_heavy(PyObject *v, PyObject **dict, PyObject **leaf) {
    PyObject *inner = theus_unwrap(v);
    if (inner != NULL && PyDict_Check(inner)) v = inner;
    if (PyDict_Check(v)) { *dict = v; return 1; }
    Py_INCREF(v);
    int r = theus_own_heavy_hook(v, leaf);
    Py_DECREF(v);
    return r;
}

/* theus_install_heavy installs the heavy zone's ownership rule and its value type. */
static inline void theus_install_heavy(void *own, void *abandon, void *type) {
    theus_own_heavy_hook = (theus_own_heavy_fn)own;
    theus_heavy_abandon_hook = (void (*)(PyObject *))abandon;
    theus_heavy_value_type = (PyTypeObject *)type;
}

/* theus_abandon_u: a leaf of a commit that did not happen is dropped (undoes heavy locks). */
static inline void theus_abandon_u(uintptr_t v) {
    if (Py_TYPE(THEUS_OBJ(v)) == theus_heavy_value_type) theus_heavy_abandon_hook(THEUS_OBJ(v));
}

/* Struct-returning variants: no Go pointer crosses into C, so cgo's pointer checks stay out
   of the hot paths. */
typedef struct { const char *p; Py_ssize_t n; int err; } theus_text;
static inline theus_text theus_text_of(uintptr_t u) {
    PyObject *o = THEUS_OBJ(u);
    theus_text t = {NULL, 0, 0};
    if (!PyUnicode_Check(o)) return t;
    t.p = PyUnicode_AsUTF8AndSize(o, &t.n);
    t.err = t.p == NULL;
    return t;
}
typedef struct { long long v; int ok; } theus_i64;
static inline theus_i64 theus_i64_of(uintptr_t o) {
    theus_i64 r = {0, 0};
    r.ok = theus_as_i64(THEUS_OBJ(o), &r.v);
    return r;
}
typedef struct { PyObject *k, *v; Py_ssize_t pos; int ok; } theus_item;
static inline theus_item theus_dict_next(uintptr_t d, Py_ssize_t pos) {
    theus_item it;
    it.ok = PyDict_Next(THEUS_OBJ(d), &pos, &it.k, &it.v);
    it.pos = pos;
    return it;
}
typedef struct { PyObject *k, *v; } theus_pair;
/* theus_pair_at reads item i of a list of (key, value) tuples such as PyDict_Items returns. */
static inline theus_pair theus_pair_at(uintptr_t items, Py_ssize_t i) {
    PyObject *t = PyList_GET_ITEM(THEUS_OBJ(items), i);
    theus_pair p = {PyTuple_GET_ITEM(t, 0), PyTuple_GET_ITEM(t, 1)};
    return p;
}
typedef struct { PyObject *out; int status; } theus_owned;
static inline theus_owned theus_own_value(uintptr_t v) {
    theus_owned r = {NULL, 0};
    r.status = theus_own(THEUS_OBJ(v), &r.out);
    return r;
}
typedef struct { PyObject *dict, *leaf; int kind; } theus_prepared;
static inline theus_prepared theus_prepare_value(uintptr_t v) {
    theus_prepared r = {NULL, NULL, 0};
    r.kind = theus_prepare(THEUS_OBJ(v), &r.dict, &r.leaf);
    return r;
}
static inline theus_prepared theus_prepare_heavy_value(uintptr_t v) {
    theus_prepared r = {NULL, NULL, 0};
    r.kind = theus_prepare_heavy(THEUS_OBJ(v), &r.dict, &r.leaf);
    return r;
}
static inline theus_owned theus_own_heavy_value(uintptr_t v) {
    theus_owned r = {NULL, 0};
    r.status = theus_own_heavy_hook(THEUS_OBJ(v), &r.out);
    return r;
}

/* theus_write_read reads the entry of a commit's updates dict after pos into *it: the key,
   its UTF-8 text (p NULL when the key is not a str; err 1 with an exception set when it cannot
   be encoded), the value and, when prepared is 1, the value classified for the commit copy by
   theus_prepare. Only values whose preparation runs no user code (exact str, int, float, bool,
   None and dict), so that the borrowed key and text stay valid, are prepared here, and never
   under a key starting with THEUS_HEAVY_ZONE (ToNodeAt decides the zone rule); the Go side prepares
   the rest. ok 0 marks the end; size is the dict's size now, so the walk can stop without a
   call that only finds the end. */
typedef struct {
    PyObject *k, *v;
    const char *p;
    Py_ssize_t n, pos, size;
    theus_prepared r;
    int ok, err, prepared;
} theus_write_item;
static inline void theus_write_read(uintptr_t d, Py_ssize_t pos, theus_write_item *it) {
    memset(it, 0, sizeof *it);
    it->ok = PyDict_Next(THEUS_OBJ(d), &pos, &it->k, &it->v);
    it->pos = pos;
    it->size = PyDict_GET_SIZE(THEUS_OBJ(d));
    if (!it->ok || !PyUnicode_Check(it->k)) return;
    it->p = PyUnicode_AsUTF8AndSize(it->k, &it->n);
    if (it->p == NULL) { it->err = 1; return; }
    if (it->n >= (Py_ssize_t)sizeof THEUS_HEAVY_ZONE - 1 && memcmp(it->p, THEUS_HEAVY_ZONE, sizeof THEUS_HEAVY_ZONE - 1) == 0) return;
    PyTypeObject *tp = Py_TYPE(it->v);
    if (tp == &PyLong_Type || tp == &PyUnicode_Type || tp == &PyFloat_Type || tp == &PyBool_Type ||
        tp == &PyDict_Type || it->v == Py_None) {
        it->r.kind = theus_prepare(it->v, &it->r.dict, &it->r.leaf);
        it->prepared = 1;
    }
}

/* theus_write_batch holds up to THEUS_WRITE_BATCH entries of an updates dict read in one
   crossing (theus_write_fill): the commit's C shim fills the first batch before it calls Go,
   so a commit of up to that many plain values reads its updates without a crossing. A fill
   stops after an entry it did not prepare as a leaf (converting that one may run user code
   that changes the dict, and the later entries' borrowed keys with it), at the end (end 1),
   and at a key that cannot be encoded (its item has err 1; the exception is cleared, and the
   Go side raises it again from the key). pos is the dict position after the last entry. */
#define THEUS_WRITE_BATCH 16
typedef struct {
    theus_write_item item[THEUS_WRITE_BATCH];
    Py_ssize_t pos;
    int n, end;
} theus_write_batch;
static inline void theus_write_fill(uintptr_t d, theus_write_batch *b) {
    b->n = 0;
    while (b->n < THEUS_WRITE_BATCH) {
        theus_write_item *it = &b->item[b->n];
        theus_write_read(d, b->pos, it);
        if (!it->ok) {
            b->end = 1;
            return;
        }
        b->pos = it->pos;
        b->n++;
        if (it->err) {
            PyErr_Clear();
            b->end = 1;
            return;
        }
        if (!it->prepared || it->r.kind != 0) return;
    }
}

/* theus_decref_all drops one reference to each of the n objects at objs (values a commit or a
   drain releases: one crossing for all of them). A pending exception is kept aside while
   their finalizers run. */
static inline void theus_decref_all(const uintptr_t *objs, Py_ssize_t n) {
    PyObject *type, *value, *tb;
    int saved = PyErr_Occurred() != NULL;
    if (saved) PyErr_Fetch(&type, &value, &tb);
    for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(THEUS_OBJ(objs[i]));
    if (saved) PyErr_Restore(type, value, tb);
}

/* Batched walks over a list of (key, value) pairs (PyDict_Items), which holds every key and
   value alive while user code runs: one crossing per dict instead of several per entry. */

typedef struct { const char *p; Py_ssize_t n; } theus_keytext;
/* theus_key_texts stores the UTF-8 text of every key of items in out; it returns 0, with no
   exception set, as soon as a key is not a str or cannot be encoded; else 2 when every key is
   an exact str (their texts differ), 1 when some is a str subclass (two keys may share a text). */
static inline int theus_key_texts(uintptr_t items, theus_keytext *out) {
    PyObject *l = THEUS_OBJ(items);
    int exact = 1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
        PyObject *k = PyTuple_GET_ITEM(PyList_GET_ITEM(l, i), 0);
        if (!PyUnicode_Check(k) || (out[i].p = PyUnicode_AsUTF8AndSize(k, &out[i].n)) == NULL) {
            PyErr_Clear();
            return 0;
        }
        exact &= PyUnicode_CheckExact(k);
    }
    return exact ? 2 : 1;
}

/* theus_prepare_from classifies the values of items from index start on, each by
   theus_prepare, or theus_prepare_heavy where heavy[i] is set, into out[i]. It stops after the
   first value that fails (kind -1 or -2) and before theus.DELETE (the caller reports it), and
   returns the index it stopped at: out[start:stop] is set. */
static inline Py_ssize_t theus_prepare_from(uintptr_t items, Py_ssize_t start, const char *heavy,
                                            theus_prepared *out) {
    PyObject *l = THEUS_OBJ(items);
    Py_ssize_t i = start;
    for (; i < PyList_GET_SIZE(l); i++) {
        PyObject *v = PyTuple_GET_ITEM(PyList_GET_ITEM(l, i), 1);
        if (v == theus_delete_marker) break;
        out[i].dict = out[i].leaf = NULL;
        out[i].kind = heavy[i] ? theus_prepare_heavy(v, &out[i].dict, &out[i].leaf)
                               : theus_prepare(v, &out[i].dict, &out[i].leaf);
        if (out[i].kind < 0) return i + 1;
    }
    return i;
}
