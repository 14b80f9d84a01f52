"""flux: wait parks a run; engine.resume continues it once, with the awaited input bound."""

from __future__ import annotations

import pickle
import threading

import pytest

from theus import ArgumentError, FluxError, RunResult, TheusEngine, process
from theus.workflow import Workflow

FLOW = """
args: [order_id]
steps:
  - propose
  - flux: wait
    for: approval
  - flux: if
    condition: args.approval == "yes"
    then: [finalize]
    else: [cancel]
"""


@pytest.fixture
def engine():
    e = TheusEngine({"domain": {"orders": {"o1": {"status": "new"}, "o2": {"status": "new"}}, "rounds": 0}})

    @process(outputs=["domain.orders.{order_id}.status"])
    def propose(ctx, order_id):
        return "proposed"

    @process(outputs=["domain.orders.{order_id}.status"])
    def finalize(ctx, order_id, approval):
        return f"final:{approval}"

    @process(outputs=["domain.orders.{order_id}.status"])
    def cancel(ctx, order_id):
        return "cancelled"

    @process(inputs=["domain.rounds"], outputs=["domain.rounds"])
    def round_(ctx, answer=None):
        return ctx.domain.rounds + 1

    for p in (propose, finalize, cancel, round_):
        e.register(p)
    return e


def test_a_run_parks_at_the_wait_and_resumes_after_it(engine):
    run = engine.execute_workflow(FLOW, {"order_id": "o1"})
    assert run.status == "waiting" and run.waiting_for == "approval"
    assert run.steps == ("propose",) and engine.state.domain.orders.o1.status == "proposed"
    assert "waiting for 'approval'" in repr(run)
    done = engine.resume(run, approval="yes")
    assert done.status == "completed"
    assert done.steps == ("propose", "finalize")
    assert done.args == {"order_id": "o1", "approval": "yes"}
    assert engine.state.domain.orders.o1.status == "final:yes"
    assert [t.outcome for t in done.trace if t.kind == "wait"] == ["waiting", "resumed"]
    assert (done.start_version, done.end_version) == (run.start_version, engine.state.version)
    assert engine.last_run is done


def test_each_run_waits_on_its_own(engine):
    a = engine.execute_workflow(FLOW, {"order_id": "o1"})
    b = engine.execute_workflow(FLOW, {"order_id": "o2"})
    engine.resume(b, approval="no")
    engine.resume(a, approval="yes")
    assert engine.state.domain.orders.o1.status == "final:yes"
    assert engine.state.domain.orders.o2.status == "cancelled"


def test_a_loop_can_wait_every_iteration(engine):
    wf = engine.load_workflow("""
steps:
  - flux: while
    condition: domain.rounds < 3
    do:
      - flux: wait
        for: answer
      - round_
""")
    run = engine.execute_workflow(wf)
    answers = []
    while run.status == "waiting":
        answers.append(run.steps)
        run = engine.resume(run, answer=len(answers))
    assert engine.state.domain.rounds == 3 and len(answers) == 3
    assert run.steps == ("round_",) * 3


def test_a_run_resumes_once(engine):
    run = engine.execute_workflow(FLOW, {"order_id": "o1"})
    results, errors = [], []
    barrier = threading.Barrier(4)

    def attempt():
        barrier.wait()
        try:
            results.append(engine.resume(run, approval="yes"))
        except ArgumentError as e:
            errors.append(e)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 1 and len(errors) == 3
    assert all("already resumed" in str(e) for e in errors)
    assert engine.state.domain.orders.o1.status == "final:yes"


@pytest.mark.parametrize("inputs, match", [
    ({}, "waits for 'approval'.*got nothing"),
    ({"approved": 1}, "waits for 'approval'"),
    ({"approval": 1, "extra": 2}, "waits for 'approval'"),
])
def test_resume_needs_exactly_the_awaited_input(engine, inputs, match):
    run = engine.execute_workflow(FLOW, {"order_id": "o1"})
    with pytest.raises(ArgumentError, match=match):
        engine.resume(run, **inputs)
    assert engine.resume(run, approval="yes").status == "completed"  # still resumable


def test_resume_refuses_what_is_not_waiting(engine):
    run = engine.execute_workflow(FLOW, {"order_id": "o1"})
    finished = engine.resume(run, approval="no")
    with pytest.raises(ArgumentError, match="completed, not waiting"):
        engine.resume(finished, approval="yes")
    with pytest.raises(ArgumentError, match="expected the RunResult"):
        engine.resume("run", approval="yes")


def test_a_copy_of_a_waiting_run_does_not_resume(engine):
    run = engine.execute_workflow(FLOW, {"order_id": "o1"})
    copy = pickle.loads(pickle.dumps(run))
    assert copy.status == "waiting" and copy.waiting_for == "approval" and copy == run
    with pytest.raises(ArgumentError, match="copy of a waiting run"):
        engine.resume(copy, approval="yes")
    assert engine.resume(run, approval="yes").status == "completed"


def test_another_engine_cannot_resume_it(engine):
    run = engine.execute_workflow(FLOW, {"order_id": "o1"})
    other = TheusEngine({"domain": {}})
    with pytest.raises(ArgumentError, match="another engine"):
        other.resume(run, approval="yes")
    assert engine.resume(run, approval="yes").status == "completed"


def test_the_awaited_name_is_not_a_start_argument(engine):
    with pytest.raises(ArgumentError, match="engine.resume"):
        engine.execute_workflow(FLOW, {"order_id": "o1", "approval": "yes"})


@pytest.mark.parametrize("yaml, match", [
    ("steps:\n  - flux: wait\n", "missing `for`"),
    ("args: [a]\nsteps:\n  - flux: wait\n    for: a\n", "declared under `args:`"),
    ("steps:\n  - flux: wait\n    for: 3\n", "`for` must name the input"),
])
def test_bad_waits_fail_at_load_time(yaml, match):
    with pytest.raises(FluxError, match=match):
        Workflow(yaml)


def test_a_failure_after_resume_is_a_failed_result(engine):
    @process(outputs=["domain.x"])
    def boom(ctx):
        raise ValueError("after the wait")

    engine.register(boom)
    run = engine.execute_workflow("steps:\n  - flux: wait\n    for: go\n  - boom\n")
    with pytest.raises(ValueError) as info:
        engine.resume(run, go=True)
    assert isinstance(info.value.run, RunResult) and info.value.run.status == "failed"
    assert info.value.run.steps == ("boom",)
