"""Handles and lifetime: every core object has one owner (theus._core.Handle). Copies and
pickles are refused or are plain data, a snapshot keeps what it reads alive, and every object
used after close/release raises ArgumentError, never InternalError."""

from __future__ import annotations

import copy
import gc
import multiprocessing
import pickle
import subprocess
import sys
import textwrap
import threading
import weakref

import pytest

import theus
from theus import (ArgumentError, InternalError, RunResult, Snapshot, State, TheusEngine,
                   Workflow, _core, process)

PROTOCOLS = list(range(pickle.HIGHEST_PROTOCOL + 1))


class Payload:
    """A value stored by reference, so a weakref tells when theus lets go of it."""

    def __init__(self, n: int) -> None:
        self.n = n


@process(inputs=["domain.x"], outputs=["domain.x"])
def bump(ctx):
    return ctx.domain.x + 1


def _engine() -> TheusEngine:
    e = TheusEngine({"domain": {"x": 0, "a": {"b": [1, 2]}}})
    e.register(bump)
    return e


def _state() -> State:
    return State({"domain": {"x": 0}})


def _snapshot() -> Snapshot:
    return _state().snapshot()


def _workflow() -> Workflow:
    return _engine().load_workflow("name: w\nsteps: [bump, bump]\n")


def _run_result() -> RunResult:
    e = _engine()
    e.execute_workflow("steps: [bump]")
    return e.last_run


def _handle():
    return _state()._h


def _copy(obj):
    return copy.copy(obj)


def _deepcopy(obj):
    return copy.deepcopy(obj)


def _pickler(protocol):
    def dump(obj):
        return pickle.dumps(obj, protocol=protocol)
    dump.__name__ = f"pickle{protocol}"
    return dump


OPERATIONS = [_copy, _deepcopy, *(_pickler(p) for p in PROTOCOLS)]
OPERATION_IDS = ["copy", "deepcopy", *(f"pickle{p}" for p in PROTOCOLS)]

# (what, factory, message fragment): objects that own a core handle refuse every copy
REFUSED = [
    ("State", _state, "snapshot().to_dict()"),
    ("Snapshot", _snapshot, "to_dict()"),
    ("TheusEngine", _engine, "create the engine in the worker"),
    ("Handle", _handle, "cannot be copied or pickled"),
    ("closed State", lambda: _closed(_state()), "cannot be copied or pickled"),
    ("released Snapshot", lambda: _released(_snapshot()), "cannot be copied or pickled"),
    ("closed engine", lambda: _closed(_engine()), "cannot be copied or pickled"),
]


def _closed(obj):
    obj.close()
    return obj


def _released(snap):
    snap.release()
    return snap


@pytest.mark.parametrize("op", OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize("what, factory, fragment", REFUSED, ids=[r[0] for r in REFUSED])
def test_objects_owning_a_handle_refuse_copy_and_pickle(what, factory, fragment, op):
    obj = factory()
    with pytest.raises(TypeError, match="cannot be copied or pickled") as info:
        op(obj)
    assert fragment in str(info.value)
    assert "Go" not in str(info.value) and "cgo" not in str(info.value)


@pytest.mark.parametrize("op", OPERATIONS, ids=OPERATION_IDS)
def test_a_refused_copy_leaves_the_original_working(op):
    e = _engine()
    snap = e.state
    for obj in (e, e._state, snap):
        with pytest.raises(TypeError):
            op(obj)
    gc.collect()
    assert e.execute(bump) == 1
    assert snap["domain.x"] == 0 and e.state.domain.x == 1


@pytest.mark.parametrize("op", OPERATIONS[1:], ids=OPERATION_IDS[1:])  # a shallow copy shares items
def test_copies_inside_containers_are_refused_too(op):
    s = _state()
    with pytest.raises(TypeError, match="cannot be copied or pickled"):
        op({"state": [s]})
    assert s.version == 0


def _round_trip(op, obj):
    data = op(obj)
    return pickle.loads(data) if isinstance(data, bytes) else data


@pytest.mark.parametrize("op", OPERATIONS, ids=OPERATION_IDS)
def test_workflow_copies_are_parsed_again_from_the_source(op):
    wf = _workflow()
    clone = _round_trip(op, wf)
    assert clone is not wf and isinstance(clone, Workflow)
    assert (clone.name, clone.process_names, clone.source, clone.file) == (
        wf.name, wf.process_names, wf.source, wf.file)
    assert clone._h is not wf._h  # its own parsed document
    e = _engine()
    del wf
    gc.collect()  # dropping the original frees only its own document
    assert clone.run(e) == ("bump", "bump")
    assert e.state.domain.x == 2


@pytest.mark.parametrize("op", OPERATIONS, ids=OPERATION_IDS)
def test_run_results_copy_as_plain_data(op):
    run = _run_result()
    clone = _round_trip(op, run)
    assert clone == run
    assert clone.executed == ("bump",)
    assert [t.kind for t in clone.trace] == [t.kind for t in run.trace]
    assert clone.dropped == 0


@pytest.mark.parametrize("op", OPERATIONS, ids=OPERATION_IDS)
def test_process_contracts_copy_with_their_own_plan(op):
    spec = bump.__theus_process__
    clone = _round_trip(op, spec)
    assert (clone.name, clone.inputs, clone.outputs) == (spec.name, spec.inputs, spec.outputs)
    assert clone.plan is not spec.plan
    e = _engine()
    assert e.execute(bump) == 1  # the original plan still works after the copy is dropped
    del clone
    gc.collect()
    assert e.execute(bump) == 2


# --- no number is a handle ---------------------------------------------------------------

def _entry_points():
    s = _state()
    snap_h, _ = _core.state_snapshot(s._h)
    plan = bump.__theus_process__.plan
    wf = _workflow()
    return s, snap_h, plan, wf


NUMBER_CALLS = [
    ("state_version", lambda n, s, snap, plan, wf: _core.state_version(n)),
    ("state_get", lambda n, s, snap, plan, wf: _core.state_get(n, "domain.x")),
    ("state_begin state", lambda n, s, snap, plan, wf: _core.state_begin(n, plan, None)),
    ("state_begin plan", lambda n, s, snap, plan, wf: _core.state_begin(s._h, n, None)),
    ("state_commit", lambda n, s, snap, plan, wf: _core.state_commit(n, 0, {"domain.x": 1}, None, None, False)),
    ("state_snapshot", lambda n, s, snap, plan, wf: _core.state_snapshot(n)),
    ("state_at", lambda n, s, snap, plan, wf: _core.state_at(n, 0)),
    ("state_history", lambda n, s, snap, plan, wf: _core.state_history(n)),
    ("state_diff", lambda n, s, snap, plan, wf: _core.state_diff(n, 0, 0)),
    ("state_stats", lambda n, s, snap, plan, wf: _core.state_stats(n)),
    ("snapshot_get", lambda n, s, snap, plan, wf: _core.snapshot_get(n, "domain.x")),
    ("flux_check", lambda n, s, snap, plan, wf: _core.flux_check(n, (), None)),
    ("flux_run workflow", lambda n, s, snap, plan, wf: _core.flux_run(n, s._h, print, 0, [], {}, None, None, None)),
    ("flux_run state", lambda n, s, snap, plan, wf: _core.flux_run(wf._h, n, print, 0, [], {}, None, None, None)),
    ("flux_trace", lambda n, s, snap, plan, wf: _core.flux_trace(n)),
]


@pytest.mark.parametrize("number", [0, 1, 2, 3, -1, 2**40, 2**70, 1.0, True, "1", None])
@pytest.mark.parametrize("name, call", NUMBER_CALLS, ids=[c[0] for c in NUMBER_CALLS])
def test_no_number_names_a_core_object(name, call, number):
    s, snap, plan, wf = _entry_points()
    with pytest.raises(ArgumentError, match="expected a theus handle"):
        call(number, s, snap, plan, wf)
    assert _core.state_version(s._h) == 0  # the state that holds handle 1, 2 or 3 is untouched


WRONG_KIND = [
    ("snapshot as state", lambda s, snap, plan, wf: _core.state_version(snap)),
    ("plan as state", lambda s, snap, plan, wf: _core.state_get(plan, "domain.x")),
    ("workflow as state", lambda s, snap, plan, wf: _core.state_snapshot(wf._h)),
    ("state as snapshot", lambda s, snap, plan, wf: _core.snapshot_get(s._h, "domain.x")),
    ("state as plan", lambda s, snap, plan, wf: _core.state_begin(s._h, s._h, None)),
    ("snapshot as workflow", lambda s, snap, plan, wf: _core.flux_check(snap, (), None)),
    ("state as trace", lambda s, snap, plan, wf: _core.flux_trace(s._h)),
    ("workflow as trace", lambda s, snap, plan, wf: _core.flux_trace(wf._h)),
]


@pytest.mark.parametrize("reads", [0, 1, 2, 2**70, 1.0, True, "domain.x", ["domain.x"], "h"])
def test_reads_is_a_tuple_of_paths_or_a_plan(reads):
    s, snap, plan, wf = _entry_points()
    if reads == "h":
        reads = s._h  # a handle, but not a plan
    with pytest.raises(ArgumentError, match="reads"):
        _core.state_commit(s._h, 0, {"domain.x": 1}, reads, None, False)
    assert _core.state_version(s._h) == 0


@pytest.mark.parametrize("name, call", WRONG_KIND, ids=[c[0] for c in WRONG_KIND])
def test_a_handle_of_the_wrong_kind_is_an_argument_error(name, call):
    s, snap, plan, wf = _entry_points()
    with pytest.raises(ArgumentError, match="theus handle of a"):
        call(s, snap, plan, wf)
    assert _core.state_version(s._h) == 0
    assert _core.snapshot_get(snap, "domain.x") == 0


def test_the_handle_type_cannot_be_created_or_subclassed():
    with pytest.raises(TypeError):
        _core.Handle()
    with pytest.raises(TypeError):
        class Mine(_core.Handle):  # noqa: F841
            pass
    with pytest.raises(TypeError):
        object.__new__(_core.Handle)
    forged = b"\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x0btheus._core\x94\x8c\x06Handle\x94\x93\x94)\x81\x94."
    with pytest.raises((TypeError, pickle.UnpicklingError)):
        pickle.loads(forged)


def test_handle_close_is_idempotent_and_visible():
    s = _state()
    h = s._h
    assert not h.closed and h.kind == "state" and "state" in repr(h)
    h.close()
    h.close()
    assert h.closed and "closed" in repr(h)
    assert s.closed
    with pytest.raises(ArgumentError, match="closed"):
        s.version


# --- a snapshot keeps what it reads alive -------------------------------------------------

def test_engine_state_outlives_the_engine():
    zone = TheusEngine({"domain": {"x": 1, "items": [1, {"y": 2}]}}).state.domain
    gc.collect()
    assert zone.x == 1
    assert zone["items"][1]["y"] == 2
    assert zone.to_dict() == {"x": 1, "items": [1, {"y": 2}]}


def test_snapshot_outlives_its_state_and_engine():
    e = TheusEngine({"domain": {"x": 1, "a": {"b": {"c": [3]}}}})
    snap = e.state
    state_ref = weakref.ref(e._state)
    del e
    gc.collect()
    assert state_ref() is None  # the Python State is gone, its core state is not
    assert snap["domain.a.b.c"][0] == 3
    assert snap.domain.a.b.c.to_list() == [3]
    assert snap.version == 0


def test_views_outlive_snapshot_state_and_engine():
    obj = Payload(7)
    e = TheusEngine({"domain": {"a": {"b": [1, {"c": 2}]}, "p": obj}})
    snap = e.state
    deep = snap.domain.a.b
    payload = snap.domain.p
    del e, snap, obj
    gc.collect()
    assert deep[1]["c"] == 2 and list(deep[1]) == ["c"]
    assert payload.n == 7


def test_the_state_is_freed_with_its_last_snapshot():
    obj = Payload(1)
    ref = weakref.ref(obj)
    s = State({"domain": {"p": obj}})
    snap = s.snapshot()
    del obj, s
    gc.collect()
    assert ref() is not None  # the snapshot still pins the state
    snap.release()
    gc.collect()
    assert ref() is None


def test_dropping_the_last_snapshot_frees_the_state():
    obj = Payload(1)
    ref = weakref.ref(obj)
    snap = State({"domain": {"p": obj}}).snapshot()
    del obj
    gc.collect()
    assert ref() is not None
    del snap
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("zones", [("domain",), ("domain", "global_"), ("global_", "domain", "heavy")])
def test_release_frees_values_even_with_cached_zone_views(zones):
    s = State({"domain": {"x": 0, "a": {"b": 1}}, "global": {"g": 1}, "heavy": {}})
    snap = s.snapshot()
    for zone in zones:
        getattr(snap, zone)  # cached on the snapshot
    s.compare_and_swap(0, {"domain.a": {"b": 2}, "global.g": 2})
    held = s.stats()
    assert held["pending_release"] > 0 and held["live_snapshots"] == 1
    before = held["released"]
    snap.release()
    after = s.stats()
    assert after["released"] > before
    assert after["pending_release"] == 0 and after["live_snapshots"] == 0
    with pytest.raises(ArgumentError, match="released"):
        getattr(snap, zones[0])  # the cached view is gone with the release


def test_release_lets_a_replaced_object_go_although_its_zone_was_read():
    obj = Payload(0)
    ref = weakref.ref(obj)
    s = State({"domain": {"p": obj, "x": 1}})
    del obj
    snap = s.snapshot()
    assert snap.domain.x == 1  # caches the zone view (which holds the branch dict)
    s.compare_and_swap(0, {"domain.p": 1})
    assert ref() is not None
    snap.release()
    assert ref() is None


# --- close while a process runs ------------------------------------------------------------

def test_close_from_inside_the_process():
    e = _engine()

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def closer(ctx):
        e.close()
        return ctx.domain.x + 1

    with pytest.raises(ArgumentError, match="closed") as info:
        e.execute(closer)
    assert not isinstance(info.value, InternalError)
    with pytest.raises(ArgumentError, match="closed"):
        e.state


@pytest.mark.parametrize("semantic", ["pure", "effect"])
def test_close_from_another_thread_while_the_process_waits(semantic):
    e = _engine()
    started, go = threading.Event(), threading.Event()

    @process(inputs=["domain.x"], outputs=["domain.x"], semantic=semantic)
    def slow(ctx):
        started.set()
        assert go.wait(30)
        if semantic == "effect":
            ctx.outbox.add("t", 1)
        return ctx.domain.x + 1

    errors: list[BaseException] = []

    def run():
        try:
            e.execute(slow)
        except BaseException as exc:  # recorded and checked below
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    assert started.wait(30)
    e.close()
    go.set()
    t.join(30)
    assert len(errors) == 1 and type(errors[0]) is ArgumentError, errors
    assert "closed" in str(errors[0])


def test_close_during_concurrent_commits_never_raises_internal_error():
    e = TheusEngine({"domain": {f"c{i}": 0 for i in range(4)}})
    procs = []
    for i in range(4):
        @process(inputs=[f"domain.c{i}"], outputs=[f"domain.c{i}"])
        def inc(ctx, _i=i):
            return ctx.domain[f"c{_i}"] + 1
        procs.append(inc)
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(p):
        done = 0
        while True:
            try:
                e.execute(p)
                done += 1
            except ArgumentError as exc:
                assert "closed" in str(exc)
                break
            except BaseException as exc:  # recorded: the assertion below names it
                with lock:
                    outcomes.append(repr(exc))
                break
        with lock:
            outcomes.append(f"ok {done}")

    ts = [threading.Thread(target=work, args=(p,)) for p in procs]
    for t in ts:
        t.start()
    for _ in range(200):
        threading.Event().wait(0.001)
    e.close()
    for t in ts:
        t.join(60)
    assert len(outcomes) == 4 and all(o.startswith("ok") for o in outcomes), outcomes


def test_close_inside_a_workflow_step_stops_the_run_cleanly():
    e = _engine()

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def closer(ctx):
        e.close()
        return 1

    e.register(closer)
    with pytest.raises(ArgumentError, match="closed"):
        e.execute_workflow("steps: [bump, closer, bump]")


# --- use after close / release --------------------------------------------------------------

def _closed_state():
    s = State({"domain": {"x": 0}}, history=2)
    s.close()
    return s


STATE_METHODS = [
    ("version", lambda s: s.version),
    ("get", lambda s: s.get("domain.x")),
    ("get default", lambda s: s.get("domain.x", 5)),
    ("getitem", lambda s: s["domain.x"]),
    ("compare_and_swap", lambda s: s.compare_and_swap(0, {"domain.x": 1})),
    ("update", lambda s: s.update({"domain.x": 1})),
    ("snapshot", lambda s: s.snapshot()),
    ("at", lambda s: s.at(0)),
    ("history", lambda s: s.history()),
    ("diff", lambda s: s.diff(0, 0)),
    ("stats", lambda s: s.stats()),
]


@pytest.mark.parametrize("name, call", STATE_METHODS, ids=[m[0] for m in STATE_METHODS])
def test_every_state_method_after_close(name, call):
    s = _closed_state()
    with pytest.raises(ArgumentError, match="state is closed"):
        call(s)
    s.close()  # still idempotent
    assert repr(s) == "<theus.State closed>"


SNAPSHOT_METHODS = [
    ("version", lambda s: s.version),
    ("zone", lambda s: s.domain),
    ("global_", lambda s: s.global_),
    ("getitem", lambda s: s["domain.x"]),
    ("get", lambda s: s.get("domain.x")),
    ("get default", lambda s: s.get("domain.nope", 1)),
    ("contains", lambda s: "domain.x" in s),
    ("to_dict", lambda s: s.to_dict()),
]


@pytest.mark.parametrize("name, call", SNAPSHOT_METHODS, ids=[m[0] for m in SNAPSHOT_METHODS])
@pytest.mark.parametrize("how", ["release", "with", "state closed"])
def test_every_snapshot_method_after_release(name, call, how):
    s = State({"domain": {"x": 0}, "global": {}})
    snap = s.snapshot()
    snap.domain  # a cached zone must not survive either
    if how == "release":
        snap.release()
    elif how == "with":
        with snap:
            pass
    else:
        s.close()
    with pytest.raises(ArgumentError, match="released|closed"):
        call(snap)
    snap.release()  # idempotent


ENGINE_METHODS = [
    ("state", lambda e: e.state),
    ("execute", lambda e: e.execute(bump)),
    ("execute by name", lambda e: e.execute("bump")),
    ("execute_async", lambda e: __import__("asyncio").run(e.execute_async(bump))),
    ("register", lambda e: e.register(bump)),
    ("compare_and_swap", lambda e: e.compare_and_swap(0, {"domain.x": 1})),
    ("update", lambda e: e.update({"domain.x": 1})),
    ("history", lambda e: e.history()),
    ("at", lambda e: e.at(0)),
    ("diff", lambda e: e.diff(0, 0)),
    ("process_outbox", lambda e: e.process_outbox(print)),
    ("start_relay", lambda e: e.start_relay(print)),
    ("load_workflow", lambda e: e.load_workflow("steps: [bump]")),
    ("execute_workflow", lambda e: e.execute_workflow("steps: [bump]")),
]


@pytest.mark.parametrize("name, call", ENGINE_METHODS, ids=[m[0] for m in ENGINE_METHODS])
def test_every_engine_method_after_close(name, call):
    e = _engine()
    e.close()
    with pytest.raises(ArgumentError, match="closed") as info:
        call(e)
    assert not isinstance(info.value, InternalError)
    e.close()
    assert "closed" in repr(e)


def test_workflow_prepared_before_close_fails_cleanly():
    e = _engine()
    wf = e.load_workflow("steps: [bump]")
    e.close()
    with pytest.raises(ArgumentError, match="closed"):
        wf.run(e)


def test_reading_a_run_result_frees_only_its_trace():
    e = _engine()
    e.execute_workflow("steps: [bump]")
    run = e.last_run
    assert run.executed == ("bump",)  # reads and frees the trace handle
    assert run.executed == ("bump",)
    assert e.execute(bump) == 2
    assert e.state.domain.x == 2


def test_dropping_workflows_and_runs_frees_nothing_else():
    e = _engine()
    snap = e.state
    for _ in range(50):
        wf = e.load_workflow("steps: [bump]")
        wf.run(e)
        del wf
        e.last_run = None
    gc.collect()
    assert e.state.domain.x == 50
    assert snap["domain.x"] == 0


# --- other processes ------------------------------------------------------------------------

def _spawn_run_workflow(wf: Workflow) -> RunResult:
    import theus as t

    @t.process(inputs=["domain.x"], outputs=["domain.x"])
    def bump(ctx):
        return ctx.domain.x + 1

    e = t.TheusEngine({"domain": {"x": 10}})
    e.register(bump)
    wf.run(e)
    assert e.state.domain.x == 12
    return e.last_run


def _spawn_touch(obj) -> int:
    return 1


def test_spawn_worker_runs_a_pickled_workflow_and_returns_its_run():
    ctx = multiprocessing.get_context("spawn")
    wf = _workflow()
    with ctx.Pool(1) as pool:
        run = pool.apply(_spawn_run_workflow, (wf,))
    assert isinstance(run, RunResult)
    assert run.executed == ("bump", "bump")


@pytest.mark.parametrize("factory", [_state, _snapshot, _engine], ids=["State", "Snapshot", "TheusEngine"])
def test_spawn_refuses_to_send_objects_owning_a_handle(factory):
    ctx = multiprocessing.get_context("spawn")
    obj = factory()
    with ctx.Pool(1) as pool:
        with pytest.raises(TypeError, match="cannot be copied or pickled"):
            pool.apply(_spawn_touch, (obj,))
    if isinstance(obj, TheusEngine):
        assert obj.execute(bump) == 1
    elif isinstance(obj, State):
        assert obj.compare_and_swap(0, {"domain.x": 1}) == 1


def _run(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


def test_a_forged_pickle_cannot_take_over_another_state():
    proc = _run("""
        import pickle, pickletools
        import theus
        mine = theus.State({"domain": {"secret": 1}})
        forged = [
            b"ctheus._core\\nHandle\\n)\\x81.",
            pickle.dumps(1),
        ]
        for data in forged:
            try:
                obj = pickle.loads(data)
            except (TypeError, pickle.UnpicklingError):
                continue
            try:
                theus._core.state_commit(obj, 0, {"domain.secret": 2}, None, None, False)
            except theus.ArgumentError:
                continue
            raise SystemExit("a forged handle drove another state")
        assert mine.get("domain.secret") == 1
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_handles_dropped_in_a_forked_child_do_nothing():
    proc = _run("""
        import gc, os
        import theus
        s = theus.State({"domain": {"x": 1}})
        snap = s.snapshot()
        pid = os.fork()
        if pid == 0:
            del snap, s
            gc.collect()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        assert snap["domain.x"] == 1 and s.version == 0
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_interpreter_exit_with_live_handles_is_clean():
    proc = _run("""
        import theus
        e = theus.TheusEngine({"domain": {"x": [1, 2]}})
        keep = [e.state, e.state.domain, e._state, e.load_workflow("steps: []\\n")]
        snap = e.state
        cycle = [snap]
        cycle.append(cycle)
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert proc.stderr == ""
