/* heavy.c: buffer ownership for the heavy zone. Every value written at a path under `heavy`
 * comes here (theus_own_heavy, reached from capi/py's tree conversion); values elsewhere keep
 * the commit copy of capi/py/own.c. The classifier (classify.c) still decides what kind a
 * value is; this file decides, for buffers only, whether a commit can take the caller's
 * memory by reference or must copy it, and it is the only place that does.
 *
 * The promise is the same as everywhere in theus: committed data cannot change without a
 * commit. A by-reference commit keeps it only if nothing the caller holds can still write the
 * memory, so each kind of value is taken as follows:
 *   - numpy arrays: the .base chain (through memoryviews, FrozenBuffers and the DummyArray of
 *     as_strided / sliding_window_view) is walked to the owner of the memory. When every link can
 *     be locked (ndarrays, which get writeable=False) and the chain ends in an array that owns
 *     its memory, in bytes, or in data theus already holds, the array is taken by reference
 *     and the chain is locked, so the caller's later writes raise. Any other owner (bytearray,
 *     mmap, a writable memoryview, ctypes, a DLPack capsule) cannot be locked: the array is
 *     copied, unless the caller wraps it in theus.heavy.adopt(x). Object arrays are refused
 *     (their elements are Python objects, not memory); masked arrays and memmaps keep the
 *     classifier's refusal.
 *   - bytes (and read-only memoryviews over bytes or over theus data): shared.
 *   - bytearray, mmap, array.array, writable memoryviews and other exporters: copied into
 *     immutable bytes (shape and format kept through a memoryview cast when possible), unless
 *     adopted, in which case the held export stops a bytearray resizing and an mmap closing.
 *   - torch CPU tensors: copied (detach().clone()), or taken as they are when adopted; stored
 *     as the numpy array torch shares over the tensor's memory.
 *   - None is kept as a placeholder; anything else is refused with a message naming its type.
 *
 * What is stored is a HeavyValue: the array or the buffer owner, plus, for buffers, a held
 * export. HeavyValues are counted (theus.heavy.stats()) so tests can see memory being
 * released, and they are read through a FrozenBuffer over the HeavyValue, so a read view
 * keeps the held export (and the count) alive as long as it lives. A HeavyValue is never
 * handed to Python code: reads freeze it (classify.c), thaws copy it.
 *
 * numpy leaves one deliberate way around the lock: whoever owns an array's memory can call
 * setflags(write=True) on it again, and views of the memory made before the commit keep their
 * own flags. Both are outside the promise (like ctypes); theus.heavy.copy(x) takes a private
 * copy for callers who want full isolation.
 */
#include "internal.h"

enum { MODE_DEFAULT = 0, MODE_ADOPT = 1, MODE_COPY = 2 };

/* ---- HeavyRef: theus.heavy.adopt(x) / theus.heavy.copy(x) ---- */

typedef struct {
    PyObject_HEAD
    PyObject *value;
    int mode;
} theus_HeavyRef;

static void
heavyref_dealloc(theus_HeavyRef *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->value);
    PyObject_GC_Del(self);
}

static int
heavyref_traverse(theus_HeavyRef *self, visitproc visit, void *arg)
{
    Py_VISIT(self->value);
    return 0;
}

static int
heavyref_clear(theus_HeavyRef *self)
{
    Py_CLEAR(self->value);
    return 0;
}

static PyObject *
heavyref_repr(theus_HeavyRef *self)
{
    return PyUnicode_FromFormat("theus.heavy.%s(<%.100s>)", self->mode == MODE_ADOPT ? "adopt" : "copy",
                                Py_TYPE(self->value)->tp_name);
}

PyTypeObject theus_HeavyRef_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.HeavyRef",
    .tp_basicsize = sizeof(theus_HeavyRef),
    .tp_dealloc = (destructor)heavyref_dealloc,
    .tp_repr = (reprfunc)heavyref_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
                Py_TPFLAGS_IMMUTABLETYPE,
    .tp_traverse = (traverseproc)heavyref_traverse,
    .tp_clear = (inquiry)heavyref_clear,
    .tp_doc = PyDoc_STR("A value marked for the heavy zone by theus.heavy.adopt(x) or\n"
                        "theus.heavy.copy(x); it only means something as the value of a heavy.* path."),
};

PyObject *
theus_heavy_ref(PyObject *value, int mode)
{
    if (mode != MODE_ADOPT && mode != MODE_COPY) {
        PyErr_SetString(PyExc_ValueError, "_heavy_ref: mode must be 1 (adopt) or 2 (copy)");
        return NULL;
    }
    if (Py_IS_TYPE(value, &theus_HeavyRef_Type)) {
        PyErr_SetString(PyExc_TypeError, "the value is already marked by theus.heavy.adopt or theus.heavy.copy");
        return NULL;
    }
    theus_HeavyRef *r = PyObject_GC_New(theus_HeavyRef, &theus_HeavyRef_Type);
    if (r == NULL) {
        return NULL;
    }
    Py_INCREF(value);
    r->value = value;
    r->mode = mode;
    PyObject_GC_Track(r);
    return (PyObject *)r;
}

/* ---- HeavyValue: what the state stores for a heavy leaf ---- */

typedef struct {
    PyObject_HEAD
    Py_ssize_t nbytes; /* first: capi/py reads it (theus_heavy_head) */
    PyObject *value;   /* an ndarray, or the owner of a buffer */
    PyObject *keep;  /* a torch tensor whose memory value shares, or NULL */
    PyObject *locked; /* the caller's arrays this commit made read-only (a list), or NULL */
    Py_buffer held;  /* the export held on a buffer owner (not for ndarrays) */
    int holding;
    int is_array;
} theus_HeavyValue;

_Static_assert(offsetof(theus_HeavyValue, nbytes) == offsetof(theus_heavy_head, nbytes),
               "a HeavyValue must begin as theus_heavy_head");

static Py_ssize_t live_values = 0;
static long long live_bytes = 0;

static void
heavyvalue_dealloc(theus_HeavyValue *self)
{
    live_values--;
    live_bytes -= self->nbytes;
    if (self->holding) {
        PyBuffer_Release(&self->held);
    }
    Py_XDECREF(self->keep);
    Py_XDECREF(self->locked);
    Py_DECREF(self->value);
    PyObject_Free(self);
}

static int
heavyvalue_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    return theus_readonly_getbuffer(self, ((theus_HeavyValue *)self)->value, view, flags, "heavy values");
}

static void
heavyvalue_releasebuffer(PyObject *self, Py_buffer *view)
{
    theus_readonly_releasebuffer(((theus_HeavyValue *)self)->value, view);
}

static PyBufferProcs heavyvalue_as_buffer = {
    .bf_getbuffer = heavyvalue_getbuffer,
    .bf_releasebuffer = heavyvalue_releasebuffer,
};

static PyObject *
heavyvalue_repr(theus_HeavyValue *self)
{
    return PyUnicode_FromFormat("<theus heavy value: %.100s, %zd bytes>", Py_TYPE(self->value)->tp_name, self->nbytes);
}

PyTypeObject theus_HeavyValue_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.HeavyValue",
    .tp_basicsize = sizeof(theus_HeavyValue),
    .tp_dealloc = (destructor)heavyvalue_dealloc,
    .tp_repr = (reprfunc)heavyvalue_repr,
    .tp_as_buffer = &heavyvalue_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .tp_doc = PyDoc_STR("A buffer held by the heavy zone (never handed out: reads freeze it)."),
};

PyObject *
theus_heavy_inner(PyObject *hv)
{
    return ((theus_HeavyValue *)hv)->value;
}

int
theus_heavy_is_array(PyObject *hv)
{
    return ((theus_HeavyValue *)hv)->is_array;
}

PyObject *
theus_heavy_stats(void)
{
    return Py_BuildValue("{s:n,s:L}", "values", live_values, "bytes", live_bytes);
}

/* ---- numpy helpers ---- */

static PyTypeObject *ndarray_type = NULL;
static PyObject *nd_base = NULL;     /* the descriptors of numpy.ndarray itself: a subclass */
static PyObject *nd_flags = NULL;    /* cannot redefine what theus reads or calls */
static PyObject *nd_nbytes = NULL;
static PyObject *nd_setflags = NULL;
static PyObject *nd_copy = NULL;
static PyObject *str_owndata = NULL;
static PyObject *str_writeable = NULL;
static PyObject *kw_writable = NULL; /* {"write": True} */
static PyObject *str_K = NULL;
static PyObject *kw_readonly = NULL; /* {"write": False} */

static int
load_ndarray(void)
{
    if (ndarray_type != NULL) {
        return 0;
    }
    PyObject *np = PyImport_ImportModule("numpy");
    if (np == NULL) {
        return -1;
    }
    PyObject *t = PyObject_GetAttrString(np, "ndarray");
    Py_DECREF(np);
    if (t == NULL) {
        return -1;
    }
    PyObject *d = theus_type_dict((PyTypeObject *)t);
    if (d == NULL) {
        Py_DECREF(t);
        PyErr_SetString(PyExc_RuntimeError, "numpy.ndarray has no attributes");
        return -1;
    }
#define DESCR(var, name)                                             \
    if ((var = PyDict_GetItemString(d, name)) == NULL) {             \
        Py_DECREF(d);                                                \
        Py_DECREF(t);                                                \
        PyErr_SetString(PyExc_RuntimeError, "numpy.ndarray." name " is missing"); \
        return -1;                                                   \
    }                                                                \
    Py_INCREF(var);
    DESCR(nd_base, "base");
    DESCR(nd_flags, "flags");
    DESCR(nd_nbytes, "nbytes");
    DESCR(nd_setflags, "setflags");
    DESCR(nd_copy, "copy");
#undef DESCR
    Py_DECREF(d);
    if ((str_owndata = PyUnicode_InternFromString("owndata")) == NULL ||
        (str_writeable = PyUnicode_InternFromString("writeable")) == NULL ||
        (kw_writable = Py_BuildValue("{s:O}", "write", Py_True)) == NULL ||
        (str_K = PyUnicode_InternFromString("K")) == NULL ||
        (kw_readonly = Py_BuildValue("{s:O}", "write", Py_False)) == NULL) {
        Py_DECREF(t);
        return -1;
    }
    ndarray_type = (PyTypeObject *)t; /* kept for the life of the process */
    return 0;
}

/* nd_get reads the ndarray attribute behind descriptor descr of arr (new reference). */
static PyObject *
nd_get(PyObject *descr, PyObject *arr)
{
    descrgetfunc get = Py_TYPE(descr)->tp_descr_get;
    if (get == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "numpy.ndarray attribute is not a descriptor");
        return NULL;
    }
    return get(descr, arr, (PyObject *)ndarray_type);
}

static int
nd_setwrite(PyObject *arr, PyObject *kw)
{
    PyObject *args = PyTuple_Pack(1, arr);
    PyObject *r = args ? PyObject_Call(nd_setflags, args, kw) : NULL;
    Py_XDECREF(args);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int
nd_lock(PyObject *arr)
{
    return nd_setwrite(arr, kw_readonly);
}

/* nd_flag reads one of arr's flags (owndata, writeable): 1, 0 or -1. */
static int
nd_flag(PyObject *arr, PyObject *name)
{
    PyObject *flags = nd_get(nd_flags, arr);
    PyObject *f = flags ? PyObject_GetAttr(flags, name) : NULL;
    Py_XDECREF(flags);
    if (f == NULL) {
        return -1;
    }
    int r = PyObject_IsTrue(f);
    Py_DECREF(f);
    return r;
}

static int
nd_owns_data(PyObject *arr)
{
    PyObject *flags = nd_get(nd_flags, arr);
    PyObject *own = flags ? PyObject_GetAttr(flags, str_owndata) : NULL;
    Py_XDECREF(flags);
    if (own == NULL) {
        return -1;
    }
    int r = PyObject_IsTrue(own);
    Py_DECREF(own);
    return r;
}

static Py_ssize_t
nd_nbytes_of(PyObject *arr)
{
    PyObject *n = nd_get(nd_nbytes, arr);
    if (n == NULL) {
        return -1;
    }
    Py_ssize_t r = PyLong_AsSsize_t(n);
    Py_DECREF(n);
    if (r == -1 && PyErr_Occurred()) {
        PyErr_Clear(); /* a broadcast view larger than memory: count what it claims, capped */
        r = PY_SSIZE_T_MAX;
    }
    return r;
}

/* is_dummy_array: numpy.lib.stride_tricks' DummyArray, the object numpy.lib.stride_tricks
   puts at the base of as_strided and sliding_window_view results; its .base is the array
   whose memory they view. */
static int
is_dummy_array(PyTypeObject *tp)
{
    if (strcmp(tp->tp_name, "DummyArray") != 0) {
        return 0;
    }
    PyObject *mod = PyObject_GetAttrString((PyObject *)tp, "__module__");
    const char *name = mod != NULL && PyUnicode_Check(mod) ? PyUnicode_AsUTF8(mod) : NULL;
    int ok = name != NULL && strncmp(name, "numpy.lib", 9) == 0;
    Py_XDECREF(mod);
    PyErr_Clear();
    return ok;
}

/* walk follows the owners of obj's memory (an ndarray's .base, a memoryview's exporter, the
   data behind a FrozenBuffer), appending every ndarray it meets to arrays. It returns 1 when
   the memory cannot be written by anyone once those arrays are locked: the chain ends in an
   array that owns its memory, in bytes, or in data theus holds; 0 when it ends in memory
   someone else can write (a bytearray, an mmap, a writable memoryview, a foreign owner);
   -1 on error. */
static int
walk(PyObject *obj, PyObject *arrays, int depth)
{
    if (depth > 64) {
        return 0;
    }
    PyTypeObject *tp = Py_TYPE(obj);
    if (theus_is_ndarray(tp)) {
        if (load_ndarray() < 0 || PyList_Append(arrays, obj) < 0) {
            return -1;
        }
        PyObject *base = nd_get(nd_base, obj);
        if (base == NULL) {
            return -1;
        }
        int r = base == Py_None ? nd_owns_data(obj) : walk(base, arrays, depth + 1);
        Py_DECREF(base);
        return r;
    }
    if (PyBytes_Check(obj) || tp == &theus_HeavyValue_Type) {
        return 1;
    }
    if (is_dummy_array(tp)) { /* as_strided, sliding_window_view: numpy's holder of an interface */
        PyObject *base = PyObject_GetAttrString(obj, "base");
        if (base == NULL) {
            return -1;
        }
        int r = base == Py_None ? 0 : walk(base, arrays, depth + 1);
        Py_DECREF(base);
        return r;
    }
    if (tp == &theus_FrozenBuffer_Type) {
        return walk(((theus_View *)obj)->data, arrays, depth + 1);
    }
    if (PyMemoryView_Check(obj)) {
        Py_buffer *b = PyMemoryView_GET_BUFFER(obj);
        if (!b->readonly || b->obj == NULL) {
            return 0;
        }
        return walk(b->obj, arrays, depth + 1);
    }
    return 0;
}

/* lock sets writeable=False on every array of the list and returns a new list of those that
   were writeable (NULL when none was, or on error with an exception set). */
static PyObject *
lock(PyObject *arrays)
{
    PyObject *changed = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(arrays); i++) {
        PyObject *a = PyList_GET_ITEM(arrays, i);
        int w = nd_flag(a, str_writeable);
        if (w < 0 || (w && nd_lock(a) < 0)) {
            Py_XDECREF(changed);
            return NULL;
        }
        if (w && ((changed == NULL && (changed = PyList_New(0)) == NULL) || PyList_Append(changed, a) < 0)) {
            Py_XDECREF(changed);
            return NULL;
        }
    }
    if (changed != NULL) {
        PyObject_GC_UnTrack(changed); /* gc.get_referrers(arr) must not find theus's list */
    }
    return changed;
}

/* by_reference decides for v (an ndarray or a buffer exporter) in mode: 1 when the commit
   takes it by reference (the arrays on its chain are locked then, *locked the list of those
   this call locked, or NULL), 0 when it copies it, -1 on error. */
static int
by_reference(PyObject *v, int mode, PyObject **locked)
{
    *locked = NULL;
    if (mode == MODE_COPY) {
        return 0;
    }
    PyObject *arrays = PyList_New(0);
    if (arrays == NULL) {
        return -1;
    }
    int r = walk(v, arrays, 0);
    if (r >= 0 && mode == MODE_ADOPT) {
        r = 1;
    }
    if (r == 1 && PyList_GET_SIZE(arrays) > 0) {
        if (load_ndarray() < 0) {
            r = -1;
        }
        else {
            *locked = lock(arrays);
            if (*locked == NULL && PyErr_Occurred()) {
                r = -1;
            }
        }
    }
    Py_DECREF(arrays);
    return r;
}

void
theus_heavy_abandon(PyObject *v)
{
    if (!Py_IS_TYPE(v, &theus_HeavyValue_Type) || Py_REFCNT(v) != 1) {
        return; /* not heavy, or also held by committed data */
    }
    PyObject *locked = ((theus_HeavyValue *)v)->locked;
    if (locked == NULL) {
        return;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    for (Py_ssize_t i = PyList_GET_SIZE(locked) - 1; i >= 0; i--) { /* the owner first */
        if (nd_setwrite(PyList_GET_ITEM(locked, i), kw_writable) < 0) {
            PyErr_Clear();
        }
    }
    PyErr_Restore(type, value, tb);
}

/* nd_private_copy is arr.copy(order="K") as numpy.ndarray defines it (a subclass keeps its
   type; the memory layout is kept as far as numpy can), locked. */
static PyObject *
nd_private_copy(PyObject *arr)
{
    PyObject *args = PyTuple_Pack(2, arr, str_K);
    PyObject *c = args ? PyObject_Call(nd_copy, args, NULL) : NULL;
    Py_XDECREF(args);
    if (c != NULL && nd_lock(c) < 0) {
        Py_CLEAR(c);
    }
    return c;
}

/* ---- storing ---- */

static PyObject *
new_value(PyObject *value, PyObject *keep, PyObject *locked, int is_array)
{
    theus_HeavyValue *hv = PyObject_New(theus_HeavyValue, &theus_HeavyValue_Type);
    if (hv == NULL) {
        Py_DECREF(value);
        Py_XDECREF(keep);
        Py_XDECREF(locked);
        return NULL;
    }
    hv->value = value;   /* stolen */
    hv->keep = keep;     /* stolen */
    hv->locked = locked; /* stolen */
    hv->holding = 0;
    hv->is_array = is_array;
    hv->nbytes = 0;
    live_values++;
    if (is_array) {
        hv->nbytes = nd_nbytes_of(value);
    }
    else if (PyObject_GetBuffer(value, &hv->held, PyBUF_FULL_RO) == 0) {
        hv->holding = 1;
        hv->nbytes = hv->held.len;
    }
    else {
        hv->nbytes = -1;
    }
    if (hv->nbytes < 0) {
        hv->nbytes = 0;
        Py_DECREF(hv);
        return NULL;
    }
    live_bytes += hv->nbytes;
    return (PyObject *)hv;
}

/* refusal builds theus_own's refusal: a tuple ("", text), text a new str (stolen). */
static int
refusal(PyObject *text, PyObject **out)
{
    if (text == NULL) {
        return -1;
    }
    PyObject *loc = PyUnicode_FromString("");
    *out = loc ? PyTuple_Pack(2, loc, text) : NULL;
    Py_XDECREF(loc);
    Py_DECREF(text);
    return *out == NULL ? -1 : -2;
}

static int
own_array(PyObject *arr, int mode, PyObject **out)
{
    if (load_ndarray() < 0) {
        return -1;
    }
    theus_kind_t k = theus_kind_classify(arr, 0);
    if (k == THEUS_KIND_ERROR) {
        return -1;
    }
    if (k == THEUS_KIND_REFUSED) { /* masked arrays, memmaps */
        return refusal(theus_refusal_text(arr), out);
    }
    PyObject *dtype = PyObject_GetAttrString(arr, "dtype");
    PyObject *hasobj = dtype ? PyObject_GetAttrString(dtype, "hasobject") : NULL;
    Py_XDECREF(dtype);
    int objects = hasobj ? PyObject_IsTrue(hasobj) : -1;
    Py_XDECREF(hasobj);
    if (objects < 0) {
        return -1;
    }
    if (objects) {
        return refusal(PyUnicode_FromString(
            "cannot store a numpy object array under heavy (its elements are Python objects, not "
            "buffer memory); store it outside the heavy zone, e.g. under domain, where theus "
            "copies it and freezes its elements"), out);
    }
    PyObject *locked;
    int ref = by_reference(arr, mode, &locked);
    if (ref < 0) {
        return -1;
    }
    PyObject *stored;
    if (ref) {
        Py_INCREF(arr);
        stored = arr;
    }
    else if ((stored = nd_private_copy(arr)) == NULL) {
        return -1;
    }
    *out = new_value(stored, NULL, locked, 1);
    return *out == NULL ? -1 : 0;
}

/* copy_buffer returns a read-only memoryview over immutable bytes holding v's memory, cast to
   v's format and shape when those are more than plain bytes (and a cast can express them). */
static PyObject *
copy_buffer(PyObject *v)
{
    Py_buffer b;
    if (PyObject_GetBuffer(v, &b, PyBUF_FULL_RO) < 0) {
        return NULL;
    }
    PyObject *raw = PyBytes_FromStringAndSize(NULL, b.len);
    if (raw == NULL || PyBuffer_ToContiguous(PyBytes_AS_STRING(raw), &b, b.len, 'C') < 0) {
        Py_XDECREF(raw);
        PyBuffer_Release(&b);
        return NULL;
    }
    int plain = b.ndim == 1 && (b.format == NULL || strcmp(b.format, "B") == 0);
    if (plain) { /* a memoryview: a copied buffer reads back as one, not as bytes */
        PyBuffer_Release(&b);
        PyObject *mv = PyMemoryView_FromObject(raw);
        Py_DECREF(raw);
        return mv;
    }
    PyObject *shape = PyTuple_New(b.ndim);
    for (int i = 0; shape != NULL && i < b.ndim; i++) {
        PyObject *n = PyLong_FromSsize_t(b.shape[i]);
        if (n == NULL) {
            Py_CLEAR(shape);
            break;
        }
        PyTuple_SET_ITEM(shape, i, n);
    }
    PyObject *mv = shape ? PyMemoryView_FromObject(raw) : NULL;
    PyObject *cast = mv ? PyObject_CallMethod(mv, "cast", "sO", b.format ? b.format : "B", shape) : NULL;
    PyBuffer_Release(&b);
    Py_XDECREF(shape);
    Py_XDECREF(mv);
    if (cast == NULL) { /* a format or shape memoryview.cast cannot express: the plain bytes */
        if (!PyErr_ExceptionMatches(PyExc_TypeError) && !PyErr_ExceptionMatches(PyExc_ValueError)) {
            Py_DECREF(raw);
            return NULL;
        }
        PyErr_Clear();
        cast = PyMemoryView_FromObject(raw);
    }
    Py_DECREF(raw);
    return cast;
}

static int
is_torch_tensor(PyTypeObject *tp)
{
    PyObject *mro = tp->tp_mro;
    for (Py_ssize_t i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (strcmp(t->tp_name, "torch._C.TensorBase") == 0 || strcmp(t->tp_name, "torch._C._TensorBase") == 0) {
            return 1;
        }
    }
    return 0;
}

static int
own_tensor(PyObject *t, int mode, PyObject **out)
{
    PyObject *is_cpu = PyObject_GetAttrString(t, "is_cpu");
    int cpu = is_cpu ? PyObject_IsTrue(is_cpu) : -1;
    Py_XDECREF(is_cpu);
    if (cpu < 0) {
        return -1;
    }
    if (!cpu) {
        PyObject *dev = PyObject_GetAttrString(t, "device");
        if (dev == NULL) {
            return -1;
        }
        PyObject *text = PyUnicode_FromFormat("cannot store a torch tensor on %S under heavy (only CPU "
                                              "memory is shared); move it with tensor.cpu() first", dev);
        Py_DECREF(dev);
        return refusal(text, out);
    }
    PyObject *d = PyObject_CallMethod(t, "detach", NULL);
    if (d != NULL && mode != MODE_ADOPT) {
        Py_SETREF(d, PyObject_CallMethod(d, "clone", NULL));
    }
    if (d == NULL) {
        return -1;
    }
    PyObject *arr = PyObject_CallMethod(d, "numpy", NULL);
    if (arr == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError) && !PyErr_ExceptionMatches(PyExc_RuntimeError)) {
            Py_DECREF(d);
            return -1;
        }
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *text = PyUnicode_FromFormat("cannot store this torch tensor under heavy (torch cannot "
                                              "share it as a numpy array: %S); convert it first, e.g. "
                                              "tensor.float() or tensor.resolve_conj()", value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        Py_DECREF(d);
        return refusal(text, out);
    }
    if (load_ndarray() < 0 || nd_lock(arr) < 0) {
        Py_DECREF(arr);
        Py_DECREF(d);
        return -1;
    }
    *out = new_value(arr, d, NULL, 1);
    return *out == NULL ? -1 : 0;
}

static int
own_buffer(PyObject *v, int mode, PyObject **out)
{
    if (PyMemoryView_Check(v)) {
        Py_buffer b;
        if (PyObject_GetBuffer(v, &b, PyBUF_FULL_RO) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
                return -1;
            }
            PyErr_Clear();
            return refusal(PyUnicode_FromString(
                "cannot store a released memoryview (its memory is gone); store the object it was "
                "made from, or bytes(view) taken before release()"), out);
        }
        PyBuffer_Release(&b);
    }
    PyObject *locked;
    int ref = by_reference(v, mode, &locked);
    if (ref < 0) {
        return -1;
    }
    PyObject *stored;
    if (ref) {
        Py_INCREF(v);
        stored = v;
    }
    else if ((stored = copy_buffer(v)) == NULL) {
        return -1;
    }
    *out = new_value(stored, NULL, locked, 0);
    return *out == NULL ? -1 : 0;
}

int
theus_own_heavy(PyObject *v, PyObject **out)
{
    int mode = MODE_DEFAULT;
    if (Py_IS_TYPE(v, &theus_HeavyRef_Type)) {
        mode = ((theus_HeavyRef *)v)->mode;
        v = ((theus_HeavyRef *)v)->value;
    }
    PyObject *inner = theus_view_data(v);
    if (inner != NULL) { /* a FrozenBuffer: the committed data behind it */
        v = inner;
    }
    PyTypeObject *tp = Py_TYPE(v);
    if (v == Py_None || tp == &theus_HeavyValue_Type) { /* a placeholder, or data theus holds */
        Py_INCREF(v);
        *out = v;
        return 0;
    }
    if (theus_is_ndarray(tp)) {
        return own_array(v, mode, out);
    }
    if (is_torch_tensor(tp)) {
        return own_tensor(v, mode, out);
    }
    PyBufferProcs *pb = tp->tp_as_buffer;
    if (pb != NULL && pb->bf_getbuffer != NULL) {
        return own_buffer(v, mode, out);
    }
    const char *name = tp->tp_name;
    return refusal(PyUnicode_FromFormat(
        "cannot store a value of type %.200s under heavy (it exports no buffer; the heavy zone holds numpy "
        "arrays, bytes, bytearray, memoryview, mmap, other buffer exporters and torch CPU "
        "tensors); store it outside the heavy zone, e.g. under domain", name), out);
}
