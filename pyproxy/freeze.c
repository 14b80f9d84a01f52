/* freeze.c: turning committed Python objects into read-only views, and back into plain data.
 *
 * What a read returns (theus_freeze):
 *   - int, str, float, bool, None, bytes, complex, frozenset, range, types, modules, functions
 *     and subclasses of the scalar types: the object itself (immutable, or not data).
 *   - dict (and subclasses) -> FrozenDict; list and tuple -> FrozenList. A tuple subclass
 *     (namedtuple) whose items are all returned as themselves stays as it is, so its field
 *     names keep working; otherwise it becomes a FrozenList.
 *   - set -> frozenset (a shallow copy: set items are hashable, hence treated as immutable).
 *   - numpy.ndarray -> a read-only ndarray over the same memory, built on a FrozenBuffer, so
 *     neither `.base` nor `flags.writeable = True` reaches writable memory. Arrays numpy cannot
 *     export through the buffer protocol (object and datetime dtypes) come back as a read-only
 *     copy; elements of an object array are shared by reference.
 *   - bytearray, memoryview and any other writable buffer -> a read-only memoryview whose `.obj`
 *     is a FrozenBuffer, never the writable exporter.
 *   - instances of classes written in Python (heap types with a __dict__ or __slots__) that
 *     keep identity semantics (no __hash__ of their own, or __hash__ = None as a mutable
 *     dataclass has) -> FrozenObject, a read-only attribute proxy.
 *     A class that defines __hash__ declares value semantics (frozen dataclasses, Enum members,
 *     Fraction, UUID, pathlib paths): its instances are returned as they are.
 *   - anything else (instances of C extension types other than the above) is passed by
 *     reference: theus cannot know how to make it read-only.
 *
 * Why the views are not GC-tracked: gc.get_referents(x) returns exactly what x's tp_traverse
 * visits, so a tracked view would hand the wrapped object to anyone who asks. A view can only
 * be part of a reference cycle if the data it wraps refers back to the view. Views are created
 * on read and never stored into committed data by theus, and the data is reachable only
 * through views, which cannot store anything; so a view is never on a cycle, and plain
 * reference counting frees it. (Code holding the raw mutable data outside theus could put a
 * view inside it and build a cycle; that cycle would leak, never crash.) The views therefore
 * have no Py_TPFLAGS_HAVE_GC and no tp_traverse, and gc.get_referents(view) is [].
 */
#include "internal.h"

PyObject *theus_ContextError = NULL;
PyObject *theus_ContractViolationError = NULL;

static PyObject *numpy_asarray = NULL;     /* numpy.asarray, looked up on first array */
static PyObject *numpy_array_equal = NULL; /* numpy.array_equal */
static PyObject *copy_deepcopy = NULL;     /* copy.deepcopy */
static PyObject *str_slots = NULL;         /* "__slots__" */
static PyObject *str_dict = NULL;          /* "__dict__" */
static PyObject *str_setflags = NULL;      /* "setflags" */
static PyObject *str_copy = NULL;          /* "copy" */
static PyObject *str_dtype = NULL;         /* "dtype" */
static PyObject *str_hasobject = NULL;     /* "hasobject" */

PyObject *
theus_raise_readonly(const char *what, const char *action)
{
    PyErr_Format(theus_ContextError, "%s is read-only (cannot %s): " THEUS_READONLY_FIX,
                 what, action);
    return NULL;
}

PyObject *
theus_raise_readonly_obj(const char *what, const char *verb, PyObject *name)
{
    PyErr_Format(theus_ContextError, "%s is read-only (cannot %s %R): " THEUS_READONLY_FIX,
                 what, verb, name);
    return NULL;
}

int
theus_raise_readonly_int(const char *what, const char *action)
{
    theus_raise_readonly(what, action);
    return -1;
}

PyObject *
theus_wrap(PyTypeObject *type, PyObject *obj)
{
    theus_View *v = PyObject_New(theus_View, type);
    if (v == NULL) {
        return NULL;
    }
    Py_INCREF(obj);
    v->data = obj;
    v->weakrefs = NULL;
    return (PyObject *)v;
}

void
theus_view_dealloc(theus_View *self)
{
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    Py_DECREF(self->data);
    PyObject_Free(self);
}

PyObject *
theus_keyword_fallback(PyObject *name)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    if (n < 2 || PyUnicode_READ_CHAR(name, n - 1) != '_' || PyUnicode_READ_CHAR(name, n - 2) == '_') {
        return NULL;
    }
    return PyUnicode_Substring(name, 0, n - 1);
}

void
theus_set_key_error(PyObject *key)
{
    PyObject *t = PyTuple_Pack(1, key);
    if (t != NULL) {
        PyErr_SetObject(PyExc_KeyError, t);
        Py_DECREF(t);
    }
}

int
theus_is_dict_name(PyObject *name)
{
    return PyUnicode_Check(name) && PyUnicode_Compare(name, str_dict) == 0;
}

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
    numpy_asarray = PyObject_GetAttrString(np, "asarray");
    numpy_array_equal = numpy_asarray ? PyObject_GetAttrString(np, "array_equal") : NULL;
    Py_DECREF(np);
    if (numpy_array_equal == NULL) {
        Py_CLEAR(numpy_asarray);
        return -1;
    }
    return 0;
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

/* readonly_copy is the fallback for arrays that cannot be exported as buffers. */
static PyObject *
readonly_array_copy(PyObject *arr)
{
    PyObject *c = PyObject_CallMethodNoArgs(arr, str_copy);
    if (c == NULL) {
        return NULL;
    }
    PyObject *kw = Py_BuildValue("{s:O}", "write", Py_False);
    PyObject *args = PyTuple_New(0);
    PyObject *meth = PyObject_GetAttr(c, str_setflags);
    PyObject *r = (kw && args && meth) ? PyObject_Call(meth, args, kw) : NULL;
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(meth);
    if (r == NULL) {
        Py_DECREF(c);
        return NULL;
    }
    Py_DECREF(r);
    return c;
}

static PyObject *
freeze_ndarray(PyObject *arr)
{
    if (load_numpy() < 0) {
        return NULL;
    }
    PyObject *dtype = PyObject_GetAttr(arr, str_dtype);
    if (dtype == NULL) {
        return NULL;
    }
    PyObject *hasobj = PyObject_GetAttr(dtype, str_hasobject);
    Py_DECREF(dtype);
    if (hasobj == NULL) {
        return NULL;
    }
    int objects = PyObject_IsTrue(hasobj);
    Py_DECREF(hasobj);
    if (objects < 0) {
        return NULL;
    }
    if (!objects) {
        PyObject *mv = readonly_memoryview(arr);
        if (mv != NULL) {
            PyObject *out = PyObject_CallOneArg(numpy_asarray, mv);
            Py_DECREF(mv);
            if (out != NULL) {
                return out;
            }
        }
        if (!PyErr_ExceptionMatches(PyExc_BufferError) && !PyErr_ExceptionMatches(PyExc_ValueError) &&
            !PyErr_ExceptionMatches(PyExc_TypeError) && !PyErr_ExceptionMatches(PyExc_NotImplementedError)) {
            return NULL;
        }
        PyErr_Clear();
    }
    return readonly_array_copy(arr);
}

/* is_writable_buffer reports whether obj exports a writable buffer. */
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

/* wants_object_proxy: instances of Python classes with attributes and identity semantics. */
static int
wants_object_proxy(PyTypeObject *tp)
{
    if (!PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE)) {
        return 0;
    }
    if (tp->tp_hash != PyBaseObject_Type.tp_hash && tp->tp_hash != PyObject_HashNotImplemented) {
        return 0;
    }
    return tp->tp_dictoffset != 0 || theus_lookup_type(tp, str_slots) != NULL;
}

static int
is_view_type(PyTypeObject *tp)
{
    return tp == &theus_FrozenDict_Type || tp == &theus_FrozenList_Type ||
           tp == &theus_FrozenObject_Type || tp == &theus_FrozenBuffer_Type ||
           tp == &theus_ScopedView_Type || tp == &theus_Context_Type ||
           tp == &theus_DictKeys_Type || tp == &theus_DictValues_Type ||
           tp == &theus_DictItems_Type;
}

PyObject *
theus_freeze_slow(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == &PyDict_Type) {
        return theus_wrap(&theus_FrozenDict_Type, obj);
    }
    if (tp == &PyList_Type || tp == &PyTuple_Type) {
        return theus_wrap(&theus_FrozenList_Type, obj);
    }
    if (is_view_type(tp) || tp == &PyBytes_Type || tp == &PyComplex_Type ||
        tp == &PyFrozenSet_Type || tp == &PyRange_Type || tp == &PySlice_Type) {
        Py_INCREF(obj);
        return obj;
    }
    if (PyDict_Check(obj)) {
        return theus_wrap(&theus_FrozenDict_Type, obj);
    }
    if (PyList_Check(obj)) {
        return theus_wrap(&theus_FrozenList_Type, obj);
    }
    if (PyTuple_Check(obj)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(obj); i++) {
            PyObject *item = PyTuple_GET_ITEM(obj, i);
            PyObject *f = theus_freeze_fast(item);
            if (f == NULL) {
                return NULL;
            }
            Py_DECREF(f);
            if (f != item) {
                return theus_wrap(&theus_FrozenList_Type, obj);
            }
        }
        Py_INCREF(obj);
        return obj;
    }
    if (PyAnySet_Check(obj)) {
        if (PyFrozenSet_Check(obj)) {
            Py_INCREF(obj);
            return obj;
        }
        return PyFrozenSet_New(obj);
    }
    if (PyUnicode_Check(obj) || PyLong_Check(obj) || PyFloat_Check(obj) || PyBytes_Check(obj) ||
        PyComplex_Check(obj) || PyType_Check(obj) || PyModule_Check(obj)) {
        Py_INCREF(obj);
        return obj;
    }
    if (theus_is_ndarray(tp)) {
        return freeze_ndarray(obj);
    }
    if (PyByteArray_Check(obj) || PyMemoryView_Check(obj) || is_writable_buffer(obj)) {
        return readonly_memoryview(obj);
    }
    if (wants_object_proxy(tp)) {
        return theus_wrap(&theus_FrozenObject_Type, obj);
    }
    Py_INCREF(obj);
    return obj;
}

PyObject *
theus_freeze(PyObject *obj)
{
    return theus_freeze_fast(obj);
}

/* ---- thaw: deep copies as plain data ---- */

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

static PyObject *
thaw_dict(PyObject *obj, PyObject **memo)
{
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
        PyObject *c = theus_thaw(v, memo);
        int r = c ? PyDict_SetItem(out, k, c) : -1;
        Py_DECREF(k);
        Py_DECREF(v);
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
    if (memo_put(*memo, obj, out) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

static PyObject *
deepcopy_with_memo(PyObject *obj, PyObject *memo)
{
    if (copy_deepcopy == NULL) {
        PyObject *mod = PyImport_ImportModule("copy");
        if (mod == NULL) {
            return NULL;
        }
        copy_deepcopy = PyObject_GetAttrString(mod, "deepcopy");
        Py_DECREF(mod);
        if (copy_deepcopy == NULL) {
            return NULL;
        }
    }
    return PyObject_CallFunctionObjArgs(copy_deepcopy, obj, memo, NULL);
}

PyObject *theus_scopedview_to_dict(PyObject *self);

static PyObject *
thaw_inner(PyObject *obj, PyObject **memo)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == &theus_FrozenDict_Type || tp == &theus_FrozenList_Type ||
        tp == &theus_FrozenObject_Type || tp == &theus_FrozenBuffer_Type) {
        return theus_thaw(((theus_View *)obj)->data, memo);
    }
    if (tp == &theus_ScopedView_Type) {
        return theus_scopedview_to_dict(obj);
    }
    PyObject *found;
    if (memo_get(memo, obj, &found) < 0) {
        return NULL;
    }
    if (found != NULL) {
        return found;
    }
    if (PyDict_Check(obj)) {
        return thaw_dict(obj, memo);
    }
    if (PyList_Check(obj)) {
        return thaw_list(obj, memo);
    }
    if (PyTuple_Check(obj)) {
        if (tp != &PyTuple_Type) { /* namedtuple and friends: let copy rebuild the type */
            return deepcopy_with_memo(obj, *memo);
        }
        return thaw_tuple(obj, memo);
    }
    if (PyAnySet_Check(obj)) {
        if (PyFrozenSet_Check(obj)) {
            Py_INCREF(obj);
            return obj;
        }
        PyObject *s = PySet_New(obj);
        if (s != NULL && memo_put(*memo, obj, s) < 0) {
            Py_CLEAR(s);
        }
        return s;
    }
    if (PyUnicode_Check(obj) || PyLong_Check(obj) || PyFloat_Check(obj) || PyBytes_Check(obj) ||
        PyComplex_Check(obj) || PyType_Check(obj) || PyModule_Check(obj)) {
        Py_INCREF(obj);
        return obj;
    }
    if (theus_is_ndarray(tp)) {
        PyObject *c = PyObject_CallMethodNoArgs(obj, str_copy);
        if (c != NULL && memo_put(*memo, obj, c) < 0) {
            Py_CLEAR(c);
        }
        return c;
    }
    if (PyByteArray_Check(obj) || PyMemoryView_Check(obj)) {
        PyObject *c = PyByteArray_FromObject(obj);
        if (c != NULL && memo_put(*memo, obj, c) < 0) {
            Py_CLEAR(c);
        }
        return c;
    }
    if (wants_object_proxy(tp) || is_writable_buffer(obj)) {
        return deepcopy_with_memo(obj, *memo);
    }
    Py_INCREF(obj);
    return obj;
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
    if (Py_EnterRecursiveCall(" while copying a theus view")) {
        return NULL;
    }
    PyObject *out = thaw_inner(obj, memo);
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

/* ---- module functions and init ---- */

static PyObject *
module_freeze(PyObject *module, PyObject *obj)
{
    (void)module;
    return theus_freeze(obj);
}

static PyObject *
module_context(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *values, *version, *extras = Py_None;
    if (!PyArg_ParseTuple(args, "O!O|O:_context", &PyDict_Type, &values, &version, &extras)) {
        return NULL;
    }
    if (extras != Py_None && !PyDict_Check(extras)) {
        PyErr_SetString(PyExc_TypeError, "_context: extras must be a dict or None");
        return NULL;
    }
    return theus_context_new(values, version, extras, NULL);
}

static PyMethodDef module_methods[] = {
    {"_freeze", (PyCFunction)module_freeze, METH_O,
     PyDoc_STR("_freeze(obj) -> the read-only view a process would read for obj (testing hook).")},
    {"_context", (PyCFunction)module_context, METH_VARARGS,
     PyDoc_STR("_context(values, version, extras=None) -> a process context (testing hook).\n\n"
               "values maps declared dotted paths to committed values; extras maps attribute\n"
               "names to objects exposed as they are.")},
    {NULL, NULL, 0, NULL},
};

static int
register_abc(const char *abc_name, PyObject *type)
{
    PyObject *mod = PyImport_ImportModule("collections.abc");
    if (mod == NULL) {
        return -1;
    }
    PyObject *abc = PyObject_GetAttrString(mod, abc_name);
    Py_DECREF(mod);
    if (abc == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethod(abc, "register", "O", type);
    Py_DECREF(abc);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int
intern_strings(void)
{
#define INTERN(var, text) if (var == NULL && (var = PyUnicode_InternFromString(text)) == NULL) return -1;
    INTERN(str_slots, "__slots__");
    INTERN(str_dict, "__dict__");
    INTERN(str_setflags, "setflags");
    INTERN(str_copy, "copy");
    INTERN(str_dtype, "dtype");
    INTERN(str_hasobject, "hasobject");
#undef INTERN
    return 0;
}

int theus_context_init(void);
int theus_frozenobject_init(void);
int theus_frozendict_init(void);

int
theus_proxy_init(PyObject *module, PyObject *context_error, PyObject *contract_error)
{
    if (context_error == NULL || contract_error == NULL ||
        !PyExceptionClass_Check(context_error) || !PyExceptionClass_Check(contract_error)) {
        PyErr_SetString(PyExc_TypeError, "theus_proxy_init: exception classes required");
        return -1;
    }
    Py_INCREF(context_error);
    Py_XSETREF(theus_ContextError, context_error);
    Py_INCREF(contract_error);
    Py_XSETREF(theus_ContractViolationError, contract_error);
    if (intern_strings() < 0 || theus_frozenobject_init() < 0 || theus_context_init() < 0) {
        return -1;
    }
    struct {
        PyTypeObject *type;
        const char *name; /* NULL: readied, not added to the module */
    } types[] = {
        {&theus_FrozenDict_Type, "FrozenDict"},
        {&theus_FrozenList_Type, "FrozenList"},
        {&theus_FrozenObject_Type, "FrozenObject"},
        {&theus_FrozenBuffer_Type, "FrozenBuffer"},
        {&theus_Context_Type, "Context"},
        {&theus_ScopedView_Type, "ScopedView"},
        {&theus_DictKeys_Type, NULL},
        {&theus_DictValues_Type, NULL},
        {&theus_DictItems_Type, NULL},
        {&theus_DictIter_Type, NULL},
        {&theus_ListIter_Type, NULL},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (PyType_Ready(types[i].type) < 0) {
            return -1;
        }
        if (types[i].name != NULL) {
            Py_INCREF(types[i].type);
            if (PyModule_AddObject(module, types[i].name, (PyObject *)types[i].type) < 0) {
                Py_DECREF(types[i].type);
                return -1;
            }
        }
    }
    if (theus_frozendict_init() < 0) {
        return -1;
    }
    if (register_abc("Mapping", (PyObject *)&theus_FrozenDict_Type) < 0 ||
        register_abc("Sequence", (PyObject *)&theus_FrozenList_Type) < 0 ||
        register_abc("KeysView", (PyObject *)&theus_DictKeys_Type) < 0 ||
        register_abc("ValuesView", (PyObject *)&theus_DictValues_Type) < 0 ||
        register_abc("ItemsView", (PyObject *)&theus_DictItems_Type) < 0) {
        return -1;
    }
    return PyModule_AddFunctions(module, module_methods);
}
