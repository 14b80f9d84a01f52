"""Helpers to unit-test processes and workflow runs without setting up an application engine.

- :func:`run_process` runs one process on a state given as a dict, through a throwaway
  :class:`TheusEngine` (so the real contract checks, output mapping, schema checks and outbox
  apply) and reports what the call committed: :class:`ProcessOutcome` with ``updates``
  (``{path: new value}``, plain data; ``theus.DELETE`` for removed paths), ``messages``
  (the :class:`OutboxMsg` it added, in order), ``value`` (what the function returned) and
  ``state`` (the whole state afterwards, plain data).
- :func:`make_ctx` builds the read-only ``ctx`` a process would receive from a state dict,
  restricted to its contract, so the decorated function can be called directly.
- :func:`assert_run` checks a :class:`RunResult`'s steps, status, error and wait with one
  readable failure message.

A contract mistake (an undeclared read or write, a malformed return) raises the same
:class:`ContractViolationError` as in an application; nothing here relaxes a check.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable, Iterable, Mapping

from ._core import state_begin
from .contracts import ProcessSpec, spec_of
from .engine import TheusEngine
from .errors import ArgumentError
from .markers import DELETE
from .outbox import Outbox, OutboxMsg, PURE_EXTRAS
from .state import State
from .workflow import RunResult

__all__ = ["ProcessOutcome", "run_process", "run_process_async", "make_ctx", "assert_run"]


@dataclasses.dataclass(frozen=True)
class ProcessOutcome:
    """What one process call committed (see :func:`run_process`)."""

    value: Any
    """What the function returned."""
    updates: dict[str, Any]
    """The paths the commit wrote and their new values as plain data (``DELETE`` when removed);
    empty when the process wrote nothing."""
    messages: list[OutboxMsg]
    """The outbox messages the process added, in order."""
    state: dict[str, Any]
    """The whole state after the call, as plain data (outbox messages not included)."""


def _spec(fn: Any, what: str) -> ProcessSpec:
    spec = spec_of(fn)
    if not isinstance(spec, ProcessSpec):
        raise ArgumentError(f"{what}: {getattr(fn, '__name__', fn)!r} is not a process; decorate it with @theus.process(...)")
    return spec


def _engine(state: Mapping[str, Any] | None, schema: Mapping[str, type] | None, what: str) -> TheusEngine:
    if state is not None and not isinstance(state, Mapping):
        raise ArgumentError(f"{what}: state: expected a dict of zones such as {{'domain': {{...}}}}, "
                            f"got {type(state).__name__}")
    return TheusEngine(dict(state) if state is not None else None, schema=schema, history=1)


def _outcome(engine: TheusEngine, value: Any) -> ProcessOutcome:
    messages: list[OutboxMsg] = []
    updates: dict[str, Any] = {}
    history = engine.history()
    snap = engine.state
    for path in history[-1].paths if history else ():
        if path == "outbox" or path.startswith("outbox."):
            continue
        found = snap.get(path, DELETE)
        updates[path] = found if found is DELETE else copy.deepcopy(found)  # views become plain data
    engine.process_outbox(messages.append)
    state = engine.state.to_dict()
    state.pop("outbox", None)
    engine.close()
    return ProcessOutcome(value, updates, messages, state)


def run_process(fn: Callable[..., Any], state: Mapping[str, Any] | None = None, /, *,
                schema: Mapping[str, type] | None = None, **kwargs: Any) -> ProcessOutcome:
    """Run the process ``fn`` once on ``state`` (a dict of zones) with keyword arguments
    ``kwargs`` (keyed placeholders included) and return what it committed::

        out = run_process(confirm, {"domain": {"orders": {"o1": {"qty": 2}}}}, order_id="o1")
        assert out.updates == {"domain.orders.o1.status": "confirmed"}

    ``schema=`` validates like ``TheusEngine(schema=...)``. Exceptions from the process and
    contract errors propagate unchanged; an ``async`` process runs to completion (use
    :func:`run_process_async` inside a running event loop)."""
    _spec(fn, "run_process")
    engine = _engine(state, schema, "run_process")
    try:
        value = engine.execute(fn, **kwargs)
    except BaseException:
        engine.close()
        raise
    return _outcome(engine, value)


async def run_process_async(fn: Callable[..., Any], state: Mapping[str, Any] | None = None, /, *,
                            schema: Mapping[str, type] | None = None, **kwargs: Any) -> ProcessOutcome:
    """:func:`run_process` from a coroutine (the process may be ``async``)."""
    _spec(fn, "run_process_async")
    engine = _engine(state, schema, "run_process_async")
    try:
        value = await engine.execute_async(fn, **kwargs)
    except BaseException:
        engine.close()
        raise
    return _outcome(engine, value)


def make_ctx(fn: Callable[..., Any], state: Mapping[str, Any] | None = None, /, **keys: Any) -> Any:
    """The read-only context ``fn``'s contract gives it on ``state`` (a dict of zones), with
    keyed placeholders bound from ``keys``: call the function on it directly::

        ctx = make_ctx(increment, {"domain": {"counter": 1}})
        assert increment(ctx) == 2

    Reading an undeclared path raises :class:`ContractViolationError`, every write raises
    :class:`ContextError`. ``ctx.outbox`` is a fresh :class:`~theus.outbox.Outbox` (its
    messages are never delivered; ``len(ctx.outbox)`` counts them), or the refusing outbox of a
    ``semantic="pure"`` process. Nothing is committed: use :func:`run_process` for that."""
    spec = _spec(fn, "make_ctx")
    if state is not None and not isinstance(state, Mapping):
        raise ArgumentError(f"make_ctx: state: expected a dict of zones such as {{'domain': {{...}}}}, "
                            f"got {type(state).__name__}")
    if keys or spec.keys:
        spec, _ = spec.prepare(dict(keys))
    holder = State(dict(state) if state is not None else {"domain": {}, "global": {}})
    extras = {"outbox": Outbox()} if spec.effect else PURE_EXTRAS
    _, ctx = state_begin(holder._h, spec.plan, extras)
    return ctx  # the context keeps its version readable after the State is gone


def assert_run(run: RunResult, *, steps: Iterable[str] | None = None, status: str | None = None,
               error: type[BaseException] | None = None, waiting_for: str | None = None) -> RunResult:
    """Assert on a workflow run: ``steps`` (the step names ``run.steps`` holds, in order; a
    failed run's include the failing step), ``status``
    (``"completed"``, ``"failed"``, ``"waiting"``), ``error`` (the class the run's error is
    an instance of) and ``waiting_for``. Raises one ``AssertionError`` listing every mismatch
    with expected and actual values; returns ``run`` for further checks."""
    if not isinstance(run, RunResult):
        raise ArgumentError(f"assert_run: expected a RunResult (what execute_workflow returns), got {type(run).__name__}")
    wrong = []
    if steps is not None:
        if isinstance(steps, str):
            raise ArgumentError("assert_run: steps: expected a list of step names, got a str")
        want = tuple(steps)
        got = tuple(run.steps)
        if got != want:
            wrong.append(f"steps: expected {list(want)}, got {list(got)}")
    if status is not None and run.status != status:
        wrong.append(f"status: expected {status!r}, got {run.status!r}"
                     + (f" (error: {type(run.error).__name__}: {run.error})" if run.error is not None else ""))
    if error is not None and not isinstance(run.error, error):
        got_err = "no error" if run.error is None else f"{type(run.error).__name__}: {run.error}"
        wrong.append(f"error: expected a {error.__name__}, got {got_err}")
    if waiting_for is not None and getattr(run, "waiting_for", None) != waiting_for:
        wrong.append(f"waiting_for: expected {waiting_for!r}, got {getattr(run, 'waiting_for', None)!r}")
    if wrong:
        raise AssertionError("workflow run does not match:\n  " + "\n  ".join(wrong))
    return run
