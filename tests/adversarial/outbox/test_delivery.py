"""Exactly one delivery per committed message: concurrent drains, relays, producers that race or
raise, retried attempts, re-entrant handlers, and 10,000 messages end to end."""

from __future__ import annotations

import collections
import threading
import time

import pytest

from theus import OutboxMsg, TheusEngine, process


def _fill(engine: TheusEngine, commits: int, per: int) -> None:
    @process(outputs=["domain.n"])
    def send(ctx, c):
        for i in range(per):
            ctx.outbox.add("t", {"c": c, "i": i})
        return c
    for c in range(commits):
        engine.execute(send, c=c)


def _run(threads):
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)


class Drainer:
    """A thread draining until the queue is empty, recording what its handler got."""

    def __init__(self, engine: TheusEngine, start: threading.Barrier) -> None:
        self.engine, self.start, self.got, self.errors = engine, start, [], []
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        try:
            self.start.wait()
            while self.engine.outbox.pending:
                self.engine.process_outbox(self.handle)
        except BaseException as e:  # reported by the test below
            self.errors.append(e)

    def handle(self, m: OutboxMsg) -> None:
        self.got.append(m.id)
        time.sleep(0)  # let the other drains run between two deliveries


def test_four_drains_and_a_relay_deliver_each_of_1000_messages_once():
    engine = TheusEngine({"domain": {"n": 0}})
    _fill(engine, 100, 10)
    assert engine.outbox.pending == 1000
    start = threading.Barrier(5)
    drainers = [Drainer(engine, start) for _ in range(4)]
    relayed = []

    def relay(m):
        relayed.append(m.id)
        time.sleep(0)  # let the other drains run between two deliveries
    _run([d.thread for d in drainers] + [threading.Thread(target=lambda: (start.wait(), engine.start_relay(
        relay, interval=0.001)))])
    while engine.outbox.pending:
        time.sleep(0.01)
    engine.stop_relay()
    assert [d.errors for d in drainers] == [[], [], [], []]
    every = [i for d in drainers for i in d.got] + relayed
    assert len(every) == 1000 and sorted(every) == list(range(1, 1001))
    for got in [d.got for d in drainers] + [relayed]:
        assert got == sorted(got)  # each drainer delivers in commit order
    assert sum(1 for got in [d.got for d in drainers] + [relayed] if got) >= 2  # they really competed
    assert engine.outbox.pending == 0 and engine.outbox.failures == 0
    engine.close()


def test_concurrent_claims_go_in_commit_order():
    """The claim commits (in the history) take the messages in id order, whichever drain wins."""
    engine = TheusEngine({"domain": {"n": 0}})
    _fill(engine, 30, 10)
    start = threading.Barrier(4)
    drainers = [Drainer(engine, start) for _ in range(4)]
    _run([d.thread for d in drainers])
    claims = [r.paths[0] for r in engine.history() if r.process == "outbox: claim"]
    assert len(claims) == 300
    ids = [int(p.rsplit(".", 1)[1][:20]) for p in claims]
    assert ids == list(range(1, 301))
    assert sorted(i for d in drainers for i in d.got) == list(range(1, 301))
    engine.close()


def _producer_process(p: int):
    @process(inputs=["domain.total"], outputs=[f"domain.orders.p{p}"])
    def order(ctx, i):
        ctx.outbox.add("order.confirmed", {"p": p, "i": i})
        ctx.outbox.add("order.audit", {"p": p, "i": -i - 1})
        if p % 5 == 0:  # 20% of the producers raise after adding
            raise RuntimeError("payment declined")
        return i
    return order


def test_twenty_producers_some_raising_deliver_exactly_the_committed_messages():
    engine = TheusEngine({"domain": {"orders": {}, "total": 0}}, retries=50)
    delivered = collections.Counter()

    def count(m):
        delivered[(m.payload["p"], m.payload["i"])] += 1
    engine.start_relay(count, interval=0.001)
    committed = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def producer(p):
        proc = _producer_process(p)
        start.wait()
        for i in range(25):
            try:
                engine.execute(proc, i=i)
            except RuntimeError:
                continue
            with lock:
                committed.extend([(p, i), (p, -i - 1)])

    _run([threading.Thread(target=producer, args=(p,)) for p in range(20)])
    engine.stop_relay()
    engine.process_outbox(count)  # anything committed after the relay's last round
    assert len(committed) == 16 * 25 * 2
    assert delivered == collections.Counter(committed)  # nothing lost, duplicated or forged
    assert engine.outbox.pending == 0
    engine.close()


def test_a_process_that_loses_a_cas_race_delivers_one_message_set():
    engine = TheusEngine({"domain": {"stock": 10}}, retries=5)
    inside, go = threading.Event(), threading.Event()
    attempts = []

    @process(inputs=["domain.stock"], outputs=["domain.stock"])
    def reserve(ctx):
        attempts.append(ctx.domain.stock)
        ctx.outbox.add("reserved", {"stock": ctx.domain.stock})
        ctx.outbox.add("audit", {"attempt": len(attempts)})
        if len(attempts) == 1:
            inside.set()
            go.wait(10)  # another writer commits meanwhile
        return ctx.domain.stock - 1

    t = threading.Thread(target=engine.execute, args=(reserve,))
    t.start()
    assert inside.wait(10)
    engine.update({"domain.stock": 5})
    go.set()
    t.join(10)
    assert attempts == [10, 5] and engine.state.domain.stock == 4
    got = []
    assert engine.process_outbox(got.append) == 2
    assert [(m.topic, m.payload) for m in got] == [("reserved", {"stock": 5}), ("audit", {"attempt": 2})]
    engine.close()


def test_ten_thousand_messages_end_to_end():
    engine = TheusEngine({"domain": {"n": 0}})
    got = collections.Counter()
    done = threading.Event()

    def handler(m):
        got[m.payload["c"] * 100 + m.payload["i"]] += 1
        if m.id == 10_000:
            done.set()
    engine.start_relay(handler, interval=0.001)
    _fill(engine, 100, 100)  # delivered while they commit
    assert done.wait(120)
    engine.stop_relay()
    assert len(got) == 10_000 and set(got.values()) == {1}
    assert set(got) == set(range(10_000))
    assert engine.outbox.pending == 0
    engine.close()


def test_strict_engine_drains_while_producers_commit():
    """A strict engine rejects claims on any newer version; a drain looks again and still
    delivers each message once."""
    engine = TheusEngine({"domain": {"n": 0}}, strict_cas=True, retries=1000)
    stop = threading.Event()

    @process(outputs=["domain.other"])
    def churn(ctx):
        return 1

    def producer():
        while not stop.is_set():
            engine.execute(churn)
    _fill(engine, 20, 5)
    t = threading.Thread(target=producer)
    t.start()
    try:
        got = []
        while engine.outbox.pending:
            engine.process_outbox(lambda m: got.append(m.id))
    finally:
        stop.set()
        t.join(10)
    assert sorted(got) == list(range(1, 101)) and got == sorted(got)
    engine.close()


def test_a_handler_that_sends_while_being_delivered():
    """A handler that executes a process (which sends) and drains again: the new message is
    delivered once, the one in hand is not delivered again."""
    engine = TheusEngine({"domain": {"n": 0}})

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def bump(ctx):
        if ctx.domain.n < 3:
            ctx.outbox.add("again", ctx.domain.n)
        return ctx.domain.n + 1

    got = []

    def handler(m):
        got.append((m.id, m.payload))
        engine.execute(bump)
        engine.process_outbox(handler)
    engine.execute(bump)
    engine.process_outbox(handler)
    assert got == [(1, 0), (2, 1), (3, 2)]
    assert engine.outbox.pending == 0
    engine.close()


def test_handlers_get_their_own_copy_of_the_payload():
    engine = TheusEngine({"domain": {}})

    @process(outputs=["domain.x"])
    def send(ctx):
        ctx.outbox.add(OutboxMsg("t", {"items": [1, 2]}))
        return 1
    engine.execute(send)

    def spoil(m):
        m.payload["items"].append(3)
        raise ValueError("retry me")
    engine.process_outbox(spoil, backoff=0)
    got = []
    engine.process_outbox(got.append)
    assert got[0].payload == {"items": [1, 2]}  # the committed message was not changed
    engine.close()


@pytest.mark.parametrize("n_drains", [2, 3])
def test_drains_racing_on_one_message_with_a_failing_handler(n_drains):
    """Failures release the claim: concurrent drains retry it, never two at a time, until it
    moves to the dead letters after max_attempts."""
    engine = TheusEngine({"domain": {}})
    _fill(engine, 1, 1)
    active, calls, lock = [0], [], threading.Lock()
    overlap = []

    def fails(m):
        with lock:
            active[0] += 1
            overlap.append(active[0])
            calls.append(m.id)
        try:
            raise ConnectionError("down")
        finally:
            with lock:
                active[0] -= 1

    start = threading.Barrier(n_drains)

    def drain():
        start.wait()
        while engine.outbox.pending:
            engine.process_outbox(fails, max_attempts=10, backoff=0)
    _run([threading.Thread(target=drain) for _ in range(n_drains)])
    assert calls == [1] * 10 and max(overlap) == 1
    [dead] = engine.outbox.dead
    assert dead.attempts == 10 and dead.error == "ConnectionError: down"
    engine.close()
