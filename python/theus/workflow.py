"""Flux workflows: YAML parsed, checked and stepped in Go; processes run through the engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import _core
from .errors import ArgumentError

if TYPE_CHECKING:
    from .engine import TheusEngine

__all__ = ["Workflow", "TraceEntry", "RunResult"]


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


class RunResult:
    """A run's record: ``executed`` process names in order, its ``trace`` (a list of
    :class:`TraceEntry`) and how many entries were ``dropped`` beyond the cap (10,000). The
    trace is kept in the core and converted to Python objects when first read.

    A RunResult is plain data: ``copy``, ``deepcopy`` and ``pickle`` give an equal record
    (the trace is read first), so a worker process can send it back."""

    __slots__ = ("_h", "_data")

    def __init__(self, handle: Any) -> None:
        self._h = handle
        self._data: tuple[tuple[str, ...], list[TraceEntry], int] | None = None

    @classmethod
    def _of(cls, executed: tuple[str, ...], trace: list[Any], dropped: int) -> "RunResult":
        """A RunResult from its data (what copies and pickles rebuild)."""
        run = cls.__new__(cls)
        run._h = None
        run._data = (tuple(executed), [TraceEntry(*e) for e in trace], int(dropped))
        return run

    def _load(self) -> tuple[tuple[str, ...], list[TraceEntry], int]:
        if self._data is None:
            executed, entries, dropped = _core.flux_trace(self._h)
            self._data = (executed, [TraceEntry(*e) for e in entries], dropped)
            self._h.close()  # the data now lives here
            self._h = None
        return self._data

    @property
    def executed(self) -> tuple[str, ...]:
        """The process names run, in order (including a step that failed)."""
        return self._load()[0]

    @property
    def trace(self) -> list[TraceEntry]:
        """One entry per process step and per condition evaluation, in order."""
        return self._load()[1]

    @property
    def dropped(self) -> int:
        """Entries not kept because the trace reached its cap."""
        return self._load()[2]

    def __reduce__(self) -> Any:
        executed, trace, dropped = self._load()
        return (RunResult._of, (executed, [tuple(e) for e in trace], dropped))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunResult):
            return NotImplemented
        return self._load() == other._load()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<theus.RunResult executed={len(self.executed)} entries={len(self.trace)}>"


def _source(path_or_yaml: str | os.PathLike[str]) -> tuple[str, str]:
    """(text, file name): a path names a file; text with a newline or a colon is YAML."""
    if isinstance(path_or_yaml, os.PathLike):
        p = Path(path_or_yaml)
        if not p.is_file():
            raise ArgumentError(f"workflow: no such file {str(p)!r}")
        return p.read_text(encoding="utf-8"), str(p)
    if not isinstance(path_or_yaml, str):
        raise ArgumentError(f"workflow: expected a path or YAML text, got {type(path_or_yaml).__name__}")
    text = path_or_yaml
    if "\n" not in text and ":" not in text:
        p = Path(text)
        if not p.is_file():
            raise ArgumentError(f"workflow: no such file {text!r} (pass YAML text or a path to a .yaml file)")
        return p.read_text(encoding="utf-8"), str(p)
    if "\n" not in text and text.endswith((".yaml", ".yml")) and Path(text).is_file():
        return Path(text).read_text(encoding="utf-8"), text
    return text, "<string>"


class Workflow:
    """A parsed Flux workflow: a document. Parsing checks its structure and compiles its
    conditions; :meth:`validate` checks it against an engine, and the engine runs it
    (:meth:`TheusEngine.execute_workflow`) any number of times.

    A Workflow is plain data: ``copy``, ``deepcopy`` and ``pickle`` give a workflow parsed again
    from the same source (its ``last_run`` is not copied), so it can be sent to a worker process
    and run there by an engine of that process."""

    __slots__ = ("_h", "name", "description", "process_names", "file", "source", "last_run", "_zones")

    def __init__(self, path_or_yaml: str | os.PathLike[str]) -> None:
        text, file = _source(path_or_yaml)
        self._parse(text, file)

    def _parse(self, text: str, file: str) -> None:
        self._h, self.name, self.description, self.process_names, zones = _core.flux_parse(text, file)
        self._zones = frozenset(zones)  # the zones its conditions read
        self.file = file
        self.source = text
        self.last_run: RunResult | None = None

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
        zones = None  # checked in the core only when a zone is not known here
        if not self._zones <= engine._zones:
            with engine._state.snapshot() as snap:  # a zone added since by update()
                engine._zones.update(snap.zones())
            zones = tuple(engine._zones)
        _core.flux_check(self._h, tuple(engine.processes), zones)

    def run(self, engine: "TheusEngine", *, budget: int = 0) -> tuple[str, ...]:
        """Run on ``engine``: the same as ``engine.execute_workflow(self, budget=budget)``."""
        return engine.execute_workflow(self, budget=budget)

    def __reduce__(self) -> Any:
        return (Workflow._of, (self.source, self.file))

    def __repr__(self) -> str:
        return f"<theus.Workflow {self.name or self.file!r} processes={list(self.process_names)}>"
