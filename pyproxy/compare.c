/* compare.c: the places where committed values meet foreign code without being read
 * through a view: equality (the views' ==, in, count, index) and repr; and the freeze of a
 * borrowed item, which holds the item because freezing may run foreign code.
 *
 * The rule both follow: a committed (raw) object is never handed to code theus does not own.
 * A foreign __eq__, numpy's __array_function__ dispatch and a foreign __repr__ would each
 * receive their arguments, so the raw side is frozen first and only its view takes part.
 */
#include "internal.h"

static PyObject *numpy_array_equal = NULL; /* numpy.array_equal */

static int
load_numpy(void)
{
    if (numpy_array_equal != NULL) {
        return 0;
    }
    PyObject *np = PyImport_ImportModule("numpy");
    if (np == NULL) {
        return -1;
    }
    numpy_array_equal = PyObject_GetAttrString(np, "array_equal");
    Py_DECREF(np);
    return numpy_array_equal == NULL ? -1 : 0;
}

/* ---- freezing a borrowed item ---- */

/* theus_freeze_item_slow is theus_freeze_item past the scalar check, out of line so the views'
 * read loops stay small. */
PyObject *
theus_freeze_item_slow(PyObject *obj)
{
    Py_INCREF(obj);
    PyObject *f = theus_freeze_slow(obj);
    Py_DECREF(obj);
    return f;
}

/* ---- equality ---- */

int
theus_values_equal(PyObject *raw, PyObject *other)
{
    if (raw == other) {
        return 1;
    }
    PyObject *frozen = theus_freeze_item(raw);
    if (frozen == NULL) {
        return -1;
    }
    int t;
    if (theus_is_ndarray(Py_TYPE(frozen)) || theus_is_ndarray(Py_TYPE(other))) {
        /* numpy.array_equal dispatches through the operands' __array_function__, so it
         * only ever sees the read-only view. */
        PyObject *r = load_numpy() < 0 ? NULL : PyObject_CallFunctionObjArgs(numpy_array_equal, frozen, other, NULL);
        t = r == NULL ? -1 : PyObject_IsTrue(r);
        Py_XDECREF(r);
    }
    else {
        t = PyObject_RichCompareBool(frozen, other, Py_EQ);
    }
    Py_DECREF(frozen);
    return t;
}

/* ---- repr ---- */

/* Seen is the chain of containers being printed, on the C stack: cycle detection that keeps
 * no reference anywhere a user could find it (Py_ReprEnter would put the raw container in a
 * list in the thread state dict, which gc.get_objects() reaches). */
typedef struct Seen {
    PyObject *obj;
    const struct Seen *up;
} Seen;

static int
seen_has(const Seen *s, PyObject *obj)
{
    for (; s != NULL; s = s->up) {
        if (s->obj == obj) {
            return 1;
        }
    }
    return 0;
}

static PyObject *repr_value(PyObject *obj, const Seen *up);

/* repr_container joins the reprs of a container's members between open and close. Members are
 * read by index while user code (a member's __repr__) runs between reads, so each is held
 * and the size is read again every time. */
static PyObject *
repr_container(PyObject *obj, const Seen *up, const char *open, const char *close, int one_comma)
{
    Seen here = {obj, up};
    PyObject *parts = PyList_New(0);
    if (parts == NULL) {
        return NULL;
    }
    int is_dict = PyDict_Check(obj);
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0;; i++) {
        PyObject *k = NULL, *v, *part;
        if (is_dict) {
            if (!PyDict_Next(obj, &pos, &k, &v)) {
                break;
            }
            Py_INCREF(k);
        }
        else {
            if (i >= Py_SIZE(obj)) {
                break;
            }
            v = PySequence_Fast_ITEMS(obj)[i];
        }
        Py_INCREF(v);
        PyObject *vr = repr_value(v, &here);
        Py_DECREF(v);
        if (vr != NULL && k != NULL) {
            PyObject *kr = PyObject_Repr(k);
            part = kr ? PyUnicode_FromFormat("%U: %U", kr, vr) : NULL;
            Py_XDECREF(kr);
            Py_DECREF(vr);
        }
        else {
            part = vr;
        }
        Py_XDECREF(k);
        if (part == NULL || PyList_Append(parts, part) < 0) {
            Py_XDECREF(part);
            Py_DECREF(parts);
            return NULL;
        }
        Py_DECREF(part);
    }
    PyObject *sep = PyUnicode_FromString(", ");
    PyObject *body = sep ? PyUnicode_Join(sep, parts) : NULL;
    Py_XDECREF(sep);
    PyObject *out = NULL;
    if (body != NULL) {
        const char *tail = one_comma && PyList_GET_SIZE(parts) == 1 ? ",": "";
        out = PyUnicode_FromFormat("%s%U%s%s", open, body, tail, close);
        Py_DECREF(body);
    }
    Py_DECREF(parts);
    return out;
}

static PyObject *
repr_value(PyObject *obj, const Seen *up)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == &theus_FrozenDict_Type || tp == &theus_FrozenList_Type) {
        obj = ((theus_View *)obj)->data;
        tp = Py_TYPE(obj);
    }
    int kind = PyDict_Check(obj) ? 1 : PyList_Check(obj) ? 2 : tp == &PyTuple_Type ? 3 : 0;
    if (kind == 0 && PyTuple_Check(obj)) {
        /* a tuple subclass (namedtuple) keeps its own repr when it reads back as itself */
        PyObject *f = theus_freeze_item(obj);
        if (f == NULL) {
            return NULL;
        }
        Py_DECREF(f);
        if (f != obj) {
            kind = 3;
        }
    }
    if (kind == 0) {
        PyObject *f = theus_freeze_item(obj);
        if (f == NULL) {
            return NULL;
        }
        PyObject *r = PyObject_Repr(f);
        Py_DECREF(f);
        return r;
    }
    static const char *const opens[] = {"", "{", "[", "("};
    static const char *const closes[] = {"", "}", "]", ")"};
    if (seen_has(up, obj)) {
        return PyUnicode_FromFormat("%s...%s", opens[kind], closes[kind]);
    }
    if (Py_EnterRecursiveCall(" while getting the repr of a theus view")) {
        return NULL;
    }
    Py_INCREF(obj);
    PyObject *r = repr_container(obj, up, opens[kind], closes[kind], kind == 3);
    Py_DECREF(obj);
    Py_LeaveRecursiveCall();
    return r;
}

PyObject *
theus_repr_plain(PyObject *raw)
{
    return repr_value(raw, NULL);
}
