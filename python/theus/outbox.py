"""The outbox: side effects as data, committed with the state and delivered after the commit.

Layout of the ``outbox`` zone, which belongs to the engine (processes only append to it):

- ``outbox.queue.<key>``: a :class:`Queued` record per committed message, with its delivery
  state (claimed by a drain, failed attempts, not before when a retry may start). The commit
  names ``<key>`` itself, inside its compare-and-swap: the engine's append sequence number
  (zero-padded to 20 digits) and the committing version, ``"00000000000000000007_3"``. So key
  order is commit order, appends never conflict with each other, and the message id is the
  sequence number.
- ``outbox.dead.<key>``: a :class:`Dead` record for a message whose handler failed
  ``max_attempts`` times.

Delivery claims each message with a compare-and-swap commit that replaces its record by a
claimed one and declares exactly that path, as seen in the drain's snapshot: of two drains that
saw the message unclaimed, exactly one claim commits; the other is rejected (the record changed
after its snapshot) and skips it. The handler runs only after the claim committed, and the
message leaves the queue only after the handler returned.
"""

from __future__ import annotations

import collections
import copy
import itertools
import math
import threading
import time

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from typing import Any, Callable, NamedTuple
else:
    from ._records import NamedTuple

from ._core import FrozenDict, FrozenList
from ._log import get_logger
from .errors import ArgumentError, ContractViolationError, TransactionError
from .markers import DELETE
from .state import LATEST, State, commit

__all__ = [
    "OutboxMsg", "Outbox", "OutboxQueue", "DeadLetter", "HandlerFailure", "Queued", "Dead",
    "PURE_EXTRAS", "EFFECT_EXTRAS", "SEALED", "SEALED_OUTBOX", "ZONE", "QUEUE", "returned_messages", "appends",
]

ZONE = "outbox"
QUEUE = "outbox.queue"
DEAD = "outbox.dead"

log = get_logger("theus.outbox")  # a library logs; the application decides where to

_UNSET: Any = object()


class OutboxMsg:
    """A message for the outside world: a ``topic`` (a non-empty str), a ``payload`` (state data:
    what a process could return, copied when it commits) and an optional ``key`` (a str the
    handler may use, e.g. to partition or deduplicate).

    Immutable and picklable. ``id`` and ``version`` are ``None`` on a message you build; on a
    message a handler receives, ``id`` is unique within the engine and increases in commit order,
    and ``version`` is the state version that committed it. Delivery is exactly once while the
    process lives; across a crash it is at least once, so handlers deduplicate by ``id``.
    """

    __slots__ = ("topic", "payload", "key", "id", "version")

    topic: str
    payload: Any
    key: str | None
    id: int | None
    version: int | None

    def __init__(self, topic: str, payload: Any = None, *, key: str | None = None) -> None:
        if not isinstance(topic, str) or not topic:
            got = repr(topic) if isinstance(topic, str) else type(topic).__name__
            raise ArgumentError(f"OutboxMsg: topic: expected a non-empty str such as 'order.confirmed', got {got}")
        if key is not None and not isinstance(key, str):
            raise ArgumentError(f"OutboxMsg: key: expected a str or None, got {type(key).__name__}")
        _init(self, topic, payload, key, None, None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"OutboxMsg is immutable: {name!r} cannot be set; build a new OutboxMsg")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"OutboxMsg is immutable: {name!r} cannot be deleted")

    def __reduce__(self) -> Any:
        return (_restore, (self.topic, self.payload, self.key, self.id, self.version))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not OutboxMsg:
            return NotImplemented
        o: OutboxMsg = other  # type: ignore[assignment]
        return (self.topic == o.topic and self.key == o.key and self.id == o.id and self.version == o.version
                and self.payload == o.payload)

    def __hash__(self) -> int:
        return hash((self.topic, self.key, self.id, self.version))  # the payload may be unhashable

    def __repr__(self) -> str:
        extra = "" if self.key is None else f", key={self.key!r}"
        if self.id is not None:
            extra += f", id={self.id}, version={self.version}"
        return f"OutboxMsg({self.topic!r}, {self.payload!r}{extra})"


_init_slots = [getattr(OutboxMsg, n).__set__ for n in OutboxMsg.__slots__]


def _init(msg: OutboxMsg, *values: Any) -> None:
    for setter, value in zip(_init_slots, values):
        setter(msg, value)


def _restore(topic: str, payload: Any, key: str | None, id: int | None, version: int | None) -> OutboxMsg:
    """Unpickle an OutboxMsg (its id and version included)."""
    msg = OutboxMsg.__new__(OutboxMsg)
    _init(msg, topic, payload, key, id, version)
    return msg


# --- state records (what snapshots, history and diffs show under the outbox zone) -------------

class Queued(NamedTuple):
    """``outbox.queue.<key>``: a committed message waiting for delivery. ``claimed_by`` names
    the drain delivering it now (None otherwise); ``attempts`` counts its failed handler calls;
    ``not_before`` (Unix time) is when a retry may start; ``error`` the last failure's text."""

    topic: str
    payload: Any
    key: str | None
    claimed_by: str | None = None
    attempts: int = 0
    not_before: float = 0.0
    error: str | None = None


class Dead(NamedTuple):
    """``outbox.dead.<key>``: a message whose handler failed ``attempts`` times, with the text of
    the last error."""

    topic: str
    payload: Any
    key: str | None
    attempts: int
    error: str


class DeadLetter(NamedTuple):
    """An entry of ``engine.outbox.dead``: the message, how many attempts failed, the last error."""

    msg: OutboxMsg
    attempts: int
    error: str


class HandlerFailure(NamedTuple):
    """An entry of ``engine.outbox.errors``: a handler call that raised (``msg`` is None for an
    error of the delivery itself)."""

    time: float
    msg: OutboxMsg | None
    attempt: int
    error: BaseException


# --- the per-attempt buffer of a process ---------------------------------------------------------

class Outbox:
    """``ctx.outbox`` of an effect process: messages added here are committed with the
    process's update, in order, and vanish with a failed or retried attempt (each attempt gets
    a new buffer). They are delivered by ``engine.process_outbox()`` or a relay. Once the
    attempt is over (returned, raised or retried) the buffer is sealed: a late ``add`` raises
    instead of being lost.

    ``add`` does not check the payload: it must be state data like anything a process returns,
    and the commit copies it then, refusing what cannot be stored (an ArgumentError naming the
    value and its type) so that nothing commits."""

    _msgs: list[OutboxMsg] | None = None  # set on the first add: creating a buffer stays cheap

    def __init__(self) -> None:
        # add and seal take it: an add from another thread (a kept ctx) either lands in the
        # buffer before the engine takes it, or raises; it is never appended after the take
        self._lock = threading.Lock()

    def add(self, msg: OutboxMsg | str, payload: Any = None, *, key: str | None = None) -> None:
        """Queue ``msg`` (an :class:`OutboxMsg`), or ``add(topic, payload, key=None)``."""
        if isinstance(msg, str):
            msg = OutboxMsg(msg, payload, key=key)
        elif not isinstance(msg, OutboxMsg):
            raise ContractViolationError(
                f"outbox.add: expected an OutboxMsg or a topic str, got {type(msg).__name__}"
            )
        elif payload is not None or key is not None:
            raise ContractViolationError("outbox.add: give the payload and key inside the OutboxMsg, not beside it")
        with self._lock:
            msgs = self._msgs
            if msgs is None:
                self._msgs = msgs = []
            elif msgs is SEALED:
                raise ContractViolationError(
                    "outbox.add: the process attempt this outbox belongs to is over; add messages "
                    "while the process runs (they commit with its return value)"
                )
            msgs.append(msg)

    def _seal(self) -> list[OutboxMsg] | None:
        """End the buffer (the engine calls it when the attempt is over): the messages added
        so far, after which add raises."""
        with self._lock:
            msgs, self._msgs = self._msgs, SEALED
        return msgs

    def __len__(self) -> int:
        msgs = self._msgs
        return len(msgs) if msgs else 0

    def __repr__(self) -> str:
        return f"<theus.Outbox pending={len(self)}>"


SEALED: list[OutboxMsg] = []
"""The buffer of an outbox whose attempt is over (the engine sets it): add refuses it."""


_PURE_HINT = 'declare it with @process(..., semantic="effect") to send outbox messages'


class _PureOutbox:
    """``ctx.outbox`` of a ``semantic="pure"`` process: any add is a contract violation."""

    __slots__ = ()

    def add(self, msg: Any = None, payload: Any = None, **kw: Any) -> None:
        raise ContractViolationError(
            f'outbox.add: this process is declared semantic="pure", which forbids side effects; {_PURE_HINT}'
        )

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<theus.Outbox of a pure process: adds are refused>"


PURE_EXTRAS: dict[str, Any] = {"outbox": _PureOutbox()}
"""The context extras of a pure process (one shared, immutable buffer)."""

EFFECT_EXTRAS: dict[str, Any] = {"outbox": Outbox}
"""The context extras of an effect process: the context makes the attempt's own Outbox on the
first read of ``ctx.outbox`` (an attempt that never reads it builds none); the engine ends it
with ``ctx.__seal__("outbox", SEALED_OUTBOX)`` (``_core._context_seal``)."""

SEALED_OUTBOX = Outbox()
"""``ctx.outbox`` of an effect attempt that is over and never read it: add refuses, as it does
on a sealed buffer."""
SEALED_OUTBOX._msgs = SEALED


def check_contract(name: str, inputs: tuple[str, ...], outputs: tuple[str, ...], semantic: str) -> None:
    """The outbox rule of a process contract: the zone belongs to the engine, so the only
    declaration under it is the output ``"outbox"`` (its value, a list of OutboxMsg, is
    appended), and only an effect process may declare it."""
    for kind, paths in (("input", inputs), ("output", outputs)):
        for p in paths:
            if p == ZONE and kind == "output":
                if semantic != "effect":
                    raise ContractViolationError(
                        f"{name}: outputs=['outbox'] sends messages, a side effect, but the process is "
                        f'declared semantic="pure"; {_PURE_HINT}'
                    )
                continue
            if p == ZONE or p.startswith("outbox."):
                raise ContractViolationError(
                    f"{name}: {kind} {p!r} is inside the outbox zone, which belongs to the engine; a process "
                    "sends messages with ctx.outbox.add(...) or by returning a list of OutboxMsg for "
                    "outputs=['outbox'], and reads the queue through engine.outbox or engine.state"
                )


def returned_messages(name: str, updates: dict[str, Any], msgs: list[OutboxMsg] | None) -> list[OutboxMsg] | None:
    """Take the value of the ``outbox`` output out of a process's mapped ``updates`` (in place)
    and return it after ``msgs`` (the ctx.outbox adds). The value must be a list or tuple of
    OutboxMsg (or None); anything else, or any other path under the zone, is a
    ContractViolationError, and nothing commits."""
    for path in updates:
        if path != ZONE and path.startswith("outbox."):
            raise ContractViolationError(
                f"{name}: wrote {path!r}, inside the outbox zone, which belongs to the engine; return a "
                "list of OutboxMsg for the output 'outbox' (they are appended)"
            )
    value = updates.pop(ZONE, None)
    if value is None:
        return msgs
    if value.__class__ not in (list, tuple) or not all(m.__class__ is OutboxMsg for m in value):
        bad = value if value.__class__ not in (list, tuple) else next(m for m in value if m.__class__ is not OutboxMsg)
        raise ContractViolationError(
            f"{name}: returned {_describe_value(bad)} for the output 'outbox', which takes a list of "
            "OutboxMsg to send (or None); queued messages cannot be replaced or dropped"
        )
    if not value:
        return msgs
    return [*msgs, *value] if msgs else list(value)


def _describe_value(v: Any) -> str:
    if isinstance(v, (dict, list, tuple, set)) and not v:
        return f"an empty {type(v).__name__}"
    return f"a {type(v).__name__}"


def appends(msgs: list[OutboxMsg]) -> tuple[str, tuple[Queued, ...]]:
    """The ``appends`` argument of a commit sending ``msgs``: their records, under the queue."""
    return (QUEUE, tuple([Queued(m.topic, m.payload, m.key) for m in msgs]))


# --- the committed queue and its delivery ---------------------------------------------------------

MAX_ATTEMPTS = 5
BACKOFF = 0.1
_MAX_DELAY = 300.0  # the longest wait between two attempts, seconds
_ERRORS_KEPT = 100
_CLAIM_ROUNDS = 100  # fresh looks at one message whose claim kept losing to other commits
_drains = itertools.count(1)

if TYPE_CHECKING:
    Route = Callable[[str], "Callable[[OutboxMsg], Any] | None"]


def seconds_arg(value: Any, what: str, *, positive: bool = False, allow_none: bool = False) -> Any:
    """Check a number of seconds (bools and non-finite values are refused, naming the option)."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        need = "a positive number of seconds" if positive else "a number of seconds >= 0"
        raise ArgumentError(f"{what}: expected {need}{' or None' if allow_none else ''}, got {value!r}")
    return value


def int_arg(value: Any, what: str, *, minimum: int, allow_none: bool = False) -> Any:
    """Check an int option (bools are refused, naming the option)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ArgumentError(f"{what}: expected an int >= {minimum}{' or None' if allow_none else ''}, got {value!r}")
    return value


def _handler(handler: Any, what: str) -> Callable[[OutboxMsg], Any]:
    if not callable(handler):
        raise ArgumentError(f"{what}: handler must be callable (it receives each OutboxMsg), got {type(handler).__name__}")
    return handler


def _error_text(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__qualname__}: {text}" if text else type(e).__qualname__


def _thaw(value: Any) -> Any:
    """Plain, mutable data from a committed payload (views become dicts, lists, ...); a value
    that cannot be copied (an object holding a lock, say) is handed over read-only as it is."""
    cls = value.__class__
    if value is None or cls in (int, float, str, bool, bytes):
        return value
    if cls is FrozenDict:
        return value.to_dict()
    if cls is FrozenList:
        return value.to_list()
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


class OutboxQueue:
    """``engine.outbox``: the committed messages of an engine and their delivery.

    ``pending`` counts the queued messages (claimed ones included), ``dead`` lists the dead
    letters, ``requeue(id)`` puts a dead letter back, ``errors`` holds the last 100 handler
    failures (``failures`` counts them all). Deliver with ``engine.process_outbox()`` or a
    relay (``engine.start_relay()``)."""

    def __init__(self, state: State) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._errors: collections.deque[HandlerFailure] = collections.deque(maxlen=_ERRORS_KEPT)
        self._failures = 0
        self._topics: dict[str, Callable[[OutboxMsg], Any]] = {}  # replaced whole, never mutated
        self._fallback: Callable[[OutboxMsg], Any] | None = None

    # --- what is queued -----------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """How many committed messages wait for delivery (those being delivered included)."""
        with self._state.snapshot() as snap:
            queue = snap.get(QUEUE)
            return 0 if queue is None else len(queue)

    @property
    def dead(self) -> list[DeadLetter]:
        """The dead letters, oldest first: messages whose handler failed ``max_attempts`` times."""
        with self._state.snapshot() as snap:
            dead = snap.get(DEAD)
            if not dead:
                return []
            return [DeadLetter(_committed(d.topic, d.payload, d.key, k), d.attempts, d.error)
                    for k, d in sorted(dead.items())]

    def requeue(self, id: int) -> None:
        """Put the dead letter ``id`` back into the queue, with its attempts reset; it keeps its
        id and its place in commit order. Raises ArgumentError when there is no such dead letter."""
        if not isinstance(id, int) or isinstance(id, bool):
            raise ArgumentError(f"requeue: id: expected the int id of a dead letter, got {type(id).__name__}")
        for _ in range(_CLAIM_ROUNDS):
            with self._state.snapshot() as snap:
                dead = snap.get(DEAD)
                key = next((k for k in (dead or ()) if _seq(k) == id), None)
                if key is None:
                    raise ArgumentError(f"requeue: no dead letter with id {id}; engine.outbox.dead lists them")
                d = dead[key]
                dead_path = f"{DEAD}.{key}"
                try:
                    commit(self._state._h, snap.version,
                           {dead_path: DELETE, f"{QUEUE}.{key}": Queued(d.topic, d.payload, d.key)},
                           (dead_path,), "outbox: requeue")
                    return
                except TransactionError:
                    continue  # another commit meanwhile: look again
        raise TransactionError(f"requeue: dead letter {id} kept changing under {_CLAIM_ROUNDS} attempts")

    @property
    def errors(self) -> tuple[HandlerFailure, ...]:
        """The last 100 handler failures, oldest first (a bounded record)."""
        with self._lock:
            return tuple(self._errors)

    @property
    def failures(self) -> int:
        """How many handler calls failed since the engine started."""
        return self._failures

    def __len__(self) -> int:
        return self.pending

    def __repr__(self) -> str:
        if self._state.closed:
            return "<theus.OutboxQueue closed>"
        return f"<theus.OutboxQueue pending={self.pending} dead={len(self.dead)} failures={self._failures}>"

    # --- workers ------------------------------------------------------------------------------

    def attach(self, handler: Any, topics: Any) -> Callable[[OutboxMsg], Any]:
        """Register handler for topics (None: every topic no other worker takes)."""
        _handler(handler, "attach_worker")
        if topics is None:
            with self._lock:
                if self._fallback is not None:
                    raise ArgumentError(
                        "attach_worker: a worker for every other topic (topics=None) is already attached; "
                        "detach_worker() it first, or give topics="
                    )
                self._fallback = handler
            return handler
        if isinstance(topics, str):
            topics = [topics]
        try:
            names = list(topics)
        except TypeError:
            raise ArgumentError(f"attach_worker: topics: expected a list of str or None, got {type(topics).__name__}") from None
        if not names or not all(isinstance(t, str) and t for t in names):
            raise ArgumentError(f"attach_worker: topics: expected a non-empty list of non-empty str or None, got {topics!r}")
        with self._lock:
            taken = sorted({t for t in names if t in self._topics})
            if taken:
                raise ArgumentError(f"attach_worker: topics {taken} already have a worker; detach_worker() it first")
            self._topics = {**self._topics, **dict.fromkeys(names, handler)}
        return handler

    def detach(self, handler: Any) -> None:
        """Remove every registration of handler."""
        with self._lock:
            # == rather than is: obj.method makes a new bound method each time, equal to the last
            topics = {t: h for t, h in self._topics.items() if h != handler}
            fallback = self._fallback is not None and self._fallback == handler
            if len(topics) == len(self._topics) and not fallback:
                raise ArgumentError(f"detach_worker: {handler!r} is not attached")
            self._topics = topics
            if fallback:
                self._fallback = None

    def route(self, handler: Any, what: str) -> Route:
        """The routing of a drain: everything to handler, or by topic to the attached workers."""
        if handler is not None:
            _handler(handler, what)
            return lambda topic: handler
        if not self._topics and self._fallback is None:
            raise ArgumentError(
                f"{what}: no handler: pass a callable handler ({what}(handler)) or attach workers "
                "first with engine.attach_worker(handler, topics=...)"
            )
        return self._worker

    def _worker(self, topic: str) -> Callable[[OutboxMsg], Any] | None:
        h = self._topics.get(topic)
        return self._fallback if h is None else h

    # --- delivery -----------------------------------------------------------------------------

    def drain(self, route: Route, limit: int | None, max_attempts: int, backoff: float,
              *, quit: threading.Event | None = None, until: int | None = None, relay: bool = False) -> int:
        """Deliver the messages committed so far, in commit order, each after claiming it;
        returns how many handlers returned. Messages claimed by another drain, waiting for a
        retry, or without a handler are skipped. A handler exception releases the claim with
        one more attempt (dead letter after ``max_attempts``); an exception that is not an
        ``Exception`` (KeyboardInterrupt, SystemExit) is recorded the same way and then
        re-raised, except in the relay (``relay=True``), which keeps going. ``quit`` stops the
        drain after the message in hand; ``until`` skips messages committed after that version."""
        state = self._state
        me = f"{threading.current_thread().name}/drain-{next(_drains)}"
        with state.snapshot() as snap:
            queue = snap.get(QUEUE)
            if not queue:
                return 0
            base = snap.version
            keys = sorted(queue)
            if until is not None:
                keys = [k for k in keys if int(k[21:]) <= until]
            todo = [(k, queue[k]) for k in keys]
        delivered = 0
        h = state._h
        for key, rec in todo:
            if (limit is not None and delivered >= limit) or (quit is not None and quit.is_set()):
                break
            handler = route(rec.topic)
            if handler is None or rec.claimed_by is not None or rec.not_before > time.time():
                continue
            claimed = self._claim(key, rec, base, me)
            if claimed is None:
                continue
            rec, at = claimed
            msg = None
            try:  # from here on the claim is released or settled, whatever happens
                msg = _committed(rec.topic, _thaw(rec.payload), rec.key, key)
                handler(msg)
            except BaseException as e:
                if msg is None:
                    msg = _committed(rec.topic, rec.payload, rec.key, key)
                self._failed(key, rec, at, msg, e, max_attempts, backoff)
                if not relay and not isinstance(e, Exception):
                    raise
                continue
            self._settle({f"{QUEUE}.{key}": DELETE}, at, "outbox: delivered")
            delivered += 1
        return delivered

    def _claim(self, key: str, rec: Queued, base: int, me: str) -> tuple[Queued, int] | None:
        """Claim message key: a compare-and-swap commit replacing its record, seen unclaimed at
        version base, by one claimed by me, declaring exactly that path. Returns the claimed
        record and the claim's version, or None when another drain has it, it was delivered,
        or it waits for a retry."""
        h = self._state._h
        path = f"{QUEUE}.{key}"
        for _ in range(_CLAIM_ROUNDS):
            claim = rec._replace(claimed_by=me)
            try:
                return claim, commit(h, base, {path: claim}, None, "outbox: claim")
            except TransactionError:
                pass
            # the record changed since base (or the engine is strict): look again
            with self._state.snapshot() as snap:
                rec = snap.get(path)
                if rec is None or rec.claimed_by is not None or rec.not_before > time.time():
                    return None
                base = snap.version
        return None

    def _settle(self, writes: dict[str, Any], at: int, author: str) -> None:
        """Commit a claimer's writes on top of its claim (version at): only the claimer writes
        a claimed record, so this conflicts only in a strict engine (then: on top of the head)."""
        try:
            commit(self._state._h, at, writes, None, author)
        except TransactionError:
            commit(self._state._h, LATEST, writes, None, author)

    def _failed(self, key: str, rec: Queued, at: int, msg: OutboxMsg, e: BaseException,
                max_attempts: int, backoff: float) -> None:
        """Release a claim after the handler raised: retry later, or move to the dead letters."""
        attempts = rec.attempts + 1
        text = _error_text(e)
        self.record(HandlerFailure(time.time(), msg, attempts, e))
        path = f"{QUEUE}.{key}"
        if attempts >= max_attempts:
            log.error("outbox: message %s (%r) failed %d times, moved to %s.%s: %s",
                      msg.id, msg.topic, attempts, DEAD, key, text, exc_info=e)
            self._settle({path: DELETE, f"{DEAD}.{key}": Dead(rec.topic, rec.payload, rec.key, attempts, text)},
                         at, "outbox: dead letter")
            return
        delay = min(_MAX_DELAY, backoff * 2 ** (attempts - 1))
        log.warning("outbox: message %s (%r) failed (attempt %d of %d), retried in %.3g s: %s",
                    msg.id, msg.topic, attempts, max_attempts, delay, text, exc_info=e)
        self._settle({path: rec._replace(claimed_by=None, attempts=attempts, not_before=time.time() + delay,
                                         error=text)}, at, "outbox: retry")

    def record(self, failure: HandlerFailure) -> None:
        """Add a failure to the bounded record."""
        with self._lock:
            self._errors.append(failure)
            self._failures += 1


def _seq(key: str) -> int | None:
    """The sequence number (message id) of a queue key, None for another key."""
    if len(key) > 21 and key[20] == "_" and key[:20].isdigit():
        return int(key[:20])
    return None


def _committed(topic: str, payload: Any, key: str | None, store_key: str) -> OutboxMsg:
    """The OutboxMsg of a committed record, its id and version read from its queue key."""
    msg = OutboxMsg.__new__(OutboxMsg)
    _init(msg, topic, payload, key, int(store_key[:20]), int(store_key[21:]))
    return msg


class Relay:
    """A background thread delivering the outbox every ``interval`` seconds (see
    :meth:`TheusEngine.start_relay`)."""

    def __init__(self, queue: OutboxQueue, route: Route, interval: float, max_attempts: int, backoff: float) -> None:
        self._queue = queue
        self._route = route
        self._interval = interval
        self._max_attempts = max_attempts
        self._backoff = backoff
        self.until = 0  # the last version the final round delivers (set before stop)
        self.stop = threading.Event()  # end the round, deliver what committed up to until, end
        self.quit = threading.Event()  # end after the message in hand
        self.thread = threading.Thread(target=self._run, name="theus-relay", daemon=True)

    def request_stop(self) -> None:
        """Stop after a last round over the messages committed until now."""
        self.until = self._queue._state.version
        self.stop.set()

    def _run(self) -> None:
        while not self.stop.is_set():
            if not self._round(self.stop, None):
                return
            self.stop.wait(self._interval)
        if not self.quit.is_set():
            self._round(self.quit, self.until)

    def _round(self, quit: threading.Event, until: int | None) -> bool:
        """One drain; False once the engine is closed."""
        queue = self._queue
        try:
            queue.drain(self._route, None, self._max_attempts, self._backoff, quit=quit, until=until, relay=True)
        except BaseException as e:  # the delivery itself failed: record it and keep going
            if queue._state.closed:
                return False
            queue.record(HandlerFailure(time.time(), None, 0, e))
            log.error("outbox relay: delivery round failed: %s", _error_text(e), exc_info=e)
        return True
