/* frozenobject.c: FrozenObject, a read-only attribute proxy for instances of Python classes,
 * and FrozenBuffer, a read-only re-exporter of another object's buffer.
 *
 * FrozenObject never passes the wrapped instance to code it does not control:
 *   - data attributes (instance __dict__ entries, __slots__ members, class constants) are
 *     read directly and frozen;
 *   - methods and properties are bound to the FrozenObject itself, so `self.x` inside them
 *     reads through the view and `self.x = 1` raises ContextError;
 *   - `__class__` reports the wrapped class (isinstance works); `__dict__` raises ContextError;
 *   - == calls the class's own __eq__ bound to the view (identity when it has none);
 *   - hash() is identity for classes without __hash__ of their own; otherwise the class's
 *     __hash__ runs bound to the view;
 *   - copy/deepcopy/pickle work on an independent copy made by theus_thaw (attribute by
 *     attribute, or the class's __deepcopy__ bound to the view): no copy hook sees the
 *     wrapped instance.
 * Protocol slots of the wrapped class (len, iter, [], arithmetic, calls) and __getattr__ /
 * __getattribute__ overrides are not forwarded.
 *
 * Pydantic models are the one exception to "methods see the view": pydantic's own methods
 * (model_dump, model_copy, __eq__, __repr__, ...) read the instance's __dict__ in Rust and
 * build copies with type(self), so bound to a view they fail. The read-side methods that
 * pydantic.BaseModel itself defines (a fixed list, model_methods) run on an independent copy
 * made by theus_thaw, so they work and cannot reach the committed instance; a method of the
 * user's model class still runs with the view as self. Extra fields and private attributes
 * read from the instance's __pydantic_extra__ / __pydantic_private__, frozen, and __dict__
 * reads as a FrozenDict (pydantic's __eq__ compares other.__dict__), so `model == view` works.
 * The class is recognised without importing pydantic: a class named BaseModel from module
 * pydantic.main on the instance's MRO.
 *
 * FrozenBuffer holds an object with the buffer protocol and exports its memory read-only; it
 * refuses writable requests. It is what a read-only memoryview or numpy array returned by a
 * read is built on, so `memoryview.obj` and `ndarray.base` lead to it, never to the writable
 * exporter.
 */
#include "internal.h"

#define FO_DATA(self) (((theus_View *)(self))->data)

static PyObject *str_class = NULL;
static PyObject *str_eq = NULL;
static PyObject *str_hash = NULL;
static PyObject *str_repr = NULL;
static PyObject *object_eq = NULL;   /* object.__eq__ (borrowed from object's dict) */
static PyObject *object_repr = NULL; /* object.__repr__ (borrowed) */
static PyObject *str_module = NULL;
static PyObject *str_extra = NULL;   /* __pydantic_extra__ */
static PyObject *str_private = NULL; /* __pydantic_private__ */
static PyObject *model_methods = NULL; /* frozenset of the BaseModel methods run on a copy */
static PyTypeObject *model_base_type = NULL; /* pydantic.BaseModel once seen (strong) */

PyTypeObject *
theus_model_base(PyTypeObject *tp)
{
    if (model_base_type != NULL) {
        return PyType_IsSubtype(tp, model_base_type) ? model_base_type : NULL;
    }
    PyObject *mro = tp->tp_mro;
    if (mro == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE) || strcmp(t->tp_name, "BaseModel") != 0) {
            continue;
        }
        PyObject *d = theus_type_dict(t);
        PyObject *mod = d ? PyDict_GetItemWithError(d, str_module) : NULL;
        int match = mod != NULL && PyUnicode_Check(mod) && PyUnicode_CompareWithASCIIString(mod, "pydantic.main") == 0;
        Py_XDECREF(d);
        PyErr_Clear();
        if (match) {
            Py_INCREF(t);
            model_base_type = t;
            return t;
        }
    }
    return NULL;
}

/* model_method_on_copy: descr is a read-side method pydantic.BaseModel itself defines (one a
   user class does not override), which must run on a copy of the instance. */
static int
model_method_on_copy(PyTypeObject *tp, PyObject *name, PyObject *descr)
{
    PyTypeObject *base = theus_model_base(tp);
    if (base == NULL) {
        return 0;
    }
    int listed = PySet_Contains(model_methods, name);
    if (listed <= 0) {
        PyErr_Clear();
        return 0;
    }
    PyObject *d = theus_type_dict(base);
    PyObject *own = d ? PyDict_GetItemWithError(d, name) : NULL;
    Py_XDECREF(d);
    PyErr_Clear();
    return own == descr;
}

/* bind_to_copy binds a BaseModel method to an independent copy of obj; the result is frozen
   by the caller, so what it returns (a dict, a new model) is the caller's own data. */
static PyObject *
bind_to_copy(PyObject *descr, PyObject *obj, PyTypeObject *tp)
{
    PyObject *copy = theus_thaw_root(obj);
    if (copy == NULL) {
        return NULL;
    }
    PyObject *v = Py_TYPE(descr)->tp_descr_get(descr, copy, (PyObject *)tp);
    Py_DECREF(copy);
    return v;
}

/* model_extra_attr reads name from a pydantic model's __pydantic_extra__ or
   __pydantic_private__ dict (frozen); NULL with no exception when neither has it. */
static PyObject *
model_extra_attr(PyObject *obj, PyObject *name)
{
    PyObject *slots[2] = {str_extra, str_private};
    for (int i = 0; i < 2; i++) {
        PyObject *d = PyObject_GenericGetAttr(obj, slots[i]);
        if (d == NULL) {
            PyErr_Clear();
            continue;
        }
        PyObject *v = PyDict_Check(d) ? PyDict_GetItemWithError(d, name) : NULL;
        if (v != NULL) {
            Py_INCREF(v);
            Py_DECREF(d);
            PyObject *f = theus_freeze_fast(v);
            Py_DECREF(v);
            return f;
        }
        Py_DECREF(d);
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    return NULL;
}

static int
is_dunder(PyObject *name)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    return n > 4 && PyUnicode_READ_CHAR(name, 0) == '_' && PyUnicode_READ_CHAR(name, 1) == '_' &&
           PyUnicode_READ_CHAR(name, n - 1) == '_' && PyUnicode_READ_CHAR(name, n - 2) == '_';
}

static PyObject *
no_attribute(PyObject *obj, PyObject *name)
{
    PyErr_Format(PyExc_AttributeError, "'%.100s' object (read-only view) has no attribute '%U'",
                 Py_TYPE(obj)->tp_name, name);
    return NULL;
}

static PyObject *
frozenobject_getattro(PyObject *self, PyObject *name)
{
    PyObject *obj = FO_DATA(self);
    PyTypeObject *tp = Py_TYPE(obj);
    if (!PyUnicode_Check(name)) {
        return PyObject_GenericGetAttr(self, name);
    }
    if (is_dunder(name)) {
        if (PyUnicode_Compare(name, str_class) == 0) {
            Py_INCREF(tp);
            return (PyObject *)tp;
        }
        if (theus_is_dict_name(name)) {
            if (tp->tp_dictoffset != 0 && theus_model_base(tp) != NULL) {
                PyObject *d = PyObject_GenericGetDict(obj, NULL); /* pydantic's __eq__ reads it */
                PyObject *f = d ? theus_freeze_fast(d) : NULL;
                Py_XDECREF(d);
                return f;
            }
            return theus_raise_readonly("FrozenObject", "expose __dict__ (a view has none)");
        }
        if (theus_lookup_type(Py_TYPE(self), name) != NULL) {
            return PyObject_GenericGetAttr(self, name);
        }
    }
    PyObject *descr = theus_lookup_type(tp, name);
    if (descr != NULL) {
        Py_INCREF(descr);
        descrgetfunc get = Py_TYPE(descr)->tp_descr_get;
        if (get != NULL && Py_TYPE(descr)->tp_descr_set != NULL) {
            PyObject *v = NULL;
            if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
                v = get(descr, obj, (PyObject *)tp); /* a __slots__ member: plain data */
            }
            else if (Py_IS_TYPE(descr, &PyGetSetDescr_Type)) {
                if (is_dunder(name)) { /* C-level internals such as __weakref__ */
                    Py_DECREF(descr);
                    return no_attribute(obj, name);
                }
                v = get(descr, obj, (PyObject *)tp); /* C-level data such as exception args */
            }
            else {
                v = get(descr, self, (PyObject *)tp); /* a property sees the view as self */
            }
            Py_DECREF(descr);
            if (v == NULL) {
                return NULL;
            }
            PyObject *f = theus_freeze_fast(v);
            Py_DECREF(v);
            return f;
        }
    }
    if (tp->tp_dictoffset != 0) {
        PyObject *d = PyObject_GenericGetDict(obj, NULL);
        if (d == NULL) {
            Py_XDECREF(descr);
            return NULL;
        }
        PyObject *v = PyDict_GetItemWithError(d, name);
        if (v != NULL) {
            Py_INCREF(v);
            Py_DECREF(d);
            Py_XDECREF(descr);
            PyObject *f = theus_freeze_fast(v);
            Py_DECREF(v);
            return f;
        }
        Py_DECREF(d);
        if (PyErr_Occurred()) {
            Py_XDECREF(descr);
            return NULL;
        }
    }
    if (descr == NULL) {
        if (theus_model_base(tp) != NULL) {
            PyObject *v = model_extra_attr(obj, name);
            if (v != NULL || PyErr_Occurred()) {
                return v;
            }
        }
        return no_attribute(obj, name);
    }
    PyObject *v;
    descrgetfunc get = Py_TYPE(descr)->tp_descr_get;
    if (get != NULL && model_method_on_copy(tp, name, descr)) {
        v = bind_to_copy(descr, obj, tp);
    }
    else if (get != NULL) {
        v = get(descr, self, (PyObject *)tp); /* methods are bound to the view */
    }
    else {
        Py_INCREF(descr);
        v = descr;
    }
    Py_DECREF(descr);
    if (v == NULL) {
        return NULL;
    }
    PyObject *f = theus_freeze_fast(v);
    Py_DECREF(v);
    return f;
}

static int
frozenobject_setattro(PyObject *self, PyObject *name, PyObject *value)
{
    (void)self;
    theus_raise_readonly_obj("FrozenObject", value == NULL ? "delete attribute" : "set attribute", name);
    return -1;
}

static PyObject *
frozenobject_richcompare(PyObject *self, PyObject *other, int op)
{
    if (op != Py_EQ && op != Py_NE) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *obj = FO_DATA(self);
    PyObject *other_obj = Py_IS_TYPE(other, &theus_FrozenObject_Type) ? FO_DATA(other) : other;
    if (obj == other_obj) {
        return PyBool_FromLong(op == Py_EQ);
    }
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *eq = theus_lookup_type(tp, str_eq);
    if (eq == NULL || eq == object_eq || Py_TYPE(eq)->tp_descr_get == NULL) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    Py_INCREF(eq);
    PyObject *bound;
    PyObject *arg = other;
    Py_INCREF(arg);
    if (model_method_on_copy(tp, str_eq, eq)) {
        bound = bind_to_copy(eq, obj, tp); /* pydantic's __eq__ needs real models on both sides */
        if (Py_IS_TYPE(other, &theus_FrozenObject_Type)) {
            Py_SETREF(arg, theus_thaw_root(FO_DATA(other)));
        }
    }
    else {
        bound = Py_TYPE(eq)->tp_descr_get(eq, self, (PyObject *)tp);
    }
    Py_DECREF(eq);
    if (bound == NULL || arg == NULL) {
        Py_XDECREF(bound);
        Py_XDECREF(arg);
        return NULL;
    }
    PyObject *r = PyObject_CallOneArg(bound, arg);
    Py_DECREF(bound);
    Py_DECREF(arg);
    if (r == NULL || r == Py_NotImplemented || op == Py_EQ) {
        return r;
    }
    int t = PyObject_IsTrue(r);
    Py_DECREF(r);
    return t < 0 ? NULL : PyBool_FromLong(!t);
}

static Py_hash_t
frozenobject_hash(PyObject *self)
{
    PyObject *obj = FO_DATA(self);
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp->tp_hash == PyBaseObject_Type.tp_hash || tp->tp_hash == PyObject_HashNotImplemented) {
        return PyObject_Hash(obj); /* identity, or TypeError: no user code runs */
    }
    /* a class with its own __hash__ (a frozen dataclass holding a list): it runs with the view
       as self, like every other method */
    PyObject *h = theus_lookup_type(tp, str_hash);
    if (h == NULL || Py_TYPE(h)->tp_descr_get == NULL) {
        return PyObject_HashNotImplemented(self);
    }
    Py_INCREF(h);
    PyObject *bound = Py_TYPE(h)->tp_descr_get(h, self, (PyObject *)tp);
    Py_DECREF(h);
    PyObject *r = bound ? PyObject_CallNoArgs(bound) : NULL;
    Py_XDECREF(bound);
    if (r == NULL) {
        return -1;
    }
    if (!PyLong_Check(r)) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_TypeError, "__hash__ method should return an integer");
        return -1;
    }
    Py_hash_t out = PyLong_Type.tp_hash(r);
    Py_DECREF(r);
    return out == -1 && !PyErr_Occurred() ? -2 : out;
}

static PyObject *
frozenobject_repr(PyObject *self)
{
    int r = Py_ReprEnter(self);
    if (r != 0) {
        return r > 0 ? PyUnicode_FromString("FrozenObject(...)") : NULL;
    }
    /* The class's own __repr__ runs with the view as self, like every other method, so user
       code never sees the committed instance; object's default repr names the class. */
    PyObject *obj = FO_DATA(self);
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *fn = theus_lookup_type(tp, str_repr);
    PyObject *inner = NULL;
    if (fn == NULL || fn == object_repr || Py_TYPE(fn)->tp_descr_get == NULL) {
        inner = PyUnicode_FromFormat("<%s object at %p>", tp->tp_name, obj);
    }
    else {
        Py_INCREF(fn);
        PyObject *bound = model_method_on_copy(tp, str_repr, fn) ? bind_to_copy(fn, obj, tp)
                                                                 : Py_TYPE(fn)->tp_descr_get(fn, self, (PyObject *)tp);
        Py_DECREF(fn);
        inner = bound ? PyObject_CallNoArgs(bound) : NULL;
        Py_XDECREF(bound);
        if (inner != NULL && !PyUnicode_Check(inner)) {
            PyErr_Format(PyExc_TypeError, "__repr__ returned non-string (type %.100s)", Py_TYPE(inner)->tp_name);
            Py_CLEAR(inner);
        }
    }
    PyObject *out = inner ? PyUnicode_FromFormat("FrozenObject(%U)", inner) : NULL;
    Py_XDECREF(inner);
    Py_ReprLeave(self);
    return out;
}

static PyObject *
frozenobject_deepcopy(PyObject *self, PyObject *memo)
{
    if (PyDict_Check(memo)) {
        PyObject *m = memo;
        return theus_thaw(FO_DATA(self), &m);
    }
    return theus_thaw_root(FO_DATA(self));
}

static PyObject *
frozenobject_copy(PyObject *self, PyObject *unused)
{
    (void)unused;
    return theus_thaw_root(FO_DATA(self));
}

static PyObject *
frozenobject_reduce_ex(PyObject *self, PyObject *protocol)
{
    PyObject *copy = theus_thaw_root(FO_DATA(self));
    if (copy == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_CallMethod(copy, "__reduce_ex__", "O", protocol);
    Py_DECREF(copy);
    return r;
}

static PyObject *
frozenobject_reduce(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *two = PyLong_FromLong(2);
    if (two == NULL) {
        return NULL;
    }
    PyObject *r = frozenobject_reduce_ex(self, two);
    Py_DECREF(two);
    return r;
}

static PyObject *
frozenobject_dir(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyObject_Dir(FO_DATA(self));
}

static PyMethodDef frozenobject_methods[] = {
    {"__copy__", frozenobject_copy, METH_NOARGS,
     PyDoc_STR("__copy__($self, /)\n--\n\ncopy.copy(view) -> an independent deep copy of the instance.")},
    {"__deepcopy__", frozenobject_deepcopy, METH_O,
     PyDoc_STR("__deepcopy__($self, memo, /)\n--\n\ncopy.deepcopy(view) -> an independent deep copy of the instance.")},
    {"__reduce__", frozenobject_reduce, METH_NOARGS,
     PyDoc_STR("__reduce__($self, /)\n--\n\nPickles a deep copy of the instance.")},
    {"__reduce_ex__", frozenobject_reduce_ex, METH_O,
     PyDoc_STR("__reduce_ex__($self, protocol, /)\n--\n\nPickles a deep copy of the instance.")},
    {"__dir__", frozenobject_dir, METH_NOARGS,
     PyDoc_STR("__dir__($self, /)\n--\n\nThe wrapped instance's attribute names.")},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(frozenobject_doc,
"A read-only attribute proxy for an instance of a Python class (one with a __dict__ or\n"
"__slots__, e.g. a plain class, a mutable dataclass or a types.SimpleNamespace).\n\n"
"Attributes read frozen; methods and properties run with the view as self, so they can read\n"
"but not write. __class__ is the wrapped class (isinstance works); == and hash() use the\n"
"class's __eq__ and __hash__. Protocol methods (len, iter, [], operators, calls) are not\n"
"forwarded. Instances of classes that define __hash__ and hold only immutable values (a\n"
"frozen dataclass of numbers, Enum members, ...) are values and read as they are; instances\n"
"of C extension types are passed by reference. copy/deepcopy/pickle give an independent\n"
"copy of the instance.\n"
"Every write raises ContextError: " THEUS_READONLY_FIX ".");

PyTypeObject theus_FrozenObject_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.FrozenObject",
    .tp_basicsize = sizeof(theus_View),
    .tp_dealloc = (destructor)theus_view_dealloc,
    .tp_repr = frozenobject_repr,
    .tp_hash = frozenobject_hash,
    .tp_getattro = frozenobject_getattro,
    .tp_setattro = frozenobject_setattro,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .tp_doc = frozenobject_doc,
    .tp_richcompare = frozenobject_richcompare,
    .tp_weaklistoffset = offsetof(theus_View, weakrefs),
    .tp_methods = frozenobject_methods,
};

/* ---- FrozenBuffer ---- */

int
theus_readonly_getbuffer(PyObject *owner, PyObject *data, Py_buffer *view, int flags, const char *what)
{
    if (flags & PyBUF_WRITABLE) {
        view->obj = NULL;
        PyErr_Format(PyExc_BufferError, "%s is read-only (cannot export a writable buffer): " THEUS_READONLY_FIX, what);
        return -1;
    }
    if (PyObject_GetBuffer(data, view, flags) < 0) {
        return -1;
    }
    view->readonly = 1;
    Py_INCREF(owner);
    Py_SETREF(view->obj, owner);
    return 0;
}

void
theus_readonly_releasebuffer(PyObject *data, Py_buffer *view)
{
    PyBufferProcs *pb = Py_TYPE(data)->tp_as_buffer;
    if (pb != NULL && pb->bf_releasebuffer != NULL) {
        pb->bf_releasebuffer(data, view);
    }
}

static int
frozenbuffer_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    return theus_readonly_getbuffer(self, FO_DATA(self), view, flags, "FrozenBuffer");
}

static void
frozenbuffer_releasebuffer(PyObject *self, Py_buffer *view)
{
    theus_readonly_releasebuffer(FO_DATA(self), view);
}

static PyBufferProcs frozenbuffer_as_buffer = {
    .bf_getbuffer = frozenbuffer_getbuffer,
    .bf_releasebuffer = frozenbuffer_releasebuffer,
};

/* frozenbuffer_repr describes the memory, never its contents (it may be 500 MB):
   <FrozenBuffer over bytearray: format 'B', shape (10,), 10 bytes>. */
static PyObject *
frozenbuffer_repr(PyObject *self)
{
    PyObject *data = FO_DATA(self);
    const char *over = Py_TYPE(data)->tp_name;
    if (Py_IS_TYPE(data, &theus_HeavyValue_Type)) {
        over = Py_TYPE(theus_heavy_inner(data))->tp_name;
    }
    Py_buffer b;
    if (PyObject_GetBuffer(data, &b, PyBUF_FULL_RO) < 0) {
        PyErr_Clear();
        return PyUnicode_FromFormat("<FrozenBuffer over %.100s>", over);
    }
    PyObject *shape = PyTuple_New(b.ndim);
    for (int i = 0; shape != NULL && i < b.ndim; i++) {
        PyObject *n = PyLong_FromSsize_t(b.shape ? b.shape[i] : b.len);
        if (n == NULL) {
            Py_CLEAR(shape);
            break;
        }
        PyTuple_SET_ITEM(shape, i, n);
    }
    PyObject *out = shape ? PyUnicode_FromFormat("<FrozenBuffer over %.100s: format '%s', shape %R, %zd bytes>", over,
                                                 b.format ? b.format : "B", shape, b.len)
                          : NULL;
    Py_XDECREF(shape);
    PyBuffer_Release(&b);
    return out;
}

static int
frozenbuffer_setattro(PyObject *self, PyObject *name, PyObject *value)
{
    (void)self;
    theus_raise_readonly_obj("FrozenBuffer", value == NULL ? "delete attribute" : "set attribute", name);
    return -1;
}

PyTypeObject theus_FrozenBuffer_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.FrozenBuffer",
    .tp_basicsize = sizeof(theus_View),
    .tp_dealloc = (destructor)theus_view_dealloc,
    .tp_repr = frozenbuffer_repr,
    .tp_setattro = frozenbuffer_setattro,
    .tp_as_buffer = &frozenbuffer_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .tp_doc = PyDoc_STR("The read-only buffer exporter behind memoryviews and numpy arrays read\n"
                        "from state: it exports another object's memory read-only and has no\n"
                        "attribute that reaches that object."),
    .tp_weaklistoffset = offsetof(theus_View, weakrefs),
};

int
theus_frozenobject_init(void)
{
    if (str_class == NULL && (str_class = PyUnicode_InternFromString("__class__")) == NULL) {
        return -1;
    }
    if (str_eq == NULL && (str_eq = PyUnicode_InternFromString("__eq__")) == NULL) {
        return -1;
    }
    if (str_hash == NULL && (str_hash = PyUnicode_InternFromString("__hash__")) == NULL) {
        return -1;
    }
    if (str_repr == NULL && (str_repr = PyUnicode_InternFromString("__repr__")) == NULL) {
        return -1;
    }
    if (str_module == NULL && (str_module = PyUnicode_InternFromString("__module__")) == NULL) {
        return -1;
    }
    if (str_extra == NULL && (str_extra = PyUnicode_InternFromString("__pydantic_extra__")) == NULL) {
        return -1;
    }
    if (str_private == NULL && (str_private = PyUnicode_InternFromString("__pydantic_private__")) == NULL) {
        return -1;
    }
    if (model_methods == NULL) {
        /* pydantic.BaseModel's read-side methods; its mutators (__init__, __setattr__,
           __delattr__, __setstate__, model_post_init) stay bound to the view, so they raise */
        static const char *names[] = {
            "model_dump", "model_dump_json", "model_copy", "__copy__", "__deepcopy__",
            "__replace__", "__getstate__", "__eq__", "__iter__", "__repr__", "__repr_args__",
            "__repr_name__", "__repr_recursion__", "__repr_str__", "__pretty__", "__rich_repr__",
            "__str__", "dict", "json", "copy", "_iter", "_copy_and_set_values", "_calculate_keys",
            NULL,
        };
        PyObject *set = PySet_New(NULL);
        for (int i = 0; set != NULL && names[i] != NULL; i++) {
            PyObject *n = PyUnicode_InternFromString(names[i]);
            if (n == NULL || PySet_Add(set, n) < 0) {
                Py_XDECREF(n);
                Py_CLEAR(set);
                break;
            }
            Py_DECREF(n);
        }
        if (set == NULL) {
            return -1;
        }
        model_methods = PyFrozenSet_New(set);
        Py_DECREF(set);
        if (model_methods == NULL) {
            return -1;
        }
    }
    if (PyType_Ready(&PyBaseObject_Type) < 0) {
        return -1;
    }
    object_eq = theus_lookup_type(&PyBaseObject_Type, str_eq);
    object_repr = theus_lookup_type(&PyBaseObject_Type, str_repr);
    return 0;
}
