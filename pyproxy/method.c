/* method.c: the bound methods of the views (fd.get, fd.items, ...).
 *
 * A view has its own getattro (fd.key reads keys), so CPython cannot call its methods without
 * binding them first, and a builtin bound method is a GC-tracked object made and dropped per
 * call. theus_Method is the same binding without the GC: it holds the view and the method
 * descriptor (neither refers back to it, so no cycle can form) and calls the C function
 * straight from its vectorcall. Its name, qualname, doc, text signature and signature are
 * the descriptor's, its __self__ the view; two bindings of one method to one view are equal.
 * Only methods taking positional arguments (METH_FASTCALL, METH_O, METH_NOARGS) bind this way;
 * others get the builtin binding. */
#include "internal.h"

typedef struct {
    PyObject_HEAD
    PyObject *self;               /* the view */
    PyMethodDescrObject *descr;   /* the method of its type */
    vectorcallfunc vectorcall;
} theus_Method;

static PyTypeObject theus_Method_Type;

/* Freed bindings kept for reuse (under the GIL): `fd.get(k)` in a loop allocates nothing. */
#define SPARE_METHODS 8
static theus_Method *spare[SPARE_METHODS];
static int nspare;
static PyObject *method_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames);

PyObject *
theus_bind_method(PyObject *descr, PyObject *self)
{
    PyMethodDef *def = ((PyMethodDescrObject *)descr)->d_method;
    int flags = def->ml_flags & ~METH_COEXIST;
    if (flags != METH_FASTCALL && flags != METH_O && flags != METH_NOARGS) {
        return Py_TYPE(descr)->tp_descr_get(descr, self, (PyObject *)Py_TYPE(self));
    }
    theus_Method *m;
    if (nspare > 0) {
        m = spare[--nspare];
        (void)PyObject_Init((PyObject *)m, &theus_Method_Type);
    }
    else if ((m = PyObject_New(theus_Method, &theus_Method_Type)) == NULL) {
        return NULL;
    }
    Py_INCREF(self);
    m->self = self;
    Py_INCREF(descr);
    m->descr = (PyMethodDescrObject *)descr;
    m->vectorcall = method_vectorcall;
    return (PyObject *)m;
}

static const char *
method_name(theus_Method *m)
{
    return m->descr->d_method->ml_name;
}

static PyObject *
method_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    theus_Method *m = (theus_Method *)op;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyMethodDef *def = m->descr->d_method;
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0) {
        PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments", method_name(m));
        return NULL;
    }
    switch (def->ml_flags & ~METH_COEXIST) {
    case METH_FASTCALL:
        return ((_PyCFunctionFast)(void (*)(void))def->ml_meth)(m->self, args, nargs);
    case METH_O:
        if (nargs != 1) {
            PyErr_Format(PyExc_TypeError, "%s() takes exactly one argument (%zd given)", method_name(m), nargs);
            return NULL;
        }
        return def->ml_meth(m->self, args[0]);
    default: /* METH_NOARGS */
        if (nargs != 0) {
            PyErr_Format(PyExc_TypeError, "%s() takes no arguments (%zd given)", method_name(m), nargs);
            return NULL;
        }
        return def->ml_meth(m->self, NULL);
    }
}

static void
method_dealloc(theus_Method *m)
{
    Py_DECREF(m->self);
    Py_DECREF(m->descr);
    if (nspare < SPARE_METHODS) {
        spare[nspare++] = m;
        return;
    }
    PyObject_Free(m);
}

static PyObject *
method_repr(theus_Method *m)
{
    return PyUnicode_FromFormat("<built-in method %s of %s object at %p>", method_name(m),
                                Py_TYPE(m->self)->tp_name, m->self);
}

static PyObject *
method_richcompare(PyObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !Py_IS_TYPE(b, &theus_Method_Type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    theus_Method *x = (theus_Method *)a, *y = (theus_Method *)b;
    int same = x->self == y->self && x->descr == y->descr;
    return PyBool_FromLong(op == Py_EQ ? same : !same);
}

static Py_hash_t
method_hash(theus_Method *m)
{
    Py_hash_t h = _Py_HashPointer(m->self) ^ _Py_HashPointer(m->descr);
    return h == -1 ? -2 : h;
}

/* The descriptor's attribute `name` (its __name__, __doc__, ...). */
static PyObject *
from_descr(theus_Method *m, void *name)
{
    return PyObject_GetAttrString((PyObject *)m->descr, (const char *)name);
}

static PyObject *
method_self(theus_Method *m, void *unused)
{
    (void)unused;
    Py_INCREF(m->self);
    return m->self;
}

/* __signature__: the descriptor's signature without its first parameter (the view). */
static PyObject *
method_signature(theus_Method *m, void *unused)
{
    (void)unused;
    PyObject *inspect = PyImport_ImportModule("inspect");
    PyObject *sig = inspect ? PyObject_CallMethod(inspect, "signature", "O", (PyObject *)m->descr) : NULL;
    Py_XDECREF(inspect);
    PyObject *params = sig ? PyObject_GetAttrString(sig, "parameters") : NULL;
    PyObject *values = params ? PyObject_CallMethod(params, "values", NULL) : NULL;
    PyObject *list = values ? PySequence_List(values) : NULL;
    PyObject *rest = list ? PyList_GetSlice(list, 1, PY_SSIZE_T_MAX) : NULL;
    PyObject *out = NULL;
    if (rest != NULL) {
        PyObject *replace = PyObject_GetAttrString(sig, "replace");
        PyObject *noargs = replace ? PyTuple_New(0) : NULL;
        PyObject *kw = noargs ? Py_BuildValue("{s:O}", "parameters", rest) : NULL;
        out = kw ? PyObject_Call(replace, noargs, kw) : NULL;
        Py_XDECREF(replace);
        Py_XDECREF(noargs);
        Py_XDECREF(kw);
    }
    Py_XDECREF(sig);
    Py_XDECREF(params);
    Py_XDECREF(values);
    Py_XDECREF(list);
    Py_XDECREF(rest);
    return out;
}

/* Pickles as getattr(view, name), as a builtin bound method does (the view pickles as a
   plain dict, so this unpickles as that dict's method). */
static PyObject *
method_reduce(theus_Method *m, PyObject *unused)
{
    (void)unused;
    PyObject *builtins = PyEval_GetBuiltins();
    PyObject *getattr = builtins ? PyDict_GetItemString(builtins, "getattr") : NULL;
    if (getattr == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "pickling a view's method needs the builtin getattr");
        return NULL;
    }
    return Py_BuildValue("O(Os)", getattr, m->self, method_name(m));
}

/* None, as for the builtin methods of objects of a C type ({}.get.__module__). */
static PyObject *
method_module(theus_Method *m, void *unused)
{
    (void)m;
    (void)unused;
    Py_RETURN_NONE;
}

/* Binding a bound method again gives it back, as types.MethodType does: so inspect and
   pydoc treat it as a routine (inspect.isroutine), the way they treat the dict's. */
static PyObject *
method_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)obj;
    (void)type;
    return Py_NewRef(self);
}

static PyGetSetDef method_getset[] = {
    {"__self__", (getter)method_self, NULL, "The view the method is bound to.", NULL},
    {"__module__", (getter)method_module, NULL, NULL, NULL},
    {"__name__", (getter)from_descr, NULL, NULL, "__name__"},
    {"__qualname__", (getter)from_descr, NULL, NULL, "__qualname__"},
    {"__doc__", (getter)from_descr, NULL, NULL, "__doc__"},
    {"__text_signature__", (getter)from_descr, NULL, NULL, "__text_signature__"},
    {"__signature__", (getter)method_signature, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef method_methods[] = {
    {"__reduce__", (PyCFunction)method_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject theus_Method_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.method",
    .tp_basicsize = sizeof(theus_Method),
    .tp_dealloc = (destructor)method_dealloc,
    .tp_vectorcall_offset = offsetof(theus_Method, vectorcall),
    .tp_repr = (reprfunc)method_repr,
    .tp_hash = (hashfunc)method_hash,
    .tp_call = PyVectorcall_Call,
    .tp_getattro = PyObject_GenericGetAttr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_DISALLOW_INSTANTIATION |
                Py_TPFLAGS_IMMUTABLETYPE,
    .tp_richcompare = method_richcompare,
    .tp_methods = method_methods,
    .tp_getset = method_getset,
    .tp_descr_get = method_descr_get,
};

int
theus_method_init(void)
{
    return PyType_Ready(&theus_Method_Type);
}
