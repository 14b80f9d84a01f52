"""Watching runs: on_event callbacks, stream_workflow, progress bars and logs."""

from __future__ import annotations

import logging
import time

import pytest

from theus import ArgumentError, Event, RetryPolicy, TheusEngine, process

FLOW = """
name: watched
steps:
  - flux: map
    over: domain.ids
    as: k
    concurrency: 2
    do: [inc]
  - flux: try
    do: [boom]
    except: [inc]
  - flux: if
    condition: domain.n >= 3
    then:
      - flux: wait
        for: ok
"""


@pytest.fixture
def engine(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    e = TheusEngine({"domain": {"ids": ["a", "b"], "n": 0}})
    calls = []

    @process(inputs=["domain.n"], outputs=["domain.n"], retry=RetryPolicy(max_attempts=2, jitter=False))
    def inc(ctx, k=None):
        calls.append(k)
        if len(calls) == 1:
            raise TimeoutError("first call")
        return ctx.domain.n + 1

    @process(outputs=["domain.x"])
    def boom(ctx):
        raise ValueError("boom")

    e.register(inc)
    e.register(boom)
    return e


def kinds(events):
    return [ev.kind for ev in events]


def test_on_event_sees_every_step_as_it_happens(engine):
    events: list[Event] = []
    run = engine.execute_workflow(FLOW, on_event=events.append)
    assert run.status == "waiting"
    k = kinds(events)
    assert k[0] == "run_started" and k[-1] == "run_finished"
    assert k.count("step_started") == 4 and k.count("step_finished") == 4
    assert k.count("commit") == 3 and k.count("retry") == 1
    assert "caught" in k and "condition" in k and "map" in k and "wait" in k
    retry = next(ev for ev in events if ev.kind == "retry")
    assert retry.step == "inc" and retry.data["error"] == "TimeoutError: first call" and retry.data["failures"] == 1
    caught = next(ev for ev in events if ev.kind == "caught")
    assert caught.step == "boom" and caught.data["type"] == "ValueError"
    failed_step = next(ev for ev in events if ev.kind == "step_finished" and ev.step == "boom")
    assert failed_step.data["outcome"] == "error"
    commits = [ev.data["version"] for ev in events if ev.kind == "commit"]
    assert commits == [1, 2, 3]
    assert events[-1].data["run"] is run and events[-1].data["status"] == "waiting"
    assert all(isinstance(ev.time, float) for ev in events)


def test_conflicts_are_events(engine):
    events = []

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def racy(ctx):
        if not events or all(ev.kind != "conflict" for ev in events):
            engine.update({"domain.n": ctx.domain.n + 10})  # someone else commits meanwhile
        return ctx.domain.n + 1

    engine.register(racy)
    engine.execute_workflow("steps: [racy]\n", on_event=events.append)
    conflict = next(ev for ev in events if ev.kind == "conflict")
    assert conflict.step == "racy" and conflict.data["conflicts"] == ("domain.n",) and conflict.data["attempt"] == 1


def test_stream_workflow_yields_the_same_events(engine):
    streamed = list(engine.stream_workflow(FLOW))
    assert kinds(streamed)[0] == "run_started" and streamed[-1].kind == "run_finished"
    assert streamed[-1].data["run"].status == "waiting"
    assert kinds(streamed).count("step_finished") == 4


def test_stream_workflow_raises_the_failure_after_its_event(engine):
    seen = []
    with pytest.raises(ValueError, match="boom"):
        for ev in engine.stream_workflow("steps: [boom]\n"):
            seen.append(ev)
    assert seen[-1].kind == "run_failed" and isinstance(seen[-1].data["error"], ValueError)
    assert seen[-1].data["run"].status == "failed"


def test_a_raising_callback_does_not_stop_the_run(engine, monkeypatch):
    reported = []
    monkeypatch.setattr("sys.unraisablehook", reported.append)

    def bad(ev):
        raise RuntimeError("callback bug")

    run = engine.execute_workflow("steps: [inc, inc]\n", on_event=bad)
    assert run.status == "completed" and engine.state.domain.n == 2
    assert reported and all(isinstance(r.exc_value, RuntimeError) for r in reported)


def test_bad_on_event_and_progress_are_argument_errors(engine):
    with pytest.raises(ArgumentError, match="on_event"):
        engine.execute_workflow("steps: [inc]\n", on_event=42)
    with pytest.raises(ArgumentError, match="progress"):
        engine.execute_workflow("steps: [inc]\n", progress="yes")
    assert engine.state.version == 0


def test_progress_shows_a_bar(engine, capsys):
    engine.execute_workflow("steps: [inc, inc, inc]\n", progress=True)
    err = capsys.readouterr().err
    assert "3step" in err.replace(" ", "") or "3/" in err or "3it" in err.replace(" ", "")


def test_steps_commits_and_retries_are_logged(engine, caplog):
    with caplog.at_level(logging.DEBUG, logger="theus"):
        engine.execute_workflow("steps: [inc, inc]\n")
    by = {(r.name, r.levelno) for r in caplog.records}
    assert ("theus.engine", logging.WARNING) in by  # the retry
    assert ("theus.engine", logging.DEBUG) in by  # the commits
    assert any(r.name == "theus.flux" and "step_finished inc" in r.getMessage() for r in caplog.records)
    assert any("committed version 2" in r.getMessage() for r in caplog.records)


def test_theus_is_silent_by_default(tmp_path):
    import subprocess
    import sys
    script = tmp_path / "s.py"
    script.write_text(
        "import time\nfrom theus import TheusEngine, process, RetryPolicy\n"
        "n=[]\n@process(outputs=['domain.x'], retry=RetryPolicy(max_attempts=2, initial_delay=0))\n"
        "def p(ctx):\n    n.append(1)\n    if len(n)==1: raise TimeoutError('t')\n    return 1\n"
        "e=TheusEngine({'domain':{}})\ne.register(p)\ne.execute_workflow('steps: [p]')\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stderr == ""
