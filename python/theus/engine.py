"""TheusEngine: registers processes and runs them on snapshots with compare-and-swap commits."""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import importlib.util
import os
import random
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any, Callable, Mapping

from . import _core
from ._core import state_begin, state_commit
from .contracts import ProcessSpec, StateUpdate, spec_of
from .outbox import Outbox, OutboxMsg, message_writes, next_stamp
from .markers import DELETE
from .errors import ArgumentError, ContractViolationError, TheusError, TransactionError
from .state import Change, CommitRecord, Snapshot, State
from .workflow import RunResult, Workflow

__all__ = ["TheusEngine"]

_DEFAULT_ZONES = ("domain", "global", "heavy", "outbox")


def _context_dict(context: Any) -> dict[str, Any]:
    if context is None:
        return {"domain": {}, "global": {}}
    if isinstance(context, Mapping):
        return dict(context)
    if dataclasses.is_dataclass(context) and not isinstance(context, type):
        return {f.name: _plain(getattr(context, f.name)) for f in dataclasses.fields(context)}
    if hasattr(context, "__dict__"):
        return {k: _plain(v) for k, v in vars(context).items() if not k.startswith("_")}
    raise ArgumentError(
        f"context: expected a dict, a dataclass or an object with attributes, got {type(context).__name__}"
    )


def _plain(value: Any) -> Any:
    """Zones given as dataclasses or plain objects become dicts, so their fields are paths."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, types.SimpleNamespace):
        return {k: _plain(v) for k, v in vars(value).items()}
    return value


class TheusEngine:
    """Runs processes on immutable snapshots of one state and commits what they return.

    ``context``: the initial state (a dict of zones, a dataclass or an object whose attributes are
    zones). ``strict_cas=True`` rejects a commit when any other commit happened after the
    process started (default: only when a path it declared changed). ``retries``: how many
    times a rejected attempt is re-run on a fresh snapshot. ``history=N`` keeps the last N
    versions whole for :meth:`at` and :meth:`diff`.
    """

    def __init__(self, context: Any = None, *, strict_cas: bool = False, retries: int = 3, history: int = 0) -> None:
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ArgumentError(f"retries: expected an int >= 0, got {retries!r}")
        initial = _context_dict(context)
        self._state = State(initial, strict=strict_cas, history=history)
        self._strict = bool(strict_cas)
        self._retries = retries
        self._processes: dict[str, ProcessSpec] = {}
        self._lookup: dict[Any, ProcessSpec] = {}  # name or function -> registered contract
        self.last_run: RunResult | None = None
        self.relay_errors: list[BaseException] = []
        self._relay: tuple[threading.Thread, threading.Event] | None = None
        self._zones = set(_DEFAULT_ZONES) | {k for k in initial if isinstance(k, str)}

    # --- registration -----------------------------------------------------------------

    def register(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register a @process function (re-registering a name replaces it). Returns fn."""
        spec = spec_of(fn)
        if spec is None:
            raise ContractViolationError(
                f"{getattr(fn, '__name__', fn)!r} is not a process; decorate it with @theus.process(...)"
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
        return fn

    def _check_roots(self, spec: ProcessSpec) -> None:
        for out in spec.outputs:
            root = out.split(".", 1)[0]
            if root in self._zones:
                continue
            with self._state.snapshot() as snap:  # a zone added since by update()
                self._zones.update(snap.get(None).keys())
            known = self._zones
            if root not in known:
                raise ContractViolationError(
                    f"{spec.name}: output {out!r} is under unknown zone {root!r}; known zones: "
                    f"{sorted(known)} (add the zone to the engine's context)"
                )

    def register_module(self, module: types.ModuleType) -> list[str]:
        """Register every process defined in ``module``; returns their names."""
        names = []
        for value in list(vars(module).values()):
            if spec_of(value) is not None and callable(value):
                self.register(value)
                names.append(spec_of(value).name)
        return names

    def scan_and_register(self, path: str | Path) -> list[str]:
        """Import every ``*.py`` file under ``path`` (a file or directory) and register its
        processes. Import errors are raised, not printed."""
        root = Path(path)
        if not root.exists():
            raise ArgumentError(f"scan_and_register: {str(root)!r} does not exist")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*.py") if p.name != "__init__.py")
        names: list[str] = []
        for file in files:
            mod_name = f"theus_scanned_{abs(hash(str(file.resolve())))}_{file.stem}"
            spec = importlib.util.spec_from_file_location(mod_name, file)
            if spec is None or spec.loader is None:
                raise ArgumentError(f"scan_and_register: cannot import {str(file)!r}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[mod_name]
                raise
            names += self.register_module(module)
        return names

    @property
    def processes(self) -> dict[str, ProcessSpec]:
        """The registered processes by name (a copy)."""
        return dict(self._processes)

    def _spec(self, fn_or_name: Any) -> ProcessSpec:
        if isinstance(fn_or_name, str):
            spec = self._processes.get(fn_or_name)
            if spec is None:
                close = difflib.get_close_matches(fn_or_name, list(self._processes), n=3)
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                raise ContractViolationError(f"no process named {fn_or_name!r} is registered{hint}")
            return spec
        spec = spec_of(fn_or_name)
        if spec is None:
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
        value with compare-and-swap (re-running it on conflicts), and return that value."""
        try:
            spec = self._lookup.get(fn_or_name)
        except TypeError:  # unhashable: certainly not a process
            spec = None
        if spec is None:
            spec = self._spec(fn_or_name)  # unregistered or unknown: checked, clear errors
        if spec.is_async:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(self.execute_async(spec, **kwargs))
            raise TheusError(
                f"{spec.name} is an async process and an event loop is running: use "
                f"`await engine.execute_async({spec.name})`"
            )
        h = self._state._h
        if h is None:
            self._state._handle()  # raises: closed
        plan = spec.plan.h
        effect = spec.semantic == "effect"
        attempt = 0
        while True:
            box = Outbox() if effect else None
            version, ctx = state_begin(h, plan, {"outbox": box} if effect else None)
            result = spec.fn(ctx, **kwargs)
            ctx.__check_contract__(spec.name)  # a caught undeclared read poisons the attempt
            try:
                self._commit(h, spec, version, result, box)
                return result
            except TransactionError:
                if attempt >= (self._retries if spec.retries is None else spec.retries):
                    raise
            attempt += 1
            _backoff(attempt)

    async def execute_async(self, fn_or_name: Any, /, **kwargs: Any) -> Any:
        """Run a process (async or not) from a coroutine; see :meth:`execute`."""
        spec = fn_or_name if isinstance(fn_or_name, ProcessSpec) else self._spec(fn_or_name)
        h = self._state._handle()
        retries = self._retries if spec.retries is None else spec.retries
        effect = spec.semantic == "effect"
        attempt = 0
        while True:
            box = Outbox() if effect else None
            version, ctx = state_begin(h, spec.plan.h, {"outbox": box} if effect else None)
            result = spec.fn(ctx, **kwargs)
            if spec.is_async:
                result = await result
            ctx.__check_contract__(spec.name)  # a caught undeclared read poisons the attempt
            try:
                self._commit(h, spec, version, result, box)
                return result
            except TransactionError:
                if attempt >= retries:
                    raise
            attempt += 1
            await asyncio.sleep(_delay(attempt))

    def _commit(self, h: int, spec: ProcessSpec, version: int, result: Any, box: Outbox | None) -> None:
        """Commit one attempt's return value and outbox messages (TransactionError when the
        state moved under it); nothing to write commits nothing."""
        if spec.single is not None and result is not None and not isinstance(result, StateUpdate):
            updates: dict[str, Any] | None = {spec.single: result}
        else:
            updates = spec.map_outputs(result)
        if box is not None and box._msgs:
            updates = {**(updates or {}), **message_writes(box._msgs, next_stamp())}
        if updates:
            state_commit(h, version, updates, spec.plan.h, None, self._strict)

    # --- outbox -----------------------------------------------------------------------

    def process_outbox(self, handler: Callable[[OutboxMsg], Any]) -> int:
        """Deliver committed outbox messages to ``handler`` in commit order, removing each
        from the state only after ``handler`` returned. Returns how many were delivered; a
        handler exception stops delivery and leaves that message (and later ones) queued."""
        if not callable(handler):
            raise ArgumentError(f"process_outbox: handler must be callable, got {type(handler).__name__}")
        delivered = 0
        with self._state.snapshot() as snap:
            queued = snap.get("outbox", None)
            keys = sorted(k for k in queued if k.startswith("m")) if queued is not None else []
            msgs = [(k, queued[k]) for k in keys]
        for key, raw in msgs:
            handler(OutboxMsg(raw["topic"], _thaw(raw["payload"])))
            self._state.update({f"outbox.{key}": DELETE}, author="outbox")
            delivered += 1
        return delivered

    def start_relay(self, handler: Callable[[OutboxMsg], Any], *, interval: float = 0.05) -> None:
        """Deliver outbox messages from a background thread every ``interval`` seconds (see
        :meth:`process_outbox`); a failing handler is retried on the next round."""
        if self._relay is not None:
            raise ArgumentError("a relay is already running; call stop_relay() first")
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                try:
                    self.process_outbox(handler)
                except Exception as e:  # keep the message queued; report and retry later
                    self.relay_errors.append(e)
                stop.wait(interval)
            self.process_outbox(handler)

        t = threading.Thread(target=loop, name="theus-relay", daemon=True)
        self._relay = (t, stop)
        t.start()

    def stop_relay(self) -> None:
        """Stop the relay after a last delivery round (idempotent)."""
        relay, self._relay = self._relay, None
        if relay is not None:
            relay[1].set()
            relay[0].join()

    # --- workflows --------------------------------------------------------------------

    def load_workflow(self, path_or_yaml: str | os.PathLike[str]) -> Workflow:
        """Parse a Flux workflow (a file path or YAML text) and check that every process it
        names is registered. Raises :class:`FluxError` with line and column."""
        wf = Workflow(path_or_yaml)
        wf.validate(self)
        return wf

    def execute_workflow(self, workflow: Workflow | str | os.PathLike[str], *, budget: int = 0) -> tuple[str, ...]:
        """Run a workflow (a :class:`Workflow`, a path or YAML text); returns the executed
        process names in order. Its trace is kept in :attr:`last_run`. Steps committed before a
        failing step stay committed."""
        wf = workflow if isinstance(workflow, Workflow) else self.load_workflow(workflow)
        return wf.run(self, budget=budget)

    async def execute_workflow_async(self, workflow: Workflow | str | os.PathLike[str], *, budget: int = 0) -> tuple[str, ...]:
        """Run a workflow from a coroutine without blocking the event loop: the run happens
        in a worker thread (processes execute there)."""
        wf = workflow if isinstance(workflow, Workflow) else self.load_workflow(workflow)
        return await asyncio.to_thread(wf.run, self, budget=budget)

    # --- state access -----------------------------------------------------------------

    @property
    def state(self) -> Snapshot:
        """A read-only snapshot of the newest version."""
        return self._state.snapshot()

    def compare_and_swap(self, expected_version: int, updates: Mapping[str, Any]) -> int:
        """Commit ``updates`` if nothing they touch changed after ``expected_version``."""
        return _core.state_commit(self._state._handle(), expected_version, updates, None, None, self._strict)

    def update(self, updates: Mapping[str, Any]) -> int:
        """Commit ``updates`` unconditionally (administrative write); returns the new version."""
        return self._state.update(updates)

    def history(self) -> list[CommitRecord]:
        """The last 1,000 commits: version, process, changed paths, time."""
        return self._state.history()

    def at(self, version: int) -> Snapshot:
        """A snapshot of a retained older version (see ``history=`` on the engine)."""
        return self._state.at(version)

    def diff(self, v1: int, v2: int) -> list[Change]:
        """Leaf paths added, changed or removed between two retained versions."""
        return self._state.diff(v1, v2)

    def close(self) -> None:
        """Release the state's values now."""
        self._state.close()

    def __repr__(self) -> str:
        return f"<TheusEngine version={self._state.version} processes={len(self._processes)}>"


def _thaw(value: Any) -> Any:
    """Plain, mutable data from a committed value (views become dicts and lists)."""
    for method in ("to_dict", "to_list"):
        fn = getattr(type(value), method, None)
        if fn is not None:
            return fn(value)
    return value


def _delay(attempt: int) -> float:
    """Jittered exponential backoff: up to 0.1 ms, 0.2 ms, 0.4 ms, ... capped at 20 ms."""
    return random.uniform(0, min(0.02, 0.0001 * (2 ** (attempt - 1))))


def _backoff(attempt: int) -> None:
    time.sleep(_delay(attempt))
