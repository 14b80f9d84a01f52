/* context.c: the context a process receives (Context) and the scoped views of its zones
 * (ScopedView), built in one call from the dict of declared path -> committed value.
 *
 * Shape: for declared paths {"domain.counter", "domain.user.name", "global"}, ctx.domain is a
 * ScopedView exposing `counter` and a nested ScopedView `user` exposing `name`; ctx.global_
 * (or ctx["global"]) is the FrozenDict of the whole zone, because the zone itself was
 * declared. A declared ancestor wins over its declared descendants. ctx.version and the
 * extras (ctx.outbox, ...) are exposed as they are; an extra shadows a zone of the same name.
 *
 * Reading a name that was not declared raises ContractViolationError naming the full path and
 * the declared ones. The context only knows the paths it was given: a declared path the
 * caller left out of `values` reads as undeclared.
 *
 * In a ScopedView declared names win over its methods (get, keys, items, ...), so
 * ctx.domain.items reads a declared "domain.items". A name with one trailing underscore falls
 * back to the name without it (ctx.global_, ctx.domain.class_).
 *
 * Leaves are frozen when first read and the frozen view replaces the raw value in the
 * ScopedView's private dict, so repeated reads return the same view. Zones declared whole
 * are frozen while building.
 *
 * GC: ScopedView is not GC-tracked, for the reason given in freeze.c. Context is: it holds
 * the extras, and a process could put ctx itself into one (ctx.outbox.add(ctx)); its
 * tp_traverse visits only its private copy of the extras dict, whose values are public
 * attributes anyway, so gc.get_referents(ctx) reaches no committed data.
 */
#include "internal.h"

typedef struct {
    PyObject_HEAD
    PyObject *children; /* name -> raw leaf, frozen leaf, or ScopedView */
    PyObject *segs;     /* tuple of the path segments; this node is segs[:depth] */
    Py_ssize_t depth;
    PyObject *values;   /* the declared paths (for messages) */
    unsigned long long build;
    PyObject *weakrefs;
} ScopedView;

typedef struct {
    PyObject_HEAD
    PyObject *attrs;  /* zone -> frozen value or ScopedView; "version" -> version */
    PyObject *extras; /* private copy of the extras, or NULL */
    PyObject *values;
    PyObject *weakrefs;
} Context;

static PyObject *split_cache = NULL; /* path -> tuple of interned segments */
static PyObject *str_dot = NULL;
static PyObject *str_version = NULL;
static PyObject *str_sep = NULL;
static unsigned long long build_counter = 0;

#define SPLIT_CACHE_MAX 4096

int
theus_context_init(void)
{
    if (split_cache == NULL && (split_cache = PyDict_New()) == NULL) {
        return -1;
    }
    if (str_dot == NULL && (str_dot = PyUnicode_InternFromString(".")) == NULL) {
        return -1;
    }
    if (str_version == NULL && (str_version = PyUnicode_InternFromString("version")) == NULL) {
        return -1;
    }
    if (str_sep == NULL && (str_sep = PyUnicode_InternFromString(", ")) == NULL) {
        return -1;
    }
    return 0;
}

/* split_path returns a new reference to the tuple of path's segments. */
static PyObject *
split_path(PyObject *path)
{
    PyObject *t = PyDict_GetItemWithError(split_cache, path);
    if (t != NULL) {
        Py_INCREF(t);
        return t;
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (!PyUnicode_Check(path)) {
        PyErr_Format(PyExc_TypeError, "context: a declared path must be a str, not %.100s",
                     Py_TYPE(path)->tp_name);
        return NULL;
    }
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
    t = PyList_AsTuple(parts);
    Py_DECREF(parts);
    if (t == NULL) {
        return NULL;
    }
    if (PyDict_GET_SIZE(split_cache) >= SPLIT_CACHE_MAX) {
        PyDict_Clear(split_cache);
    }
    if (PyDict_SetItem(split_cache, path, t) < 0) {
        Py_DECREF(t);
        return NULL;
    }
    return t;
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

/* is_declared reports whether full is a declared path or an ancestor of one (1), or not (0);
   -1 with an exception set. */
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
        if (!PyUnicode_Check(s) || PyUnicode_Tailmatch(s, full, 0, len, -1) != 1) {
            continue;
        }
        found = PyUnicode_GET_LENGTH(s) == len || PyUnicode_READ_CHAR(s, len) == '.';
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

/* raise_undeclared raises ContractViolationError for reading prefix.name (prefix may be NULL),
   or theus.PathError when that path is declared but absent from the state; with dflt, a
   declared-but-absent read returns a new reference to dflt instead. */
static PyObject *
raise_undeclared(PyObject *segs, Py_ssize_t depth, PyObject *values, PyObject *name, PyObject *dflt)
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
    if (declared != NULL) {
        PyErr_Format(theus_ContractViolationError,
                     "ctx.%U: not among the process's declared inputs (%U); add '%U' to inputs=[...]",
                     full, declared, full);
        Py_DECREF(declared);
    }
    Py_DECREF(full);
    return NULL;
}

/* ---- ScopedView ---- */

static ScopedView *
scoped_new(PyObject *segs, Py_ssize_t depth, PyObject *values, unsigned long long build)
{
    ScopedView *sv = PyObject_New(ScopedView, &theus_ScopedView_Type);
    if (sv == NULL) {
        return NULL;
    }
    sv->children = PyDict_New();
    if (sv->children == NULL) {
        sv->segs = sv->values = NULL;
        sv->weakrefs = NULL;
        Py_DECREF(sv);
        return NULL;
    }
    Py_INCREF(segs);
    sv->segs = segs;
    sv->depth = depth;
    Py_INCREF(values);
    sv->values = values;
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
    PyObject_Free(self);
}

/* scoped_value returns the (frozen) child value, caching the frozen form. */
static PyObject *
scoped_value(ScopedView *self, PyObject *key, PyObject *v)
{
    PyObject *f = theus_freeze_fast(v);
    if (f != NULL && f != v && PyDict_SetItem(self->children, key, f) < 0) {
        Py_CLEAR(f);
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
    return raise_undeclared(self->segs, self->depth, self->values, name, NULL);
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
    return raise_undeclared(self->segs, self->depth, self->values, args[0], nargs > 1 ? args[1] : Py_None);
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
        PyObject *c = theus_thaw_root(v);
        if (c == NULL || PyDict_SetItem(out, k, c) < 0) {
            Py_XDECREF(c);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(c);
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
    if (prefix != NULL) {
        out = PyUnicode_FromFormat("ScopedView(%R, %R)", prefix, self->children);
    }
    Py_XDECREF(head);
    Py_XDECREF(prefix);
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
     PyDoc_STR("get(name, default=None) -> the declared value (frozen); ContractViolationError if\n"
               "name was not declared (default is accepted for symmetry with Mapping.get).")},
    {"keys", scoped_keys, METH_NOARGS, PyDoc_STR("keys() -> tuple of the visible (declared) names.")},
    {"values", scoped_values, METH_NOARGS, PyDoc_STR("values() -> tuple of the visible values, frozen.")},
    {"items", scoped_items, METH_NOARGS, PyDoc_STR("items() -> tuple of (name, frozen value) pairs.")},
    {"to_dict", scoped_to_dict, METH_NOARGS,
     PyDoc_STR("to_dict() -> a deep, independent, mutable copy of the visible data.")},
    {"__copy__", scoped_to_dict, METH_NOARGS, PyDoc_STR("copy.copy(view) -> to_dict().")},
    {"__deepcopy__", scoped_deepcopy, METH_O, PyDoc_STR("copy.deepcopy(view) -> to_dict().")},
    {"__reduce__", scoped_reduce, METH_NOARGS, PyDoc_STR("Pickles as a plain dict of the visible data.")},
    {"__reduce_ex__", scoped_reduce_ex, METH_O, PyDoc_STR("Pickles as a plain dict of the visible data.")},
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

/* ---- Context ---- */

static int
context_traverse(PyObject *op, visitproc visit, void *arg)
{
    Py_VISIT(((Context *)op)->extras);
    return 0;
}

static int
context_clear(PyObject *op)
{
    Py_CLEAR(((Context *)op)->extras);
    return 0;
}

static void
context_dealloc(PyObject *op)
{
    Context *self = (Context *)op;
    PyObject_GC_UnTrack(op);
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs(op);
    }
    Py_XDECREF(self->attrs);
    Py_XDECREF(self->extras);
    Py_XDECREF(self->values);
    PyObject_GC_Del(op);
}

static PyObject *
context_lookup(Context *self, PyObject *name, int allow_fallback)
{
    PyObject *v = PyDict_GetItemWithError(self->attrs, name);
    if (v == NULL && !PyErr_Occurred() && self->extras != NULL) {
        v = PyDict_GetItemWithError(self->extras, name);
    }
    if (v != NULL) {
        Py_INCREF(v);
        return v;
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (allow_fallback && PyUnicode_Check(name)) {
        PyObject *alt = theus_keyword_fallback(name);
        if (alt != NULL) {
            v = PyDict_GetItemWithError(self->attrs, alt);
            Py_DECREF(alt);
            if (v != NULL) {
                Py_INCREF(v);
                return v;
            }
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    return raise_undeclared(NULL, 0, self->values, name, NULL);
}

static PyObject *
context_getattro(PyObject *op, PyObject *name)
{
    Context *self = (Context *)op;
    if (PyUnicode_CheckExact(name)) {
        PyObject *v = PyDict_GetItemWithError(self->attrs, name);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
        if (theus_is_dict_name(name)) {
            return theus_raise_readonly("the process context", "expose __dict__ (a view has none)");
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(name);
        int dunder = n > 4 && PyUnicode_READ_CHAR(name, 0) == '_' && PyUnicode_READ_CHAR(name, 1) == '_' &&
                     PyUnicode_READ_CHAR(name, n - 1) == '_' && PyUnicode_READ_CHAR(name, n - 2) == '_';
        if (!dunder) {
            return context_lookup(self, name, 1);
        }
    }
    return PyObject_GenericGetAttr(op, name);
}

static int
context_setattro(PyObject *op, PyObject *name, PyObject *value)
{
    (void)op;
    theus_raise_readonly_obj("the process context", value == NULL ? "delete attribute" : "set attribute", name);
    return -1;
}

static PyObject *
context_subscript(PyObject *op, PyObject *key)
{
    return context_lookup((Context *)op, key, 0);
}

static int
context_ass_subscript(PyObject *op, PyObject *key, PyObject *value)
{
    (void)op;
    theus_raise_readonly_obj("the process context", value == NULL ? "delete item" : "set item", key);
    return -1;
}

static int
context_contains(PyObject *op, PyObject *key)
{
    Context *self = (Context *)op;
    int r = PyDict_Contains(self->attrs, key);
    if (r == 0 && self->extras != NULL) {
        r = PyDict_Contains(self->extras, key);
    }
    return r;
}

static PyObject *
context_repr(PyObject *op)
{
    Context *self = (Context *)op;
    PyObject *names = PyDict_Keys(self->attrs);
    if (names == NULL) {
        return NULL;
    }
    if (self->extras != NULL) {
        PyObject *more = PyDict_Keys(self->extras);
        PyObject *all = more ? PySequence_Concat(names, more) : NULL;
        Py_XDECREF(more);
        Py_SETREF(names, all);
        if (names == NULL) {
            return NULL;
        }
    }
    PyObject *out = PyUnicode_FromFormat("Context(%R)", names);
    Py_DECREF(names);
    return out;
}

static PyObject *
context_reduce(PyObject *op, PyObject *unused)
{
    (void)op;
    (void)unused;
    PyErr_SetString(PyExc_TypeError,
                    "cannot pickle or copy the process context: copy the values you need "
                    "(ctx.domain.to_dict())");
    return NULL;
}

static PyObject *
context_reduce_ex(PyObject *op, PyObject *protocol)
{
    (void)protocol;
    return context_reduce(op, NULL);
}

static PyMethodDef context_methods[] = {
    {"__reduce__", context_reduce, METH_NOARGS, PyDoc_STR("The context cannot be pickled or copied.")},
    {"__reduce_ex__", context_reduce_ex, METH_O, PyDoc_STR("The context cannot be pickled or copied.")},
    {"__copy__", context_reduce, METH_NOARGS, PyDoc_STR("The context cannot be copied.")},
    {"__deepcopy__", context_reduce_ex, METH_O, PyDoc_STR("The context cannot be copied.")},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods context_as_mapping = {
    .mp_subscript = context_subscript,
    .mp_ass_subscript = context_ass_subscript,
};

static PySequenceMethods context_as_sequence = {
    .sq_contains = context_contains,
};

PyDoc_STRVAR(context_doc,
"The read-only context a process receives as `ctx`.\n\n"
"ctx.<zone> for every zone among the declared paths (ctx.global_ or ctx[\"global\"] for the\n"
"zone named global): a FrozenDict (or other frozen value) when the whole zone was declared,\n"
"otherwise a ScopedView of the declared sub-paths. ctx.version is the snapshot version;\n"
"extras such as ctx.outbox are exposed as they are. Reading an undeclared name raises\n"
"ContractViolationError; every write raises ContextError: " THEUS_READONLY_FIX ".");

PyTypeObject theus_Context_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.Context",
    .tp_basicsize = sizeof(Context),
    .tp_dealloc = context_dealloc,
    .tp_repr = context_repr,
    .tp_as_sequence = &context_as_sequence,
    .tp_as_mapping = &context_as_mapping,
    .tp_getattro = context_getattro,
    .tp_setattro = context_setattro,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
                Py_TPFLAGS_IMMUTABLETYPE,
    .tp_doc = context_doc,
    .tp_traverse = context_traverse,
    .tp_clear = context_clear,
    .tp_weaklistoffset = offsetof(Context, weakrefs),
    .tp_methods = context_methods,
};

/* insert_path places one declared path and its value in the tree rooted at attrs. */
static int
insert_path(PyObject *attrs, PyObject *path, PyObject *value, PyObject *values, unsigned long long build)
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
            if (container == attrs) { /* a whole zone: freeze it now */
                PyObject *f = theus_freeze_fast(value);
                rc = f ? PyDict_SetItem(attrs, seg, f) : -1;
                Py_XDECREF(f);
            }
            else {
                rc = PyDict_SetItem(container, seg, value);
            }
            break;
        }
        PyObject *existing = PyDict_GetItemWithError(container, seg);
        if (existing == NULL) {
            if (PyErr_Occurred()) {
                rc = -1;
                break;
            }
            ScopedView *node = scoped_new(segs, i + 1, values, build);
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

PyObject *
theus_context_new(PyObject *values, PyObject *version, PyObject *extras, PyObject *declared)
{
    if (!PyDict_Check(values)) {
        PyErr_SetString(PyExc_TypeError, "context: values must be a dict of path -> value");
        return NULL;
    }
    if (declared == Py_None) {
        declared = NULL;
    }
    if (declared != NULL && !PyTuple_Check(declared)) {
        PyErr_SetString(PyExc_TypeError, "context: declared must be a tuple of paths or None");
        return NULL;
    }
    PyObject *msgs = declared != NULL ? declared : values; /* what error messages list */
    if (extras == Py_None || (extras != NULL && PyDict_GET_SIZE(extras) == 0)) {
        extras = NULL;
    }
    if (extras != NULL && !PyDict_Check(extras)) {
        PyErr_SetString(PyExc_TypeError, "context: extras must be a dict or None");
        return NULL;
    }
    Context *ctx = PyObject_GC_New(Context, &theus_Context_Type);
    if (ctx == NULL) {
        return NULL;
    }
    ctx->attrs = PyDict_New();
    ctx->extras = NULL;
    Py_INCREF(msgs);
    ctx->values = msgs;
    ctx->weakrefs = NULL;
    if (ctx->attrs == NULL) {
        goto fail;
    }
    unsigned long long build = ++build_counter;
    Py_ssize_t pos = 0;
    PyObject *path, *value;
    while (PyDict_Next(values, &pos, &path, &value)) {
        if (insert_path(ctx->attrs, path, value, msgs, build) < 0) {
            goto fail;
        }
    }
    if (PyDict_SetItem(ctx->attrs, str_version, version) < 0) {
        goto fail;
    }
    if (extras != NULL) {
        if ((ctx->extras = PyDict_Copy(extras)) == NULL) {
            goto fail;
        }
        /* An extra shadows a zone of the same name: drop the zone so attrs can be read first. */
        pos = 0;
        PyObject *name, *unused;
        while (PyDict_Next(ctx->extras, &pos, &name, &unused)) {
            int has = PyDict_Contains(ctx->attrs, name);
            if (has < 0 || (has && PyDict_DelItem(ctx->attrs, name) < 0)) {
                goto fail;
            }
        }
    }
    PyObject_GC_Track(ctx);
    return (PyObject *)ctx;
fail:
    Py_DECREF(ctx);
    return NULL;
}
