"""The relay: survives every exception a handler raises, keeps a bounded error record, logs
through `theus.outbox` and never writes to stderr, stops with a timeout, validates its
arguments."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from theus import ArgumentError, TheusEngine, process


@process(outputs=["domain.n"])
def send(ctx, topic="t", n=1):
    for i in range(n):
        ctx.outbox.add(topic, i)
    return 1


@pytest.fixture
def engine():
    e = TheusEngine({"domain": {"n": 0}})
    yield e
    e.close()


def _wait(condition, what):
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


class Custom(BaseException):
    pass


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, GeneratorExit, Custom, MemoryError, ValueError])
def test_the_relay_survives_any_exception_from_a_handler(engine, exc):
    got = []

    def handler(m):
        if m.topic == "poison" and not any(e.topic == "poison" for e in got):
            got.append(m)
            raise exc("from the handler")
        got.append(m)
    engine.start_relay(handler, interval=0.001, backoff=0)
    engine.execute(send, topic="poison")
    _wait(lambda: len(got) == 2, "the retry of the poisoned message")
    engine.execute(send, topic="after")
    _wait(lambda: len(got) == 3, "a later message")
    engine.stop_relay()
    assert [m.topic for m in got] == ["poison", "poison", "after"]
    assert [type(e) for e in engine.relay_errors] == [exc]
    engine.start_relay(handler)  # a relay starts again: the last one stopped cleanly
    engine.stop_relay()


def test_the_error_record_is_bounded(engine):
    engine.execute(send)

    def always(m):
        raise ConnectionError("down")
    engine.start_relay(always, interval=0.0005, backoff=0, max_attempts=10**9)
    _wait(lambda: engine.outbox.failures >= 250, "250 failures")
    engine.stop_relay()
    assert len(engine.outbox.errors) == 100 and len(engine.relay_errors) == 100
    assert engine.outbox.failures >= 250
    assert all(f.msg.id == 1 and isinstance(f.error, ConnectionError) for f in engine.outbox.errors)
    attempts = [f.attempt for f in engine.outbox.errors]
    assert attempts == sorted(attempts) and attempts[-1] == engine.outbox.failures  # the newest ones
    assert engine.outbox.pending == 1  # still queued, never lost


def test_failures_are_logged_on_theus_outbox(engine, caplog):
    engine.execute(send)

    def fails(m):
        raise ValueError("nope")
    with caplog.at_level(logging.WARNING, logger="theus.outbox"):
        engine.start_relay(fails, interval=0.001, backoff=0, max_attempts=2)
        _wait(lambda: engine.outbox.dead, "the dead letter")
        engine.stop_relay()
    records = [r for r in caplog.records if r.name == "theus.outbox"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.ERROR]
    assert "nope" in records[0].getMessage() and "outbox.dead" in records[1].getMessage()


def test_nothing_reaches_stderr(tmp_path):
    """Without any logging set up, a relay whose handlers raise (BaseException included) and a
    stop with a timeout print nothing: no log line from logging's last resort, no thread
    traceback."""
    script = tmp_path / "relay.py"
    script.write_text(textwrap.dedent("""
        import threading, time
        from theus import TheusEngine, process

        @process(outputs=["domain.n"])
        def send(ctx, topic):
            ctx.outbox.add(topic, 1)
            return 1

        engine = TheusEngine({"domain": {}})
        release = threading.Event()
        seen = []

        def handler(m):
            seen.append(m.topic)
            if m.topic == "hang":
                release.wait(30)
                return
            raise {"kbd": KeyboardInterrupt, "exit": SystemExit, "err": RuntimeError}[m.topic]("boom")

        engine.start_relay(handler, interval=0.001, backoff=0, max_attempts=2)
        for topic in ("kbd", "exit", "err"):
            engine.execute(send, topic=topic)
        while len(engine.outbox.dead) < 3:
            time.sleep(0.005)
        engine.execute(send, topic="hang")
        while "hang" not in seen:
            time.sleep(0.005)
        try:
            engine.stop_relay(timeout=0.05)
        except TimeoutError:
            pass
        release.set()
        time.sleep(0.2)
        engine.close()
        print("done", engine.relay_errors.__len__())
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done 6"
    assert proc.stderr == ""


def test_stop_relay_times_out_on_a_hung_handler(engine):
    release, entered = threading.Event(), threading.Event()
    got = []

    def hangs(m):
        entered.set()
        release.wait(30)
        got.append(m.id)
    engine.start_relay(hangs, interval=0.001)
    engine.execute(send)
    assert entered.wait(30)
    with pytest.raises(TimeoutError, match="still running a handler"):
        engine.stop_relay(timeout=0.01)
    second = []
    engine.start_relay(second.append, interval=0.001)  # a new relay may start at once
    release.set()
    _wait(lambda: got, "the hung handler")
    engine.execute(send)
    _wait(lambda: second, "the new relay")
    engine.stop_relay()
    assert got == [1] and [m.id for m in second] == [2]  # the claimed message went to the hung handler only


def test_relay_start_and_stop_with_messages_in_flight(engine):
    got = []
    stop = threading.Event()

    def produce():
        while not stop.is_set():
            engine.execute(send, n=3)
            time.sleep(0.001)  # slower than the relay, so each stop's last round is short
    t = threading.Thread(target=produce)
    t.start()
    try:
        for _ in range(5):
            engine.start_relay(lambda m: got.append(m.id), interval=0.001)
            time.sleep(0.01)
            engine.stop_relay()
    finally:
        stop.set()
        t.join(30)
    engine.process_outbox(lambda m: got.append(m.id))
    committed = 3 * (engine.state.version - 2 * len(got))  # every message: a claim and a removal
    assert len(got) == len(set(got)) == committed > 0
    assert sorted(got) == list(range(1, committed + 1))


def test_a_handler_stopping_its_own_relay(engine):
    got = []

    def stopper(m):
        got.append(m.id)
        engine.stop_relay()
    engine.execute(send, n=2)
    engine.start_relay(stopper, interval=0.001)
    _wait(lambda: engine.outbox.pending == 0, "the round")
    engine.start_relay(stopper)  # the stop took effect
    engine.stop_relay()
    assert got == [1, 2]


BAD_INTERVALS = [0, -1, math.nan, math.inf, True, "1", None, [1]]
BAD_ATTEMPTS = [0, -1, 1.5, True, "3", None]
BAD_BACKOFFS = [-1, math.nan, math.inf, True, "0.1", None]


@pytest.mark.parametrize("kw, word", [
    *[({"handler": h}, "callable") for h in (5, "print", [print])],
    *[({"handler": print, "interval": v}, "interval") for v in BAD_INTERVALS],
    *[({"handler": print, "max_attempts": v}, "max_attempts") for v in BAD_ATTEMPTS],
    *[({"handler": print, "backoff": v}, "backoff") for v in BAD_BACKOFFS],
])
def test_start_relay_validates_its_arguments(engine, kw, word):
    with pytest.raises(ArgumentError, match=word):
        engine.start_relay(**kw)
    engine.start_relay(print)  # nothing was left running
    engine.stop_relay()


@pytest.mark.parametrize("kw, word", [
    *[({"limit": v}, "limit") for v in (-1, 1.5, True, "1")],
    *[({"max_attempts": v}, "max_attempts") for v in BAD_ATTEMPTS],
    *[({"backoff": v}, "backoff") for v in BAD_BACKOFFS],
])
def test_process_outbox_validates_its_arguments(engine, kw, word):
    engine.execute(send)
    with pytest.raises(ArgumentError, match=word):
        engine.process_outbox(print, **kw)
    assert engine.outbox.pending == 1


@pytest.mark.parametrize("timeout", [-1, math.nan, "1", True])
def test_stop_relay_validates_its_timeout(engine, timeout):
    with pytest.raises(ArgumentError, match="timeout"):
        engine.stop_relay(timeout)


@pytest.mark.parametrize("topics", [5, [""], [5], []])
def test_attach_worker_validates_its_arguments(engine, topics):
    with pytest.raises(ArgumentError, match="topics"):
        engine.attach_worker(print, topics)
    with pytest.raises(ArgumentError, match="callable"):
        engine.attach_worker(5)
