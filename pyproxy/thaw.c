/* thaw.c: deep, independent, mutable copies of committed values as plain data (to_dict,
 * to_list, copy, deepcopy, pickle), a switch on the classifier.
 *
 * No user code ever receives a committed object here:
 *   - containers are rebuilt item by item; a namedtuple is rebuilt with tuple.__new__;
 *   - numpy arrays are copied from their read-only view, so a subclass's hooks see read-only
 *     memory only;
 *   - an instance of a Python class is copied attribute by attribute into a new instance
 *     (type.__new__ with no arguments, __init__ not called, as copy does), value objects such
 *     as frozen dataclasses included (enum members are shared); a class that defines
 *     __deepcopy__ gets it called with the read-only view as self, and whatever it returns that
 *     is still a theus view is thawed in turn; pydantic.BaseModel's own __deepcopy__ (which
 *     builds type(self)) is skipped for the attribute copy, which does what it does.
 */
#include "internal.h"

#include <structmember.h>

/* How deep a copy may nest (per thread: a copy may run user code that lets another thread in). */
#define THAW_MAX_DEPTH 10000
static _Thread_local int thaw_depth = 0;

static PyObject *str_deepcopy = NULL;
static PyObject *str_args = NULL;
static PyObject *str_to_dict = NULL;
static PyObject *str_copy = NULL;
static PyObject *object_deepcopy = NULL; /* object has none: NULL; kept for the comparison */

static int
memo_get(PyObject **memo, PyObject *obj, PyObject **found)
{
    *found = NULL;
    if (*memo == NULL) {
        *memo = PyDict_New();
        return *memo == NULL ? -1 : 0;
    }
    PyObject *key = PyLong_FromVoidPtr(obj);
    if (key == NULL) {
        return -1;
    }
    PyObject *v = PyDict_GetItemWithError(*memo, key);
    Py_DECREF(key);
    if (v == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_INCREF(v);
    *found = v;
    return 0;
}

static int
memo_put(PyObject *memo, PyObject *obj, PyObject *copy)
{
    PyObject *key = PyLong_FromVoidPtr(obj);
    if (key == NULL) {
        return -1;
    }
    int r = PyDict_SetItem(memo, key, copy);
    Py_DECREF(key);
    return r;
}

/* memoized: records copy as obj's copy and returns it (NULL stays NULL). */
static PyObject *
memoized(PyObject *memo, PyObject *obj, PyObject *copy)
{
    if (copy != NULL && memo_put(memo, obj, copy) < 0) {
        Py_CLEAR(copy);
    }
    return copy;
}

/* plain_scalar: the exact immutable scalars theus_thaw hands back as they are. */
static inline int
plain_scalar(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    return tp == &PyUnicode_Type || tp == &PyLong_Type || tp == &PyFloat_Type ||
           tp == &PyBool_Type || o == Py_None;
}

/* Committed dicts never change, and the same branch dict is carried across commits and read
 * through many views, so the scan of thaw_dict_cloned is remembered: a small direct-mapped
 * table of dicts found to hold plain scalars only (keys and values), each with its
 * ma_version_tag. CPython gives every new dict and every change of a dict a new, globally
 * increasing tag, so (address, tag) names one unchanged dict even when the address is reused
 * by a later dict; such a dict is copied with PyDict_Copy at once. */
#define SCALAR_MEMO 64
static struct {
    PyObject *dict; /* not owned: compared, never dereferenced */
    uint64_t tag;
} scalar_memo[SCALAR_MEMO];

static inline size_t
scalar_slot(PyObject *obj)
{
    return ((uintptr_t)obj >> 4) % SCALAR_MEMO;
}

/* thaw_dict_cloned: the copy of a dict whose keys are all plain scalars, made by cloning it
 * (PyDict_Copy copies a compact dict's table in one pass, as dict(d) does) and then replacing,
 * in place, every value that is not a plain scalar by its thaw: a replaced key keeps its
 * place, so the order is the original's. NULL with no exception set when a key is not a plain
 * scalar (the caller copies item by item then). */
static PyObject *
thaw_dict_cloned(PyObject *obj, PyObject **memo)
{
    Py_ssize_t pos = 0, containers = 0;
    PyObject *k, *v;
    size_t slot = scalar_slot(obj);
    _Py_COMP_DIAG_PUSH
    _Py_COMP_DIAG_IGNORE_DEPR_DECLS
    uint64_t tag = ((PyDictObject *)obj)->ma_version_tag;
    _Py_COMP_DIAG_POP
    int known = scalar_memo[slot].dict == obj && scalar_memo[slot].tag == tag;
    while (!known && PyDict_Next(obj, &pos, &k, &v)) { /* one pass: keys checked, values counted */
        if (!plain_scalar(k)) {
            return NULL;
        }
        containers += !plain_scalar(v);
    }
    if (!known && containers == 0) {
        scalar_memo[slot].dict = obj;
        scalar_memo[slot].tag = tag;
    }
    PyObject *out = PyDict_Copy(obj);
    if (out == NULL) {
        return NULL;
    }
    if (memo_put(*memo, obj, out) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    /* The clone shares obj's values: walk obj (committed, so it does not change while thaws
       run user code) and replace the clone's values that are not plain scalars. */
    pos = 0;
    while (containers > 0 && PyDict_Next(obj, &pos, &k, &v)) {
        if (plain_scalar(v)) {
            continue;
        }
        Py_INCREF(k);
        Py_INCREF(v);
        PyObject *c = theus_thaw(v, memo);
        int r = c ? PyDict_SetItem(out, k, c) : -1;
        Py_DECREF(k);
        Py_DECREF(v);
        Py_XDECREF(c);
        if (r < 0) {
            Py_DECREF(out);
            return NULL;
        }
        containers--;
    }
    return out;
}

static PyObject *
thaw_dict(PyObject *obj, PyObject **memo)
{
    if (PyDict_CheckExact(obj)) {
        PyObject *out = thaw_dict_cloned(obj, memo);
        if (out != NULL || PyErr_Occurred()) {
            return out;
        }
    }
    PyObject *out = PyDict_New();
    if (out == NULL || memo_put(*memo, obj, out) < 0) {
        Py_XDECREF(out);
        return NULL;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(obj, &pos, &k, &v)) {
        Py_INCREF(k);
        Py_INCREF(v);
        PyObject *ck = theus_thaw(k, memo);
        PyObject *c = ck ? theus_thaw(v, memo) : NULL;
        int r = c ? PyDict_SetItem(out, ck, c) : -1;
        Py_DECREF(k);
        Py_DECREF(v);
        Py_XDECREF(ck);
        Py_XDECREF(c);
        if (r < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static PyObject *
thaw_list(PyObject *obj, PyObject **memo)
{
    PyObject *out = PyList_New(0);
    if (out == NULL || memo_put(*memo, obj, out) < 0) {
        Py_XDECREF(out);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(obj); i++) {
        PyObject *item = PyList_GET_ITEM(obj, i);
        Py_INCREF(item);
        PyObject *c = theus_thaw(item, memo);
        Py_DECREF(item);
        if (c == NULL || PyList_Append(out, c) < 0) {
            Py_XDECREF(c);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(c);
    }
    return out;
}

/* thaw_tuple copies a tuple; a tuple subclass (namedtuple) keeps its type. */
static PyObject *
thaw_tuple(PyObject *obj, PyObject **memo)
{
    Py_ssize_t n = PyTuple_GET_SIZE(obj);
    PyObject *out = PyTuple_New(n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *c = theus_thaw(PyTuple_GET_ITEM(obj, i), memo);
        if (c == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, c);
    }
    if (!PyTuple_CheckExact(obj)) {
        Py_SETREF(out, theus_tuple_of_type(Py_TYPE(obj), out));
        if (out == NULL) {
            return NULL;
        }
    }
    /* A cycle through a list may already have copied this tuple: keep one copy. */
    PyObject *again;
    if (memo_get(memo, obj, &again) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    if (again != NULL) {
        Py_DECREF(out);
        return again;
    }
    return memoized(*memo, obj, out);
}

static PyObject *
thaw_set(PyObject *obj, PyObject **memo)
{
    PyObject *items = theus_set_items(obj);
    if (items == NULL) {
        return NULL;
    }
    PyObject *copies = PyList_New(0);
    for (Py_ssize_t i = 0; copies != NULL && i < PyList_GET_SIZE(items); i++) {
        PyObject *c = theus_thaw(PyList_GET_ITEM(items, i), memo);
        if (c == NULL || PyList_Append(copies, c) < 0) {
            Py_CLEAR(copies);
        }
        Py_XDECREF(c);
    }
    Py_DECREF(items);
    if (copies == NULL) {
        return NULL;
    }
    PyObject *out = PyFrozenSet_Check(obj) ? PyFrozenSet_New(copies) : PySet_New(copies);
    Py_DECREF(copies);
    return memoized(*memo, obj, out);
}

static PyObject *
thaw_buffer(PyObject *obj, PyObject **memo)
{
    PyObject *out;
    if (Py_IS_TYPE(obj, &theus_HeavyValue_Type)) {
        PyObject *inner = theus_heavy_inner(obj);
        if (PyBytes_CheckExact(inner)) { /* immutable: the thaw is the bytes themselves */
            Py_INCREF(inner);
            return memoized(*memo, obj, inner);
        }
        out = theus_heavy_is_array(obj) ? thaw_buffer(inner, memo) : PyByteArray_FromObject(obj);
        return out == NULL ? NULL : memoized(*memo, obj, out);
    }
    if (theus_is_ndarray(Py_TYPE(obj))) {
        PyObject *frozen = theus_freeze_buffer(obj);
        out = frozen ? PyObject_CallMethodNoArgs(frozen, str_copy) : NULL;
        Py_XDECREF(frozen);
    }
    else if (PyByteArray_Check(obj) || PyMemoryView_Check(obj)) {
        out = PyByteArray_FromObject(obj);
    }
    else if (PySequence_Check(obj)) {
        out = PySequence_GetSlice(obj, 0, PY_SSIZE_T_MAX); /* array.array: a copy of the same type */
    }
    else {
        out = PyByteArray_FromObject(obj);
    }
    return memoized(*memo, obj, out);
}

/* copy_members copies the __slots__ members defined on tp's MRO from src to dst. */
static int
copy_members(PyObject *src, PyObject *dst, PyObject **memo)
{
    PyObject *mro = Py_TYPE(src)->tp_mro;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *d = theus_type_dict((PyTypeObject *)PyTuple_GET_ITEM(mro, i));
        Py_ssize_t pos = 0;
        PyObject *name, *descr;
        while (d != NULL && PyDict_Next(d, &pos, &name, &descr)) {
            if (!Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
                (((PyMemberDescrObject *)descr)->d_member->flags & READONLY)) {
                continue; /* not a __slots__ member (a C type's read-only field) */
            }
            Py_INCREF(descr); /* thawing runs user code, which may change the class */
            PyObject *v = Py_TYPE(descr)->tp_descr_get(descr, src, (PyObject *)Py_TYPE(src));
            if (v == NULL) {
                Py_DECREF(descr);
                if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                    Py_DECREF(d);
                    return -1;
                }
                PyErr_Clear(); /* an unset slot */
                continue;
            }
            PyObject *c = theus_thaw(v, memo);
            Py_DECREF(v);
            int r = c ? Py_TYPE(descr)->tp_descr_set(descr, dst, c) : -1;
            Py_XDECREF(c);
            Py_DECREF(descr);
            if (r < 0) {
                Py_DECREF(d);
                return -1;
            }
        }
        Py_XDECREF(d);
    }
    return 0;
}

/* copy_object: a new instance of obj's class with copies of its attributes. */
static PyObject *
copy_object(PyObject *obj, PyObject **memo)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *empty = PyTuple_New(0);
    if (empty == NULL) {
        return NULL;
    }
    PyObject *out = tp->tp_new ? tp->tp_new(tp, empty, NULL) : NULL;
    Py_DECREF(empty);
    if (out == NULL) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "cannot copy a %.100s out of theus state: its class cannot be created "
                         "without arguments; define __deepcopy__ (it runs with a read-only view as self)",
                         tp->tp_name);
        }
        return NULL;
    }
    if (!Py_IS_TYPE(out, tp) || memo_put(*memo, obj, out) < 0) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "cannot copy a %.100s out of theus state: __new__ "
                         "returned another type", tp->tp_name);
        }
        Py_DECREF(out);
        return NULL;
    }
    if (PyExceptionInstance_Check(obj)) {
        PyObject *args = PyObject_GetAttr(obj, str_args);
        PyObject *c = args ? theus_thaw(args, memo) : NULL;
        int r = c ? PyObject_GenericSetAttr(out, str_args, c) : -1;
        Py_XDECREF(args);
        Py_XDECREF(c);
        if (r < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    if (tp->tp_dictoffset != 0) {
        PyObject *src = PyObject_GenericGetDict(obj, NULL);
        PyObject *dst = src ? PyObject_GenericGetDict(out, NULL) : NULL;
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        int r = dst ? 0 : -1;
        while (r == 0 && PyDict_Next(src, &pos, &k, &v)) {
            Py_INCREF(v);
            PyObject *c = theus_thaw(v, memo);
            Py_DECREF(v);
            r = c ? PyDict_SetItem(dst, k, c) : -1;
            Py_XDECREF(c);
        }
        Py_XDECREF(src);
        Py_XDECREF(dst);
        if (r < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    if (copy_members(obj, out, memo) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

/* thaw_object: the class's own __deepcopy__ on the read-only view, else an attribute copy. */
static PyObject *
thaw_object(PyObject *obj, PyObject **memo)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *hook = theus_lookup_type(tp, str_deepcopy);
    if (hook == NULL || hook == object_deepcopy || Py_TYPE(hook)->tp_descr_get == NULL) {
        return copy_object(obj, memo);
    }
    PyTypeObject *model = theus_model_base(tp);
    if (model != NULL) { /* pydantic's own __deepcopy__ is the attribute copy (type(self) would be the view) */
        PyObject *d = theus_type_dict(model);
        PyObject *own = d ? PyDict_GetItemWithError(d, str_deepcopy) : NULL;
        Py_XDECREF(d);
        if (own == NULL && PyErr_Occurred()) {
            return NULL;
        }
        if (own == hook) {
            return copy_object(obj, memo);
        }
    }
    PyObject *view = theus_wrap(&theus_FrozenObject_Type, obj);
    if (view == NULL) {
        return NULL;
    }
    Py_INCREF(hook);
    PyObject *bound = Py_TYPE(hook)->tp_descr_get(hook, view, (PyObject *)tp);
    Py_DECREF(hook);
    PyObject *r = bound ? PyObject_CallOneArg(bound, *memo) : NULL;
    Py_XDECREF(bound);
    Py_DECREF(view);
    if (r == NULL) {
        return NULL;
    }
    PyTypeObject *rt = Py_TYPE(r);
    if (rt == &theus_FrozenObject_Type && ((theus_View *)r)->data == obj) {
        Py_DECREF(r); /* __deepcopy__ returned self */
        return copy_object(obj, memo);
    }
    if (rt == &theus_FrozenDict_Type || rt == &theus_FrozenList_Type ||
        rt == &theus_FrozenObject_Type || rt == &theus_FrozenBuffer_Type ||
        rt == &theus_ScopedView_Type) {
        Py_SETREF(r, theus_thaw(r, memo));
    }
    return r == NULL ? NULL : memoized(*memo, obj, r);
}

static PyObject *
thaw_inner(PyObject *obj, PyObject **memo)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == &theus_FrozenDict_Type || tp == &theus_FrozenList_Type ||
        tp == &theus_FrozenObject_Type || tp == &theus_FrozenBuffer_Type) {
        return theus_thaw(((theus_View *)obj)->data, memo);
    }
    theus_kind_t kind = theus_kind_classify(obj, 0);
    if (kind == THEUS_KIND_ERROR) {
        return NULL;
    }
    int value_object = kind == THEUS_KIND_SCALAR && theus_is_value_object(obj);
    if ((kind == THEUS_KIND_SCALAR && !value_object) || kind == THEUS_KIND_OPAQUE) {
        Py_INCREF(obj);
        return obj;
    }
    PyObject *found;
    if (memo_get(memo, obj, &found) < 0) {
        return NULL;
    }
    if (found != NULL) {
        return found;
    }
    if (value_object) { /* a frozen dataclass: a copy, so the result is not the committed one */
        PyObject *c = copy_object(obj, memo);
        if (c == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear(); /* cannot be created without arguments: immutable, shared */
            Py_INCREF(obj);
            return obj;
        }
        return c;
    }
    switch (kind) {
    case THEUS_KIND_DICT:
        return thaw_dict(obj, memo);
    case THEUS_KIND_LIST:
        return thaw_list(obj, memo);
    case THEUS_KIND_TUPLE:
    case THEUS_KIND_NAMEDTUPLE:
        return thaw_tuple(obj, memo);
    case THEUS_KIND_SET:
        return thaw_set(obj, memo);
    case THEUS_KIND_BUFFER:
        return thaw_buffer(obj, memo);
    case THEUS_KIND_OBJECT:
        return thaw_object(obj, memo);
    case THEUS_KIND_VIEW:
        if (theus_lookup_type(tp, str_to_dict) != NULL) { /* a zone view of the context */
            return PyObject_CallMethodNoArgs(obj, str_to_dict);
        }
        Py_INCREF(obj);
        return obj;
    case THEUS_KIND_REFUSED: {
        PyObject *why = theus_refusal_text(obj);
        if (why != NULL) {
            PyErr_Format(PyExc_TypeError, "cannot copy out of theus state: %U", why);
            Py_DECREF(why);
        }
        return NULL;
    }
    default:
        Py_INCREF(obj);
        return obj;
    }
}

PyObject *
theus_thaw(PyObject *obj, PyObject **memo)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == &PyUnicode_Type || tp == &PyLong_Type || tp == &PyFloat_Type ||
        tp == &PyBool_Type || obj == Py_None) {
        Py_INCREF(obj);
        return obj;
    }
    if (*memo == NULL && (*memo = PyDict_New()) == NULL) {
        return NULL;
    }
    /* the copy runs on the C stack: bounded whatever sys.setrecursionlimit says */
    if (thaw_depth >= THAW_MAX_DEPTH) {
        PyErr_Format(PyExc_RecursionError, "a value nested deeper than %d levels cannot be copied "
                     "out of theus state", THAW_MAX_DEPTH);
        return NULL;
    }
    if (Py_EnterRecursiveCall(" while copying a theus view")) {
        return NULL;
    }
    thaw_depth++;
    PyObject *out = thaw_inner(obj, memo);
    thaw_depth--;
    Py_LeaveRecursiveCall();
    return out;
}

PyObject *
theus_thaw_root(PyObject *obj)
{
    PyObject *memo = NULL;
    PyObject *out = theus_thaw(obj, &memo);
    Py_XDECREF(memo);
    return out;
}

int
theus_thaw_init(void)
{
#define INTERN(var, text) if (var == NULL && (var = PyUnicode_InternFromString(text)) == NULL) return -1;
    INTERN(str_deepcopy, "__deepcopy__");
    INTERN(str_args, "args");
    INTERN(str_to_dict, "to_dict");
    INTERN(str_copy, "copy");
#undef INTERN
    object_deepcopy = theus_lookup_type(&PyBaseObject_Type, str_deepcopy);
    return 0;
}
