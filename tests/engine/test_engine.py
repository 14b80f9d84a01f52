"""Processes and the engine: contracts, output mapping, CAS with retries, history."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time

import pytest

import theus
from theus import (ContractViolationError, StateUpdate, TheusEngine, TheusError, TransactionError,
                   process)


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def increment(ctx):
    return ctx.domain.counter + 1


@pytest.fixture
def engine():
    e = TheusEngine(context={"domain": {"counter": 0, "items": [], "a": 0, "b": 0,
                                        "user": {"name": "ann", "age": 3}},
                             "global": {"limit": 10}})
    e.register(increment)
    return e


def test_execute_commits_the_return_value(engine):
    assert engine.execute(increment) == 1
    assert engine.execute("increment") == 2
    snap = engine.state
    assert snap.domain.counter == 2 and snap.version == 2


def test_decorated_function_stays_callable():
    class Ctx:
        class domain:
            counter = 41
    assert increment(Ctx) == 42
    assert increment.__theus_process__.outputs == ("domain.counter",)


def test_bare_decorator():
    @process
    def noop(ctx):
        return None

    @process
    def lossy(ctx):
        return 5
    e = TheusEngine()
    e.register(noop)
    assert e.execute(noop) is None
    assert e.state.version == 0  # no outputs: nothing written
    with pytest.raises(ContractViolationError, match="declares no outputs"):
        e.execute(lossy)  # the value would be lost silently
    assert e.state.version == 0


def test_several_outputs_tuple_dict_and_state_update(engine):
    @process(inputs=["domain.a"], outputs=["domain.a", "domain.b"])
    def both(ctx):
        return ctx.domain.a + 1, 7

    @process(outputs=["domain.a", "domain.b"])
    def by_leaf(ctx):
        return {"a": 10, "domain.b": 20}

    @process(outputs=["domain.user"])
    def explicit(ctx):
        return StateUpdate({"domain.user.name": "bob"})

    engine.execute(both)
    assert (engine.state.domain.a, engine.state.domain.b) == (1, 7)
    engine.execute(by_leaf)
    assert (engine.state.domain.a, engine.state.domain.b) == (10, 20)
    engine.execute(explicit)
    assert engine.state.domain.user.to_dict() == {"name": "bob", "age": 3}


def test_none_writes_nothing(engine):
    @process(outputs=["domain.a"])
    def nothing(ctx):
        return None
    engine.execute(nothing)
    assert engine.state.version == 0


@pytest.mark.parametrize("ret, match", [
    ((1,), "1 values for 2 outputs"),
    ((1, 2, 3), "3 values for 2 outputs"),
    ({"zzz": 1}, "matches no output"),
    (5, "single int for 2 outputs"),
    (StateUpdate({"domain.counter": 1}), "outside the declared outputs"),
])
def test_malformed_returns_commit_nothing(engine, ret, match):
    @process(outputs=["domain.a", "domain.b"])
    def bad(ctx):
        return ret
    with pytest.raises(ContractViolationError, match=match):
        engine.execute(bad)
    assert engine.state.version == 0
    assert engine.history() == []
    assert engine.execute(increment) == 1  # still usable


def test_reads_outside_inputs_raise(engine):
    @process(inputs=["domain.counter"], outputs=["domain.a"])
    def peek(ctx):
        return ctx.domain.user
    with pytest.raises(ContractViolationError, match="domain.user"):
        engine.execute(peek)
    assert engine.state.version == 0


def test_context_is_read_only(engine):
    @process(inputs=["domain.items"], outputs=["domain.a"])
    def sneaky(ctx):
        ctx.domain.items.append(1)
    with pytest.raises(theus.ContextError):
        engine.execute(sneaky)
    assert engine.state.domain["items"] == []


def test_user_exception_passes_through_unchanged(engine):
    boom = ValueError("boom")

    @process(outputs=["domain.a"])
    def fails(ctx):
        raise boom
    with pytest.raises(ValueError) as info:
        engine.execute(fails)
    assert info.value is boom
    assert engine.state.version == 0


def test_returning_a_view_commits_the_data(engine):
    @process(inputs=["domain.user"], outputs=["domain.clone"])
    def copy_user(ctx):
        return ctx.domain.user
    engine.execute(copy_user)
    copied = engine.state.domain.clone
    assert isinstance(copied, theus.FrozenDict)
    assert copied.to_dict() == {"name": "ann", "age": 3}


def test_mutating_a_returned_value_afterwards_does_not_change_state(engine):
    kept = []

    @process(outputs=["domain.items"])
    def make(ctx):
        value = [1, {"x": [2]}]
        kept.append(value)
        return value
    engine.execute(make)
    kept[0].append(3)
    kept[0][1]["x"].append(4)
    assert engine.state["domain.items"].to_list() == [1, {"x": [2]}]


def test_unknown_kwargs_are_a_contract_violation(engine):
    @process(outputs=["domain.a"])
    def takes(ctx, amount):
        return amount
    engine.execute(takes, amount=3)
    assert engine.state.domain.a == 3
    with pytest.raises(ContractViolationError, match="bogus"):
        engine.execute(takes, amount=1, bogus=2)
    assert engine.state.domain.a == 3


def test_unknown_process_name_suggests(engine):
    with pytest.raises(ContractViolationError, match="did you mean 'increment'"):
        engine.execute("incremnt")


def test_non_process_callable(engine):
    with pytest.raises(ContractViolationError, match="not a process"):
        engine.register(lambda ctx: 1)


@pytest.mark.parametrize("kw, match", [
    ({"outputs": ["domain..x"]}, "malformed"),
    ({"outputs": [""]}, "malformed"),
    ({"inputs": [3]}, "dotted str"),
    ({"outputs": ["domain.a", "domain.a.b"]}, "overlap"),
    ({"semantic": "mostly"}, "semantic"),
    ({"retries": -1}, "retries"),
])
def test_malformed_contracts(kw, match):
    with pytest.raises(ContractViolationError, match=match):
        @process(**kw)
        def p(ctx):
            return None


def test_output_under_unknown_zone_fails_at_registration(engine):
    @process(outputs=["domian.x"])
    def typo(ctx):
        return 1
    with pytest.raises(ContractViolationError, match="domian"):
        engine.register(typo)


def test_reregistering_replaces(engine):
    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def increment(ctx):  # noqa: F811 - a notebook cell re-run
        return ctx.domain.counter + 10
    engine.register(increment)
    assert engine.execute("increment") == 10


def test_register_module_and_scan(tmp_path):
    (tmp_path / "procs.py").write_text(
        "from theus import process\n"
        "@process(outputs=['domain.x'])\n"
        "def set_x(ctx):\n    return 9\n"
    )
    e = TheusEngine({"domain": {"x": 0}})
    assert e.scan_and_register(tmp_path) == ["set_x"]
    e.execute("set_x")
    assert e.state.domain.x == 9
    (tmp_path / "broken.py").write_text("raise ImportError('nope')\n")
    with pytest.raises(ImportError, match="nope"):
        e.scan_and_register(tmp_path)


def test_context_from_dataclass():
    @dataclasses.dataclass
    class Domain:
        counter: int = 0

    @dataclasses.dataclass
    class Ctx:
        domain: Domain
        global_: dict = dataclasses.field(default_factory=dict)

    e = TheusEngine(Ctx(Domain(4)))
    assert e.state.domain.counter == 4


def test_conflicting_writer_is_retried_with_correct_result(engine):
    started = threading.Event()
    go = threading.Event()
    calls = []

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def slow(ctx):
        calls.append(ctx.domain.counter)
        if len(calls) == 1:
            started.set()
            go.wait(5)
        return ctx.domain.counter + 100

    t = threading.Thread(target=engine.execute, args=(slow,))
    t.start()
    assert started.wait(5)
    engine.execute(increment)  # commits while slow sleeps between read and return
    go.set()
    t.join()
    assert calls == [0, 1]
    assert engine.state.domain.counter == 101
    assert [r.process for r in engine.history()] == ["increment", "slow"]


def test_retries_exhausted_raise_transaction_error():
    e = TheusEngine({"domain": {"x": 0}}, retries=2)
    attempts = []

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def always_stale(ctx):
        attempts.append(ctx.version)
        e.update({"domain.x": len(attempts) * 10})  # someone else writes meanwhile
        return -1
    with pytest.raises(TransactionError) as info:
        e.execute(always_stale)
    assert len(attempts) == 3
    assert info.value.conflicts == ("domain.x",)
    assert e.state.domain.x == 30


def test_strict_cas_rejects_any_change():
    e = TheusEngine({"domain": {"x": 0, "y": 0}}, strict_cas=True, retries=0)

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def touch_x(ctx):
        e.update({"domain.y": 1})  # unrelated path
        return 1
    with pytest.raises(TransactionError):
        e.execute(touch_x)
    e2 = TheusEngine({"domain": {"x": 0, "y": 0}}, retries=0)

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def touch_x2(ctx):
        e2.update({"domain.y": 1})
        return 1
    e2.execute(touch_x2)
    assert e2.state.domain.x == 1


def test_eight_threads_increment_exactly():
    e = TheusEngine({"domain": {"counter": 0}}, retries=1000)
    e.register(increment)

    def work():
        for _ in range(5_000):
            e.execute(increment)
    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert e.state.domain.counter == 40_000
    assert e.state.version == 40_000


def test_disjoint_writers_never_conflict():
    e = TheusEngine({"domain": {f"c{i}": 0 for i in range(4)}}, retries=0)
    procs = []
    for i in range(4):
        @process(inputs=[f"domain.c{i}"], outputs=[f"domain.c{i}"])
        def inc(ctx, _i=i):
            return getattr(ctx.domain, f"c{_i}") + 1
        procs.append(inc)

    def work(p):
        for _ in range(2_000):
            e.execute(p)
    ts = [threading.Thread(target=work, args=(p,)) for p in procs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert [e.state.domain[f"c{i}"] for i in range(4)] == [2_000] * 4


def test_async_process():
    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    async def ainc(ctx):
        await asyncio.sleep(0)
        return ctx.domain.counter + 1

    e = TheusEngine({"domain": {"counter": 0}})
    assert asyncio.run(e.execute_async(ainc)) == 1
    assert e.execute(ainc) == 2  # no running loop: runs it

    async def inside():
        with pytest.raises(TheusError, match="execute_async"):
            e.execute(ainc)
    asyncio.run(inside())
    assert e.state.domain.counter == 2


def test_history_at_and_diff():
    e = TheusEngine({"domain": {"counter": 0}}, history=5)
    e.register(increment)
    e.execute(increment)
    e.execute(increment)
    h = e.history()
    assert [(r.version, r.process, r.paths) for r in h] == [
        (1, "increment", ("domain.counter",)), (2, "increment", ("domain.counter",))]
    assert e.at(1).domain.counter == 1
    assert [(c.kind, c.path, c.old, c.new) for c in e.diff(0, 2)] == [("changed", "domain.counter", 0, 2)]


def test_engine_compare_and_swap_and_update(engine):
    assert engine.compare_and_swap(0, {"domain.a": 1}) == 1
    with pytest.raises(TransactionError):
        engine.compare_and_swap(0, {"domain.a": 2})
    assert engine.update({"domain.a": 3}) == 2
    assert engine.state.domain.a == 3


def test_state_snapshot_is_read_only(engine):
    snap = engine.state
    with pytest.raises(theus.ContextError):
        snap.domain = {}
    with pytest.raises(theus.ContextError):
        snap.domain["counter"] = 5
    assert engine.state.domain.counter == 0


def test_declared_but_absent_inputs_read_as_absent_not_undeclared(engine):
    seen = {}

    @process(inputs=["domain.maybe", "domain.counter", "extra.zone.x"], outputs=["domain.maybe"])
    def first_time(ctx):
        seen["in"] = "maybe" in ctx.domain
        seen["get"] = ctx.domain.get("maybe", 5)
        with pytest.raises(theus.PathError, match="declared, but"):
            ctx.domain.maybe
        seen["extra"] = ("extra" in ctx, ctx.extra.zone.get("x", 7))
        with pytest.raises(theus.PathError):
            ctx.extra.zone.x
        return ctx.domain.get("maybe", 0) + 1
    engine.execute(first_time)
    assert seen == {"in": False, "get": 5, "extra": (True, 7)}
    assert engine.state.domain.maybe == 1


def test_a_process_can_delete_an_output(engine):
    from theus import DELETE

    @process(inputs=["domain.user"], outputs=["domain.user"])
    def forget(ctx):
        return DELETE
    engine.execute(forget)
    assert "user" not in engine.state.domain
    assert engine.state.domain.counter == 0


def test_state_update_subclass_and_unhashable_argument(engine):
    class MyUpdate(StateUpdate):
        pass

    @process(outputs=["domain.a"])
    def sub(ctx):
        return MyUpdate({"domain.a": 5})
    engine.execute(sub)
    assert engine.state.domain.a == 5
    with pytest.raises(ContractViolationError, match="not a process"):
        engine.execute([1])
