/* frozendict.c: FrozenDict, its keys/values/items views and their iterator.
 *
 * A FrozenDict holds a strong reference to a dict and reads it with the PyDict_* API (so a
 * dict subclass's overridden methods, e.g. defaultdict's __missing__, are not run). Values
 * are frozen as they are read; keys are returned as they are (they are hashable).
 *
 * Attribute access `fd.name` looks the name up on the type first, so the Mapping methods
 * (keys, items, get, ...) always win over keys of the same name; `fd["items"]` always reads
 * the key. A name with one trailing underscore falls back to the key without it
 * (`fd.global_` -> fd["global"]).
 *
 * The keys/values/items views and the iterator are our own types: the dict's own views have
 * a `.mapping` attribute and its iterators are GC-tracked, both of which would reach the dict.
 */
#include "internal.h"

#define FD_DATA(self) (((theus_View *)(self))->data)

/* ---- iterator ---- */

enum { ITER_KEYS, ITER_VALUES, ITER_ITEMS };

typedef struct {
    PyObject_HEAD
    PyObject *dict;
    Py_ssize_t pos;
    Py_ssize_t size;
    int kind;
} DictIter;

static PyObject *
dictiter_new(PyObject *dict, int kind)
{
    DictIter *it = PyObject_New(DictIter, &theus_DictIter_Type);
    if (it == NULL) {
        return NULL;
    }
    Py_INCREF(dict);
    it->dict = dict;
    it->pos = 0;
    it->size = PyDict_GET_SIZE(dict);
    it->kind = kind;
    return (PyObject *)it;
}

static void
dictiter_dealloc(DictIter *it)
{
    Py_DECREF(it->dict);
    PyObject_Free(it);
}

static PyObject *
dictiter_next(DictIter *it)
{
    PyObject *k, *v;
    if (it->size != PyDict_GET_SIZE(it->dict)) {
        PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
        it->size = -1;
        return NULL;
    }
    if (!PyDict_Next(it->dict, &it->pos, &k, &v)) {
        return NULL;
    }
    switch (it->kind) {
    case ITER_KEYS:
        Py_INCREF(k);
        return k;
    case ITER_VALUES:
        return theus_freeze_item(v);
    default: {
        Py_INCREF(k); /* freezing v may run code that drops the dict's reference to k */
        PyObject *fv = theus_freeze_item(v);
        PyObject *t = fv ? PyTuple_New(2) : NULL;
        if (t == NULL) {
            Py_DECREF(k);
            Py_XDECREF(fv);
            return NULL;
        }
        PyTuple_SET_ITEM(t, 0, k);
        PyTuple_SET_ITEM(t, 1, fv);
        return t;
    }
    }
}

static PyObject *
dictiter_length_hint(DictIter *it, PyObject *unused)
{
    (void)unused;
    Py_ssize_t n = PyDict_GET_SIZE(it->dict);
    /* pos counts slots, not items: an estimate is all __length_hint__ promises. */
    return PyLong_FromSsize_t(it->pos < n ? n - it->pos : 0);
}

static PyMethodDef dictiter_methods[] = {
    {"__length_hint__", (PyCFunction)dictiter_length_hint, METH_NOARGS, PyDoc_STR("__length_hint__($self, /)\n--\n\nEstimate of the items left.")},
    {NULL, NULL, 0, NULL},
};

PyTypeObject theus_DictIter_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.FrozenDictIterator",
    .tp_basicsize = sizeof(DictIter),
    .tp_dealloc = (destructor)dictiter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .tp_doc = PyDoc_STR("Iterator over a FrozenDict: keys as they are, values frozen."),
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)dictiter_next,
    .tp_methods = dictiter_methods,
};

/* ---- FrozenDict ---- */

static Py_ssize_t
frozendict_length(PyObject *self)
{
    return PyDict_GET_SIZE(FD_DATA(self));
}

static PyObject *
frozendict_subscript(PyObject *self, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(FD_DATA(self), key);
    if (v != NULL) {
        return theus_freeze_item(v);
    }
    if (!PyErr_Occurred()) {
        theus_set_key_error(key);
    }
    return NULL;
}

static int
frozendict_ass_subscript(PyObject *self, PyObject *key, PyObject *value)
{
    (void)self;
    theus_raise_readonly_obj("FrozenDict", value == NULL ? "delete item" : "set item", key);
    return -1;
}

static int
frozendict_contains(PyObject *self, PyObject *key)
{
    return PyDict_Contains(FD_DATA(self), key);
}

static PyObject *
frozendict_iter(PyObject *self)
{
    return dictiter_new(FD_DATA(self), ITER_KEYS);
}

/* attr_filter[c] has bit min(len, 31) set when an attribute of the FrozenDict type (or of
 * object) starts with ASCII character c and has that length. The type is immutable, so a
 * name outside the filter cannot be a type attribute and skips the type lookup: fd.key costs
 * one dict lookup. Names that pass the filter take the exact path through the type. */
static uint32_t attr_filter[128];

int
theus_frozendict_init(void)
{
    PyObject *mro = theus_FrozenDict_Type.tp_mro;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *dict = theus_type_dict((PyTypeObject *)PyTuple_GET_ITEM(mro, i));
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (dict != NULL && PyDict_Next(dict, &pos, &k, &v)) {
            if (!PyUnicode_Check(k) || PyUnicode_GET_LENGTH(k) == 0) {
                continue;
            }
            Py_UCS4 c = PyUnicode_READ_CHAR(k, 0);
            Py_ssize_t n = PyUnicode_GET_LENGTH(k);
            if (c < 128) {
                attr_filter[c] |= (uint32_t)1 << (n < 31 ? n : 31);
            }
        }
        Py_XDECREF(dict);
    }
    return 0;
}

static inline int
may_be_type_attr(PyObject *name)
{
    if (!PyUnicode_IS_COMPACT_ASCII(name)) {
        return 1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    if (n == 0) {
        return 1;
    }
    unsigned char c = ((const unsigned char *)PyUnicode_DATA(name))[0];
    return (attr_filter[c] >> (n < 31 ? n : 31)) & 1;
}

static PyObject *
frozendict_getattro(PyObject *self, PyObject *name)
{
    PyObject *descr = NULL;
    if (PyUnicode_CheckExact(name) &&
        (!may_be_type_attr(name) || (descr = theus_lookup_type(Py_TYPE(self), name)) == NULL)) {
        PyObject *v = PyDict_GetItemWithError(FD_DATA(self), name);
        if (v != NULL) {
            return theus_freeze_item(v);
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
        if (theus_is_dict_name(name)) {
            return theus_raise_readonly("FrozenDict", "expose __dict__ (a view has none)");
        }
        PyObject *alt = theus_keyword_fallback(name);
        if (alt != NULL) {
            v = PyDict_GetItemWithError(FD_DATA(self), alt);
            Py_DECREF(alt);
            if (v != NULL) {
                return theus_freeze_item(v);
            }
            if (PyErr_Occurred()) {
                return NULL;
            }
        }
        else if (PyErr_Occurred()) {
            return NULL;
        }
        PyErr_Format(PyExc_AttributeError, "'FrozenDict' object has no attribute or key %R", name);
        return NULL;
    }
    if (descr != NULL && Py_IS_TYPE(descr, &PyMethodDescr_Type)) {
        /* A method of the type (fd.get, fd.items, ...): bind it at once (method.c). A view
           has no instance dict, so this is what the generic lookup would find, minus a second
           lookup on the type and the GC-tracked bound method. */
        return theus_bind_method(descr, self);
    }
    return PyObject_GenericGetAttr(self, name);
}

static int
frozendict_setattro(PyObject *self, PyObject *name, PyObject *value)
{
    (void)self;
    theus_raise_readonly_obj("FrozenDict", value == NULL ? "delete attribute" : "set attribute", name);
    return -1;
}

static PyObject *
frozendict_richcompare(PyObject *self, PyObject *other, int op)
{
    if (op != Py_EQ && op != Py_NE) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *a = FD_DATA(self), *b;
    int other_is_view = Py_IS_TYPE(other, &theus_FrozenDict_Type);
    if (other_is_view) {
        b = FD_DATA(other);
    }
    else if (PyDict_Check(other)) {
        b = other;
    }
    else {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int equal = 1;
    if (a != b) {
        if (PyDict_GET_SIZE(a) != PyDict_GET_SIZE(b)) {
            equal = 0;
        }
        else {
            if (Py_EnterRecursiveCall(" in FrozenDict comparison")) {
                return NULL;
            }
            Py_ssize_t pos = 0;
            PyObject *k, *v;
            while (equal == 1 && PyDict_Next(a, &pos, &k, &v)) {
                Py_INCREF(k);
                Py_INCREF(v);
                PyObject *bv = PyDict_GetItemWithError(b, k);
                if (bv == NULL) {
                    equal = PyErr_Occurred() ? -1 : 0;
                }
                else if (other_is_view) {
                    PyObject *fb = theus_freeze_item(bv);
                    equal = fb ? theus_values_equal(v, fb) : -1;
                    Py_XDECREF(fb);
                }
                else {
                    Py_INCREF(bv);
                    equal = theus_values_equal(v, bv);
                    Py_DECREF(bv);
                }
                Py_DECREF(k);
                Py_DECREF(v);
            }
            Py_LeaveRecursiveCall();
            if (equal < 0) {
                return NULL;
            }
        }
    }
    return PyBool_FromLong(op == Py_EQ ? equal : !equal);
}

static Py_hash_t
frozendict_hash(PyObject *self)
{
    PyObject *items = PyList_New(0);
    if (items == NULL) {
        return -1;
    }
    if (Py_EnterRecursiveCall(" while hashing a FrozenDict")) {
        Py_DECREF(items);
        return -1;
    }
    Py_hash_t h = -1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(FD_DATA(self), &pos, &k, &v)) {
        Py_INCREF(k); /* freezing v may run code that drops the dict's reference to k */
        PyObject *fv = theus_freeze_item(v);
        if (fv == NULL) {
            Py_DECREF(k);
            goto done;
        }
        PyObject *pair = PyTuple_Pack(2, k, fv);
        Py_DECREF(k);
        Py_DECREF(fv);
        if (pair == NULL || PyList_Append(items, pair) < 0) {
            Py_XDECREF(pair);
            goto done;
        }
        Py_DECREF(pair);
    }
    PyObject *fs = PyFrozenSet_New(items);
    if (fs != NULL) {
        h = PyObject_Hash(fs);
        Py_DECREF(fs);
    }
done:
    Py_LeaveRecursiveCall();
    Py_DECREF(items);
    return h;
}

static PyObject *
frozendict_repr(PyObject *self)
{
    PyObject *body = theus_repr_plain(FD_DATA(self));
    if (body == NULL) {
        return NULL;
    }
    PyObject *out = PyUnicode_FromFormat("FrozenDict(%U)", body);
    Py_DECREF(body);
    return out;
}

/* frozendict_or: `fd | other` and `other | fd` give a new plain dict; the view's side is a
 * deep copy (a shallow one would hand out committed mutable values). */
static PyObject *
frozendict_or(PyObject *a, PyObject *b)
{
    PyObject *out, *rhs;
    if (Py_IS_TYPE(a, &theus_FrozenDict_Type)) {
        if (!PyDict_Check(b) && !Py_IS_TYPE(b, &theus_FrozenDict_Type)) {
            Py_RETURN_NOTIMPLEMENTED;
        }
        out = theus_thaw_root(FD_DATA(a));
        rhs = Py_IS_TYPE(b, &theus_FrozenDict_Type) ? theus_thaw_root(FD_DATA(b)) : (Py_INCREF(b), b);
    }
    else if (PyDict_Check(a)) {
        out = PyDict_Copy(a);
        rhs = theus_thaw_root(FD_DATA(b));
    }
    else {
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (out == NULL || rhs == NULL || PyDict_Update(out, rhs) < 0) {
        Py_XDECREF(out);
        Py_XDECREF(rhs);
        return NULL;
    }
    Py_DECREF(rhs);
    return out;
}

static PyObject *
frozendict_inplace_or(PyObject *self, PyObject *other)
{
    (void)self;
    (void)other;
    return theus_raise_readonly("FrozenDict", "apply |=");
}

static PyObject *
frozendict_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "get expected 1 or 2 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *v = PyDict_GetItemWithError(FD_DATA(self), args[0]);
    if (v != NULL) {
        return theus_freeze_item(v);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *dflt = nargs == 2 ? args[1] : Py_None;
    Py_INCREF(dflt);
    return dflt;
}

static PyObject *
frozendict_keys(PyObject *self, PyObject *unused)
{
    (void)unused;
    return theus_wrap(&theus_DictKeys_Type, FD_DATA(self));
}

static PyObject *
frozendict_values(PyObject *self, PyObject *unused)
{
    (void)unused;
    return theus_wrap(&theus_DictValues_Type, FD_DATA(self));
}

static PyObject *
frozendict_items(PyObject *self, PyObject *unused)
{
    (void)unused;
    return theus_wrap(&theus_DictItems_Type, FD_DATA(self));
}

static PyObject *
frozendict_to_dict(PyObject *self, PyObject *unused)
{
    (void)unused;
    return theus_thaw_root(FD_DATA(self));
}

static PyObject *
frozendict_deepcopy(PyObject *self, PyObject *memo)
{
    if (!PyDict_Check(memo)) {
        return theus_thaw_root(FD_DATA(self));
    }
    PyObject *m = memo;
    return theus_thaw(FD_DATA(self), &m);
}

static PyObject *
frozendict_reduce(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *copy = theus_thaw_root(FD_DATA(self));
    if (copy == NULL) {
        return NULL;
    }
    return Py_BuildValue("(O(N))", (PyObject *)&PyDict_Type, copy);
}

static PyObject *
frozendict_reduce_ex(PyObject *self, PyObject *protocol)
{
    (void)protocol;
    return frozendict_reduce(self, NULL);
}

static PyObject *
reversed_of(PyObject *iterable)
{
    PyObject *list = PySequence_List(iterable);
    if (list == NULL) {
        return NULL;
    }
    if (PyList_Reverse(list) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    PyObject *it = PyObject_GetIter(list);
    Py_DECREF(list);
    return it;
}

static PyObject *
frozendict_reversed(PyObject *self, PyObject *unused)
{
    (void)unused;
    return reversed_of(self);
}

THEUS_TRAP(frozendict, "FrozenDict", update)
THEUS_TRAP(frozendict, "FrozenDict", setdefault)
THEUS_TRAP(frozendict, "FrozenDict", pop)
THEUS_TRAP(frozendict, "FrozenDict", popitem)
THEUS_TRAP(frozendict, "FrozenDict", clear)

static PyMethodDef frozendict_methods[] = {
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     PyDoc_STR("__class_getitem__($type, item, /)\n--\n\nType[args] for annotations, as for dict and list.")},
    {"get", (PyCFunction)(void (*)(void))frozendict_get, METH_FASTCALL,
     PyDoc_STR("get($self, key, default=None, /)\n--\n\nThe frozen value for key, or default.")},
    {"keys", frozendict_keys, METH_NOARGS, PyDoc_STR("keys($self, /)\n--\n\nA read-only set-like view of the keys.")},
    {"values", frozendict_values, METH_NOARGS, PyDoc_STR("values($self, /)\n--\n\nA view of the frozen values.")},
    {"items", frozendict_items, METH_NOARGS, PyDoc_STR("items($self, /)\n--\n\nA set-like view of (key, frozen value) pairs.")},
    {"to_dict", frozendict_to_dict, METH_NOARGS,
     PyDoc_STR("to_dict($self, /)\n--\n\nA deep, independent, mutable copy as plain dicts, lists, tuples and sets.")},
    {"copy", frozendict_to_dict, METH_NOARGS,
     PyDoc_STR("copy($self, /)\n--\n\nThe same as to_dict(): a deep mutable copy (a shallow one would share\n"
               "committed mutable values).")},
    {"__copy__", frozendict_to_dict, METH_NOARGS, PyDoc_STR("__copy__($self, /)\n--\n\ncopy.copy(view) -> to_dict().")},
    {"__deepcopy__", frozendict_deepcopy, METH_O, PyDoc_STR("__deepcopy__($self, memo, /)\n--\n\ncopy.deepcopy(view) -> to_dict().")},
    {"__reduce__", frozendict_reduce, METH_NOARGS, PyDoc_STR("__reduce__($self, /)\n--\n\nPickles as a plain dict (a deep copy).")},
    {"__reduce_ex__", frozendict_reduce_ex, METH_O, PyDoc_STR("__reduce_ex__($self, protocol, /)\n--\n\nPickles as a plain dict (a deep copy).")},
    {"_repr_pretty_", (PyCFunction)(void (*)(void))theus_repr_pretty, METH_FASTCALL,
     PyDoc_STR("_repr_pretty_($self, printer, cycle, /)\n--\n\nA size-limited text form for IPython (repr() is the full form).")},
    {"_repr_html_", theus_repr_html, METH_NOARGS,
     PyDoc_STR("_repr_html_($self, /)\n--\n\nA collapsible, size-limited HTML tree (Jupyter shows it).")},
    {"__reversed__", frozendict_reversed, METH_NOARGS, PyDoc_STR("__reversed__($self, /)\n--\n\nKeys in reverse insertion order.")},
    THEUS_TRAP_DEF(frozendict, update),
    THEUS_TRAP_DEF(frozendict, setdefault),
    THEUS_TRAP_DEF(frozendict, pop),
    THEUS_TRAP_DEF(frozendict, popitem),
    THEUS_TRAP_DEF(frozendict, clear),
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods frozendict_as_mapping = {
    .mp_length = frozendict_length,
    .mp_subscript = frozendict_subscript,
    .mp_ass_subscript = frozendict_ass_subscript,
};

static PySequenceMethods frozendict_as_sequence = {
    .sq_contains = frozendict_contains,
};

static PyNumberMethods frozendict_as_number = {
    .nb_or = frozendict_or,
    .nb_inplace_or = frozendict_inplace_or,
};

PyDoc_STRVAR(frozendict_doc,
"A read-only view of a committed dict (collections.abc.Mapping).\n\n"
"Reads: view[key], view.key for identifier keys (methods win over keys of the same name;\n"
"view.global_ reads 'global'), get, keys, values, items, in, len, iter, reversed, ==/!= with\n"
"dicts and FrozenDicts, hash (when every value is hashable), `|` (a new plain dict).\n"
"Values are frozen as they are read: dict -> FrozenDict, list/tuple -> FrozenList,\n"
"set -> frozenset, numpy array -> read-only array over the same memory, writable buffer ->\n"
"read-only memoryview, Python class instance -> FrozenObject; other objects as they are.\n"
"repr is FrozenDict({...}) showing the wrapped contents.\n\n"
"to_dict() (and copy(), copy.copy, copy.deepcopy, pickle) give a deep, independent, plain copy.\n"
"Every write raises ContextError: " THEUS_READONLY_FIX ".\n"
"FrozenDict cannot be instantiated or subclassed from Python.");

PyTypeObject theus_FrozenDict_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.FrozenDict",
    .tp_basicsize = sizeof(theus_View),
    .tp_dealloc = (destructor)theus_view_dealloc,
    .tp_repr = frozendict_repr,
    .tp_as_number = &frozendict_as_number,
    .tp_as_sequence = &frozendict_as_sequence,
    .tp_as_mapping = &frozendict_as_mapping,
    .tp_hash = frozendict_hash,
    .tp_getattro = frozendict_getattro,
    .tp_setattro = frozendict_setattro,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE |
                Py_TPFLAGS_MAPPING,
    .tp_doc = frozendict_doc,
    .tp_richcompare = frozendict_richcompare,
    .tp_weaklistoffset = offsetof(theus_View, weakrefs),
    .tp_iter = frozendict_iter,
    .tp_methods = frozendict_methods,
};

/* ---- keys / values / items views ---- */

static Py_ssize_t
dictview_len(PyObject *self)
{
    return PyDict_GET_SIZE(FD_DATA(self));
}

static PyObject *
dictkeys_iter(PyObject *self)
{
    return dictiter_new(FD_DATA(self), ITER_KEYS);
}

static PyObject *
dictvalues_iter(PyObject *self)
{
    return dictiter_new(FD_DATA(self), ITER_VALUES);
}

static PyObject *
dictitems_iter(PyObject *self)
{
    return dictiter_new(FD_DATA(self), ITER_ITEMS);
}

static int
dictkeys_contains(PyObject *self, PyObject *key)
{
    return PyDict_Contains(FD_DATA(self), key);
}

static int
dictvalues_contains(PyObject *self, PyObject *value)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(FD_DATA(self), &pos, &k, &v)) {
        Py_INCREF(v);
        int eq = theus_values_equal(v, value);
        Py_DECREF(v);
        if (eq != 0) {
            return eq;
        }
    }
    return 0;
}

static int
dictitems_contains(PyObject *self, PyObject *item)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        return 0;
    }
    PyObject *v = PyDict_GetItemWithError(FD_DATA(self), PyTuple_GET_ITEM(item, 0));
    if (v == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_INCREF(v);
    int eq = theus_values_equal(v, PyTuple_GET_ITEM(item, 1));
    Py_DECREF(v);
    return eq;
}

static int
is_setlike_view(PyObject *o)
{
    return Py_IS_TYPE(o, &theus_DictKeys_Type) || Py_IS_TYPE(o, &theus_DictItems_Type);
}

/* as_set: a new set of the view's members, or a new reference to o if it is not our view. */
static PyObject *
as_set(PyObject *o)
{
    if (is_setlike_view(o)) {
        return PySet_New(o);
    }
    Py_INCREF(o);
    return o;
}

static PyObject *
dictview_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyAnySet_Check(other) && !is_setlike_view(other) &&
        !PyObject_TypeCheck(other, &PyDictKeys_Type) && !PyObject_TypeCheck(other, &PyDictItems_Type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *a = as_set(self), *b = a ? as_set(other) : NULL;
    PyObject *r = b ? PyObject_RichCompare(a, b, op) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return r;
}

#define DICTVIEW_SETOP(name, func)                              \
    static PyObject *dictview_##name(PyObject *a, PyObject *b)  \
    {                                                           \
        PyObject *sa = PyAnySet_Check(a) || is_setlike_view(a) ? as_set(a) : PySet_New(a); \
        if (sa == NULL) {                                       \
            return NULL;                                        \
        }                                                       \
        PyObject *sb = as_set(b);                               \
        PyObject *r = func(sa, sb);                             \
        Py_DECREF(sa);                                          \
        Py_DECREF(sb);                                          \
        return r;                                               \
    }
DICTVIEW_SETOP(and, PyNumber_And)
DICTVIEW_SETOP(or, PyNumber_Or)
DICTVIEW_SETOP(sub, PyNumber_Subtract)
DICTVIEW_SETOP(xor, PyNumber_Xor)

static PyObject *
dictview_isdisjoint(PyObject *self, PyObject *other)
{
    PyObject *a = as_set(self);
    if (a == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_CallMethod(a, "isdisjoint", "O", other);
    Py_DECREF(a);
    return r;
}

static PyObject *
dictview_repr(PyObject *self)
{
    int r = Py_ReprEnter(self);
    if (r != 0) {
        return r > 0 ? PyUnicode_FromString("...") : NULL;
    }
    PyObject *list = PySequence_List(self);
    PyObject *out = NULL;
    if (list != NULL) {
        const char *name = strrchr(Py_TYPE(self)->tp_name, '.') + 1;
        out = PyUnicode_FromFormat("%s(%R)", name, list);
        Py_DECREF(list);
    }
    Py_ReprLeave(self);
    return out;
}

static PyObject *
dictview_reversed(PyObject *self, PyObject *unused)
{
    (void)unused;
    return reversed_of(self);
}

static PyObject *
dictview_reduce(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *list = PySequence_List(self);
    if (list == NULL) {
        return NULL;
    }
    PyObject *plain = theus_thaw_root(list);
    Py_DECREF(list);
    if (plain == NULL) {
        return NULL;
    }
    return Py_BuildValue("(O(N))", (PyObject *)&PyList_Type, plain);
}

static PyMethodDef dictview_setlike_methods[] = {
    {"isdisjoint", dictview_isdisjoint, METH_O, PyDoc_STR("isdisjoint($self, other, /)\n--\n\nTrue if no member is shared.")},
    {"__reversed__", dictview_reversed, METH_NOARGS, PyDoc_STR("__reversed__($self, /)\n--\n\nMembers in reverse insertion order.")},
    {"__reduce__", dictview_reduce, METH_NOARGS, PyDoc_STR("__reduce__($self, /)\n--\n\nPickles as a plain list (a deep copy).")},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef dictview_values_methods[] = {
    {"__reversed__", dictview_reversed, METH_NOARGS, PyDoc_STR("__reversed__($self, /)\n--\n\nValues in reverse insertion order.")},
    {"__reduce__", dictview_reduce, METH_NOARGS, PyDoc_STR("__reduce__($self, /)\n--\n\nPickles as a plain list (a deep copy).")},
    {NULL, NULL, 0, NULL},
};

static PyNumberMethods dictview_as_number = {
    .nb_subtract = dictview_sub,
    .nb_and = dictview_and,
    .nb_xor = dictview_xor,
    .nb_or = dictview_or,
};

static PySequenceMethods dictkeys_as_sequence = {.sq_length = dictview_len, .sq_contains = dictkeys_contains};
static PySequenceMethods dictvalues_as_sequence = {.sq_length = dictview_len, .sq_contains = dictvalues_contains};
static PySequenceMethods dictitems_as_sequence = {.sq_length = dictview_len, .sq_contains = dictitems_contains};

#define VIEW_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE)

PyTypeObject theus_DictKeys_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.FrozenDictKeys",
    .tp_basicsize = sizeof(theus_View),
    .tp_dealloc = (destructor)theus_view_dealloc,
    .tp_repr = dictview_repr,
    .tp_as_number = &dictview_as_number,
    .tp_as_sequence = &dictkeys_as_sequence,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_flags = VIEW_FLAGS,
    .tp_doc = PyDoc_STR("A read-only, set-like view of a FrozenDict's keys (collections.abc.KeysView)."),
    .tp_richcompare = dictview_richcompare,
    .tp_weaklistoffset = offsetof(theus_View, weakrefs),
    .tp_iter = dictkeys_iter,
    .tp_methods = dictview_setlike_methods,
};

PyTypeObject theus_DictValues_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.FrozenDictValues",
    .tp_basicsize = sizeof(theus_View),
    .tp_dealloc = (destructor)theus_view_dealloc,
    .tp_repr = dictview_repr,
    .tp_as_sequence = &dictvalues_as_sequence,
    .tp_flags = VIEW_FLAGS,
    .tp_doc = PyDoc_STR("A read-only view of a FrozenDict's values, each frozen (collections.abc.ValuesView)."),
    .tp_weaklistoffset = offsetof(theus_View, weakrefs),
    .tp_iter = dictvalues_iter,
    .tp_methods = dictview_values_methods,
};

PyTypeObject theus_DictItems_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.FrozenDictItems",
    .tp_basicsize = sizeof(theus_View),
    .tp_dealloc = (destructor)theus_view_dealloc,
    .tp_repr = dictview_repr,
    .tp_as_number = &dictview_as_number,
    .tp_as_sequence = &dictitems_as_sequence,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_flags = VIEW_FLAGS,
    .tp_doc = PyDoc_STR("A read-only, set-like view of a FrozenDict's (key, frozen value) pairs\n"
                        "(collections.abc.ItemsView)."),
    .tp_richcompare = dictview_richcompare,
    .tp_weaklistoffset = offsetof(theus_View, weakrefs),
    .tp_iter = dictitems_iter,
    .tp_methods = dictview_setlike_methods,
};
