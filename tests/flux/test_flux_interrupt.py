"""Interrupting long workflows: KeyboardInterrupt propagates, and what committed stays
consistent (one version per committed step)."""

from __future__ import annotations

import _thread
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from theus import TheusEngine, process

SPIN = textwrap.dedent("""
    steps:
      - flux: while
        condition: not (domain.stop ?? false)
        max_iterations: 2000000000
        do:
          - flux: if
            condition: domain.counter < 0
            then: [inc]
""").lstrip()

COUNT = textwrap.dedent("""
    steps:
      - flux: while
        condition: domain.counter >= 0
        max_iterations: 2000000000
        do: [inc]
""").lstrip()


def make_engine(sleep: float = 0.0) -> TheusEngine:
    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def inc(ctx):
        if sleep:
            time.sleep(sleep)
        return ctx.domain.counter + 1

    e = TheusEngine({"domain": {"counter": 0}})
    e.register(inc)
    return e


def assert_consistent(e: TheusEngine) -> None:
    with e.state as snap:
        counter, version = snap.domain.counter, snap.version
    assert counter == version  # every committed increment is one version, none half-done
    run = e.last_run
    assert run is not None
    assert run.dropped == 0
    ok = sum(1 for t in run.trace if t.kind == "process" and t.outcome == "ok")
    # an interrupt landing after the commit but before the step returned marks it "error"
    assert ok <= counter <= len(run.executed)


def test_interrupt_main_from_a_thread_stops_a_long_loop():
    e = make_engine(sleep=0.001)
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            e.execute_workflow(COUNT)
    finally:
        timer.cancel()
    assert info.value.__context__ is None
    assert_consistent(e)
    assert e.state.domain.counter > 0
    # the engine keeps working after the interrupt
    before = e.state.domain.counter
    assert e.execute_workflow("steps: [inc]") == ("inc",)
    assert e.state.domain.counter == before + 1


def test_signal_stops_a_loop_of_conditions_only():
    # no Python runs between conditions: only the stepper's own polling can see the signal
    e = make_engine()
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt) as info:
            e.execute_workflow(SPIN, budget=30_000_000)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert info.value.__context__ is None  # raised by the stepper's poll, not after a budget error
    run = e.last_run
    assert run.executed == ()
    assert len(run.trace) + run.dropped > 0
    assert all(t.outcome in ("true", "false") for t in run.trace)
    assert e.state.version == 0


STARVED_CHILD = textwrap.dedent("""
    import _thread, sys, threading, time
    from theus import FluxError, TheusEngine, process

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def inc(ctx):
        return ctx.domain.counter + 1

    e = TheusEngine({"domain": {"counter": 0}})
    e.register(inc)
    threading.Timer(0.2, _thread.interrupt_main).start()
    try:
        e.execute_workflow(sys.argv[1], budget=5_000_000)
    except KeyboardInterrupt as exc:
        # an interrupt that lands only after the run failed has the FluxError as its context
        print("interrupted" if exc.__context__ is None else f"interrupted late: {exc.__context__}", flush=True)
    except FluxError as err:
        print("ran to the end:", str(err).splitlines()[0], flush=True)
        time.sleep(1)  # the helper thread runs only now; swallow its late interrupt
""")


def test_interrupt_main_from_a_thread_stops_a_loop_of_conditions_only(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(STARVED_CHILD, encoding="utf-8")
    child = subprocess.run([sys.executable, str(script), SPIN], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)
    assert "unknown process" not in child.stdout
    assert child.stdout.strip() == "interrupted", child.stdout + child.stderr


CHILD = textwrap.dedent("""
    import sys
    from theus import TheusEngine, process

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def inc(ctx):
        return ctx.domain.counter + 1

    e = TheusEngine({"domain": {"counter": 0}})
    e.register(inc)
    flow = sys.argv[1]
    print("running", flush=True)
    try:
        e.execute_workflow(flow, budget=10**12)
    except KeyboardInterrupt:
        snap = e.state
        print("state", snap.domain.counter, snap.version, flush=True)
        raise
    print("finished", flush=True)
""")


@pytest.mark.parametrize("flow", [COUNT, SPIN], ids=["python_steps", "conditions_only"])
def test_sigint_stops_a_child_running_a_long_workflow(tmp_path, flow):
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    child = subprocess.Popen([sys.executable, str(script), flow], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "running"
        time.sleep(0.3)  # let the run start
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err
    assert "finished" not in out
    [line] = [ln for ln in out.splitlines() if ln.startswith("state ")]
    _, counter, version = line.split()
    assert counter == version
    if flow is SPIN:
        assert counter == "0"
