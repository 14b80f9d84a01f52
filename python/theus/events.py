"""Watching a run while it happens: events, a progress bar and step logs.

``engine.execute_workflow(wf, on_event=callback)`` calls ``callback(event)`` for every event
below, on the thread where it happens (a map's items run on pool threads);
``engine.stream_workflow(wf)`` yields the same events as an iterator; ``progress=True`` shows
a tqdm bar (terminal or notebook). With none of these, and the ``theus.flux`` logger below
DEBUG, a run pays nothing for any of it.

Event kinds and their ``data``:

==============  ======================================================================
run_started     args, version
step_started    line, col, version (a process step is about to run)
step_finished   outcome ("ok" or "error"), duration, version_before, version_after
condition       the step is the condition's text; kind ("if"/"while"), outcome
commit          version, paths (a process committed)
conflict        attempt, conflicts, expected_version, actual_version (it runs again)
retry           failures, delay, error (its RetryPolicy runs it again)
caught          type (the error's class), the step is the failed step (a try's except runs)
map             items (how many), the step is the ``over:`` text
wait            the step is the awaited name (the run parks)
resumed         the step is the awaited name (a resume continued the run)
run_finished    status, run (the RunResult)
run_failed      error, run
==============  ======================================================================
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from typing import Any, Callable, NamedTuple
else:
    from ._records import NamedTuple

from ._log import DEBUG, get_logger
from .errors import TheusError

__all__ = ["Event"]

_flux_log = get_logger("theus.flux")


class Event(NamedTuple):
    """One thing that happened in a run: its ``kind`` (see :mod:`theus.events`), the
    ``step`` it concerns (a process name, a condition, an awaited name; "" for the run),
    when (Unix time) and its ``data``."""

    kind: str
    step: str
    time: float
    data: dict[str, Any]


_CORE_KINDS = {"started": "step_started", "process": "step_finished", "if": "condition", "while": "condition",
               "except": "caught", "map": "map"}


class Emitter:
    """Delivers a run's events to its callback, a progress bar and the theus.flux log. A
    callback that raises does not stop the run: the exception goes to sys.unraisablehook."""

    def __init__(self, callback: Callable[[Event], Any] | None, progress: bool, title: str,
                 tracer: Any = None) -> None:
        self.callback = callback
        self.log = _flux_log.isEnabledFor(DEBUG)
        self.bar = _progress_bar(title) if progress else None
        self.spans = _Spans(tracer, title) if tracer is not None else None

    @classmethod
    def for_run(cls, callback: Callable[[Event], Any] | None, progress: bool, title: str) -> "Emitter | None":
        """An emitter when anyone listens (a callback, a progress bar, the theus.flux log at
        DEBUG, an OpenTelemetry tracer provider the application set up), else None (the run
        then reports nothing and pays nothing)."""
        if callback is not None and not callable(callback):
            raise TheusError(f"on_event: expected a callable taking an Event, got {type(callback).__name__}")
        tracer = _tracer()
        if callback is None and not progress and tracer is None and not _flux_log.isEnabledFor(DEBUG):
            return None
        return cls(callback, progress, title, tracer)

    def __call__(self, kind: str, step: str, data: dict[str, Any]) -> None:
        """Report an event from Python (the attempt loop, the engine)."""
        self.emit(Event(kind, step, time.time(), data))

    def observe(self, kind: str, step: str, line: int, col: int, outcome: str, start: float, duration: float,
                before: int, after: int) -> None:
        """Report a step of the core's stepper (its observer protocol)."""
        name = _CORE_KINDS.get(kind)
        if kind == "wait":
            name = "wait" if outcome == "waiting" else "resumed"
        if name is None:
            return
        data: dict[str, Any] = {"line": line, "col": col}
        if name == "step_started":
            data["version"] = before
        elif name == "caught":
            data["type"] = outcome
        elif name == "map":
            data["items"] = int(outcome.split()[0]) if outcome[:1].isdigit() else 0
        elif name in ("step_finished", "condition"):
            data.update(outcome=outcome, duration=duration, version_before=before, version_after=after)
            if name == "condition":
                data["kind"] = kind
        self.emit(Event(name, step, start if name != "step_started" else time.time(), data))

    def emit(self, event: Event) -> None:
        if self.spans is not None:
            self.spans.event(event)
        if self.log:
            _flux_log.debug("%s %s %s", event.kind, event.step, event.data)
        if self.bar is not None and event.kind == "step_finished":
            self.bar.set_postfix_str(event.step, refresh=False)
            self.bar.update(1)
        if self.callback is not None:
            try:
                self.callback(event)
            except Exception:
                sys.unraisablehook(_Unraisable(sys.exc_info(), self.callback))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.spans is not None:
            self.spans.close()


def _tracer() -> Any:
    """theus's OpenTelemetry tracer when the application imported opentelemetry and set a
    tracer provider (theus never imports it itself; the default no-op provider costs the runs
    nothing), else None."""
    otel = sys.modules.get("opentelemetry.trace")  # an application that set a provider imported it
    get_provider = getattr(otel, "get_tracer_provider", None)  # None while another thread imports it
    if get_provider is None:
        return None
    provider = get_provider()
    if isinstance(provider, (otel.ProxyTracerProvider, otel.NoOpTracerProvider)):
        return None
    from ._version import __version__

    return provider.get_tracer("theus", __version__)


class _Spans:
    """OpenTelemetry spans of a run: ``theus.run <name>`` around it, ``theus.step <process>``
    around each process step (its children: a span event per commit, conflict and retry, and
    ``theus.retries``/``theus.conflicts`` counts), and span events for conditions, waits,
    catches and maps on the run's span. A map's items run on other threads: each step span
    is kept per thread."""

    def __init__(self, tracer: Any, title: str) -> None:
        import threading

        from opentelemetry import trace

        self.trace = trace
        self.tracer = tracer
        self.run = tracer.start_span(f"theus.run {title or 'workflow'}", attributes={"theus.workflow": title})
        self.parent = trace.set_span_in_context(self.run)
        self.steps: dict[int, Any] = {}
        self.counts: dict[int, dict[str, int]] = {}
        self.ident = threading.get_ident

    def event(self, ev: Event) -> None:
        me = self.ident()
        data = {k: v for k, v in ev.data.items() if isinstance(v, (str, int, float, bool))}
        if ev.kind == "run_started":
            self.run.set_attribute("theus.start_version", ev.data.get("version", 0))
        elif ev.kind == "step_started":
            self.steps[me] = self.tracer.start_span(f"theus.step {ev.step}", context=self.parent,
                                                    attributes={"theus.process": ev.step, **data})
            self.counts[me] = {"retries": 0, "conflicts": 0}
        elif ev.kind == "step_finished":
            span = self.steps.pop(me, None)
            counts = self.counts.pop(me, {})
            if span is not None:
                span.set_attribute("theus.outcome", ev.data.get("outcome", ""))
                span.set_attribute("theus.version_after", ev.data.get("version_after", 0))
                span.set_attribute("theus.retries", counts.get("retries", 0))
                span.set_attribute("theus.conflicts", counts.get("conflicts", 0))
                if ev.data.get("outcome") == "error":
                    span.set_status(self.trace.Status(self.trace.StatusCode.ERROR))
                span.end()
        elif ev.kind in ("commit", "conflict", "retry"):
            span = self.steps.get(me)
            if ev.kind == "commit":
                data["paths"] = ", ".join(ev.data.get("paths", ()))
            elif me in self.counts:
                self.counts[me]["retries" if ev.kind == "retry" else "conflicts"] += 1
            (span or self.run).add_event(f"theus.{ev.kind}", attributes=data)
        elif ev.kind in ("run_finished", "run_failed"):
            self.run.set_attribute("theus.status", ev.data.get("status", "failed"))
            if ev.kind == "run_failed":
                self.run.set_status(self.trace.Status(self.trace.StatusCode.ERROR, str(ev.data.get("error"))))
        else:
            self.run.add_event(f"theus.{ev.kind}", attributes={"theus.step": ev.step, **data})

    def close(self) -> None:
        for span in self.steps.values():
            span.end()
        self.run.end()


class _Unraisable:
    """What sys.unraisablehook receives for an exception in an on_event callback."""

    err_msg = "Exception ignored in a theus on_event callback"

    def __init__(self, info: Any, obj: Any) -> None:
        self.exc_type, self.exc_value, self.exc_traceback = info
        self.object = obj


def _progress_bar(title: str) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise TheusError("progress=True needs tqdm: pip install tqdm") from None
    return tqdm(desc=title or "theus", unit="step", leave=True)
