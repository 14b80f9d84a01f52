/* The module object of theus._core: its method table and PyInit__core. Each method is a thin
   C shim that refuses to call Go in a forked child (the Go runtime does not survive fork) and
   otherwise forwards its FASTCALL arguments to the Go entry point of the same name. */
#include "py/py.h"
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

ENTRY(state_new)
ENTRY(state_version)
ENTRY(state_get)
ENTRY(state_begin)
/* state_commit's Go side returns the new version as an int (boxed here: one crossing fewer
   per commit), or -1 and the result, NULL with an exception set on failure. */
static PyObject *m_state_commit(PyObject *self, PyObject *const *args, Py_ssize_t n) {
    (void)self;
    if (forked) return fork_error();
    theus_ints ints;
    read_ints(args, n, &ints);
    struct go_state_commit_return r = go_state_commit((void *)args, (GoInt)n, ints.v, ints.ok);
    if (r.r1 >= 0) return PyLong_FromLongLong(r.r1);
    return (PyObject *)r.r0;
}
ENTRY(state_snapshot)
ENTRY(state_at)
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
    M(state_snapshot, SIG(state_snapshot, "state", "(snapshot Handle, version) pinning the newest version.")),
    M(state_at, SIG(state_at, "state, version", "(snapshot Handle, version) of a retained version.")),
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
