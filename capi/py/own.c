/* own.c: the commit copy. Everything a writer hands to theus is classified once (theus_kind,
 * see kind.h) and copied where the writer could still change it, so committed data cannot
 * change without a commit:
 *   - plain containers are copied recursively into plain dicts, lists, tuples (a namedtuple
 *     keeps its type) and frozensets; buffers are copied (numpy arrays, bytearray, array.array;
 *     a memoryview becomes bytes); immutable values, opaque C objects and instances of Python
 *     classes are shared; a theus view stands for the committed data behind it;
 *   - refused values (deque, coroutine, masked array, the process context, theus.DELETE
 *     inside a value, ...) stop the commit with a message naming where in the value they sit
 *     and what to store instead;
 *   - values written under the heavy zone do not come here: theus_own_heavy (the heavy zone's
 *     rule, pyproxy/heavy.c) takes buffers by reference where it can lock them; a HeavyValue
 *     met here (heavy data moved to another zone) is immutable and shared;
 *   - the copies are untracked by the cycle collector: gc.get_referrers(x) on a value read
 *     back must not find the committed container that holds it (nothing inserts into a
 *     committed container afterwards, so CPython never tracks it again). A copy cannot be on
 *     a cycle: only theus holds it, and cyclic input is refused (RecursionError).
 */
#include "py.h"

#include <string.h>

PyObject *(*theus_view_unwrap)(PyObject *v) = NULL;
theus_kind_fn theus_kind_hook = NULL;
theus_refusal_fn theus_refusal_hook = NULL;
theus_own_heavy_fn theus_own_heavy_hook = NULL;
void (*theus_heavy_abandon_hook)(PyObject *v) = NULL;
PyTypeObject *theus_heavy_value_type = NULL;
PyObject *theus_delete_marker = NULL;

/* How deep a value may nest, whatever the recursion limit says: the copy runs on the C stack. */
#define MAX_DEPTH 10000

#define DELETE_TEXT "theus.DELETE removes a path: write it as a path's whole new value, not inside a value"

/* where is the location of the value being copied, kept on the C stack for messages: a dict
   key, or a list/tuple index (set items have index -1). */
typedef struct where {
    const struct where *up;
    PyObject *key;
    Py_ssize_t index;
    int depth;
} where;

/* ownctx carries a refusal up the copy: a tuple (location, text), no exception set. */
typedef struct {
    PyObject *refusal;
} ownctx;

static PyObject *own(PyObject *v, ownctx *cx, const where *at);

static void
untrack(PyObject *o)
{
    if (PyObject_IS_GC(o) && PyObject_GC_IsTracked(o)) {
        PyObject_GC_UnTrack(o);
    }
}

/* location returns a new str such as "[0]['k']" for at (the empty str at the top). */
static PyObject *
location(const where *at)
{
    PyObject *parts = PyList_New(0);
    if (parts == NULL) {
        return NULL;
    }
    for (const where *w = at; w != NULL; w = w->up) {
        PyObject *s;
        if (w->key != NULL) {
            s = PyUnicode_FromFormat("[%R]", w->key);
            if (s == NULL) {
                PyErr_Clear();
                s = PyUnicode_FromString("[<key>]");
            }
        }
        else if (w->index >= 0) {
            s = PyUnicode_FromFormat("[%zd]", w->index);
        }
        else {
            s = PyUnicode_FromString("{<set item>}");
        }
        if (s == NULL || PyList_Insert(parts, 0, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(parts);
            return NULL;
        }
        Py_DECREF(s);
    }
    Py_ssize_t n = PyList_GET_SIZE(parts);
    if (n > 12) { /* a deep location: its first and last steps */
        PyObject *dots = PyUnicode_FromString("...");
        if (dots == NULL || PyList_SetSlice(parts, 6, n - 5, NULL) < 0 || PyList_Insert(parts, 6, dots) < 0) {
            Py_XDECREF(dots);
            Py_DECREF(parts);
            return NULL;
        }
        Py_DECREF(dots);
    }
    PyObject *empty = PyUnicode_FromString("");
    PyObject *out = empty ? PyUnicode_Join(empty, parts) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(parts);
    return out;
}

/* refuse records why v cannot be stored (text: a new str, or NULL for the classifier's). */
static PyObject *
refuse(ownctx *cx, const where *at, PyObject *v, PyObject *text)
{
    if (text == NULL) {
        text = theus_refusal_hook(v);
        if (text == NULL) {
            return NULL;
        }
    }
    PyObject *loc = location(at);
    if (loc == NULL) {
        Py_DECREF(text);
        return NULL;
    }
    Py_XSETREF(cx->refusal, PyTuple_Pack(2, loc, text));
    Py_DECREF(loc);
    Py_DECREF(text);
    return NULL;
}

static PyObject *
own_list(PyObject *v, ownctx *cx, const where *at)
{
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
        where w = {at, NULL, i, at ? at->depth + 1 : 1};
        PyObject *c = own(item, cx, &w);
        Py_DECREF(item);
        if (c == NULL) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, i, c);
    }
    untrack(out);
    return out;
}

static PyObject *
own_tuple(PyObject *v, ownctx *cx, const where *at)
{
    Py_ssize_t n = PyTuple_GET_SIZE(v);
    PyObject *out = PyTuple_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        where w = {at, NULL, i, at ? at->depth + 1 : 1};
        PyObject *c = own(PyTuple_GET_ITEM(v, i), cx, &w);
        if (c == NULL) { Py_DECREF(out); return NULL; }
        PyTuple_SET_ITEM(out, i, c);
    }
    if (!PyTuple_CheckExact(v)) { /* a namedtuple keeps its type; its own __new__ does not run */
        PyObject *args = PyTuple_Pack(1, out);
        Py_DECREF(out);
        if (args == NULL) return NULL;
        out = PyTuple_Type.tp_new(Py_TYPE(v), args, NULL);
        Py_DECREF(args);
        if (out == NULL) return NULL;
    }
    untrack(out);
    return out;
}

static PyObject *
own_dict(PyObject *v, ownctx *cx, const where *at)
{
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    PyObject *items = PyDict_Items(v); /* a snapshot: safe against mutation during copies */
    if (items == NULL) { Py_DECREF(out); return NULL; }
    Py_ssize_t n = PyList_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        where w = {at, PyTuple_GET_ITEM(kv, 0), -1, at ? at->depth + 1 : 1};
        PyObject *c = own(PyTuple_GET_ITEM(kv, 1), cx, &w);
        if (c == NULL || PyDict_SetItem(out, PyTuple_GET_ITEM(kv, 0), c) < 0) {
            Py_XDECREF(c);
            Py_DECREF(items);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(c);
    }
    Py_DECREF(items);
    untrack(out);
    return out;
}

static PyObject *
own_set(PyObject *v, ownctx *cx, const where *at)
{
    PyObject *items = PyList_New(0);
    if (items == NULL) return NULL;
    Py_ssize_t pos = 0;
    PyObject *item;
    Py_hash_t hash;
    while (_PySet_NextEntry(v, &pos, &item, &hash)) { /* no __iter__ override runs */
        if (PyList_Append(items, item) < 0) { Py_DECREF(items); return NULL; }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        where w = {at, NULL, -1, at ? at->depth + 1 : 1};
        PyObject *c = own(PyList_GET_ITEM(items, i), cx, &w);
        if (c == NULL) { Py_DECREF(items); return NULL; }
        PyList_SetItem(items, i, c);
    }
    PyObject *out = PyFrozenSet_New(items);
    Py_DECREF(items);
    if (out != NULL) untrack(out);
    return out;
}

static int
is_ndarray(PyObject *v)
{
    for (PyTypeObject *tp = Py_TYPE(v); tp != NULL; tp = tp->tp_base) {
        if (strcmp(tp->tp_name, "numpy.ndarray") == 0) return 1;
    }
    return 0;
}

static PyObject *
own_buffer(PyObject *v)
{
    if (Py_TYPE(v) == theus_heavy_value_type) { /* held by the heavy zone: immutable */
        Py_INCREF(v);
        return v;
    }
    if (is_ndarray(v)) return PyObject_CallMethod(v, "copy", NULL); /* keeps a subclass */
    if (PyByteArray_Check(v)) return PyByteArray_FromObject(v);
    if (PyMemoryView_Check(v)) return PyObject_CallMethod(v, "tobytes", NULL);
    return PySequence_GetSlice(v, 0, PY_SSIZE_T_MAX); /* array.array: a copy of the same type */
}

static PyObject *
own(PyObject *v, ownctx *cx, const where *at)
{
    PyTypeObject *tp = Py_TYPE(v);
    if (tp == &PyUnicode_Type || tp == &PyLong_Type || tp == &PyFloat_Type || tp == &PyBool_Type ||
        v == Py_None) {
        Py_INCREF(v);
        return v;
    }
    if (v == theus_delete_marker) {
        return refuse(cx, at, v, PyUnicode_FromString(DELETE_TEXT));
    }
    theus_kind_t kind = theus_kind(v, THEUS_KIND_COMMIT);
    switch (kind) {
    case THEUS_KIND_ERROR:
        return NULL;
    case THEUS_KIND_SCALAR:
    case THEUS_KIND_OPAQUE:
    case THEUS_KIND_OBJECT:
        Py_INCREF(v);
        return v;
    case THEUS_KIND_VIEW: {
        PyObject *inner = theus_unwrap(v);
        if (inner != NULL) { /* already committed data: immutable by construction */
            Py_INCREF(inner);
            return inner;
        }
        return refuse(cx, at, v, NULL);
    }
    case THEUS_KIND_REFUSED:
        return refuse(cx, at, v, NULL);
    default:
        break;
    }
    if (at != NULL && at->depth > MAX_DEPTH) {
        PyErr_Format(PyExc_RecursionError, "a value nested deeper than %d levels cannot be stored in theus state", MAX_DEPTH);
        return NULL;
    }
    if (Py_EnterRecursiveCall(" while copying a value into theus state (is it cyclic?)")) return NULL;
    PyObject *out;
    switch (kind) {
    case THEUS_KIND_DICT: out = own_dict(v, cx, at); break;
    case THEUS_KIND_LIST: out = own_list(v, cx, at); break;
    case THEUS_KIND_TUPLE:
    case THEUS_KIND_NAMEDTUPLE: out = own_tuple(v, cx, at); break;
    case THEUS_KIND_SET: out = own_set(v, cx, at); break;
    default: out = own_buffer(v); break;
    }
    Py_LeaveRecursiveCall();
    return out;
}

int
theus_own(PyObject *v, PyObject **out)
{
    ownctx cx = {NULL};
    *out = own(v, &cx, NULL);
    if (*out != NULL) return 0;
    if (cx.refusal != NULL) {
        PyErr_Clear();
        *out = cx.refusal;
        return -2;
    }
    return -1;
}

PyObject *
theus_dict_build(const char *names, const Py_ssize_t *offs, const uintptr_t *vals, Py_ssize_t n)
{
    PyObject *d = _PyDict_NewPresized(n);
    if (d == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyUnicode_FromStringAndSize(names + offs[i], offs[i + 1] - offs[i]);
        if (k == NULL) { Py_DECREF(d); return NULL; }
        /* Interned: a lookup with a name from code (`fd["k"]`, `fd.k`, a literal, an attribute
           name) then finds the very same object and skips the string compare. Interned strings
           are mortal: each is freed with the last dict that holds it. */
        PyUnicode_InternInPlace(&k);
        int rc = PyDict_SetItem(d, k, (PyObject *)vals[i]);
        Py_DECREF(k);
        if (rc < 0) { Py_DECREF(d); return NULL; }
    }
    untrack(d); /* shared by every version of the branch: invisible to gc.get_referrers */
    return d;
}

PyObject *
theus_memo_carry(uintptr_t d, int may_copy, const char *names, const Py_ssize_t *offs, const uintptr_t *vals, Py_ssize_t n)
{
    PyObject *dict = THEUS_OBJ(d);
    if (!PyDict_CheckExact(dict)) {
        return NULL;
    }
    if (Py_REFCNT(dict) == 1) { /* only theus holds it: change it in place */
        Py_INCREF(dict);
    }
    else if (!may_copy || (dict = PyDict_Copy(dict)) == NULL) { /* a view shows it as it is */
        PyErr_Clear();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyUnicode_FromStringAndSize(names + offs[i], offs[i + 1] - offs[i]);
        if (k == NULL) {
            PyErr_Clear();
            Py_DECREF(dict);
            return NULL;
        }
        PyUnicode_InternInPlace(&k);
        int rc = vals[i] ? PyDict_SetItem(dict, k, THEUS_OBJ(vals[i])) : PyDict_DelItem(dict, k);
        Py_DECREF(k);
        if (rc < 0) {
            PyErr_Clear();
            Py_DECREF(dict);
            return NULL;
        }
    }
    untrack(dict);
    return dict;
}
