#include "internal.h"

/* theus_view_data returns the borrowed committed object behind a view, or NULL when v is not a
   view. Only C code in the extension calls it (commits see through views); nothing exposes it
   to Python. */
PyObject *theus_view_data(PyObject *v) {
    PyTypeObject *tp = Py_TYPE(v);
    if (tp == &theus_FrozenDict_Type || tp == &theus_FrozenList_Type ||
        tp == &theus_FrozenObject_Type || tp == &theus_FrozenBuffer_Type) {
        return ((theus_View *)v)->data;
    }
    return NULL;
}
