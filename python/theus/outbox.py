"""The outbox: side effects as data, committed with the state and delivered after the commit."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from .errors import ContractViolationError

__all__ = ["OutboxMsg", "Outbox"]


@dataclass(frozen=True)
class OutboxMsg:
    """A message for the outside world: a ``topic`` and a ``payload`` (plain data)."""

    topic: str
    payload: Any = None


class Outbox:
    """``ctx.outbox`` of an effect process: messages added here are committed with the
    process's update, in order, and vanish with a failed or retried attempt (each attempt gets
    a new buffer). They are delivered by ``engine.process_outbox()`` or a relay."""

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
        if self._msgs is None:
            self._msgs = []
        self._msgs.append(msg)

    def __len__(self) -> int:
        return len(self._msgs) if self._msgs else 0

    def __repr__(self) -> str:
        return f"<theus.Outbox pending={len(self)}>"


_seq = itertools.count(1)


def message_writes(msgs: list[OutboxMsg], stamp: int) -> dict[str, Any]:
    """State writes for committed messages: one key per message under ``outbox``, ordered by
    commit then position (``stamp`` is unique per engine and increasing)."""
    return {f"outbox.m{stamp:012d}_{i:06d}": {"topic": m.topic, "payload": m.payload} for i, m in enumerate(msgs)}


def next_stamp() -> int:
    """A process-wide increasing number for message keys."""
    return next(_seq)
