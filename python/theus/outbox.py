"""The outbox: side effects as data, committed with the state and delivered after the commit."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from .errors import ContractViolationError

__all__ = ["OutboxMsg", "Outbox", "PURE_EXTRAS", "SEALED", "message_writes", "next_stamp"]


@dataclass(frozen=True)
class OutboxMsg:
    """A message for the outside world: a ``topic`` and a ``payload`` (plain data)."""

    topic: str
    payload: Any = None


class Outbox:
    """``ctx.outbox`` of an effect process: messages added here are committed with the
    process's update, in order, and vanish with a failed or retried attempt (each attempt gets
    a new buffer). They are delivered by ``engine.process_outbox()`` or a relay. Once the
    attempt is over the buffer is sealed: a late ``add`` raises instead of being lost."""

    _msgs: list[OutboxMsg] | None = None  # set on the first add: creating a buffer stays cheap

    def add(self, msg: OutboxMsg | str, payload: Any = None) -> None:
        """Queue ``OutboxMsg(topic, payload)``, or ``add(topic, payload)``."""
        if isinstance(msg, str):
            msg = OutboxMsg(msg, payload)
        elif not isinstance(msg, OutboxMsg):
            raise ContractViolationError(
                f"outbox.add: expected an OutboxMsg or a topic str, got {type(msg).__name__}"
            )
        elif payload is not None:
            raise ContractViolationError("outbox.add: give the payload inside the OutboxMsg, not beside it")
        msgs = self._msgs
        if msgs is None:
            self._msgs = msgs = []
        elif msgs is SEALED:
            raise ContractViolationError(
                "outbox.add: the process attempt this outbox belongs to is over; add messages "
                "while the process runs (they commit with its return value)"
            )
        msgs.append(msg)

    def __len__(self) -> int:
        msgs = self._msgs
        return len(msgs) if msgs else 0

    def __repr__(self) -> str:
        return f"<theus.Outbox pending={len(self)}>"


SEALED: list[OutboxMsg] = []
"""The buffer of an outbox whose attempt is over (the engine sets it): add refuses it."""


class _PureOutbox:
    """``ctx.outbox`` of a ``semantic="pure"`` process: any add is a contract violation."""

    __slots__ = ()

    def add(self, msg: Any = None, payload: Any = None) -> None:
        raise ContractViolationError(
            "outbox.add: this process is declared semantic=\"pure\", which forbids side effects; "
            "declare it with @process(..., semantic=\"effect\") to add outbox messages"
        )

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<theus.Outbox of a pure process: adds are refused>"


PURE_EXTRAS: dict[str, Any] = {"outbox": _PureOutbox()}
"""The context extras of a pure process (one shared, immutable buffer)."""


_seq = itertools.count(1)


def message_writes(msgs: list[OutboxMsg], stamp: int) -> dict[str, Any]:
    """State writes for committed messages: one key per message under ``outbox``, ordered by
    commit then position (``stamp`` is unique per engine and increasing)."""
    return {f"outbox.m{stamp:012d}_{i:06d}": {"topic": m.topic, "payload": m.payload} for i, m in enumerate(msgs)}


def next_stamp() -> int:
    """A process-wide increasing number for message keys."""
    return next(_seq)
