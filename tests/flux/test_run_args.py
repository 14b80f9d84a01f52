"""Run-scoped workflows: declared args, ${args.x} in with:, args.x in conditions, RunResult per run."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest

from theus import REQUIRED, ArgumentError, ContractViolationError, FluxError, RunResult, TheusEngine, process
from theus.workflow import Workflow


def make_engine():
    e = TheusEngine({"domain": {"orders": {"o1": {"qty": 2}, "o2": {"qty": 9}}, "seen": []}})

    @process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.status"])
    def confirm(ctx, order_id, note="-"):
        return f"{order_id}:{note}"

    @process(inputs=["domain.seen"], outputs=["domain.seen"])
    def record(ctx, label="none"):
        return [*ctx.domain.seen, label]

    @process(outputs=["domain.flag"])
    def plain(ctx):
        return True

    for p in (confirm, record, plain):
        e.register(p)
    return e


WF = """
name: orders
args: {order_id: o1, label: null}
steps:
  - process: confirm
    with: {note: "${args.label}"}
  - flux: if
    condition: domain.orders[args.order_id].qty > 5
    then: [record]
    else: [plain]
"""


def test_args_reach_the_steps_that_name_them():
    e = make_engine()
    run = e.execute_workflow(WF, {"order_id": "o2", "label": "big"})
    assert isinstance(run, RunResult)
    assert run.steps == ("confirm", "record") and list(run) == ["confirm", "record"]
    assert run == ("confirm", "record")
    assert run.args == {"order_id": "o2", "label": "big"}
    assert run.status == "completed" and run.error is None
    assert (run.start_version, run.end_version) == (0, 2)
    assert e.state.domain.orders.o2.status == "o2:big"
    assert e.state.domain.seen == ["big"]  # record names `label`: the run arg reached it


def test_defaults_fill_missing_args():
    e = make_engine()
    run = e.execute_workflow(WF)
    assert run.args == {"order_id": "o1", "label": None}
    assert run.steps == ("confirm", "plain")
    assert e.state.domain.orders.o1.status == "o1:None"


def test_the_declared_args_are_visible():
    wf = Workflow("args: [a, b]\nsteps: [x]\n")
    assert wf.args == {"a": REQUIRED, "b": REQUIRED}
    assert Workflow("args: {a: 1}\nsteps: [x]\n").args == {"a": 1}
    assert repr(REQUIRED) == "theus.REQUIRED"


@pytest.mark.parametrize("args, match", [
    ({"nope": 1}, "declares no run argument 'nope'"),
    ([("order_id", "o1")], "expected a dict"),
])
def test_bad_run_args_are_argument_errors(args, match):
    e = make_engine()
    with pytest.raises(ArgumentError, match=match):
        e.execute_workflow(WF, args)
    assert e.state.version == 0


def test_a_required_arg_must_be_given():
    e = make_engine()
    with pytest.raises(ArgumentError, match="needs the run argument 'order_id'"):
        e.execute_workflow("args: [order_id]\nsteps: [plain]\n")


@pytest.mark.parametrize("yaml, match", [
    ("args: [a]\nsteps:\n  - process: confirm\n    with: {note: '${args.b}'}\n", r"4:18: .*run argument `b`.*declared: a"),
    ("steps:\n  - process: confirm\n    with: {note: '${args.b}'}\n", r"declares no `args:`"),
    ("args: [a]\nsteps:\n  - process: confirm\n    with: {note: '${arg.a}'}\n", r"not a run argument reference"),
    ("args: [a]\nsteps:\n  - process: confirm\n    with: {note: 'x ${args.a}'}\n" , None),
    ("args: [aa]\nsteps:\n  - flux: if\n    condition: args.ab > 1\n    then: [plain]\n", r"4:16: .*`ab`.*did you mean `aa`"),
    ("args: [1x]\nsteps: [plain]\n", r"identifier"),
    ("args: [a, a]\nsteps: [plain]\n", r"declared twice"),
    ("args: a\nsteps: [plain]\n", r"list of names"),
])
def test_unknown_names_fail_at_load_time_with_a_position(yaml, match):
    if match is None:  # a reference inside a longer string is plain text
        assert Workflow(yaml).process_names == ("confirm",)
        return
    with pytest.raises(FluxError, match=match):
        Workflow(yaml)


def test_a_quoted_tagged_string_stays_literal():
    e = make_engine()
    e.execute_workflow("steps:\n  - process: confirm\n    with: {order_id: o1, note: !!str '${args.x}'}\n")
    assert e.state.domain.orders.o1.status == "o1:${args.x}"


def test_a_failed_run_raises_with_its_result():
    e = make_engine()
    with pytest.raises(ContractViolationError, match="placeholder") as info:
        e.execute_workflow("args: [order_id]\nsteps: [confirm, confirm]\n", {"order_id": 3.5})
    run = info.value.run
    assert run.status == "failed" and run.error is info.value
    assert run.steps == ("confirm",)
    assert e.last_run is run
    assert (run.start_version, run.end_version) == (0, 0)


def test_results_and_args_are_per_run_and_per_thread():
    e = make_engine()
    wf = e.load_workflow("args: [label]\nsteps: [record]\n")
    results: dict[int, RunResult] = {}
    lasts: dict[int, RunResult] = {}
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for k in range(20):
            results[i] = e.execute_workflow(wf, {"label": f"t{i}-{k}"})
            assert results[i].args == {"label": f"t{i}-{k}"}
            assert e.last_run is results[i] and wf.last_run is results[i]
        lasts[i] = e.last_run

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(lasts) == 8
    for i in range(8):
        assert lasts[i] is results[i] and results[i].args == {"label": f"t{i}-19"}
    assert sorted(e.state.domain.seen) == sorted(f"t{i}-{k}" for i in range(8) for k in range(20))
    assert e.last_run is None  # this thread ran nothing


def test_a_run_result_is_plain_data():
    e = make_engine()
    run = e.execute_workflow(WF, {"order_id": "o2"})
    for other in (pickle.loads(pickle.dumps(run)), copy.deepcopy(run), copy.copy(run)):
        assert other == run
        assert other.args == run.args and other.trace == run.trace and other.status == "completed"
    assert "completed" in repr(run)


def test_async_runs_take_args():
    import asyncio
    e = make_engine()
    run = asyncio.run(e.execute_workflow_async(WF, {"order_id": "o2", "label": "a"}))
    assert run.steps == ("confirm", "record") and run.args["label"] == "a"


def test_a_step_retry_reruns_a_failing_process(monkeypatch):
    import time as _time
    slept: list[float] = []
    monkeypatch.setattr(_time, "sleep", slept.append)
    e = TheusEngine({"domain": {"n": 0}})
    calls = []

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def flaky(ctx):
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("slow tool")
        return ctx.domain.n + 1

    e.register(flaky)
    wf = e.load_workflow("steps:\n  - process: flaky\n    retry: {max_attempts: 3, initial_delay: 0.1, jitter: false, retry_on: TimeoutError}\n")
    assert e.execute_workflow(wf) == ("flaky",)
    assert len(calls) == 3 and slept == [0.1, 0.2] and e.state.domain.n == 1
    calls.clear()
    e.execute_workflow(wf)  # the policy is per step: a second run retries again
    assert len(calls) == 3 and e.state.domain.n == 2
    calls.clear()
    with pytest.raises(TimeoutError):  # the registered process itself has no policy
        e.execute(flaky)
    assert calls == [1]


@pytest.mark.parametrize("retry, match", [
    ("{max_attemps: 3}", r"unknown key `max_attemps` in retry \(did you mean `max_attempts`"),
    ("{max_attempts: 0}", r"`max_attempts` must be an integer from 1"),
    ("{initial_delay: -1}", r"`initial_delay` must be a finite number >= 0"),
    ("{backoff: 0.5}", r"`backoff` must be a finite number >= 1"),
    ("{jitter: maybe}", r"`jitter` must be true or false"),
    ("{retry_on: [1]}", r"`retry_on` must be an exception class name"),
    ("[3]", r"`retry` must be a mapping"),
])
def test_bad_step_retry_fields_fail_at_load_time(retry, match):
    with pytest.raises(FluxError, match=match) as info:
        Workflow(f"steps:\n  - process: a\n    retry: {retry}\n")
    assert info.value.line == 3


def test_an_unknown_retry_on_class_is_an_argument_error_naming_the_step():
    e = TheusEngine({"domain": {"n": 0}})

    @process(outputs=["domain.n"])
    def one(ctx):
        return 1

    e.register(one)
    with pytest.raises(ArgumentError, match="Flux step `one`: retry: retry_on: 'NoSuchError'"):
        e.execute_workflow("steps:\n  - process: one\n    retry: {retry_on: NoSuchError}\n")
    assert e.state.version == 0
