"""Outbox: messages commit with the update, vanish with failed attempts, are delivered after the
commit exactly once, retried with backoff and dead-lettered; the committed queue is state."""

from __future__ import annotations

import copy
import logging
import pathlib
import pickle
import re
import threading

import pytest

from theus import (ArgumentError, ContractViolationError, OutboxMsg, TheusEngine, process)
from theus.outbox import Dead, Queued


@pytest.fixture
def engine():
    e = TheusEngine({"domain": {"orders": 0}}, retries=5, history=20)
    yield e
    e.close()


@process(inputs=["domain.orders"], outputs=["domain.orders"])
def place(ctx, n=1):
    ctx.outbox.add(OutboxMsg("order.placed", {"n": ctx.domain.orders + n}))
    ctx.outbox.add("audit", [n], key="k")
    return ctx.domain.orders + n


def _plain(msgs):
    return [(m.topic, m.payload, m.key) for m in msgs]


# --- OutboxMsg -----------------------------------------------------------------------------------

def test_outbox_msg_is_immutable_and_picklable():
    m = OutboxMsg("t", {"a": [1]}, key="k")
    assert (m.topic, m.payload, m.key, m.id, m.version) == ("t", {"a": [1]}, "k", None, None)
    with pytest.raises(AttributeError, match="immutable"):
        m.topic = "u"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del m.payload
    for copied in (pickle.loads(pickle.dumps(m)), copy.copy(m), copy.deepcopy(m)):
        assert copied == m and copied.key == "k"
    assert OutboxMsg("t", 1) != OutboxMsg("t", 2) and OutboxMsg("t") == OutboxMsg("t", None)
    assert hash(OutboxMsg("t", {"unhashable": []})) == hash(OutboxMsg("t", {"other": 1}))


@pytest.mark.parametrize("topic", ["", 5, None, b"t", ["t"]])
def test_outbox_msg_topic_must_be_a_non_empty_str(topic):
    with pytest.raises(ArgumentError, match="topic"):
        OutboxMsg(topic)


def test_outbox_msg_key_must_be_a_str():
    with pytest.raises(ArgumentError, match="key"):
        OutboxMsg("t", key=5)  # type: ignore[arg-type]


# --- commit ----------------------------------------------------------------------------------------

def test_messages_commit_with_the_update_and_deliver_in_order(engine):
    engine.execute(place)
    engine.execute(place, n=2)
    assert engine.outbox.pending == 4
    got = []
    assert engine.process_outbox(got.append) == 4
    assert _plain(got) == [("order.placed", {"n": 1}, None), ("audit", [1], "k"),
                           ("order.placed", {"n": 3}, None), ("audit", [2], "k")]
    assert [m.id for m in got] == [1, 2, 3, 4]
    assert [m.version for m in got] == [1, 1, 2, 2]
    assert engine.process_outbox(got.append) == 0  # removed after delivery
    assert engine.outbox.pending == 0
    assert engine.state.domain.orders == 3


def test_the_queue_is_visible_in_snapshots_history_and_diffs(engine):
    engine.execute(place)
    snap = engine.state
    queue = snap["outbox.queue"]
    assert list(queue) == ["00000000000000000001_1", "00000000000000000002_1"]
    assert queue["00000000000000000001_1"] == Queued("order.placed", {"n": 1}, None)
    assert engine.history()[-1].paths == ("domain.orders", "outbox.queue.00000000000000000001_1",
                                          "outbox.queue.00000000000000000002_1")
    added = {c.path for c in engine.diff(0, 1) if c.kind == "added"}
    assert "outbox.queue.00000000000000000002_1" in added
    engine.process_outbox(lambda m: None)
    removed = {c.path for c in engine.diff(1, engine.state.version) if c.kind == "removed"}
    assert "outbox.queue.00000000000000000001_1" in removed
    assert snap["outbox.queue"] == queue  # the old snapshot still shows what it showed


def test_payloads_are_copied_at_commit_and_may_have_any_keys(engine):
    payload = {"a.b": {"": [1]}, 3: "int key"}

    @process(outputs=["domain.orders"])
    def send(ctx):
        ctx.outbox.add("t", payload)
        return 1
    engine.execute(send)
    payload["a.b"][""].append(2)  # the committed copy does not change
    got = []
    engine.process_outbox(got.append)
    assert got[0].payload == {"a.b": {"": [1]}, 3: "int key"}
    got[0].payload["a.b"][""].append(9)  # the handler gets plain, mutable data of its own
    assert isinstance(got[0].payload, dict)


def test_a_payload_theus_cannot_store_fails_the_commit(engine):
    @process(outputs=["domain.orders"])
    def send(ctx):
        ctx.outbox.add("t", {"q": __import__("collections").deque([1])})
        return 1
    with pytest.raises(ArgumentError, match="deque"):
        engine.execute(send)
    assert engine.state.version == 0 and engine.outbox.pending == 0


def test_payloads_stored_by_reference_are_delivered(engine):
    """A payload theus stores by reference and cannot copy (a lock inside an object) is
    delivered read-only as it is, not lost or left claimed."""
    lock = threading.Lock()

    class Job:
        def __init__(self):
            self.lock = lock
            self.n = 1

    @process(outputs=["domain.orders"])
    def send(ctx):
        ctx.outbox.add("job", Job())
        ctx.outbox.add("raw", lock)
        return 1
    engine.execute(send)
    got = []
    assert engine.process_outbox(got.append) == 2
    assert got[0].payload.n == 1 and got[0].payload.lock is lock and got[1].payload is lock
    assert engine.outbox.pending == 0


def test_failed_attempt_sends_nothing(engine):
    @process(outputs=["domain.orders"])
    def fails(ctx):
        ctx.outbox.add("never", 1)
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        engine.execute(fails)
    assert engine.process_outbox(lambda m: None) == 0
    assert engine.state.version == 0


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
    assert _plain(got) == [("attempt", 2, None)]


def test_messages_alone_commit(engine):
    @process()
    def notify(ctx):
        ctx.outbox.add("ping", 1)
    engine.execute(notify)
    assert engine.state.version == 1 and engine.outbox.pending == 1


def test_returned_messages_for_the_outbox_output_are_appended(engine):
    @process(inputs=["domain.orders"], outputs=["domain.orders", "outbox"])
    def confirm(ctx):
        ctx.outbox.add("first", 0)
        return ctx.domain.orders + 1, [OutboxMsg("second", 1), OutboxMsg("third", 2)]

    @process(outputs=["outbox"])
    def only(ctx):
        return (OutboxMsg("fourth", 3),)
    engine.execute(confirm)
    engine.execute(only)
    got = []
    engine.process_outbox(got.append)
    assert [m.topic for m in got] == ["first", "second", "third", "fourth"]
    assert engine.state.domain.orders == 1


def test_processes_that_send_do_not_conflict_with_each_other(engine):
    """Appends are named inside the commit: two processes that started from the same version
    and only send both commit on their first attempt."""
    attempts = []

    @process(outputs=["domain.a"])
    def first(ctx):
        attempts.append("first")
        ctx.outbox.add("a", 1)
        if len(attempts) == 1:
            engine.execute(second)  # commits in between
        return 1

    @process(outputs=["domain.b"])
    def second(ctx):
        attempts.append("second")
        ctx.outbox.add("b", 2)
        return 2
    engine.execute(first)
    assert attempts == ["first", "second"]
    got = []
    engine.process_outbox(got.append)
    assert [m.topic for m in got] == ["b", "a"]  # commit order


# --- delivery --------------------------------------------------------------------------------------

def test_handler_failure_keeps_the_message_and_retries_it(engine, caplog):
    engine.execute(place)
    calls = []

    def flaky(msg):
        calls.append(msg.topic)
        if msg.topic == "audit" and calls.count("audit") == 1:
            raise ConnectionError("down")
    with caplog.at_level(logging.WARNING, logger="theus.outbox"):
        assert engine.process_outbox(flaky, backoff=0) == 1  # the failure is recorded, not raised
    assert "down" in caplog.text
    assert engine.outbox.pending == 1 and engine.outbox.failures == 1
    record = engine.state["outbox.queue"]["00000000000000000002_1"]
    assert record == Queued("audit", [1], "k", None, 1, record.not_before, "ConnectionError: down")
    assert isinstance(engine.relay_errors[0], ConnectionError)
    assert engine.process_outbox(flaky, backoff=0) == 1  # the failed one is still there
    assert calls == ["order.placed", "audit", "audit"]
    assert engine.outbox.pending == 0


def test_backoff_delays_the_retry(engine):
    engine.execute(place)
    calls = []

    def fails(msg):
        calls.append(msg.id)
        raise ValueError("no")
    engine.process_outbox(fails, backoff=3600)
    assert calls == [1, 2]
    assert engine.process_outbox(fails, backoff=3600) == 0  # both wait for an hour
    assert calls == [1, 2] and engine.outbox.pending == 2


def test_dead_letters_and_requeue(engine):
    engine.execute(place)

    def fails(msg):
        if msg.topic == "audit":
            raise ValueError(f"bad {msg.id}")
    for _ in range(3):
        engine.process_outbox(fails, max_attempts=3, backoff=0)
    assert engine.outbox.pending == 0
    [dead] = engine.outbox.dead
    assert dead.attempts == 3 and dead.error == "ValueError: bad 2"
    assert (dead.msg.topic, dead.msg.payload, dead.msg.key, dead.msg.id) == ("audit", [1], "k", 2)
    assert engine.state["outbox.dead"]["00000000000000000002_1"] == Dead("audit", [1], "k", 3, "ValueError: bad 2")
    engine.outbox.requeue(2)
    assert engine.outbox.dead == [] and engine.outbox.pending == 1
    got = []
    assert engine.process_outbox(got.append) == 1
    assert got[0].id == 2 and got[0].version == 1  # the same message
    with pytest.raises(ArgumentError, match="no dead letter with id 2"):
        engine.outbox.requeue(2)
    with pytest.raises(ArgumentError, match="id"):
        engine.outbox.requeue("2")  # type: ignore[arg-type]


def test_limit_caps_deliveries(engine):
    engine.execute(place)
    got = []
    assert engine.process_outbox(got.append, limit=1) == 1
    assert engine.process_outbox(got.append, limit=0) == 0
    assert engine.process_outbox(got.append) == 1
    assert [m.id for m in got] == [1, 2]


def test_workers_by_topic(engine):
    engine.execute(place)
    orders, rest = [], []
    assert engine.attach_worker(orders.append, topics=["order.placed"]) == orders.append
    with pytest.raises(ArgumentError, match="no handler"):
        TheusEngine().process_outbox()
    assert engine.process_outbox() == 1  # audit has no worker: it stays queued
    assert engine.outbox.pending == 1
    engine.attach_worker(rest.append)
    with pytest.raises(ArgumentError, match="already"):
        engine.attach_worker(rest.append)
    with pytest.raises(ArgumentError, match="already have a worker"):
        engine.attach_worker(print, topics="order.placed")
    assert engine.process_outbox() == 1
    assert [m.topic for m in orders] == ["order.placed"] and [m.topic for m in rest] == ["audit"]
    engine.detach_worker(rest.append)
    with pytest.raises(ArgumentError, match="not attached"):
        engine.detach_worker(rest.append)


def test_a_handler_that_drains_again_does_not_deliver_twice(engine):
    for _ in range(3):
        engine.execute(place)
    got = []

    def reentrant(msg):
        got.append(msg.id)
        engine.process_outbox(reentrant)  # skips the message in hand (it is claimed)
    total = engine.process_outbox(reentrant)
    assert sorted(got) == [1, 2, 3, 4, 5, 6] and len(got) == 6
    assert total >= 1 and engine.outbox.pending == 0


def test_keyboard_interrupt_from_a_handler_stops_a_synchronous_drain(engine):
    engine.execute(place)

    def stop(msg):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        engine.process_outbox(stop, backoff=0)
    assert engine.outbox.pending == 2 and engine.outbox.failures == 1  # released, counted
    assert engine.process_outbox(lambda m: None) == 2


# --- relay -----------------------------------------------------------------------------------------

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


def test_relay_uses_attached_workers(engine):
    got = []
    done = threading.Event()
    engine.attach_worker(lambda m: (got.append(m.id), done.set()))
    engine.start_relay(interval=0.01)
    try:
        engine.execute(place)
        assert done.wait(10)
    finally:
        engine.stop_relay()
    assert engine.outbox.pending == 0 and sorted(got) == [1, 2]


def test_stop_relay_delivers_what_was_committed(engine):
    got = []
    engine.start_relay(got.append, interval=3600)  # one round at start, then waits
    for _ in range(5):
        engine.execute(place)
    engine.stop_relay()  # the last round delivers everything committed before the stop
    assert sorted(m.id for m in got) == list(range(1, 11))
    engine.start_relay(got.append, interval=3600)  # and it can start again
    engine.stop_relay()


DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "outbox.md"


@pytest.mark.parametrize("index", range(len(re.findall(r"```python\n", DOC.read_text()))))
def test_docs_outbox_examples_run(index):
    block = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)[index]
    exec(compile(block, f"docs/outbox.md block {index}", "exec"), {"__name__": f"outbox_doc_{index}"})
