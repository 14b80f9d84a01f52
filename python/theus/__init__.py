"""theus: a process-oriented state kernel for Python, with its core in Go.

Processes are plain functions with a declared contract; they read immutable snapshots of a
global state and return data, which theus commits atomically with optimistic
compare-and-swap.
"""

from __future__ import annotations

from .errors import (
    ArgumentError,
    ContextError,
    ContractViolationError,
    FluxError,
    InternalError,
    PathError,
    TheusError,
    TransactionError,
)
from . import _core
from . import heavy
from .markers import DELETE
from ._core import FrozenDict, FrozenList
from .state import Change, CommitRecord, Snapshot, State
from .contracts import StateUpdate, process
from .retry import RetryPolicy
from .engine import TheusEngine
from .outbox import OutboxMsg
from .workflow import REQUIRED, RunResult, TraceEntry, Workflow
from .events import Event

from ._version import __version__

# typing.TYPE_CHECKING without importing typing: type checkers take this name as True, and the
# annotation keeps IDEs (jedi) from reading the block as dead code
TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from .schema import Context


def __getattr__(name: str) -> object:
    # theus.Context is a typing.Protocol: typing is imported when it is first used, not by
    # `import theus` (engines without a schema never need it)
    if name == "Context":
        from .schema import Context

        globals()["Context"] = Context
        return Context
    raise AttributeError(f"module 'theus' has no attribute {name!r}")

# theus logs commits, conflicts, retries, steps and deliveries under the "theus" logger; it is
# silent until the application configures logging (see theus._log).

__all__ = [
    "DELETE",
    "heavy",
    "TheusEngine",
    "Context",
    "process",
    "StateUpdate",
    "RetryPolicy",
    "OutboxMsg",
    "Workflow",
    "RunResult",
    "REQUIRED",
    "TraceEntry",
    "Event",
    "State",
    "Snapshot",
    "CommitRecord",
    "Change",
    "FrozenDict",
    "FrozenList",
    "TheusError",
    "ContextError",
    "PathError",
    "ArgumentError",
    "TransactionError",
    "ContractViolationError",
    "FluxError",
    "InternalError",
]
