/* scopedview.c: ScopedView, the part of a zone a process declared (ctx.domain when only
 * paths under domain were declared), and the tree of them a context is built from.
 *
 * Shape: for declared paths {"domain.counter", "domain.user.name", "global"}, ctx.domain is a
 * ScopedView exposing `counter` and a nested ScopedView `user` exposing `name`; ctx.global_
 * is the FrozenDict of the whole zone, because the zone itself was declared. A declared
 * ancestor wins over its declared descendants. Every ancestor of a declared path is a
 * ScopedView even when nothing below it has a value yet, so ctx.domain.get("counter", 0)
 * works on an empty state.
 *
 * Reading a name that was not declared raises ContractViolationError naming the full path and
 * the declared ones, and records the path in the attempt the views share (theus_Attempt): the
 * engine refuses to commit an attempt that read an undeclared path, even when the process
 * caught the error. A declared path with no value in this version raises theus.PathError
 * (get() returns its default).
 *
 * In a ScopedView declared names win over its methods (get, keys, items, ...), so
 * ctx.domain.items reads a declared "domain.items". A name with one trailing underscore falls
 * back to the name without it (ctx.global_, ctx.domain.class_).
 *
 * Leaves are frozen when first read and the frozen view replaces the raw value in the
 * ScopedView's private dict, so repeated reads return the same view.
 *
 * GC: ScopedView is not GC-tracked, for the reason given in freeze.c, and the private dict of
 * children is kept untracked too: it holds committed values, and gc.get_referrers(value) must
 * not find a dict whose change would change what the process reads.
 */
#include "internal.h"

typedef struct {
    PyObject_HEAD
    PyObject *children; /* name -> raw leaf, frozen leaf, or ScopedView */
    PyObject *segs;     /* tuple of the path segments; this node is segs[:depth] */
    Py_ssize_t depth;
    PyObject *values;   /* the declared paths (for messages) */
    theus_Attempt *att; /* shared with the context and every view under it */
    unsigned long long build;
    PyObject *weakrefs;
} ScopedView;


static PyObject *split_cache = NULL; /* path -> tuple of interned segments */
static PyObject *str_dot = NULL;
static PyObject *str_sep = NULL;

#define SPLIT_CACHE_MAX 4096

int
theus_scopedview_init(void)
{
    if (PyType_Ready(&theus_Attempt_Type) < 0) {
        return -1;
    }
    if (split_cache == NULL && (split_cache = PyDict_New()) == NULL) {
        return -1;
    }
    if (str_dot == NULL && (str_dot = PyUnicode_InternFromString(".")) == NULL) {
        return -1;
    }
    if (str_sep == NULL && (str_sep = PyUnicode_InternFromString(", ")) == NULL) {
        return -1;
    }
    return 0;
}

/* split_new splits an exact str path that is not in the cache yet and caches it. */
static PyObject *
split_new(PyObject *path)
{
    PyObject *parts = PyUnicode_Split(path, str_dot, -1);
    if (parts == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(parts);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *seg = PyList_GET_ITEM(parts, i);
        if (PyUnicode_GET_LENGTH(seg) == 0) {
            Py_DECREF(parts);
            PyErr_Format(PyExc_ValueError, "context: malformed declared path %R (empty segment)", path);
            return NULL;
        }
        Py_INCREF(seg);
        PyUnicode_InternInPlace(&seg);
        PyList_SetItem(parts, i, seg);
    }
    PyObject *t = PyList_AsTuple(parts);
    Py_DECREF(parts);
    if (t == NULL) {
        return NULL;
    }
    if (PyDict_GET_SIZE(split_cache) >= SPLIT_CACHE_MAX) {
        PyDict_Clear(split_cache);
    }
    theus_untrack(t);
    if (PyDict_SetItem(split_cache, path, t) < 0) {
        Py_DECREF(t);
        return NULL;
    }
    theus_untrack(split_cache);
    return t;
}

/* split_other splits a path that is not an exact str: a str subclass is split as the plain
 * str it equals (its own __hash__ or __eq__ never runs inside the cache). */
static PyObject *
split_other(PyObject *path)
{
    if (!PyUnicode_Check(path)) {
        PyErr_Format(PyExc_TypeError, "context: a declared path must be a str, not %.100s",
                     Py_TYPE(path)->tp_name);
        return NULL;
    }
    PyObject *plain = PyUnicode_FromObject(path);
    if (plain == NULL) {
        return NULL;
    }
    PyObject *t = PyDict_GetItemWithError(split_cache, plain);
    if (t != NULL) {
        Py_INCREF(t);
    }
    else if (!PyErr_Occurred()) {
        t = split_new(plain);
    }
    Py_DECREF(plain);
    return t;
}

/* split_path returns a new reference to the tuple of path's segments. */
static inline PyObject *
split_path(PyObject *path)
{
    if (!PyUnicode_CheckExact(path)) {
        return split_other(path);
    }
    PyObject *t = PyDict_GetItemWithError(split_cache, path);
    if (t != NULL) {
        Py_INCREF(t);
        return t;
    }
    return PyErr_Occurred() ? NULL : split_new(path);
}

/* declared_list: "a.b, c.d" of the declared paths, sorted. `values` is the declared-paths
   object: the values dict (its keys) or a tuple of every declared path. */
static PyObject *
declared_list(PyObject *values)
{
    PyObject *keys = PySequence_List(values);
    if (keys == NULL) {
        return NULL;
    }
    PyObject *strs = PyList_New(0);
    for (Py_ssize_t i = 0; strs != NULL && i < PyList_GET_SIZE(keys); i++) {
        PyObject *s = PyObject_Str(PyList_GET_ITEM(keys, i));
        if (s == NULL || PyList_Append(strs, s) < 0) {
            Py_XDECREF(s);
            Py_CLEAR(strs);
            break;
        }
        Py_DECREF(s);
    }
    Py_DECREF(keys);
    if (strs == NULL || PyList_Sort(strs) < 0) {
        Py_XDECREF(strs);
        return NULL;
    }
    PyObject *out = PyUnicode_Join(str_sep, strs);
    Py_DECREF(strs);
    return out;
}

/* is_declared reports whether full is a declared path, an ancestor of one or below one (1),
   or not (0); -1 with an exception set. */
static int
is_declared(PyObject *values, PyObject *full)
{
    PyObject *seq = PySequence_Fast(values, "context: declared paths");
    if (seq == NULL) {
        return -1;
    }
    int found = 0;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), len = PyUnicode_GET_LENGTH(full);
    for (Py_ssize_t i = 0; i < n && !found; i++) {
        PyObject *s = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(s)) {
            continue;
        }
        Py_ssize_t slen = PyUnicode_GET_LENGTH(s);
        if (slen >= len) { /* s is full or below it */
            found = PyUnicode_Tailmatch(s, full, 0, len, -1) == 1 &&
                    (slen == len || PyUnicode_READ_CHAR(s, len) == '.');
        }
        else { /* s is an ancestor of full */
            found = PyUnicode_Tailmatch(full, s, 0, slen, -1) == 1 && PyUnicode_READ_CHAR(full, slen) == '.';
        }
    }
    Py_DECREF(seq);
    return found;
}

/* raise_absent raises theus.PathError for a declared path that has no value in this version. */
static PyObject *
raise_absent(PyObject *full)
{
    PyObject *mod = PyImport_ImportModule("theus.errors");
    PyObject *cls = mod ? PyObject_GetAttrString(mod, "PathError") : NULL;
    Py_XDECREF(mod);
    if (cls == NULL) {
        return NULL;
    }
    PyObject *msg = PyUnicode_FromFormat(
        "ctx.%U: declared, but the state has no value there in this version; test with 'in' "
        "or read it with .get(name, default)", full);
    PyObject *exc = msg ? PyObject_CallFunction(cls, "OOs", msg, full, "not_found") : NULL;
    Py_XDECREF(msg);
    Py_DECREF(cls);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* poison records the first undeclared read of an attempt. */
static void
poison(theus_Attempt *att, PyObject *full, PyObject *message)
{
    if (att != NULL && att->path == NULL) {
        Py_INCREF(full);
        att->path = full;
        Py_INCREF(message);
        att->message = message;
    }
}

PyObject *
theus_raise_undeclared(PyObject *segs, Py_ssize_t depth, PyObject *values, theus_Attempt *att,
                       PyObject *name, PyObject *dflt)
{
    PyObject *full;
    if (segs != NULL && depth > 0) {
        PyObject *head = PyTuple_GetSlice(segs, 0, depth);
        PyObject *prefix = head ? PyUnicode_Join(str_dot, head) : NULL;
        Py_XDECREF(head);
        if (prefix == NULL) {
            return NULL;
        }
        full = PyUnicode_FromFormat("%U.%S", prefix, name);
        Py_DECREF(prefix);
    }
    else {
        full = PyObject_Str(name);
    }
    if (full == NULL) {
        return NULL;
    }
    int absent = PyUnicode_Check(full) ? is_declared(values, full) : 0;
    if (absent != 0) {
        PyObject *r = NULL;
        if (absent > 0 && dflt != NULL) {
            Py_INCREF(dflt);
            r = dflt;
        }
        else if (absent > 0) {
            raise_absent(full);
        }
        Py_DECREF(full);
        return r;
    }
    PyObject *declared = declared_list(values);
    PyObject *msg = declared ? PyUnicode_FromFormat(
        "ctx.%U: not among the process's declared inputs (%U); add '%U' to inputs=[...]",
        full, declared, full) : NULL;
    Py_XDECREF(declared);
    if (msg != NULL) {
        poison(att, full, msg);
        PyErr_SetObject(theus_ContractViolationError, msg);
        Py_DECREF(msg);
    }
    Py_DECREF(full);
    return NULL;
}

/* ---- ScopedView ---- */

static ScopedView *
scoped_new(PyObject *segs, Py_ssize_t depth, PyObject *values, theus_Attempt *att, unsigned long long build)
{
    ScopedView *sv = PyObject_New(ScopedView, &theus_ScopedView_Type);
    if (sv == NULL) {
        return NULL;
    }
    sv->children = PyDict_New();
    if (sv->children == NULL) {
        sv->segs = sv->values = NULL;
        sv->att = NULL;
        sv->weakrefs = NULL;
        Py_DECREF(sv);
        return NULL;
    }
    Py_INCREF(segs);
    sv->segs = segs;
    sv->depth = depth;
    Py_INCREF(values);
    sv->values = values;
    Py_XINCREF(att);
    sv->att = att;
    sv->build = build;
    sv->weakrefs = NULL;
    return sv;
}

static void
scoped_dealloc(ScopedView *self)
{
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    Py_XDECREF(self->children);
    Py_XDECREF(self->segs);
    Py_XDECREF(self->values);
    Py_XDECREF(self->att);
    PyObject_Free(self);
}

/* scoped_value returns the (frozen) child value v (borrowed from children), caching the
 * frozen form. Only an exact str key caches: another key type could compare equal to the
 * stored name once and not the next time, and insert a key of its own. */
static PyObject *
scoped_value(ScopedView *self, PyObject *key, PyObject *v)
{
    PyObject *f = theus_freeze_item(v);
    if (f != NULL && f != v && PyUnicode_CheckExact(key)) {
        if (PyDict_SetItem(self->children, key, f) < 0) {
            Py_CLEAR(f);
        }
        else {
            theus_untrack_after(self->children, f);
        }
    }
    return f;
}

static PyObject *
scoped_lookup(ScopedView *self, PyObject *name, int allow_fallback)
{
    PyObject *v = PyDict_GetItemWithError(self->children, name);
    if (v != NULL) {
        return scoped_value(self, name, v);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (allow_fallback && PyUnicode_Check(name)) {
        PyObject *alt = theus_keyword_fallback(name);
        if (alt != NULL) {
            v = PyDict_GetItemWithError(self->children, alt);
            PyObject *r = v ? scoped_value(self, alt, v) : NULL;
            Py_DECREF(alt);
            if (v != NULL || PyErr_Occurred()) {
                return r;
            }
        }
        else if (PyErr_Occurred()) {
            return NULL;
        }
    }
    return theus_raise_undeclared(self->segs, self->depth, self->values, self->att, name, NULL);
}

static PyObject *
scoped_getattro(PyObject *op, PyObject *name)
{
    ScopedView *self = (ScopedView *)op;
    if (PyUnicode_CheckExact(name)) {
        PyObject *v = PyDict_GetItemWithError(self->children, name);
        if (v != NULL) {
            return scoped_value(self, name, v);
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
        if (theus_is_dict_name(name)) {
            return theus_raise_readonly("ScopedView", "expose __dict__ (a view has none)");
        }
        if (theus_lookup_type(Py_TYPE(op), name) == NULL) {
            Py_ssize_t n = PyUnicode_GET_LENGTH(name);
            int dunder = n > 4 && PyUnicode_READ_CHAR(name, 0) == '_' && PyUnicode_READ_CHAR(name, 1) == '_' &&
                         PyUnicode_READ_CHAR(name, n - 1) == '_' && PyUnicode_READ_CHAR(name, n - 2) == '_';
            if (!dunder) {
                return scoped_lookup(self, name, 1);
            }
        }
    }
    return PyObject_GenericGetAttr(op, name);
}

static int
scoped_setattro(PyObject *op, PyObject *name, PyObject *value)
{
    (void)op;
    theus_raise_readonly_obj("the process context", value == NULL ? "delete attribute" : "set attribute", name);
    return -1;
}

static PyObject *
scoped_subscript(PyObject *op, PyObject *key)
{
    return scoped_lookup((ScopedView *)op, key, 0);
}

static int
scoped_ass_subscript(PyObject *op, PyObject *key, PyObject *value)
{
    (void)op;
    theus_raise_readonly_obj("the process context", value == NULL ? "delete item" : "set item", key);
    return -1;
}

static Py_ssize_t
scoped_length(PyObject *op)
{
    return PyDict_GET_SIZE(((ScopedView *)op)->children);
}

static int
scoped_contains(PyObject *op, PyObject *key)
{
    return PyDict_Contains(((ScopedView *)op)->children, key);
}

static PyObject *
scoped_keys(PyObject *op, PyObject *unused)
{
    (void)unused;
    PyObject *keys = PyDict_Keys(((ScopedView *)op)->children);
    if (keys == NULL) {
        return NULL;
    }
    PyObject *t = PyList_AsTuple(keys);
    Py_DECREF(keys);
    return t;
}

static PyObject *
scoped_iter(PyObject *op)
{
    PyObject *keys = scoped_keys(op, NULL);
    if (keys == NULL) {
        return NULL;
    }
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

/* scoped_pairs: a tuple of values (pairs == 0) or (key, value) pairs, frozen. */
static PyObject *
scoped_collect(ScopedView *self, int pairs)
{
    PyObject *keys = scoped_keys((PyObject *)self, NULL);
    if (keys == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(keys);
    PyObject *out = PyTuple_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *k = PyTuple_GET_ITEM(keys, i);
        PyObject *v = scoped_lookup(self, k, 0);
        if (v == NULL) {
            Py_CLEAR(out);
            break;
        }
        if (pairs) {
            PyObject *p = PyTuple_Pack(2, k, v);
            Py_DECREF(v);
            if (p == NULL) {
                Py_CLEAR(out);
                break;
            }
            v = p;
        }
        PyTuple_SET_ITEM(out, i, v);
    }
    Py_DECREF(keys);
    return out;
}

static PyObject *
scoped_values(PyObject *op, PyObject *unused)
{
    (void)unused;
    return scoped_collect((ScopedView *)op, 0);
}

static PyObject *
scoped_items(PyObject *op, PyObject *unused)
{
    (void)unused;
    return scoped_collect((ScopedView *)op, 1);
}

static PyObject *
scoped_get(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "get expected 1 or 2 arguments, got %zd", nargs);
        return NULL;
    }
    ScopedView *self = (ScopedView *)op;
    PyObject *v = PyDict_GetItemWithError(self->children, args[0]);
    if (v != NULL) {
        return scoped_value(self, args[0], v);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    return theus_raise_undeclared(self->segs, self->depth, self->values, self->att, args[0],
                                  nargs > 1 ? args[1] : Py_None);
}

PyObject *
theus_scopedview_to_dict(PyObject *op)
{
    ScopedView *self = (ScopedView *)op;
    PyObject *out = PyDict_New();
    if (out == NULL) {
        return NULL;
    }
    if (Py_EnterRecursiveCall(" while copying a context view")) {
        Py_DECREF(out);
        return NULL;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(self->children, &pos, &k, &v)) {
        Py_INCREF(k); /* copying may run user code (copy hooks) */
        Py_INCREF(v);
        PyObject *c = theus_thaw_root(v);
        int r = c ? PyDict_SetItem(out, k, c) : -1;
        Py_DECREF(k);
        Py_DECREF(v);
        Py_XDECREF(c);
        if (r < 0) {
            Py_CLEAR(out);
            break;
        }
    }
    Py_LeaveRecursiveCall();
    return out;
}

static PyObject *
scoped_to_dict(PyObject *op, PyObject *unused)
{
    (void)unused;
    return theus_scopedview_to_dict(op);
}

static PyObject *
scoped_deepcopy(PyObject *op, PyObject *memo)
{
    (void)memo;
    return theus_scopedview_to_dict(op);
}

static PyObject *
scoped_reduce(PyObject *op, PyObject *unused)
{
    (void)unused;
    PyObject *d = theus_scopedview_to_dict(op);
    if (d == NULL) {
        return NULL;
    }
    return Py_BuildValue("(O(N))", (PyObject *)&PyDict_Type, d);
}

static PyObject *
scoped_reduce_ex(PyObject *op, PyObject *protocol)
{
    (void)protocol;
    return scoped_reduce(op, NULL);
}

static PyObject *
scoped_repr(PyObject *op)
{
    ScopedView *self = (ScopedView *)op;
    int r = Py_ReprEnter(op);
    if (r != 0) {
        return r > 0 ? PyUnicode_FromString("ScopedView(...)") : NULL;
    }
    PyObject *out = NULL;
    PyObject *head = PyTuple_GetSlice(self->segs, 0, self->depth);
    PyObject *prefix = head ? PyUnicode_Join(str_dot, head) : NULL;
    PyObject *body = prefix ? theus_repr_plain(self->children) : NULL;
    if (body != NULL) {
        out = PyUnicode_FromFormat("ScopedView(%R, %U)", prefix, body);
    }
    Py_XDECREF(head);
    Py_XDECREF(prefix);
    Py_XDECREF(body);
    Py_ReprLeave(op);
    return out;
}

THEUS_TRAP(scoped, "the process context", update)
THEUS_TRAP(scoped, "the process context", setdefault)
THEUS_TRAP(scoped, "the process context", pop)
THEUS_TRAP(scoped, "the process context", popitem)
THEUS_TRAP(scoped, "the process context", clear)

static PyMethodDef scoped_methods[] = {
    {"get", (PyCFunction)(void (*)(void))scoped_get, METH_FASTCALL,
     PyDoc_STR("get($self, name, default=None, /)\n--\n\n"
               "The declared value (frozen); ContractViolationError if\n"
               "name was not declared (default is accepted for symmetry with Mapping.get).")},
    {"keys", scoped_keys, METH_NOARGS, PyDoc_STR("keys($self, /)\n--\n\nTuple of the visible (declared) names.")},
    {"values", scoped_values, METH_NOARGS, PyDoc_STR("values($self, /)\n--\n\nTuple of the visible values, frozen.")},
    {"items", scoped_items, METH_NOARGS, PyDoc_STR("items($self, /)\n--\n\nTuple of (name, frozen value) pairs.")},
    {"to_dict", scoped_to_dict, METH_NOARGS,
     PyDoc_STR("to_dict($self, /)\n--\n\nA deep, independent, mutable copy of the visible data.")},
    {"__copy__", scoped_to_dict, METH_NOARGS, PyDoc_STR("__copy__($self, /)\n--\n\ncopy.copy(view) -> to_dict().")},
    {"__deepcopy__", scoped_deepcopy, METH_O, PyDoc_STR("__deepcopy__($self, memo, /)\n--\n\ncopy.deepcopy(view) -> to_dict().")},
    {"__reduce__", scoped_reduce, METH_NOARGS, PyDoc_STR("__reduce__($self, /)\n--\n\nPickles as a plain dict of the visible data.")},
    {"__reduce_ex__", scoped_reduce_ex, METH_O, PyDoc_STR("__reduce_ex__($self, protocol, /)\n--\n\nPickles as a plain dict of the visible data.")},
    THEUS_TRAP_DEF(scoped, update),
    THEUS_TRAP_DEF(scoped, setdefault),
    THEUS_TRAP_DEF(scoped, pop),
    THEUS_TRAP_DEF(scoped, popitem),
    THEUS_TRAP_DEF(scoped, clear),
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods scoped_as_mapping = {
    .mp_length = scoped_length,
    .mp_subscript = scoped_subscript,
    .mp_ass_subscript = scoped_ass_subscript,
};

static PySequenceMethods scoped_as_sequence = {
    .sq_contains = scoped_contains,
};

PyDoc_STRVAR(scoped_doc,
"The part of a zone a process declared: ctx.domain when only paths under domain were\n"
"declared. Declared names read as attributes or items (frozen); anything else raises\n"
"ContractViolationError naming the path and the declared inputs. Supports get, in, len,\n"
"iter, keys, values, items and to_dict over the visible names. Every write raises\n"
"ContextError: " THEUS_READONLY_FIX ".");

PyTypeObject theus_ScopedView_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.ScopedView",
    .tp_basicsize = sizeof(ScopedView),
    .tp_dealloc = (destructor)scoped_dealloc,
    .tp_repr = scoped_repr,
    .tp_as_sequence = &scoped_as_sequence,
    .tp_as_mapping = &scoped_as_mapping,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_getattro = scoped_getattro,
    .tp_setattro = scoped_setattro,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .tp_doc = scoped_doc,
    .tp_weaklistoffset = offsetof(ScopedView, weakrefs),
    .tp_iter = scoped_iter,
    .tp_methods = scoped_methods,
};

/* ---- the attempt a context and its views share ---- */

/* A context is built for every process attempt; a few freed attempts are kept for reuse
 * (as CPython does for small tuples), which keeps the allocation off the start path. */
#define ATTEMPT_FREELIST 16
static theus_Attempt *attempt_free[ATTEMPT_FREELIST];
static int attempt_nfree = 0;

static void
attempt_dealloc(theus_Attempt *self)
{
    Py_CLEAR(self->path);
    Py_CLEAR(self->message);
    if (attempt_nfree < ATTEMPT_FREELIST) {
        attempt_free[attempt_nfree++] = self;
        return;
    }
    PyObject_Free(self);
}

PyTypeObject theus_Attempt_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.ContextAttempt",
    .tp_basicsize = sizeof(theus_Attempt),
    .tp_dealloc = (destructor)attempt_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .tp_doc = PyDoc_STR("What one process attempt's context records (internal)."),
};

theus_Attempt *
theus_attempt_new(void)
{
    theus_Attempt *att;
    if (attempt_nfree > 0) {
        att = attempt_free[--attempt_nfree];
        _Py_NewReference((PyObject *)att);
    }
    else {
        att = PyObject_New(theus_Attempt, &theus_Attempt_Type);
    }
    if (att != NULL) {
        att->path = NULL;
        att->message = NULL;
    }
    return att;
}

/* scoped_insert places one declared path and its value in the tree rooted at attrs (the
 * context's dict of zones); value NULL places only the path's ancestors. */
static int
scoped_insert(PyObject *attrs, PyObject *path, PyObject *value, PyObject *values, theus_Attempt *att,
              unsigned long long build)
{
    PyObject *segs = split_path(path);
    if (segs == NULL) {
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(segs);
    PyObject *container = attrs;
    int rc = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *seg = PyTuple_GET_ITEM(segs, i);
        if (i == n - 1) {
            if (value == NULL) { /* absent: only its ancestors */
                break;
            }
            if (container == attrs) { /* a whole zone: freeze it now */
                PyObject *f = theus_freeze_item(value);
                rc = f ? PyDict_SetItem(attrs, seg, f) : -1;
                if (rc == 0) {
                    theus_untrack_after(attrs, f);
                }
                Py_XDECREF(f);
            }
            else {
                rc = PyDict_SetItem(container, seg, value);
                theus_untrack_after(container, value);
            }
            break;
        }
        PyObject *existing = PyDict_GetItemWithError(container, seg);
        if (existing == NULL) {
            if (PyErr_Occurred()) {
                rc = -1;
                break;
            }
            ScopedView *node = scoped_new(segs, i + 1, values, att, build);
            if (node == NULL || PyDict_SetItem(container, seg, (PyObject *)node) < 0) {
                Py_XDECREF(node);
                rc = -1;
                break;
            }
            container = node->children; /* kept alive by container's reference to node */
            Py_DECREF(node);
        }
        else if (Py_IS_TYPE(existing, &theus_ScopedView_Type) && ((ScopedView *)existing)->build == build) {
            container = ((ScopedView *)existing)->children;
        }
        else {
            break; /* an ancestor was declared whole: it already gives access to this path */
        }
    }
    Py_DECREF(segs);
    return rc;
}

int
theus_scoped_build(PyObject *attrs, PyObject *present, PyObject *declared, PyObject *values,
                   theus_Attempt *att, unsigned long long build)
{
    Py_ssize_t pos = 0;
    PyObject *path, *value;
    while (PyDict_Next(present, &pos, &path, &value)) {
        /* Held: a str subclass path runs code while it is split, and an allocation below may
         * run a finalizer. */
        Py_INCREF(path);
        Py_INCREF(value);
        int r = scoped_insert(attrs, path, value, values, att, build);
        Py_DECREF(path);
        Py_DECREF(value);
        if (r < 0) {
            return -1;
        }
    }
    if (declared != NULL && PyTuple_GET_SIZE(declared) != PyDict_GET_SIZE(present)) {
        /* Declared paths without a value still get their ancestors, so ctx.domain.get(name,
         * default) and `"domain" in ctx` work before anything was written there. */
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(declared); i++) {
            PyObject *p = PyTuple_GET_ITEM(declared, i);
            int has = PyDict_Contains(present, p);
            if (has < 0 || (!has && scoped_insert(attrs, p, NULL, values, att, build) < 0)) {
                return -1;
            }
        }
    }
    return 0;
}
