/* kind.h: the one classification of the values theus stores.
 *
 * Every path that decides what a value is asks theus_kind (implemented in pyproxy/classify.c,
 * installed here at module init): the commit copy (own.c), freezing on read, thawing
 * (to_dict, copy, deepcopy, pickle) and the Flux condition conversion. What each kind means
 * on each path:
 *
 *   kind       commit (own.c)                 read (freeze)                 thaw
 *   SCALAR     shared                         itself                        itself
 *   OPAQUE     shared (by reference)          itself                        itself
 *   DICT       copied to a plain dict         FrozenDict                    dict
 *   LIST       copied to a plain list         FrozenList                    list
 *   TUPLE      copied                         FrozenList                    tuple
 *   NAMEDTUPLE copied, same type              same type, items frozen       same type
 *   SET        copied to a frozenset          frozenset of frozen items     set / frozenset
 *   BUFFER     copied (under heavy: see below) read-only array / memoryview copy
 *   OBJECT     shared (by reference)          FrozenObject                  attribute copy
 *   VIEW       the committed data behind it   itself                        the data's thaw
 *   REFUSED    ArgumentError naming path+type (raises on read)              (raises)
 */
#ifndef THEUS_KIND_H
#define THEUS_KIND_H

#include <Python.h>

typedef enum {
    THEUS_KIND_ERROR = -1, /* an exception is set */
    THEUS_KIND_SCALAR = 0, /* immutable: None, bool, int, float, complex, str, bytes, range, types,
                              modules, functions, enum members, tuples and frozensets of scalars,
                              value objects (a class with __hash__) whose __dict__ holds scalars */
    THEUS_KIND_OPAQUE,     /* an instance of a C extension type theus cannot look into (Decimal,
                              datetime, a lock): passed by reference */
    THEUS_KIND_DICT,       /* dict and its subclasses */
    THEUS_KIND_LIST,       /* list and its subclasses */
    THEUS_KIND_TUPLE,      /* an exact tuple holding something mutable */
    THEUS_KIND_NAMEDTUPLE, /* a tuple subclass (namedtuple) holding something mutable */
    THEUS_KIND_SET,        /* set, or a frozenset holding something that is not a scalar */
    THEUS_KIND_BUFFER,     /* numpy.ndarray, bytearray, memoryview, array.array, other buffers */
    THEUS_KIND_OBJECT,     /* an instance of a Python class (or SimpleNamespace): FrozenObject */
    THEUS_KIND_VIEW,       /* a theus view (FrozenDict, FrozenList, FrozenObject, FrozenBuffer,
                              the process context and its zone views, dict views) */
    THEUS_KIND_REFUSED,    /* cannot be stored (deque, coroutine, masked array, ...) */
} theus_kind_t;

/* Under the heavy zone a commit does not copy BUFFER values: pyproxy/heavy.c decides, per
   type, between by reference (locked) and a copy; non-buffers are refused there. */

/* THEUS_KIND_COMMIT asks for the checks only a commit needs (the elements of numpy object
   arrays, buffer exporters theus cannot copy); reads pass 0. */
#define THEUS_KIND_COMMIT 1

/* theus_kind_fn classifies v (borrowed). */
typedef theus_kind_t (*theus_kind_fn)(PyObject *v, int flags);

/* theus_refusal_fn returns a new str: why v (of kind REFUSED) cannot be stored and what to
   store instead, e.g. "a collections.deque is mutable and has no read-only view; store a list
   or tuple". NULL with an exception set on failure. */
typedef PyObject *(*theus_refusal_fn)(PyObject *v);

/* THEUS_HEAVY_ZONE names the top-level zone whose values follow the heavy rule (Go reads it
   as py.HeavyZone). */
#define THEUS_HEAVY_ZONE "heavy"
static inline const char *theus_heavy_zone(void) { return THEUS_HEAVY_ZONE; }

/* theus_own_heavy_fn is the heavy zone's ownership rule (pyproxy/heavy.c): what a commit
   stores for a value written under heavy, with theus_own's results. */
typedef int (*theus_own_heavy_fn)(PyObject *v, PyObject **out);

/* Installed once at module init (capi/py SetKind, SetHeavy); NULL before. */
extern theus_kind_fn theus_kind_hook;
extern theus_refusal_fn theus_refusal_hook;
extern theus_own_heavy_fn theus_own_heavy_hook;
/* theus_heavy_abandon_hook: see pyproxy's theus_heavy_abandon (a failed commit's leaves). */
extern void (*theus_heavy_abandon_hook)(PyObject *v);
/* theus_heavy_value_type is the type of what the heavy zone stores (immutable: commits of it
   anywhere share it). */
extern PyTypeObject *theus_heavy_value_type;

/* theus_heavy_head is how a HeavyValue (pyproxy/heavy.c) begins: capi/py reads its size from
   Go, without a call, to keep the books of what a state holds (package heavy). */
typedef struct {
    PyObject_HEAD
    Py_ssize_t nbytes;
} theus_heavy_head;

/* theus_kind classifies v with the installed classifier. */
static inline theus_kind_t
theus_kind(PyObject *v, int flags)
{
    return theus_kind_hook(v, flags);
}

#endif
