/* view.c: the base every view type shares (theus_View: one strong reference to the wrapped
 * object), the read-only error helpers and the key-error helpers.
 *
 * Why the views are not GC-tracked: gc.get_referents(x) returns exactly what x's tp_traverse
 * visits, so a tracked view would hand the wrapped object to anyone who asks. A view can only
 * be part of a reference cycle if the data it wraps refers back to the view. Views are created
 * on read and never stored into committed data by theus, and the data is reachable only
 * through views, which cannot store anything; so a view is never on a cycle, and plain
 * reference counting frees it. (Code holding the raw mutable data outside theus could put a
 * view inside it and build a cycle; that cycle would leak, never crash.) The views therefore
 * have no Py_TPFLAGS_HAVE_GC and no tp_traverse, and gc.get_referents(view) is [].
 *
 * The other direction is closed too: the containers theus copies on commit and the dicts it
 * builds for branches are untracked (see capi/py/own.c), so gc.get_referrers(value) on a value
 * read back never finds the committed container that holds it.
 *
 * This file calls nothing else in pyproxy.
 */
#include "internal.h"

static PyObject *str_dict = NULL; /* "__dict__" */

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
theus_view_init(void)
{
    if (str_dict == NULL && (str_dict = PyUnicode_InternFromString("__dict__")) == NULL) {
        return -1;
    }
    return 0;
}
