/* pyproxy.h: the read-only view types of theus (FrozenDict, FrozenList, FrozenObject,
 * FrozenBuffer and the process context), defined in C on the CPython API.
 *
 * Every function here must be called with the GIL held.
 */
#ifndef THEUS_PYPROXY_H
#define THEUS_PYPROXY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* theus_proxy_init readies the view types and adds them to `module` (FrozenDict, FrozenList,
 * FrozenObject, FrozenBuffer, Context, ScopedView), registers FrozenDict with
 * collections.abc.Mapping and FrozenList with collections.abc.Sequence, adds the private
 * module functions `_freeze(obj)` and `_context(values, version, extras)`, and keeps strong
 * references to the two exception classes. Returns 0, or -1 with an exception set. */
int theus_proxy_init(PyObject *module, PyObject *context_error, PyObject *contract_error);

/* theus_freeze returns a new reference: a read-only view of obj, or obj itself when it is
 * immutable (or passed by reference, see classify.c). NULL with an exception set on error. */
PyObject *theus_freeze(PyObject *obj);

/* theus_context_new returns a new reference to the context a process receives.
 * values: dict mapping a declared dotted path to its committed value; version: any object
 * (an int); extras: dict of attribute name -> object exposed as is (may be NULL or None).
 * The context keeps a reference to `values` for its error messages: do not mutate it after
 * the call. Extras are copied. */
PyObject *theus_context_new(PyObject *values, PyObject *version, PyObject *extras, PyObject *declared);

/* theus_context_begin returns a new reference to the pair (version, context) built from the
 * tuple `keys` of every declared path and vals[i], the borrowed committed value of keys[i]
 * (0 when absent). */
PyObject *theus_context_begin(PyObject *keys, const uintptr_t *vals, unsigned long long version,
                              PyObject *extras);

#endif
