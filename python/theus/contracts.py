"""Process contracts: the @process decorator, StateUpdate and output mapping."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, TypeVar

from . import _core
from .errors import ContractViolationError

__all__ = ["process", "StateUpdate", "ProcessSpec", "spec_of"]

F = TypeVar("F", bound=Callable[..., Any])

_SEMANTICS = ("pure", "effect")


class StateUpdate:
    """An explicit set of writes returned by a process: ``StateUpdate({"domain.x": 1, ...})``.

    Every path must lie within the process's declared ``outputs``.
    """

    __slots__ = ("updates",)

    def __init__(self, updates: Mapping[str, Any] | None = None, /, **kw: Any) -> None:
        merged = dict(updates or {})
        merged.update(kw)
        for key in merged:
            if not isinstance(key, str):
                raise ContractViolationError(f"StateUpdate: paths are str, got {key!r}")
        self.updates = merged

    def __repr__(self) -> str:
        return f"StateUpdate({self.updates!r})"


def check_path(path: object, what: str) -> str:
    """Validate one dotted path of a contract."""
    if not isinstance(path, str):
        raise ContractViolationError(f"{what}: a path is a dotted str such as 'domain.counter', got {path!r}")
    if not path or any(not seg for seg in path.split(".")):
        raise ContractViolationError(f"{what}: malformed path {path!r} (empty segment); write e.g. 'domain.counter'")
    return path


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root + ".")


@dataclass(frozen=True)
class ProcessSpec:
    """The contract of a process, attached to the decorated function as ``__theus_process__``."""

    name: str
    fn: Callable[..., Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    semantic: str
    errors: tuple[type[BaseException], ...]
    retries: int | None
    is_async: bool
    paths: tuple[str, ...] = field(init=False)
    leaves: dict[str, str] = field(init=False)
    single: str | None = field(init=False)
    plan: "_Plan" = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        seen: dict[str, None] = {}
        for p in (*self.inputs, *self.outputs):
            seen.setdefault(p, None)
        object.__setattr__(self, "paths", tuple(seen))
        object.__setattr__(self, "plan", _Plan(self.paths, self.name))
        object.__setattr__(self, "single", self.outputs[0] if len(self.outputs) == 1 else None)
        counts: dict[str, int] = {}
        for out in self.outputs:
            leaf = out.rsplit(".", 1)[-1]
            counts[leaf] = counts.get(leaf, 0) + 1
        object.__setattr__(self, "leaves", {o.rsplit(".", 1)[-1]: o for o in self.outputs if counts[o.rsplit(".", 1)[-1]] == 1})

    def map_outputs(self, result: Any) -> dict[str, Any] | None:
        """Turn a return value into ``{path: value}`` writes (``None``: nothing to write)."""
        outs = self.outputs
        if isinstance(result, StateUpdate):
            for path in result.updates:
                check_path(path, f"{self.name}: StateUpdate")
                if not any(_within(path, o) for o in outs):
                    raise ContractViolationError(
                        f"{self.name}: StateUpdate writes {path!r}, which is outside the declared "
                        f"outputs {list(outs)}; add it to outputs=[...]"
                    )
            return result.updates
        if result is None or not outs:  # no outputs: a query, its value goes to the caller only
            return None
        if len(outs) == 1:
            return {outs[0]: result}
        if isinstance(result, (tuple, list)):
            if len(result) != len(outs):
                raise ContractViolationError(
                    f"{self.name}: returned {len(result)} values for {len(outs)} outputs {list(outs)}; "
                    "return one value per output, in order"
                )
            return dict(zip(outs, result))
        if isinstance(result, dict):
            updates: dict[str, Any] = {}
            for key, value in result.items():
                path = key if key in outs else self.leaves.get(key) if isinstance(key, str) else None
                if path is None:
                    raise ContractViolationError(
                        f"{self.name}: returned key {key!r} matches no output; use a full path or the "
                        f"unique leaf name of one of {list(outs)}"
                    )
                if path in updates:
                    raise ContractViolationError(f"{self.name}: output {path!r} returned twice")
                updates[path] = value
            return updates
        raise ContractViolationError(
            f"{self.name}: returned a single {type(result).__name__} for {len(outs)} outputs {list(outs)}; "
            "return a tuple, a dict keyed by output or a StateUpdate"
        )


class _Plan:
    """The process's declared paths parsed once in the core (freed with the contract)."""

    __slots__ = ("h",)

    def __init__(self, paths: tuple[str, ...], name: str) -> None:
        self.h = _core.plan_new(paths, name)

    def __del__(self) -> None:
        h, self.h = self.h, None
        if h is not None and _core is not None:
            try:
                _core.plan_free(h)
            except Exception:  # interpreter shutdown: the module may be gone
                pass


def _paths(value: Iterable[str] | str | None, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    try:
        items = list(value)
    except TypeError:
        raise ContractViolationError(f"{what}: expected a list of paths, got {type(value).__name__}") from None
    return tuple(check_path(p, what) for p in items)


def _no_overlap(outputs: tuple[str, ...], name: str) -> None:
    for i, a in enumerate(outputs):
        for b in outputs[i + 1:]:
            if _within(a, b) or _within(b, a):
                raise ContractViolationError(
                    f"{name}: outputs {a!r} and {b!r} overlap; declare the parent or the child, not both"
                )


def process(
    fn: F | None = None,
    *,
    inputs: Iterable[str] | None = None,
    outputs: Iterable[str] | None = None,
    semantic: str = "effect",
    errors: Iterable[type[BaseException]] | None = None,
    retries: int | None = None,
) -> Any:
    """Declare a function as a theus process.

    ``inputs`` are the paths it may read, ``outputs`` the paths its return value writes.
    ``semantic="pure"`` forbids side effects (no outbox), ``"effect"`` (default) allows them.
    ``retries`` overrides the engine's retry count for conflicts; ``errors`` lists exception
    types the process may raise as part of its contract (documentation for callers).

    The function is returned unchanged (still directly callable in unit tests) with its
    contract attached; bare ``@process`` is allowed.
    """

    def wrap(f: F) -> F:
        if not callable(f):
            raise ContractViolationError(f"@process decorates a function, got {type(f).__name__}")
        name = getattr(f, "__name__", None) or repr(f)
        if semantic not in _SEMANTICS:
            raise ContractViolationError(f"{name}: semantic must be 'pure' or 'effect', got {semantic!r}")
        if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool) or retries < 0):
            raise ContractViolationError(f"{name}: retries must be an int >= 0, got {retries!r}")
        ins = _paths(inputs, f"{name}: inputs")
        outs = _paths(outputs, f"{name}: outputs")
        _no_overlap(outs, name)
        errs = tuple(errors or ())
        for e in errs:
            if not (isinstance(e, type) and issubclass(e, BaseException)):
                raise ContractViolationError(f"{name}: errors must be exception classes, got {e!r}")
        spec = ProcessSpec(name, f, ins, outs, semantic, errs, retries,
                           inspect.iscoroutinefunction(f))
        f.__theus_process__ = spec  # type: ignore[attr-defined]
        return f

    if fn is not None:
        return wrap(fn)
    return wrap


def spec_of(fn: Any) -> ProcessSpec | None:
    """The contract attached by @process, or None."""
    return getattr(fn, "__theus_process__", None)
