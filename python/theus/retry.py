"""RetryPolicy: re-running a process whose function raised, on a fresh snapshot, after a delay."""

from __future__ import annotations

import math

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    import random
    from dataclasses import dataclass
    from typing import Any, Callable
else:
    from ._records import dataclass

from .errors import ArgumentError, ContextError, ContractViolationError, TransactionError

__all__ = ["RetryPolicy"]

# Deterministic mistakes: re-running the same code on the same contract fails the same way.
_NEVER = (ContractViolationError, ContextError)


def _number(name: str, value: Any, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise ArgumentError(f"RetryPolicy: {name}: expected a finite number >= {minimum:g}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing process is re-run.

    ``max_attempts`` counts every run of the function, the first included. An exception that
    is an instance of ``retry_on`` re-runs the process on a fresh snapshot after
    ``delay(n)`` seconds: ``initial_delay * backoff ** (n - 1)``, capped at ``max_delay``,
    and with ``jitter`` a uniformly random value between half of that and all of it (so many
    failing callers do not retry in step). A failed attempt commits nothing and sends
    nothing. Contract mistakes (:class:`ContractViolationError`, :class:`ContextError`) are
    never retried, whatever ``retry_on`` says: the same code fails the same way. Conflicts
    (:class:`TransactionError`) are retried by the engine's own ``retries=``, not here.

    Use it as ``@process(..., retry=RetryPolicy(max_attempts=3))`` or, in Flux, as a step's
    ``retry: {max_attempts: 3, initial_delay: 0.1}``.
    """

    max_attempts: int = 3
    initial_delay: float = 0.5
    backoff: float = 2.0
    max_delay: float = 30.0
    jitter: bool = True
    retry_on: Any = (Exception,)

    def __post_init__(self) -> None:
        n = self.max_attempts
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ArgumentError(f"RetryPolicy: max_attempts: expected an int >= 1 (the first run included), got {n!r}")
        object.__setattr__(self, "initial_delay", _number("initial_delay", self.initial_delay, 0))
        object.__setattr__(self, "backoff", _number("backoff", self.backoff, 1))
        object.__setattr__(self, "max_delay", _number("max_delay", self.max_delay, 0))
        if not isinstance(self.jitter, bool):
            raise ArgumentError(f"RetryPolicy: jitter: expected True or False, got {self.jitter!r}")
        on = self.retry_on
        if isinstance(on, type):
            on = (on,)
        elif isinstance(on, (list, set, frozenset)):
            on = tuple(on)
        if not isinstance(on, tuple) or not on or not all(
                isinstance(c, type) and issubclass(c, BaseException) for c in on):
            raise ArgumentError(
                f"RetryPolicy: retry_on: expected an exception class or a tuple of them, got {self.retry_on!r}"
            )
        object.__setattr__(self, "retry_on", on)

    @classmethod
    def from_fields(cls, fields: dict[str, Any], where: str,
                    resolve: Callable[[str], type[BaseException] | None] | None = None) -> RetryPolicy:
        """A policy from a mapping of its fields (a Flux step's ``retry:``): unknown fields and
        bad values are an ArgumentError naming ``where`` and the field. ``retry_on`` there is
        a list of exception class names, resolved by ``resolve`` (builtins by default)."""
        allowed = ("max_attempts", "initial_delay", "backoff", "max_delay", "jitter", "retry_on")
        unknown = [k for k in fields if k not in allowed]
        if unknown:
            raise ArgumentError(f"{where}: retry: unknown field {unknown[0]!r}; the fields are {', '.join(allowed)}")
        kw = dict(fields)
        if "retry_on" in kw:
            names = kw["retry_on"]
            if isinstance(names, str):
                names = [names]
            classes = []
            for name in names if isinstance(names, (list, tuple)) else [names]:
                cls_ = (resolve or _builtin_exception)(name) if isinstance(name, str) else None
                if cls_ is None:
                    raise ArgumentError(f"{where}: retry: retry_on: {name!r} is not an exception class name")
                classes.append(cls_)
            kw["retry_on"] = tuple(classes)
        try:
            return cls(**kw)
        except ArgumentError as e:
            raise ArgumentError(f"{where}: retry: {str(e).removeprefix('RetryPolicy: ')}") from None

    def should_retry(self, error: BaseException) -> bool:
        """Whether ``error`` (raised by the process function) asks for another attempt."""
        return isinstance(error, self.retry_on) and not isinstance(error, (*_NEVER, TransactionError))

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1, 2, ...)."""
        if failures <= 0:
            return 0.0
        try:
            grown = self.initial_delay * self.backoff ** (failures - 1)
        except OverflowError:
            grown = math.inf
        base = min(self.max_delay, grown)
        if not self.jitter or base == 0:
            return base
        if rng is None:
            import random as rng  # a retry only: not paid by an import of theus
        return rng.uniform(base / 2, base)


def _builtin_exception(name: str) -> type[BaseException] | None:
    import builtins

    from . import errors

    for space in (builtins, errors):
        cls = getattr(space, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            return cls
    return None
