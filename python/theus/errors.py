"""The theus exception hierarchy.

Every error theus raises on its own account is a :class:`TheusError`. Exceptions raised by user
code inside a process pass through unchanged (the same object, traceback intact).
"""

from __future__ import annotations

__all__ = [
    "TheusError",
    "ContextError",
    "PathError",
    "ArgumentError",
    "TransactionError",
    "ContractViolationError",
    "FluxError",
    "InternalError",
]


class TheusError(Exception):
    """Base class of every error raised by theus itself."""


class ContextError(TheusError, AttributeError, TypeError):
    """A write was attempted on read-only state (a view, a snapshot or a process context).

    State changes only through what a process returns: return the new value from the process
    and declare its path in ``outputs``.
    """


class PathError(TheusError, KeyError, ValueError):
    """A state path is malformed (``""``, ``"a..b"``, not a string) or names nothing.

    ``path`` holds the offending path (or value) and ``code`` a stable reason such as
    ``"empty"``, ``"malformed"``, ``"not_found"`` or ``"not_a_branch"``.
    """

    def __init__(self, message: str, path: object = None, code: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.code = code

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ArgumentError(TheusError, TypeError, ValueError):
    """An argument has the wrong type or value (a non-dict initial context, a negative version,
    an unknown option). The message names the argument and what is expected."""


class TransactionError(TheusError):
    """A commit was rejected because the state changed after the writer's start version.

    ``expected_version`` is the version the writer started from, ``actual_version`` the version
    it found, and ``conflicts`` the declared paths that changed in between (empty when a strict
    check rejected any change). ``attempts`` is how many attempts a process made before giving
    up (``None`` for a single commit such as ``compare_and_swap``).
    """

    def __init__(
        self,
        message: str,
        expected_version: int | None = None,
        actual_version: int | None = None,
        conflicts: tuple[str, ...] = (),
        *,
        attempts: int | None = None,
    ) -> None:
        super().__init__(message)
        self.expected_version = expected_version
        self.actual_version = actual_version
        self.conflicts = tuple(conflicts)
        self.attempts = attempts


class ContractViolationError(TheusError):
    """A process broke its declared contract: it read outside ``inputs``, wrote outside
    ``outputs``, returned a value of the wrong shape, or declared a malformed contract."""


class FluxError(TheusError):
    """A Flux workflow is invalid (reported at load time with file, line and column) or failed
    while running (naming the step and its line).

    ``code`` is a stable reason (``"unknown_key"``, ``"condition"``, ``"budget"``, ... listed in
    docs/flux.md); ``file``, ``line`` and ``col`` locate it in the YAML source.
    """

    def __init__(
        self,
        message: str,
        code: str | None = None,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.file = file
        self.line = line
        self.col = col


class InternalError(TheusError):
    """A bug inside theus. The state is unchanged; please report it with the message."""
