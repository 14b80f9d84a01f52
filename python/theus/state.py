"""The low-level versioned state: the object the engine is built on, usable on its own."""

from __future__ import annotations

from typing import Any, Iterator, Mapping, NamedTuple

from . import _core
from .errors import ArgumentError, PathError

__all__ = ["State", "Snapshot", "CommitRecord", "Change"]

_MISSING: Any = object()


class CommitRecord(NamedTuple):
    """One entry of :meth:`State.history`: a committed version, who wrote it (the process name,
    or ``None`` for direct writes), the paths it changed and when (Unix time)."""

    version: int
    process: str | None
    paths: tuple[str, ...]
    time: float


class Change(NamedTuple):
    """One entry of :meth:`State.diff`: ``kind`` is ``"added"``, ``"changed"`` or ``"removed"``;
    ``old``/``new`` are read-only values (``None`` where absent)."""

    kind: str
    path: str
    old: Any
    new: Any


def _zone(name: str) -> str:
    return "global" if name == "global_" else name


class Snapshot:
    """An immutable view of one version of a :class:`State`.

    Zones read as attributes (``snap.domain``, ``snap.global_``), paths with ``snap["domain.x"]``
    or :meth:`get`. Values come back read-only (``FrozenDict``, ``FrozenList``, ...). A snapshot
    keeps its version's values alive until it is released (:meth:`release`, ``with``, or when
    it is garbage collected).
    """

    __slots__ = ("_h", "_version", "_zones", "__weakref__")

    def __init__(self, handle: int, version: int) -> None:
        self._h = handle
        self._version = version
        self._zones: dict[str, Any] = {}

    @property
    def version(self) -> int:
        """The version this snapshot shows."""
        return self._version

    def _handle(self) -> int:
        if self._h is None:
            raise ArgumentError("this snapshot was released; take a new one with state.snapshot()")
        return self._h

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        zone = _zone(name)
        try:
            return self._zones[zone]
        except KeyError:
            pass
        try:
            value = _core.snapshot_get(self._handle(), zone)
        except PathError:
            raise AttributeError(f"no zone named {zone!r} in version {self._version}") from None
        self._zones[zone] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name in Snapshot.__slots__:
            object.__setattr__(self, name, value)
            return
        from .errors import ContextError

        raise ContextError(
            f"snapshot.{name} is read-only: change state by returning the new value from a "
            "process (or with compare_and_swap)"
        )

    def __getitem__(self, path: str) -> Any:
        return _core.snapshot_get(self._handle(), path)

    def get(self, path: str, default: Any = None) -> Any:
        """The read-only value at ``path``, or ``default`` when the path names nothing."""
        try:
            return _core.snapshot_get(self._handle(), path)
        except PathError as e:
            if e.code in ("not_found", "not_a_branch"):
                return default
            raise

    def __contains__(self, path: object) -> bool:
        return self.get(path, _MISSING) is not _MISSING  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """A deep, mutable, independent copy of the whole version as plain dicts and lists."""
        return _core.snapshot_get(self._handle(), None).to_dict()

    def release(self) -> None:
        """Unpin this version now (idempotent); values only it kept alive are freed."""
        h, self._h = self._h, None
        if h is not None and _core is not None:
            _core.snapshot_release(h)

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # interpreter shutdown: the module may be gone
            pass

    def __repr__(self) -> str:
        state = "released" if self._h is None else "live"
        return f"<theus.Snapshot version={self._version} {state}>"


class State:
    """A versioned, immutable state tree with optimistic compare-and-swap commits.

    ``State({"domain": {"x": 0}})`` starts at version 0. Every commit creates the next version;
    readers see whole versions only. Dicts with str keys become branches addressed by dotted
    paths (``"domain.user.name"``); any other value is a leaf, copied on commit when it is a
    plain container so the writer cannot change committed data afterwards.

    ``strict=True`` rejects a commit when *any* commit happened after its expected version
    (by default only changes to the paths it writes or declares as read conflict).
    ``history=N`` keeps the last N versions whole for :meth:`at` and :meth:`diff`.
    """

    __slots__ = ("_h", "__weakref__")

    def __init__(
        self,
        context: Mapping[str, Any] | None = None,
        *,
        strict: bool = False,
        history: int = 0,
        history_size: int = 1000,
    ) -> None:
        self._h = None
        if context is None:
            context = {}
        if not isinstance(context, dict):
            raise ArgumentError(
                "the initial context must be a dict of zones such as {'domain': {...}}, "
                f"got {type(context).__name__}"
            )
        for name in ("history", "history_size"):
            value = history if name == "history" else history_size
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ArgumentError(f"{name}: expected an int >= 0, got {value!r}")
        self._h = _core.state_new(context, bool(strict), history, history_size)

    def _handle(self) -> int:
        if self._h is None:
            raise ArgumentError("this State was closed")
        return self._h

    @property
    def version(self) -> int:
        """The newest committed version (0 for a new state)."""
        return _core.state_version(self._handle())

    def get(self, path: str, default: Any = _MISSING) -> Any:
        """The read-only value at ``path`` in the newest version.

        Raises :class:`PathError` when the path is malformed, or names nothing and no
        ``default`` is given.
        """
        try:
            return _core.state_get(self._handle(), path)
        except PathError as e:
            if default is not _MISSING and e.code in ("not_found", "not_a_branch"):
                return default
            raise

    def __getitem__(self, path: str) -> Any:
        return _core.state_get(self._handle(), path)

    def compare_and_swap(
        self,
        expected_version: int,
        updates: Mapping[str, Any],
        *,
        reads: tuple[str, ...] | list[str] | None = None,
        author: str | None = None,
    ) -> int:
        """Commit ``updates`` (``{"zone.path": value}``) if nothing they touch changed after
        ``expected_version``; returns the new version.

        Each path's subtree is replaced by the new value; siblings are untouched; missing
        intermediate branches are created. ``reads`` lists further paths whose change should
        also reject the commit. Raises :class:`TransactionError` (with ``expected_version``,
        ``actual_version`` and ``conflicts``) when rejected; nothing is written then.
        """
        if reads is not None:
            reads = tuple(reads)
        return _core.state_commit(self._handle(), expected_version, updates, reads, author, False)

    def update(self, updates: Mapping[str, Any], *, author: str | None = None) -> int:
        """Commit ``updates`` unconditionally (an administrative write); returns the new version."""
        from .errors import TransactionError

        while True:
            try:
                return _core.state_commit(
                    self._handle(), _core.state_version(self._h), updates, None, author, False
                )
            except TransactionError:
                continue  # a concurrent writer touched the same paths: apply on top of it

    def snapshot(self) -> Snapshot:
        """A :class:`Snapshot` of the newest version."""
        h, v = _core.state_snapshot(self._handle())
        return Snapshot(h, v)

    def at(self, version: int) -> Snapshot:
        """A :class:`Snapshot` of an older version: one still held by a live snapshot, or one of
        the last ``history`` versions. Raises :class:`TransactionError` otherwise."""
        h, v = _core.state_at(self._handle(), version)
        return Snapshot(h, v)

    def history(self) -> list[CommitRecord]:
        """The last commits (at most ``history_size``), oldest first."""
        return [CommitRecord(v, a or None, p, t) for v, a, p, t in _core.state_history(self._handle())]

    def diff(self, v1: int, v2: int) -> list[Change]:
        """The leaf paths added, changed or removed between two retained versions."""
        return [Change(*c) for c in _core.state_diff(self._handle(), v1, v2)]

    def stats(self) -> dict[str, int]:
        """Bookkeeping counters (live snapshots, values waiting for release, ...)."""
        return _core.state_stats(self._handle())

    def close(self) -> None:
        """Release every value this state holds (idempotent). The state is unusable afterwards."""
        h, self._h = self._h, None
        if h is not None and _core is not None:
            _core.state_close(h)

    def __enter__(self) -> "State":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the module may be gone
            pass

    def __repr__(self) -> str:
        if self._h is None:
            return "<theus.State closed>"
        return f"<theus.State version={self.version}>"

    def __iter__(self) -> Iterator[str]:
        raise TypeError("State is not iterable; take a snapshot() and read its zones")
