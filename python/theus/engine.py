"""TheusEngine: registers processes and runs them on snapshots with compare-and-swap commits."""

from __future__ import annotations

import os
import sys
import threading
import time
import types
import weakref
from collections.abc import Mapping

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator

from . import _core
from ._core import _context_check, _context_seal, state_begin, state_snapshot
from .contracts import ProcessSpec, StateUpdate, spec_of
from .events import Emitter, Event
from .retry import RetryPolicy
from . import outbox as _outbox
from .outbox import (BACKOFF, EFFECT_EXTRAS, MAX_ATTEMPTS, SEALED_OUTBOX, OutboxMsg, OutboxQueue, PURE_EXTRAS,
                     Relay, appends, returned_messages)
from .errors import ArgumentError, ContractViolationError, TheusError, TransactionError
from .state import Change, CommitRecord, OwnsHandle, Snapshot, State, commit, state_commit
from .workflow import RunResult, Workflow
from ._lazy import lazy_module
from ._log import get_logger

if TYPE_CHECKING:
    import asyncio
    import dataclasses
else:
    asyncio = lazy_module("asyncio")  # imported when an async process or run first needs it
    dataclasses = lazy_module("dataclasses")  # imported when a dataclass is given

__all__ = ["TheusEngine"]

_DEFAULT_ZONES = ("domain", "global", "heavy", "outbox")


def _context_dict(context: Any) -> dict[str, Any]:
    if context is None:
        return {"domain": {}, "global": {}}
    if isinstance(context, Mapping):
        return dict(context)
    if hasattr(type(context), "__dataclass_fields__"):  # a dataclass instance
        return {f.name: _plain(getattr(context, f.name)) for f in dataclasses.fields(context)}
    if hasattr(context, "__dict__"):
        return {k: _plain(v) for k, v in vars(context).items() if not k.startswith("_")}
    raise ArgumentError(
        f"context: expected a dict, a dataclass or an object with attributes, got {type(context).__name__}"
    )


def _plain(value: Any) -> Any:
    """Zones given as dataclasses or plain objects become dicts, so their fields are paths."""
    if hasattr(type(value), "__dataclass_fields__"):  # a dataclass instance
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, types.SimpleNamespace):
        return {k: _plain(v) for k, v in vars(value).items()}
    return value


# Return values that are certainly not awaitable, and that one output takes as they are.
_DATA = frozenset({int, float, str, bool, bytes, list, tuple, dict, frozenset, set, type(None)})
_AS_IS = _DATA - {dict, type(None)}


def _count(value: Any, what: str, *, minimum: int = 0) -> int:
    """Check an int option (bools and other types are refused, naming the option)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ArgumentError(f"{what}: expected an int >= {minimum}, got {value!r}" if type(value) is int else
                            f"{what}: expected an int >= {minimum}, got {type(value).__name__} {value!r}")
    return value


class TheusEngine(OwnsHandle):
    """Runs processes on immutable snapshots of one state and commits what they return.

    ``context``: the initial state (a dict of zones, a dataclass or an object whose attributes are
    zones). ``strict_cas=True`` rejects a commit when any other commit happened after the
    process started (default: only when a path it declared changed). ``retries``: how many
    times a rejected attempt is re-run on a fresh snapshot. ``history=N`` keeps the last N
    versions whole for :meth:`at` and :meth:`diff`. ``schema={"domain": Order, ...}`` declares
    zones by pydantic models or dataclasses: the initial context and every commit's writes
    under them are validated and stored coerced (see :mod:`theus.schema`).

    An engine owns its state in this process: ``copy``, ``deepcopy`` and ``pickle`` raise
    ``TypeError``. To use theus in a worker process, create the engine there (pass it the
    context, e.g. ``engine.state.to_dict()``, and register the processes there). After
    :meth:`close` every method raises :class:`ArgumentError`.
    """

    _copy_fix = (
        "create the engine in the worker instead (pass it the context, e.g. engine.state.to_dict(), "
        "and register the processes there)"
    )

    def __init__(self, context: Any = None, *, strict_cas: bool = False, retries: int = 3, history: int = 0,
                 schema: Mapping[str, type] | None = None) -> None:
        if not isinstance(strict_cas, bool):
            raise ArgumentError(f"TheusEngine: strict_cas: expected True or False, got {strict_cas!r}")
        _count(retries, "TheusEngine: retries")
        _count(history, "TheusEngine: history (versions kept whole)")
        initial = _context_dict(context)
        _no_user_outbox(initial)
        if schema is None:
            self._schema = None
        else:
            from .schema import Schema  # typed state: not paid by an import of theus

            self._schema = Schema(schema)
        if self._schema is not None:
            initial = self._schema.initial(initial)
        self._state = State(initial, strict=strict_cas, history=history)
        self._strict = strict_cas
        self._retries = retries
        self._processes: dict[str, ProcessSpec] = {}
        self._lookup: dict[Any, ProcessSpec] = {}  # name or function -> registered contract
        self._runs = threading.local()  # last_run, per thread
        _watch_logging()
        self._outbox = OutboxQueue(self._state)
        self._relay: Relay | None = None
        self._relay_lock = threading.Lock()
        self._zones = set(_DEFAULT_ZONES) | {k for k in initial if isinstance(k, str)}

    def _live(self, what: str) -> None:
        if self._state.closed:
            raise ArgumentError(f"{what}: the engine is closed (close() released its state); create a new TheusEngine")

    # --- registration -----------------------------------------------------------------

    def register(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register a @process function (re-registering a name replaces it). Returns fn."""
        self._live("register")
        _watch_logging()
        spec = spec_of(fn)
        if not isinstance(spec, ProcessSpec):
            raise ContractViolationError(
                f"register: {getattr(fn, '__name__', fn)!r} is not a process; decorate it with @theus.process(...)"
            )
        self._check_roots(spec)
        old = self._processes.get(spec.name)
        if old is not None:
            self._lookup.pop(old.fn, None)
        self._processes[spec.name] = spec
        self._lookup[spec.name] = spec
        try:
            self._lookup[spec.fn] = spec
        except TypeError:  # an unhashable callable: found by name only
            pass
        if getattr(spec.fn, "__module__", None) == "__main__":
            _interactive.add(self)  # redefining it in a notebook cell replaces this registration
        return fn

    def _redefined(self, spec: ProcessSpec) -> None:
        """A process of __main__ was defined again (a notebook cell ran again): a registration
        of the same name and qualified name now runs the new definition."""
        old = self._processes.get(spec.name)
        if old is None or old.fn is spec.fn or getattr(old.fn, "__module__", None) != "__main__":
            return
        if getattr(old.fn, "__qualname__", None) != getattr(spec.fn, "__qualname__", None):
            return
        try:
            self._check_roots(spec)
        except ContractViolationError as e:
            _log.warning("%s was redefined but not re-registered: %s", spec.name, e)
            return
        self.register(spec.fn)
        _log.info("%s was redefined in __main__: the engine now runs the new definition", spec.name)

    def _check_roots(self, spec: ProcessSpec) -> None:
        for out in spec.outputs:
            root = out.split(".", 1)[0]
            if root in self._zones:
                continue
            with self._state.snapshot() as snap:  # a zone added since by update()
                self._zones.update(snap.zones())
            known = self._zones
            if root not in known:
                raise ContractViolationError(
                    f"{spec.name}: output {out!r} is under unknown zone {root!r}; known zones: "
                    f"{sorted(known)} (add the zone to the engine's context)"
                )

    def register_module(self, module: types.ModuleType) -> list[str]:
        """Register every process defined in ``module``; returns their names."""
        if not isinstance(module, types.ModuleType):
            raise ArgumentError(f"register_module: module: expected a module, got {type(module).__name__}")
        names = []
        for value in list(vars(module).values()):
            if isinstance(spec_of(value), ProcessSpec) and callable(value):
                self.register(value)
                names.append(spec_of(value).name)
        return names

    def scan_and_register(self, path: str | os.PathLike[str]) -> list[str]:
        """Import every ``*.py`` file under ``path`` (a file or directory) and register its
        processes. Import errors are raised, not printed."""
        if not isinstance(path, (str, os.PathLike)):
            raise ArgumentError(f"scan_and_register: path: expected a str or a path, got {type(path).__name__}")
        from pathlib import Path

        root = Path(path)
        if not root.exists():
            raise ArgumentError(f"scan_and_register: {str(root)!r} does not exist")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*.py") if p.name != "__init__.py")
        names: list[str] = []
        for file in files:
            names += self.register_module(import_file(file, "scan_and_register"))
        return names

    @property
    def processes(self) -> dict[str, ProcessSpec]:
        """The registered processes by name (a copy)."""
        return dict(self._processes)

    def _spec(self, fn_or_name: Any) -> ProcessSpec:
        if isinstance(fn_or_name, ProcessSpec):
            return fn_or_name
        if isinstance(fn_or_name, str):
            spec = self._processes.get(fn_or_name)
            if spec is None:
                import difflib

                close = difflib.get_close_matches(fn_or_name, list(self._processes), n=3)
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                raise ContractViolationError(f"no process named {fn_or_name!r} is registered{hint}")
            return spec
        spec = spec_of(fn_or_name)
        if not isinstance(spec, ProcessSpec):
            raise ContractViolationError(
                f"{getattr(fn_or_name, '__name__', fn_or_name)!r} is not a process; decorate it with @theus.process(...)"
            )
        registered = self._processes.get(spec.name)
        if registered is None or registered.fn is not spec.fn:
            self._check_roots(spec)
        return spec

    # --- execution --------------------------------------------------------------------

    def execute(self, fn_or_name: Any, /, **kwargs: Any) -> Any:
        """Run a process: snapshot, call it with its restricted context, commit its return
        value with compare-and-swap (re-running it on conflicts), and return that value.

        An ``async`` process runs to completion here when no event loop is running in this
        thread; with one running, use ``await engine.execute_async(...)``."""
        try:
            spec = self._lookup.get(fn_or_name)
        except TypeError:  # unhashable: certainly not a process
            spec = None
        if spec is None:
            spec = self._spec(fn_or_name)  # unregistered or unknown: checked, clear errors
        if spec.is_async:
            return self._run(spec, kwargs)
        return _attempts_sync(self, spec, kwargs)  # self._run's sync case, one call less

    def _run(self, spec: ProcessSpec, kwargs: dict[str, Any], obs: Emitter | None = None) -> Any:
        """Run the attempts of one process call in this thread (obs: the run's events)."""
        if spec.is_async:
            _no_running_loop(spec)
            return asyncio.run(_attempts_async(self, spec, kwargs, obs))
        return _attempts_sync(self, spec, kwargs, obs)

    async def execute_async(self, fn_or_name: Any, /, **kwargs: Any) -> Any:
        """Run a process (async or not) from a coroutine; see :meth:`execute`. Backoff between
        attempts sleeps with ``asyncio.sleep``, so the event loop keeps running."""
        return await _attempts_async(self, self._spec(fn_or_name), kwargs)

    # --- outbox -----------------------------------------------------------------------

    @property
    def outbox(self) -> OutboxQueue:
        """The committed outbox: ``pending`` (count), ``dead`` (dead letters), ``requeue(id)``,
        ``errors`` (the last 100 handler failures) and ``failures`` (their count)."""
        return self._outbox

    @property
    def relay_errors(self) -> tuple[BaseException, ...]:
        """The exceptions of the last 100 failed handler calls (and failed delivery rounds),
        oldest first; a read-only view of :attr:`outbox`'s bounded ``errors`` record."""
        return tuple(f.error for f in self._outbox.errors)

    def attach_worker(self, handler: Callable[[OutboxMsg], Any], topics: Any = None) -> Callable[[OutboxMsg], Any]:
        """Register ``handler`` to receive the committed messages of ``topics`` (a str or a list
        of str; None: every topic no other worker takes) when :meth:`process_outbox` or the
        relay runs without a handler of its own. Each topic has at most one worker, so each
        message goes to one handler. Returns ``handler``."""
        self._live("attach_worker")
        return self._outbox.attach(handler, topics)

    def detach_worker(self, handler: Callable[[OutboxMsg], Any]) -> None:
        """Remove every registration of ``handler`` (see :meth:`attach_worker`)."""
        self._outbox.detach(handler)

    def process_outbox(self, handler: Callable[[OutboxMsg], Any] | None = None, *, limit: int | None = None,
                       max_attempts: int = MAX_ATTEMPTS, backoff: float = BACKOFF) -> int:
        """Deliver the committed outbox messages now, in commit order, and return how many
        handler calls returned.

        Each message goes to ``handler``, or without one to the worker attached for its topic
        (messages no worker takes stay queued). A message is claimed by a compare-and-swap
        commit before its handler runs, so any number of concurrent drains (threads, a relay, a
        handler that drains again) deliver it once; it is removed only after its handler
        returned. A handler exception is logged (logger ``theus.outbox``) and recorded in
        ``engine.outbox.errors``; the message stays queued and is retried after ``backoff``
        seconds (doubling per attempt) by a later drain, and after ``max_attempts`` failed
        calls it moves to ``engine.outbox.dead``. KeyboardInterrupt and SystemExit from a
        handler are recorded the same way and then re-raised. ``limit`` caps the deliveries.
        """
        self._live("process_outbox")
        route = self._outbox.route(handler, "process_outbox")
        _outbox.int_arg(limit, "process_outbox: limit", minimum=0, allow_none=True)
        _outbox.int_arg(max_attempts, "process_outbox: max_attempts", minimum=1)
        _outbox.seconds_arg(backoff, "process_outbox: backoff")
        return self._outbox.drain(route, limit, max_attempts, backoff)

    def start_relay(self, handler: Callable[[OutboxMsg], Any] | None = None, *, interval: float = 0.05,
                    max_attempts: int = MAX_ATTEMPTS, backoff: float = BACKOFF) -> None:
        """Deliver outbox messages from a background thread every ``interval`` seconds, as
        :meth:`process_outbox` does (to ``handler``, or to the attached workers).

        The relay survives every exception a handler raises (BaseException included): each is
        logged on ``theus.outbox``, kept in the bounded ``engine.outbox.errors`` record and
        retried with backoff; nothing is written to stderr. Stop it with :meth:`stop_relay`."""
        self._live("start_relay")
        route = self._outbox.route(handler, "start_relay")
        _outbox.seconds_arg(interval, "start_relay: interval", positive=True)
        _outbox.int_arg(max_attempts, "start_relay: max_attempts", minimum=1)
        _outbox.seconds_arg(backoff, "start_relay: backoff")
        with self._relay_lock:
            if self._relay is not None and self._relay.thread.is_alive():
                raise ArgumentError("start_relay: a relay is already running; call stop_relay() first")
            self._relay = relay = Relay(self._outbox, route, interval, max_attempts, backoff)
            relay.thread.start()

    def stop_relay(self, timeout: float | None = None) -> None:
        """Stop the relay after a last round that delivers the messages committed before this
        call (except those waiting for a retry); idempotent. Messages committed later stay
        queued for the next drain. With ``timeout`` (seconds), raise ``TimeoutError`` when a
        handler is still running by then: the relay then ends as soon as that handler returns,
        the message it holds stays claimed until then, and :meth:`start_relay` may start a new
        relay at once."""
        _outbox.seconds_arg(timeout, "stop_relay: timeout", allow_none=True)
        with self._relay_lock:
            relay, self._relay = self._relay, None
        if relay is None:
            return
        relay.request_stop()
        if relay.thread is threading.current_thread():
            return  # a handler stopping its own relay: it ends after this message
        relay.thread.join(timeout)
        if relay.thread.is_alive():
            relay.quit.set()
            raise TimeoutError(
                f"stop_relay: the relay is still running a handler after {timeout} s; it ends when that "
                "handler returns (its message stays claimed until then)"
            )

    # --- workflows --------------------------------------------------------------------

    def load_workflow(self, path_or_yaml: str | os.PathLike[str]) -> Workflow:
        """Parse a Flux workflow (a file path or YAML text) and check it against this engine
        (every process it names is registered). Raises :class:`FluxError` with line and column."""
        self._live("load_workflow")
        wf = Workflow(path_or_yaml)
        wf.validate(self)
        return wf

    def execute_workflow(self, workflow: Workflow | str | os.PathLike[str], args: Mapping[str, Any] | None = None, *,
                         budget: int = 0, on_event: Callable[[Event], Any] | None = None,
                         progress: bool = False) -> RunResult:
        """Run a workflow (a :class:`Workflow`, a path or YAML text) and return this run's
        :class:`RunResult`: the steps run (it iterates over their names), the trace, the
        run's ``args``, its ``status`` and the versions around it. Steps committed before a
        failing step stay committed; the failure is raised, with the run's result (status
        ``"failed"``) as the exception's ``run`` attribute.

        ``args`` are the run's arguments, checked against the workflow's ``args:``. Each
        process step receives the ones its function's parameters or its paths' ``{name}``
        placeholders name, then its ``with:`` (which wins, and may refer to an argument as
        ``${args.name}``); conditions read them as ``args.name``. Runs on different threads
        never share arguments or results; :attr:`last_run` is this thread's last run.

        ``budget`` caps the operations (process steps, condition evaluations, loop
        iterations) of the run; 0 means the default, 1,000,000.

        ``on_event(event)`` is called for every :class:`theus.Event` of the run as it
        happens (steps, conditions, commits, conflicts, retries, waits; see
        :mod:`theus.events`); ``progress=True`` shows a tqdm progress bar of the steps."""
        _count(budget, "execute_workflow: budget (0 = the default)")
        if not isinstance(progress, bool):
            raise ArgumentError(f"execute_workflow: progress: expected True or False, got {progress!r}")
        self._live("execute_workflow")
        _watch_logging()
        wf = workflow if isinstance(workflow, Workflow) else Workflow.of(workflow)
        wf.validate(self)
        bound = wf.bind_args(args)
        try:
            obs = Emitter.for_run(on_event, progress, wf.name)
        except TheusError as e:
            raise ArgumentError(str(e)) from None
        return self._flux_run(wf, bound, budget, self._state.version, None, obs)

    def stream_workflow(self, workflow: Workflow | str | os.PathLike[str], args: Mapping[str, Any] | None = None, *,
                        budget: int = 0) -> Iterator[Event]:
        """Run a workflow in a worker thread and yield its :class:`theus.Event` s as they
        happen; the last one is ``run_finished`` (its data holds the RunResult) or
        ``run_failed``, after which the run's exception is raised. Leaving the loop early
        does not stop the run: it finishes in its thread."""
        wf = workflow if isinstance(workflow, Workflow) else self.load_workflow(workflow)
        import queue

        events: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        outcome: list[Any] = []

        def work() -> None:
            try:
                outcome.append(self.execute_workflow(wf, args, budget=budget, on_event=events.put))
            except BaseException as e:  # delivered to the iterating thread
                outcome.append(e)
            finally:
                events.put(None)

        threading.Thread(target=work, name="theus-stream", daemon=True).start()
        while (event := events.get()) is not None:
            yield event
        if isinstance(outcome[0], BaseException):
            raise outcome[0]

    def resume(self, run: RunResult, /, **inputs: Any) -> RunResult:
        """Continue a run parked at a ``flux: wait`` (``run.status == "waiting"``) from just
        after the wait, with the awaited input (``resume(run, approval=True)``) bound as a run
        argument from then on. Returns the run's new result: its steps and trace continue the
        parked ones. A run is resumed once; a copy or pickle of a waiting run cannot be
        resumed (the original can)."""
        self._live("resume")
        if not isinstance(run, RunResult):
            raise ArgumentError(f"resume: expected the RunResult of a waiting run, got {type(run).__name__}")
        if run.status != "waiting":
            raise ArgumentError(f"resume: the run is {run.status}, not waiting; only a run parked at a `flux: wait` resumes")
        name = run.waiting_for
        if set(inputs) != {name}:
            given = ", ".join(sorted(inputs)) or "nothing"
            raise ArgumentError(f"resume: the run waits for {name!r}; pass resume(run, {name}=...) (got {given})")
        paused = run._take_paused()
        if paused is None:
            raise ArgumentError("resume: this run was already resumed (or is a copy of a waiting run); "
                                "a run resumes once: resume the result of the last resume")
        engine, wf, handle = paused
        if engine is not self:
            with run._lock:
                run._paused = paused  # still resumable by its own engine
            raise ArgumentError("resume: the run belongs to another engine; resume it there")
        try:
            return self._flux_run(wf, {**run.args, **inputs}, 0, run.start_version, handle,
                                  Emitter.for_run(None, False, wf.name))
        finally:
            handle.close()

    def _flux_run(self, wf: Workflow, bound: dict[str, Any], budget: int, start: int, paused: Any,
                  obs: Emitter | None) -> RunResult:
        """Run (or, with paused, resume) a checked workflow with its bound arguments; obs
        receives its events."""
        sink: list[Any] = []
        run: RunResult | None = None
        if obs is not None:
            obs("run_started", wf.name, {"args": dict(bound), "version": start})
        try:
            rich = bool(bound) or wf._step_options or obs is not None
            parked = _core.flux_run(wf._h, self._state._h, self._step_runner(wf, rich, obs), budget, sink, bound,
                                    paused, _fan if rich else None, obs.observe if obs is not None else None)
        except BaseException as e:
            run = RunResult(sink[0] if sink else None, args=bound, status="failed", error=e,
                            start_version=start, end_version=self._end_version(start))
            try:
                e.run = run  # type: ignore[attr-defined]
            except AttributeError:  # an exception type with __slots__: the result is in last_run
                pass
            raise
        else:
            if parked is None:
                run = RunResult(sink[0] if sink else None, args=bound, start_version=start,
                                end_version=self._state.version)
            else:
                handle, name = parked
                run = RunResult(sink[0] if sink else None, args=bound, status="waiting", start_version=start,
                                end_version=self._state.version, waiting_for=name, paused=(self, wf, handle))
            return run
        finally:
            if run is not None:
                wf.last_run = self.last_run = run
            if obs is not None:
                if run is not None and run.status == "failed":
                    obs("run_failed", wf.name, {"error": run.error, "run": run})
                elif run is not None:
                    obs("run_finished", wf.name, {"status": run.status, "run": run})
                obs.close()

    def _end_version(self, start: int) -> int:
        return start if self._state.closed else self._state.version

    def _step_runner(self, wf: Workflow, rich: bool, obs: Emitter | None = None) -> Callable[..., Any]:
        """The callable the stepper runs a process step with: ``engine.execute(name, **with)``
        for a plain run, and for a rich one (run arguments, step retries, try or map)
        ``runner(name, args, retry, error, **with)``: the step's process gets the run
        arguments it names (parameters or placeholders; a map item's name included), the
        caught ``error`` when a parameter names it, then the step's ``with:`` (which wins),
        under the step's RetryPolicy when it has one; obs receives the attempts' events."""
        if not rich:
            return self.execute
        accepts: dict[str, Callable[[str], bool]] = {}
        policies: dict[int, tuple[dict[str, Any], ProcessSpec]] = {}  # the stepper reuses each step's dict

        def run_step(name: str, args: dict[str, Any], retry: dict[str, Any] | None,
                     error: dict[str, str] | None, /, **given: Any) -> Any:
            takes = accepts.get(name)
            if takes is None:
                spec = self._spec(name)
                params, keys = spec._params, spec.keys
                takes = accepts[name] = (lambda a: True) if params is None else (
                    lambda a: a in params or a in keys)
            passed = {a: v for a, v in args.items() if takes(a)}
            if error is not None and takes("error") and self._spec(name)._params is not None:
                passed["error"] = error
            if passed:
                given = {**passed, **given}
            if retry is None:
                return self._run(self._spec(name), given, obs)
            held = policies.get(id(retry))
            if held is None:
                base = self._spec(name)
                policy = RetryPolicy.from_fields(retry, f"Flux step `{name}`")
                held = policies[id(retry)] = (retry, dataclasses.replace(base, retry=policy))
            return self._run(held[1], given, obs)

        return run_step

    @property
    def last_run(self) -> RunResult | None:
        """The result of this thread's last workflow run on this engine (each thread sees its
        own; a run's result is also what ``execute_workflow`` returns)."""
        return getattr(self._runs, "last", None)

    @last_run.setter
    def last_run(self, run: RunResult | None) -> None:
        self._runs.last = run

    async def execute_workflow_async(self, workflow: Workflow | str | os.PathLike[str],
                                     args: Mapping[str, Any] | None = None, *, budget: int = 0) -> RunResult:
        """Run a workflow from a coroutine without blocking the event loop: the run happens
        in a worker thread (processes execute there); see :meth:`execute_workflow`."""
        _count(budget, "execute_workflow_async: budget (0 = the default)")
        wf = workflow if isinstance(workflow, Workflow) else self.load_workflow(workflow)
        try:
            run = await asyncio.to_thread(self.execute_workflow, wf, args, budget=budget)
        except BaseException as e:
            failed = getattr(e, "run", None)
            if isinstance(failed, RunResult):
                wf.last_run = self.last_run = failed
            raise
        wf.last_run = self.last_run = run  # the caller's thread sees its run
        return run

    # --- state access -----------------------------------------------------------------

    @property
    def state(self) -> Snapshot:
        """A read-only snapshot of the newest version."""
        # Not cached per version on purpose: each snapshot is its own pin, so release() (or a
        # `with` block) on one never affects another holder, stats()["live_snapshots"] counts
        # the snapshots handed out, and the engine itself never keeps a replaced version's
        # values alive. The cost is the pin crossing and the Snapshot object.
        state = self._state
        return state_snapshot(state._h, state._caching)  # State.snapshot() without a call between

    def compare_and_swap(self, expected_version: int, updates: Mapping[str, Any]) -> int:
        """Commit ``updates`` if nothing they touch changed after ``expected_version``. Paths
        under ``outbox`` are refused (the engine owns that zone)."""
        _no_outbox_writes(updates, "compare_and_swap")
        if self._schema is not None:
            updates = self._schema.check(updates, "compare_and_swap")
        return self._state.compare_and_swap(expected_version, updates)

    def update(self, updates: Mapping[str, Any]) -> int:
        """Commit ``updates`` unconditionally (administrative write); returns the new version.
        Paths under ``outbox`` are refused (the engine owns that zone)."""
        _no_outbox_writes(updates, "update")
        if self._schema is not None:
            updates = self._schema.check(updates, "update")
        return self._state.update(updates)

    def history(self) -> list[CommitRecord]:
        """The last 1,000 commits: version, process, changed paths, time."""
        return self._state.history()

    def at(self, version: int) -> Snapshot:
        """A snapshot of a retained older version: one a live snapshot still holds, or one of
        the last ``history=N`` versions the engine keeps whole (``TheusEngine(history=N)``)."""
        return self._state.at(version)

    def diff(self, v1: int, v2: int) -> list[Change]:
        """Leaf paths added, changed or removed between two retained versions (see ``history=``)."""
        return self._state.diff(v1, v2)

    def close(self) -> None:
        """Stop the relay and release the state's values now (idempotent). A process running
        meanwhile fails with :class:`ArgumentError` when it commits; nothing is written."""
        self.stop_relay()
        self._state.close()

    def __repr__(self) -> str:
        if self._state.closed:
            return f"<TheusEngine closed processes={len(self._processes)}>"
        return f"<TheusEngine version={self._state.version} processes={len(self._processes)}>"


# The attempt loop: written once, compiled into two faces (the technique of `unasync`): a
# coroutine for execute_async, where awaiting the process and the backoff let the event loop
# run, and a plain function for execute, where an awaitable result is run to completion (or
# refused inside a running loop) and the backoff sleeps. A generator shared by both faces would
# cost a generator per call on the hot path; this costs nothing.
#
# One attempt: begin on a fresh snapshot (one crossing), call the process with its context,
# map its return value onto the outputs, take the attempt's outbox messages (the buffer is
# sealed when the process returns or raises; a process with the output "outbox" may also return
# a list of OutboxMsg), and commit through the one commit path (state.commit) with the messages
# as appends, which the commit names and never conflict. The commit conflict-checks the paths
# it writes and the declared inputs (`spec.reads`), not outputs it leaves alone.
# A conflict re-runs the attempt after a jittered backoff, up to the process's retries; an
# exception from the function re-runs it only under its RetryPolicy (`retry=`).
_ATTEMPT_LOOP = """
{kind}def {name}(self, spec, kwargs, obs=None):
    if kwargs or spec.keys:
        spec, kwargs = spec.prepare(kwargs)  # a keyed contract bound to this call's key
    fn, plan, reads, single, effect, retry, sends = spec.hot
    h = self._state._h
    schema = self._schema
    attempt = failures = 0
    while True:
        if effect:  # ctx makes this attempt's Outbox on the first read of ctx.outbox
            version, ctx = state_begin(h, plan, EFFECT_EXTRAS)
        else:
            version, ctx = state_begin(h, plan, PURE_EXTRAS)
        msgs = None
        try:
            result = fn(ctx, **kwargs) if kwargs else fn(ctx)
            if result.__class__ not in _DATA and isawaitable(result):
                result = {wait}
        except Exception as e:
            if retry is None or failures + 1 >= retry.max_attempts or not retry.should_retry(e):
                raise
            failures += 1
            pause = retry.delay(failures)
            _retried(obs, spec, e, failures, pause)
            {sleep}(pause)
            continue
        finally:
            if effect:  # a late add (a kept ctx, a raised attempt) raises, never lost
                box = _context_seal(ctx, "outbox", SEALED_OUTBOX)
                if box is not None:
                    msgs = box._seal()
        _context_check(ctx, spec.name)  # ctx.__check_contract__: a caught undeclared read poisons the attempt
        if single is not None and result.__class__ in _AS_IS:
            updates = {{single: result}}
        else:
            updates = spec.map_outputs(result)
        if sends and updates:
            msgs = returned_messages(spec.name, updates, msgs)
        if not updates and not msgs:
            return result
        if schema is not None:  # a bad value raises here: nothing committed, no retry used
            updates = schema.check(updates, spec.name)
        try:
            if msgs:
                v = commit(h, version, updates or {{}}, reads, None, appends(msgs))
            elif type(updates) is dict:  # commit()'s hot case, one call less
                v = state_commit(h, version, updates, reads, None, False)
            else:
                v = commit(h, version, updates, reads, None)
            if obs is not None or _commit_log(10):
                _committed(obs, spec, v, updates)
            return result
        except TransactionError as e:
            retries = self._retries if spec.retries is None else spec.retries
            if attempt >= retries:
                raise _gave_up(spec, e, attempt + 1, retries) from None
            _conflicted(obs, spec, e, attempt + 1)
        attempt += 1
        {sleep}(_delay(attempt))
"""


_log = get_logger("theus.engine")
_interactive: weakref.WeakSet[TheusEngine] = weakref.WeakSet()  # engines with processes from __main__


def import_file(file: str | os.PathLike[str], what: str) -> types.ModuleType:
    """Import a .py file as a module of its own (named after its resolved path, so two files
    of the same name do not collide); its import errors are raised. ``what`` names the caller
    in the error for a file that cannot be imported."""
    import importlib.util

    path = os.path.abspath(os.fspath(file))
    stem = os.path.splitext(os.path.basename(path))[0]
    mod_name = f"theus_scanned_{abs(hash(path))}_{stem}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ArgumentError(f"{what}: cannot import {os.fspath(file)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
    return module


def redefined(spec: ProcessSpec) -> None:
    """Called by @process for a function of __main__: every engine holding an earlier
    definition of it (same name and qualified name) runs the new one from now on."""
    for engine in list(_interactive):
        if not engine._state.closed:
            engine._redefined(spec)
_NOT_LOGGING: Callable[[int], Any] = {}.get  # falsy for every level
_commit_log = _NOT_LOGGING  # until logging is imported (see _watch_logging)


def _watch_logging() -> None:
    """Point the per-commit check at theus.engine's own isEnabledFor once the application has
    imported logging (checked when an engine is made, a process registered or a workflow run,
    so a commit pays one C-level call and nothing while logging is not in use)."""
    global _commit_log
    if _commit_log is _NOT_LOGGING and "logging" in sys.modules:
        real = _log._get()
        if real is not None:
            _commit_log = real.isEnabledFor


def _committed(obs: Callable[..., Any] | None, spec: ProcessSpec, version: int, updates: Mapping[str, Any]) -> None:
    """A process committed: the run's event, and a DEBUG record on theus.engine."""
    paths = tuple(updates)
    if obs is not None:
        obs("commit", spec.name, {"version": version, "paths": paths})
    _log.debug("%s committed version %d: %s", spec.name, version, ", ".join(paths))


def _conflicted(obs: Callable[..., Any] | None, spec: ProcessSpec, e: TransactionError, attempt: int) -> None:
    """A commit was rejected and the process runs again on a fresh snapshot."""
    if obs is not None:
        obs("conflict", spec.name, {"attempt": attempt, "conflicts": tuple(e.conflicts or ()),
                                    "expected_version": e.expected_version, "actual_version": e.actual_version})
    _log.info("%s: attempt %d conflicted on %s (read version %s, now %s); running it again", spec.name, attempt,
              ", ".join(e.conflicts or ()) or "the state", e.expected_version, e.actual_version)


def _retried(obs: Callable[..., Any] | None, spec: ProcessSpec, e: BaseException, failures: int, delay: float) -> None:
    """The function raised and its RetryPolicy runs it again after delay seconds."""
    if obs is not None:
        obs("retry", spec.name, {"failures": failures, "delay": delay, "error": f"{type(e).__name__}: {e}"})
    _log.warning("%s raised %s: %s; retry %d in %.3f s", spec.name, type(e).__name__, e, failures, delay)


def _face(name: str, **parts: str) -> Callable[..., Any]:
    """One face of the attempt loop, compiled on its first call (`import theus` pays neither
    for it nor for linecache), which then replaces the module global ``name``; its source is
    registered with linecache so that tracebacks through it show the lines."""

    def first_call(*args: Any, **kw: Any) -> Any:
        import linecache

        source = _ATTEMPT_LOOP.format(name=name, **parts)
        filename = f"<theus attempt loop: {name}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace: dict[str, Any] = {}
        exec(compile(source, filename, "exec"), globals(), namespace)
        face = globals()[name] = namespace[name]
        return face(*args, **kw)

    return first_call


def _no_user_outbox(initial: dict[str, Any]) -> None:
    """The outbox zone of a new engine starts empty: it holds only what processes commit."""
    if "outbox" not in initial:
        return
    box = initial["outbox"]
    if isinstance(box, Mapping) and not box:
        return
    raise ContractViolationError(
        "TheusEngine: the initial context holds data under 'outbox', a zone that belongs to the engine "
        "(it holds committed messages only); move that data to another zone such as 'domain', and send "
        "messages from processes with ctx.outbox.add(...)"
    )


def _no_outbox_writes(updates: Any, what: str) -> None:
    """Refuse a direct write under the outbox zone (processes append; drains deliver)."""
    if not isinstance(updates, Mapping):
        return  # the core names the problem
    for path in updates:
        if isinstance(path, str) and (path == "outbox" or path.startswith("outbox.")):
            raise ContractViolationError(
                f"{what}: {path!r} is inside the outbox zone, which belongs to the engine; send messages "
                "from a process (ctx.outbox.add or outputs=['outbox']) and manage the queue with "
                "engine.process_outbox() and engine.outbox"
            )


def _gave_up(spec: ProcessSpec, e: TransactionError, attempts: int, retries: int) -> TransactionError:
    """The TransactionError once a process's retries are used up: says how many attempts ran."""
    last = str(e).removesuffix("; re-read and retry")  # the engine did re-read and retry
    err = TransactionError(
        f"{spec.name}: gave up after {attempts} attempt{'s' if attempts != 1 else ''} "
        f"(retries={retries}), the last one rejected: {last}; allow more with retries= on the "
        "engine or on @process, or reduce contention on the conflicting paths",
        e.expected_version, e.actual_version, e.conflicts, attempts=attempts,
    )
    return err


def _no_running_loop(spec: ProcessSpec) -> None:
    """Refuse to run an async process synchronously inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise TheusError(
        f"{spec.name} is an async process and an event loop is running: use "
        f"`await engine.execute_async({spec.name})`"
    )


def _run_awaitable(spec: ProcessSpec, result: Any) -> Any:
    """A sync call of a process gave an awaitable (a coroutine behind a wrapper): await it to
    completion here, or refuse clearly inside a running loop. It is never committed as is."""
    try:
        _no_running_loop(spec)
    except TheusError:
        close = getattr(result, "close", None)
        if callable(close):
            close()  # no "never awaited" warning for a coroutine we refuse
        raise

    async def wait() -> Any:
        return await result

    return asyncio.run(wait())


def _fan(handle: Any, n: int, concurrency: int) -> None:
    """Run the n items of a Flux map step on up to ``concurrency`` threads (the stepper calls
    this; each item's body runs in the core through flux_fan_item, which keeps its error)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(concurrency, n), thread_name_prefix="theus-map") as pool:
        for done in [pool.submit(_core.flux_fan_item, handle, i) for i in range(n)]:
            done.result()


def isawaitable(obj: Any) -> bool:
    """``inspect.isawaitable``, imported when a process first returns something other than
    plain data (this function then replaces itself with it)."""
    global isawaitable
    from inspect import isawaitable

    return isawaitable(obj)


_attempts_sync = _face("_attempts_sync", kind="", wait="_run_awaitable(spec, result)", sleep="time.sleep")
_attempts_async = _face("_attempts_async", kind="async ", wait="await result", sleep="await asyncio.sleep")


def _delay(attempt: int) -> float:
    """Jittered exponential backoff: up to 0.1 ms, 0.2 ms, 0.4 ms, ... capped at 20 ms."""
    import random  # conflicts only: not paid by an import of theus

    return random.uniform(0, min(0.02, 0.0001 * (2 ** (attempt - 1))))

