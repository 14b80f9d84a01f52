"""theus.testing: unit-test processes without an application engine, assert on runs."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

import theus
from theus import ArgumentError, ContextError, ContractViolationError, OutboxMsg, StateUpdate, TheusEngine, process
from theus.testing import ProcessOutcome, assert_run, make_ctx, run_process, run_process_async


@process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.status"])
def confirm(ctx, order_id, channel="web"):
    ctx.outbox.add("confirmed", {"order": order_id, "via": channel})
    return "confirmed" if ctx.domain.orders[order_id].qty > 0 else "empty"


@process(inputs=["domain.counter"], outputs=["domain.counter"], semantic="pure")
def increment(ctx):
    return ctx.domain.counter + 1


STATE = {"domain": {"orders": {"o1": {"qty": 2}, "o2": {"qty": 0}}}}


def test_run_process_reports_updates_messages_value_and_state() -> None:
    out = run_process(confirm, STATE, order_id="o1", channel="mail")
    assert isinstance(out, ProcessOutcome)
    assert out.value == "confirmed"
    assert out.updates == {"domain.orders.o1.status": "confirmed"}
    assert [(m.topic, m.payload) for m in out.messages] == [("confirmed", {"order": "o1", "via": "mail"})]
    assert all(isinstance(m, OutboxMsg) for m in out.messages)
    assert out.state["domain"]["orders"] == {"o1": {"qty": 2, "status": "confirmed"}, "o2": {"qty": 0}}
    assert "outbox" not in out.state
    assert STATE["domain"]["orders"]["o1"] == {"qty": 2}  # the caller's dict is untouched


def test_run_process_plain_data_and_deletes() -> None:
    @process(inputs=["domain"], outputs=["domain"])
    def rewrite(ctx):
        return StateUpdate({"domain.items": [1, 2], "domain.gone": theus.DELETE})

    out = run_process(rewrite, {"domain": {"gone": 1}})
    assert out.updates == {"domain.items": [1, 2], "domain.gone": theus.DELETE}
    assert type(out.updates["domain.items"]) is list
    assert out.state == {"domain": {"items": [1, 2]}}


def test_run_process_with_nothing_written() -> None:
    @process(inputs=["domain.x"], outputs=["domain.x"])
    def noop(ctx):
        return None

    out = run_process(noop, {"domain": {"x": 1}})
    assert out.updates == {} and out.messages == [] and out.value is None


def test_run_process_keeps_contract_checks() -> None:
    @process(inputs=["domain.x"], outputs=["domain.x"])
    def sneaky(ctx):
        return ctx.domain.y

    with pytest.raises(ContractViolationError, match="domain.y"):
        run_process(sneaky, {"domain": {"x": 1, "y": 2}})
    with pytest.raises(ContractViolationError, match="order_id"):
        run_process(confirm, STATE)  # the placeholder is not bound


def test_run_process_exceptions_pass_through() -> None:
    class Boom(Exception):
        pass

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def boom(ctx):
        raise Boom("no")

    with pytest.raises(Boom, match="no"):
        run_process(boom, {"domain": {"x": 1}})


def test_run_process_with_schema() -> None:
    class Counter(BaseModel):
        counter: int = 0

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def as_text(ctx):
        return str(ctx.domain.counter + 1)

    out = run_process(as_text, {"domain": {"counter": 1}}, schema={"domain": Counter})
    assert out.updates == {"domain.counter": 2}

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def bad(ctx):
        return "x"

    with pytest.raises(ContractViolationError, match="domain.counter"):
        run_process(bad, {"domain": {}}, schema={"domain": Counter})


def test_run_process_async() -> None:
    @process(inputs=["domain.x"], outputs=["domain.x"])
    async def later(ctx):
        await asyncio.sleep(0)
        return ctx.domain.x * 2

    assert run_process(later, {"domain": {"x": 2}}).updates == {"domain.x": 4}
    out = asyncio.run(run_process_async(later, {"domain": {"x": 3}}))
    assert out.updates == {"domain.x": 6}


@pytest.mark.parametrize("call", [
    lambda: run_process(lambda ctx: 1, {"domain": {}}),
    lambda: run_process(increment, [1]),
    lambda: make_ctx(print, {}),
    lambda: make_ctx(increment, "domain"),
])
def test_bad_arguments(call) -> None:
    with pytest.raises(ArgumentError):
        call()


def test_make_ctx_is_the_restricted_read_only_context() -> None:
    ctx = make_ctx(increment, {"domain": {"counter": 1, "secret": 2}})
    assert increment(ctx) == 2
    assert ctx.version == 0
    with pytest.raises(ContractViolationError, match="domain.secret"):
        ctx.domain.secret
    with pytest.raises(ContextError):
        ctx.domain.counter = 5
    with pytest.raises(ContractViolationError, match="pure"):
        ctx.outbox.add("t", 1)


def test_make_ctx_binds_keys_and_collects_messages() -> None:
    ctx = make_ctx(confirm, STATE, order_id="o2")
    assert confirm(ctx, "o2") == "empty"
    assert len(ctx.outbox) == 1
    with pytest.raises(ContractViolationError, match="domain.orders.o1"):
        ctx.domain.orders["o1"]


def test_assert_run_passes_and_fails_with_every_mismatch() -> None:
    e = TheusEngine({"domain": {"counter": 0}})
    e.register(increment)
    run = e.execute_workflow("steps: [increment, increment]")
    assert assert_run(run, steps=["increment", "increment"], status="completed") is run
    with pytest.raises(AssertionError) as info:
        assert_run(run, steps=["increment"], status="failed", error=ValueError)
    text = str(info.value)
    assert "steps: expected ['increment'], got ['increment', 'increment']" in text
    assert "status: expected 'failed', got 'completed'" in text
    assert "error: expected a ValueError, got no error" in text


def test_assert_run_on_failed_and_waiting_runs() -> None:
    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def fail(ctx):
        raise KeyError("k")

    e = TheusEngine({"domain": {"counter": 0}})
    e.register(increment)
    e.register(fail)
    with pytest.raises(KeyError) as info:
        e.execute_workflow("steps: [increment, fail]")
    assert_run(info.value.run, steps=["increment", "fail"], status="failed", error=KeyError)
    waiting = e.execute_workflow("""
steps:
  - flux: wait
    for: approval
  - increment
""")
    assert_run(waiting, status="waiting", waiting_for="approval")
    with pytest.raises(AssertionError, match="waiting_for: expected 'other'"):
        assert_run(waiting, waiting_for="other")
    with pytest.raises(ArgumentError):
        assert_run("increment", steps=["increment"])
    with pytest.raises(ArgumentError):
        assert_run(waiting, steps="increment")
