/* The module object of theus._core: its method table and PyInit__core. Each method is a thin
   C shim that refuses to call Go in a forked child (the Go runtime does not survive fork) and
   otherwise forwards its FASTCALL arguments to the Go entry point of the same name. */
#include "py/py.h"
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
    forked = 1;
    Py_RETURN_NONE;
}

/* theus_ints holds the leading int arguments of a call (handles, versions), read here in C
   so the Go side needs no crossing for them: bit i of `ok` says ints[i] is args[i]. */
typedef struct {
    long long v[THEUS_INT_ARGS];
    unsigned ok;
} theus_ints;

static inline void read_ints(PyObject *const *args, Py_ssize_t n, theus_ints *ints) {
    ints->ok = 0;
    for (Py_ssize_t i = 0; i < n && i < THEUS_INT_ARGS; i++) {
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
        if (forked) return fork_error();                                                  \
        theus_ints ints;                                                                  \
        read_ints(args, n, &ints);                                                        \
        return (PyObject *)go_##name((void *)args, (GoInt)n, ints.v, ints.ok);           \
    }

/* Release-type entries run from __del__: in a forked child they quietly do nothing, since the
   objects they would free belong to the parent's Go runtime. */
#define RELEASE_ENTRY(name)                                                               \
    static PyObject *m_##name(PyObject *self, PyObject *const *args, Py_ssize_t n) {     \
        if (forked) Py_RETURN_NONE;                                                       \
        theus_ints ints;                                                                  \
        read_ints(args, n, &ints);                                                        \
        return (PyObject *)go_##name((void *)args, (GoInt)n, ints.v, ints.ok);           \
    }

ENTRY(state_new)
RELEASE_ENTRY(state_close)
ENTRY(state_version)
ENTRY(state_get)
ENTRY(state_begin)
ENTRY(state_commit)
ENTRY(state_snapshot)
ENTRY(state_at)
ENTRY(state_history)
ENTRY(state_diff)
ENTRY(state_stats)
ENTRY(snapshot_get)
RELEASE_ENTRY(snapshot_release)
ENTRY(runtime_stats)
ENTRY(plan_new)
RELEASE_ENTRY(plan_free)
ENTRY(flux_parse)
ENTRY(flux_check)
ENTRY(flux_run)
ENTRY(flux_trace)
RELEASE_ENTRY(flux_free)

#define M(name, doc) {#name, (PyCFunction)(void (*)(void))m_##name, METH_FASTCALL, doc}

static PyMethodDef core_methods[] = {
    M(state_new, "state_new(context, strict, keep_versions, history_size) -> handle"),
    M(state_close, "state_close(handle): release every value the state holds"),
    M(state_version, "state_version(handle) -> int"),
    M(state_get, "state_get(handle, path) -> read-only value at path in the newest version"),
    M(state_begin, "state_begin(handle, plan, extras) -> (version, context) over the plan's present paths"),
    M(plan_new, "plan_new(paths, name) -> handle of a process's parsed paths and name"),
    M(plan_free, "plan_free(plan): drop a plan"),
    M(state_commit, "state_commit(handle, expected_version, updates, reads (tuple, plan or None), author (None: the plan's name), strict) -> new version"),
    M(state_snapshot, "state_snapshot(handle) -> snapshot handle pinning the newest version"),
    M(state_at, "state_at(handle, version) -> snapshot handle of a retained version"),
    M(state_history, "state_history(handle) -> list of (version, author, paths, unix_time)"),
    M(state_diff, "state_diff(handle, v1, v2) -> list of (kind, path, old, new)"),
    M(state_stats, "state_stats(handle) -> dict of bookkeeping counters"),
    M(snapshot_get, "snapshot_get(snapshot, path) -> read-only value at path"),
    M(snapshot_release, "snapshot_release(snapshot): unpin the snapshot's version"),
    M(runtime_stats, "runtime_stats() -> dict of process-wide counters"),
    M(flux_parse, "flux_parse(source, file) -> (workflow handle, name, description, process names)"),
    M(flux_check, "flux_check(workflow, names): FluxError unless every process name is known"),
    M(flux_run, "flux_run(workflow, state, runner, budget, sink) -> executed names; sink gets a trace handle"),
    M(flux_trace, "flux_trace(trace) -> (executed names, entries, dropped) of a finished run"),
    M(flux_free, "flux_free(handle): drop a parsed workflow or a run's trace"),
    {"_after_fork_in_child", after_fork_in_child, METH_NOARGS, "marks this process as a forked child"},
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
    if (go_module_init(m) < 0) { Py_DECREF(m); return NULL; }
    return m;
}
