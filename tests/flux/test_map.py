"""flux: map fans a body out over a list (or a mapping's keys), concurrently, in a deterministic trace."""

from __future__ import annotations

import asyncio
import threading

import pytest

from theus import FluxError, TheusEngine, process
from theus.workflow import Workflow


def make_engine(n: int = 6):
    e = TheusEngine({"domain": {"ids": [f"o{i}" for i in range(n)], "total": 0,
                                "orders": {f"o{i}": {"n": i} for i in range(n)}}})
    state = {"active": 0, "peak": 0, "calls": []}
    lock = threading.Lock()
    gate = threading.Event()

    @process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.done"])
    def work(ctx, order_id):
        with lock:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            state["calls"].append(order_id)
            if state["active"] >= 3:
                gate.set()
        gate.wait(timeout=5)  # the first items wait until three run at once
        with lock:
            state["active"] -= 1
        if order_id == "o4" and state.get("fail"):
            raise ValueError("o4 failed")
        return True

    @process(inputs=["domain.total", "domain.orders.{order_id}.n"], outputs=["domain.total"])
    def add(ctx, order_id):
        return ctx.domain.total + ctx.domain.orders[order_id].n

    @process(inputs=["domain.total"], outputs=["domain.total"])
    def reset(ctx):
        return -1

    for p in (work, add, reset):
        e.register(p)
    return e, state, gate


MAP = """
steps:
  - flux: map
    over: domain.ids
    as: order_id
    concurrency: {c}
    do: [work, add]
  - reset
"""


def test_items_run_concurrently_and_the_trace_is_in_item_order():
    e, state, _ = make_engine()
    run = e.execute_workflow(MAP.format(c=3))
    assert state["peak"] == 3  # three at once, never more
    assert run.steps == ("work", "add") * 6 + ("reset",)
    assert e.state.domain.total == -1
    assert all(e.state.domain.orders[f"o{i}"].done for i in range(6))
    entries = [(t.kind, t.step) for t in run.trace]
    assert entries[0] == ("map", "domain.ids")
    assert run.trace[0].outcome == "6 items"


def test_cas_keeps_a_shared_counter_exact():
    e, state, gate = make_engine(20)
    gate.set()
    wf = e.load_workflow(MAP.format(c=8).replace("  - reset\n", ""))
    e.execute_workflow(wf)
    assert e.state.domain.total == sum(range(20))


def test_concurrency_one_runs_items_in_order():
    e, state, gate = make_engine()
    gate.set()
    e.execute_workflow(MAP.format(c=1))
    assert state["calls"] == [f"o{i}" for i in range(6)] and state["peak"] == 1


def test_a_failing_item_fails_the_step_after_the_others():
    e, state, gate = make_engine()
    state["fail"] = True
    with pytest.raises(ValueError, match="o4 failed") as info:
        e.execute_workflow(MAP.format(c=3))
    assert sorted(state["calls"]) == [f"o{i}" for i in range(6)]  # every item ran
    assert [e.state.domain.orders[f"o{i}"].get("done") for i in range(6)] == [True] * 4 + [None, True]
    assert e.state.domain.total == sum(range(6)) - 4  # item o4's add never ran
    assert info.value.run.status == "failed"
    assert "reset" not in info.value.run.steps


def test_a_try_around_the_map_catches_an_item_failure():
    e, state, gate = make_engine()
    state["fail"] = True
    wf = """
steps:
  - flux: try
    do:
      - flux: map
        over: domain.ids
        as: order_id
        concurrency: 4
        do: [work]
    except:
      - flux: if
        condition: error.type == "ValueError" and error.message == "o4 failed"
        then: [reset]
"""
    run = e.execute_workflow(wf)
    assert run.status == "completed" and run.steps[-1] == "reset"


def test_over_a_mapping_maps_its_sorted_keys_and_items_see_their_arg():
    e = TheusEngine({"domain": {"orders": {"b": {"n": 2}, "a": {"n": 1}, "c": {"n": 3}}, "seen": []}})

    @process(inputs=["domain.seen"], outputs=["domain.seen"])
    def note(ctx, key):
        return [*ctx.domain.seen, key]

    e.register(note)
    run = e.execute_workflow("""
steps:
  - flux: map
    over: domain.orders
    as: key
    do:
      - flux: if
        condition: args.key != "b"
        then: [note]
""")
    assert e.state.domain.seen == ["a", "c"]
    assert run.steps == ("note", "note")


def test_async_processes_run_inside_items():
    e = TheusEngine({"domain": {"out": {}}})

    @process(outputs=["domain.out.{k}"])
    async def put(ctx, k):
        await asyncio.sleep(0)
        return k * 2

    e.register(put)
    e.execute_workflow("steps:\n  - flux: map\n    over: '[1, 2, 3]'\n    as: k\n    concurrency: 3\n    do: [put]\n")
    assert dict(e.state.domain.out) == {"1": 2, "2": 4, "3": 6}


@pytest.mark.parametrize("over, match", [("domain.n", "must give a list or a mapping, got int"),
                                         ("domain.missing", "must give a list or a mapping, got None")])
def test_over_a_non_list_is_a_flux_error(over, match):
    e = TheusEngine({"domain": {"n": 3}})

    @process(outputs=["domain.x"])
    def one(ctx, x=None):
        return 1

    e.register(one)
    with pytest.raises(FluxError, match=match):
        e.execute_workflow(f"steps:\n  - flux: map\n    over: {over}\n    as: x\n    do: [one]\n")


@pytest.mark.parametrize("yaml, match", [
    ("steps:\n  - flux: map\n    over: domain.l\n    as: x\n    concurrency: 0\n    do: [a]\n", "`concurrency` must be an integer from 1 to 256"),
    ("steps:\n  - flux: map\n    over: domain.l\n    as: x\n    concurrency: 1000\n    do: [a]\n", "from 1 to 256"),
    ("steps:\n  - flux: map\n    over: domain.l\n    as: x\n    do:\n      - flux: wait\n        for: y\n", "cannot be inside a `flux: map`"),
    ("steps:\n  - flux: map\n    over: domain.l\n    do: [a]\n", "missing `as`"),
    ("args: [x]\nsteps:\n  - flux: map\n    over: domain.l\n    as: x\n    do: [a]\n", "already a run argument"),
])
def test_bad_map_steps_fail_at_load_time(yaml, match):
    with pytest.raises(FluxError, match=match):
        Workflow(yaml)
