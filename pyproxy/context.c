/* context.c: the context a process receives (Context), built in one call from the dict of
 * declared path -> committed value; the zones it exposes are ScopedViews (scopedview.c) or,
 * for a zone declared whole, its frozen value.
 *
 * ctx.version and the extras (ctx.outbox, ...) are exposed as they are; an extra shadows a
 * zone of the same name. An extra given as a class is made on its first read (the class called
 * with no arguments) and kept for the context's life, so an attempt that never reads it pays
 * nothing; ctx.__seal__(name, sealed) ends that: it returns the object made (None when none
 * was) and from then on the name reads as `sealed`. Reading a name that was not declared raises ContractViolationError
 * naming the full path and the declared ones; the context only knows the paths it was given:
 * a declared path the caller left out of `values` reads as absent (theus.PathError) when
 * `declared` lists it, as undeclared otherwise.
 *
 * Every ContractViolationError the context or a view under it raises is recorded in the
 * attempt they share; ctx.__check_contract__() raises it again after the process returned,
 * so an attempt that caught the error and returned normally is never committed.
 *
 * GC: Context is GC-tracked: it holds the extras, and a process could put ctx itself into
 * one (ctx.outbox.add(ctx)). Its private dicts are not: tp_traverse visits the extras'
 * values (public attributes anyway), never a dict, so neither gc.get_referents(ctx) nor
 * gc.get_referrers(value) hands out a dict whose change would change what the process reads.
 */
#include "internal.h"

typedef struct {
    PyObject_HEAD
    PyObject *attrs;    /* zone -> frozen value or ScopedView; "version" -> version (untracked) */
    PyObject *extras;   /* private copy of the extras (untracked), or NULL */
    PyObject *values;   /* the declared paths (for messages) */
    theus_Attempt *att; /* shared with the ScopedViews */
    PyObject *weakrefs;
} Context;

static PyObject *str_version = NULL;
static unsigned long long build_counter = 0;

int
theus_context_init(void)
{
    if (theus_scopedview_init() < 0) {
        return -1;
    }
    if (str_version == NULL && (str_version = PyUnicode_InternFromString("version")) == NULL) {
        return -1;
    }
    return 0;
}

/* ---- Context ---- */

static int
context_traverse(PyObject *op, visitproc visit, void *arg)
{
    PyObject *extras = ((Context *)op)->extras;
    if (extras != NULL) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(extras, &pos, &k, &v)) {
            Py_VISIT(v);
        }
    }
    return 0;
}

static int
context_clear(PyObject *op)
{
    Py_CLEAR(((Context *)op)->extras);
    return 0;
}

static void
context_dealloc(PyObject *op)
{
    Context *self = (Context *)op;
    PyObject_GC_UnTrack(op);
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs(op);
    }
    Py_XDECREF(self->attrs);
    Py_XDECREF(self->extras);
    Py_XDECREF(self->values);
    Py_XDECREF(self->att);
    PyObject_GC_Del(op);
}

/* extra_made: the extra v read under name, made first when it is a class (see the top). */
static PyObject *
extra_made(Context *self, PyObject *name, PyObject *v)
{
    if (!PyType_Check(v)) {
        Py_INCREF(v);
        return v;
    }
    PyObject *made = PyObject_CallNoArgs(v);
    if (made == NULL || PyDict_SetItem(self->extras, name, made) < 0) {
        Py_XDECREF(made);
        return NULL;
    }
    theus_untrack(self->extras); /* the insert tracked it again: keep it out of the GC's walk */
    return made;
}

static PyObject *
context_lookup(Context *self, PyObject *name, int allow_fallback)
{
    PyObject *v = PyDict_GetItemWithError(self->attrs, name);
    if (v == NULL && !PyErr_Occurred() && self->extras != NULL) {
        v = PyDict_GetItemWithError(self->extras, name);
        if (v != NULL) {
            return extra_made(self, name, v);
        }
    }
    if (v != NULL) {
        Py_INCREF(v);
        return v;
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (allow_fallback && PyUnicode_Check(name)) {
        PyObject *alt = theus_keyword_fallback(name);
        if (alt != NULL) {
            v = PyDict_GetItemWithError(self->attrs, alt);
            Py_DECREF(alt);
            if (v != NULL) {
                Py_INCREF(v);
                return v;
            }
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    return theus_raise_undeclared(NULL, 0, self->values, self->att, name, NULL);
}

static PyObject *
context_getattro(PyObject *op, PyObject *name)
{
    Context *self = (Context *)op;
    if (PyUnicode_CheckExact(name)) {
        PyObject *v = PyDict_GetItemWithError(self->attrs, name);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
        if (theus_is_dict_name(name)) {
            return theus_raise_readonly("the process context", "expose __dict__ (a view has none)");
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(name);
        int dunder = n > 4 && PyUnicode_READ_CHAR(name, 0) == '_' && PyUnicode_READ_CHAR(name, 1) == '_' &&
                     PyUnicode_READ_CHAR(name, n - 1) == '_' && PyUnicode_READ_CHAR(name, n - 2) == '_';
        if (!dunder) {
            return context_lookup(self, name, 1);
        }
    }
    return PyObject_GenericGetAttr(op, name);
}

static int
context_setattro(PyObject *op, PyObject *name, PyObject *value)
{
    (void)op;
    theus_raise_readonly_obj("the process context", value == NULL ? "delete attribute" : "set attribute", name);
    return -1;
}

static PyObject *
context_subscript(PyObject *op, PyObject *key)
{
    return context_lookup((Context *)op, key, 0);
}

static int
context_ass_subscript(PyObject *op, PyObject *key, PyObject *value)
{
    (void)op;
    theus_raise_readonly_obj("the process context", value == NULL ? "delete item" : "set item", key);
    return -1;
}

static int
context_contains(PyObject *op, PyObject *key)
{
    Context *self = (Context *)op;
    int r = PyDict_Contains(self->attrs, key);
    if (r == 0 && self->extras != NULL) {
        r = PyDict_Contains(self->extras, key);
    }
    return r;
}

static PyObject *
context_repr(PyObject *op)
{
    Context *self = (Context *)op;
    PyObject *names = PyDict_Keys(self->attrs);
    if (names == NULL) {
        return NULL;
    }
    if (self->extras != NULL) {
        PyObject *more = PyDict_Keys(self->extras);
        PyObject *all = more ? PySequence_Concat(names, more) : NULL;
        Py_XDECREF(more);
        Py_SETREF(names, all);
        if (names == NULL) {
            return NULL;
        }
    }
    PyObject *out = PyUnicode_FromFormat("Context(%R)", names);
    Py_DECREF(names);
    return out;
}

static PyObject *
context_reduce(PyObject *op, PyObject *unused)
{
    (void)op;
    (void)unused;
    PyErr_SetString(PyExc_TypeError,
                    "cannot pickle or copy the process context: copy the values you need "
                    "(ctx.domain.to_dict())");
    return NULL;
}

static PyObject *
context_reduce_ex(PyObject *op, PyObject *protocol)
{
    (void)protocol;
    return context_reduce(op, NULL);
}

PyObject *
theus_context_check(PyObject *op, PyObject *process)
{
    theus_Attempt *att = ((Context *)op)->att;
    if (att == NULL || att->path == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *who = process != NULL && process != Py_None ? PyObject_Str(process) : PyUnicode_FromString("process");
    if (who == NULL) {
        return NULL;
    }
    PyErr_Format(theus_ContractViolationError,
                 "%U: the attempt read ctx.%U, which is not declared, and returned after catching "
                 "the ContractViolationError; nothing was committed (%U)",
                 who, att->path, att->message);
    Py_DECREF(who);
    return NULL;
}

static PyObject *
context_check_contract(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "__check_contract__ expected at most 1 argument, got %zd", nargs);
        return NULL;
    }
    return theus_context_check(op, nargs == 1 ? args[0] : NULL);
}

PyObject *
theus_context_seal(PyObject *op, PyObject *name, PyObject *sealed)
{
    PyObject *extras = ((Context *)op)->extras;
    PyObject *v = extras != NULL ? PyDict_GetItemWithError(extras, name) : NULL;
    if (v == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_KeyError, "__seal__: the context has no extra %R", name);
        }
        return NULL;
    }
    PyObject *made = PyType_Check(v) ? Py_NewRef(Py_None) : Py_NewRef(v);
    if (PyDict_SetItem(extras, name, sealed) < 0) {
        Py_DECREF(made);
        return NULL;
    }
    theus_untrack(extras);
    return made;
}

static PyObject *
context_seal(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "__seal__ expected 2 arguments (name, sealed), got %zd", nargs);
        return NULL;
    }
    return theus_context_seal(op, args[0], args[1]);
}

static PyMethodDef context_methods[] = {
    {"__seal__", (PyCFunction)(void (*)(void))context_seal, METH_FASTCALL,
     PyDoc_STR("__seal__($self, name, sealed, /)\n--\n\n"
               "End the extra `name`: return the object its first read made (None when it was\n"
               "never read) and read it as `sealed` from then on; the engine calls it when an\n"
               "attempt is over.")},
    {"__check_contract__", (PyCFunction)(void (*)(void))context_check_contract, METH_FASTCALL,
     PyDoc_STR("__check_contract__($self, process=None, /)\n--\n\n"
               "Raise ContractViolationError if this attempt read an undeclared path, even when the\n"
               "process caught the error; the engine calls it before committing.")},
    {"__reduce__", context_reduce, METH_NOARGS, PyDoc_STR("__reduce__($self, /)\n--\n\nThe context cannot be pickled or copied.")},
    {"__reduce_ex__", context_reduce_ex, METH_O, PyDoc_STR("__reduce_ex__($self, protocol, /)\n--\n\nThe context cannot be pickled or copied.")},
    {"__copy__", context_reduce, METH_NOARGS, PyDoc_STR("__copy__($self, /)\n--\n\nThe context cannot be copied.")},
    {"__deepcopy__", context_reduce_ex, METH_O, PyDoc_STR("__deepcopy__($self, memo, /)\n--\n\nThe context cannot be copied.")},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods context_as_mapping = {
    .mp_subscript = context_subscript,
    .mp_ass_subscript = context_ass_subscript,
};

static PySequenceMethods context_as_sequence = {
    .sq_contains = context_contains,
};

PyDoc_STRVAR(context_doc,
"The read-only context a process receives as `ctx`.\n\n"
"ctx.<zone> for every zone among the declared paths (ctx.global_ or ctx[\"global\"] for the\n"
"zone named global): a FrozenDict (or other frozen value) when the whole zone was declared,\n"
"otherwise a ScopedView of the declared sub-paths. ctx.version is the snapshot version;\n"
"extras such as ctx.outbox are exposed as they are. Reading an undeclared name raises\n"
"ContractViolationError; every write raises ContextError: " THEUS_READONLY_FIX ".");

PyTypeObject theus_Context_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.Context",
    .tp_basicsize = sizeof(Context),
    .tp_dealloc = context_dealloc,
    .tp_repr = context_repr,
    .tp_as_sequence = &context_as_sequence,
    .tp_as_mapping = &context_as_mapping,
    .tp_getattro = context_getattro,
    .tp_setattro = context_setattro,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION |
                Py_TPFLAGS_IMMUTABLETYPE,
    .tp_doc = context_doc,
    .tp_traverse = context_traverse,
    .tp_clear = context_clear,
    .tp_weaklistoffset = offsetof(Context, weakrefs),
    .tp_methods = context_methods,
};

PyObject *
theus_context_new(PyObject *values, PyObject *version, PyObject *extras, PyObject *declared)
{
    if (!PyDict_Check(values)) {
        PyErr_SetString(PyExc_TypeError, "context: values must be a dict of path -> value");
        return NULL;
    }
    if (declared == Py_None) {
        declared = NULL;
    }
    if (declared != NULL && !PyTuple_Check(declared)) {
        PyErr_SetString(PyExc_TypeError, "context: declared must be a tuple of paths or None");
        return NULL;
    }
    PyObject *msgs = declared != NULL ? declared : values; /* what error messages list */
    if (extras == Py_None || (extras != NULL && PyDict_GET_SIZE(extras) == 0)) {
        extras = NULL;
    }
    if (extras != NULL && !PyDict_Check(extras)) {
        PyErr_SetString(PyExc_TypeError, "context: extras must be a dict or None");
        return NULL;
    }
    Context *ctx = PyObject_GC_New(Context, &theus_Context_Type);
    if (ctx == NULL) {
        return NULL;
    }
    ctx->att = NULL;
    ctx->attrs = PyDict_New();
    ctx->extras = NULL;
    Py_INCREF(msgs);
    ctx->values = msgs;
    ctx->att = theus_attempt_new();
    ctx->weakrefs = NULL;
    if (ctx->attrs == NULL || ctx->att == NULL) {
        goto fail;
    }
    if (theus_scoped_build(ctx->attrs, values, declared, msgs, ctx->att, ++build_counter) < 0) {
        goto fail;
    }
    if (PyDict_SetItem(ctx->attrs, str_version, version) < 0) {
        goto fail;
    }
    theus_untrack_after(ctx->attrs, version);
    if (extras != NULL) {
        if ((ctx->extras = PyDict_Copy(extras)) == NULL) {
            goto fail;
        }
        theus_untrack(ctx->extras);
        /* An extra shadows a zone of the same name: drop the zone so attrs can be read first. */
        Py_ssize_t pos = 0;
        PyObject *name, *unused;
        while (PyDict_Next(ctx->extras, &pos, &name, &unused)) {
            Py_INCREF(name);
            int has = PyDict_Contains(ctx->attrs, name);
            has = has > 0 ? PyDict_DelItem(ctx->attrs, name) : has;
            Py_DECREF(name);
            if (has < 0) {
                goto fail;
            }
        }
    }
    PyObject_GC_Track(ctx);
    return (PyObject *)ctx;
fail:
    Py_DECREF(ctx);
    return NULL;
}
