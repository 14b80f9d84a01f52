/* classify.c: the one classifier of stored values (theus_kind_classify, see capi/py/kind.h for
 * what each kind means on each path) and freezing on read (theus_freeze_slow), which is a
 * switch on it.
 *
 * Decisions, kind by kind:
 *   - None, bool, int, float, complex, str, bytes (and subclasses), range, slice, types,
 *     modules, functions, enum members: SCALAR. A tuple or frozenset is a SCALAR when every
 *     item is (checked to a bounded depth; deeper ones are treated as containers, which is the
 *     safe answer). A class that defines __hash__ declares value semantics: its instances are
 *     SCALARs when their __dict__ holds only SCALARs (a frozen dataclass of numbers), otherwise
 *     OBJECTs (a frozen dataclass with a list field reads as a FrozenObject). Classes with
 *     __slots__ and __hash__ (Fraction, pathlib paths, UUID) are trusted as value objects.
 *   - dict/list and subclasses: DICT/LIST. Subclasses are stored as plain dicts and lists.
 *   - a tuple holding something mutable: TUPLE (every exact tuple reads as a FrozenList, a
 *     tuple of scalars included, so reads have one type for tuples); a tuple subclass
 *     (namedtuple) holding something mutable: NAMEDTUPLE, read as the same type with frozen
 *     items, so field names keep working.
 *   - set, or a frozenset holding non-scalars: SET, read as a frozenset of frozen items.
 *   - numpy arrays (and subclasses such as np.matrix, which read back as the same subclass over
 *     read-only memory), bytearray, memoryview, array.array and other buffer exporters: BUFFER.
 *     Refused at commit: masked arrays and memmaps (state outside the buffer a read-only view
 *     would lose), object arrays holding anything but scalars (their elements would be handed
 *     out raw), buffer exporters theus cannot copy.
 *   - instances of Python classes with attributes, and types.SimpleNamespace: OBJECT
 *     (FrozenObject). They are stored by reference.
 *   - theus views: VIEW (a commit stores the committed data behind a FrozenDict, FrozenList,
 *     FrozenObject or FrozenBuffer and refuses the process context, its zone views and dict
 *     views: they are not data).
 *   - collections.deque, coroutines, generators and async generators: REFUSED.
 *   - instances of other C extension types: OPAQUE, passed by reference.
 */
#include "internal.h"

/* How deep the SCALAR check of tuples, frozensets and value objects looks. */
#define SCALAR_DEPTH 16

static PyObject *numpy_asarray = NULL;    /* numpy.asarray, looked up on first array */
static PyObject *numpy_frombuffer = NULL; /* numpy.frombuffer, with numpy.asarray */
static PyObject *str_slots = NULL;
static PyObject *str_setflags = NULL;
static PyObject *str_copy = NULL;
static PyObject *str_dtype = NULL;
static PyObject *str_hasobject = NULL;
static PyObject *str_view = NULL;
static PyObject *str_flat = NULL;
static PyTypeObject *deque_type = NULL;
static PyTypeObject *namespace_type = NULL;

int
theus_is_ndarray(PyTypeObject *tp)
{
    PyObject *mro = tp->tp_mro;
    if (mro == NULL) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        if (strcmp(((PyTypeObject *)PyTuple_GET_ITEM(mro, i))->tp_name, "numpy.ndarray") == 0) {
            return 1;
        }
    }
    return 0;
}

/* has_base reports whether a type named `name` is on tp's MRO. */
static int
has_base(PyTypeObject *tp, const char *name)
{
    PyObject *mro = tp->tp_mro;
    for (Py_ssize_t i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        const char *n = ((PyTypeObject *)PyTuple_GET_ITEM(mro, i))->tp_name;
        if (strcmp(n, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
is_data_view(PyTypeObject *tp)
{
    return tp == &theus_FrozenDict_Type || tp == &theus_FrozenList_Type ||
           tp == &theus_FrozenObject_Type || tp == &theus_FrozenBuffer_Type;
}

static int
is_other_view(PyTypeObject *tp)
{
    return tp == &theus_ScopedView_Type || tp == &theus_Context_Type ||
           tp == &theus_DictKeys_Type || tp == &theus_DictValues_Type ||
           tp == &theus_DictItems_Type || tp == &theus_DictIter_Type || tp == &theus_ListIter_Type;
}

/* is_enum_member: an instance of a class whose metaclass is enum.EnumType (EnumMeta). */
static int
is_enum_member(PyTypeObject *tp)
{
    PyTypeObject *meta = Py_TYPE(tp);
    return meta != &PyType_Type && (has_base(meta, "EnumType") || has_base(meta, "EnumMeta"));
}

static int
is_writable_buffer(PyObject *obj)
{
    PyBufferProcs *pb = Py_TYPE(obj)->tp_as_buffer;
    if (pb == NULL || pb->bf_getbuffer == NULL) {
        return 0;
    }
    Py_buffer b;
    if (PyObject_GetBuffer(obj, &b, PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        return 0;
    }
    PyBuffer_Release(&b);
    return 1;
}

static theus_kind_t kind_at(PyObject *v, int flags, int depth);

/* all_scalar: 1 when every item of the sequence or set is a SCALAR, 0 when not, -1 on error. */
static int
all_scalar_items(PyObject *v, int depth)
{
    if (depth >= SCALAR_DEPTH) {
        return 0;
    }
    if (PyTuple_Check(v)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(v); i++) {
            theus_kind_t k = kind_at(PyTuple_GET_ITEM(v, i), 0, depth + 1);
            if (k != THEUS_KIND_SCALAR) {
                return k == THEUS_KIND_ERROR ? -1 : 0;
            }
        }
        return 1;
    }
    /* a frozenset: its items cannot change, and hashing them ran no code of ours */
    Py_ssize_t pos = 0;
    PyObject *item;
    Py_hash_t hash;
    while (_PySet_NextEntry(v, &pos, &item, &hash)) {
        theus_kind_t k = kind_at(item, 0, depth + 1);
        if (k != THEUS_KIND_SCALAR) {
            return k == THEUS_KIND_ERROR ? -1 : 0;
        }
    }
    return 1;
}

/* value_object_kind: an instance of a class with its own __hash__ is a SCALAR when its
   __dict__ (if any) holds only SCALARs, an OBJECT otherwise. */
static theus_kind_t
value_object_kind(PyObject *v, int depth)
{
    PyTypeObject *tp = Py_TYPE(v);
    if (tp->tp_dictoffset == 0) {
        return THEUS_KIND_SCALAR;
    }
    if (depth >= SCALAR_DEPTH) {
        return THEUS_KIND_OBJECT;
    }
    PyObject *d = PyObject_GenericGetDict(v, NULL);
    if (d == NULL) {
        PyErr_Clear();
        return THEUS_KIND_OBJECT;
    }
    theus_kind_t out = THEUS_KIND_SCALAR;
    Py_ssize_t pos = 0;
    PyObject *k, *val;
    while (PyDict_Next(d, &pos, &k, &val)) {
        theus_kind_t kv = kind_at(val, 0, depth + 1);
        if (kv == THEUS_KIND_ERROR) {
            out = kv;
            break;
        }
        if (kv != THEUS_KIND_SCALAR) {
            out = THEUS_KIND_OBJECT;
            break;
        }
    }
    Py_DECREF(d);
    return out;
}

/* object_array_ok: 1 when every element of a numpy object array is a SCALAR or OPAQUE. */
static int
object_array_ok(PyObject *arr)
{
    PyObject *it = PyObject_GetAttr(arr, str_flat);
    if (it == NULL) {
        return -1;
    }
    PyObject *iter = PyObject_GetIter(it);
    Py_DECREF(it);
    if (iter == NULL) {
        return -1;
    }
    int ok = 1;
    PyObject *item;
    while ((item = PyIter_Next(iter)) != NULL) {
        theus_kind_t k = kind_at(item, 0, 0);
        Py_DECREF(item);
        if (k == THEUS_KIND_ERROR) {
            ok = -1;
            break;
        }
        if (k != THEUS_KIND_SCALAR && k != THEUS_KIND_OPAQUE) {
            ok = 0;
            break;
        }
    }
    Py_DECREF(iter);
    if (ok == 1 && PyErr_Occurred()) {
        return -1;
    }
    return ok;
}

static int
array_has_objects(PyObject *arr)
{
    PyObject *dtype = PyObject_GetAttr(arr, str_dtype);
    if (dtype == NULL) {
        return -1;
    }
    PyObject *hasobj = PyObject_GetAttr(dtype, str_hasobject);
    Py_DECREF(dtype);
    if (hasobj == NULL) {
        return -1;
    }
    int objects = PyObject_IsTrue(hasobj);
    Py_DECREF(hasobj);
    return objects;
}

static theus_kind_t
ndarray_kind(PyObject *v, int flags)
{
    PyTypeObject *tp = Py_TYPE(v);
    if (has_base(tp, "MaskedArray") || has_base(tp, "memmap")) {
        return THEUS_KIND_REFUSED;
    }
    if (flags & THEUS_KIND_COMMIT) {
        int objects = array_has_objects(v);
        if (objects < 0) {
            return THEUS_KIND_ERROR;
        }
        if (objects) {
            int ok = object_array_ok(v);
            if (ok <= 0) {
                return ok < 0 ? THEUS_KIND_ERROR : THEUS_KIND_REFUSED;
            }
        }
    }
    return THEUS_KIND_BUFFER;
}

static theus_kind_t
kind_at(PyObject *v, int flags, int depth)
{
    PyTypeObject *tp = Py_TYPE(v);
    if (tp == &PyUnicode_Type || tp == &PyLong_Type || tp == &PyFloat_Type || tp == &PyBool_Type ||
        v == Py_None || tp == &PyBytes_Type || tp == &PyComplex_Type) {
        return THEUS_KIND_SCALAR;
    }
    if (tp == &PyDict_Type) {
        return THEUS_KIND_DICT;
    }
    if (tp == &PyList_Type) {
        return THEUS_KIND_LIST;
    }
    if (tp == &PyTuple_Type || tp == &PyFrozenSet_Type) {
        int s = all_scalar_items(v, depth);
        if (s < 0) {
            return THEUS_KIND_ERROR;
        }
        return s ? THEUS_KIND_SCALAR : (tp == &PyTuple_Type ? THEUS_KIND_TUPLE : THEUS_KIND_SET);
    }
    if (is_data_view(tp) || is_other_view(tp)) {
        return THEUS_KIND_VIEW;
    }
    if (tp == &theus_HeavyValue_Type) {
        return THEUS_KIND_BUFFER;
    }
    if (tp == &theus_HeavyRef_Type) {
        return THEUS_KIND_REFUSED;
    }
    if (tp == &PySet_Type) {
        return THEUS_KIND_SET;
    }
    if (tp == &PyRange_Type || tp == &PySlice_Type || PyType_Check(v) || PyModule_Check(v) ||
        PyFunction_Check(v) || PyCFunction_Check(v) || PyMethod_Check(v) || v == Py_Ellipsis ||
        v == Py_NotImplemented) {
        return THEUS_KIND_SCALAR;
    }
    if (PyDict_Check(v)) {
        return THEUS_KIND_DICT;
    }
    if (PyList_Check(v)) {
        return THEUS_KIND_LIST;
    }
    if (PyTuple_Check(v) || PyFrozenSet_Check(v)) {
        int s = all_scalar_items(v, depth);
        if (s < 0) {
            return THEUS_KIND_ERROR;
        }
        return s ? THEUS_KIND_SCALAR : (PyTuple_Check(v) ? THEUS_KIND_NAMEDTUPLE : THEUS_KIND_SET);
    }
    if (PyAnySet_Check(v)) {
        return THEUS_KIND_SET;
    }
    if (PyUnicode_Check(v) || PyLong_Check(v) || PyFloat_Check(v) || PyBytes_Check(v) ||
        PyComplex_Check(v) || is_enum_member(tp)) {
        return THEUS_KIND_SCALAR;
    }
    if (theus_is_ndarray(tp)) {
        return ndarray_kind(v, flags);
    }
    if (PyByteArray_Check(v) || PyMemoryView_Check(v) || has_base(tp, "array.array")) {
        return THEUS_KIND_BUFFER;
    }
    if ((deque_type != NULL && PyObject_TypeCheck(v, deque_type)) || PyCoro_CheckExact(v) ||
        PyGen_Check(v) || PyAsyncGen_CheckExact(v)) {
        return THEUS_KIND_REFUSED;
    }
    if (namespace_type != NULL && PyObject_TypeCheck(v, namespace_type)) {
        return THEUS_KIND_OBJECT;
    }
    if (PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE) &&
        (tp->tp_dictoffset != 0 || theus_lookup_type(tp, str_slots) != NULL)) {
        if (tp->tp_hash == PyBaseObject_Type.tp_hash || tp->tp_hash == PyObject_HashNotImplemented) {
            return THEUS_KIND_OBJECT;
        }
        return value_object_kind(v, depth);
    }
    if (is_writable_buffer(v)) {
        /* a buffer exporter theus does not know how to copy: readable as a read-only
           memoryview, but a commit cannot take a private copy of it */
        return (flags & THEUS_KIND_COMMIT) ? THEUS_KIND_REFUSED : THEUS_KIND_BUFFER;
    }
    return THEUS_KIND_OPAQUE;
}

theus_kind_t
theus_kind_classify(PyObject *v, int flags)
{
    return kind_at(v, flags, 0);
}

int
theus_is_value_object(PyObject *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    return PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE) && !is_enum_member(tp) && !PyType_Check(v) &&
           (tp->tp_dictoffset != 0 || theus_lookup_type(tp, str_slots) != NULL) &&
           !PyTuple_Check(v) && !PyFrozenSet_Check(v) && !PyLong_Check(v) && !PyFloat_Check(v) &&
           !PyUnicode_Check(v) && !PyBytes_Check(v) && !PyComplex_Check(v);
}

/* type_label returns a new str naming v's type for messages: "collections.deque",
   "numpy.ma.MaskedArray", "mymodule.Order". */
static PyObject *
type_label(PyObject *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    if (!PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE)) {
        return PyUnicode_FromString(tp->tp_name);
    }
    PyObject *mod = PyObject_GetAttrString((PyObject *)tp, "__module__");
    PyObject *qual = PyObject_GetAttrString((PyObject *)tp, "__qualname__");
    PyObject *out = NULL;
    if (mod != NULL && qual != NULL && PyUnicode_Check(mod) && PyUnicode_Check(qual)) {
        out = PyUnicode_CompareWithASCIIString(mod, "builtins") == 0
                  ? (Py_INCREF(qual), qual)
                  : PyUnicode_FromFormat("%U.%U", mod, qual);
    }
    else {
        PyErr_Clear();
        out = PyUnicode_FromString(tp->tp_name);
    }
    Py_XDECREF(mod);
    Py_XDECREF(qual);
    return out;
}

PyObject *
theus_refusal_text(PyObject *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    PyObject *label = type_label(v);
    if (label == NULL) {
        return NULL;
    }
    const char *why;
    if (tp == &theus_HeavyRef_Type) {
        why = "theus.heavy.adopt(x) and theus.heavy.copy(x) mark a value written at a heavy.* "
              "path; write it under the heavy zone, or store the value itself";
    }
    else if (tp == &theus_Context_Type) {
        why = "the process context is a view, not data; return the values themselves";
    }
    else if (tp == &theus_ScopedView_Type) {
        why = "a zone view of the process context is not data; return its values, or "
              "view.to_dict() for a copy";
    }
    else if (is_other_view(tp)) {
        why = "a view or iterator of theus state is not data; store list(...) or dict(...) of it";
    }
    else if (deque_type != NULL && PyObject_TypeCheck(v, deque_type)) {
        why = "it is mutable and has no read-only view; store a list or tuple instead";
    }
    else if (PyCoro_CheckExact(v) || PyAsyncGen_CheckExact(v)) {
        why = "it is not data (an un-awaited coroutine?); await it and store its result";
    }
    else if (PyGen_Check(v)) {
        why = "a generator is not data; store list(...) of it";
    }
    else if (has_base(tp, "MaskedArray")) {
        why = "its mask would be lost by a read-only view; store the data and the mask as two "
              "arrays (arr.data, arr.mask) or arr.filled(...)";
    }
    else if (has_base(tp, "memmap")) {
        why = "a memory-mapped array is backed by a file theus cannot freeze; store np.array(m)";
    }
    else if (theus_is_ndarray(tp)) {
        why = "a numpy object array may hold only immutable values (numbers, str, None, ...), "
              "or its elements would be shared mutable objects; store a list instead";
    }
    else if (is_writable_buffer(v)) {
        why = "theus cannot take a private copy of this buffer; store bytes(x), a bytearray "
              "or a numpy array";
    }
    else {
        why = "theus cannot store it";
    }
    PyObject *out = PyUnicode_FromFormat("cannot store a %U (%s)", label, why);
    Py_DECREF(label);
    return out;
}

/* ---- freezing on read ---- */

static int
load_numpy(void)
{
    if (numpy_asarray != NULL) {
        return 0;
    }
    PyObject *np = PyImport_ImportModule("numpy");
    if (np == NULL) {
        return -1;
    }
    numpy_frombuffer = PyObject_GetAttrString(np, "frombuffer");
    numpy_asarray = numpy_frombuffer ? PyObject_GetAttrString(np, "asarray") : NULL;
    Py_DECREF(np);
    return numpy_asarray == NULL ? -1 : 0;
}

/* readonly_memoryview returns memoryview(FrozenBuffer(obj)). */
static PyObject *
readonly_memoryview(PyObject *obj)
{
    PyObject *fb = theus_wrap(&theus_FrozenBuffer_Type, obj);
    if (fb == NULL) {
        return NULL;
    }
    PyObject *mv = PyMemoryView_FromObject(fb);
    Py_DECREF(fb);
    return mv;
}

static int
set_readonly(PyObject *arr)
{
    PyObject *kw = Py_BuildValue("{s:O}", "write", Py_False);
    PyObject *args = PyTuple_New(0);
    PyObject *meth = PyObject_GetAttr(arr, str_setflags);
    PyObject *r = (kw && args && meth) ? PyObject_Call(meth, args, kw) : NULL;
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(meth);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* bytes_backed returns an array with c's dtype and shape over an immutable bytes copy of its
   memory: unlike an array that owns its memory, it can never be made writeable again. */
static PyObject *
bytes_backed(PyObject *c)
{
    PyObject *raw = PyObject_CallMethod(c, "tobytes", NULL);
    PyObject *dtype = raw ? PyObject_GetAttr(c, str_dtype) : NULL;
    PyObject *flat = dtype ? PyObject_CallFunctionObjArgs(numpy_frombuffer, raw, dtype, NULL) : NULL;
    PyObject *shape = flat ? PyObject_GetAttrString(c, "shape") : NULL;
    PyObject *out = shape ? PyObject_CallMethod(flat, "reshape", "O", shape) : NULL;
    Py_XDECREF(raw);
    Py_XDECREF(dtype);
    Py_XDECREF(flat);
    Py_XDECREF(shape);
    return out;
}

/* readonly_array_copy is the fallback for arrays that cannot be exported as buffers (object
   and datetime dtypes, structured dtypes the buffer format cannot describe): a plain copy
   (numpy.asarray first, so no subclass hook sees the committed array), marked read-only, over
   immutable bytes when it holds no objects. */
static PyObject *
readonly_array_copy(PyObject *arr)
{
    PyObject *plain = PyObject_CallOneArg(numpy_asarray, arr);
    if (plain == NULL) {
        return NULL;
    }
    PyObject *c = PyObject_CallMethodNoArgs(plain, str_copy);
    Py_DECREF(plain);
    if (c == NULL) {
        return NULL;
    }
    int objects = array_has_objects(c);
    if (objects == 0) {
        PyObject *out = bytes_backed(c);
        Py_DECREF(c);
        return out;
    }
    if (objects < 0 || set_readonly(c) < 0) {
        Py_DECREF(c);
        return NULL;
    }
    /* a view of the read-only copy: its own WRITEABLE flag cannot be turned back on */
    PyObject *v = PyObject_CallMethodNoArgs(c, str_view);
    Py_DECREF(c);
    return v;
}

/* reinterpreted is the read-only array for a dtype the buffer protocol cannot carry (datetime,
   structs with gaps, void): arr's memory exported as fixed-size byte strings of the same item
   size, viewed back as arr's dtype. Same memory, same strides, read-only. */
static PyObject *
reinterpreted(PyObject *arr)
{
    PyObject *dtype = PyObject_GetAttr(arr, str_dtype);
    PyObject *size = dtype ? PyObject_GetAttrString(dtype, "itemsize") : NULL;
    Py_ssize_t n = size ? PyLong_AsSsize_t(size) : -1;
    Py_XDECREF(size);
    if (n <= 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "zero item size");
        }
        Py_XDECREF(dtype);
        return NULL;
    }
    PyObject *plain = PyObject_CallOneArg(numpy_asarray, arr);
    PyObject *code = plain ? PyUnicode_FromFormat("S%zd", n) : NULL;
    PyObject *raw = code ? PyObject_CallMethodOneArg(plain, str_view, code) : NULL;
    PyObject *mv = raw ? readonly_memoryview(raw) : NULL;
    PyObject *ro = mv ? PyObject_CallOneArg(numpy_asarray, mv) : NULL;
    PyObject *out = ro ? PyObject_CallMethodOneArg(ro, str_view, dtype) : NULL;
    Py_XDECREF(dtype);
    Py_XDECREF(plain);
    Py_XDECREF(code);
    Py_XDECREF(raw);
    Py_XDECREF(mv);
    Py_XDECREF(ro);
    return out;
}

static int
export_failed(void)
{
    return PyErr_ExceptionMatches(PyExc_BufferError) || PyErr_ExceptionMatches(PyExc_ValueError) ||
           PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_NotImplementedError) ||
           PyErr_ExceptionMatches(PyExc_RuntimeError);
}

/* readonly_plain_array returns a read-only numpy.ndarray with arr's dtype and shape over arr's
   memory (through a FrozenBuffer over exporter: arr itself, or the HeavyValue holding it), or
   a read-only copy when no buffer can carry them. */
static PyObject *
readonly_plain_array(PyObject *arr, PyObject *exporter)
{
    int objects = array_has_objects(arr);
    if (objects < 0) {
        return NULL;
    }
    if (!objects) {
        PyObject *mv = readonly_memoryview(exporter);
        PyObject *out = mv ? PyObject_CallOneArg(numpy_asarray, mv) : NULL;
        Py_XDECREF(mv);
        if (out != NULL) {
            PyObject *d1 = PyObject_GetAttr(out, str_dtype);
            PyObject *d2 = d1 ? PyObject_GetAttr(arr, str_dtype) : NULL;
            int same = d2 ? PyObject_RichCompareBool(d1, d2, Py_EQ) : -1;
            Py_XDECREF(d1);
            Py_XDECREF(d2);
            if (same == 1) {
                return out;
            }
            Py_DECREF(out);
            if (same < 0) {
                return NULL;
            }
        }
        else if (!export_failed()) {
            return NULL;
        }
        PyErr_Clear();
        out = reinterpreted(arr);
        if (out != NULL) {
            return out;
        }
        if (!export_failed()) {
            return NULL;
        }
        PyErr_Clear();
    }
    return readonly_array_copy(arr);
}

/* freeze_ndarray: a read-only array of the same type (a subclass is a view of the read-only
   plain array, so its hooks only ever see read-only memory). */
static PyObject *
freeze_ndarray(PyObject *arr, PyObject *exporter)
{
    if (load_numpy() < 0) {
        return NULL;
    }
    PyObject *plain = readonly_plain_array(arr, exporter);
    if (plain == NULL || Py_IS_TYPE(plain, Py_TYPE(arr)) ||
        strcmp(Py_TYPE(arr)->tp_name, "numpy.ndarray") == 0) {
        return plain;
    }
    PyObject *out = PyObject_CallMethodOneArg(plain, str_view, (PyObject *)Py_TYPE(arr));
    Py_DECREF(plain);
    return out;
}

PyObject *
theus_freeze_buffer(PyObject *obj)
{
    if (Py_IS_TYPE(obj, &theus_HeavyValue_Type)) {
        PyObject *inner = theus_heavy_inner(obj);
        if (theus_heavy_is_array(obj)) {
            return freeze_ndarray(inner, obj);
        }
        if (PyBytes_CheckExact(inner)) { /* immutable: read as itself, as bytes are elsewhere */
            Py_INCREF(inner);
            return inner;
        }
        return readonly_memoryview(obj);
    }
    if (theus_is_ndarray(Py_TYPE(obj))) {
        return freeze_ndarray(obj, obj);
    }
    return readonly_memoryview(obj);
}

/* freeze_namedtuple: the same tuple subclass, its items frozen (tuple.__new__(type, items):
   the class's own __new__ does not run). */
static PyObject *
freeze_namedtuple(PyObject *obj)
{
    Py_ssize_t n = PyTuple_GET_SIZE(obj);
    PyObject *items = PyTuple_New(n);
    if (items == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = theus_freeze_fast(PyTuple_GET_ITEM(obj, i));
        if (f == NULL) {
            Py_DECREF(items);
            return NULL;
        }
        PyTuple_SET_ITEM(items, i, f);
    }
    PyObject *out = theus_tuple_of_type(Py_TYPE(obj), items);
    Py_DECREF(items);
    return out;
}

PyObject *
theus_tuple_of_type(PyTypeObject *tp, PyObject *items)
{
    PyObject *args = PyTuple_Pack(1, items);
    if (args == NULL) {
        return NULL;
    }
    PyObject *out = PyTuple_Type.tp_new(tp, args, NULL);
    Py_DECREF(args);
    return out;
}

/* set_items returns a new list of the items of a set or frozenset (no __iter__ override runs). */
PyObject *
theus_set_items(PyObject *obj)
{
    PyObject *items = PyList_New(0);
    if (items == NULL) {
        return NULL;
    }
    Py_ssize_t pos = 0;
    PyObject *item;
    Py_hash_t hash;
    while (_PySet_NextEntry(obj, &pos, &item, &hash)) {
        if (PyList_Append(items, item) < 0) {
            Py_DECREF(items);
            return NULL;
        }
    }
    return items;
}

/* freeze_set: a frozenset of the frozen items. */
static PyObject *
freeze_set(PyObject *obj)
{
    PyObject *items = theus_set_items(obj); /* hashing a frozen item may run user code */
    PyObject *out = items ? PyFrozenSet_New(NULL) : NULL;
    for (Py_ssize_t i = 0; out != NULL && i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        theus_kind_t k = theus_kind_classify(item, 0);
        PyObject *f = k == THEUS_KIND_ERROR ? NULL
                      : (k == THEUS_KIND_SCALAR || k == THEUS_KIND_OPAQUE) ? (Py_INCREF(item), item)
                      : theus_freeze_fast(item);
        if (f == NULL || PySet_Add(out, f) < 0) {
            Py_CLEAR(out);
        }
        Py_XDECREF(f);
    }
    Py_XDECREF(items);
    return out;
}

static PyObject *
refuse_read(PyObject *obj)
{
    PyObject *why = theus_refusal_text(obj);
    if (why != NULL) {
        PyErr_Format(theus_ContextError, "read-only view: %U; theus hands out no mutable object", why);
        Py_DECREF(why);
    }
    return NULL;
}

PyObject *
theus_freeze_slow(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    /* the common containers first, without classifying */
    if (tp == &PyDict_Type) {
        return theus_wrap(&theus_FrozenDict_Type, obj);
    }
    if (tp == &PyList_Type || tp == &PyTuple_Type) { /* a tuple of scalars too: one read type */
        return theus_wrap(&theus_FrozenList_Type, obj);
    }
    switch (theus_kind_classify(obj, 0)) {
    case THEUS_KIND_ERROR:
        return NULL;
    case THEUS_KIND_SCALAR:
    case THEUS_KIND_OPAQUE:
    case THEUS_KIND_VIEW:
        Py_INCREF(obj);
        return obj;
    case THEUS_KIND_DICT:
        return theus_wrap(&theus_FrozenDict_Type, obj);
    case THEUS_KIND_LIST:
    case THEUS_KIND_TUPLE:
        return theus_wrap(&theus_FrozenList_Type, obj);
    case THEUS_KIND_NAMEDTUPLE:
        return freeze_namedtuple(obj);
    case THEUS_KIND_SET:
        return freeze_set(obj);
    case THEUS_KIND_BUFFER:
        return theus_freeze_buffer(obj);
    case THEUS_KIND_OBJECT:
        return theus_wrap(&theus_FrozenObject_Type, obj);
    case THEUS_KIND_REFUSED:
        return refuse_read(obj);
    }
    Py_UNREACHABLE();
}

PyObject *
theus_freeze(PyObject *obj)
{
    return theus_freeze_fast(obj);
}

static PyTypeObject *
import_type(const char *module, const char *name)
{
    PyObject *mod = PyImport_ImportModule(module);
    if (mod == NULL) {
        return NULL;
    }
    PyObject *t = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    if (t != NULL && !PyType_Check(t)) {
        Py_DECREF(t);
        PyErr_Format(PyExc_TypeError, "%s.%s is not a type", module, name);
        return NULL;
    }
    return (PyTypeObject *)t; /* kept for the life of the process */
}

int
theus_classify_init(void)
{
#define INTERN(var, text) if (var == NULL && (var = PyUnicode_InternFromString(text)) == NULL) return -1;
    INTERN(str_slots, "__slots__");
    INTERN(str_setflags, "setflags");
    INTERN(str_copy, "copy");
    INTERN(str_dtype, "dtype");
    INTERN(str_hasobject, "hasobject");
    INTERN(str_view, "view");
    INTERN(str_flat, "flat");
#undef INTERN
    if (deque_type == NULL && (deque_type = import_type("collections", "deque")) == NULL) {
        return -1;
    }
    if (namespace_type == NULL && (namespace_type = import_type("types", "SimpleNamespace")) == NULL) {
        return -1;
    }
    return 0;
}
