"""The outbox end to end, through the public API: processes commit messages while a relay
delivers them to a trivial handler, timed from the first commit to the last delivery, beside the
same commits without messages. Also a synchronous drain of an already committed queue."""

from __future__ import annotations

import statistics
import threading
import time

from common import fmt, header, row

from theus import TheusEngine, process

COMMITS = 5_000
REPEATS = 5


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def plain(ctx):
    return ctx.domain.counter + 1


def _sender(per: int):
    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def send(ctx):
        n = ctx.domain.counter
        for i in range(per):
            ctx.outbox.add("order.confirmed", {"order": n, "line": i})
        return n + 1
    return send


def _median(fn) -> float:
    fn()  # warm up
    return statistics.median(fn() for _ in range(REPEATS))


def commits_only() -> float:
    """Seconds for COMMITS executes of a process that sends nothing."""
    engine = TheusEngine({"domain": {"counter": 0}})
    execute = engine.execute
    t0 = time.perf_counter()
    for _ in range(COMMITS):
        execute(plain)
    t = time.perf_counter() - t0
    engine.close()
    return t


def end_to_end(per: int) -> float:
    """Seconds from the first commit until a relay delivered all COMMITS * per messages."""
    engine = TheusEngine({"domain": {"counter": 0}})
    send = _sender(per)
    total = COMMITS * per
    done = threading.Event()
    count = [0]

    def handler(msg):
        count[0] += 1
        if count[0] == total:
            done.set()
    engine.start_relay(handler, interval=0.001)
    execute = engine.execute
    t0 = time.perf_counter()
    for _ in range(COMMITS):
        execute(send)
    if not done.wait(600):
        raise RuntimeError(f"the relay delivered {count[0]} of {total} messages")
    t = time.perf_counter() - t0
    engine.stop_relay()
    engine.close()
    return t


def drain_only(per: int) -> float:
    """Seconds for process_outbox to deliver COMMITS * per committed messages."""
    engine = TheusEngine({"domain": {"counter": 0}})
    send = _sender(per)
    for _ in range(COMMITS):
        engine.execute(send)
    t0 = time.perf_counter()
    n = engine.process_outbox(lambda m: None)
    t = time.perf_counter() - t0
    assert n == COMMITS * per
    engine.close()
    return t


def main() -> None:
    header(f"outbox end to end: {COMMITS:,} commits, relay delivering to a trivial handler")
    base = _median(commits_only) / COMMITS
    print(f"  baseline: the same commits without messages: {fmt(base)} per commit = {1 / base:,.0f} commits/s")
    for per in (1, 10):
        t = _median(lambda: end_to_end(per))
        per_msg = t / (COMMITS * per)
        row(f"commit + deliver, {per} msg/commit (per msg)", per_msg, "commit without messages", base)
        print(f"    = {1 / per_msg:,.0f} messages/s end to end ({COMMITS / t:,.0f} commits/s while the relay "
              f"delivers, against {1 / base:,.0f} commits/s without messages)")
    for per in (1, 10):
        t = _median(lambda: drain_only(per))
        per_msg = t / (COMMITS * per)
        row(f"process_outbox drain, {per} msg/commit (per msg)", per_msg, "commit without messages", base)
        print(f"    = {1 / per_msg:,.0f} messages/s (claim commit + handler + removal commit each)")


if __name__ == "__main__":
    main()
