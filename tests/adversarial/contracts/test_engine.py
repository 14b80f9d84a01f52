"""Contracts that must not fail silently (engine half): how a return value maps onto the
declared outputs at depths 1-4, values returned without outputs, malformed returns, and async
processes whichever way they are wrapped. A refused return commits nothing."""

from __future__ import annotations

import asyncio
import functools
import gc
import threading
import warnings

import pytest

from theus import (DELETE, ContractViolationError, StateUpdate, TheusEngine, TheusError,
                   TransactionError, process)


def _context():
    return {"domain": {"x": 0, "y": 0, "a": {"b": {"c": {"d": 0}, "k": 1}, "s": 2},
                       "p": {"x": 0}, "q": {"x": 0}},
            "global": {"g": 0}}


def _run(outputs, ret, *, semantic="effect", inputs=None):
    e = TheusEngine(_context())

    @process(inputs=inputs or [], outputs=outputs, semantic=semantic)
    def proc(ctx):
        if semantic == "effect":
            ctx.outbox.add("sent", 1)
        return ret

    return e, proc


# (outputs, return value, {path: expected value after the commit})
MAPPED = [
    # one output and a dict keyed by its full path: mapped (as the reference framework does)
    (["domain.x"], {"domain.x": 5}, {"domain.x": 5, "domain.y": 0}),
    (["domain.a.s"], {"domain.a.s": 5}, {"domain.a.s": 5, "domain.a.b.k": 1}),
    (["domain.a.b.k"], {"domain.a.b.k": 5}, {"domain.a.b.k": 5, "domain.a.b.c.d": 0}),
    (["domain.a.b.c.d"], {"domain.a.b.c.d": 5}, {"domain.a.b.c.d": 5, "domain.a.b.k": 1}),
    (["domain"], {"domain.x": 5}, {"domain.x": 5, "domain.y": 0, "domain.a.s": 2}),
    (["domain.a"], {"domain.a.s": 5, "domain.a.b.k": 6}, {"domain.a.s": 5, "domain.a.b.k": 6, "domain.a.b.c.d": 0}),
    (["domain.a"], {"domain.a.new": 1}, {"domain.a.new": 1, "domain.a.s": 2}),
    (["global.g"], {"global.g": [1]}, {"global.g": [1], "domain.x": 0}),
    (["domain.x"], StateUpdate({"domain.x": 7}), {"domain.x": 7}),
    (["domain.a"], StateUpdate({"domain.a.b.k": 7}), {"domain.a.b.k": 7, "domain.a.s": 2}),
    # one output and a plain dict: the dict is the new value
    (["domain.x"], {"x": 5}, {"domain.x": {"x": 5}}),
    (["domain.x"], {}, {"domain.x": {}}),
    (["domain.x"], {"a": {"domain.x": 1}}, {"domain.x": {"a": {"domain.x": 1}}}),
    (["domain.x"], {1: "one"}, {"domain.x": {1: "one"}}),
    (["domain.a.b"], {"k": 9}, {"domain.a.b": {"k": 9}, "domain.a.s": 2}),
    (["domain"], {"z": 1}, {"domain": {"z": 1}}),
    (["domain.x"], 5, {"domain.x": 5}),
    (["domain.x"], (1, 2), {"domain.x": (1, 2)}),
    (["domain.x"], [1, 2], {"domain.x": [1, 2]}),
    (["domain.x"], "text", {"domain.x": "text"}),
    (["domain.x"], 0, {"domain.x": 0}),
    (["domain.x"], False, {"domain.x": False}),
    # several outputs
    (["domain.x", "domain.y"], (1, 2), {"domain.x": 1, "domain.y": 2}),
    (["domain.x", "domain.y"], [1, 2], {"domain.x": 1, "domain.y": 2}),
    (["domain.x", "domain.y"], {"x": 1, "y": 2}, {"domain.x": 1, "domain.y": 2}),
    (["domain.x", "domain.y"], {"domain.x": 1, "y": 2}, {"domain.x": 1, "domain.y": 2}),
    (["domain.x", "domain.y"], {"x": 1}, {"domain.x": 1, "domain.y": 0}),
    (["domain.x", "domain.a"], {"domain.a.s": 3}, {"domain.a.s": 3, "domain.a.b.k": 1, "domain.x": 0}),
    (["domain.a.s", "domain.a.b.k"], {"s": 1, "k": 2}, {"domain.a.s": 1, "domain.a.b.k": 2}),
    (["domain.a.b.c.d", "global.g"], {"d": 1, "global.g": 2}, {"domain.a.b.c.d": 1, "global.g": 2}),
    (["domain.a.b.c.d", "domain.x"], (4, 5), {"domain.a.b.c.d": 4, "domain.x": 5}),
    (["domain.p.x", "domain.q.x"], {"domain.p.x": 1, "domain.q.x": 2}, {"domain.p.x": 1, "domain.q.x": 2}),
    (["domain.x", "domain.y"], StateUpdate({"domain.y": 3}), {"domain.y": 3, "domain.x": 0}),
    (["domain.x", "domain.y"], ((1,), [2]), {"domain.x": (1,), "domain.y": [2]}),
]


@pytest.mark.parametrize("outputs, ret, expected", MAPPED, ids=[f"{i}" for i in range(len(MAPPED))])
def test_return_values_map_onto_outputs(outputs, ret, expected):
    e, proc = _run(outputs, ret)
    e.execute(proc)
    snap = e.state
    for path, value in expected.items():
        got = snap[path]
        plain = got.to_dict() if hasattr(got, "to_dict") else got.to_list() if hasattr(got, "to_list") else got
        if isinstance(value, tuple):
            assert tuple(plain) == value, path
        else:
            assert plain == value, path
    assert snap.version == 1
    assert len(snap["outbox"]) == 1  # the message committed with the update


def test_one_output_and_delete_by_path():
    e, proc = _run(["domain.a"], {"domain.a.s": DELETE})
    e.execute(proc)
    assert "s" not in e.state.domain.a and e.state["domain.a.b.k"] == 1


# (outputs, return value, fragment): refused with ContractViolationError, nothing committed
REFUSED = [
    ([], 5, "declares no outputs"),
    ([], 0, "declares no outputs"),
    ([], False, "declares no outputs"),
    ([], "", "declares no outputs"),
    ([], {}, "declares no outputs"),
    ([], [], "declares no outputs"),
    ([], {"domain.x": 1}, "declares no outputs"),
    ([], StateUpdate({"domain.x": 1}), "outside the declared outputs"),
    (["domain.x"], {"domain.x": 5, "other": 1}, "mixes output paths"),
    (["domain.x"], {"x": 1, "domain.x": 5}, "mixes output paths"),
    (["domain.x"], {"domain.y": 5}, "outside the declared outputs"),
    (["domain.a.b"], {"domain.a.s": 5}, "outside the declared outputs"),
    (["domain.a.b.c.d"], {"domain.a.b.c": 5}, "outside the declared outputs"),
    (["domain.a"], {"domain.a": 1, "domain.a.s": 2}, "overlap"),
    (["domain.x"], {"domain..x": 1}, "malformed"),
    (["domain.x"], {"domain.x.": 1}, "malformed"),
    (["domain.x", "domain.y"], (1,), "1 values for 2 outputs"),
    (["domain.x", "domain.y"], (1, 2, 3), "3 values for 2 outputs"),
    (["domain.x", "domain.y"], [], "0 values for 2 outputs"),
    (["domain.a.b.c.d", "domain.x", "domain.y"], [1, 2], "2 values for 3 outputs"),
    (["domain.x", "domain.y"], 5, "single int for 2 outputs"),
    (["domain.x", "domain.y"], "xy", "single str for 2 outputs"),
    (["domain.x", "domain.y"], {1, 2}, "single set for 2 outputs"),
    (["domain.x", "domain.y"], {"zzz": 1}, "matches no output"),
    (["domain.x", "domain.y"], {"X": 1}, "matches no output"),
    (["domain.x", "domain.y"], {1: 1}, "not a str"),
    (["domain.x", "domain.y"], {None: 1}, "not a str"),
    (["domain.x", "domain.y"], {"x": 1, "domain.x": 2}, "returned twice"),
    (["domain.x", "domain.y"], {"domain.z": 1}, "outside the declared outputs"),
    (["domain.x", "domain.y"], {"global.g": 1}, "outside the declared outputs"),
    (["domain.p.x", "domain.q.x"], {"x": 1}, "ambiguous"),
    (["domain.a.b.c.d", "domain.p.d" if False else "domain.a.b.k"], {"c": 1}, "matches no output"),
    (["domain.x", "domain.a"], {"domain.a": 1, "domain.a.s": 2}, "overlap"),
    (["domain.x", "domain.y"], {"domain..x": 1}, "malformed"),
    (["domain.x"], StateUpdate({"domain.y": 1}), "outside the declared outputs"),
    (["domain.x"], StateUpdate({"domain": 1}), "outside the declared outputs"),
    (["domain.a"], StateUpdate({"domain.a": 1, "domain.a.b": 2}), "overlap"),
    (["domain.a"], StateUpdate({"domain.a..b": 1}), "malformed"),
    (["domain.a"], StateUpdate({"": 1}), "malformed"),
    (["domain.x", "domain.y"], StateUpdate({"domain.xy": 1}), "outside the declared outputs"),
]


@pytest.mark.parametrize("semantic", ["effect", "pure"])
@pytest.mark.parametrize("outputs, ret, fragment", REFUSED, ids=[f"{i}" for i in range(len(REFUSED))])
def test_malformed_returns_commit_nothing(outputs, ret, fragment, semantic):
    e, proc = _run(outputs, ret, semantic=semantic)
    with pytest.raises(ContractViolationError, match="proc: ") as info:
        e.execute(proc)
    assert fragment in str(info.value)
    snap = e.state
    assert snap.version == 0 and e.history() == []
    assert "outbox" not in snap or len(snap["outbox"]) == 0  # the attempt's message vanished
    assert snap.to_dict() == _context()


@pytest.mark.parametrize("outputs, ret, fragment", REFUSED[:12], ids=[f"{i}" for i in range(12)])
def test_malformed_returns_commit_nothing_from_execute_async(outputs, ret, fragment):
    e, proc = _run(outputs, ret)
    with pytest.raises(ContractViolationError, match="proc: "):
        asyncio.run(e.execute_async(proc))
    assert e.state.version == 0


def test_state_update_with_a_non_str_path_is_refused_at_once():
    with pytest.raises(ContractViolationError, match="paths are str"):
        StateUpdate({1: 2})


def test_no_outputs_and_none_is_fine():
    e, proc = _run([], None)
    assert e.execute(proc) is None
    assert e.state.version == 1  # the outbox message alone commits
    e, proc = _run([], None, semantic="pure")
    assert e.execute(proc) is None
    assert e.state.version == 0


def test_the_refused_value_is_not_returned_either():
    e, proc = _run([], {"important": 1})
    with pytest.raises(ContractViolationError, match="would be lost"):
        e.execute(proc)


@pytest.mark.parametrize("kw, fragment", [
    ({"outputs": ["domain.a", "domain.a"]}, "declared twice"),
    ({"outputs": {"domain.a", "domain.b"}}, "in order"),
    ({"outputs": {"domain.a": 1}}, "in order"),
    ({"outputs": 5}, "list of paths"),
    ({"inputs": 5}, "list of paths"),
    ({"inputs": [None]}, "dotted str"),
    ({"outputs": ["domain.a", "domain.a.b.c"]}, "overlap"),
    ({"outputs": ["domain.a.b", "domain.a"]}, "overlap"),
    ({"outputs": ["domain."]}, "malformed"),
    ({"outputs": [".domain"]}, "malformed"),
    ({"semantic": ["pure"]}, "semantic"),
    ({"semantic": "PURE"}, "semantic"),
    ({"semantic": None}, "semantic"),
    ({"retries": True}, "retries"),
    ({"retries": 1.5}, "retries"),
    ({"retries": "3"}, "retries"),
    ({"retries": -1}, "retries"),
    ({"errors": [1]}, "exception classes"),
    ({"errors": 5}, "exception classes"),
    ({"errors": [ValueError, "x"]}, "exception classes"),
])
def test_malformed_contracts(kw, fragment):
    with pytest.raises(ContractViolationError, match=fragment):
        @process(**kw)
        def p(ctx):
            return None


def test_errors_may_be_one_exception_class():
    @process(errors=ValueError)
    def p(ctx):
        return None
    assert p.__theus_process__.errors == (ValueError,)


@pytest.mark.parametrize("make", ["generator", "async generator"])
def test_generator_functions_are_not_processes(make):
    if make == "generator":
        def gen(ctx):
            yield 1
    else:
        async def gen(ctx):
            yield 1
    with pytest.raises(ContractViolationError, match="generator function"):
        process(outputs=["domain.x"])(gen)


def test_dict_returned_for_one_output_keeps_siblings_at_every_depth():
    for depth, path in enumerate(["domain.a", "domain.a.b", "domain.a.b.c", "domain.a.b.c.d"], 1):
        e = TheusEngine(_context())

        @process(outputs=[path])
        def deep(ctx, _p=path):
            return {_p: "new"}
        e.execute(deep)
        snap = e.state
        assert snap[path] == "new", depth
        assert snap["domain.x"] == 0 and snap["global.g"] == 0


def test_conflict_retries_then_says_how_many_attempts():
    e = TheusEngine({"domain": {"x": 0}}, retries=2)
    calls = []

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def contended(ctx):
        calls.append(1)
        e.update({"domain.x": ctx.domain.x + 100})  # someone else wins every time
        return ctx.domain.x + 1
    with pytest.raises(TransactionError, match="3 attempts") as info:
        e.execute(contended)
    assert len(calls) == 3 and info.value.attempts == 3
    assert "retries=2" in str(info.value)
    assert info.value.conflicts == ("domain.x",)
    assert e.state.domain.x == 300


@pytest.mark.parametrize("retries", [0, 1, 4])
def test_process_retries_override_the_engine(retries):
    e = TheusEngine({"domain": {"x": 0}}, retries=9)

    @process(inputs=["domain.x"], outputs=["domain.x"], retries=retries)
    def contended(ctx):
        e.update({"domain.x": ctx.domain.x + 1})
        return 0
    with pytest.raises(TransactionError, match=f"{retries + 1} attempt") as info:
        e.execute(contended)
    assert info.value.attempts == retries + 1


def test_outbox_added_after_the_attempt_is_refused():
    e = TheusEngine({"domain": {"x": 0}})
    kept = []

    @process(outputs=["domain.x"])
    def stash(ctx):
        kept.append(ctx.outbox)
        return 1
    e.execute(stash)
    with pytest.raises(ContractViolationError, match="attempt this outbox belongs to is over"):
        kept[0].add("late", 1)
    assert e.process_outbox(lambda m: None) == 0


@pytest.mark.parametrize("add", [lambda o: o.add("t", 1), lambda o: o.add(__import__("theus").OutboxMsg("t"))])
def test_pure_process_outbox_points_to_semantic_effect(add):
    e = TheusEngine({"domain": {"x": 0}})

    @process(outputs=["domain.x"], semantic="pure")
    def pure(ctx):
        add(ctx.outbox)
        return 1
    with pytest.raises(ContractViolationError, match='semantic="effect"') as info:
        e.execute(pure)
    assert "inputs" not in str(info.value)
    assert e.state.version == 0


# --- async processes, however they are wrapped -------------------------------------------------

async def _value(ctx):
    await asyncio.sleep(0)
    return ctx.domain.x + 1


def _wraps():
    @functools.wraps(_value)
    def wrapper(ctx):
        return _value(ctx)
    return wrapper


def _wraps_twice():
    inner = _wraps()

    @functools.wraps(inner)
    def outer(ctx):
        return inner(ctx)
    return outer


class _AsyncCall:
    async def __call__(self, ctx):
        return await _value(ctx)


class _SyncCallReturningCoroutine:
    def __call__(self, ctx):
        return _value(ctx)


class _Awaitable:
    def __init__(self, value):
        self.value = value

    def __await__(self):
        yield from asyncio.sleep(0).__await__()
        return self.value


def _custom_awaitable():
    def f(ctx):
        return _Awaitable(ctx.domain.x + 1)
    return f


def _hidden_coroutine():
    def f(ctx):
        return _value(ctx)  # no marker at all: found at run time
    return f


def _partial():
    async def add(ctx, n):
        return ctx.domain.x + n
    return functools.partial(add, n=1)


def _method():
    class Holder:
        async def run(self, ctx):
            return ctx.domain.x + 1
    return Holder().run


ASYNC_KINDS = [
    ("async def", lambda: _value),
    ("functools.wraps", _wraps),
    ("wraps twice", _wraps_twice),
    ("async __call__", _AsyncCall),
    ("sync __call__ returning a coroutine", _SyncCallReturningCoroutine),
    ("custom awaitable", _custom_awaitable),
    ("hidden coroutine", _hidden_coroutine),
    ("partial", _partial),
]


def test_a_bound_method_is_refused_clearly():
    with pytest.raises(ContractViolationError, match="cannot attach a contract to a method"):
        process(outputs=["domain.x"])(_method())


def _async_proc(make):
    return process(inputs=["domain.x"], outputs=["domain.x"])(make())


@pytest.mark.parametrize("name, make", ASYNC_KINDS, ids=[k[0] for k in ASYNC_KINDS])
def test_async_processes_commit_the_awaited_value(name, make):
    e = TheusEngine({"domain": {"x": 0}})
    proc = _async_proc(make)
    assert asyncio.run(e.execute_async(proc)) == 1
    assert e.state.domain.x == 1
    assert e.execute(proc) == 2  # no running loop: run to completion
    assert e.state.domain.x == 2
    assert type(e.state.domain.x) is int  # never the coroutine object


@pytest.mark.parametrize("name, make", ASYNC_KINDS, ids=[k[0] for k in ASYNC_KINDS])
def test_async_processes_inside_a_running_loop_point_to_execute_async(name, make):
    e = TheusEngine({"domain": {"x": 0}})
    proc = _async_proc(make)

    async def inside():
        with pytest.raises(TheusError, match="execute_async"):
            e.execute(proc)
        return await e.execute_async(proc)

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "coroutine was never awaited"
        assert asyncio.run(inside()) == 1
        gc.collect()
    assert e.state.domain.x == 1 and e.state.version == 1


@pytest.mark.parametrize("name, make", ASYNC_KINDS[:4], ids=[k[0] for k in ASYNC_KINDS[:4]])
def test_async_processes_are_detected_when_decorated(name, make):
    proc = _async_proc(make)
    assert proc.__theus_process__.is_async


def test_async_conflicts_retry_without_blocking_the_loop():
    e = TheusEngine({"domain": {"x": 0}}, retries=3)
    calls = []

    @process(inputs=["domain.x"], outputs=["domain.x"])
    async def contended(ctx):
        calls.append(1)
        if len(calls) < 3:
            e.update({"domain.x": ctx.domain.x + 10})
        await asyncio.sleep(0)
        return ctx.domain.x + 1
    assert asyncio.run(e.execute_async(contended)) == 21
    assert len(calls) == 3 and e.state.domain.x == 21


def test_async_process_exceptions_pass_through_and_commit_nothing():
    e = TheusEngine({"domain": {"x": 0}})
    boom = KeyError("boom")

    @process(inputs=["domain.x"], outputs=["domain.x"])
    async def fails(ctx):
        raise boom
    with pytest.raises(KeyError) as info:
        asyncio.run(e.execute_async(fails))
    assert info.value is boom
    with pytest.raises(KeyError):
        e.execute(fails)
    assert e.state.version == 0


def test_execute_from_threads_while_a_loop_runs_elsewhere():
    e = TheusEngine({"domain": {"x": 0}})
    proc = _async_proc(_wraps)
    results = []

    def worker():
        results.append(e.execute(proc))  # this thread has no running loop

    async def main():
        t = threading.Thread(target=worker)
        t.start()
        await asyncio.to_thread(t.join)

    asyncio.run(main())
    assert results == [1] and e.state.domain.x == 1
