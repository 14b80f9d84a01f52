/* The read path of a read-only mapping view built two ways, to price the stable ABI (abi3):
   with the full API (static types, macros, _PyType_Lookup) and with Py_LIMITED_API 3.10
   (heap types from PyType_FromSpec, function accessors, a set of method names). */
#include <Python.h>

typedef struct { PyObject_HEAD PyObject *d; } View;
typedef struct { PyObject_HEAD PyObject *l; } LView;

static PyTypeObject *View_T, *LView_T;
#ifdef Py_LIMITED_API
static PyObject *method_names;
#endif

static PyObject *wrap(PyObject *v) {
    if (PyDict_Check(v)) {
        View *w = PyObject_New(View, View_T);
        if (!w) return NULL;
        Py_INCREF(v); w->d = v; return (PyObject *)w;
    }
    if (PyList_Check(v)) {
        LView *w = PyObject_New(LView, LView_T);
        if (!w) return NULL;
        Py_INCREF(v); w->l = v; return (PyObject *)w;
    }
    if (PyTuple_Check(v) || PyByteArray_Check(v)) { Py_INCREF(v); return v; }
    Py_INCREF(v); return v;
}

static void view_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    Py_DECREF(((View *)self)->d);
#ifdef Py_LIMITED_API
    freefunc f = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    f(self);
    Py_DECREF(tp);
#else
    tp->tp_free(self);
#endif
}
static void lview_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    Py_DECREF(((LView *)self)->l);
#ifdef Py_LIMITED_API
    freefunc f = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    f(self);
    Py_DECREF(tp);
#else
    tp->tp_free(self);
#endif
}

static PyObject *view_subscript(PyObject *self, PyObject *key) {
    PyObject *v = PyDict_GetItemWithError(((View *)self)->d, key);
    if (!v) { if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key); return NULL; }
    return wrap(v);
}

static PyObject *view_getattro(PyObject *self, PyObject *name) {
#ifdef Py_LIMITED_API
    /* no _PyType_Lookup: methods win over keys through a set of method names made at init */
    int is_method = PySet_Contains(method_names, name);
    if (is_method < 0) return NULL;
    if (is_method) return PyObject_GenericGetAttr(self, name);
#else
    if (_PyType_Lookup(Py_TYPE(self), name) != NULL) return PyObject_GenericGetAttr(self, name);
#endif
    PyObject *v = PyDict_GetItemWithError(((View *)self)->d, name);
    if (!v) { if (!PyErr_Occurred()) PyErr_SetObject(PyExc_AttributeError, name); return NULL; }
    return wrap(v);
}

static Py_ssize_t view_len(PyObject *self) { return PyDict_Size(((View *)self)->d); }

static PyObject *lview_item(PyObject *self, Py_ssize_t i) {
    PyObject *l = ((LView *)self)->l;
#ifdef Py_LIMITED_API
    if (i < 0 || i >= PyList_Size(l)) { PyErr_SetString(PyExc_IndexError, "index out of range"); return NULL; }
    return wrap(PyList_GetItem(l, i));
#else
    if (i < 0 || i >= PyList_GET_SIZE(l)) { PyErr_SetString(PyExc_IndexError, "index out of range"); return NULL; }
    return wrap(PyList_GET_ITEM(l, i));
#endif
}
static Py_ssize_t lview_len(PyObject *self) { return PyList_Size(((LView *)self)->l); }

static PyObject *view_get(PyObject *self, PyObject *key) { return view_subscript(self, key); }
static PyMethodDef view_methods[] = {{"get", view_get, METH_O, NULL}, {NULL}};

/* sum of the lengths of a tuple's items, read through the accessors (per-item accessor cost) */
static PyObject *tuple_walk(PyObject *Py_UNUSED(m), PyObject *t) {
    long n = 0;
#ifdef Py_LIMITED_API
    Py_ssize_t size = PyTuple_Size(t);
    for (int rep = 0; rep < 1000; rep++)
        for (Py_ssize_t i = 0; i < size; i++) n += PyTuple_GetItem(t, i) != NULL;
#else
    Py_ssize_t size = PyTuple_GET_SIZE(t);
    for (int rep = 0; rep < 1000; rep++)
        for (Py_ssize_t i = 0; i < size; i++) n += PyTuple_GET_ITEM(t, i) != NULL;
#endif
    return PyLong_FromLong(n);
}
static PyObject *flags_walk(PyObject *Py_UNUSED(m), PyObject *t) {
    long n = 0;
    Py_ssize_t size = PyTuple_Size(t);
    for (int rep = 0; rep < 1000; rep++)
        for (Py_ssize_t i = 0; i < size; i++) n += PyDict_Check(PyTuple_GetItem(t, i)) + PyList_Check(PyTuple_GetItem(t, i));
    return PyLong_FromLong(n);
}

static PyObject *make(PyObject *Py_UNUSED(m), PyObject *d) { return wrap(d); }

static PyMethodDef mod_methods[] = {
    {"make", make, METH_O, NULL}, {"tuple_walk", tuple_walk, METH_O, NULL}, {"flags_walk", flags_walk, METH_O, NULL}, {NULL}};

#define STR(x) #x
#define XSTR(x) STR(x)
#define INIT_(n) PyInit_##n
#define INIT(n) INIT_(n)

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = XSTR(MODNAME), .m_size = -1, .m_methods = mod_methods};

#ifdef Py_LIMITED_API
static PyType_Slot view_slots[] = {{Py_tp_dealloc, view_dealloc}, {Py_mp_subscript, view_subscript},
    {Py_tp_getattro, view_getattro}, {Py_mp_length, view_len}, {Py_tp_methods, view_methods}, {0, NULL}};
static PyType_Spec view_spec = {"v.View", sizeof(View), 0, Py_TPFLAGS_DEFAULT, view_slots};
static PyType_Slot lview_slots[] = {{Py_tp_dealloc, lview_dealloc}, {Py_sq_item, lview_item}, {Py_sq_length, lview_len}, {0, NULL}};
static PyType_Spec lview_spec = {"v.LView", sizeof(LView), 0, Py_TPFLAGS_DEFAULT, lview_slots};
#else
static PyMappingMethods view_as_mapping = {view_len, view_subscript, NULL};
static PyTypeObject ViewType = {PyVarObject_HEAD_INIT(NULL, 0).tp_name = "v.View", .tp_basicsize = sizeof(View),
    .tp_dealloc = view_dealloc, .tp_as_mapping = &view_as_mapping, .tp_getattro = view_getattro,
    .tp_flags = Py_TPFLAGS_DEFAULT, .tp_methods = view_methods};
static PySequenceMethods lview_as_seq = {.sq_length = lview_len, .sq_item = lview_item};
static PyTypeObject LViewType = {PyVarObject_HEAD_INIT(NULL, 0).tp_name = "v.LView", .tp_basicsize = sizeof(LView),
    .tp_dealloc = lview_dealloc, .tp_as_sequence = &lview_as_seq, .tp_flags = Py_TPFLAGS_DEFAULT};
#endif

PyMODINIT_FUNC INIT(MODNAME)(void) {
#ifdef Py_LIMITED_API
    View_T = (PyTypeObject *)PyType_FromSpec(&view_spec);
    LView_T = (PyTypeObject *)PyType_FromSpec(&lview_spec);
    if (!View_T || !LView_T) return NULL;
    method_names = PySet_New(NULL);
    PyObject *dir = PyObject_Dir((PyObject *)View_T);
    if (!dir) return NULL;
    for (Py_ssize_t i = 0; i < PyList_Size(dir); i++) PySet_Add(method_names, PyList_GetItem(dir, i));
    Py_DECREF(dir);
#else
    if (PyType_Ready(&ViewType) < 0 || PyType_Ready(&LViewType) < 0) return NULL;
    View_T = &ViewType; LView_T = &LViewType;
#endif
    return PyModule_Create(&mod);
}
