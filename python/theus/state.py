"""The low-level versioned state: the object the engine is built on, usable on its own."""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from typing import Any, Iterator, NamedTuple, NoReturn
else:
    from ._records import NamedTuple

from . import _core
from .errors import ArgumentError, ContextError, PathError, TransactionError

__all__ = ["State", "Snapshot", "CommitRecord", "Change", "commit", "LATEST"]

_MISSING: Any = object()


class CommitRecord(NamedTuple):
    """One entry of :meth:`State.history`: a committed version, who wrote it (the process name,
    or ``None`` for direct writes), the paths it changed and when (Unix time)."""

    version: int
    process: str | None
    paths: tuple[str, ...]
    time: float


class History(list):  # type: ignore[type-arg]
    """The list :meth:`State.history` returns: CommitRecords, shown as a table in Jupyter."""

    def _repr_html_(self) -> str:
        from .display import history_html

        return history_html(self)


class Diff(list):  # type: ignore[type-arg]
    """The list :meth:`State.diff` returns: Changes, shown as a table in Jupyter."""

    def _repr_html_(self) -> str:
        from .display import diff_html

        return diff_html(self)


class Change(NamedTuple):
    """One entry of :meth:`State.diff`: ``kind`` is ``"added"``, ``"changed"`` or ``"removed"``;
    ``old``/``new`` are read-only values (``None`` where absent)."""

    kind: str
    path: str
    old: Any
    new: Any


def _zone(name: str) -> str:
    return "global" if name == "global_" else name


def _refuse_copy(obj: object, fix: str) -> TypeError:
    """The TypeError for copying or pickling an object that owns a core handle."""
    name = type(obj).__name__
    return TypeError(
        f"theus.{name} cannot be copied or pickled: it owns a core handle of this process, which a "
        f"copy or another process cannot share; {fix}"
    )


class OwnsHandle:
    """Base of the objects that own a core handle (State, Snapshot, TheusEngine): ``copy``,
    ``deepcopy`` and ``pickle`` raise a TypeError that says what to use instead
    (``_copy_fix``), because a copy or another process cannot share the handle."""

    __slots__ = ()
    _copy_fix = ""

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise _refuse_copy(self, self._copy_fix)

    def __reduce__(self) -> Any:
        raise _refuse_copy(self, self._copy_fix)

    def __copy__(self) -> Any:
        raise _refuse_copy(self, self._copy_fix)

    def __deepcopy__(self, memo: Any) -> Any:
        raise _refuse_copy(self, self._copy_fix)


def _updates(updates: Any) -> Any:
    """A commit's updates as a dict: other mappings (a FrozenDict, a MappingProxyType) are
    copied; anything else goes to the core as it is, which names the problem."""
    if type(updates) is not dict and isinstance(updates, Mapping):
        return dict(updates)
    return updates


_ZONE_SLOTS = ("domain", "heavy", "outbox", "global_")


class Snapshot(OwnsHandle):
    """An immutable view of one version of a :class:`State`.

    Zones read as attributes (``snap.domain``, ``snap.global_``), paths with ``snap["domain.x"]``
    or :meth:`get`. Values come back read-only (``FrozenDict``, ``FrozenList``, ...). A snapshot
    keeps its version's values (and its state) alive until it is released (:meth:`release`,
    ``with``, or when it is garbage collected); after :meth:`release` every read raises
    :class:`ArgumentError`.

    A snapshot is not data: ``copy``, ``deepcopy`` and ``pickle`` raise ``TypeError``; share the
    snapshot itself (it is immutable) or take plain data with :meth:`to_dict`. Snapshots are
    taken with ``state.snapshot()``, ``state.at(version)`` or ``engine.state``; calling the
    class raises ``TypeError``.
    """

    # The default zones have slots, read through the core's zone slots (see _zone_error): once
    # read, `snap.domain` is a slot read, and the first read makes no AttributeError on its way
    # to loading the zone; other zones go through __getattr__ and are cached in _zones.
    __slots__ = ("_h", "_version", "_zones", "_owner", "__weakref__", *_ZONE_SLOTS)
    _copy_fix = "share the snapshot itself (it is immutable), or use snapshot.to_dict() for plain data"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The core builds snapshots (their _h, _version and _owner slots set in C, no __init__
        # run): state.snapshot(), state.at(v) and engine.state. _zones stays unset until a zone
        # other than the slotted ones is read (it reads as None through __getattr__).
        raise TypeError("a Snapshot is taken, not made: use state.snapshot(), state.at(version) or engine.state")

    def _closed(self) -> ArgumentError:
        """The error of a released snapshot, or of one whose state was closed (worded by the
        core, which knows which)."""
        try:
            _core.snapshot_get(self._h, None)
        except ArgumentError as e:
            return e
        return ArgumentError("the snapshot was released; take a new one with state.snapshot() or engine.state")

    @property
    def version(self) -> int:
        """The version this snapshot shows."""
        if self._h.closed:
            raise self._closed()
        return self._version

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "_zones":  # not set yet: no other zone was read
            return None
        zone = _zone(name)
        if name in _ZONE_SLOTS:  # the zone slot found no such zone (its AttributeError brings us here)
            raise _no_zone(zone, self._version)
        if self._h.closed:
            raise self._closed()
        zones = self._zones
        if zones is not None and zone in zones:
            return zones[zone]
        try:
            value = _core.snapshot_get(self._h, zone)
        except PathError:
            raise _no_zone(zone, self._version) from None
        if zones is None:
            _set_zones(self, zones := {})
        zones[zone] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise ContextError(
            f"snapshot.{name} is read-only: change state by returning the new value from a "
            "process (or with compare_and_swap)"
        )

    def __delattr__(self, name: str) -> None:
        raise ContextError(f"snapshot.{name} is read-only: a snapshot cannot be changed")

    def __getitem__(self, path: str) -> Any:
        if path is None:
            raise PathError("snapshot[None]: a path is a dotted str such as 'domain.counter'", None, "malformed")
        return _core.snapshot_get(self._h, path)

    def get(self, path: str, default: Any = None) -> Any:
        """The read-only value at ``path``, or ``default`` when the path names nothing."""
        if path is None:
            raise PathError("snapshot.get(None): a path is a dotted str such as 'domain.counter'", None, "malformed")
        try:
            return _core.snapshot_get(self._h, path)
        except PathError as e:
            if e.code in ("not_found", "not_a_branch"):
                return default
            raise

    def __contains__(self, path: object) -> bool:
        return self.get(path, _MISSING) is not _MISSING  # type: ignore[arg-type]

    def zones(self) -> list[str]:
        """The names of the top-level zones in this version."""
        return list(_core.snapshot_get(self._h, None).keys())

    def to_dict(self) -> dict[str, Any]:
        """A deep, mutable, independent copy of the whole version as plain dicts and lists."""
        return _core.snapshot_get(self._h, None).to_dict()

    def release(self) -> None:
        """Unpin this version now (idempotent); values only it kept alive are freed, zone views
        it cached included. Reads raise :class:`ArgumentError` afterwards."""
        self._h.close()
        self._drop_zones()

    def _drop_zones(self) -> None:
        """Forget the cached zone views (a released snapshot, or its state closed)."""
        for name in _ZONE_SLOTS:
            try:
                object.__delattr__(self, name)
            except AttributeError:  # never read
                pass
        _set_zones(self, None)

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._h.closed else "live"
        return f"<theus.Snapshot version={self._version} {state}>"

    def _repr_html_(self) -> str:
        from .display import html

        return html(self)


def _no_zone(zone: str, version: int) -> AttributeError:
    return AttributeError(f"no zone named {zone!r} in version {version}")


def _zone_error(snap: Snapshot, name: str, error: BaseException) -> NoReturn:
    """Raises for ``snap.domain`` (or another slotted zone) whose read failed: the core's zone
    slot (see _snapshot_type) reads the zone, keeps it in the slot and registers the snapshot
    with its state's _Cached, and calls this with the read's exception."""
    if isinstance(error, PathError):
        raise _no_zone(_zone(name), snap._version) from None
    raise error


class _Cached(dict):  # type: ignore[type-arg]
    """A State's registry of the snapshots that cache zone views, filled by the core's zone
    slots (see _snapshot_type): id -> weak reference without a callback, so registering runs
    no Python and a snapshot that goes costs nothing (a WeakSet runs two Python functions). A
    snapshot made where a dead one was replaces its entry; the others are pruned once the
    registry reaches ``limit``, twice its size after the last pruning plus 64."""

    __slots__ = ("limit",)

    def __init__(self) -> None:
        super().__init__()
        self.limit = 64

    def prune(self) -> None:
        for key, r in list(self.items()):  # a copy: another thread may register meanwhile
            if r() is None and self.get(key) is r:
                del self[key]
        self.limit = 2 * len(self) + 64

    def snapshots(self) -> list[Snapshot]:
        """The live snapshots registered."""
        return [snap for r in list(self.values()) if (snap := r()) is not None]


_core._snapshot_type(Snapshot, {name: _zone(name) for name in _ZONE_SLOTS}, _zone_error)
_set_zones = Snapshot._zones.__set__  # type: ignore[attr-defined]


class State(OwnsHandle):
    """A versioned, immutable state tree with optimistic compare-and-swap commits.

    ``State({"domain": {"x": 0}})`` starts at version 0. Every commit creates the next version;
    readers see whole versions only. Dicts with str keys become branches addressed by dotted
    paths (``"domain.user.name"``); any other value is a leaf, copied on commit when it is a
    plain container so the writer cannot change committed data afterwards.

    ``strict=True`` rejects a commit when *any* commit happened after its expected version
    (by default only changes to the paths it writes or declares as read conflict).
    ``history=N`` keeps the last N versions whole for :meth:`at` and :meth:`diff`.

    A State is not data: ``copy``, ``deepcopy`` and ``pickle`` raise ``TypeError``; build a new
    one from ``state.snapshot().to_dict()``. After :meth:`close` every method raises
    :class:`ArgumentError`.
    """

    __slots__ = ("_h", "_caching", "__weakref__")
    _copy_fix = "build a new State from state.snapshot().to_dict() instead"

    def __init__(
        self,
        context: Mapping[str, Any] | None = None,
        *,
        strict: bool = False,
        history: int = 0,
        history_size: int = 1000,
    ) -> None:
        if context is None:
            context = {}
        if not isinstance(context, dict):
            raise ArgumentError(
                "State: the initial context must be a dict of zones such as {'domain': {...}}, "
                f"got {type(context).__name__}"
            )
        if not isinstance(strict, bool):
            raise ArgumentError(f"State: strict: expected True or False, got {strict!r}")
        for name, value in (("history", history), ("history_size", history_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ArgumentError(f"State: {name}: expected an int >= 0, got {value!r}")
        self._h = _core.state_new(context, strict, history, history_size)
        # the live snapshots that cached a zone view (close() makes them forget it)
        self._caching = _Cached()

    @property
    def version(self) -> int:
        """The newest committed version (0 for a new state)."""
        return _core.state_version(self._h)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` released the state."""
        return self._h.closed

    def get(self, path: str, default: Any = _MISSING) -> Any:
        """The read-only value at ``path`` in the newest version.

        Raises :class:`PathError` when the path is malformed, or names nothing and no
        ``default`` is given.
        """
        try:
            return _core.state_get(self._h, path)
        except PathError as e:
            if default is not _MISSING and e.code in ("not_found", "not_a_branch"):
                return default
            raise

    def __getitem__(self, path: str) -> Any:
        return _core.state_get(self._h, path)

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
            if isinstance(reads, str) or not isinstance(reads, (tuple, list)):
                raise ArgumentError(f"compare_and_swap: reads: expected a list of paths, got {type(reads).__name__}")
            reads = tuple(reads)
        if type(updates) is dict and expected_version is not LATEST:  # commit()'s hot case, one call less
            return state_commit(self._h, expected_version, updates, reads, author, False)
        return commit(self._h, expected_version, updates, reads, author)

    def update(self, updates: Mapping[str, Any], *, author: str | None = None) -> int:
        """Commit ``updates`` unconditionally (an administrative write); returns the new version."""
        return commit(self._h, LATEST, updates, None, author)

    def snapshot(self) -> Snapshot:
        """A :class:`Snapshot` of the newest version."""
        return _core.state_snapshot(self._h, self._caching)

    def at(self, version: int) -> Snapshot:
        """A :class:`Snapshot` of an older version: one still held by a live snapshot, or one of
        the last ``history`` versions (see ``history=``). Raises :class:`TransactionError`
        otherwise."""
        return _core.state_at(self._h, version, self._caching)  # a version not kept: the error names history=

    def history(self) -> list[CommitRecord]:
        """The last commits (at most ``history_size``), oldest first."""
        return History(CommitRecord(v, a or None, p, t) for v, a, p, t in _core.state_history(self._h))

    def diff(self, v1: int, v2: int) -> list[Change]:
        """The paths added, changed or removed between two retained versions: leaves, and
        empty branches as a unit; a leaf replaced by a branch (or the reverse) is one change."""
        return Diff(Change(*c) for c in _core.state_diff(self._h, v1, v2))

    def stats(self) -> dict[str, int]:
        """Bookkeeping counters (live snapshots, values waiting for release, ...)."""
        return _core.state_stats(self._h)

    def close(self) -> None:
        """Release every value this state holds (idempotent). Every method raises
        :class:`ArgumentError` afterwards; snapshots taken before read as closed too."""
        self._h.close()
        for snap in self._caching.snapshots():
            snap._drop_zones()

    def __enter__(self) -> "State":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._h.closed:
            return "<theus.State closed>"
        return f"<theus.State version={self.version}>"

    def __iter__(self) -> Iterator[str]:
        raise TypeError("State is not iterable; take a snapshot() and read its zones")


# How many times an unconditional write is re-applied on top of concurrent writers before it
# reports the contention (each round loses only to a commit that succeeded).
_UPDATE_ROUNDS = 10_000


LATEST: Any = object()
"""``expected`` for :func:`commit`: write unconditionally, on top of the newest version."""


def commit(handle: Any, expected: Any, updates: Any, reads: Any, author: str | None, appends: Any = None) -> int:
    """The one commit path of theus: every write (a process's return, compare_and_swap,
    update, an outbox delivery) goes through here to the core's compare-and-swap. ``expected``
    is the version the writer started from, or :data:`LATEST` to commit unconditionally, on top
    of whatever concurrent writers committed meanwhile; ``reads`` is a tuple of paths, a
    process's plan or None; ``author`` None names the plan's process (or nobody). ``appends``
    is None or ``(branch path, tuple of values)``: values added under keys the commit names
    inside its compare-and-swap (the outbox queue), never conflict-checked."""
    if type(updates) is dict and expected is not LATEST:  # the hot case first
        if appends is None:
            return state_commit(handle, expected, updates, reads, author, False)
        return state_commit(handle, expected, updates, reads, author, False, appends)
    updates = _updates(updates)
    if expected is not LATEST:
        return state_commit(handle, expected, updates, reads, author, False, appends)
    for _ in range(_UPDATE_ROUNDS):
        try:
            return state_commit(handle, _core.state_version(handle), updates, reads, author, False, appends)
        except TransactionError:
            continue  # a concurrent writer touched the same paths: apply on top of it
    raise TransactionError(f"update: still conflicting after {_UPDATE_ROUNDS} attempts (heavy contention)")


state_commit = _core.state_commit
