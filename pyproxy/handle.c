/* handle.c: theus._core.Handle, the one owner of every core object Python refers to (a state,
 * a snapshot, a process's parsed contract, a parsed workflow, a run's trace).
 *
 * The core hands Python a Handle instead of a number. A Handle releases its core object
 * exactly once: in close() or in its dealloc, whichever comes first; afterwards it reads as
 * closed and every entry point given it raises ArgumentError. Because the Handle is the only
 * owner, copies of the Python objects built on it share the Handle (by reference count)
 * instead of duplicating the number, and a Handle cannot be copied, pickled or created from
 * Python at all: a copy that closes the original, or a number unpickled in another process
 * that names some unrelated object there, cannot exist.
 *
 * A Handle may hold its parent (a snapshot holds its state): the parent outlives the child, so
 * a snapshot stays readable after the last Python reference to its engine is gone.
 *
 * The release itself is a function of the core, set once at module init; in a forked child it
 * does nothing, since the core objects belong to the parent's runtime. */
#include "internal.h"

void (*theus_handle_release)(uintptr_t h) = NULL;

static const char *
kind_name(int kind)
{
    switch (kind) {
    case THEUS_HANDLE_STATE:
        return "state";
    case THEUS_HANDLE_SNAPSHOT:
        return "snapshot";
    case THEUS_HANDLE_PLAN:
        return "process contract";
    case THEUS_HANDLE_WORKFLOW:
        return "workflow";
    case THEUS_HANDLE_TRACE:
        return "run trace";
    }
    return "object";
}

PyObject *
theus_handle_new(uintptr_t h, int kind, PyObject *parent)
{
    theus_Handle *self = PyObject_New(theus_Handle, &theus_Handle_Type);
    if (self == NULL) {
        return NULL;
    }
    self->h = h;
    self->kind = kind;
    Py_XINCREF(parent);
    self->parent = parent;
    return (PyObject *)self;
}

/* handle_close releases the core object once, then lets go of the parent (which may free it
 * in turn); the handle reads as closed afterwards. */
static void
handle_close(theus_Handle *self)
{
    uintptr_t h = self->h;
    self->h = 0;
    if (h != 0 && theus_handle_release != NULL) {
        theus_handle_release(h);
    }
    Py_CLEAR(self->parent);
}

/* handle_is_closed: released itself, or its parent (a snapshot's state) was closed. */
static int
handle_is_closed(theus_Handle *self)
{
    for (theus_Handle *h = self; h != NULL; h = (theus_Handle *)h->parent) {
        if (h->h == 0) {
            return 1;
        }
    }
    return 0;
}

static void
handle_dealloc(theus_Handle *self)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb); /* releasing values may run user __del__ code */
    handle_close(self);
    PyErr_Restore(type, value, tb);
    PyObject_Free(self);
}

static PyObject *
handle_close_method(theus_Handle *self, PyObject *Py_UNUSED(ignored))
{
    handle_close(self);
    Py_RETURN_NONE;
}

static PyObject *
handle_refuse(theus_Handle *self, PyObject *Py_UNUSED(args))
{
    PyErr_Format(PyExc_TypeError,
                 "a theus %s handle cannot be copied or pickled (it owns a core object of this "
                 "process); copy the data instead (to_dict()), or build the object again where "
                 "it is needed",
                 kind_name(self->kind));
    return NULL;
}

static PyObject *
handle_get_closed(theus_Handle *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(handle_is_closed(self));
}

static PyObject *
handle_get_kind(theus_Handle *self, void *Py_UNUSED(closure))
{
    return PyUnicode_FromString(kind_name(self->kind));
}

static PyObject *
handle_repr(theus_Handle *self)
{
    return PyUnicode_FromFormat("<theus handle: %s%s>", kind_name(self->kind),
                                handle_is_closed(self) ? ", closed" : "");
}

static PyMethodDef handle_methods[] = {
    {"close", (PyCFunction)handle_close_method, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\nRelease the core object now (idempotent).")},
    {"__reduce__", (PyCFunction)handle_refuse, METH_NOARGS,
     PyDoc_STR("__reduce__($self, /)\n--\n\nAlways raises TypeError: a handle is not data.")},
    {"__reduce_ex__", (PyCFunction)handle_refuse, METH_O,
     PyDoc_STR("__reduce_ex__($self, protocol, /)\n--\n\nAlways raises TypeError: a handle is not data.")},
    {"__copy__", (PyCFunction)handle_refuse, METH_NOARGS,
     PyDoc_STR("__copy__($self, /)\n--\n\nAlways raises TypeError: a handle has one owner.")},
    {"__deepcopy__", (PyCFunction)handle_refuse, METH_O,
     PyDoc_STR("__deepcopy__($self, memo, /)\n--\n\nAlways raises TypeError: a handle has one owner.")},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef handle_getset[] = {
    {"closed", (getter)handle_get_closed, NULL,
     PyDoc_STR("True once the core object (or the one it depends on, a snapshot's state) was released."), NULL},
    {"kind", (getter)handle_get_kind, NULL, PyDoc_STR("What the handle owns (\"state\", \"snapshot\", ...)."), NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject theus_Handle_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.Handle",
    .tp_basicsize = sizeof(theus_Handle),
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_repr = (reprfunc)handle_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = PyDoc_STR("The owner of one core object (created by the core only; cannot be copied or pickled)."),
    .tp_methods = handle_methods,
    .tp_getset = handle_getset,
};

int
theus_handle_init(PyObject *module)
{
    if (PyType_Ready(&theus_Handle_Type) < 0) {
        return -1;
    }
    Py_INCREF(&theus_Handle_Type);
    if (PyModule_AddObject(module, "Handle", (PyObject *)&theus_Handle_Type) < 0) {
        Py_DECREF(&theus_Handle_Type);
        return -1;
    }
    return 0;
}
