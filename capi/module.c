/* The module object of theus._core: its method table and PyInit__core. Each method is a thin
   C shim that refuses to call Go in a forked child (the Go runtime does not survive fork) and
   otherwise forwards its FASTCALL arguments to the Go entry point of the same name. */
#include "py/py.h"
#include <structmember.h>
#include "../pyproxy/internal.h"
#include "_cgo_export.h"

static volatile int forked = 0;

static PyObject *fork_error(void) {
    PyErr_SetString(PyExc_RuntimeError,
                    "theus cannot run in a process forked after theus was imported (the Go runtime "
                    "does not survive fork()): start worker processes with "
                    "multiprocessing.get_context(\"spawn\") or \"forkserver\" instead");
    return NULL;
}

static PyObject *after_fork_in_child(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    forked = 1;
    Py_RETURN_NONE;
}

/* theus_ints holds the leading int and Handle arguments of a call (versions, core handles;
   the first THEUS_INT_ARGS of them, see py/py.h),
   read here in C so the Go side needs no crossing for them: bit i of `ok` says ints[i] is the
   int args[i]; bit 16+i says args[i] is a theus Handle and ints[i] its core number (0 once
   closed). Only a Handle names a core object: a plain int never does. */
typedef struct {
    long long v[THEUS_INT_ARGS];
    unsigned ok;
} theus_ints;

static inline void read_ints(PyObject *const *args, Py_ssize_t n, theus_ints *ints) {
    ints->ok = 0;
    for (Py_ssize_t i = 0; i < n && i < THEUS_INT_ARGS; i++) {
        if (Py_IS_TYPE(args[i], &theus_Handle_Type)) {
            ints->v[i] = (long long)((theus_Handle *)args[i])->h;
            ints->ok |= 1u << (16 + i);
            continue;
        }
        if (!PyLong_CheckExact(args[i])) continue;
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(args[i], &overflow);
        if (overflow == 0 && !(v == -1 && PyErr_Occurred())) {
            ints->v[i] = v;
            ints->ok |= 1u << i;
        }
        PyErr_Clear();
    }
}

#define ENTRY(name)                                                                       \
    static PyObject *m_##name(PyObject *self, PyObject *const *args, Py_ssize_t n) {     \
        (void)self;                                                                       \
        if (forked) return fork_error();                                                  \
        theus_ints ints;                                                                  \
        read_ints(args, n, &ints);                                                        \
        return (PyObject *)go_##name((void *)args, (GoInt)n, ints.v, ints.ok);           \
    }

/* release_handle frees a Handle's core object; in a forked child it quietly does nothing,
   since the object belongs to the parent's Go runtime. */
static void release_handle(uintptr_t h) {
    if (!forked) go_handle_release((GoUintptr)h);
}

/* Room in a shim for the values a call released, which the shim drops after it. */
#define THEUS_DROP_ROOM 16

ENTRY(state_new)
ENTRY(state_version)
ENTRY(state_get)
/* state_begin: the Go side pins the version, reads the plan's values into `vals` and
   unpins; the (version, context) pair is built here, and then the values Go left in `drop`
   (branch dicts built for the call, values the unpin released) are dropped: one crossing per
   process start. */
#define THEUS_BEGIN_ROOM 32
static PyObject *m_state_begin(PyObject *self, PyObject *const *args, Py_ssize_t n) {
    (void)self;
    if (forked) return fork_error();
    theus_ints ints;
    read_ints(args, n, &ints);
    uintptr_t vals[THEUS_BEGIN_ROOM], drop[THEUS_DROP_ROOM];
    struct go_state_begin_return r =
        go_state_begin((void *)args, (GoInt)n, ints.v, ints.ok, vals, THEUS_BEGIN_ROOM, drop, THEUS_DROP_ROOM);
    if (r.r2 < 0) return (PyObject *)r.r0;
    PyObject *pair = theus_context_begin((PyObject *)r.r1, vals, (unsigned long long)r.r3, args[2]);
    theus_decref_all(drop, (Py_ssize_t)r.r4);
    return pair;
}
/* state_commit's Go side returns the new version as an int (boxed here: one crossing fewer
   per commit), or -1 and the result, NULL with an exception set on failure. The shim reads
   the first entries of the updates dict for it (theus_write_fill) and drops the values the
   commit released, which Go leaves in `dropped`: a commit of a few plain values crosses into
   Go once and never back. The entries are read ahead only when nothing the Go side does
   before it takes them can run user code (strict an exact bool), since their keys are
   borrowed from the dict. */
static PyObject *m_state_commit(PyObject *self, PyObject *const *args, Py_ssize_t n) {
    (void)self;
    if (forked) return fork_error();
    theus_ints ints;
    read_ints(args, n, &ints);
    theus_write_batch batch;
    batch.n = batch.end = 0;
    batch.pos = 0;
    if (n >= 6 && PyDict_Check(args[2]) && PyBool_Check(args[5])) theus_write_fill((uintptr_t)args[2], &batch);
    uintptr_t dropped[THEUS_DROP_ROOM];
    struct go_state_commit_return r =
        go_state_commit((void *)args, (GoInt)n, ints.v, ints.ok, &batch, dropped, THEUS_DROP_ROOM);
    if (r.r2 > 0) theus_decref_all(dropped, (Py_ssize_t)r.r2);
    if (r.r1 >= 0) return PyLong_FromLongLong(r.r1);
    return (PyObject *)r.r0;
}

/* Snapshots are built here. The Go side pins the version and returns its core handle number
   and the version (0 with an exception set on failure); the Handle, and with an owner the
   theus.Snapshot itself, are made in C: engine.state and state.snapshot() cost one crossing
   and no Python frame. snapshot_type and the offsets of its _h, _version and _owner slots come
   from _snapshot_type(Snapshot), which theus.state calls once. */
static PyTypeObject *snapshot_type;
static Py_ssize_t snapshot_h, snapshot_version, snapshot_owner;

/* slot_at: the address of the object slot at offset in obj. */
static PyObject **slot_at(PyObject *obj, Py_ssize_t offset) { return (PyObject **)((char *)obj + offset); }

/* snapshot_result: (Handle, version) when owner is NULL, else a Snapshot of owner's state
   (owner: the State's registry of snapshots whose zone views close() drops). */
static PyObject *snapshot_result(PyObject *state, GoUintptr h, GoInt64 version, PyObject *owner) {
    PyObject *handle = theus_handle_new((uintptr_t)h, THEUS_HANDLE_SNAPSHOT, state);
    if (handle == NULL) {
        release_handle((uintptr_t)h);
        return NULL;
    }
    PyObject *v = PyLong_FromLongLong(version);
    if (v == NULL) {
        Py_DECREF(handle);
        return NULL;
    }
    if (owner == NULL) {
        PyObject *t = PyTuple_Pack(2, handle, v);
        Py_DECREF(handle);
        Py_DECREF(v);
        return t;
    }
    if (snapshot_type == NULL) {
        Py_DECREF(handle);
        Py_DECREF(v);
        PyErr_SetString(PyExc_RuntimeError, "theus._core: the Snapshot type is not registered (import theus first)");
        return NULL;
    }
    PyObject *snap = snapshot_type->tp_alloc(snapshot_type, 0);
    if (snap == NULL) {
        Py_DECREF(handle);
        Py_DECREF(v);
        return NULL;
    }
    *slot_at(snap, snapshot_h) = handle; /* a new object's slots are empty */
    *slot_at(snap, snapshot_version) = v;
    *slot_at(snap, snapshot_owner) = Py_NewRef(owner);
    return snap;
}

/* state_snapshot(state[, owner]) and state_at(state, version[, owner]): the Go side sees the
   `core` arguments before owner only (all of them when the count is wrong, so that it raises
   its ArgumentError naming the count). */
#define SNAPSHOT_ENTRY(name, core)                                                        \
    static PyObject *m_##name(PyObject *self, PyObject *const *args, Py_ssize_t n) {     \
        (void)self;                                                                       \
        if (forked) return fork_error();                                                  \
        theus_ints ints;                                                                  \
        Py_ssize_t given = n < (core) || n > (core) + 1 ? n : (core);                     \
        read_ints(args, given, &ints);                                                    \
        struct go_##name##_return r = go_##name((void *)args, (GoInt)given, ints.v, ints.ok); \
        if (r.r1 == 0) return NULL;                                                       \
        return snapshot_result(args[0], r.r1, r.r2, n == (core) + 1 ? args[core] : NULL); \
    }

SNAPSHOT_ENTRY(state_snapshot, 1)
SNAPSHOT_ENTRY(state_at, 2)

/* slot_offset: the offset of cls's __slots__ member `name` (an object slot), or -1 with
   TypeError set. */
static Py_ssize_t slot_offset(PyTypeObject *cls, PyObject *name) {
    PyObject *d = PyDict_GetItemWithError(cls->tp_dict, name);
    if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type) ||
        ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "_snapshot_type: %s has no __slots__ member %R", cls->tp_name, name);
        return -1;
    }
    return ((PyMemberDescrObject *)d)->d_member->offset;
}

static Py_ssize_t slot_offset_of(PyTypeObject *cls, const char *name) {
    PyObject *s = PyUnicode_FromString(name);
    if (s == NULL) return -1;
    Py_ssize_t off = slot_offset(cls, s);
    Py_DECREF(s);
    return off;
}

/* A zone attribute of the Snapshot class (snap.domain, snap.global_, ...), in place of its
   slot's member descriptor: the view cached in the slot, or while the slot is empty the zone
   read with snapshot_get, kept in the slot, and the snapshot registered with its state (the
   owner: id -> weak reference, whose close() drops the views; past its `limit` entries its
   prune() runs). A fresh snapshot's first read so costs one crossing and no Python frame,
   where an empty slot would make an AttributeError and run __getattr__. A failed read calls
   fail(snapshot, name, exception), which raises what the user sees. Setting and deleting fill
   and empty the slot (the class's own __setattr__ and __delattr__ refuse users first). */
typedef struct {
    PyObject_HEAD
    Py_ssize_t offset;
    PyObject *name; /* the attribute: "global_" */
    PyObject *zone; /* the zone it reads: "global" */
    PyObject *fail;
} ZoneSlot;

static PyObject *m_snapshot_get(PyObject *self, PyObject *const *args, Py_ssize_t n);
static PyObject *str_limit, *str_prune;

/* register_snapshot adds snap to owner (a dict, or None) and prunes it at its limit. */
static int register_snapshot(PyObject *owner, PyObject *snap) {
    if (owner == NULL || !PyDict_Check(owner)) return 0;
    PyObject *key = PyLong_FromVoidPtr(snap);
    PyObject *ref = key ? PyWeakref_NewRef(snap, NULL) : NULL;
    int err = ref ? PyDict_SetItem(owner, key, ref) : -1;
    Py_XDECREF(key);
    Py_XDECREF(ref);
    if (err < 0) return -1;
    PyObject *limit = PyObject_GetAttr(owner, str_limit);
    if (limit == NULL) return -1;
    Py_ssize_t at = PyLong_AsSsize_t(limit);
    Py_DECREF(limit);
    if (at == -1 && PyErr_Occurred()) return -1;
    if (PyDict_GET_SIZE(owner) < at) return 0;
    PyObject *r = PyObject_CallMethodNoArgs(owner, str_prune);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

static PyObject *zoneslot_get(PyObject *self, PyObject *obj, PyObject *type) {
    (void)type;
    ZoneSlot *z = (ZoneSlot *)self;
    if (obj == NULL) return Py_NewRef(self);
    PyObject *v = *slot_at(obj, z->offset);
    if (v != NULL) return Py_NewRef(v);
    PyObject *h = *slot_at(obj, snapshot_h);
    PyObject *args[2] = {h != NULL ? h : Py_None, z->zone};
    v = m_snapshot_get(NULL, args, 2);
    if (v == NULL) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        PyErr_NormalizeException(&et, &ev, &tb);
        if (tb != NULL) PyException_SetTraceback(ev, tb);
        PyObject *r = ev != NULL ? PyObject_CallFunctionObjArgs(z->fail, obj, z->name, ev, NULL) : NULL;
        Py_XDECREF(et);
        Py_XDECREF(ev);
        Py_XDECREF(tb);
        return r;
    }
    Py_XSETREF(*slot_at(obj, z->offset), Py_NewRef(v));
    if (register_snapshot(*slot_at(obj, snapshot_owner), obj) < 0) {
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

static int zoneslot_set(PyObject *self, PyObject *obj, PyObject *value) {
    ZoneSlot *z = (ZoneSlot *)self;
    PyObject **slot = slot_at(obj, z->offset);
    if (value == NULL && *slot == NULL) {
        PyErr_SetObject(PyExc_AttributeError, z->name);
        return -1;
    }
    Py_XINCREF(value);
    Py_XSETREF(*slot, value);
    return 0;
}

static int zoneslot_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(((ZoneSlot *)self)->fail);
    return 0;
}

static int zoneslot_clear(PyObject *self) {
    Py_CLEAR(((ZoneSlot *)self)->fail);
    return 0;
}

static void zoneslot_dealloc(PyObject *self) {
    PyObject_GC_UnTrack(self);
    zoneslot_clear(self);
    Py_CLEAR(((ZoneSlot *)self)->name);
    Py_CLEAR(((ZoneSlot *)self)->zone);
    PyObject_GC_Del(self);
}

static PyTypeObject ZoneSlot_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "theus._core.zone_slot",
    .tp_basicsize = sizeof(ZoneSlot),
    .tp_dealloc = zoneslot_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_doc = "A zone of a Snapshot, read once and then kept in its slot.",
    .tp_traverse = zoneslot_traverse,
    .tp_clear = zoneslot_clear,
    .tp_descr_get = zoneslot_get,
    .tp_descr_set = zoneslot_set,
};

/* _snapshot_type(cls, zones, fail): registers the class snapshots are built as (see
   snapshot_result) and puts a ZoneSlot over each slot that zones ({slot name: zone}) names. */
static PyObject *m__snapshot_type(PyObject *self, PyObject *const *args, Py_ssize_t n) {
    (void)self;
    if (n != 3 || !PyType_Check(args[0]) || !PyDict_Check(args[1]) || !PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "_snapshot_type(cls, zones, fail): expected a class, a dict {slot name: "
                                         "zone} and a callable");
        return NULL;
    }
    PyTypeObject *t = (PyTypeObject *)args[0];
    Py_ssize_t h = slot_offset_of(t, "_h"), v = h < 0 ? -1 : slot_offset_of(t, "_version"),
               o = v < 0 ? -1 : slot_offset_of(t, "_owner");
    if (o < 0) return NULL;
    if (PyType_Ready(&ZoneSlot_Type) < 0) return NULL;
    if (str_limit == NULL && (str_limit = PyUnicode_InternFromString("limit")) == NULL) return NULL;
    if (str_prune == NULL && (str_prune = PyUnicode_InternFromString("prune")) == NULL) return NULL;
    Py_ssize_t pos = 0;
    PyObject *name, *zone;
    while (PyDict_Next(args[1], &pos, &name, &zone)) {
        Py_ssize_t off = PyUnicode_Check(name) ? slot_offset(t, name) : -1;
        if (off < 0 || !PyUnicode_Check(zone)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "_snapshot_type: zones maps slot names to str");
            return NULL;
        }
        ZoneSlot *z = PyObject_GC_New(ZoneSlot, &ZoneSlot_Type);
        if (z == NULL) return NULL;
        z->offset = off;
        z->name = Py_NewRef(name);
        z->zone = Py_NewRef(zone);
        z->fail = Py_NewRef(args[2]);
        PyObject_GC_Track(z);
        int err = PyObject_SetAttr(args[0], name, (PyObject *)z);
        Py_DECREF(z);
        if (err < 0) return NULL;
    }
    snapshot_h = h;
    snapshot_version = v;
    snapshot_owner = o;
    Py_INCREF(t);
    Py_XSETREF(snapshot_type, t);
    Py_RETURN_NONE;
}
ENTRY(state_history)
ENTRY(state_diff)
ENTRY(state_stats)
ENTRY(snapshot_get)
ENTRY(runtime_stats)
ENTRY(plan_new)
ENTRY(flux_parse)
ENTRY(flux_check)
ENTRY(flux_run)
ENTRY(flux_trace)
ENTRY(flux_fan_item)
ENTRY(flux_outline)
ENTRY(yaml_load)

#define M(name, doc) {#name, (PyCFunction)(void (*)(void))m_##name, METH_FASTCALL, doc}

/* Each doc starts with a text signature ("name($module, a, b, /)\n--\n\n"), so
   inspect.signature works on the module functions. */
#define SIG(name, params, doc) #name "($module, " params ", /)\n--\n\n" doc

static PyMethodDef core_methods[] = {
    M(state_new, SIG(state_new, "context, strict, keep_versions, history_size", "A new state; returns its Handle.")),
    M(state_version, SIG(state_version, "state", "The newest committed version.")),
    M(state_get, SIG(state_get, "state, path", "The read-only value at path in the newest version.")),
    M(state_begin, SIG(state_begin, "state, plan, extras", "(version, context) of a process start over the plan's paths.")),
    M(plan_new, SIG(plan_new, "paths, name", "The Handle of a process's parsed paths and name.")),
    M(state_commit, SIG(state_commit, "state, expected_version, updates, reads, author, strict, appends=None",
                        "Commit updates (reads: a tuple of paths, a plan or None; author None: the plan's name; appends: None or (branch path, tuple of values) added under keys the commit names); returns the new version.")),
    M(state_snapshot, SIG(state_snapshot, "state, owner=None", "(snapshot Handle, version) pinning the newest version; with owner, the Snapshot itself.")),
    M(state_at, SIG(state_at, "state, version, owner=None", "(snapshot Handle, version) of a retained version; with owner, the Snapshot itself.")),
    M(state_history, SIG(state_history, "state", "List of (version, author, paths, unix_time).")),
    M(state_diff, SIG(state_diff, "state, v1, v2", "List of (kind, path, old, new).")),
    M(state_stats, SIG(state_stats, "state", "Dict of bookkeeping counters.")),
    M(snapshot_get, SIG(snapshot_get, "snapshot, path", "The read-only value at path (None: the root).")),
    M(runtime_stats, "runtime_stats($module, /)\n--\n\nDict of process-wide counters."),
    M(flux_parse, SIG(flux_parse, "source, file", "(workflow Handle, name, description, process names, zones its conditions read, declared args [(name, has default, default)], whether steps take options (retry, except), wait names).")),
    M(flux_check, SIG(flux_check, "workflow, names, zones", "FluxError unless every process name is known and, when zones is a tuple, every zone a condition reads is one of them.")),
    M(flux_run, SIG(flux_run, "workflow, state, runner, budget, sink, args, paused, fan, observer", "observer(kind, step, line, col, outcome, start, duration, before, after) sees each step as it happens, or None; returns None, or (paused Handle, awaited name) for a run parked at a wait; sink gets the trace Handle; args: the run's arguments; paused: a parked run to resume, or None; fan: the map helper of a rich run (runner(name, args, retry, error, **with)), or None (runner(name, **with)).")),
    M(flux_trace, SIG(flux_trace, "trace", "(executed names, entries, dropped) of a finished run.")),
    M(flux_fan_item, SIG(flux_fan_item, "fan, item", "Run one item of a map step (called by the fan helper from its threads).")),
    M(flux_outline, SIG(flux_outline, "workflow", "The steps as nested (kind, label, line, col, blocks, extra) tuples.")),
    M(yaml_load, SIG(yaml_load, "text, file", "One YAML document as plain data (str-keyed dicts, lists, scalars).")),
    {"_snapshot_type", (PyCFunction)(void (*)(void))m__snapshot_type, METH_FASTCALL,
     "_snapshot_type($module, cls, zones, fail, /)\n--\n\nRegisters the class state_snapshot and state_at build "
     "with an owner; each slot named in zones ({slot: zone}) reads its zone while empty, fail(snapshot, name, "
     "exception) raising for a read that failed."},
    {"_after_fork_in_child", after_fork_in_child, METH_NOARGS,
     "_after_fork_in_child($module, /)\n--\n\nMarks this process as a forked child."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "theus._core",
    .m_doc = "The native core of theus: versioned state, read-only views and the Flux stepper, in Go.",
    .m_size = -1,
    .m_methods = core_methods,
};

PyMODINIT_FUNC PyInit__core(void) {
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL) return NULL;
    /* fork guard: flag the child before anything else runs in it */
    PyObject *os = PyImport_ImportModule("os");
    PyObject *hook = os ? PyObject_GetAttrString(m, "_after_fork_in_child") : NULL;
    PyObject *reg = os ? PyObject_GetAttrString(os, "register_at_fork") : NULL;
    PyObject *ok = NULL;
    if (hook && reg) {
        PyObject *kw = Py_BuildValue("{s:O}", "after_in_child", hook);
        PyObject *noargs = PyTuple_New(0);
        if (kw && noargs) ok = PyObject_Call(reg, noargs, kw);
        Py_XDECREF(kw);
        Py_XDECREF(noargs);
    }
    Py_XDECREF(os);
    Py_XDECREF(hook);
    Py_XDECREF(reg);
    if (ok == NULL) { Py_DECREF(m); return NULL; }
    Py_DECREF(ok);
    theus_handle_release = release_handle;
    if (go_module_init(m) < 0) { Py_DECREF(m); return NULL; }
    return m;
}
