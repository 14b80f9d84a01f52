/* frozenlist.c: FrozenList, a read-only view of a list or tuple (collections.abc.Sequence),
 * and its iterator.
 *
 * Items are frozen as they are read. `+` and `*` give new plain lists whose items from the
 * view are deep copies (a shallow result would share committed mutable items); only a
 * FrozenList on the left of `+` is handled, so `plain_list += view` keeps extending the
 * plain list in place. Comparisons with lists, tuples and FrozenLists work item by item,
 * ordering like tuples do.
 */
#include "internal.h"

#define FL_DATA(self) (((theus_View *)(self))->data)
#define FL_SIZE(seq) Py_SIZE(seq)
#define FL_ITEM(seq, i) (PySequence_Fast_ITEMS(seq)[i])

static int
is_plain_sequence(PyObject *o)
{
    return PyList_Check(o) || PyTuple_Check(o);
}

/* ---- iterator ---- */

typedef struct {
    PyObject_HEAD
    PyObject *seq;
    Py_ssize_t index;
    Py_ssize_t step;
} ListIter;

static PyObject *
listiter_new(PyObject *seq, int reverse)
{
    ListIter *it = PyObject_New(ListIter, &theus_ListIter_Type);
    if (it == NULL) {
        return NULL;
    }
    Py_INCREF(seq);
    it->seq = seq;
    it->index = reverse ? FL_SIZE(seq) - 1 : 0;
    it->step = reverse ? -1 : 1;
    return (PyObject *)it;
}

static void
listiter_dealloc(ListIter *it)
{
    Py_DECREF(it->seq);
    PyObject_Free(it);
}

static PyObject *
listiter_next(ListIter *it)
{
    Py_ssize_t i = it->index;
    if (i >= 0 && i < FL_SIZE(it->seq)) {
        it->index = i + it->step;
        return theus_freeze_item(FL_ITEM(it->seq, i));
    }
    it->index = -1;
    return NULL;
}

static PyObject *
listiter_length_hint(ListIter *it, PyObject *unused)
{
    (void)unused;
    Py_ssize_t n = FL_SIZE(it->seq), i = it->index, left = 0;
    if (i >= 0 && i < n) {
        left = it->step > 0 ? n - i : i + 1;
    }
    return PyLong_FromSsize_t(left);
}

static PyMethodDef listiter_methods[] = {
    {"__length_hint__", (PyCFunction)listiter_length_hint, METH_NOARGS, PyDoc_STR("__length_hint__($self, /)\n--\n\nNumber of items left.")},
    {NULL, NULL, 0, NULL},
};

PyTypeObject theus_ListIter_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.FrozenListIterator",
    .tp_basicsize = sizeof(ListIter),
    .tp_dealloc = (destructor)listiter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .tp_doc = PyDoc_STR("Iterator over a FrozenList, yielding frozen items."),
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)listiter_next,
    .tp_methods = listiter_methods,
};

/* ---- FrozenList ---- */

static Py_ssize_t
frozenlist_length(PyObject *self)
{
    return FL_SIZE(FL_DATA(self));
}

static PyObject *
index_error(void)
{
    PyErr_SetString(PyExc_IndexError, "FrozenList index out of range");
    return NULL;
}

static PyObject *
frozenlist_item(PyObject *self, Py_ssize_t i)
{
    PyObject *seq = FL_DATA(self);
    if (i < 0 || i >= FL_SIZE(seq)) {
        return index_error();
    }
    return theus_freeze_item(FL_ITEM(seq, i));
}

static PyObject *
frozenlist_slice(PyObject *seq, PyObject *slice)
{
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(slice, &start, &stop, &step) < 0) { /* may run __index__ */
        return NULL;
    }
    Py_ssize_t size, n;
    PyObject *out;
    do { /* allocating may run a finalizer that changes the list: then start again */
        size = FL_SIZE(seq);
        Py_ssize_t a = start, b = stop;
        n = PySlice_AdjustIndices(size, &a, &b, step);
        out = PyList_New(n);
        if (out == NULL) {
            return NULL;
        }
        if (size == FL_SIZE(seq)) {
            for (Py_ssize_t k = 0, i = a; k < n; k++, i += step) {
                PyObject *item = FL_ITEM(seq, i);
                Py_INCREF(item);
                PyList_SET_ITEM(out, k, item);
            }
            break;
        }
        Py_DECREF(out);
    } while (1);
    /* The new list holds committed items: keep it out of gc.get_referrers' reach. */
    theus_untrack(out);
    PyObject *view = theus_wrap(&theus_FrozenList_Type, out);
    Py_DECREF(out);
    return view;
}

/* small_int_value reads an exact int, reading one-digit ints directly where the layout is
 * known (the common index case), PyLong_AsSsize_t otherwise. */
static inline Py_ssize_t
small_int_value(PyObject *key)
{
#if PY_VERSION_HEX < 0x030C0000
    Py_ssize_t size = Py_SIZE(key);
    if (size == 1) {
        return (Py_ssize_t)((PyLongObject *)key)->ob_digit[0];
    }
    if (size == 0) {
        return 0;
    }
    if (size == -1) {
        return -(Py_ssize_t)((PyLongObject *)key)->ob_digit[0];
    }
#elif PY_VERSION_HEX >= 0x030C0000
    if (PyUnstable_Long_IsCompact((PyLongObject *)key)) {
        return PyUnstable_Long_CompactValue((PyLongObject *)key);
    }
#endif
    return PyLong_AsSsize_t(key);
}

static PyObject *
frozenlist_subscript(PyObject *self, PyObject *key)
{
    PyObject *seq = FL_DATA(self);
    Py_ssize_t i;
    if (PyLong_CheckExact(key)) {
        i = small_int_value(key);
        Py_ssize_t n = Py_SIZE(seq);
        if ((size_t)i < (size_t)n) { /* the common case: 0 <= i < n */
            PyObject *item = PyList_CheckExact(seq) ? PyList_GET_ITEM(seq, i) : FL_ITEM(seq, i);
            return theus_freeze_item(item);
        }
        if (i == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return index_error();
        }
    }
    else if (PySlice_Check(key)) {
        return frozenlist_slice(seq, key);
    }
    else if (PyIndex_Check(key)) {
        i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    else {
        PyErr_Format(PyExc_TypeError, "FrozenList indices must be integers or slices, not %.200s",
                     Py_TYPE(key)->tp_name);
        return NULL;
    }
    Py_ssize_t n = FL_SIZE(seq);
    if (i < 0) {
        i += n;
    }
    if (i < 0 || i >= n) {
        return index_error();
    }
    return theus_freeze_item(FL_ITEM(seq, i));
}

static int
frozenlist_ass_subscript(PyObject *self, PyObject *key, PyObject *value)
{
    (void)self;
    theus_raise_readonly_obj("FrozenList", value == NULL ? "delete item" : "set item", key);
    return -1;
}

static int
frozenlist_ass_item(PyObject *self, Py_ssize_t i, PyObject *value)
{
    (void)self;
    (void)i;
    return theus_raise_readonly_int("FrozenList", value == NULL ? "delete an item" : "set an item");
}

/* find returns the first index in [start, stop) whose item equals value, -1 if none, -2 on
 * error. */
static Py_ssize_t
find(PyObject *seq, PyObject *value, Py_ssize_t start, Py_ssize_t stop)
{
    for (Py_ssize_t i = start; i < stop && i < FL_SIZE(seq); i++) {
        PyObject *item = FL_ITEM(seq, i);
        Py_INCREF(item);
        int eq = theus_values_equal(item, value);
        Py_DECREF(item);
        if (eq < 0) {
            return -2;
        }
        if (eq) {
            return i;
        }
    }
    return -1;
}

static int
frozenlist_contains(PyObject *self, PyObject *value)
{
    PyObject *seq = FL_DATA(self);
    Py_ssize_t i = find(seq, value, 0, FL_SIZE(seq));
    return i == -2 ? -1 : i >= 0;
}

static PyObject *
frozenlist_iter(PyObject *self)
{
    return listiter_new(FL_DATA(self), 0);
}

static PyObject *
frozenlist_getattro(PyObject *self, PyObject *name)
{
    PyObject *r = PyObject_GenericGetAttr(self, name);
    if (r == NULL && theus_is_dict_name(name) && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        return theus_raise_readonly("FrozenList", "expose __dict__ (a view has none)");
    }
    return r;
}

static int
frozenlist_setattro(PyObject *self, PyObject *name, PyObject *value)
{
    (void)self;
    theus_raise_readonly_obj("FrozenList", value == NULL ? "delete attribute" : "set attribute", name);
    return -1;
}

static PyObject *
frozenlist_richcompare(PyObject *self, PyObject *other, int op)
{
    PyObject *a = FL_DATA(self), *b;
    int other_is_view = Py_IS_TYPE(other, &theus_FrozenList_Type);
    if (other_is_view) {
        b = FL_DATA(other);
    }
    else if (is_plain_sequence(other)) {
        b = other;
    }
    else {
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (a == b) {
        Py_RETURN_RICHCOMPARE(0, 0, op);
    }
    Py_ssize_t na = FL_SIZE(a), nb = FL_SIZE(b);
    if ((op == Py_EQ || op == Py_NE) && na != nb) {
        return PyBool_FromLong(op == Py_NE);
    }
    if (Py_EnterRecursiveCall(" in FrozenList comparison")) {
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t i;
    for (i = 0; i < FL_SIZE(a) && i < FL_SIZE(b); i++) {
        /* Both items are held before any code runs: freezing b's item or comparing may run
         * code that empties either list. */
        PyObject *ai = FL_ITEM(a, i);
        Py_INCREF(ai);
        PyObject *bi = FL_ITEM(b, i);
        if (other_is_view) {
            bi = theus_freeze_item(bi);
        }
        else {
            Py_INCREF(bi);
        }
        if (bi == NULL) {
            Py_DECREF(ai);
            goto done;
        }
        int eq = theus_values_equal(ai, bi);
        if (eq == 0) {
            if (op == Py_EQ || op == Py_NE) {
                result = PyBool_FromLong(op == Py_NE);
            }
            else {
                PyObject *fa = theus_freeze_fast(ai);
                result = fa ? PyObject_RichCompare(fa, bi, op) : NULL;
                Py_XDECREF(fa);
            }
        }
        Py_DECREF(ai);
        Py_DECREF(bi);
        if (eq != 1) {
            goto done;
        }
    }
    na = FL_SIZE(a);
    nb = FL_SIZE(b);
    Py_LeaveRecursiveCall();
    Py_RETURN_RICHCOMPARE(na, nb, op);
done:
    Py_LeaveRecursiveCall();
    return result;
}

/* frozen_tuple: a tuple of the frozen items. Freezing an item may run code that resizes the
 * list (and allocating may run a finalizer): a size change is a RuntimeError, as when a dict
 * changes size during iteration, never a tuple with missing items. */
static PyObject *
frozen_tuple(PyObject *seq)
{
    Py_ssize_t n = FL_SIZE(seq);
    PyObject *t = PyTuple_New(n);
    if (t == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i <= n; i++) {
        if (FL_SIZE(seq) != n) {
            Py_DECREF(t);
            PyErr_SetString(PyExc_RuntimeError,
                            "FrozenList: the wrapped sequence changed size while it was being hashed");
            return NULL;
        }
        if (i == n) {
            break;
        }
        PyObject *f = theus_freeze_item(FL_ITEM(seq, i));
        if (f == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, f);
    }
    return t;
}

/* frozenlist_hash equals hash(tuple(view)), so it agrees with the tuples a view equals. */
static Py_hash_t
frozenlist_hash(PyObject *self)
{
    if (Py_EnterRecursiveCall(" while hashing a FrozenList")) {
        return -1;
    }
    Py_hash_t h = -1;
    PyObject *t = frozen_tuple(FL_DATA(self));
    if (t != NULL) {
        h = PyObject_Hash(t);
        Py_DECREF(t);
    }
    Py_LeaveRecursiveCall();
    return h;
}

static PyObject *
frozenlist_repr(PyObject *self)
{
    PyObject *body = theus_repr_plain(FL_DATA(self));
    if (body == NULL) {
        return NULL;
    }
    PyObject *out = PyUnicode_FromFormat("FrozenList(%U)", body);
    Py_DECREF(body);
    return out;
}

/* as_plain_list: a new list, deep-copied when o is a FrozenList, shallow for a user's own
 * list or tuple. */
static PyObject *
as_plain_list(PyObject *o)
{
    if (Py_IS_TYPE(o, &theus_FrozenList_Type)) {
        PyObject *c = theus_thaw_root(FL_DATA(o));
        if (c == NULL || PyList_CheckExact(c)) {
            return c;
        }
        PyObject *l = PySequence_List(c);
        Py_DECREF(c);
        return l;
    }
    return PySequence_List(o);
}

static PyObject *
frozenlist_add(PyObject *a, PyObject *b)
{
    if (!Py_IS_TYPE(a, &theus_FrozenList_Type) ||
        !(Py_IS_TYPE(b, &theus_FrozenList_Type) || is_plain_sequence(b))) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *out = as_plain_list(a);
    PyObject *rhs = out ? as_plain_list(b) : NULL;
    PyObject *r = rhs ? PySequence_Concat(out, rhs) : NULL;
    Py_XDECREF(out);
    Py_XDECREF(rhs);
    return r;
}

static PyObject *
frozenlist_multiply(PyObject *a, PyObject *b)
{
    PyObject *view = Py_IS_TYPE(a, &theus_FrozenList_Type) ? a : b;
    PyObject *count = view == a ? b : a;
    if (!PyIndex_Check(count)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    Py_ssize_t n = PyNumber_AsSsize_t(count, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *list = as_plain_list(view);
    if (list == NULL) {
        return NULL;
    }
    PyObject *r = PySequence_Repeat(list, n);
    Py_DECREF(list);
    return r;
}

static PyObject *
frozenlist_inplace_add(PyObject *self, PyObject *other)
{
    (void)self;
    (void)other;
    return theus_raise_readonly("FrozenList", "apply +=");
}

static PyObject *
frozenlist_inplace_multiply(PyObject *self, PyObject *other)
{
    (void)self;
    (void)other;
    return theus_raise_readonly("FrozenList", "apply *=");
}

/* slice_index converts an index argument, clamping huge values like list.index does. */
static int
slice_index(PyObject *obj, Py_ssize_t *out)
{
    if (!PyIndex_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "slice indices must be integers or have an __index__ method");
        return 0;
    }
    Py_ssize_t v = PyNumber_AsSsize_t(obj, NULL);
    if (v == -1 && PyErr_Occurred()) {
        return 0;
    }
    *out = v;
    return 1;
}

static PyObject *
frozenlist_index(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq = FL_DATA(self);
    Py_ssize_t start = 0, stop = PY_SSIZE_T_MAX;
    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "index expected 1 to 3 arguments, got %zd", nargs);
        return NULL;
    }
    if (nargs >= 2 && !slice_index(args[1], &start)) {
        return NULL;
    }
    if (nargs == 3 && !slice_index(args[2], &stop)) {
        return NULL;
    }
    Py_ssize_t n = FL_SIZE(seq); /* read after __index__ ran */
    if (start < 0 && (start += n) < 0) {
        start = 0;
    }
    if (stop < 0 && (stop += n) < 0) {
        stop = 0;
    }
    Py_ssize_t i = find(seq, args[0], start, stop);
    if (i == -2) {
        return NULL;
    }
    if (i < 0) {
        PyErr_SetString(PyExc_ValueError, "FrozenList.index(x): x not in list");
        return NULL;
    }
    return PyLong_FromSsize_t(i);
}

static PyObject *
frozenlist_count(PyObject *self, PyObject *value)
{
    PyObject *seq = FL_DATA(self);
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < FL_SIZE(seq); i++) {
        PyObject *item = FL_ITEM(seq, i);
        Py_INCREF(item);
        int eq = theus_values_equal(item, value);
        Py_DECREF(item);
        if (eq < 0) {
            return NULL;
        }
        count += eq;
    }
    return PyLong_FromSsize_t(count);
}

static PyObject *
frozenlist_to_list(PyObject *self, PyObject *unused)
{
    (void)unused;
    return as_plain_list(self);
}

static PyObject *
frozenlist_deepcopy(PyObject *self, PyObject *memo)
{
    PyObject *seq = FL_DATA(self);
    if (!PyDict_Check(memo)) {
        return as_plain_list(self);
    }
    PyObject *m = memo;
    PyObject *c = theus_thaw(seq, &m);
    if (c == NULL || PyList_CheckExact(c)) {
        return c;
    }
    PyObject *l = PySequence_List(c);
    Py_DECREF(c);
    return l;
}

static PyObject *
frozenlist_reduce(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *copy = as_plain_list(self);
    if (copy == NULL) {
        return NULL;
    }
    return Py_BuildValue("(O(N))", (PyObject *)&PyList_Type, copy);
}

static PyObject *
frozenlist_reduce_ex(PyObject *self, PyObject *protocol)
{
    (void)protocol;
    return frozenlist_reduce(self, NULL);
}

static PyObject *
frozenlist_reversed(PyObject *self, PyObject *unused)
{
    (void)unused;
    return listiter_new(FL_DATA(self), 1);
}

THEUS_TRAP(frozenlist, "FrozenList", append)
THEUS_TRAP(frozenlist, "FrozenList", extend)
THEUS_TRAP(frozenlist, "FrozenList", insert)
THEUS_TRAP(frozenlist, "FrozenList", pop)
THEUS_TRAP(frozenlist, "FrozenList", remove)
THEUS_TRAP(frozenlist, "FrozenList", clear)
THEUS_TRAP(frozenlist, "FrozenList", sort)
THEUS_TRAP(frozenlist, "FrozenList", reverse)
THEUS_TRAP(frozenlist, "FrozenList", add)
THEUS_TRAP(frozenlist, "FrozenList", discard)

static PyMethodDef frozenlist_methods[] = {
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     PyDoc_STR("__class_getitem__($type, item, /)\n--\n\nType[args] for annotations, as for dict and list.")},
    {"index", (PyCFunction)(void (*)(void))frozenlist_index, METH_FASTCALL,
     PyDoc_STR("index($self, value, start=0, stop=sys.maxsize, /)\n--\n\nThe first index of value in [start, stop); ValueError if absent.")},
    {"count", frozenlist_count, METH_O, PyDoc_STR("count($self, value, /)\n--\n\nNumber of items equal to value.")},
    {"to_list", frozenlist_to_list, METH_NOARGS,
     PyDoc_STR("to_list($self, /)\n--\n\nA deep, independent, mutable copy as a plain list.")},
    {"copy", frozenlist_to_list, METH_NOARGS, PyDoc_STR("copy($self, /)\n--\n\nThe same as to_list(): a deep mutable copy.")},
    {"__copy__", frozenlist_to_list, METH_NOARGS, PyDoc_STR("__copy__($self, /)\n--\n\ncopy.copy(view) -> to_list().")},
    {"__deepcopy__", frozenlist_deepcopy, METH_O, PyDoc_STR("__deepcopy__($self, memo, /)\n--\n\ncopy.deepcopy(view) -> to_list().")},
    {"__reduce__", frozenlist_reduce, METH_NOARGS, PyDoc_STR("__reduce__($self, /)\n--\n\nPickles as a plain list (a deep copy).")},
    {"__reduce_ex__", frozenlist_reduce_ex, METH_O, PyDoc_STR("__reduce_ex__($self, protocol, /)\n--\n\nPickles as a plain list (a deep copy).")},
    {"_repr_pretty_", (PyCFunction)(void (*)(void))theus_repr_pretty, METH_FASTCALL,
     PyDoc_STR("_repr_pretty_($self, printer, cycle, /)\n--\n\nA size-limited text form for IPython (repr() is the full form).")},
    {"_repr_html_", theus_repr_html, METH_NOARGS,
     PyDoc_STR("_repr_html_($self, /)\n--\n\nA collapsible, size-limited HTML tree (Jupyter shows it).")},
    {"__reversed__", frozenlist_reversed, METH_NOARGS, PyDoc_STR("__reversed__($self, /)\n--\n\nIterator over the frozen items, last first.")},
    THEUS_TRAP_DEF(frozenlist, append),
    THEUS_TRAP_DEF(frozenlist, extend),
    THEUS_TRAP_DEF(frozenlist, insert),
    THEUS_TRAP_DEF(frozenlist, pop),
    THEUS_TRAP_DEF(frozenlist, remove),
    THEUS_TRAP_DEF(frozenlist, clear),
    THEUS_TRAP_DEF(frozenlist, sort),
    THEUS_TRAP_DEF(frozenlist, reverse),
    THEUS_TRAP_DEF(frozenlist, add),
    THEUS_TRAP_DEF(frozenlist, discard),
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods frozenlist_as_sequence = {
    .sq_length = frozenlist_length,
    .sq_item = frozenlist_item,
    .sq_ass_item = frozenlist_ass_item,
    .sq_contains = frozenlist_contains,
};

static PyMappingMethods frozenlist_as_mapping = {
    .mp_length = frozenlist_length,
    .mp_subscript = frozenlist_subscript,
    .mp_ass_subscript = frozenlist_ass_subscript,
};

static PyNumberMethods frozenlist_as_number = {
    .nb_add = frozenlist_add,
    .nb_multiply = frozenlist_multiply,
    .nb_inplace_add = frozenlist_inplace_add,
    .nb_inplace_multiply = frozenlist_inplace_multiply,
};

PyDoc_STRVAR(frozenlist_doc,
"A read-only view of a committed list or tuple (collections.abc.Sequence).\n\n"
"Reads: view[i] (negative too), view[a:b:c] (a FrozenList), index, count, in, len, iter,\n"
"reversed, ==/!=/</<=/>/>= with lists, tuples and FrozenLists (ordered like tuples), hash\n"
"(equal to hash(tuple(view)) when every item is hashable). Items are frozen as they are read\n"
"(see FrozenDict). `view + seq` and `view * n` give new plain lists (the view's items deep\n"
"copied). repr is FrozenList([...]) showing the wrapped contents.\n\n"
"to_list() (and copy(), copy.copy, copy.deepcopy, pickle) give a deep, independent plain list.\n"
"Every write raises ContextError: " THEUS_READONLY_FIX ".\n"
"FrozenList cannot be instantiated or subclassed from Python.");

PyTypeObject theus_FrozenList_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.FrozenList",
    .tp_basicsize = sizeof(theus_View),
    .tp_dealloc = (destructor)theus_view_dealloc,
    .tp_repr = frozenlist_repr,
    .tp_as_number = &frozenlist_as_number,
    .tp_as_sequence = &frozenlist_as_sequence,
    .tp_as_mapping = &frozenlist_as_mapping,
    .tp_hash = frozenlist_hash,
    .tp_getattro = frozenlist_getattro,
    .tp_setattro = frozenlist_setattro,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE |
                Py_TPFLAGS_SEQUENCE,
    .tp_doc = frozenlist_doc,
    .tp_richcompare = frozenlist_richcompare,
    .tp_weaklistoffset = offsetof(theus_View, weakrefs),
    .tp_iter = frozenlist_iter,
    .tp_methods = frozenlist_methods,
};
