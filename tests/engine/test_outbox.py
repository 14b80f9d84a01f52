"""Outbox: messages commit with the update, vanish with failed attempts, deliver after commit."""

from __future__ import annotations

import threading
import time

import pytest

from theus import (ContractViolationError, OutboxMsg, TheusEngine, TransactionError, process)


@pytest.fixture
def engine():
    return TheusEngine({"domain": {"orders": 0}}, retries=5)


@process(inputs=["domain.orders"], outputs=["domain.orders"])
def place(ctx, n=1):
    ctx.outbox.add(OutboxMsg("order.placed", {"n": ctx.domain.orders + n}))
    ctx.outbox.add("audit", [n])
    return ctx.domain.orders + n


def test_messages_commit_with_the_update_and_deliver_in_order(engine):
    engine.execute(place)
    engine.execute(place, n=2)
    got = []
    assert engine.process_outbox(got.append) == 4
    assert got == [OutboxMsg("order.placed", {"n": 1}), OutboxMsg("audit", [1]),
                   OutboxMsg("order.placed", {"n": 3}), OutboxMsg("audit", [2])]
    assert engine.process_outbox(got.append) == 0  # removed after delivery
    assert engine.state.domain.orders == 3


def test_failed_attempt_sends_nothing(engine):
    @process(outputs=["domain.orders"])
    def fails(ctx):
        ctx.outbox.add("never", 1)
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        engine.execute(fails)
    assert engine.process_outbox(lambda m: None) == 0


def test_retried_attempt_keeps_only_the_committed_messages(engine):
    attempts = []

    @process(inputs=["domain.orders"], outputs=["domain.orders"])
    def contended(ctx):
        attempts.append(ctx.version)
        ctx.outbox.add("attempt", len(attempts))
        if len(attempts) == 1:
            engine.update({"domain.orders": 100})  # makes the first attempt stale
        return ctx.domain.orders + 1
    engine.execute(contended)
    got = []
    engine.process_outbox(got.append)
    assert len(attempts) == 2
    assert got == [OutboxMsg("attempt", 2)]


def test_handler_failure_keeps_the_message(engine):
    engine.execute(place)
    calls = []

    def flaky(msg):
        calls.append(msg.topic)
        if msg.topic == "audit" and calls.count("audit") == 1:
            raise ConnectionError("down")
    with pytest.raises(ConnectionError):
        engine.process_outbox(flaky)
    assert engine.process_outbox(flaky) == 1  # the failed one is still there
    assert calls == ["order.placed", "audit", "audit"]


def test_pure_processes_cannot_use_the_outbox(engine):
    @process(inputs=["domain.orders"], outputs=["domain.orders"], semantic="pure")
    def pure(ctx):
        ctx.outbox.add("x", 1)
        return 1
    with pytest.raises(ContractViolationError, match="outbox"):
        engine.execute(pure)
    assert engine.state.version == 0


def test_bad_messages(engine):
    @process(outputs=["domain.orders"])
    def bad(ctx):
        ctx.outbox.add(42)
    with pytest.raises(ContractViolationError, match="OutboxMsg"):
        engine.execute(bad)
    assert engine.state.version == 0


def test_relay_delivers_after_commit(engine):
    got = []
    done = threading.Event()

    def handler(msg):
        got.append(msg)
        if len(got) == 4:
            done.set()
    engine.start_relay(handler, interval=0.01)
    try:
        engine.execute(place)
        engine.execute(place)
        assert done.wait(10)
    finally:
        engine.stop_relay()
    assert [m.topic for m in got] == ["order.placed", "audit", "order.placed", "audit"]
    assert engine.process_outbox(got.append) == 0
