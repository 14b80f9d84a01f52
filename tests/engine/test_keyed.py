"""Keyed contracts: {name} placeholders bound per call, conflicts per key, exact write conflicts."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

from theus import (ContractViolationError, StateUpdate, TheusEngine, TransactionError, process)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def orders_engine(n: int = 3, **kw) -> TheusEngine:
    return TheusEngine({"domain": {"stock": 10, "orders": {f"o{i}": {"qty": i + 1, "status": "new"} for i in range(n)}}}, **kw)


@process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.status"])
def confirm(ctx, order_id):
    return f"confirmed {ctx.domain.orders[order_id].qty}"


def test_placeholders_bind_from_keyword_arguments():
    e = orders_engine()
    assert e.execute(confirm, order_id="o1") == "confirmed 2"
    assert e.state.domain.orders.o1.status == "confirmed 2"
    assert e.state.domain.orders.o0.status == "new"
    assert e.history()[-1].paths == ("domain.orders.o1.status",)


def test_the_context_holds_only_the_bound_key():
    @process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.status"])
    def peek(ctx, order_id):
        return ctx.domain.orders["o0"].status

    e = orders_engine()
    with pytest.raises(ContractViolationError, match="domain.orders.o0"):
        e.execute(peek, order_id="o2")
    assert e.state.domain.orders.o2.status == "new"


def test_int_keys_are_written_in_decimal():
    @process(outputs=["domain.slots.{n}"])
    def put(ctx, n):
        return n * 10

    e = TheusEngine({"domain": {"slots": {}}})
    e.execute(put, n=7)
    assert e.state.domain.slots["7"] == 70


def test_a_function_need_not_accept_its_placeholders():
    @process(outputs=["domain.orders.{order_id}.seen"])
    def mark(ctx):
        return True

    e = orders_engine()
    e.execute(mark, order_id="o0")
    assert e.state.domain.orders.o0.seen is True


def test_one_registration_serves_every_key():
    e = orders_engine(20)
    e.register(confirm)
    for i in range(20):
        e.execute("confirm", order_id=f"o{i}")
    assert len(e.processes) == 1
    assert all(e.state.domain.orders[f"o{i}"].status.startswith("confirmed") for i in range(20))


def _nested(other_key: str):
    """A process on key o0 that, during its first attempt, lets a process on other_key commit."""
    runs = []

    @process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.status"])
    def slow(ctx, order_id):
        runs.append(order_id)
        if len(runs) == 1:
            engine.execute(confirm, order_id=other_key)
        return "slow"

    engine = orders_engine(retries=0)
    return engine, slow, runs


def test_two_keys_never_conflict():
    engine, slow, runs = _nested("o1")
    assert engine.execute(slow, order_id="o0") == "slow"
    assert runs == ["o0"]
    assert engine.state.domain.orders.o1.status == "confirmed 2"


def test_the_same_key_conflicts():
    engine, slow, runs = _nested("o0")
    with pytest.raises(TransactionError) as info:
        engine.execute(slow, order_id="o0")
    assert "domain.orders.o0" in str(info.value)
    assert engine.state.domain.orders.o0.status == "confirmed 1"


@pytest.mark.parametrize("kwargs, match", [
    ({}, r"placeholder \{order_id\}.*not bound"),
    ({"order_id": 1.5}, r"\{order_id\} = 1.5.*float"),
    ({"order_id": True}, r"\{order_id\} = True.*bool"),
    ({"order_id": None}, r"\{order_id\} = None"),
    ({"order_id": ["o1"]}, r"\{order_id\}.*list"),
    ({"order_id": "a.b"}, r"without '\.'"),
    ({"order_id": ""}, r"non-empty"),
    ({"order_id": "o1", "extra": 1}, r"extra"),
])
def test_bad_bindings_name_the_placeholder(kwargs, match):
    e = orders_engine()
    v = e.state.version
    with pytest.raises(ContractViolationError, match=match):
        e.execute(confirm, **kwargs)
    assert e.state.version == v


@pytest.mark.parametrize("path, match", [
    ("{zone}.x", "the zone cannot be a placeholder"),
    ("domain.o{id}", "not a placeholder"),
    ("domain.{id", "not a placeholder"),
    ("domain.{1x}", "not a placeholder"),
    ("domain.{}", "not a placeholder"),
])
def test_malformed_placeholders_are_refused_at_decoration(path, match):
    with pytest.raises(ContractViolationError, match=match):
        @process(outputs=[path])
        def p(ctx):
            return 1


def test_output_mapping_uses_the_bound_paths():
    @process(inputs=["domain.orders.{order_id}"],
             outputs=["domain.orders.{order_id}.status", "domain.orders.{order_id}.qty"])
    def ship(ctx, order_id):
        return {"status": "shipped", "qty": 0}

    e = orders_engine()
    e.execute(ship, order_id="o2")
    assert (e.state.domain.orders.o2.status, e.state.domain.orders.o2.qty) == ("shipped", 0)


def test_a_statupdate_conflicts_only_on_what_it_wrote():
    """outputs name the whole branch; the StateUpdate writes one order: another order's
    commit meanwhile is no conflict, a change to a declared input is."""
    attempts = []

    @process(inputs=["domain.stock"], outputs=["domain.orders"])
    def touch_one(ctx):
        attempts.append(1)
        if len(attempts) == 1:
            engine.execute(confirm, order_id=other)
        return StateUpdate({"domain.orders.o0.status": "touched"})

    @process(outputs=["domain.stock"])
    def restock(ctx):
        return 99

    engine = orders_engine(retries=0)
    other = "o1"
    engine.execute(touch_one)
    assert engine.state.domain.orders.o0.status == "touched"

    engine = orders_engine(retries=0)
    attempts.clear()

    @process(inputs=["domain.stock"], outputs=["domain.orders"])
    def touch_after_restock(ctx):
        attempts.append(1)
        if len(attempts) == 1:
            engine.execute(restock)
        return StateUpdate({"domain.orders.o0.status": "touched"})

    with pytest.raises(TransactionError, match="domain.stock"):
        engine.execute(touch_after_restock)


def _example():
    spec = importlib.util.spec_from_file_location("order_agent_example", ROOT / "examples" / "order_agent.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_order_agent_serves_50_orders_on_8_threads():
    agent = _example()
    engine, calls = agent.build(orders=50, stock=40, io_delay=0.001)
    runs = agent.serve(engine, 50, threads=8)
    assert [r.status for r in runs] == ["completed"] * 50
    assert calls == {f"o{i}": 1 for i in range(50)}  # one model call per order
    statuses = [engine.state.domain.orders[f"o{i}"].status for i in range(50)]
    assert statuses.count("reserved") == 40 and statuses.count("rejected") == 10
    assert engine.state.domain.stock == 0  # never oversold
    for i, r in enumerate(runs):
        assert r.args == {"order_id": f"o{i}"}


def test_the_order_agent_retries_flags_waits_and_fans_out():
    agent = _example()
    engine, calls = agent.build(orders=10, stock=10, io_delay=0, flaky=frozenset({"o3"}))
    runs = agent.serve(engine, 10, threads=4)
    assert all(r.status == "completed" for r in runs)
    assert calls["o3"] == 2 and engine.state.domain.orders.o3.label == "needs a person: model too slow"
    assert engine.state.domain.orders.o3.status == "reserved"

    big, _ = agent.build(orders=2, stock=100, qty=10, io_delay=0)
    waiting = agent.serve(big, 2, threads=2)
    assert [r.status for r in waiting] == ["waiting", "waiting"]
    assert big.state.domain.stock == 100  # nothing reserved before the approval
    big.resume(waiting[0], approval="yes")
    big.resume(waiting[1], approval="no")
    assert [big.state.domain.orders[f"o{i}"].status for i in range(2)] == ["reserved", "rejected"]
    assert big.state.domain.stock == 90

    batch, calls = agent.build(orders=24, stock=20, io_delay=0)
    run = batch.execute_workflow(agent.BATCH)
    statuses = [batch.state.domain.orders[f"o{i}"].status for i in range(24)]
    assert statuses.count("reserved") == 20 and statuses.count("rejected") == 4
    assert batch.state.domain.stock == 0 and set(calls.values()) == {1}
    assert run.steps[:2] == ("classify", "reserve")
