"""Flux workflows: YAML parsed, checked and stepped in Go; processes run through the engine."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from typing import Any, Iterator, NamedTuple
else:
    from ._records import NamedTuple

from . import _core
from .errors import ArgumentError

if TYPE_CHECKING:
    from .engine import TheusEngine

__all__ = ["Workflow", "TraceEntry", "RunResult", "REQUIRED"]


class _Required:
    """The default of a run argument that has none (``Workflow.args``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "theus.REQUIRED"

    def __reduce__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


class TraceEntry(NamedTuple):
    """One step of a run: a process (``kind="process"``, ``outcome`` ``"ok"``/``"error"``) or
    a condition (``kind`` ``"if"``/``"while"``, ``outcome`` ``"true"``/``"false"``/``"error"``),
    with its YAML position, start time (Unix), duration in seconds and the committed versions
    around it."""

    step: str
    kind: str
    file: str
    line: int
    col: int
    start: float
    duration: float
    outcome: str
    version_before: int
    version_after: int


_STATUSES = ("completed", "failed", "waiting")


class RunResult:
    """The record of one workflow run, returned by ``engine.execute_workflow``.

    - ``steps``: the process steps run, in order (a failing one included); the result
      iterates over them and compares equal to a tuple of them, so code written for the
      tuple that ``execute_workflow`` used to return keeps working;
    - ``trace``: a list of :class:`TraceEntry` (one per process step and condition), and
      ``dropped``, the entries beyond the cap (10,000) that were not kept;
    - ``args``: the run's arguments (defaults filled in), ``status``: ``"completed"``,
      ``"failed"`` or ``"waiting"`` (parked at a ``flux: wait``; ``waiting_for`` names the
      input, and ``engine.resume(run, name=value)`` continues it, once), ``error``: the
      exception of a failed run (else None);
    - ``start_version`` and ``end_version``: the committed versions around the run.

    The trace is kept in the core and converted to Python objects when first read. A
    RunResult is plain data: ``copy``, ``deepcopy`` and ``pickle`` give an equal record (the
    trace is read first; a failed run's error is kept as its text), so a worker process can
    send it back."""

    __slots__ = ("_h", "_data", "args", "status", "error", "start_version", "end_version", "waiting_for",
                 "_paused", "_lock")

    def __init__(self, handle: Any, *, args: Mapping[str, Any] | None = None, status: str = "completed",
                 error: BaseException | None = None, start_version: int = 0, end_version: int = 0,
                 waiting_for: str | None = None, paused: Any = None) -> None:
        self._h = handle
        self._data: tuple[tuple[str, ...], list[TraceEntry], int] | None = None
        self.args: dict[str, Any] = dict(args or {})
        self.status = status
        self.error = error
        self.start_version = start_version
        self.end_version = end_version
        self.waiting_for = waiting_for
        self._paused = paused  # (engine, workflow, parked-run Handle) while resumable
        self._lock = threading.Lock()

    def _take_paused(self) -> Any:
        """The parked run, once: a second resume (from any thread) gets None."""
        with self._lock:
            paused, self._paused = self._paused, None
            return paused

    @classmethod
    def _of(cls, executed: tuple[str, ...], trace: list[Any], dropped: int, args: dict[str, Any] | None = None,
            status: str = "completed", error: Any = None, start: int = 0, end: int = 0,
            waiting_for: str | None = None) -> "RunResult":
        """A RunResult from its data (what copies and pickles rebuild; a copy of a waiting run
        cannot be resumed: the original can)."""
        run = cls(None, args=args, status=status, error=error, start_version=start, end_version=end,
                  waiting_for=waiting_for)
        run._data = (tuple(executed), [TraceEntry(*e) for e in trace], int(dropped))
        return run

    def _load(self) -> tuple[tuple[str, ...], list[TraceEntry], int]:
        if self._data is None:
            if self._h is None:
                self._data = ((), [], 0)
            else:
                executed, entries, dropped = _core.flux_trace(self._h)
                self._data = (executed, [TraceEntry(*e) for e in entries], dropped)
                self._h.close()  # the data now lives here
                self._h = None
        return self._data

    @property
    def steps(self) -> tuple[str, ...]:
        """The process steps run, in order (including a step that failed)."""
        return self._load()[0]

    @property
    def executed(self) -> tuple[str, ...]:
        """The same as :attr:`steps` (the older name)."""
        return self._load()[0]

    @property
    def trace(self) -> list[TraceEntry]:
        """One entry per process step and per condition evaluation, in order."""
        return self._load()[1]

    @property
    def dropped(self) -> int:
        """Entries not kept because the trace reached its cap."""
        return self._load()[2]

    def __iter__(self) -> Iterator[str]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index: Any) -> Any:
        return self.steps[index]

    def __reduce__(self) -> Any:
        executed, trace, dropped = self._load()
        error = self.error if self.error is None else f"{type(self.error).__name__}: {self.error}"
        return (RunResult._of, (executed, [tuple(e) for e in trace], dropped, self.args, self.status, error,
                                self.start_version, self.end_version, self.waiting_for))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, list)):
            return self.steps == tuple(other)
        if not isinstance(other, RunResult):
            return NotImplemented
        return (self._load(), self.args, self.status, self.start_version, self.end_version) == (
            other._load(), other.args, other.status, other.start_version, other.end_version)

    __hash__ = None  # type: ignore[assignment]

    def _repr_html_(self) -> str:
        from .display import run_html

        return run_html(self)

    def __repr__(self) -> str:
        if self.status == "waiting":
            return f"<theus.RunResult waiting for {self.waiting_for!r} steps={len(self.steps)}>"
        return (f"<theus.RunResult {self.status} steps={len(self.steps)} "
                f"versions={self.start_version}..{self.end_version}>")


def _source(path_or_yaml: str | os.PathLike[str]) -> tuple[str, str]:
    """(text, file name): a path names a file; text with a newline or a colon is YAML."""
    if isinstance(path_or_yaml, os.PathLike):
        p = os.fspath(path_or_yaml)
        if not os.path.isfile(p):
            raise ArgumentError(f"workflow: no such file {p!r}")
        return _read(p), p
    if not isinstance(path_or_yaml, str):
        raise ArgumentError(f"workflow: expected a path or YAML text, got {type(path_or_yaml).__name__}")
    text = path_or_yaml
    if "\n" not in text and ":" not in text:
        if not os.path.isfile(text):
            raise ArgumentError(f"workflow: no such file {text!r} (pass YAML text or a path to a .yaml file)")
        return _read(text), text
    if "\n" not in text and text.endswith((".yaml", ".yml")) and os.path.isfile(text):
        return _read(text), text
    return text, "<string>"


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


_PARSED: dict[str, "Workflow"] = {}  # YAML text -> its parsed Workflow (Workflow.of)


class Workflow:
    """A parsed Flux workflow: a document. Parsing checks its structure and compiles its
    conditions; :meth:`validate` checks it against an engine, and the engine runs it
    (:meth:`TheusEngine.execute_workflow`) any number of times.

    A Workflow is plain data: ``copy``, ``deepcopy`` and ``pickle`` give a workflow parsed again
    from the same source (its ``last_run`` is not copied), so it can be sent to a worker process
    and run there by an engine of that process."""

    __slots__ = ("_h", "name", "description", "process_names", "file", "source", "_zones", "_args", "_last",
                 "_step_options", "_waits", "_valid")

    def __init__(self, path_or_yaml: str | os.PathLike[str]) -> None:
        text, file = _source(path_or_yaml)
        self._parse(text, file)

    def _parse(self, text: str, file: str) -> None:
        self._valid: Any = None  # the engines it passed validate() on (a WeakSet, made on the first)
        (self._h, self.name, self.description, self.process_names, zones, decls,
         self._step_options, self._waits) = _core.flux_parse(text, file)
        self._zones = frozenset(zones)  # the zones its conditions read
        # the declared run arguments: name -> (has a default, the default)
        self._args: dict[str, tuple[bool, Any]] = {name: (has, default) for name, has, default in decls}
        self.file = file
        self.source = text
        self._last = threading.local()

    @property
    def args(self) -> dict[str, Any]:
        """The run arguments the workflow declares (``args:``): name -> default, with
        :data:`REQUIRED` for one the run must give."""
        return {name: default if has else REQUIRED for name, (has, default) in self._args.items()}

    @property
    def last_run(self) -> RunResult | None:
        """The result of this thread's last run of this workflow (each thread sees its own)."""
        return getattr(self._last, "run", None)

    @last_run.setter
    def last_run(self, run: RunResult | None) -> None:
        self._last.run = run

    def bind_args(self, args: Mapping[str, Any] | None) -> dict[str, Any]:
        """The arguments of a run: ``args`` checked against the declared names (an unknown or
        a missing required one is an ArgumentError naming it) with the defaults filled in."""
        if args is None:
            args = {}
        elif not isinstance(args, Mapping):
            raise ArgumentError(f"execute_workflow: args: expected a dict of run arguments, got {type(args).__name__}")
        declared = self._args
        early = [k for k in args if k in self._waits]
        if early:
            raise ArgumentError(
                f"execute_workflow: {early[0]!r} is what the workflow's `flux: wait` waits for; give it to "
                f"engine.resume(run, {early[0]}=...) when the run is waiting"
            )
        unknown = [k for k in args if k not in declared]
        if unknown:
            names = ", ".join(map(repr, declared)) or "none (add `args: [...]` to the workflow)"
            raise ArgumentError(
                f"execute_workflow: {self.name or self.file!r} declares no run argument {unknown[0]!r}; "
                f"its args are {names}"
            )
        bound: dict[str, Any] = {}
        for name, (has, default) in declared.items():
            if name in args:
                bound[name] = args[name]
            elif has:
                bound[name] = default
            else:
                raise ArgumentError(
                    f"execute_workflow: {self.name or self.file!r} needs the run argument {name!r} "
                    f"(pass args={{{name!r}: ...}})"
                )
        return bound

    @classmethod
    def _of(cls, text: str, file: str) -> "Workflow":
        """A workflow parsed from its source text (what copies and pickles rebuild)."""
        wf = cls.__new__(cls)
        wf._parse(text, file)
        return wf

    def validate(self, engine: "TheusEngine") -> None:
        """Raise :class:`FluxError` (with line, column and "did you mean") unless every process
        the workflow names is registered on ``engine`` and every condition reads a zone the
        engine has."""
        if not hasattr(engine, "_processes"):
            raise ArgumentError(f"engine: expected a TheusEngine, got {type(engine).__name__}")
        valid = self._valid
        if valid is not None and engine in valid:
            return  # an engine only ever gains processes and zones: once valid, always valid
        zones = None  # checked in the core only when a zone is not known here
        if not self._zones <= engine._zones:
            with engine._state.snapshot() as snap:  # a zone added since by update()
                engine._zones.update(snap.zones())
            zones = tuple(engine._zones)
        _core.flux_check(self._h, tuple(engine._processes), zones)
        if valid is None:
            import weakref

            self._valid = valid = weakref.WeakSet()
        valid.add(engine)

    @classmethod
    def of(cls, source: str | os.PathLike[str]) -> "Workflow":
        """The workflow of a path or YAML text; YAML text given again is parsed once (the last
        128 texts are kept: a Workflow is immutable, so runs can share it)."""
        if isinstance(source, str) and ("\n" in source or (":" in source and not source.endswith((".yaml", ".yml")))):
            wf = _PARSED.get(source)
            if wf is None:
                wf = cls(source)
                if len(_PARSED) >= 128:
                    _PARSED.pop(next(iter(_PARSED)))
                _PARSED[source] = wf
            return wf
        return cls(source)

    def run(self, engine: "TheusEngine", args: Mapping[str, Any] | None = None, *, budget: int = 0) -> RunResult:
        """Run on ``engine``: the same as ``engine.execute_workflow(self, args, budget=budget)``."""
        return engine.execute_workflow(self, args, budget=budget)

    def outline(self) -> tuple[Any, ...]:
        """The steps as :class:`theus.display.Step` tuples (kind, label, position, blocks)."""
        from .display import outline

        return outline(_core.flux_outline(self._h))

    def to_mermaid(self, run: RunResult | None = None) -> str:
        """The workflow as a Mermaid flowchart (every step kind drawn; Flux is static, so the
        picture is exact). With ``run``, the steps that run executed are marked."""
        from .display import to_mermaid

        return to_mermaid(self, run)

    def to_dot(self, run: RunResult | None = None) -> str:
        """The workflow as a Graphviz DOT digraph (see :meth:`to_mermaid`)."""
        from .display import to_dot

        return to_dot(self, run)

    def to_svg(self, run: RunResult | None = None) -> str:
        """The workflow drawn by Graphviz as SVG text (needs ``pip install graphviz`` and the
        ``dot`` program: ``apt-get install graphviz``; a TheusError says which is missing)."""
        from .display import to_svg

        return to_svg(self, run)

    def _repr_html_(self) -> str:
        from .display import workflow_html

        return workflow_html(self)

    def __reduce__(self) -> Any:
        return (Workflow._of, (self.source, self.file))

    def __repr__(self) -> str:
        return f"<theus.Workflow {self.name or self.file!r} processes={list(self.process_names)}>"
