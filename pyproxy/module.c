/* module.c: module init (theus_proxy_init) and the module-level functions. The exception
 * classes the views raise are handed over once here. This file calls the others; none calls
 * it. */
#include "internal.h"

PyObject *theus_ContextError = NULL;
PyObject *theus_ContractViolationError = NULL;

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

/* The engine's per-attempt calls on a context, as module functions: a method call on a
   Context goes through its own attribute lookup and a bound method, these do not. */
static PyObject *
module_context_check(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !Py_IS_TYPE(args[0], &theus_Context_Type)) {
        PyErr_SetString(PyExc_TypeError, "_context_check(ctx, process): ctx must be a process context");
        return NULL;
    }
    return theus_context_check(args[0], args[1]);
}

static PyObject *
module_context_seal(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !Py_IS_TYPE(args[0], &theus_Context_Type)) {
        PyErr_SetString(PyExc_TypeError, "_context_seal(ctx, name, sealed): ctx must be a process context");
        return NULL;
    }
    return theus_context_seal(args[0], args[1], args[2]);
}

static PyObject *
module_kind(PyObject *module, PyObject *obj)
{
    (void)module;
    static const char *const names[] = {
        "scalar", "opaque", "dict", "list", "tuple", "namedtuple", "set", "buffer", "object",
        "view", "refused",
    };
    theus_kind_t k = theus_kind_classify(obj, THEUS_KIND_COMMIT);
    if (k == THEUS_KIND_ERROR) {
        return NULL;
    }
    return PyUnicode_FromString(names[k]);
}

/* The HTML of a view for Jupyter is drawn in Python (theus.display.html), imported on first
   use so that importing theus stays light. */
PyObject *
theus_repr_html(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *mod = PyImport_ImportModule("theus.display");
    if (mod == NULL) {
        return NULL;
    }
    PyObject *out = PyObject_CallMethod(mod, "html", "O", self);
    Py_DECREF(mod);
    return out;
}

/* _repr_pretty_ of the views for IPython's text display: theus.display.pretty(self, p, cycle),
   a size-limited one-screen form (repr() stays the full dict/list form). */
PyObject *
theus_repr_pretty(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_repr_pretty_(printer, cycle) takes 2 arguments");
        return NULL;
    }
    PyObject *mod = PyImport_ImportModule("theus.display");
    if (mod == NULL) {
        return NULL;
    }
    PyObject *out = PyObject_CallMethod(mod, "pretty", "OOO", self, args[0], args[1]);
    Py_DECREF(mod);
    return out;
}

static PyObject *
module_heavy_ref(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *value;
    int mode;
    if (!PyArg_ParseTuple(args, "Oi:_heavy_ref", &value, &mode)) {
        return NULL;
    }
    return theus_heavy_ref(value, mode);
}

static PyObject *
module_heavy_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return theus_heavy_stats();
}

static PyMethodDef module_methods[] = {
    {"_heavy_ref", (PyCFunction)module_heavy_ref, METH_VARARGS,
     PyDoc_STR("_heavy_ref($module, value, mode, /)\n--\n\n"
               "The marker behind theus.heavy.adopt (mode 1) and theus.heavy.copy (mode 2).")},
    {"_heavy_stats", (PyCFunction)module_heavy_stats, METH_NOARGS,
     PyDoc_STR("_heavy_stats($module, /)\n--\n\n"
               "{'values': n, 'bytes': b}: the heavy values alive in this process (see theus.heavy.stats).")},
    {"_freeze", (PyCFunction)module_freeze, METH_O,
     PyDoc_STR("_freeze($module, obj, /)\n--\n\n"
               "The read-only view a process would read for obj (testing hook).")},
    {"_context", (PyCFunction)module_context, METH_VARARGS,
     PyDoc_STR("_context($module, values, version, extras=None, /)\n--\n\n"
               "A process context (testing hook).\n\n"
               "values maps declared dotted paths to committed values; extras maps attribute\n"
               "names to objects exposed as they are.")},
    {"_context_check", (PyCFunction)(void (*)(void))module_context_check, METH_FASTCALL,
     PyDoc_STR("_context_check($module, ctx, process, /)\n--\n\n"
               "ctx.__check_contract__(process), for the engine's attempt loop.")},
    {"_context_seal", (PyCFunction)(void (*)(void))module_context_seal, METH_FASTCALL,
     PyDoc_STR("_context_seal($module, ctx, name, sealed, /)\n--\n\n"
               "ctx.__seal__(name, sealed), for the engine's attempt loop.")},
    {"_kind", (PyCFunction)module_kind, METH_O,
     PyDoc_STR("_kind($module, obj, /)\n--\n\n"
               "The name of the kind theus's classifier gives obj at commit: 'scalar', 'opaque',\n"
               "'dict', 'list', 'tuple', 'namedtuple', 'set', 'buffer', 'object', 'view' or\n"
               "'refused' (testing hook).")},
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
    if (theus_view_init() < 0 || theus_classify_init() < 0 || theus_thaw_init() < 0 ||
        theus_frozenobject_init() < 0 || theus_context_init() < 0 || theus_method_init() < 0) {
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
        {&theus_HeavyRef_Type, NULL},
        {&theus_HeavyValue_Type, NULL},
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
