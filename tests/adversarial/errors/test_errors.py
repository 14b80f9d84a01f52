"""Error texts and arguments: every public function checks its arguments and raises a
TheusError subclass naming the argument and what is expected; hints point to the right fix;
no Go wording reaches the user."""

from __future__ import annotations

import asyncio
import math
import pathlib

import pytest

import theus
from theus import (ArgumentError, ContractViolationError, PathError, State, TheusEngine, TheusError,
                   TransactionError, process)

GO_WORDS = ("strconv", "runtime error", "goroutine", "cgo", "panic", "nil", "interface {}", "*kernel",
            "[]string", "map[")


@process(inputs=["domain.x"], outputs=["domain.x"])
def bump(ctx):
    return ctx.domain.x + 1


def _engine() -> TheusEngine:
    e = TheusEngine({"domain": {"x": 0}})
    e.register(bump)
    return e


def _relay(**kw):
    e = _engine()
    try:
        e.start_relay(**kw)
    finally:
        e.stop_relay()


BAD_COUNTS = [-1, -(2**70), "3", 1.5, True, False, None, [3], math.nan]
BAD_FLAGS = [1, 0, "yes", None, [True], 1.0]
BAD_INTERVALS = [0, -1, -0.5, math.nan, math.inf, -math.inf, True, "1", None, [1], 0j]
BAD_VERSIONS = [-1, -(2**70), 2**70, "0", 1.5, None, [0], True]

# (name, call, exception class, message fragments)
CASES = [
    *[(f"TheusEngine(retries={v!r})", lambda v=v: TheusEngine(retries=v), ArgumentError, ["retries", "int >= 0"])
      for v in BAD_COUNTS],
    *[(f"TheusEngine(history={v!r})", lambda v=v: TheusEngine(history=v), ArgumentError, ["history", "int >= 0"])
      for v in BAD_COUNTS],
    *[(f"TheusEngine(strict_cas={v!r})", lambda v=v: TheusEngine(strict_cas=v), ArgumentError, ["strict_cas"])
      for v in BAD_FLAGS],
    *[(f"TheusEngine({v!r})", lambda v=v: TheusEngine(v), ArgumentError, ["context"])
      for v in (5, "domain", [1], b"x", 1.5)],
    ("TheusEngine(non-str zone)", lambda: TheusEngine({1: {}}), ArgumentError, ["str zone names"]),
    *[(f"State(strict={v!r})", lambda v=v: State({}, strict=v), ArgumentError, ["strict"]) for v in BAD_FLAGS],
    *[(f"State(history={v!r})", lambda v=v: State({}, history=v), ArgumentError, ["history"]) for v in BAD_COUNTS],
    *[(f"State(history_size={v!r})", lambda v=v: State({}, history_size=v), ArgumentError, ["history_size"])
      for v in BAD_COUNTS],
    *[(f"State({v!r})", lambda v=v: State(v), ArgumentError, ["initial context"]) for v in (5, [1], "x")],
    # the relay
    *[(f"start_relay(handler={v!r})", lambda v=v: _relay(handler=v), ArgumentError, ["start_relay", "handler", "callable"])
      for v in (None, 5, "print", [print])],
    *[(f"start_relay(interval={v!r})", lambda v=v: _relay(handler=print, interval=v), ArgumentError,
       ["start_relay", "interval", "positive number"]) for v in BAD_INTERVALS],
    *[(f"process_outbox({v!r})", lambda v=v: _engine().process_outbox(v), ArgumentError, ["process_outbox", "handler"])
      for v in (None, 5, "print")],
    # workflows
    *[(f"execute_workflow(budget={v!r})", lambda v=v: _engine().execute_workflow("steps: [bump]\n", budget=v),
       ArgumentError, ["execute_workflow", "budget"]) for v in BAD_COUNTS],
    *[(f"execute_workflow_async(budget={v!r})",
       lambda v=v: asyncio.run(_engine().execute_workflow_async("steps: [bump]\n", budget=v)),
       ArgumentError, ["budget"]) for v in BAD_COUNTS],
    *[(f"load_workflow({v!r})", lambda v=v: _engine().load_workflow(v), ArgumentError, ["workflow"])
      for v in (5, None, b"steps: []", ["steps"], 1.5)],
    ("load_workflow(missing file)", lambda: _engine().load_workflow("missing.yaml"), ArgumentError,
     ["no such file", "missing.yaml"]),
    ("load_workflow(missing path)", lambda: _engine().load_workflow(pathlib.Path("/nonexistent/w.yaml")),
     ArgumentError, ["no such file"]),
    # registration
    *[(f"register({n})", lambda v=v: _engine().register(v), ContractViolationError, ["register", "not a process", "@theus.process"])
      for n, v in (("lambda", lambda ctx: 1), ("int", 5), ("None", None), ("class", int), ("str", "bump"))],
    *[(f"register_module({v!r})", lambda v=v: _engine().register_module(v), ArgumentError, ["register_module", "module"])
      for v in (5, None, "os")],
    *[(f"scan_and_register({v!r})", lambda v=v: _engine().scan_and_register(v), ArgumentError, ["scan_and_register"])
      for v in (5, None, "/nonexistent/dir", [])],
    # execution
    ("execute(unknown name)", lambda: _engine().execute("bmup"), ContractViolationError, ["bmup", "did you mean 'bump'"]),
    *[(f"execute({v!r})", lambda v=v: _engine().execute(v), ContractViolationError, ["not a process"])
      for v in (5, None, print, [1], {"a": 1})],
    # the decorator
    ("process(input=...)", lambda: process(input=["domain.x"]), ArgumentError, ["unknown argument 'input'", "inputs"]),
    ("process(output=...)", lambda: process(output=["domain.x"]), ArgumentError, ["unknown argument 'output'", "outputs"]),
    ("process(bogus=...)", lambda: process(bogus=1), ArgumentError, ["unknown argument 'bogus'", "the options are"]),
    ("process(fn, 1)", lambda: process(print, 1), ArgumentError, ["takes the function only"]),
    ("process([paths])", lambda: process(["domain.x"]), ContractViolationError, ["decorates a function", "by keyword"]),
    ("process(5)", lambda: process(5), ContractViolationError, ["decorates a function"]),
    # commits
    *[(f"compare_and_swap({v!r}, ...)", lambda v=v: _engine().compare_and_swap(v, {"domain.x": 1}), ArgumentError,
       ["expected_version"]) for v in BAD_VERSIONS],
    *[(f"compare_and_swap(0, {v!r})", lambda v=v: _engine().compare_and_swap(0, v), ArgumentError, ["updates", "dict"])
      for v in (None, 5, [("domain.x", 1)], "domain.x")],
    *[(f"update({v!r})", lambda v=v: _engine().update(v), ArgumentError, ["updates", "dict"])
      for v in (None, 5, [("domain.x", 1)])],
    *[(f"update({{{k!r}: 1}})", lambda k=k: _engine().update({k: 1}), PathError, ["path"])
      for k in (1, None, "", "domain..x", ".domain", "domain.")],
    *[(f"compare_and_swap(reads={v!r})", lambda v=v: State({}).compare_and_swap(0, {}, reads=v), ArgumentError, ["reads"])
      for v in ("domain.x", 5, {"domain.x"})],
    # history
    *[(f"at({v!r})", lambda v=v: _engine().at(v), ArgumentError, ["version"]) for v in BAD_VERSIONS],
    *[(f"diff({v!r}, 0)", lambda v=v: _engine().diff(v, 0), ArgumentError, ["v1"]) for v in BAD_VERSIONS],
    *[(f"diff(0, {v!r})", lambda v=v: _engine().diff(0, v), ArgumentError, ["v2"]) for v in BAD_VERSIONS],
    # reads
    *[(f"state[{v!r}]", lambda v=v: _engine().state[v], PathError, ["path"]) for v in (None, 5, "", "domain..x", b"domain")],
    *[(f"state.get({v!r})", lambda v=v: _engine().state.get(v), PathError, ["path"]) for v in (None, 5, "", "a..b")],
]


@pytest.mark.parametrize("name, call, exc, fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_arguments_raise_theus_errors_naming_them(name, call, exc, fragments):
    with pytest.raises(exc) as info:
        call()
    assert isinstance(info.value, TheusError)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    for word in GO_WORDS:
        assert word not in message, (word, message)


def _old_version_engine(history: int) -> TheusEngine:
    e = _engine()
    e = TheusEngine({"domain": {"x": 0}}, history=history)
    e.register(bump)
    for _ in range(5):
        e.execute(bump)
    return e


@pytest.mark.parametrize("history", [0, 1, 2])
@pytest.mark.parametrize("read", ["at", "diff from", "diff to"])
def test_a_version_that_was_not_kept_names_history(history, read):
    e = _old_version_engine(history)
    with pytest.raises(TransactionError, match="history=") as info:
        if read == "at":
            e.at(1)
        elif read == "diff from":
            e.diff(1, 5)
        else:
            e.diff(5, 1)
    assert "not retained" in str(info.value) or "not kept" in str(info.value)


def test_a_kept_version_reads_fine_and_a_future_one_says_so():
    e = _old_version_engine(3)
    assert e.at(3).domain.x == 3
    with pytest.raises(TransactionError, match="future") as info:
        e.at(99)
    assert "history=" not in str(info.value)


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_transaction_error_after_retries_says_how_many_attempts(retries):
    e = TheusEngine({"domain": {"x": 0}}, retries=retries)

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def loses(ctx):
        e.update({"domain.x": ctx.domain.x + 1})
        return 0
    with pytest.raises(TransactionError) as info:
        e.execute(loses)
    n = retries + 1
    assert f"after {n} attempt" in str(info.value)
    assert info.value.attempts == n
    assert "re-read and retry" not in str(info.value)  # it did; the hint says what else to do
    assert "retries=" in str(info.value)


def test_a_single_compare_and_swap_reports_no_attempt_count():
    e = _engine()
    e.execute(bump)
    with pytest.raises(TransactionError) as info:
        e.compare_and_swap(0, {"domain.x": 5})
    assert info.value.attempts is None
    assert info.value.expected_version == 0 and info.value.actual_version == 1


@pytest.mark.parametrize("call", [
    lambda o: o.add("topic", 1),
    lambda o: o.add(theus.OutboxMsg("topic", {"a": 1})),
    lambda o: o.add(None),
])
def test_outbox_in_a_pure_process_points_to_semantic_effect(call):
    e = TheusEngine({"domain": {"x": 0}})

    @process(inputs=["domain.x"], outputs=["domain.x"], semantic="pure")
    def pure(ctx):
        call(ctx.outbox)
        return 1
    with pytest.raises(ContractViolationError) as info:
        e.execute(pure)
    assert 'semantic="effect"' in str(info.value)
    assert "inputs" not in str(info.value)
    assert e.state.version == 0


@pytest.mark.parametrize("bad", [5, None, {"topic": "t"}])
def test_outbox_add_of_a_non_message_names_what_it_got(bad):
    e = TheusEngine({"domain": {"x": 0}})

    @process(outputs=["domain.x"])
    def effect(ctx):
        ctx.outbox.add(bad)
        return 1
    with pytest.raises(ContractViolationError, match=type(bad).__name__):
        e.execute(effect)
    assert e.state.version == 0


def test_relay_already_running_is_an_argument_error():
    e = _engine()
    e.start_relay(lambda m: None, interval=0.01)
    try:
        with pytest.raises(ArgumentError, match="already running"):
            e.start_relay(lambda m: None)
    finally:
        e.stop_relay()
    e.stop_relay()  # idempotent


def test_errors_inherit_the_builtin_classes_callers_catch():
    with pytest.raises(TypeError):
        TheusEngine(retries="3")  # ArgumentError is a TypeError too
    with pytest.raises(ValueError):
        TheusEngine(retries=-1)
    with pytest.raises(KeyError):
        _engine().state["domain.nope"]
